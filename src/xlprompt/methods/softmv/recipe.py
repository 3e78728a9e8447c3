"""The recipe of softmv: each config key's default under ``recipe=reference`` (its authors' code) and where it
comes from. Torch-free, so that configs resolve and ``--help-config`` answers without loading a model."""

from __future__ import annotations

from typing import Any

SOFTMV = "THU-BPM/SoftMV@3dda7ba"
SH = f"{SOFTMV} ptuning.sh"

#: revision 2: last-piece label words, one punctuation strip on the text, code-switching of the raw text; runs stored before give other numbers, so the revision enters the run hash
REVISION = 2

RECIPE: dict[str, Any] = {
    "lr": 1e-5,
    "lr_scheduler": "constant",
    "warmup_ratio": 0.0,
    "batch_size": 12,
    "epochs": 70,
    "weight_decay": 0.01,
    "max_grad_norm": 1.0,
    "max_length": 256,
    "optimizer": "adamw",
    "weight_decay_exempt": "bias,LayerNorm.weight",
    "prompt_encoder_shape": "reference",
    "grad_accumulation_steps": 1,
    "grad_accumulation_leftover": "step",
    "train_order": "sequential",
    "test_weights": "last",
    "softmv_cosda_rate": 0.0,
    "strip_punctuation": True,
    "template_punctuation": "separate",
}
RECIPE_SOURCES: dict[str, str] = {
    "lr": f"{SH}:10,29",
    "lr_scheduler": f"{SOFTMV} prompt/modules/wrapper.py TransformerModelWrapper.train (no scheduler)",
    "warmup_ratio": f"{SOFTMV} parameters.py (--warmup_steps 0, unused)",
    "batch_size": f"{SH}:26",
    "epochs": f"{SH}:27",
    "weight_decay": f"{SOFTMV} parameters.py (--weight_decay 0.01)",
    "max_grad_norm": f"{SOFTMV} parameters.py (--max_grad_norm 1.0)",
    "max_length": f"{SH}:31",
    "optimizer": f"{SOFTMV} prompt/modules/wrapper.py train: torch.optim.AdamW, decay 0.01",
    "weight_decay_exempt": f"{SOFTMV} prompt/modules/wrapper.py train: no_decay = ['bias', 'LayerNorm.weight']",
    "prompt_encoder_shape": f"{SOFTMV} prompt/modules/wrapper.py ContinuousPrompt.__init__: 1-layer BiLSTM, d "
    "units each way, MLP 2d->d->d",
    "grad_accumulation_steps": f"{SOFTMV} scripts: no gradient accumulation",
    "grad_accumulation_leftover": "no accumulation (grad_accumulation_steps 1)",
    "train_order": f"{SOFTMV} prompt/pvps/cs_patternization.py:98-101 (SequentialSampler), wrapper.py:387-390",
    "test_weights": f"{SOFTMV} prompt/trainers/singleton_trainer.py:234-245, 260-265 (single GPU: the trained "
    "wrapper, i.e. the last epoch, is tested)",
    "softmv_cosda_rate": f"{SH}:9,34 (few-shot: --cosda_rate 0; full.sh:9,34 runs 0.2 on the full data, "
    "parameters.py:169 defaults to 0.55)",
    "strip_punctuation": f"{SOFTMV} prompt/pvps/xnli_pvp.py:117-125 (get_parts: text.rstrip(string.punctuation))",
    "template_punctuation": f"{SOFTMV} prompt/pvps/pvp.py:149-160 (_encode: each part, '.' and '?' included, "
    "tokenised on its own): separate",
}


# --- what SoftMV needs from a task: its multilingual verbalizer, keyed by task
#: xlmrprompt pet/pet/pvps/xnli_pvp.py ``XNLIVerbalizer`` (identical in THU-BPM/SoftMV prompt/pvps/xnli_pvp.py):
#: label words (entailment, neutral, contradiction) per language. DP uses the English row (pattern_lang en);
#: SoftMV's multilingual verbalizer averages all 15 rows.
XNLI_VERBALIZER: dict[str, tuple[str, str, str]] = {
    "en": ("right", "maybe", "wrong"),
    "zh": ("是", "也许", "否"),
    "de": ("Ja", "vielleicht", "Nein"),
    "fr": ("oui", "possible", "non"),
    "ar": ("نعم", "يمكن", "لا"),
    "bg": ("да", "можеби", "не"),
    "el": ("Nαί", "μπορεί", "όχι"),
    "es": ("sí", "talvez", "no"),
    "hi": ("सच", "शायद", "झूठ"),
    "ru": ("да", "возможно", "нет"),
    "sw": ("ndio", "labda", "hasi"),
    "th": ("ใช่", "อาจจะ", "ไม่"),
    "tr": ("Evet", "belki", "hiçbir"),
    "ur": ("ہاں", "شاید", "نہیں"),
    "vi": ("dạ", "lẽ", "Không"),
}

#: SoftMV's multilingual verbalizer per task (the mean over a task's languages of each class's label-word logit)
TASK_LABEL_WORDS: dict[str, dict[str, tuple[str, ...]]] = {"xnli": XNLI_VERBALIZER}


def task_support(task) -> str | None:
    """SoftMV runs XNLI (its authors' verbalizer) and a task (a task file, or the built-in toy task) that gives
    label words for every language (its multilingual verbalizer averages them). Its code-switching
    (``softmv_cosda_rate`` > 0) reads MUSE dictionaries on XNLI, and a task's own bilingual dictionaries elsewhere
    (``Task.load_dictionaries``: the toy world's, a task file's ``dictionaries``), checked with the config."""
    if task.name in TASK_LABEL_WORDS:
        return None
    if task.origin.startswith("built-in") and not task.language_label_words:
        return (
            "SoftMV's multilingual verbalizer needs label words in every language of the task: its authors' "
            f"table holds XNLI's 3 labels and languages, and task {task.name} gives none"
        )
    absent = [lang for lang in task.languages if lang not in task.language_label_words]
    if absent:
        return (
            "SoftMV's multilingual verbalizer needs label words for every language; "
            f"add 'label_words.{absent[0]}'" + (f" (and {', '.join(absent[1:])})" if absent[1:] else "")
        )
    return None
