"""XNLI (Conneau et al., 2018): the paper's task. Premise and hypothesis, three NLI labels, 15 languages.

Its data path is the historical one (:func:`xlprompt.run_data.load_run_data`: the fixed few-shot splits of
Zhao & Schütze or a sample, XNLI dev/test per language), so XNLI runs are bit-identical to those before tasks
existed (tests/test_tasks_xnli_golden.py). Its label words are the methods' recipe key ``label_words``.
"""

from __future__ import annotations

from xlprompt.config import METHODS
from xlprompt.languages import LABELS, SOURCE_LANGUAGE, XNLI_LANGUAGES
from xlprompt.tasks import Task, register

XNLI = register(Task(
    name="xnli",
    labels=LABELS,
    languages=XNLI_LANGUAGES,
    label_words=("right", "maybe", "wrong"),  # SP/MPT's; each method's recipe key label_words decides
    text_fields=("premise", "hypothesis"),
    source_language=SOURCE_LANGUAGE,
    tiny_label_words=("yes", "maybe", "no"),
    methods=METHODS,
    parallel_default="pawsx",
    parallel_refused={},
    origin="built-in: xlprompt.tasks.xnli",
))
