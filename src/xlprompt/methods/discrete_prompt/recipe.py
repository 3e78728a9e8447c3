"""The recipe of discrete_prompt: each config key's default under ``recipe=reference`` (its authors' code) and where it
comes from. Torch-free, so that configs resolve and ``--help-config`` answers without loading a model."""

from __future__ import annotations

import re
from typing import Any, Mapping

from xlprompt.errors import ConfigError

PET_SH = "mprompting/xlmrprompt@39aed8f scripts/pet.sh"
PET_WRAPPER = "mprompting/xlmrprompt@39aed8f pet/pet/modules/wrapper.py"

#: revision 2: punctuation is stripped once, on the text (no second strip on NFKC-normalised token ids); runs stored before give other numbers, so the revision enters the run hash
REVISION = 2

#: The method's defaults under its authors' code (config key -> value).
RECIPE: dict[str, Any] = {
    "label_words": "right,maybe,wrong",
    "scoring": "labels",
    "lr": 1e-5,
    "lr_scheduler": "constant",
    "warmup_ratio": 0.0,
    "batch_size": 12,
    "epochs": 50,
    "weight_decay": 0.01,
    "max_grad_norm": 1.0,
    "max_length": 256,
    "optimizer": "adam_l2",
    "weight_decay_exempt": "bias,LayerNorm.weight",
    "strip_punctuation": True,
    "template_punctuation": "separate",
    "label_words_as": "word",
    "predict_over": "labels",
    "grad_accumulation_steps": 1,
}
RECIPE_SOURCES: dict[str, str] = {
    "label_words": "mprompting/xlmrprompt@39aed8f pet/pet/pvps/xnli_pvp.py:10 (XNLIVerbalizer['en'])",
    "scoring": f"{PET_WRAPPER} mlm_train_step (CE over convert_mlm_logits_to_cls_logits)",
    "lr": f"{PET_SH}:26",
    "lr_scheduler": f"{PET_WRAPPER} train (no scheduler: constant)",
    "warmup_ratio": f"{PET_WRAPPER} train (warmup_steps unused)",
    "batch_size": f"{PET_SH}:23,33 (4 per GPU x 3 ranks)",
    "epochs": f"{PET_SH}:24",
    "weight_decay": "mprompting/xlmrprompt@39aed8f pet/parameters.py (--weight_decay 0.01)",
    "max_grad_norm": "mprompting/xlmrprompt@39aed8f pet/parameters.py (--max_grad_norm 1.0)",
    "max_length": f"{PET_SH}:29",
    "optimizer": f"{PET_WRAPPER} train: torch.optim.Adam, L2 0.01, eps 1e-8",
    "weight_decay_exempt": f"{PET_WRAPPER} train: no_decay = ['bias', 'LayerNorm.weight']",
    "strip_punctuation": "mprompting/xlmrprompt pet/pvps/xnli_pvp.py: trailing punctuation removed (as SP)",
    "template_punctuation": "not read by dp: pattern 0's parts are each tokenised on their own (pet/pet/pvps/pvp.py "
    "_encode), i.e. separate",
    "label_words_as": "mprompting/xlmrprompt pet/pvps/xnli_pvp.py VERBALIZER (words)",
    "predict_over": "mprompting/xlmrprompt pet/modules/wrapper.py: argmax over the label words",
    "grad_accumulation_steps": "mprompting/xlmrprompt scripts: no gradient accumulation",
}


# --- what DP needs from a task other than XNLI (XNLI's pattern is xlmrprompt's pattern 0), keyed by task
DP_PLACEHOLDER = r"(\{[A-Za-z_][A-Za-z0-9_]*\}|<mask>)"


def check_dp_template(pattern: str, text_fields) -> str | None:
    """Why ``pattern`` is no DP template for a task with ``text_fields`` (None: it is one). A DP template is
    literal words with ``{<text field>}`` once per text field and ``<mask>`` once."""
    parts = re.split(DP_PLACEHOLDER, pattern)
    names = [p[1:-1] for p in parts[1::2] if p != "<mask>"]
    unknown = [n for n in names if n not in text_fields]
    if unknown:
        return f"unknown placeholder {{{unknown[0]}}}; the text fields are {', '.join(text_fields)}"
    for name in text_fields:
        if names.count(name) != 1:
            return f"needs {{{name}}} exactly once (found {names.count(name)})"
    if parts[1::2].count("<mask>") != 1:
        return f"needs <mask> exactly once (found {parts[1::2].count('<mask>')})"
    if any(c in p for p in parts[0::2] for c in "{}"):
        return "has a brace outside a {field} placeholder"
    return None


#: xlprompt's choice for PAWS-X (no DP/PET PAWS-X pattern in the references read): xlmrprompt's XNLI pattern 0
#: (pet/pet/pvps/xnli_pvp.py) with sentence1/sentence2 in its slots, as DPA carries its XNLI template to PAWS-X;
#: label words no/yes (the task's)
TASK_PATTERNS: dict[str, str] = {
    "pawsx": "{sentence1} . Question: {sentence2} ? Answer: <mask> .",
    # AmericasNLI is XNLI's task: xlmrprompt's XNLI pattern 0 in its slots
    "americasnli": "{premise} . Question: {hypothesis} ? Answer: <mask> .",
    # SIB-200: xlprompt's choice (no reference has a DP pattern for it): the text, then the topic at <mask>
    "sib200": "{text} . Topic: <mask> .",
}


def task_pattern(task) -> str | None:
    """DP's pattern for ``task``: its entry above, else a task file's ``dp_template``; None for none."""
    if task.name in TASK_PATTERNS:
        return TASK_PATTERNS[task.name]
    return (task.method_options.get("dp") or {}).get("template")


def task_support(task) -> str | None:
    if task.name == "xnli" or task_pattern(task) is not None:
        return None
    if task.origin.startswith("built-in"):
        return "it needs a DP pattern for this task, which xlprompt has for XNLI, PAWS-X, SIB-200 and AmericasNLI only"
    return "the task file gives no DP pattern (add the field 'dp_template')"


def check_task_options(task, options: Mapping[str, Any]) -> None:
    """A task file's ``dp_template``: a one-line ConfigError naming the file and the field unless it is one."""
    pattern = options.get("template")
    why = check_dp_template(pattern, task.text_fields) if isinstance(pattern, str) else "needs a string"
    if why:
        raise ConfigError(
            f"{task.origin}: field 'dp_template': {why} (e.g. \"{{" + "} . {".join(task.text_fields) + '} ? <mask> .")'
        )
