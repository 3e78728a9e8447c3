"""SP — soft prompting (Zhao & Schütze, 2021): one learned prompt ``p_S``, CE only (Eq. 3), used for every language.

Also the base of MPT, which adds the translator and the alignment task.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from xlprompt.batching import TokenizedExample, TokenizedPair
from xlprompt.losses import classification_loss
from xlprompt.methods.base import LossOutput, Method
from xlprompt.models.prompt_encoder import PromptEncoder, PromptEncoderConfig
from xlprompt.scoring import class_log_probs, prediction_scores
from xlprompt.template import EncodedInput, soft_prompt_template

#: SP: config key → default under recipe=reference (see methods/__init__.py), and its source
RECIPE: dict[str, Any] = {
    'max_length': 256,
    'epochs': 50,
    'batch_size': 12,
    'lr': 1e-05,
    'optimizer': 'adam_l2',
    'weight_decay': 0.01,
    'weight_decay_exempt': 'bias,LayerNorm.weight',
    'lr_scheduler': 'constant',
    'warmup_ratio': 0.0,
    'min_lr_ratio': 0.0,
    'max_grad_norm': 1.0,
    'strip_punctuation': True,
    'template_punctuation': 'separate',
    'prompt_encoder_shape': 'reference',
    'label_words': 'right,maybe,wrong',
    'label_words_as': 'word',
    'scoring': 'labels',
    'predict_over': 'labels',
}
RECIPE_SOURCES: dict[str, str] = {
    'max_length': 'mprompting/xlmrprompt@39aed8f scripts/ptuning.sh:33',
    'epochs': 'mprompting/xlmrprompt@39aed8f scripts/ptuning.sh:28',
    'batch_size': 'mprompting/xlmrprompt@39aed8f scripts/ptuning.sh:27,37 (4 per GPU x 3 GPUs, DDP)',
    'lr': 'mprompting/xlmrprompt@39aed8f scripts/ptuning.sh:30',
    'optimizer': 'mprompting/xlmrprompt@39aed8f ptuning/pet/modules/wrapper.py:231-233 (torch.optim.Adam, weight_decay in the groups)',
    'weight_decay': 'mprompting/xlmrprompt@39aed8f ptuning/parameters.py:151-152',
    'weight_decay_exempt': 'mprompting/xlmrprompt@39aed8f ptuning/pet/modules/wrapper.py:211',
    'lr_scheduler': 'mprompting/xlmrprompt@39aed8f ptuning/pet/modules/wrapper.py:241-257 (no scheduler; l. 17 imports one unused)',
    'warmup_ratio': 'mprompting/xlmrprompt@39aed8f ptuning/parameters.py:163',
    'min_lr_ratio': 'unused with lr_scheduler=constant',
    'max_grad_norm': 'mprompting/xlmrprompt@39aed8f ptuning/parameters.py:160; wrapper.py:254',
    'strip_punctuation': 'mprompting/xlmrprompt@39aed8f ptuning/pet/pvps/xnli_pvp.py:62-69',
    'template_punctuation': 'mprompting/xlmrprompt@39aed8f ptuning/pet/pvps/pvp.py:84-89',
    'prompt_encoder_shape': 'mprompting/xlmrprompt@39aed8f ptuning/pet/modules/wrapper.py:59-72; scripts/ptuning.sh:16',
    'label_words': 'mprompting/xlmrprompt@39aed8f ptuning/pet/pvps/xnli_pvp.py:11; scripts/ptuning.sh:31 (pattern_lang en)',
    'label_words_as': 'mprompting/xlmrprompt@39aed8f ptuning/pet/pvps/pvp.py:34-36',
    'scoring': 'mprompting/xlmrprompt@39aed8f ptuning/pet/pvps/pvp.py:43-64 + wrapper.py mlm_train_step (CE over 3 label logits)',
    'predict_over': 'mprompting/xlmrprompt@39aed8f ptuning/pet/modules/wrapper.py mlm_eval_step (3 label logits)',
}


class SoftPrompting(Method):
    name = "sp"

    def __init__(self, config, plm, tokenizer, verbalizer):
        super().__init__(config, plm, tokenizer, verbalizer)
        self.template = soft_prompt_template(tokenizer, config.prompt_position, config.prompt_length,
                                             config.max_length, self.special, config.template_punctuation,
                                             config.task_spec().single_text)
        self.prompt_encoder = PromptEncoder(PromptEncoderConfig(
            config.prompt_length, plm.hidden_size, config.prompt_encoder, config.prompt_encoder_shape))

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
        log_probs = class_log_probs(self.plm, mask_hidden, self.label_ids("en"), self.config.scoring)
        return classification_loss(log_probs, self.labels_tensor(batch))

    def training_loss(self, batch: Sequence[TokenizedExample], parallel: Sequence[TokenizedPair] | None,
                      generator: torch.Generator) -> LossOutput:
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
