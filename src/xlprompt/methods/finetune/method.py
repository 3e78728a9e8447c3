"""FT — plain fine-tuning: a classification head on the first token's representation, the PLM trains.

As Zhao & Schütze's FT baseline (mprompting/xlmrprompt@39aed8f finetuning/): the pair ``<s> P </s></s> H </s>``
of the raw texts (data_loader/bert_formatting.py:43-50), RoBERTa's classification head initialised N(0, 0.02)
with zero biases (``head_init=normal``: finetuning_baseline.py:47-49 loads ``XLMRobertaForSequenceClassification``,
whose new head transformers' ``_init_weights`` initialises), torch Adam at 1e-5 without weight decay, schedule or
clipping (future/baseline_trainer.py:23, 40-49), batch 32 (scripts/finetuning.sh:17, 23). The reference's label
order is contradiction, entailment, neutral; xlprompt's is entailment, neutral, contradiction (a permutation of
the head's rows; harmless, but mind it when comparing logits)."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from xlprompt.batching import TokenizedExample, TokenizedPair, collate
from xlprompt.methods.base import LossOutput, Method
from xlprompt.methods.finetune.recipe import RECIPE, RECIPE_SOURCES  # noqa: F401  (re-exported)
from xlprompt.template import EncodedInput, pair_template


class ClassificationHead(nn.Module):
    """RoBERTa's sequence-classification head: dropout → dense → tanh → dropout → out_proj."""

    def __init__(self, d: int, n_classes: int, dropout: float, init: str = "torch", std: float = 0.02):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.dense = nn.Linear(d, d)
        self.out_proj = nn.Linear(d, n_classes)
        if init == "normal":  # transformers' _init_weights for a new head (xlmrprompt's FT: seqcls.from_pretrained)
            for layer in (self.dense, self.out_proj):
                nn.init.normal_(layer.weight, mean=0.0, std=std)
                nn.init.zeros_(layer.bias)

    def forward(self, first_token: torch.Tensor) -> torch.Tensor:
        x = torch.tanh(self.dense(self.dropout(first_token)))
        return self.out_proj(self.dropout(x))


class FineTuning(Method):
    name = "ft"

    def __init__(self, config, plm, tokenizer, verbalizer=None):
        super().__init__(config, plm, tokenizer, verbalizer)
        task = config.task_spec()
        self.template = pair_template(tokenizer, config.max_length, self.special, task.single_text)
        dropout = getattr(plm.hf_model.config, "hidden_dropout_prob", 0.1)
        std = getattr(plm.hf_model.config, "initializer_range", 0.02)
        self.head = ClassificationHead(plm.hidden_size, len(task.labels), dropout, config.head_init, std)

    def extra_modules(self) -> dict[str, nn.Module]:
        return {"head": self.head}

    def encode_for_eval(self, example: TokenizedExample, lang: str) -> EncodedInput:
        return self.template.encode(example.premise, example.hypothesis)

    def _logits(self, batch: Sequence[TokenizedExample]) -> torch.Tensor:
        inputs = collate([self.encode_for_eval(ex, ex.lang) for ex in batch], self.special.pad_id, self.device)
        hidden = self.plm.encode(self.plm.embed(inputs.input_ids), inputs.attention_mask)
        return self.head(hidden[:, 0]).float()

    def training_loss(
        self, batch: Sequence[TokenizedExample], parallel: Sequence[TokenizedPair] | None, generator: torch.Generator
    ) -> LossOutput:
        ce = F.cross_entropy(self._logits(batch), self.labels_tensor(batch))
        return LossOutput(ce, {"ce": ce.item()})

    def class_scores(self, batch: Sequence[TokenizedExample], lang: str) -> torch.Tensor:
        return self._logits(batch)
