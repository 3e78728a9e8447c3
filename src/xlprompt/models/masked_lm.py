"""The PLM split into the parts the methods need, so that nothing is computed to be thrown away.

``embed`` (word embeddings, with soft-prompt vectors placed at the prompt slots) →
``encode`` (the transformer; all positions) → ``head_transform`` (the MLM head's dense+GELU+LayerNorm,
applied at the ``<mask>`` position only) → ``vocab_logits`` (``W_lh h``: the full vocabulary, Eq. 2/6)
or ``word_logits`` (only the rows of the label words).

``int8_encoder()`` swaps in, for inference only, a dynamically quantised copy of the transformer layers
(``nn.Linear`` weights in int8, activations quantised per batch): about 1.4-2x faster on CPU.
"""

from __future__ import annotations

import copy
import ctypes
import functools
import sys
import warnings
from contextlib import contextmanager
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from xlprompt.errors import ModelError


def _plain_layer(layer: nn.Module) -> bool:
    """A BERT/RoBERTa encoder layer with absolute positions, no cross-attention, no feed-forward chunking."""
    attention = getattr(layer, "attention", None)
    sa = getattr(attention, "self", None)
    return (
        sa is not None
        and all(
            hasattr(sa, a) for a in ("query", "key", "value", "dropout", "num_attention_heads", "attention_head_size")
        )
        and hasattr(attention, "output")
        and hasattr(layer, "intermediate")
        and hasattr(layer, "output")
        and getattr(sa, "position_embedding_type", "absolute") == "absolute"
        and not getattr(layer, "add_cross_attention", False)
        and not getattr(layer, "chunk_size_feed_forward", 0)
    )


@functools.lru_cache(maxsize=1)
def _libc():
    try:
        return ctypes.CDLL("libc.so.6") if sys.platform.startswith("linux") else None
    except OSError:
        return None


def _return_free_heap() -> None:
    """glibc keeps freed mid-sized blocks (activations of a few MB) in its heap; ``malloc_trim`` gives the
    free pages back to the OS, so that they do not add to the next large allocation's peak. No-op elsewhere."""
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


class MaskedLM(nn.Module):
    """A Hugging Face masked LM (RoBERTa/XLM-R or BERT family) seen as embeddings, encoder and MLM head."""

    def __init__(self, hf_model: nn.Module):
        super().__init__()
        #: the only registered child: ``encoder``, ``word_embeddings`` and ``decoder`` are views into it, not
        #: modules of their own, so that every tensor has one name in ``state_dict()`` (a tensor under two
        #: names is refused by safetensors, and so by the Hugging Face ``Trainer``'s checkpoints)
        self.hf_model = hf_model
        if hf_model.get_output_embeddings() is None:
            raise ModelError(f"{type(hf_model).__name__} has no MLM output layer; use a masked language model")
        #: Give the word embeddings a sparse gradient (rows of the tokens in the batch) instead of a dense
        #: |V| x d one. Same values; with a tied MLM head (whose gradient is dense anyway) it saves one
        #: |V| x d buffer (768 MB for XLM-R) per backward. Only for methods whose loss reads the MLM head,
        #: so that the summed gradient stays dense (MPT sets it).
        self.sparse_embedding_grad = False
        self._deferred: list | None = None  # see deferred_head_grad
        if not (
            (hasattr(hf_model, "lm_head") and hasattr(hf_model.lm_head, "dense"))  # RoBERTa, XLM-R, CamemBERT
            or (hasattr(hf_model, "cls") and hasattr(hf_model.cls, "predictions"))  # BERT, mBERT
        ):
            raise ModelError(
                f"{type(hf_model).__name__}: unsupported MLM head layout; supported families: "
                "RoBERTa/XLM-R (lm_head) and BERT (cls.predictions)"
            )

    @property
    def encoder(self) -> nn.Module:
        """The transformer (the Hugging Face model's ``base_model``)."""
        return self.hf_model.base_model

    @property
    def word_embeddings(self) -> nn.Embedding:
        """The input word embeddings."""
        return self.hf_model.get_input_embeddings()

    @property
    def decoder(self) -> nn.Module:
        """The MLM head's vocabulary projection (XLM-R ties its weight to :attr:`word_embeddings`)."""
        return self.hf_model.get_output_embeddings()

    @property
    def hidden_size(self) -> int:
        return self.word_embeddings.embedding_dim

    def embed(
        self, input_ids: torch.Tensor, prompt_positions: torch.Tensor | None = None, prompts: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Word embeddings of ``input_ids`` [B, L]; rows' prompt slots [B, m] get ``prompts`` [B, m, d]."""
        if self.sparse_embedding_grad and torch.is_grad_enabled() and self.word_embeddings.weight.requires_grad:
            emb = self.word_embeddings
            embeds = F.embedding(
                input_ids, emb.weight, emb.padding_idx, emb.max_norm, emb.norm_type, emb.scale_grad_by_freq, sparse=True
            )
        else:
            embeds = self.word_embeddings(input_ids)
        if prompt_positions is not None and prompt_positions.numel():
            rows = torch.arange(input_ids.shape[0], device=input_ids.device).unsqueeze(1).expand_as(prompt_positions)
            embeds = embeds.index_put((rows, prompt_positions), prompts.to(embeds.dtype))
        return embeds

    def encode(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Contextual representations [B, L, d] (right padding, so positions count from the first token)."""
        mask = self._prepared_mask(attention_mask, inputs_embeds.dtype)
        return self.encoder(inputs_embeds=inputs_embeds, attention_mask=mask).last_hidden_state

    def _prepared_mask(self, attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """The 4D mask that Hugging Face would build from the 2D one, built here: given a 2D mask, transformers
        (>= 4.48 mask utilities) asks ``mask.all()`` on every forward to decide whether it can drop the mask,
        which stops the host until the GPU has caught up (a sync per micro-batch). A 4D mask is
        taken as it is. SDPA: boolean, True = attend; eager: additive. Other attention kinds: the 2D mask."""
        module = sys.modules.get(type(self.encoder).__module__)
        if not hasattr(module, "create_bidirectional_mask"):  # older transformers: 2D masks only (4.44-4.5x)
            return attention_mask
        impl = getattr(getattr(self.hf_model, "config", None), "_attn_implementation", None)
        if impl == "sdpa":
            return attention_mask[:, None, None, :].to(torch.bool)
        if impl == "eager":
            return (1.0 - attention_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min
        return attention_mask

    def encode_at(
        self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor, positions: torch.Tensor
    ) -> torch.Tensor:
        """The contextual representation at one position per row ([B, L, d] → [B, d]): what the MLM head
        reads at ``<mask>``. The same numbers as ``encode(...)[rows, positions]``, but the last transformer
        layer is computed for that position only (its keys and values still for all positions): about 7%
        less work for a 12-layer model. Falls back to the full ``encode`` for layouts it does not know."""
        rows = torch.arange(inputs_embeds.shape[0], device=inputs_embeds.device)
        stack = getattr(self.encoder, "encoder", None)
        layers = getattr(stack, "layer", None)
        if not (isinstance(layers, nn.ModuleList) and len(layers) >= 2 and _plain_layer(layers[-1])):
            return self.encode(inputs_embeds, attention_mask)[rows, positions]
        stack.layer = layers[:-1]  # the Hugging Face encoder runs the layers it holds
        try:
            hidden = self.encode(inputs_embeds, attention_mask)
        finally:
            stack.layer = layers
        last = layers[-1]
        sa = last.attention.self
        batch, length, _ = hidden.shape
        heads, size = sa.num_attention_heads, sa.attention_head_size
        query_in = hidden[rows, positions].unsqueeze(1)  # [B, 1, d]
        q = sa.query(query_in).view(batch, 1, heads, size).transpose(1, 2)
        k = sa.key(hidden).view(batch, length, heads, size).transpose(1, 2)
        v = sa.value(hidden).view(batch, length, heads, size).transpose(1, 2)
        keep = attention_mask[:, None, None, :].to(torch.bool)
        context = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=keep,
            dropout_p=sa.dropout.p if self.training else 0.0,
            scale=getattr(sa, "scaling", size**-0.5),
        )
        context = context.transpose(1, 2).reshape(batch, 1, heads * size)
        attended = last.attention.output(context, query_in)
        return last.output(last.intermediate(attended), attended)[:, 0]

    def head_transform(self, hidden: torch.Tensor) -> torch.Tensor:
        """The MLM head up to the vocabulary projection, for the given positions only ([N, d] → [N, d])."""
        head = getattr(self.hf_model, "lm_head", None)
        if head is not None and hasattr(head, "dense"):  # RoBERTa, XLM-R, CamemBERT
            return head.layer_norm(F.gelu(head.dense(hidden)))
        return self.hf_model.cls.predictions.transform(hidden)  # BERT, mBERT

    @contextmanager
    def int8_encoder(self) -> Iterator[None]:
        """Within the block, ``encode`` runs an int8 dynamic-quantised copy of the transformer layers
        (``torch.ao.quantization.quantize_dynamic`` on their ``nn.Linear``; embeddings, attention products,
        LayerNorm and the MLM head stay fp32). Inference on CPU only; made from the current weights on entry,
        removed on exit. Nested use is a no-op."""
        base = self.encoder
        layers = getattr(base, "encoder", None)
        if layers is None:
            raise ModelError(f"{type(base).__name__} has no encoder stack to quantise")
        if getattr(layers, "_xlprompt_int8", False):
            yield
            return
        if self.word_embeddings.weight.device.type != "cpu":
            raise ModelError("the int8 path is for CPU inference; on a GPU use precision=bf16")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.ao's deprecation notice
            quantized = torch.ao.quantization.quantize_dynamic(
                copy.deepcopy(layers), {nn.Linear}, dtype=torch.qint8, inplace=True
            )
        quantized._xlprompt_int8 = True
        base.encoder = quantized
        try:
            yield
        finally:
            base.encoder = layers

    def _decoder_bias(self) -> torch.Tensor | None:
        bias = getattr(self.decoder, "bias", None)
        if bias is None and hasattr(self.hf_model, "lm_head"):
            bias = getattr(self.hf_model.lm_head, "bias", None)
        return bias

    def _decoder_weight(self) -> torch.Tensor:
        """The decoder weight as the logits use it: detached while its gradient is deferred."""
        weight = self.decoder.weight
        if self._deferred is not None and weight.requires_grad and torch.is_grad_enabled():
            return weight.detach()
        return weight

    def _defer(self, logits: torch.Tensor, transformed: torch.Tensor, word_ids: torch.Tensor | None) -> None:
        if logits.requires_grad and self._decoder_weight() is not self.decoder.weight:
            inputs = transformed.detach()
            logits.register_hook(lambda grad: self._deferred.append((grad.detach(), inputs, word_ids)))

    @contextmanager
    def deferred_head_grad(self) -> Iterator[None]:
        """Within the block, backward passes leave out the decoder weight's gradient ``Σ g_logits^T h``
        (a dense |V| x d matrix, which XLM-R ties to the word embeddings); on exit it is added, once, into
        ``weight.grad`` in place. The gradient is the same; what is saved is a |V| x d temporary (768 MB)
        per backward, alive next to that backward's activations. For micro-batched steps (MPT): put all of
        a step's backward calls inside the block. Nested use is a no-op."""
        if self._deferred is not None:
            yield
            return
        self._deferred = records = []
        try:
            yield
        finally:
            self._deferred = None
        weight = self.decoder.weight
        if not records:
            return
        if weight.device.type == "cpu":
            _return_free_heap()  # the backward passes' freed activations, before the |V| x d allocation
        grad = weight.grad
        if grad is None:
            grad = torch.zeros_like(weight)
        elif grad.is_sparse:
            grad = grad.to_dense()
        # fp32 and outside autocast: the flush runs where the step's last piece was produced, which the trainer
        # does under autocast, and a bf16 matmul there would feed bf16 into the fp32 gradient
        with torch.no_grad(), torch.autocast(weight.device.type, enabled=False):
            full = [(g, h) for g, h, ids in records if ids is None]
            if full:
                g = torch.cat([g for g, _ in full]).to(grad.dtype)
                h = torch.cat([h for _, h in full]).to(grad.dtype)
                grad.addmm_(g.t(), h)
            for g, h, ids in records:
                if ids is None:
                    continue
                g, h = g.to(grad.dtype), h.to(grad.dtype)
                if ids.dim() == 1:
                    rows, values = ids, g.t() @ h
                else:
                    rows, values = ids.reshape(-1), (g.unsqueeze(-1) * h.unsqueeze(1)).reshape(-1, h.shape[-1])
                # index_put_ with accumulate: duplicate ids add up, and CUDA has a deterministic kernel for it
                grad.index_put_((rows,), values, accumulate=True)
        weight.grad = grad

    def vocab_logits(self, transformed: torch.Tensor) -> torch.Tensor:
        """``W_lh h`` over the whole vocabulary: [N, d] → [N, |V|] (Eq. 2 and Eq. 6 before the softmax).

        Always in fp32, outside autocast: 250k logits computed in bf16 would carry its 8-bit mantissa into
        the softmax and the KL of Eq. 7, whatever they are cast to afterwards."""
        with torch.autocast(transformed.device.type, enabled=False):
            hidden, bias = transformed.float(), self._decoder_bias()
            logits = F.linear(hidden, self._decoder_weight().float(), None if bias is None else bias.float())
        self._defer(logits, hidden, None)
        return logits

    def word_logits(self, transformed: torch.Tensor, word_ids: torch.Tensor) -> torch.Tensor:
        """Logits of the given words only: ``word_ids`` [n] (same for all rows) or [N, n] (per row); fp32,
        outside autocast, as :meth:`vocab_logits`."""
        with torch.autocast(transformed.device.type, enabled=False):
            hidden = transformed.float()
            weight = self._decoder_weight()[word_ids].float()
            bias = self._decoder_bias()
            if word_ids.dim() == 1:
                out = hidden @ weight.T
            else:
                out = torch.einsum("nd,nkd->nk", hidden, weight)
            self._defer(out, hidden, word_ids)
            return out if bias is None else out + bias[word_ids].float()
