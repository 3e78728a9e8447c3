"""Few-shot training data: the fixed splits of Zhao & Schütze (2021) and a seeded k-per-class sampler.

Fixed splits (local only; ``xlprompt data fetch --only fewshot`` downloads them), under ``DATA_DIR/xnli-fewshot/``:

* ``train/en/train_split,{k}.jsonl`` and ``train/rest/train_split,{lang},{k}.jsonl``: k examples per
  class from MultiNLI train (English) and their XNLI-MT translations; uid ``mnli-train-{file_idx}``,
  so one item has the same uid in every language.
* ``dev/en/dev_split,{k}.jsonl`` and ``dev/rest/dev_split,{lang},{k}.jsonl``: k per class from XNLI
  dev; uid ``xnli-dev-pair{pairID}``.

Fields: ``lang, sentence1, sentence2, gold`` and ``file_idx`` (train) or ``pairID`` (dev).

:func:`sample_k_per_class` draws a class-balanced sample from any labelled pool. Its order is
defined by SHA-256 digests (see :func:`stable_digest`), not by a pseudo-random generator, so the
same ``(pool, k, seed)`` gives the same sample on every platform and Python version, whatever the
order of the pool.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

from xlprompt.data.examples import NO_LABEL, NLIExample
from xlprompt.data.tsv import Row, read_jsonl
from xlprompt.errors import ConfigError, DataError
from xlprompt.languages import LABELS, SOURCE_LANGUAGE, check_language, parse_label

__all__ = [
    "FEWSHOT_KS",
    "FEWSHOT_SPLITS",
    "fewshot_path",
    "load_fewshot_split",
    "sample_k_per_class",
    "stable_digest",
]

#: The k (examples per class) for which fixed splits exist.
FEWSHOT_KS: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128, 256)
FEWSHOT_SPLITS: tuple[str, ...] = ("train", "dev")
_ID_FIELD = {"train": "file_idx", "dev": "pairID"}
_UID_FORMAT = {"train": "mnli-train-{}", "dev": "xnli-dev-pair{}"}


def stable_digest(seed: int, *parts: str) -> bytes:
    """SHA-256 of ``seed`` and ``parts`` (NUL-separated): a platform-independent random key.

    Sorting items by ``stable_digest(seed, item_key)`` is a seeded shuffle that depends only on the
    seed and each item's own key (not on Python's ``hash``, RNG or the input order).
    """
    text = "\x00".join([str(int(seed)), *parts])
    return hashlib.sha256(text.encode("utf-8")).digest()


def fewshot_path(data_dir: str | Path, split: str, k: int, lang: str = SOURCE_LANGUAGE) -> Path:
    """Where the local layout keeps the fixed ``split`` with ``k`` per class in ``lang``."""
    root = Path(data_dir) / "xnli-fewshot" / split
    if lang == SOURCE_LANGUAGE:
        return root / "en" / f"{split}_split,{k}.jsonl"
    return root / "rest" / f"{split}_split,{lang},{k}.jsonl"


def load_fewshot_split(
    split: str, k: int, lang: str = SOURCE_LANGUAGE, data_dir: str | Path | None = None
) -> list[NLIExample]:
    """Load the fixed few-shot ``split`` (``train`` or ``dev``) with ``k`` examples per class.

    Returns the ``3 * k`` examples in file order. The splits are loaded verbatim: an empty premise
    or hypothesis (the Arabic XNLI-MT translations have ten) is kept, with a :class:`UserWarning`
    naming the file and lines, so that results stay comparable with the published splits.

    Raises :class:`ConfigError` for an unknown split, language or ``k`` (not in :data:`FEWSHOT_KS`),
    and :class:`DataError` when the file is missing (without ``data_dir``: in the default data folder) or
    malformed: bad JSON, a missing field, a ``lang`` field that does not match ``lang``, an
    unknown label, a text that is not a string, a repeated id, or a class count other than ``k``.
    """
    if split not in FEWSHOT_SPLITS:
        raise ConfigError(f"unknown few-shot split '{split}'. Allowed: {', '.join(FEWSHOT_SPLITS)}")
    if isinstance(k, bool) or k not in FEWSHOT_KS:
        raise ConfigError(
            f"no fixed few-shot split with k={k!r} per class. Allowed k: {', '.join(map(str, FEWSHOT_KS))}"
        )
    check_language(lang)
    if data_dir is None:  # the default data folder (xlprompt data fetch --only fewshot fills it)
        from xlprompt.data.home import resolve_data_dir

        data_dir = resolve_data_dir(None)
    path = fewshot_path(data_dir, split, k, lang)
    id_field = _ID_FIELD[split]
    rows = read_jsonl(path, ("lang", "sentence1", "sentence2", "gold", id_field))
    examples: list[NLIExample] = []
    first_line: dict[str, int] = {}
    for row in rows:
        if row["lang"] != lang:
            raise row.error(f"lang is {row['lang']!r} but this is the '{lang}' file; fix the field or the file name")
        item_id = _item_id(row, id_field)
        if item_id in first_line:
            raise row.error(f"{id_field} {item_id} occurs twice (first on line {first_line[item_id]})")
        first_line[item_id] = row.line
        examples.append(
            NLIExample(
                premise=_text(row, "sentence1"),
                hypothesis=_text(row, "sentence2"),
                label=_label(row),
                lang=lang,
                uid=_UID_FORMAT[split].format(item_id),
            )
        )
    empty = [row.line for row, e in zip(rows, examples) if not e.premise.strip() or not e.hypothesis.strip()]
    if empty:
        warnings.warn(
            f"{path}: {len(empty)} example(s) with an empty premise or hypothesis (line"
            f"{'s' if len(empty) > 1 else ''} {', '.join(map(str, empty[:10]))}"
            f"{', ...' if len(empty) > 10 else ''}); kept, as in the published split",
            UserWarning,
            stacklevel=2,
        )
    counts = [sum(1 for e in examples if e.label == i) for i in range(len(LABELS))]
    if counts != [k] * len(LABELS):
        found = ", ".join(f"{name}={n}" for name, n in zip(LABELS, counts))
        raise DataError(
            f"a k={k} split must hold {k} examples of each class, found {found}; the file is incomplete or mislabelled",
            path,
        )
    return examples


def _item_id(row: Row, field: str) -> str:
    value = row[field]
    if isinstance(value, bool) or not isinstance(value, (int, str)) or str(value).strip() == "":
        raise row.error(f"{field} must be a non-empty string or integer, found {value!r}")
    return str(value).strip()


def _text(row: Row, field: str) -> str:
    value = row[field]
    if not isinstance(value, str):
        raise row.error(f"{field} must be a string, found {value!r}")
    return value


def _label(row: Row) -> int:
    value = row["gold"]
    try:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ValueError
        return parse_label(value)
    except ValueError:
        raise row.error(f"unknown gold label {value!r}; allowed: {', '.join(LABELS)}") from None


def sample_k_per_class(
    pool: Iterable[NLIExample],
    k: int,
    seed: int,
    n_labels: int | None = None,
    label_names: Sequence[str] | None = None,
    where: str | None = None,
) -> list[NLIExample]:
    """Draw ``k`` examples of each class in :data:`LABELS` (or of the ``n_labels`` classes of a task)
    from ``pool``, reproducibly.

    Algorithm (fixed; tests pin its output):

    1. Every example must be labelled; unlabelled (``NO_LABEL``) or out-of-range labels raise
       :class:`DataError`.
    2. Duplicates (same premise, hypothesis and label) are dropped, keeping the one with the
       smallest ``uid``; a :class:`UserWarning` says how many were dropped.
    3. Within each class, examples are ranked by ``stable_digest(seed, uid, RANK_SALT, premise,
       hypothesis)`` (never the language code: a renamed code draws the same examples) and the ``k``
       smallest are taken. A class with fewer than ``k`` distinct
       examples raises :class:`ConfigError` (never a silently smaller sample).
    4. The ``k * 3`` chosen examples are returned in digest order (classes interleaved).

    The result depends only on the *set* of examples, ``k`` and ``seed``: not on the pool order,
    the platform, the Python version or any global RNG. A larger ``k`` with the same seed gives a
    superset of the smaller sample.

    ``where`` names the pool in the errors (a file and its split), so that they say what to fix.
    """
    prefix = f"{where}: " if where else ""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ConfigError(f"k (examples per class) must be a positive integer, got {k!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"seed must be an integer, got {seed!r}")
    names = (
        tuple(label_names)
        if label_names is not None
        else (LABELS if n_labels is None else tuple(str(i) for i in range(n_labels)))
    )
    examples = list(pool)
    bad = [e for e in examples if not (isinstance(e.label, int) and 0 <= e.label < len(names))]
    if bad:
        what = "unlabelled" if bad[0].label == NO_LABEL else f"label {bad[0].label!r}"
        raise DataError(
            f"{prefix}cannot sample k per class: {len(bad)} of {len(examples)} pool examples have no valid "
            f"label (e.g. uid '{bad[0].uid}': {what}); sample only from labelled examples"
        )

    unique: dict[tuple[str, str, int], NLIExample] = {}
    for example in examples:
        key = (example.premise, example.hypothesis, example.label)
        kept = unique.get(key)
        if kept is None or example.uid < kept.uid:
            unique[key] = example
    dropped = len(examples) - len(unique)
    if dropped:
        warnings.warn(
            f"sample_k_per_class: dropped {dropped} duplicate example(s) (same premise, hypothesis "
            f"and label) from a pool of {len(examples)}",
            UserWarning,
            stacklevel=2,
        )

    ranked: list[tuple[bytes, NLIExample]] = []
    for label, name in enumerate(names):
        members = [e for e in unique.values() if e.label == label]
        if len(members) < k:
            smallest = min(_class_sizes(unique.values(), len(names)))
            empty = [n for n, size in zip(names, _class_sizes(unique.values(), len(names))) if size == 0]
            fix = (
                f"add examples of class{'es' if len(empty) > 1 else ''} {', '.join(repr(n) for n in empty)}"
                if empty
                else f"lower k to at most {smallest} or use a larger pool"
            )
            raise ConfigError(
                f"{prefix}k={k} per class, but class '{name}' has only {len(members)} distinct example(s) "
                f"in the pool of {len(examples)}" + (f" ({dropped} duplicates dropped)" if dropped else "") + f"; {fix}"
            )
        keyed = sorted(((_rank(seed, e), e) for e in members), key=lambda item: item[0])
        ranked.extend(keyed[:k])
    ranked.sort(key=lambda item: item[0])
    return [e for _, e in ranked]


#: the fixed third part of a draw's digest. It held the example's language code once, which made a task's draws
#: depend on how its codes are spelled; a constant keeps the draws of every task whose source language was
#: ``en`` (XNLI's, PAWS-X's, recorded runs') as they were, and makes every draw independent of the spelling.
RANK_SALT = "en"


def _rank(seed: int, example: NLIExample) -> bytes:
    return stable_digest(seed, example.uid, RANK_SALT, example.premise, example.hypothesis)


def _class_sizes(examples: Iterable[NLIExample], n: int = len(LABELS)) -> Sequence[int]:
    sizes = [0] * n
    for example in examples:
        sizes[example.label] += 1
    return sizes
