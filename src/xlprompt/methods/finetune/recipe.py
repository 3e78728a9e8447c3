"""The recipe of finetune: each config key's default under ``recipe=reference`` (its authors' code) and where it
comes from. Torch-free, so that configs resolve and ``--help-config`` answers without loading a model."""

from __future__ import annotations

from typing import Any

#: FT: config key → default under recipe=reference (see methods/__init__.py), and its source
#: it trains on several source languages at once (config source_languages): its training reads each example's
#: language where it uses one (label words), and nothing else of it
MULTI_SOURCE = True

RECIPE: dict[str, Any] = {
    "max_length": 256,
    "epochs": 50,
    "batch_size": 32,
    "lr": 1e-05,
    "optimizer": "adam_l2",
    "weight_decay": 0.0,
    "weight_decay_exempt": "-",
    "lr_scheduler": "constant",
    "warmup_ratio": 0.0,
    "min_lr_ratio": 0.0,
    "max_grad_norm": 0.0,
    "strip_punctuation": False,
    "template_punctuation": "separate",
    "head_init": "normal",
}
RECIPE_SOURCES: dict[str, str] = {
    "max_length": "mprompting/xlmrprompt@39aed8f scripts/finetuning.sh:21",
    "epochs": "mprompting/xlmrprompt@39aed8f scripts/finetuning.sh:15",
    "batch_size": "mprompting/xlmrprompt@39aed8f scripts/finetuning.sh:17,23 (8 x 4 GPUs); finetuning/finetuning_baseline.py:121-123",
    "lr": "mprompting/xlmrprompt@39aed8f scripts/finetuning.sh:16",
    "optimizer": "mprompting/xlmrprompt@39aed8f finetuning/future/baseline_trainer.py:23 (torch.optim.Adam)",
    "weight_decay": "mprompting/xlmrprompt@39aed8f finetuning/future/baseline_trainer.py:23 (no weight_decay)",
    "weight_decay_exempt": "no decay at all",
    "lr_scheduler": "mprompting/xlmrprompt@39aed8f finetuning/future/baseline_trainer.py:40-49 (no scheduler)",
    "warmup_ratio": "mprompting/xlmrprompt@39aed8f finetuning/future/baseline_trainer.py:40-49",
    "min_lr_ratio": "unused with lr_scheduler=constant",
    "max_grad_norm": "mprompting/xlmrprompt@39aed8f finetuning/future/baseline_trainer.py:46-47 (no clipping)",
    "strip_punctuation": "mprompting/xlmrprompt@39aed8f finetuning/data_loader/bert_formatting.py:43-50 (raw text_a, text_b)",
    "template_punctuation": "not read by ft: its input is the tokenizer's own pair layout",
    "head_init": "mprompting/xlmrprompt@39aed8f finetuning/finetuning_baseline.py:47-49 (seqcls.from_pretrained: _init_weights)",
}
