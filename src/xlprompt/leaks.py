"""The leak guard: the evaluated split must not reach training or model selection.

Two layers:

* :func:`check_config_leaks` (from :meth:`xlprompt.config.RunConfig.validate`, so a sweep refuses such a run
  when it is expanded): settings that always draw on the evaluated split are refused —
  ``eval_split=dev`` with ``parallel_source=xnli-dev`` (MPT's alignment pairs *are* the XNLI dev pairs being
  evaluated) and with ``train_source=sample`` (train and selection dev are sampled from XNLI dev, hub or
  local data alike). The shipped demo sample (``builtin:demo``) has its own disjoint splits.
* :func:`check_data_leaks` (from :func:`xlprompt.run_data.load_run_data`, once the data is loaded) compares
  the texts themselves, so it also catches a hand-made ``parallel_file`` built from the evaluated split:
  an evaluated (premise, hypothesis), in any evaluated language and compared after :func:`normalise` (case,
  punctuation, white space, Unicode compatibility forms), that is also a training example or an alignment pair
  (either side) is refused; in a user task, one that is also in the model-selection dev split is refused (the
  task file names both); otherwise that gives a warning. For a one-text task (SIB-200, whose texts
  are Flores-200 sentences) every sentence of every pair, on either side, is compared with every evaluated
  text, in any language. The warning is the case of the
  fixed few-shot splits with ``eval_split=dev``: Zhao & Schütze's dev split is k per class drawn from XNLI
  dev, so its 3k English examples are also evaluated. Refusing it would forbid ``eval_split=dev`` with
  the paper's fixed splits altogether; the warning names how many examples overlap (3k of ~2,490 English
  dev examples: English dev accuracy is slightly optimistic, the other languages are unaffected as
  selection uses English only).
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from typing import Iterable

from xlprompt.errors import ConfigError, DataError

DEMO = "builtin:demo"


def check_config_leaks(config) -> None:
    if config.eval_split != "dev" or config.data_dir == DEMO:
        return
    if config.method == "mpt" and config.alpha < 1.0 and config.parallel_source == "xnli-dev":
        raise ConfigError(
            "eval_split=dev with parallel_source=xnli-dev: the alignment pairs would be the very "
            "XNLI dev pairs being evaluated (a leak); use eval_split=test, or another "
            "parallel_source (pawsx, tatoeba, file, translate)"
        )
    if config.train_source == "sample" and config.task == "xnli":  # other tasks: xlprompt.tasks decides
        raise ConfigError(
            "eval_split=dev with train_source=sample: the training and model-selection examples "
            "would be sampled from the XNLI dev split being evaluated (a leak); use eval_split=test"
        )


_SPACE = re.compile(r"\s+")


#: Unicode categories the guard drops: punctuation (P*), modifier symbols used as quotes and accents (Sk: ` ´ ^)
#: and invisible format characters (Cf: zero-width spaces and joiners, soft hyphens, byte-order marks)
_DROPPED = ("P", "Sk", "Cf")


def _drop(text: str) -> str:
    return "".join(
        "" if unicodedata.category(ch) == "Cf" else " " if unicodedata.category(ch).startswith(_DROPPED) else ch
        for ch in text
    )


def normalise(text: str) -> str:
    """A text as the leak guard compares it: Unicode NFKC, case folded, punctuation (every Unicode P* character)
    and modifier symbols (Sk: a backtick or acute accent for an apostrophe) dropped, invisible format characters
    (Cf: zero-width spaces, soft hyphens) removed, runs of white space one space, trimmed. Two rows that differ
    only by a full stop, doubled or non-breaking spaces, the quote characters, case, a zero-width space or a
    compatibility form (full-width letters) are one row to the guard. Dropped before NFKC too, which spells a
    lone acute accent as a space and a combining mark."""
    text = unicodedata.normalize("NFKC", _drop(text)).casefold()
    return _SPACE.sub(" ", _drop(text)).strip()


def _key(premise: str, hypothesis: str) -> tuple[str, str]:
    return normalise(premise), normalise(hypothesis)


def _texts(examples: Iterable) -> set[tuple[str, str]]:
    return {_key(ex.premise, ex.hypothesis) for ex in examples}


def _user_task(config) -> bool:
    task = config.task_spec()
    return bool(task.files) and not task.origin.startswith("built-in")


def check_data_leaks(config, train, dev, test: dict, parallel, split: str | None = None) -> list[str]:
    """Refuse training/alignment data that is evaluated, in any evaluated language and under any normalisation of
    :func:`normalise`; refuse a user task's dev split that is evaluated; return (and warn) a note for the selection
    overlap of the fixed few-shot splits."""
    notes = []
    task = "XNLI" if config.task == "xnli" else config.task_spec().name  # the messages name the task
    evaluated = {lang: _texts(examples) for lang, examples in test.items()}
    everywhere = set().union(*evaluated.values()) if evaluated else set()
    split = split or config.eval_split  # the split evaluated (task=pawsx may evaluate dev: xlprompt.tasks.pawsx)
    leaked = [ex for ex in train if _key(ex.premise, ex.hypothesis) in everywhere]
    if leaked:
        langs = sorted(
            lang for lang, texts in evaluated.items() if _key(leaked[0].premise, leaked[0].hypothesis) in texts
        )
        raise DataError(
            f"{len(leaked)} training examples are also in the evaluated {task} {split} split "
            f"({', '.join(langs)}; compared after normalising case, punctuation and spaces), e.g. "
            f"'{leaked[0].uid}': a leak; use the other eval_split or other training data"
        )
    for number, pair in enumerate(parallel, start=1):
        sides = [
            (pair.src_lang, pair.src_premise, pair.src_hypothesis),
            (pair.tgt_lang, pair.tgt_premise, pair.tgt_hypothesis),
        ]
        for lang, premise, hypothesis in sides:
            if _key(premise, hypothesis) in everywhere:
                where = config.parallel_file if config.parallel_source == "file" else None
                raise DataError(
                    f"the parallel pair '{pair.uid}' ({lang}; pair {number} of the corpus) is an example of the evaluated {task} "
                    f"{split} split (compared after normalising case, punctuation and spaces): the "
                    f"alignment would train on the evaluated set (a leak); use "
                    f"eval_split={'test' if split == 'dev' else 'dev'} or another parallel corpus",
                    where,
                )
    if parallel and config.task_spec().single_text:
        # a one-text task: every sentence of a pair (either side, premise or hypothesis) against every evaluated
        # text, whatever the language: SIB-200's texts are Flores-200 sentences, which parallel corpora also hold
        single = {normalise(ex.premise) for examples in test.values() for ex in examples}
        for number, pair in enumerate(parallel, start=1):
            for sentence in (pair.src_premise, pair.src_hypothesis, pair.tgt_premise, pair.tgt_hypothesis):
                if sentence.strip() and normalise(sentence) in single:
                    where = config.parallel_file if config.parallel_source == "file" else None
                    raise DataError(
                        f"the parallel pair '{pair.uid}' (pair {number} of the corpus) holds a sentence that is an evaluated {task} "
                        f"{split} text ({sentence.strip()[:60]!r}): the alignment would train on the "
                        "evaluated set (a leak); remove those pairs or use another parallel corpus",
                        where,
                    )
    selected = [ex for ex in dev if _key(ex.premise, ex.hypothesis) in everywhere]
    if selected and _user_task(config):
        source = config.task_spec().source_language
        raise DataError(
            f"{len(selected)} of the {len(dev)} model-selection dev examples of task {task} are also "
            f"in its evaluated test files (e.g. '{selected[0].uid}'): a leak; give splits.dev."
            f"{source} a file disjoint from the test files, or leave splits.dev out (dev is then "
            "sampled from the train rows)",
            config.task,
        )
    if _user_task(config):
        trained = _texts(train)
        shared = [ex for ex in dev if _key(ex.premise, ex.hypothesis) in trained]
        if shared:
            source = config.task_spec().source_language
            raise DataError(
                f"{len(shared)} of the {len(dev)} model-selection dev examples of task {task} are also its "
                f"training examples (e.g. '{shared[0].uid}'; compared after normalising case, punctuation and "
                f"spaces): model selection would score training rows; give splits.dev.{source} a file disjoint "
                "from the train file, or leave splits.dev out (dev is then sampled from the train rows left after "
                "the k training examples)",
                config.task,
            )
    if selected:
        fix = "eval_split=test avoids it" if task == "XNLI" else "evaluate another split to avoid it"
        note = (
            f"leak warning: {len(selected)} of the {len(dev)} model-selection dev examples are also in the "
            f"evaluated {task} {split} split, so the accuracy of their language is optimistic; {fix}"
        )
        warnings.warn(note, stacklevel=2)
        notes.append(note)
    return notes
