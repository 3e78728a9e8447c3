"""The recipe of xpe: each config key's default under ``recipe=reference`` (its authors' code) and where it
comes from. Torch-free, so that configs resolve and ``--help-config`` answers without loading a model.

The authors' configuration file (``sib200_hybrid.xpe.yml``) and the launcher that sets the encoder ratio per run
(``xpe_utils.py``: ``XPE`` = ratio 1, ``D30`` = ratio 0.3, ``SPT`` = ratio 0). Their launcher's slurm table
(xpe_utils.py:236-302) also swaps the optimiser for Adafactor with ``relative_step`` and caps the steps at 24,000;
xlprompt's reference recipe is the configuration file's (AdamW, cosine restarts), which the launcher's
source-training phase keeps for warm-up, weight decay, clipping and dropout (xpe_utils.py:371-392).
"""

from __future__ import annotations

from typing import Any

XPE = "bmikaberidze/XPE@78b384f"
YML = f"{XPE} nlpka/configs/storage/language_model/xlmr/finetune/peft/sib200_hybrid.xpe.yml"
CPE = f"{XPE} nlpka/models/cross_prompt_encoder.py"
UTILS = f"{XPE} nlpka/configs/scripts/xpe_utils.py"
#: the libraries the reference pins (requirements.txt:3, 17)
LIBS = f"{XPE} requirements.txt:3,17 (peft==0.14.0, transformers==4.49.0)"

#: XPE: config key → default under recipe=reference (see methods/__init__.py)
#: it trains on several source languages at once (config source_languages): its training reads each example's
#: language where it uses one (label words), and nothing else of it
MULTI_SOURCE = True

RECIPE: dict[str, Any] = {
    "max_length": 164,
    "epochs": 10,
    "batch_size": 32,
    "lr": 5e-5,
    "optimizer": "adamw",
    "weight_decay": 0.01,
    "weight_decay_exempt": "bias",
    "lr_scheduler": "cosine_restarts",
    "lr_cycles": 2,
    "warmup_ratio": 0.1,
    "min_lr_ratio": 0.0,
    "max_grad_norm": 1.0,
    "strip_punctuation": False,
    "template_punctuation": "separate",
    "head_init": "normal",
    "train_order": "shuffle",
    "test_weights": "best_dev",
    "prompt_length": 20,
    "freeze_plm": True,
    "xpe_encoder_ratio": 1.0,
    "xpe_hidden_size": 256,
    "xpe_layers": 2,
    "xpe_dropout": 0.1,
}
RECIPE_SOURCES: dict[str, str] = {
    "max_length": f"{XPE} nlpka/configs/storage/dataset/ape/sib200/xlmr/tokenize.yml:60-62 (max_length 164, truncation)",
    "epochs": f"{YML}:166",
    "batch_size": f"{YML}:170; {UTILS}:379",
    "lr": f"{YML}:204",
    "optimizer": f"{YML}:203-210 (no optim: the Trainer's default adamw_torch, eps 1e-8; {LIBS})",
    "weight_decay": f"{YML}:209; {UTILS}:382",
    "weight_decay_exempt": "transformers 4.49 Trainer.get_decay_parameter_names (biases and LayerNorm weights; "
    f"the trainable ones here have no LayerNorm); {XPE} nlpka/models/custom_trainer.py:115-134",
    "lr_scheduler": f"{YML}:205 (cosine_with_restarts: transformers' hard-restart cosine with warm-up)",
    "lr_cycles": f"{YML}:206-207 (num_cycles: 2)",
    "warmup_ratio": f"{YML}:208; {UTILS}:381 (Trainer: ceil(0.1 x steps) warm-up steps)",
    "min_lr_ratio": "unused with lr_scheduler=cosine_restarts (down to 0)",
    "max_grad_norm": f"{YML}:210; {UTILS}:383",
    "strip_punctuation": f"{XPE} nlpka/configs/storage/dataset/ape/sib200/xlmr/tokenize.yml (the raw text, tokenised)",
    "template_punctuation": "not read by xpe: its input is the tokenizer's own layout after the prompt",
    "head_init": f"{XPE} nlpka/models/model.py:465-467 (AutoModelForSequenceClassification.from_pretrained: "
    "the new classifier from transformers' _init_weights, N(0, 0.02), zero bias)",
    "train_order": f"{YML}:218 (a shuffled sampler; its group_by_length batching is not reproduced)",
    "test_weights": f"{YML}:182,194-196 (evaluated each epoch, best accuracy loaded at the end)",
    "prompt_length": f"{YML}:15 (num_virtual_tokens: 20); {UTILS}:241-244",
    "freeze_plm": f"{CPE}:108-121 (_setup_prompt_encoder freezes the base model; the classifier trains as a "
    "module to save, peft 0.14 PeftModelForSequenceClassification)",
    "xpe_encoder_ratio": f"{UTILS}:244 (the XPE row: encoder_ratio 1); {CPE}:998-1006",
    "xpe_hidden_size": f"{YML}:23",
    "xpe_layers": f"{YML}:24; {CPE}:1268-1282 (gen_mlp_head)",
    "xpe_dropout": f"{YML}:25; {UTILS}:390-391 (source training: 0.1)",
}
