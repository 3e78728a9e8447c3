"""DP — discrete prompting (Zhao & Schütze, 2021): a hard cloze template, no soft prompt, the whole PLM tuned.

As xlmrprompt's ``pet/`` runs it (mprompting/xlmrprompt, commit 39aed8f; ``scripts/pet.sh`` runs
``pet/cli.py`` with ``--pattern_ids 0 --pattern_lang en``):

* template, pattern 0 of ``pet/pet/pvps/xnli_pvp.py`` (``_get_pattern``), English for every language::

      <s> X_P . Question: X_H ? Answer: <mask> . </s>

  premise and hypothesis with trailing ASCII punctuation stripped (``XNLIPVP.get_parts``:
  ``text.rstrip(string.punctuation)``), every part tokenised on its own (``pet/pet/pvps/pvp.py`` ``_encode``),
  so ``.`` is ``▁`` ``.`` and ``?`` is ``▁?`` with the XLM-R tokenizer;
* label words right / maybe / wrong (``XNLIVerbalizer``'s English row) for every test language (pattern_lang en:
  the source language's words);
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

from typing import Sequence

import torch

from xlprompt.batching import TokenizedExample, TokenizedPair
from xlprompt.losses import classification_loss
from xlprompt.methods.base import LossOutput, Method
from xlprompt.methods.discrete_prompt.recipe import (  # noqa: F401  (re-exported)
    DP_PLACEHOLDER,
    PET_SH,
    PET_WRAPPER,
    RECIPE,
    RECIPE_SOURCES,
    check_dp_template,
    task_pattern,
)
from xlprompt.scoring import class_log_probs, label_word_logits
from xlprompt.template import HYPOTHESIS, LITERAL, MASK, PREMISE, EncodedInput, Piece, Template, word_ids


def pet_template(tokenizer, special, max_length: int) -> Template:
    """xlmrprompt's pattern 0 in English: ``X_P . Question: X_H ? Answer: <mask> .`` (parts tokenised alone)."""
    dot = word_ids(tokenizer, ".")
    pieces = [
        Piece(PREMISE),
        Piece(LITERAL, dot),
        Piece(LITERAL, word_ids(tokenizer, "Question:")),
        Piece(HYPOTHESIS),
        Piece(LITERAL, word_ids(tokenizer, "?")),
        Piece(LITERAL, word_ids(tokenizer, "Answer:")),
        Piece(MASK),
        Piece(LITERAL, dot),
    ]
    return Template(pieces, special, max_length, name="dp-pet-0-en")


def task_dp_template(pattern: str, text_fields, tokenizer, special, max_length: int, name: str) -> Template:
    """A task's DP pattern (e.g. ``{sentence1} . Question: {sentence2} ? Answer: <mask> .``) as
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

            raise ConfigError(
                f"{config.method}: freeze_plm=true leaves nothing to train (a hard template has no "
                "parameters of its own); set freeze_plm=false"
            )
        task = config.task_spec()
        if task.name == "xnli":
            self.template = pet_template(tokenizer, self.special, config.max_length)
        else:  # the task's own DP pattern (the recipe's table, or a task file's dp_template)
            self.template = task_dp_template(
                task_pattern(task), task.text_fields, tokenizer, self.special, config.max_length, f"dp-{task.name}"
            )

    def encode_for_eval(self, example: TokenizedExample, lang: str) -> EncodedInput:
        # the texts were stripped before tokenising (strip_punctuation, xnli_pvp.py get_parts), each on its own
        return self.template.encode(example.premise, example.hypothesis)

    def training_loss(
        self, batch: Sequence[TokenizedExample], parallel: Sequence[TokenizedPair] | None, generator: torch.Generator
    ) -> LossOutput:
        hidden = self.mask_states([self.encode_for_eval(ex, self.source_language) for ex in batch])
        log_probs = class_log_probs(self.plm, hidden, self.label_ids(self.source_language), self.config.scoring)
        ce = classification_loss(log_probs, self.labels_tensor(batch))
        return LossOutput(ce, {"ce": ce.item()})

    def class_scores(self, batch: Sequence[TokenizedExample], lang: str) -> torch.Tensor:
        hidden = self.mask_states([self.encode_for_eval(ex, lang) for ex in batch])
        return label_word_logits(
            self.plm, hidden, self.label_ids(self.source_language)
        )  # pattern_lang en: the source language's words
