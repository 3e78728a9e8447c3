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
  text, in any language.

  Across languages (a parallel task, one with :attr:`xlprompt.tasks.Task.translations`: SIB-200): the data's
  own ids name one sentence in every language, so the evaluated sentences are found in *every* language of the
  task, evaluated or not (the evaluated split read in all of them), and a pair holding one in any language is
  refused (only ``yor_Latn`` evaluated: an English–Hausa pair of an evaluated sentence, or a corpus built from
  Flores-200, whose dev and devtest sentences SIB-200 holds); a training example whose id is evaluated is
  refused. Near-copies (within a language): a text whose :func:`tokens` set has a Jaccard :func:`similarity` of
  at least ``leak_similarity`` (default 0.8; 1: exact copies only) with an evaluated text of its language, in
  every field, is a copy (a word added to or removed from a sentence of n distinct words scores n / (n + 1)).
  :class:`EvaluatedTexts` finds them through an index of each language's tokens (prefix filtering), never by a
  scan of every row. Each refusal is one line naming the pair (or training example) and the evaluated sentence.

  The warning is the case of the
  fixed few-shot splits with ``eval_split=dev``: Zhao & Schütze's dev split is k per class drawn from XNLI
  dev, so its 3k English examples are also evaluated. Refusing it would forbid ``eval_split=dev`` with
  the paper's fixed splits altogether; the warning names how many examples overlap (3k of ~2,490 English
  dev examples: English dev accuracy is slightly optimistic, the other languages are unaffected as
  selection uses English only).
"""

from __future__ import annotations

import math
import re
import unicodedata
import warnings
from dataclasses import dataclass
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


#: character → what :func:`_drop` makes of it ("" removed, " " a space, None kept), filled on first sight
_KIND: dict[str, str | None] = {}


def _drop(text: str) -> str:
    """Invisible format characters (Cf) removed; punctuation (P*) and modifier symbols (Sk) made spaces. Each
    distinct character of the text is classified once (cached) and replaced in one C-speed pass: a Python test per
    character would cost ten times more on the tens of thousands of sentences a parallel task holds."""
    for ch in set(text):
        kind = _KIND.get(ch, 0)
        if kind == 0:
            category = unicodedata.category(ch)
            kind = _KIND[ch] = "" if category == "Cf" else " " if category.startswith(_DROPPED) else None
        if kind is not None:
            text = text.replace(ch, kind)
    return text


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


#: Scripts written without spaces between words (Thai, Lao, Myanmar, Khmer, kana, CJK ideographs): their runs are
#: cut into character bigrams by :func:`tokens` (single characters would make two long sentences look alike)
_UNSPACED = "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUN = re.compile(f"([{_UNSPACED}]+)|[^\\s{_UNSPACED}]+")


_HAS_UNSPACED = re.compile(f"[{_UNSPACED}]")


def tokens(text: str) -> frozenset[str]:
    """The token set of a text passed through :func:`normalise`: its space-separated words and, in a script
    written without spaces (Thai, Lao, Myanmar, Khmer, Japanese kana, CJK ideographs), each pair of adjacent
    characters (a lone character on its own)."""
    if not _HAS_UNSPACED.search(text):
        return frozenset(text.split())
    out: set[str] = set()
    for match in _RUN.finditer(text):
        run = match.group(0)
        if match.group(1) is None or len(run) == 1:
            out.add(run)
        else:
            out.update(run[i : i + 2] for i in range(len(run) - 1))
    return frozenset(out)


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """The Jaccard similarity of two token sets, ``|a & b| / |a | b|`` (1 for two empty sets): a sentence of n
    distinct words and the same with one word added or removed score n / (n + 1)."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


@dataclass(frozen=True)
class _Ref:
    """One evaluated sentence in one language: where the guard found it (``lang``, its text) and where it is
    evaluated (``evaluated_in``: an evaluated language holding the same ``uid``)."""

    lang: str
    uid: str
    text: str
    evaluated_in: str

    def describe(self) -> str:
        snippet = self.text.strip()
        snippet = snippet if len(snippet) <= 60 else snippet[:57] + "..."
        where = "" if self.lang == self.evaluated_in else f", evaluated in {self.evaluated_in}"
        return f"the evaluated sentence '{self.uid}' ({self.lang}: {snippet!r}{where})"


class EvaluatedTexts:
    """The evaluated texts: an exact index (after :func:`normalise`, in any language) and, per language, a token
    index for near-copies. :meth:`find` costs a few dictionary look-ups and the verification of the few rows
    that share one of the candidate's rarest tokens (prefix filtering: a row at Jaccard similarity >= t shares
    at least one of the candidate's ``n - ceil(t n) + 1`` rarest tokens), never a scan of every row.

    Args:
        threshold (float): the similarity at or above which a text is a near-copy; 1 finds exact copies only.
    """

    def __init__(self, threshold: float):
        self.threshold = threshold
        self.exact: dict[tuple[str, ...], _Ref] = {}
        self._pending: dict[str, list[tuple[tuple[str, ...], _Ref]]] = {}
        self._rows: dict[str, list[tuple[tuple[frozenset[str], ...], _Ref]]] = {}
        self._postings: dict[str, dict[str, list[int]]] = {}

    def add(self, lang: str, fields: tuple[str, ...], ref: _Ref) -> None:
        """Index one evaluated row: ``fields`` (its texts) in ``lang``."""
        key = tuple(normalise(f) for f in fields)
        self.exact.setdefault(key, ref)
        if self.threshold < 1:
            self._pending.setdefault(lang, []).append((key, ref))

    def _language(self, lang: str) -> tuple[list, dict[str, list[int]]]:
        """The token index of one language, built when a text of that language is first looked up."""
        if lang not in self._rows:
            rows: list[tuple[tuple[frozenset[str], ...], _Ref]] = []
            postings: dict[str, list[int]] = {}
            for key, ref in self._pending.pop(lang, []):
                toks = tuple(tokens(k) for k in key)
                for token in toks[0]:
                    postings.setdefault(token, []).append(len(rows))
                rows.append((toks, ref))
            self._rows[lang], self._postings[lang] = rows, postings
        return self._rows[lang], self._postings[lang]

    def find(self, lang: str, fields: tuple[str, ...]) -> tuple[_Ref, float, bool] | None:
        """The evaluated row that ``fields`` copies, its similarity and whether it is an exact copy: equal after
        :func:`normalise` in any language, else the most similar row of ``lang`` whose every field reaches the
        threshold; None when none."""
        key = tuple(normalise(f) for f in fields)
        if key in self.exact:
            return self.exact[key], 1.0, True
        if self.threshold >= 1:
            return None
        rows, postings = self._language(lang)
        toks = tuple(tokens(k) for k in key)
        first = toks[0]
        if not rows or not first:
            return None
        t = self.threshold
        probe = len(first) - math.ceil(t * len(first) - 1e-9) + 1
        best: tuple[_Ref, float, bool] | None = None
        seen: set[int] = set()
        for token in sorted(first, key=lambda w: (len(postings.get(w, ())), w))[:probe]:
            for i in postings.get(token, ()):
                if i in seen:
                    continue
                seen.add(i)
                other, ref = rows[i]
                if len(other) != len(toks):
                    continue
                score = min(similarity(a, b) for a, b in zip(toks, other))
                if score >= t and (best is None or score > best[1]):
                    best = (ref, score, False)
        return best


def _how(score: float, exact: bool, threshold: float) -> str:
    if exact:
        return "compared after normalising case, punctuation and spaces"
    return f"a near-copy: token similarity {score:.2f} >= leak_similarity {threshold:g}"


def check_data_leaks(
    config, train, dev, test: dict, parallel, split: str | None = None, translations: dict | None = None
) -> list[str]:
    """Refuse training/alignment data that is evaluated; refuse a user task's dev split that is evaluated; return
    (and warn) a note for the selection overlap of the fixed few-shot splits. See the module docstring.

    Args:
        config (RunConfig): the run's config (its task, ``eval_split``, ``leak_similarity``, ``parallel_file``).
        train (list[NLIExample]): the training examples.
        dev (list[NLIExample]): the model-selection examples.
        test (dict[str, list[NLIExample]]): the evaluated examples per language.
        parallel (list[ParallelPair]): the alignment pairs (empty without).
        split (str | None): the split evaluated (default ``config.eval_split``).
        translations (dict[str, list[NLIExample]] | None): for a parallel task (not None: its uids name the same
            sentence in every language, so a training example whose uid is evaluated is refused), the evaluated
            split in every one of the task's languages, evaluated or not: the guard then finds an evaluated
            sentence in any of them by its id (an empty dict where there are no alignment pairs to compare).

    Returns:
        list[str]: the notes (warnings) for the run's log.
    """
    notes = []
    spec = config.task_spec()
    task = "XNLI" if config.task == "xnli" else spec.name  # the messages name the task
    split = split or config.eval_split  # the split evaluated (task=pawsx may evaluate dev: xlprompt.tasks.pawsx)
    single = spec.single_text
    threshold = float(getattr(config, "leak_similarity", 1.0))
    index = EvaluatedTexts(threshold)

    def fields(premise: str, hypothesis: str) -> tuple[str, ...]:
        return (premise,) if single else (premise, hypothesis)

    evaluated: dict[str, _Ref] = {}  # uid -> the first evaluated row holding it (and so its language)
    for lang, examples in test.items():
        for ex in examples:
            ref = _Ref(lang, ex.uid, ex.premise, lang)
            evaluated.setdefault(ex.uid, ref)
            index.add(lang, fields(ex.premise, ex.hypothesis), ref)
    for lang, examples in (translations or {}).items():
        if lang in test:
            continue
        for ex in examples:
            if ex.uid in evaluated:
                index.add(
                    lang,
                    fields(ex.premise, ex.hypothesis),
                    _Ref(lang, ex.uid, ex.premise, evaluated[ex.uid].evaluated_in),
                )
    source = spec.source_language
    leaked, near = [], []
    for ex in train:
        hit = index.find(ex.lang or source, fields(ex.premise, ex.hypothesis))
        if (hit is None or not hit[2]) and translations is not None and ex.uid in evaluated:  # by its id
            hit = (evaluated[ex.uid], None, True)
        if hit is not None:
            (leaked if hit[2] else near).append((ex, hit))
    if leaked:
        ex, (ref, score, exact) = leaked[0]
        how = "the same sentence id" if score is None else _how(score, exact, threshold)
        raise DataError(
            f"{len(leaked)} training examples are also in the evaluated {task} {split} split "
            f"({ref.evaluated_in}; {how}), e.g. '{ex.uid}' is {ref.describe()}: a leak; use the other eval_split "
            "or other training data"
        )
    if near:  # the task's own rows: near-duplicates can be the data set's design (PAWS-X), so reported, not refused
        ex, (ref, score, exact) = near[0]
        note = (
            f"leak warning: {len(near)} of the {len(train)} training examples are near-copies of evaluated {task} "
            f"{split} examples (token similarity >= leak_similarity {threshold:g}), e.g. '{ex.uid}' ({score:.2f}) "
            f"of {ref.describe()}, so the accuracy of their language may be optimistic; the task's own rows are "
            "reported, not refused (PAWS-X builds several pairs from one sentence)"
        )
        warnings.warn(note, stacklevel=2)
        notes.append(note)
    where = config.parallel_file if config.parallel_source == "file" else None
    for number, pair in enumerate(parallel, start=1):
        sides = [
            (pair.src_lang, pair.src_premise, pair.src_hypothesis),
            (pair.tgt_lang, pair.tgt_premise, pair.tgt_hypothesis),
        ]
        for lang, premise, hypothesis in sides:
            if not single or not hypothesis.strip():  # the side as a whole: one example
                hit = index.find(lang, fields(premise, hypothesis))
                if hit is not None:
                    ref, score, exact = hit
                    raise DataError(
                        f"the parallel pair '{pair.uid}' ({lang}; pair {number} of the corpus) is an example of the evaluated {task} "
                        f"{split} split ({_how(score, exact, threshold)}): {ref.describe()}; the alignment would train on "
                        f"the evaluated set (a leak); use eval_split={'test' if split == 'dev' else 'dev'} or "
                        "another parallel corpus",
                        where,
                    )
                continue
            # a one-text task (SIB-200, whose texts are Flores-200 sentences, which parallel corpora also hold):
            # each sentence of the pair on its own
            for sentence in (premise, hypothesis):
                hit = index.find(lang, (sentence,)) if sentence.strip() else None
                if hit is not None:
                    ref, score, exact = hit
                    raise DataError(
                        f"the parallel pair '{pair.uid}' ({lang}; pair {number} of the corpus) holds a sentence that is an evaluated {task} "
                        f"{split} text ({sentence.strip()[:60]!r}; {_how(score, exact, threshold)}): {ref.describe()}; "
                        "the alignment would train on the evaluated set (a leak); remove those pairs or use another "
                        "parallel corpus",
                        where,
                    )
    found = [(ex, index.find(ex.lang or source, fields(ex.premise, ex.hypothesis))) for ex in dev]
    selected = [ex for ex, hit in found if hit is not None and hit[2]]  # exact copies
    near_dev = [ex for ex, hit in found if hit is not None and not hit[2]]
    if near_dev:
        note = (
            f"leak warning: {len(near_dev)} of the {len(dev)} model-selection dev examples are near-copies of "
            f"evaluated {task} {split} examples (token similarity >= leak_similarity {threshold:g}), e.g. "
            f"'{near_dev[0].uid}'"
        )
        warnings.warn(note, stacklevel=2)
        notes.append(note)
    if selected and _user_task(config):
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
