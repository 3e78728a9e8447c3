"""XPE — the Cross-Prompt Encoder (Mikaberidze et al., "Cross-Prompt Encoder for Low-Performing Languages",
Findings of IJCNLP-AACL 2025, arXiv 2508.10352), as bmikaberidze/XPE@78b384f runs it: PEFT P-tuning for sequence
classification on a frozen XLM-R, with a classification head.

The prompt (``CrossPromptEncoder.forward``, nlpka/models/cross_prompt_encoder.py:1206-1242): of the ``m =
prompt_length`` virtual tokens, ``n = max(1, min(m - 1, int(m · xpe_encoder_ratio)))`` come from the encoder (all
m at ratio 1, none at ratio 0; l. 996-1006) and the other ``m - n`` are soft-prompt vectors trained directly;
the direct vectors come first, then the encoded ones (l. 1235-1240). Each encoded token is
``MLP(e_i)`` of its own embedding ``e_i`` ∈ R^d: ``Linear(d, h) → ReLU → Dropout`` then ``xpe_layers - 1`` times
``Linear(h, h) → ReLU → Dropout``, then ``Linear(h, d)`` (``gen_mlp_head``, l. 1268-1282). Both embeddings start
N(0, 1) (``nn.Embedding``'s own initialisation: ``hf_default``, l. 1087-1097). The encoder runs per batch row, as
PEFT's ``get_prompt`` expands the token ids to the batch (l. 663-679): in training each row draws its own
dropout mask.

The input (peft 0.14 ``PeftModelForSequenceClassification.forward``): the m prompt vectors are prepended to the
word embeddings of the tokenizer's own input (``<s> X </s>``, or ``<s> P </s></s> H </s>`` for a pair), the
attention mask gets m ones in front, and the positions count from the first prompt vector (RoBERTa's positions
of ``inputs_embeds``). The classification head is RoBERTa's (dense → tanh → out_proj, with dropout) on the
last layer at position 0 — the first prompt vector, as XLMRobertaForSequenceClassification reads ``[:, 0]`` of
the prompted sequence; the loss is cross-entropy over the task's labels. Only the prompt and the head train
(``freeze_plm``). Training on several source languages at once needs nothing of the method: a batch's examples
may be of any languages, each encoded the same way, and one prompt serves every language at test time.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from xlprompt.batching import TokenizedExample, TokenizedPair, collate
from xlprompt.errors import ConfigError
from xlprompt.methods.base import LossOutput, Method
from xlprompt.methods.finetune.method import ClassificationHead
from xlprompt.methods.xpe.recipe import RECIPE, RECIPE_SOURCES  # noqa: F401  (re-exported)
from xlprompt.template import EncodedInput, pair_template


def encoded_token_count(length: int, ratio: float) -> int:
    """How many of ``length`` virtual tokens the encoder produces at encoder ratio ``ratio``: all at 1, none at
    0, else ``max(1, min(length - 1, int(length · ratio)))`` (cross_prompt_encoder.py:998-1006)."""
    if ratio >= 1.0:
        return length
    if ratio <= 0.0:
        return 0
    return max(1, min(length - 1, int(length * ratio)))


class CrossPromptEncoder(nn.Module):
    """The prompt of XPE and DUAL: ``m - n`` directly trained vectors (``spt_embedding``) followed by ``n`` vectors
    ``MLP(e_i)`` of their own embeddings (``xpe_embedding``, ``xpe_head``); see the module docstring.

    Args:
        length (int): m, the number of virtual tokens.
        hidden_size (int): d, the PLM's embedding size.
        encoder_ratio (float): the fraction of the m tokens that the encoder produces (0 to 1).
        mlp_hidden (int): h, the MLP's hidden size.
        mlp_layers (int): the MLP's hidden layers (>= 1).
        dropout (float): dropout after each hidden layer.
    """

    def __init__(
        self, length: int, hidden_size: int, encoder_ratio: float, mlp_hidden: int, mlp_layers: int, dropout: float
    ):
        super().__init__()
        self.length = length
        self.encoded = encoded_token_count(length, encoder_ratio)
        self.direct = length - self.encoded
        self.spt_embedding = nn.Embedding(self.direct, hidden_size) if self.direct else None
        self.xpe_embedding = nn.Embedding(self.encoded, hidden_size) if self.encoded else None
        self.xpe_head = None
        if self.encoded:
            layers: list[nn.Module] = [nn.Linear(hidden_size, mlp_hidden), nn.ReLU(), nn.Dropout(dropout)]
            for _ in range(mlp_layers - 1):
                layers += [nn.Linear(mlp_hidden, mlp_hidden), nn.ReLU(), nn.Dropout(dropout)]
            layers.append(nn.Linear(mlp_hidden, hidden_size))
            self.xpe_head = nn.Sequential(*layers)

    def forward(self, batch_size: int) -> torch.Tensor:
        """The prompt vectors of ``batch_size`` rows, [B, m, d]. In training the encoder runs on every row (each
        its own dropout mask, as PEFT's batch of token ids); in evaluation once, expanded to the rows.

        Args:
            batch_size (int): B, the rows of the batch.

        Returns:
            torch.Tensor: [B, m, d], the directly trained vectors first.
        """
        rows = batch_size if self.training else 1
        parts = []
        if self.spt_embedding is not None:
            parts.append(self.spt_embedding.weight.unsqueeze(0).expand(rows, -1, -1))
        if self.xpe_embedding is not None:
            parts.append(self.xpe_head(self.xpe_embedding.weight.unsqueeze(0).expand(rows, -1, -1)))
        prompt = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        return prompt if rows == batch_size else prompt.expand(batch_size, -1, -1)


class CrossPromptEncoding(Method):
    """XPE: the cross-prompt encoder's prompt before the input of a frozen PLM, a classification head at the first
    prompt position (see the module docstring). ``xpe_encoder_ratio`` below 1 is DUAL."""

    name = "xpe"

    def __init__(self, config, plm, tokenizer, verbalizer=None):
        super().__init__(config, plm, tokenizer, verbalizer)
        task = config.task_spec()
        hf_config = plm.hf_model.config
        positions = getattr(hf_config, "max_position_embeddings", None)
        roberta = getattr(hf_config, "model_type", "") in ("roberta", "xlm-roberta", "camembert")
        offset = hf_config.pad_token_id + 1 if roberta else 0  # RoBERTa's positions start after the padding id
        if positions is not None and config.max_length + config.prompt_length + offset > positions:
            raise ConfigError(
                f"method {config.method}: max_length={config.max_length} plus prompt_length={config.prompt_length} "
                f"exceeds the model's {positions - offset} positions; lower max_length or prompt_length"
            )
        self.template = pair_template(tokenizer, config.max_length, self.special, task.single_text)
        self.cross_prompt_encoder = CrossPromptEncoder(
            config.prompt_length,
            plm.hidden_size,
            config.xpe_encoder_ratio,
            config.xpe_hidden_size,
            config.xpe_layers,
            config.xpe_dropout,
        )
        dropout = getattr(plm.hf_model.config, "hidden_dropout_prob", 0.1)
        std = getattr(plm.hf_model.config, "initializer_range", 0.02)
        self.head = ClassificationHead(plm.hidden_size, len(task.labels), dropout, config.head_init, std)

    def extra_modules(self) -> dict[str, nn.Module]:
        return {"cross_prompt_encoder": self.cross_prompt_encoder, "head": self.head}

    def encode_for_eval(self, example: TokenizedExample, lang: str) -> EncodedInput:
        return self.template.encode(example.premise, example.hypothesis)

    def logits(self, batch: Sequence[TokenizedExample]) -> torch.Tensor:
        """The head's logits [N, C] (fp32) for ``batch``, examples of any languages.

        Args:
            batch (Sequence[TokenizedExample]): the tokenised examples.

        Returns:
            torch.Tensor: one row of class logits per example.
        """
        inputs = collate([self.encode_for_eval(ex, ex.lang) for ex in batch], self.special.pad_id, self.device)
        n = len(batch)
        prompt = self.cross_prompt_encoder(n)
        words = self.plm.embed(inputs.input_ids)
        embeds = torch.cat([prompt.to(words.dtype), words], dim=1)
        mask = torch.cat([inputs.attention_mask.new_ones(n, prompt.shape[1]), inputs.attention_mask], dim=1)
        first = self.plm.encode_at(embeds, mask, torch.zeros(n, dtype=torch.long, device=self.device))
        return self.head(first).float()

    def training_loss(
        self, batch: Sequence[TokenizedExample], parallel: Sequence[TokenizedPair] | None, generator: torch.Generator
    ) -> LossOutput:
        ce = F.cross_entropy(self.logits(batch), self.labels_tensor(batch))
        return LossOutput(ce, {"ce": ce.detach()})

    def class_scores(self, batch: Sequence[TokenizedExample], lang: str) -> torch.Tensor:
        return self.logits(batch)

    def prompts_for_export(self) -> dict[str, torch.Tensor]:
        """The m prompt vectors as the test inputs see them (encoder in evaluation mode), [m, d]."""
        was = self.cross_prompt_encoder.training
        self.cross_prompt_encoder.eval()
        try:
            with torch.no_grad():
                return {"p_source": self.cross_prompt_encoder(1)[0].detach().float()}
        finally:
            self.cross_prompt_encoder.train(was)
