"""SP — soft prompting (Zhao & Schütze, 2021): one learned prompt ``p_S``, CE only (Eq. 3), used for every language.

Also the base of MPT, which adds the translator and the alignment task.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from xlprompt.batching import TokenizedExample, TokenizedPair
from xlprompt.losses import classification_loss
from xlprompt.methods.base import LossOutput, Method
from xlprompt.methods.soft_prompt.recipe import RECIPE, RECIPE_SOURCES  # noqa: F401  (re-exported)
from xlprompt.models.prompt_encoder import PromptEncoder, PromptEncoderConfig
from xlprompt.scoring import class_log_probs, prediction_scores
from xlprompt.template import EncodedInput, soft_prompt_template


class SoftPrompting(Method):
    name = "sp"

    def __init__(self, config, plm, tokenizer, verbalizer):
        super().__init__(config, plm, tokenizer, verbalizer)
        self.template = soft_prompt_template(
            tokenizer,
            config.prompt_position,
            config.prompt_length,
            config.max_length,
            self.special,
            config.template_punctuation,
            config.task_spec().single_text,
        )
        self.prompt_encoder = PromptEncoder(
            PromptEncoderConfig(
                config.prompt_length, plm.hidden_size, config.prompt_encoder, config.prompt_encoder_shape
            )
        )

    def extra_modules(self) -> dict[str, nn.Module]:
        return {"prompt_encoder": self.prompt_encoder}

    def encode(self, example: TokenizedExample) -> EncodedInput:
        return self.template.encode(example.premise, example.hypothesis)

    def encode_for_eval(self, example: TokenizedExample, lang: str) -> EncodedInput:
        return self.encode(example)

    def prompt_for(self, lang: str) -> torch.Tensor:
        """The prompt used for inputs in ``lang``: ``p_S`` for every language."""
        return self.prompt_encoder()

    def classification_ce(self, batch: Sequence[TokenizedExample], mask_hidden: torch.Tensor) -> torch.Tensor:
        # each example's own language's label words (one source language: the source language's)
        log_probs = class_log_probs(self.plm, mask_hidden, self.batch_label_ids(batch), self.config.scoring)
        return classification_loss(log_probs, self.labels_tensor(batch))

    def training_loss(
        self, batch: Sequence[TokenizedExample], parallel: Sequence[TokenizedPair] | None, generator: torch.Generator
    ) -> LossOutput:
        p_source = self.prompt_encoder()
        hidden = self.mask_states([self.encode(ex) for ex in batch], p_source.expand(len(batch), -1, -1))
        ce = self.classification_ce(batch, hidden)
        return LossOutput(ce, {"ce": ce.item()})

    def class_scores(self, batch: Sequence[TokenizedExample], lang: str, prompt: torch.Tensor | None = None):
        prompt = self.prompt_for(lang) if prompt is None else prompt
        encoded = [self.encode_for_eval(ex, lang) for ex in batch]
        hidden = self.mask_states(encoded, prompt.expand(len(batch), -1, -1))
        return prediction_scores(self.plm, hidden, self.label_ids(lang), self.config.predict_over)

    def prompts_for_export(self) -> dict[str, torch.Tensor]:
        return {"p_source": self.prompt_encoder().detach()}
