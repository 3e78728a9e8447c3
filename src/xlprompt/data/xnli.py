"""XNLI 1.0 dev and test sets (15 languages), from a local data folder.

Local layout: ``DATA_DIR/xnli/{dev,test}/{lang}.tsv`` with columns ``idx, premise, hypothesis,
label`` (``genre`` and any other columns are ignored), read by :func:`xlprompt.data.tsv.read_tsv`.
Labels are the names in :data:`xlprompt.languages.LABELS` or their indices ``0``/``1``/``2``.

Every example gets the uid ``xnli-{split}-{idx}``: the XNLI files are 15-way parallel by ``idx``,
so the same uid names the same item (in translation) in every language. Without a data folder the
default one is read (:func:`xlprompt.data.home.default_data_dir`); runs never use the network:
``xlprompt data fetch --only xnli`` writes these files from the official XNLI 1.0 release.
"""

from __future__ import annotations

from pathlib import Path

from xlprompt.data.examples import NLIExample
from xlprompt.data.tsv import Row, read_tsv
from xlprompt.errors import ConfigError, DataError
from xlprompt.languages import LABELS, check_language, parse_label

__all__ = ["XNLI_SPLITS", "load_xnli", "normalize_split", "xnli_path"]

#: The XNLI splits this package evaluates on. ``validation`` (the hub's name) is accepted for ``dev``.
XNLI_SPLITS: tuple[str, ...] = ("dev", "test")
_SPLIT_ALIASES = {"dev": "dev", "validation": "dev", "test": "test"}
REQUIRED_COLUMNS: tuple[str, ...] = ("idx", "premise", "hypothesis", "label")


def normalize_split(split: str) -> str:
    """``dev``/``validation`` -> ``dev``; ``test`` -> ``test``; anything else -> :class:`ConfigError`."""
    try:
        return _SPLIT_ALIASES[split]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown XNLI split '{split}'. Allowed: dev (alias: validation), test") from None


def xnli_path(data_dir: str | Path, split: str, lang: str) -> Path:
    """Where the local layout keeps one XNLI split of one language."""
    return Path(data_dir) / "xnli" / normalize_split(split) / f"{lang}.tsv"


def load_xnli(
    split: str,
    lang: str,
    data_dir: str | Path | None = None,
    limit: int | None = None,
) -> list[NLIExample]:
    """Load XNLI ``split`` (``dev``/``validation`` or ``test``) in language ``lang``.

    Examples are returned in ``idx`` order with uid ``xnli-{dev|test}-{idx}``; ``limit`` keeps the
    first ``limit`` of them (the same items in every language). The data come from
    ``data_dir/xnli/{split}/{lang}.tsv``; without ``data_dir``, from the default data folder.

    Raises :class:`ConfigError` for an unknown split or language or a bad ``limit``, and
    :class:`DataError` (naming file and line) for a malformed file, an unknown label, a bad or
    repeated ``idx``, an empty text or a file without rows.
    """
    split = normalize_split(split)
    check_language(lang)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ConfigError(f"limit must be a positive integer or None, got {limit!r}")
    from xlprompt.data.home import resolve_data_dir

    examples = _load_from_tsv(xnli_path(resolve_data_dir(data_dir), split, lang), split, lang)
    return examples if limit is None else examples[:limit]


def _load_from_tsv(path: Path, split: str, lang: str) -> list[NLIExample]:
    rows = read_tsv(path, REQUIRED_COLUMNS)
    if not rows:
        raise DataError("file has a header but no rows; re-create it from the XNLI release", path)
    seen: dict[int, int] = {}
    keyed: list[tuple[int, NLIExample]] = []
    for row in rows:
        idx = _parse_idx(row)
        if idx in seen:
            raise row.error(f"idx {idx} occurs twice (first on line {seen[idx]}); each idx must be unique")
        seen[idx] = row.line
        keyed.append(
            (
                idx,
                NLIExample(
                    premise=_text(row, "premise"),
                    hypothesis=_text(row, "hypothesis"),
                    label=_label(row),
                    lang=lang,
                    uid=f"xnli-{split}-{idx}",
                ),
            )
        )
    keyed.sort(key=lambda item: item[0])
    return [example for _, example in keyed]


def _parse_idx(row: Row) -> int:
    value = row["idx"]
    if not value.isascii() or not value.isdigit():
        raise row.error(f"idx must be a non-negative integer, found {value!r}")
    return int(value)


def _text(row: Row, column: str) -> str:
    value = row[column]
    if not value.strip():
        raise row.error(f"{column} is empty; every example needs a premise and a hypothesis")
    return value


def _label(row: Row) -> int:
    value = row["label"]
    try:
        return parse_label(value)
    except ValueError:
        raise row.error(f"unknown label {value!r}; allowed: {', '.join(LABELS)} (or 0, 1, 2 in that order)") from None
