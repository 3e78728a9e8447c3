"""The recipe of dpa: each config key's default under ``recipe=reference`` (its authors' code) and where it
comes from. Torch-free, so that configs resolve and ``--help-config`` answers without loading a model."""

from __future__ import annotations

from typing import Any

DPA = "DAMO-NLP-SG/DPA@6c57272"
SH = f"{DPA} dpa-xnli.sh"

#: revision 2: the hypothesis rule works on the string and the whole prompt is tokenised at once, as the reference does; runs stored before give other numbers, so the revision enters the run hash
REVISION = 2

RECIPE: dict[str, Any] = {
    "lr": 1e-5,
    "lr_scheduler": "constant",
    "warmup_ratio": 0.0,
    "batch_size": 2,
    "grad_accumulation_steps": 4,
    "epochs": 50,
    "weight_decay": 0.0,
    "max_grad_norm": 1.0,
    "max_length": 256,
    "optimizer": "adamw_hf",
    "weight_decay_exempt": "bias,LayerNorm.weight",
    "grad_accumulation_leftover": "carry",
    "train_order": "shuffle",
    "test_weights": "best_dev",
    "strip_punctuation": False,
    "template_punctuation": "separate",
}
RECIPE_SOURCES: dict[str, str] = {
    "lr": f"{SH}:27",
    "lr_scheduler": f"{SH}:28",
    "warmup_ratio": "transformers TrainingArguments default warmup_ratio=0.0 (dpa-xnli.sh sets none)",
    "batch_size": f"{SH}:24",
    "grad_accumulation_steps": f"{SH}:26",
    "epochs": f"{SH}:29",
    "weight_decay": "transformers TrainingArguments default weight_decay=0.0 (dpa-xnli.sh sets none)",
    "max_grad_norm": "transformers TrainingArguments default max_grad_norm=1.0 (dpa-xnli.sh sets none)",
    "max_length": f"{DPA} run-prompt.py DataTrainingArguments.max_seq_length=256",
    "optimizer": f"{DPA} README.md (transformers==4.10.3): Trainer.create_optimizer builds transformers' own AdamW "
    "(optimization.py AdamW.step: eps before the bias correction; betas 0.9/0.999, eps 1e-8 from "
    "TrainingArguments)",
    "weight_decay_exempt": "transformers 4.10 Trainer.create_optimizer: no decay for bias and LayerNorm weights",
    "grad_accumulation_leftover": "transformers 4.10.3 Trainer.train: step when (step + 1) % "
    "gradient_accumulation_steps == 0, or at an epoch's last step only when "
    "steps_in_epoch <= gradient_accumulation_steps",
    "train_order": "transformers 4.10 Trainer._get_train_sampler: RandomSampler (a new order every epoch)",
    "test_weights": f"{SH}:19-21 (--load_best_model_at_end --metric_for_best_model eval_accuracy)",
    "strip_punctuation": f"{DPA} prompt_helper.py:325-354: the raw texts, only ' .' / '?' rules applied",
    "template_punctuation": f"not read by dpa: its prompt is one string tokenised whole ({DPA} run-prompt.py:391-403)",
}

#: choices renamed since runs were stored, ``(key, old spelling, new spelling)``: the old one is read as the new
#: one (with a warning), and a run's hash keeps the old one. ``source``: the source language's words (on XNLI,
#: English's: the reference's default)
RENAMED_CHOICES: tuple[tuple[str, str, str], ...] = (("dpa_test_label_words", "en", "source"),)

# --- what DPA needs from a task: its multilingual label words, keyed by task
#: DAMO-NLP-SG/DPA prompt_helper.py ``Prompt_Helper._setup_global_verbalizers`` (xnli; AR_* and UR_* from
#: special_tokens.py): the translated label words (entailment, neutral, contradiction) of multi_lingual_optim.
DPA_LABEL_WORDS: dict[str, tuple[str, str, str]] = {
    "ar": ("نعم", "ربما", "لا"),
    "bg": ("да", "може", "не"),
    "de": ("Ja", "möglicherweise", "Nein"),
    "el": ("Μάλιστα", "μπορεί", "όχι"),
    "en": ("yes", "maybe", "no"),
    "es": ("sí", "talvez", "no"),
    "fr": ("Oui", "possible", "non"),
    "hi": ("हां", "शायद", "न"),
    "ru": ("да", "може", "нет"),
    "sw": ("ndio", "labda", "sio"),
    "th": ("ใช่", "อาจจะ", "ไม่"),
    "tr": ("Evet", "belki", "hiçbir"),
    "ur": ("جی", "شاید", "نہیں"),
    "vi": ("dạ", "lẽ", "không"),
    "zh": ("是", "也许", "否"),
}

#: DPA's multilingual label words per task (its multilingual CE and test-time words): DAMO-NLP-SG/DPA@6c57272
#: prompt_helper.py ``_setup_global_verbalizers``, branch ``dataset == "paws-x"``
TASK_LABEL_WORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "xnli": DPA_LABEL_WORDS,
    "pawsx": {
        "de": ("Nein", "Ja"),
        "en": ("no", "yes"),
        "es": ("no", "sí"),
        "fr": ("non", "Oui"),
        "zh": ("否", "是"),
        "ja": ("ない", "はい"),
        "ko": ("아니", "예"),
    },
}


def task_support(task) -> str | None:
    """DPA runs the tasks of :data:`TASK_LABEL_WORDS` (XNLI, PAWS-X), and a task (a task file, or the built-in toy
    task) that gives label words for every language (its multilingual label-word optimisation needs them; its
    source language's words are its training and default test-time words)."""
    if task.name in TASK_LABEL_WORDS:
        return None
    if task.name in ("sib200", "americasnli"):
        return (
            f"DPA's multilingual label-word optimisation needs label words in every language of the task; its "
            f"authors' tables cover XNLI's and PAWS-X's languages, none of {task.name}'s"
        )
    if task.origin.startswith("built-in") and not task.language_label_words:
        return "it needs DPA label words for every language of this task, which xlprompt has for XNLI and PAWS-X"
    absent = [lang for lang in task.languages if lang not in task.language_label_words]
    if absent:
        return (
            f"DPA's multilingual label-word optimisation needs label words for every language; "
            f"add 'label_words.{absent[0]}'" + (f" (and {', '.join(absent[1:])})" if absent[1:] else "")
        )
    return None
