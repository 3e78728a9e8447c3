"""The external parallel corpus of MPT: English premise/hypothesis pairs with one translation each.

In the paper ("PAWS-15") it holds 500 English pairs, each paired with its translation into one
randomly chosen non-English language. :func:`build_parallel_corpus` builds such a corpus from one
of these sources (``DATA_DIR`` is ``data_dir``, see :mod:`xlprompt.data`):

``pawsx``
    English PAWS-X pairs (``pawsx/{dev,test}/en.tsv``, 4,000 pairs) with their human translation
    (same ``idx``) into a random language among the targets that PAWS-X has (de, es, fr, zh).
``tatoeba``
    Pairs of consecutive bitext rows of ``tatoeba/{xx}-en.tsv`` (rows 2i and 2i+1 form one pair,
    in xx and in en). For each pair of the corpus a target language is drawn uniformly among the
    targets that still have unused pairs, then the next pair of that language is taken.
``xnli-dev``
    Unlabelled XNLI **dev** pairs (``xnli/dev``): English plus the
    same ``idx`` in a random target language. Never the test split. (The "w/o external data"
    ablation.)
``translate``
    English pairs (``english_pairs``, or a JSONL ``file`` with fields ``premise``/``hypothesis``,
    or else the English PAWS-X **train** set ``pawsx/train/en.tsv``, as in the paper) machine-translated into a random target language by
    ``translate_model`` (see :mod:`xlprompt.data.translate`).
``file``
    A JSONL parallel corpus in the format of :func:`write_parallel_jsonl`; pairs whose target
    language is not among the targets are left out.

Randomness: which pairs are taken and which language each gets are decided by SHA-256 digests of
the seed, the source and the pair uid or slot number (:func:`xlprompt.data.fewshot.stable_digest`),
so a corpus is identical on every platform and Python version, and the corpus of size n is the
first n pairs of the corpus of size m > n (same seed and targets).

Languages: by default (``balanced=True``) every block of ``len(targets)`` consecutive pairs holds
each target language once, in a seeded random order, so the languages get ``size // len(targets)``
or one more pairs each (Tatoeba: unless a language runs out of pairs). The paper draws each pair's
language independently; ``balanced=False`` does that (counts then vary by chance: with 500 pairs
and 14 languages, from about 20 to 50 per language).

A source with fewer than ``size`` usable pairs raises :class:`ConfigError` naming how many it has:
a corpus is never silently smaller than asked.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xlprompt.data.examples import NLIExample, ParallelPair, content_uid
from xlprompt.data.fewshot import stable_digest
from xlprompt.data.tsv import Row, read_jsonl, read_tsv
from xlprompt.data.xnli import load_xnli
from xlprompt.errors import ConfigError, DataError, XlpromptError
from xlprompt.languages import (
    SOURCE_LANGUAGE,
    TARGET_LANGUAGES,
    XNLI_LANGUAGES,
    check_language,
)

__all__ = [
    "PARALLEL_SOURCES",
    "PARALLEL_FIELDS",
    "PARALLEL_ONE_TEXT_FIELDS",
    "PAWSX_LANGUAGES",
    "build_parallel_corpus",
    "read_parallel_jsonl",
    "write_parallel_jsonl",
    "normalize_targets",
    "language_counts",
]

PARALLEL_SOURCES: tuple[str, ...] = ("pawsx", "tatoeba", "xnli-dev", "translate", "file")
#: The fields of one line of a parallel-corpus JSONL file (``uid`` is optional).
PARALLEL_FIELDS: tuple[str, ...] = (
    "src_lang",
    "tgt_lang",
    "src_premise",
    "src_hypothesis",
    "tgt_premise",
    "tgt_hypothesis",
)
#: The fields of one line of a one-text parallel corpus (a one-text task's: no hypothesis; ``uid`` optional).
PARALLEL_ONE_TEXT_FIELDS: tuple[str, ...] = ("src_lang", "tgt_lang", "src_text", "tgt_text")
#: The external corpora (PAWS-X, Tatoeba, XNLI dev, translated PAWS-X) go from English to XNLI's other languages:
#: a run whose task has another source language brings its own corpus (``parallel_source=file`` or ``task``).
CORPUS_SOURCE_LANGUAGE: str = SOURCE_LANGUAGE
CORPUS_TARGET_LANGUAGES: tuple[str, ...] = TARGET_LANGUAGES
#: the ``parallel_source`` values that read an external corpus (from :data:`CORPUS_SOURCE_LANGUAGE`)
EXTERNAL_SOURCES: tuple[str, ...] = ("pawsx", "tatoeba", "xnli-dev", "translate")
#: Languages of PAWS-X; those that are also XNLI languages can be targets.
PAWSX_LANGUAGES: tuple[str, ...] = ("en", "de", "es", "fr", "ja", "ko", "zh")
_PAWSX_SPLITS: tuple[str, ...] = ("dev", "test")


@dataclass
class _Unit:
    """An English pair and the translations (language -> (premise, hypothesis)) it can be paired with."""

    uid: str
    premise: str
    hypothesis: str
    translations: dict[str, tuple[str, str]] = field(default_factory=dict)


def normalize_targets(languages: Iterable[str] | str, known: Sequence[str] | None = None) -> tuple[str, ...]:
    """Validate target languages (a sequence or ``"de,fr"``) and return them in XNLI order (or the order of
    ``known``, a task's target languages when they are not XNLI's), deduplicated."""
    allowed = TARGET_LANGUAGES if known is None else tuple(known)
    if isinstance(languages, str):
        languages = [part.strip() for part in languages.split(",") if part.strip()]
    chosen = set()
    for lang in languages:
        if lang == SOURCE_LANGUAGE:
            raise ConfigError(
                f"'{SOURCE_LANGUAGE}' is the source language and cannot be a target language of the "
                f"parallel corpus. Allowed: {', '.join(allowed)}"
            )
        chosen.add(check_language(lang, allowed, "target language"))
    if not chosen:
        raise ConfigError(f"no target languages given. Allowed: {', '.join(allowed)}")
    return tuple(lang for lang in allowed if lang in chosen)


def build_parallel_corpus(
    source: str,
    size: int = 500,
    seed: int = 0,
    data_dir: str | Path | None = None,
    target_languages: Iterable[str] | str = TARGET_LANGUAGES,
    file: str | Path | None = None,
    translate_model: Any = None,
    english_pairs: Sequence[NLIExample | tuple[str, str]] | None = None,
    *,
    batch_size: int = 16,
    num_beams: int = 4,
    max_length: int = 256,
    device: str | None = None,
    progress: bool = False,
    balanced: bool = True,
    known_targets: Sequence[str] | None = None,
) -> list[ParallelPair]:
    """Build a parallel corpus of exactly ``size`` pairs from ``source`` (see the module docstring).

    ``translate_model`` (source ``translate``) is a hub name or local folder of a seq2seq translation
    model, or an object with ``translate(texts, tgt_lang, progress=None) -> list[str]``;
    ``batch_size``, ``num_beams``, ``max_length`` and ``device`` configure the loaded model and
    ``progress`` shows a tqdm bar. ``known_targets``: the target languages allowed (a task's whose codes are
    not XNLI's, e.g. SIB-200's Flores codes for ``tatoeba``); default XNLI's 14. ``balanced`` spreads the pairs evenly over the target languages
    (see the module docstring); ``False`` draws each pair's language independently. The pairs come
    in a seeded random order; each has ``src_lang='en'`` and ``uid`` naming its English pair
    (``pawsx-dev-12``, ``tatoeba-de-3``, ``xnli-dev-40``...).

    Raises :class:`ConfigError` for an unknown source, a bad size or seed, bad target languages
    and when the source has fewer than ``size`` pairs; :class:`DataError` for missing or malformed
    files.
    """
    if source not in PARALLEL_SOURCES:
        raise ConfigError(f"unknown parallel-corpus source '{source}'. Allowed: {', '.join(PARALLEL_SOURCES)}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ConfigError(f"size must be a positive integer, got {size!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"seed must be an integer, got {seed!r}")
    targets = normalize_targets(target_languages, known_targets)

    if source == "pawsx":
        units = _pawsx_units(_need_dir(data_dir, source), targets)
        return _select_units(units, size, seed, source, _pawsx_targets(targets), balanced)
    if source == "xnli-dev":
        return _select_units(_xnli_dev_units(data_dir, targets), size, seed, source, targets, balanced)
    if source == "tatoeba":
        return _select_tatoeba(_need_dir(data_dir, source), targets, size, seed, balanced)
    if source == "file":
        if file is None:
            raise ConfigError("source 'file' needs a parallel-corpus JSONL: pass --file FILE")
        return _select_file(file, targets, size, seed)
    return _translate(
        _english_units(english_pairs, file, data_dir),
        targets,
        size,
        seed,
        balanced,
        translate_model,
        dict(batch_size=batch_size, num_beams=num_beams, max_length=max_length, device=device),
        progress,
    )


# -- selection ----------------------------------------------------------------------------------


def _assign_languages(
    seed: int,
    source: str,
    size: int,
    langs: Sequence[str],
    balanced: bool,
    capacity: dict[str, int] | None = None,
) -> list[str]:
    """The target language of each of ``size`` slots (``capacity``: how many pairs a language has)."""
    capacity = capacity or dict.fromkeys(langs, size)
    used = dict.fromkeys(langs, 0)
    slots: list[str] = []
    block = 0
    while len(slots) < size:
        available = [lang for lang in langs if used[lang] < capacity[lang]]
        if not available:  # callers check the total first
            raise AssertionError(f"only {len(slots)} slots can be filled, {size} asked for")
        if balanced:
            drawn = sorted(available, key=lambda lang: stable_digest(seed, source, "block", str(block), lang))
        else:
            digest = stable_digest(seed, source, "slot", str(len(slots)))
            drawn = [available[int.from_bytes(digest[:8], "big") % len(available)]]
        for lang in drawn[: size - len(slots)]:
            slots.append(lang)
            used[lang] += 1
        block += 1
    return slots


def _rank_units(
    units: list[_Unit],
    size: int,
    seed: int,
    source: str,
    what: str,
    fix: str = "lower --size or use another source (translate, file)",
) -> list[_Unit]:
    """The first ``size`` units in seeded random order; ConfigError if there are fewer."""
    if len(units) < size:
        raise ConfigError(
            f"the '{source}' source has only {len(units):,} {what}, fewer than the {size:,} asked for; {fix}"
        )
    return sorted(units, key=lambda u: stable_digest(seed, source, "pair", u.uid))[:size]


def _select_units(
    units: list[_Unit], size: int, seed: int, source: str, targets: tuple[str, ...], balanced: bool
) -> list[ParallelPair]:
    """Pick ``size`` units (each translated into every target) and give each one target language."""
    chosen = _rank_units(units, size, seed, source, f"English pairs (translated into {', '.join(targets)})")
    langs = _assign_languages(seed, source, size, targets, balanced)
    pairs = []
    for unit, lang in zip(chosen, langs):
        premise, hypothesis = unit.translations[lang]
        pairs.append(ParallelPair(SOURCE_LANGUAGE, lang, unit.premise, unit.hypothesis, premise, hypothesis, unit.uid))
    return pairs


# -- sources ------------------------------------------------------------------------------------


def _need_dir(data_dir: str | Path | None, source: str) -> Path:
    """``data_dir``, or the default data folder (:mod:`xlprompt.data.home`) when it is ``None``."""
    from xlprompt.data.home import resolve_data_dir

    return resolve_data_dir(data_dir)


def _nonempty(row: Row, column: str) -> str:
    value = row[column]
    if not isinstance(value, str) or not value.strip():
        raise row.error(f"{column} is empty; every pair needs two non-empty sentences")
    return value


def _pawsx_file(data_dir: Path, split: str, lang: str, ns: set[int] | None = None) -> dict[int, tuple[str, str]]:
    """idx -> (sentence1, sentence2) of one PAWS-X file, without its "NS" placeholder rows (their idx are
    added to ``ns``)."""
    from xlprompt.data.pawsx_ns import is_ns_row

    result: dict[int, tuple[str, str]] = {}
    lines: dict[int, int] = {}
    for row in read_tsv(data_dir / "pawsx" / split / f"{lang}.tsv", ("idx", "sentence1", "sentence2")):
        value = row["idx"]
        if not (value.isascii() and value.isdigit()):
            raise row.error(f"idx must be a non-negative integer, found {value!r}")
        idx = int(value)
        if idx in result:
            raise row.error(f"idx {idx} occurs twice (first on line {lines[idx]}); each idx must be unique")
        lines[idx] = row.line
        pair = (_nonempty(row, "sentence1"), _nonempty(row, "sentence2"))
        if not is_ns_row(*pair):
            result[idx] = pair
        elif ns is not None:
            ns.add(idx)
    return result


def _pawsx_targets(targets: tuple[str, ...]) -> tuple[str, ...]:
    """The targets that PAWS-X has; ConfigError if none."""
    langs = tuple(lang for lang in targets if lang in PAWSX_LANGUAGES)
    if not langs:
        raise ConfigError(
            f"PAWS-X has none of the target languages {', '.join(targets)}; it has "
            f"{', '.join(lang for lang in PAWSX_LANGUAGES if lang in TARGET_LANGUAGES)}. "
            "Add one of them to --languages or use another source (tatoeba, xnli-dev, translate)"
        )
    return langs


def _pawsx_units(data_dir: Path, targets: tuple[str, ...]) -> list[_Unit]:
    """English PAWS-X pairs (dev, then test) with their translations into the PAWS-X targets.

    A pair whose translation into any target is an "NS" row (in the file, or dropped at fetch and listed in
    ``pawsx/ns_rows.tsv``) is left out; any other difference between the idx values is an error."""
    from xlprompt.data.pawsx_ns import NS_RECORD, NS_RECORD_COLUMNS

    langs = _pawsx_targets(targets)
    record = data_dir / NS_RECORD
    dropped = read_tsv(record, NS_RECORD_COLUMNS) if record.is_file() else []
    units = []
    for split in _PAWSX_SPLITS:
        english = _pawsx_file(data_dir, split, SOURCE_LANGUAGE)
        translated, ns = {}, {}
        for lang in langs:
            ns[lang] = {
                int(r["idx"]) for r in dropped if (r["split"], r["lang"]) == (split, lang) and r["idx"].isdigit()
            }
            translated[lang] = _pawsx_file(data_dir, split, lang, ns[lang])
        for lang, rows in translated.items():
            if rows.keys() | ns[lang] != english.keys():
                odd = sorted(english.keys() ^ (rows.keys() | ns[lang]))
                raise DataError(
                    f"pawsx/{split}/{lang}.tsv and pawsx/{split}/en.tsv must hold the same idx values; "
                    f"{len(odd)} differ (first: {odd[0]}). Re-create the files",
                    data_dir / "pawsx" / split / f"{lang}.tsv",
                )
        for idx, (premise, hypothesis) in sorted(english.items()):
            if all(idx in translated[lang] for lang in langs):
                units.append(
                    _Unit(f"pawsx-{split}-{idx}", premise, hypothesis, {lang: translated[lang][idx] for lang in langs})
                )
    return units


def _xnli_dev_units(data_dir: str | Path | None, targets: tuple[str, ...]) -> list[_Unit]:
    english = load_xnli("dev", SOURCE_LANGUAGE, data_dir)
    translated = {lang: {e.uid: e for e in load_xnli("dev", lang, data_dir)} for lang in targets}
    units = []
    for example in english:
        unit = _Unit(example.uid, example.premise, example.hypothesis)
        for lang, by_uid in translated.items():
            other = by_uid.get(example.uid)
            if other is None:
                raise DataError(
                    f"XNLI dev '{lang}' lacks {example.uid} that English has; the dev files must be "
                    "parallel by idx (same idx values in every language)"
                )
            unit.translations[lang] = (other.premise, other.hypothesis)
        units.append(unit)
    return units


def _select_tatoeba(
    data_dir: Path, targets: tuple[str, ...], size: int, seed: int, balanced: bool
) -> list[ParallelPair]:
    pools: dict[str, list[ParallelPair]] = {}
    for lang in targets:
        rows = read_tsv(data_dir / "tatoeba" / f"{lang}-en.tsv", (lang, SOURCE_LANGUAGE))
        pairs = []
        for i in range(len(rows) // 2):
            first, second = rows[2 * i], rows[2 * i + 1]
            pairs.append(
                ParallelPair(
                    SOURCE_LANGUAGE,
                    lang,
                    _nonempty(first, SOURCE_LANGUAGE),
                    _nonempty(second, SOURCE_LANGUAGE),
                    _nonempty(first, lang),
                    _nonempty(second, lang),
                    f"tatoeba-{lang}-{i}",
                )
            )
        pools[lang] = sorted(pairs, key=lambda p: stable_digest(seed, "tatoeba", "pair", p.uid))
    total = sum(len(pool) for pool in pools.values())
    if total < size:
        per_lang = ", ".join(f"{lang} {len(pool)}" for lang, pool in pools.items())
        raise ConfigError(
            f"the 'tatoeba' source has only {total:,} pairs (two consecutive rows each: {per_lang}), "
            f"fewer than the {size:,} asked for; lower --size, add target languages or use another "
            "source (translate, file)"
        )
    capacity = {lang: len(pool) for lang, pool in pools.items()}
    next_index = dict.fromkeys(pools, 0)
    corpus = []
    for lang in _assign_languages(seed, "tatoeba", size, targets, balanced, capacity):
        corpus.append(pools[lang][next_index[lang]])
        next_index[lang] += 1
    return corpus


def _select_file(file: str | Path, targets: tuple[str, ...], size: int, seed: int) -> list[ParallelPair]:
    pairs = [p for p in read_parallel_jsonl(file, source_language=SOURCE_LANGUAGE) if p.tgt_lang in targets]
    if len(pairs) < size:
        raise ConfigError(
            f"{file} has only {len(pairs):,} pairs with a target language among {', '.join(targets)}, "
            f"fewer than the {size:,} asked for; lower --size or add pairs to the file"
        )
    return sorted(pairs, key=lambda p: stable_digest(seed, "file", "pair", p.uid))[:size]


def _english_units(
    english_pairs: Sequence[NLIExample | tuple[str, str]] | None,
    file: str | Path | None,
    data_dir: str | Path | None,
) -> list[_Unit]:
    """The English pairs to translate: given pairs, else a JSONL file, else PAWS-X English."""
    if english_pairs is not None:  # ids: the data's, else derived from the texts (never the position)
        units = []
        for pair in english_pairs:
            if isinstance(pair, NLIExample):
                units.append(
                    _Unit(
                        pair.uid or content_uid(pair.premise, pair.hypothesis, prefix="pair"),
                        pair.premise,
                        pair.hypothesis,
                    )
                )
            else:
                premise, hypothesis = pair
                units.append(_Unit(content_uid(premise, hypothesis, prefix="pair"), premise, hypothesis))
        for number, unit in enumerate(units, start=1):
            if not (
                isinstance(unit.premise, str)
                and unit.premise.strip()
                and isinstance(unit.hypothesis, str)
                and unit.hypothesis.strip()
            ):
                raise DataError(f"English pair {number} ({unit.uid}) has an empty premise or hypothesis")
        return units
    if file is not None:
        units = []
        for row in read_jsonl(file, ("premise", "hypothesis")):
            premise, hypothesis = _nonempty(row, "premise"), _nonempty(row, "hypothesis")
            uid = row.get("uid") or content_uid(premise, hypothesis, prefix="pair")
            units.append(_Unit(str(uid), premise, hypothesis))
        return units
    # The paper samples its pairs from the English PAWS-X *train* set (pawsx/train/en.tsv, written by
    # `xlprompt data fetch --only pawsx`); without data_dir, from the default data folder.
    units = []
    root = _need_dir(data_dir, "translate")
    for idx, (premise, hypothesis) in sorted(_pawsx_file(root, "train", SOURCE_LANGUAGE).items()):
        units.append(_Unit(f"pawsx-train-{idx}", premise, hypothesis))
    return units


def _translate(
    units: list[_Unit],
    targets: tuple[str, ...],
    size: int,
    seed: int,
    balanced: bool,
    translate_model: Any,
    model_options: dict[str, Any],
    progress: bool,
) -> list[ParallelPair]:
    if translate_model is None:
        raise ConfigError(
            "source 'translate' needs a translation model: pass --model NAME_OR_PATH "
            "(e.g. facebook/nllb-200-distilled-600M or a local folder)"
        )
    seen: set[str] = set()
    for unit in units:
        if unit.uid in seen:
            raise DataError(f"English pair uid '{unit.uid}' occurs twice; uids must be unique")
        seen.add(unit.uid)
    chosen = _rank_units(
        units,
        size,
        seed,
        "translate",
        "English pairs to translate",
        "lower --size or pass more English pairs with --file",
    )
    if isinstance(translate_model, (str, os.PathLike)):
        from xlprompt.data.translate import HFTranslator

        translator = HFTranslator(translate_model, **model_options)
    elif callable(getattr(translate_model, "translate", None)):
        translator = translate_model
    else:
        raise ConfigError(
            f"translate_model must be a model name or folder, or an object with a translate() method; "
            f"got {type(translate_model).__name__}"
        )
    if hasattr(translator, "check_languages"):
        translator.check_languages(targets)
    assigned = list(zip(chosen, _assign_languages(seed, "translate", size, targets, balanced)))

    outputs: dict[tuple[str, str], str] = {}
    by_lang: dict[str, list[str]] = {}
    for unit, lang in assigned:
        texts = by_lang.setdefault(lang, [])
        for text in (unit.premise, unit.hypothesis):
            if (lang, text) not in outputs:
                outputs[(lang, text)] = ""
                texts.append(text)
    bar = _progress_bar(sum(len(t) for t in by_lang.values()), progress)
    try:
        for lang, texts in by_lang.items():
            if bar is not None:
                bar.set_description(f"translate en->{lang}")
            translated = translator.translate(texts, lang, progress=bar.update if bar is not None else None)
            if len(translated) != len(texts):
                raise DataError(f"the translator returned {len(translated)} texts for {len(texts)} inputs ({lang})")
            for text, output in zip(texts, translated):
                if not isinstance(output, str) or not output.strip():
                    raise DataError(f"the translator returned an empty {lang} translation for {text[:80]!r}")
                outputs[(lang, text)] = output
    finally:
        if bar is not None:
            bar.close()
    return [
        ParallelPair(
            SOURCE_LANGUAGE,
            lang,
            unit.premise,
            unit.hypothesis,
            outputs[(lang, unit.premise)],
            outputs[(lang, unit.hypothesis)],
            unit.uid,
        )
        for unit, lang in assigned
    ]


def _progress_bar(total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="text", desc="translate")


# -- JSONL files --------------------------------------------------------------------------------


def write_parallel_jsonl(pairs: Iterable[ParallelPair], path: str | Path) -> Path:
    """Write ``pairs`` as JSONL (one :meth:`ParallelPair.to_dict` per line), atomically.

    The file is written to a temporary name in the same folder and renamed over ``path``, so a
    crash never leaves a half-written corpus. Parent folders are created. Returns the path.
    """
    path = Path(path)
    lines = []
    for i, pair in enumerate(pairs):
        if not isinstance(pair, ParallelPair):
            raise TypeError(f"item {i} is a {type(pair).__name__}, not a ParallelPair")
        lines.append(json.dumps(pair.to_dict(), ensure_ascii=False) + "\n")
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
            handle.writelines(lines)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as err:
        raise DataError(f"cannot write the parallel corpus: {err.strerror or err}", path) from None
    finally:
        try:
            tmp.unlink(missing_ok=True)  # only still there if something failed
        except OSError:
            pass
    return path


def read_parallel_jsonl(
    path: str | Path, expected_languages: Iterable[str] | None = None, source_language: str | None = None
) -> list[ParallelPair]:
    """Read a parallel corpus written by :func:`write_parallel_jsonl` (or by hand).

    Each line holds ``src_lang``, ``tgt_lang`` and either the two texts of each side (:data:`PARALLEL_FIELDS`:
    ``src_premise``, ``src_hypothesis``, ``tgt_premise``, ``tgt_hypothesis``) or, for a one-text task, one text
    each (:data:`PARALLEL_ONE_TEXT_FIELDS`: ``src_text``, ``tgt_text``); one file holds one kind. ``uid`` is
    optional: a line without one gets an id derived from its texts (:func:`xlprompt.data.examples.content_uid`;
    the same texts again get ``-2``, ``-3``, ...), so a pair keeps its id wherever it stands among other pairs. ``src_lang != tgt_lang``, non-empty strings.

    Args:
        path (str | Path): the JSONL file.
        expected_languages (Iterable[str] | None): the run's target languages: every ``tgt_lang`` must be one
            (None: XNLI's languages and any known code).
        source_language (str | None): the run's source language (its task's): every ``src_lang`` must be it.

    Returns:
        list[ParallelPair]: the pairs, in file order.

    Raises:
        DataError: naming the file, the line and the problem.
    """
    expected = None if expected_languages is None else set(expected_languages)
    known = XNLI_LANGUAGES if expected is None else (*XNLI_LANGUAGES, *sorted(expected - set(XNLI_LANGUAGES)))
    if source_language is not None and source_language not in known:
        known = (*known, source_language)
    pairs = []
    first_line: dict[str, int] = {}
    kind: tuple[str, int] | None = None  # (the file's kind, its first line)
    for row in read_jsonl(path, ("src_lang", "tgt_lang")):
        one_text = "src_text" in row or "tgt_text" in row
        fields = PARALLEL_ONE_TEXT_FIELDS if one_text else PARALLEL_FIELDS
        missing = [name for name in fields if name not in row]
        if missing:
            raise row.error(
                f"missing field{'s' if len(missing) > 1 else ''} {', '.join(repr(m) for m in missing)}; a line "
                f"holds {', '.join(PARALLEL_FIELDS)} (two texts), or {', '.join(PARALLEL_ONE_TEXT_FIELDS)} (one text)"
            )
        if one_text and any(name in row for name in PARALLEL_FIELDS[2:]):
            raise row.error("a line holds src_text/tgt_text (one text) or premise and hypothesis fields, not both")
        this = "one-text" if one_text else "two-text"
        if kind is None:
            kind = (this, row.line)
        elif kind[0] != this:
            raise row.error(f"a {this} pair in a {kind[0]} corpus (line {kind[1]}); one file holds one kind")
        values = {}
        for name in fields:
            value = row[name]
            if not isinstance(value, str) or not value.strip():
                raise row.error(f"{name} must be a non-empty string, found {value!r}")
            values[name] = value
        for name in ("src_lang", "tgt_lang"):
            if values[name] not in known:
                try:
                    check_language(values[name], known, name)
                except XlpromptError as err:
                    raise row.error(str(err)) from None
        if values["src_lang"] == values["tgt_lang"]:
            raise row.error(f"src_lang and tgt_lang are both '{values['src_lang']}'; a pair needs two languages")
        if expected is not None and values["tgt_lang"] not in expected:
            raise row.error(
                f"tgt_lang '{values['tgt_lang']}' is not among the run's languages "
                f"({', '.join(lang for lang in known if lang in expected)}); rebuild the corpus "
                "with --languages matching the run, or add the language to the run"
            )
        if source_language is not None and values["src_lang"] != source_language:
            raise row.error(
                f"src_lang is '{values['src_lang']}' but the run transfers from '{source_language}' (its task's "
                f"source language): every pair needs src_lang '{source_language}' and a target language in tgt_lang"
            )
        texts = [values[name] for name in fields[2:]]
        uid = row.get("uid")
        if uid is None:
            uid = base = content_uid(*texts, prefix="pair")
            repeat = 1
            while uid in first_line:  # the same texts again (e.g. in another target language): -2, -3, ...
                repeat += 1
                uid = f"{base}-{repeat}"
        elif not isinstance(uid, str):  # uid 0 and uid 1 alike (0 was silently replaced)
            raise row.error(f"uid must be a string, found {uid!r}; write it in quotes (or leave it out)")
        elif not uid.strip():
            raise row.error("uid must be a non-empty string (or left out)")
        if uid in first_line:
            raise row.error(f"uid '{uid}' occurs twice (first on line {first_line[uid]})")
        first_line[uid] = row.line
        if one_text:
            pairs.append(ParallelPair.one_text(values["src_lang"], values["tgt_lang"], *texts, uid=uid))
        else:
            pairs.append(ParallelPair(uid=uid, **values))
    if not pairs:
        raise DataError("the parallel corpus is empty; build one with `xlprompt data build-parallel`", path)
    return pairs


def language_counts(pairs: Iterable[ParallelPair]) -> dict[str, int]:
    """Pairs per target language, in XNLI order (languages without pairs are left out)."""
    counts: dict[str, int] = {}
    for pair in pairs:
        counts[pair.tgt_lang] = counts.get(pair.tgt_lang, 0) + 1
    return {lang: counts[lang] for lang in XNLI_LANGUAGES if lang in counts}
