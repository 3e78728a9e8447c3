"""The recipe of soft_prompt: each config key's default under ``recipe=reference`` (its authors' code) and where it
comes from. Torch-free, so that configs resolve and ``--help-config`` answers without loading a model."""

from __future__ import annotations

from typing import Any

#: SP: config key → default under recipe=reference (see methods/__init__.py), and its source
#: it trains on several source languages at once (config source_languages): its training reads each example's
#: language where it uses one (label words), and nothing else of it
MULTI_SOURCE = True

RECIPE: dict[str, Any] = {
    "max_length": 256,
    "epochs": 50,
    "batch_size": 12,
    "lr": 1e-05,
    "optimizer": "adam_l2",
    "weight_decay": 0.01,
    "weight_decay_exempt": "bias,LayerNorm.weight",
    "lr_scheduler": "constant",
    "warmup_ratio": 0.0,
    "min_lr_ratio": 0.0,
    "max_grad_norm": 1.0,
    "strip_punctuation": True,
    "template_punctuation": "separate",
    "prompt_encoder_shape": "reference",
    "label_words": "right,maybe,wrong",
    "label_words_as": "word",
    "scoring": "labels",
    "predict_over": "labels",
}
RECIPE_SOURCES: dict[str, str] = {
    "max_length": "mprompting/xlmrprompt@39aed8f scripts/ptuning.sh:33",
    "epochs": "mprompting/xlmrprompt@39aed8f scripts/ptuning.sh:28",
    "batch_size": "mprompting/xlmrprompt@39aed8f scripts/ptuning.sh:27,37 (4 per GPU x 3 GPUs, DDP)",
    "lr": "mprompting/xlmrprompt@39aed8f scripts/ptuning.sh:30",
    "optimizer": "mprompting/xlmrprompt@39aed8f ptuning/pet/modules/wrapper.py:231-233 (torch.optim.Adam, weight_decay in the groups)",
    "weight_decay": "mprompting/xlmrprompt@39aed8f ptuning/parameters.py:151-152",
    "weight_decay_exempt": "mprompting/xlmrprompt@39aed8f ptuning/pet/modules/wrapper.py:211",
    "lr_scheduler": "mprompting/xlmrprompt@39aed8f ptuning/pet/modules/wrapper.py:241-257 (no scheduler; l. 17 imports one unused)",
    "warmup_ratio": "mprompting/xlmrprompt@39aed8f ptuning/parameters.py:163",
    "min_lr_ratio": "unused with lr_scheduler=constant",
    "max_grad_norm": "mprompting/xlmrprompt@39aed8f ptuning/parameters.py:160; wrapper.py:254",
    "strip_punctuation": "mprompting/xlmrprompt@39aed8f ptuning/pet/pvps/xnli_pvp.py:62-69",
    "template_punctuation": "mprompting/xlmrprompt@39aed8f ptuning/pet/pvps/pvp.py:84-89",
    "prompt_encoder_shape": "mprompting/xlmrprompt@39aed8f ptuning/pet/modules/wrapper.py:59-72; scripts/ptuning.sh:16",
    "label_words": "mprompting/xlmrprompt@39aed8f ptuning/pet/pvps/xnli_pvp.py:11; scripts/ptuning.sh:31 (pattern_lang en)",
    "label_words_as": "mprompting/xlmrprompt@39aed8f ptuning/pet/pvps/pvp.py:34-36",
    "scoring": "mprompting/xlmrprompt@39aed8f ptuning/pet/pvps/pvp.py:43-64 + wrapper.py mlm_train_step (CE over 3 label logits)",
    "predict_over": "mprompting/xlmrprompt@39aed8f ptuning/pet/modules/wrapper.py mlm_eval_step (3 label logits)",
}
