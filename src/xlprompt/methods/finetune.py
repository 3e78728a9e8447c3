"""FT — plain fine-tuning: a classification head on the first token's representation, the PLM trains."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from xlprompt.batching import TokenizedExample, TokenizedPair, collate
from xlprompt.languages import LABELS
from xlprompt.methods.base import LossOutput, Method
from xlprompt.template import EncodedInput, pair_template


class ClassificationHead(nn.Module):
    """RoBERTa's sequence-classification head: dropout → dense → tanh → dropout → out_proj."""

    def __init__(self, d: int, n_classes: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.dense = nn.Linear(d, d)
        self.out_proj = nn.Linear(d, n_classes)

    def forward(self, first_token: torch.Tensor) -> torch.Tensor:
        x = torch.tanh(self.dense(self.dropout(first_token)))
        return self.out_proj(self.dropout(x))


class FineTuning(Method):
    name = "ft"

    def __init__(self, config, plm, tokenizer, verbalizer=None):
        super().__init__(config, plm, tokenizer, verbalizer)
        self.template = pair_template(tokenizer, config.max_length, self.special)
        dropout = getattr(plm.hf_model.config, "hidden_dropout_prob", 0.1)
        self.head = ClassificationHead(plm.hidden_size, len(LABELS), dropout)

    def extra_modules(self) -> dict[str, nn.Module]:
        return {"head": self.head}

    def encode_for_eval(self, example: TokenizedExample, lang: str) -> EncodedInput:
        return self.template.encode(example.premise, example.hypothesis)

    def _logits(self, batch: Sequence[TokenizedExample]) -> torch.Tensor:
        inputs = collate([self.encode_for_eval(ex, ex.lang) for ex in batch], self.special.pad_id, self.device)
        hidden = self.plm.encode(self.plm.embed(inputs.input_ids), inputs.attention_mask)
        return self.head(hidden[:, 0]).float()

    def training_loss(self, batch: Sequence[TokenizedExample], parallel: Sequence[TokenizedPair] | None,
                      generator: torch.Generator) -> LossOutput:
        ce = F.cross_entropy(self._logits(batch), self.labels_tensor(batch))
        return LossOutput(ce, {"ce": ce.item()})

    def class_scores(self, batch: Sequence[TokenizedExample], lang: str) -> torch.Tensor:
        return self._logits(batch)
