"""The leak guard (issue 11): the evaluated split must not reach training or model selection.

Two layers:

* :func:`check_config_leaks` (from :meth:`xlprompt.config.RunConfig.validate`, so a sweep refuses such a run
  when it is expanded): settings that always draw on the evaluated split are refused —
  ``eval_split=dev`` with ``parallel_source=xnli-dev`` (MPT's alignment pairs *are* the XNLI dev pairs being
  evaluated) and with ``train_source=sample`` (train and selection dev are sampled from XNLI dev, hub or
  local data alike). The shipped demo sample (``builtin:demo``) has its own disjoint splits.
* :func:`check_data_leaks` (from :func:`xlprompt.run_data.load_run_data`, once the data is loaded) compares
  the texts themselves, so it also catches a hand-made ``parallel_file`` built from the evaluated split:
  an evaluated (premise, hypothesis) that is also a training example or an alignment pair (either side) is
  refused; one that is also in the model-selection dev split gives a warning. For a one-text task (SIB-200,
  whose texts are Flores-200 sentences) every sentence of every pair, on either side, is compared with every
  evaluated text, in any language. The latter is the case of the
  fixed few-shot splits with ``eval_split=dev``: Zhao & Schütze's dev split is k per class drawn from XNLI
  dev, so its 3k English examples are also evaluated. Refusing it would forbid ``eval_split=dev`` with
  the paper's fixed splits altogether; the warning names how many examples overlap (3k of ~2,490 English
  dev examples: English dev accuracy is slightly optimistic, the other languages are unaffected as
  selection uses English only).
"""

from __future__ import annotations

import warnings
from typing import Iterable

from xlprompt.errors import ConfigError, DataError

DEMO = "builtin:demo"


def check_config_leaks(config) -> None:
    if config.eval_split != "dev" or config.data_dir == DEMO:
        return
    if config.method == "mpt" and config.alpha < 1.0 and config.parallel_source == "xnli-dev":
        raise ConfigError("eval_split=dev with parallel_source=xnli-dev: the alignment pairs would be the very "
                          "XNLI dev pairs being evaluated (a leak); use eval_split=test, or another "
                          "parallel_source (pawsx, tatoeba, file, translate)")
    if config.train_source == "sample" and config.task == "xnli":  # other tasks: xlprompt.tasks decides
        raise ConfigError("eval_split=dev with train_source=sample: the training and model-selection examples "
                          "would be sampled from the XNLI dev split being evaluated (a leak); use eval_split=test")


def _texts(examples: Iterable) -> set[tuple[str, str]]:
    return {(ex.premise.strip(), ex.hypothesis.strip()) for ex in examples}


def check_data_leaks(config, train, dev, test: dict, parallel, split: str | None = None) -> list[str]:
    """Refuse training/alignment data that is evaluated; return (and warn) a note for selection overlap."""
    notes = []
    task = "XNLI" if config.task == "xnli" else config.task_spec().name  # issue 13: the messages name the task
    evaluated = {lang: _texts(examples) for lang, examples in test.items()}
    english = evaluated.get("en", set())
    split = split or config.eval_split  # the split evaluated (task=pawsx may evaluate dev: xlprompt.tasks.pawsx)
    leaked = len(_texts(train) & english)
    if leaked:
        raise DataError(f"{leaked} training examples are also in the evaluated {task} {split} split (English): a "
                        "leak; use the other eval_split or other training data")
    for pair in parallel:
        sides = [("en", pair.src_premise, pair.src_hypothesis), (pair.tgt_lang, pair.tgt_premise, pair.tgt_hypothesis)]
        for lang, premise, hypothesis in sides:
            if (premise.strip(), hypothesis.strip()) in evaluated.get(lang, ()):
                where = config.parallel_file if config.parallel_source == "file" else None
                raise DataError(f"the parallel pair '{pair.uid}' ({lang}) is an example of the evaluated {task} "
                                f"{split} split: the alignment would train on the evaluated set (a leak); use "
                                f"eval_split={'test' if split == 'dev' else 'dev'} or another parallel corpus",
                                where)
    if parallel and config.task_spec().single_text:
        # a one-text task: every sentence of a pair (either side, premise or hypothesis) against every evaluated
        # text, whatever the language: SIB-200's texts are Flores-200 sentences, which parallel corpora also hold
        single = {ex.premise.strip() for examples in test.values() for ex in examples}
        for pair in parallel:
            for sentence in (pair.src_premise, pair.src_hypothesis, pair.tgt_premise, pair.tgt_hypothesis):
                if sentence.strip() in single:
                    where = config.parallel_file if config.parallel_source == "file" else None
                    raise DataError(f"the parallel pair '{pair.uid}' holds a sentence that is an evaluated {task} "
                                    f"{split} text ({sentence.strip()[:60]!r}): the alignment would train on the "
                                    "evaluated set (a leak); remove those pairs or use another parallel corpus", where)
    overlap = len(_texts(dev) & english)
    if overlap:
        note = (f"leak warning: {overlap} of the {len(dev)} model-selection dev examples are also in the evaluated "
                f"{task} {split} split (English), so English accuracy is optimistic; eval_split=test avoids it")
        warnings.warn(note, stacklevel=2)
        notes.append(note)
    return notes
