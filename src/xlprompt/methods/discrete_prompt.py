"""DP — discrete prompting (Zhao & Schütze, 2021): a hard cloze template, no soft prompt, the whole PLM tuned.

As xlmrprompt's ``pet/`` runs it (mprompting/xlmrprompt, commit 39aed8f; ``scripts/pet.sh`` runs
``pet/cli.py`` with ``--pattern_ids 0 --pattern_lang en``):

* template, pattern 0 of ``pet/pet/pvps/xnli_pvp.py`` (``_get_pattern``), English for every language::

      <s> X_P . Question: X_H ? Answer: <mask> . </s>

  premise and hypothesis with trailing ASCII punctuation stripped (``XNLIPVP.get_parts``:
  ``text.rstrip(string.punctuation)``), every part tokenised on its own (``pet/pet/pvps/pvp.py`` ``_encode``),
  so ``.`` is ``▁`` ``.`` and ``?`` is ``▁?`` with the XLM-R tokenizer;
* label words right / maybe / wrong (``XNLIVerbalizer["en"]``) for every test language (pattern_lang en);
* loss: cross-entropy over the label words' MLM logits (``pet/pet/modules/wrapper.py`` ``mlm_train_step`` with
  ``convert_mlm_logits_to_cls_logits``): ``scoring=labels``;
* prediction: the argmax over the three label-word logits at ``<mask>``.

Recipe (:data:`RECIPE`): ``scripts/pet.sh`` and ``pet/pet/modules/wrapper.py`` ``train``: torch Adam with L2
weight decay 0.01 (``bias`` and ``LayerNorm.weight`` exempt), lr 1e-5 constant (no scheduler), eps 1e-8,
clipping 1.0, 4 examples per GPU × 3 GPUs (DDP) = batch 12, 50 epochs, English dev accuracy every epoch, first
best kept. The optimiser is Adam + L2 (``optimizer=adam_l2``).

Differences: the reference truncates the hypothesis first (``PVP.truncate`` ``_remove_last``), xlprompt longest
first; they differ only for inputs beyond ``max_length`` (256) tokens.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch

from xlprompt.batching import TokenizedExample, TokenizedPair
from xlprompt.losses import classification_loss
from xlprompt.methods.base import LossOutput, Method
from xlprompt.scoring import class_log_probs, label_word_logits
from xlprompt.template import HYPOTHESIS, LITERAL, MASK, PREMISE, EncodedInput, Piece, Template, word_ids

PET_SH = "mprompting/xlmrprompt@39aed8f scripts/pet.sh"
PET_WRAPPER = "mprompting/xlmrprompt@39aed8f pet/pet/modules/wrapper.py"

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


def pet_template(tokenizer, special, max_length: int) -> Template:
    """xlmrprompt's pattern 0 in English: ``X_P . Question: X_H ? Answer: <mask> .`` (parts tokenised alone)."""
    dot = word_ids(tokenizer, ".")
    pieces = [
        Piece(PREMISE), Piece(LITERAL, dot), Piece(LITERAL, word_ids(tokenizer, "Question:")),
        Piece(HYPOTHESIS), Piece(LITERAL, word_ids(tokenizer, "?")), Piece(LITERAL, word_ids(tokenizer, "Answer:")),
        Piece(MASK), Piece(LITERAL, dot),
    ]
    return Template(pieces, special, max_length, name="dp-pet-0-en")


DP_PLACEHOLDER = r"(\{[A-Za-z_][A-Za-z0-9_]*\}|<mask>)"


def check_dp_template(pattern: str, text_fields) -> str | None:
    """Why ``pattern`` is no DP template for a task with ``text_fields`` (None: it is one). A DP template is
    literal words with ``{<text field>}`` once per text field and ``<mask>`` once (issue 13)."""
    import re

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


def task_dp_template(pattern: str, text_fields, tokenizer, special, max_length: int, name: str) -> Template:
    """A task's DP pattern (issue 13, e.g. ``{sentence1} . Question: {sentence2} ? Answer: <mask> .``) as
    :class:`Template` pieces: the first text field in the premise slot, the second in the hypothesis slot,
    ``<mask>``, and each literal run between them tokenised on its own as words (as ``pet_template``)."""
    import re

    pieces = []
    slots = {text_fields[0]: PREMISE, **({text_fields[1]: HYPOTHESIS} if len(text_fields) > 1 else {})}
    for part in re.split(DP_PLACEHOLDER, pattern):
        if part == "<mask>":
            pieces.append(Piece(MASK))
        elif part.startswith("{") and part.endswith("}") and part[1:-1] in slots:
            pieces.append(Piece(slots[part[1:-1]]))
        else:
            pieces.extend(Piece(LITERAL, word_ids(tokenizer, word)) for word in part.split())
    return Template(pieces, special, max_length, name=name)


class DiscretePrompting(Method):
    name = "dp"

    def __init__(self, config, plm, tokenizer, verbalizer):
        super().__init__(config, plm, tokenizer, verbalizer)
        if config.freeze_plm:  # DAMO-NLP-SG/DPA run-prompt.py raises the same: a hard prompt has nothing else to train
            from xlprompt.errors import ConfigError

            raise ConfigError(f"{config.method}: freeze_plm=true leaves nothing to train (a hard template has no "
                              "parameters of its own); set freeze_plm=false")
        task = config.task_spec()
        if task.name == "xnli":
            self.template = pet_template(tokenizer, self.special, config.max_length)
        else:  # issue 13: the task's own DP pattern (tasks/pawsx.py, or a task file's dp_template)
            self.template = task_dp_template(task.dp_template, task.text_fields, tokenizer, self.special,
                                             config.max_length, f"dp-{task.name}")

    def encode_for_eval(self, example: TokenizedExample, lang: str) -> EncodedInput:
        # the texts were stripped before tokenising (strip_punctuation, xnli_pvp.py get_parts), each on its own
        return self.template.encode(example.premise, example.hypothesis)

    def training_loss(self, batch: Sequence[TokenizedExample], parallel: Sequence[TokenizedPair] | None,
                      generator: torch.Generator) -> LossOutput:
        hidden = self.mask_states([self.encode_for_eval(ex, "en") for ex in batch])
        log_probs = class_log_probs(self.plm, hidden, self.label_ids("en"), self.config.scoring)
        ce = classification_loss(log_probs, self.labels_tensor(batch))
        return LossOutput(ce, {"ce": ce.item()})

    def class_scores(self, batch: Sequence[TokenizedExample], lang: str) -> torch.Tensor:
        hidden = self.mask_states([self.encode_for_eval(ex, lang) for ex in batch])
        return label_word_logits(self.plm, hidden, self.label_ids("en"))  # pattern_lang en: English words
