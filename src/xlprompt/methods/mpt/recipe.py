"""The recipe of mpt: each config key's default under ``recipe=reference`` (its authors' code) and where it
comes from. Torch-free, so that configs resolve and ``--help-config`` answers without loading a model."""

from __future__ import annotations

from typing import Any

#: MPT: config key → default under recipe=reference (see methods/__init__.py), and its source
RECIPE: dict[str, Any] = {
    "max_length": 256,
    "epochs": 50,
    "batch_size": 24,
    "lr": 4e-05,
    "optimizer": "adamw",
    "weight_decay": 0.01,
    "weight_decay_exempt": "bias,LayerNorm.weight",
    "lr_scheduler": "constant",
    "warmup_ratio": 0.0,
    "min_lr_ratio": 0.0,
    "max_grad_norm": 1.0,
    "grad_accumulation_steps": 1,
    "grad_accumulation_leftover": "step",
    "train_order": "shuffle",
    "test_weights": "best_dev",
    "strip_punctuation": True,
    "template_punctuation": "separate",
    "prompt_encoder_shape": "reference",
    "label_words": "right,maybe,wrong",
    "label_words_as": "word",
    "scoring": "vocab",
    "predict_over": "labels",
}
RECIPE_SOURCES: dict[str, str] = {
    "max_length": "paper §IV-B",
    "epochs": "paper §IV-B",
    "batch_size": "paper §IV-B",
    "lr": "paper §IV-B",
    "optimizer": "paper §IV-B (AdamW)",
    "weight_decay": "mprompting/xlmrprompt@39aed8f ptuning/parameters.py:151-152 (paper silent; xlmrprompt lineage)",
    "weight_decay_exempt": "mprompting/xlmrprompt@39aed8f ptuning/pet/modules/wrapper.py:211 (lineage)",
    "lr_scheduler": "mprompting/xlmrprompt@39aed8f ptuning/pet/modules/wrapper.py:231-257, no scheduler (lineage)",
    "warmup_ratio": "mprompting/xlmrprompt@39aed8f ptuning/parameters.py:163 warmup_steps=0 (lineage)",
    "min_lr_ratio": "unused with lr_scheduler=constant",
    "max_grad_norm": "mprompting/xlmrprompt@39aed8f ptuning/parameters.py:160; wrapper.py:254 (lineage)",
    "strip_punctuation": "paper Eq. 1 'X_P . X_H ?'; mprompting/xlmrprompt@39aed8f ptuning/pet/pvps/xnli_pvp.py:62-69",
    "template_punctuation": "mprompting/xlmrprompt@39aed8f ptuning/pet/pvps/pvp.py:84-89 (each part tokenised on its own)",
    "prompt_encoder_shape": "mprompting/xlmrprompt@39aed8f ptuning/pet/modules/wrapper.py:59-72 (paper: 'an LSTM and an MLP')",
    "label_words": "mprompting/xlmrprompt@39aed8f ptuning/pet/pvps/xnli_pvp.py:11 (paper silent; lineage)",
    "label_words_as": "mprompting/xlmrprompt@39aed8f ptuning/pet/pvps/pvp.py:34-36 (get_verbalization_ids, one word-start token)",
    "scoring": "paper Eq. 2-3 (softmax over V, then W_Z)",
    "predict_over": "paper Eq. 2 (P^CLS over the label words); mprompting/xlmrprompt@39aed8f wrapper.py mlm_eval_step",
    "grad_accumulation_steps": "paper §IV-B: batch 24, no accumulation",
    "grad_accumulation_leftover": "no accumulation (grad_accumulation_steps 1)",
    "train_order": "paper silent: a seeded permutation of the few-shot examples every epoch",
    "test_weights": "mprompting/xlmrprompt@39aed8f ptuning/pet/modules/wrapper.py:274-279 (best dev epoch, lineage)",
}
