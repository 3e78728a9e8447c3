"""The PLM split into the parts the methods need, so that nothing is computed to be thrown away.

``embed`` (word embeddings, with soft-prompt vectors placed at the prompt slots) →
``encode`` (the transformer; all positions) → ``head_transform`` (the MLM head's dense+GELU+LayerNorm,
applied at the ``<mask>`` position only) → ``vocab_logits`` (``W_lh h``: the full vocabulary, Eq. 2/6)
or ``word_logits`` (only the rows of the label words).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from xlprompt.errors import ModelError


class MaskedLM(nn.Module):
    """A Hugging Face masked LM (RoBERTa/XLM-R or BERT family) seen as embeddings, encoder and MLM head."""

    def __init__(self, hf_model: nn.Module):
        super().__init__()
        self.hf_model = hf_model
        self.encoder = hf_model.base_model
        self.word_embeddings = hf_model.get_input_embeddings()
        decoder = hf_model.get_output_embeddings()
        if decoder is None:
            raise ModelError(f"{type(hf_model).__name__} has no MLM output layer; use a masked language model")
        self.decoder = decoder
        if hasattr(hf_model, "lm_head") and hasattr(hf_model.lm_head, "dense"):  # RoBERTa, XLM-R, CamemBERT
            head = hf_model.lm_head
            self._transform = lambda h: head.layer_norm(F.gelu(head.dense(h)))
        elif hasattr(hf_model, "cls") and hasattr(hf_model.cls, "predictions"):  # BERT, mBERT
            self._transform = hf_model.cls.predictions.transform
        else:
            raise ModelError(
                f"{type(hf_model).__name__}: unsupported MLM head layout; supported families: "
                "RoBERTa/XLM-R (lm_head) and BERT (cls.predictions)"
            )

    @property
    def hidden_size(self) -> int:
        return self.word_embeddings.embedding_dim

    def embed(self, input_ids: torch.Tensor, prompt_positions: torch.Tensor | None = None,
              prompts: torch.Tensor | None = None) -> torch.Tensor:
        """Word embeddings of ``input_ids`` [B, L]; rows' prompt slots [B, m] get ``prompts`` [B, m, d]."""
        embeds = self.word_embeddings(input_ids)
        if prompt_positions is not None and prompt_positions.numel():
            rows = torch.arange(input_ids.shape[0], device=input_ids.device).unsqueeze(1).expand_as(prompt_positions)
            embeds = embeds.index_put((rows, prompt_positions), prompts.to(embeds.dtype))
        return embeds

    def encode(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Contextual representations [B, L, d] (right padding, so positions count from the first token)."""
        return self.encoder(inputs_embeds=inputs_embeds, attention_mask=attention_mask).last_hidden_state

    def head_transform(self, hidden: torch.Tensor) -> torch.Tensor:
        """The MLM head up to the vocabulary projection, for the given positions only ([N, d] → [N, d])."""
        return self._transform(hidden)

    def _decoder_bias(self) -> torch.Tensor | None:
        bias = getattr(self.decoder, "bias", None)
        if bias is None and hasattr(self.hf_model, "lm_head"):
            bias = getattr(self.hf_model.lm_head, "bias", None)
        return bias

    def vocab_logits(self, transformed: torch.Tensor) -> torch.Tensor:
        """``W_lh h`` over the whole vocabulary: [N, d] → [N, |V|] (Eq. 2 and Eq. 6 before the softmax)."""
        return F.linear(transformed, self.decoder.weight, self._decoder_bias())

    def word_logits(self, transformed: torch.Tensor, word_ids: torch.Tensor) -> torch.Tensor:
        """Logits of the given words only: ``word_ids`` [n] (same for all rows) or [N, n] (per row)."""
        weight = self.decoder.weight[word_ids]
        bias = self._decoder_bias()
        if word_ids.dim() == 1:
            out = transformed @ weight.T
        else:
            out = torch.einsum("nd,nkd->nk", transformed, weight)
        return out if bias is None else out + bias[word_ids]
