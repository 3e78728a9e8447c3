"""Row counts of a data folder, per source, split, language and label (``xlprompt data stats``).

:func:`data_stats` reads every known file through the same validating loaders as training does, so
it doubles as a check of the whole folder: a malformed file raises its :class:`DataError`. Files
that are absent are simply not counted (the table shows ``-``).

The sources are those of ``xlprompt data fetch`` (:func:`xlprompt.data.fetch.default_sources`), in its order: each
has a section titled ``[name]``, its own table where one is written here (:data:`SECTIONS`), else a count of the
files the source writes (:meth:`xlprompt.data.download.Source.outputs`) and their lines; a registered source is
never left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from xlprompt.data.fewshot import (
    FEWSHOT_KS,
    FEWSHOT_SPLITS,
    fewshot_path,
    load_fewshot_split,
)
from xlprompt.data.parallel import PAWSX_LANGUAGES
from xlprompt.data.pawsx_ns import is_ns_row, read_ns_record
from xlprompt.data.tsv import read_tsv
from xlprompt.data.xnli import XNLI_SPLITS, load_xnli, xnli_path
from xlprompt.errors import DataError
from xlprompt.languages import LABELS, SOURCE_LANGUAGE, TARGET_LANGUAGES, XNLI_LANGUAGES

__all__ = ["StatRow", "data_stats", "format_stats", "TOTAL", "PAWSX_LABELS"]

#: ``label`` of the row that counts all rows of a file.
TOTAL = "total"
#: PAWS-X label values and their names in :class:`StatRow`.
PAWSX_LABELS: dict[str, str] = {"0": "not_paraphrase", "1": "paraphrase", "": "unlabelled"}
#: ``label`` of the PAWS-X row that counts the "NS" placeholder rows (:mod:`xlprompt.data.pawsx_ns`).
NS = "ns_placeholder"


@dataclass(frozen=True)
class StatRow:
    """``count`` rows of ``source`` / ``split`` / ``lang`` with label ``label`` (or :data:`TOTAL`).

    ``source`` is the fetch source's name (``xnli-fewshot`` for ``fewshot``). ``split`` is ``dev``/``test``
    (XNLI, PAWS-X, SIB-200, AmericasNLI; SIB-200 also ``train`` and ``fewshot``, the fixed split files),
    ``train-k{k}``/``dev-k{k}`` (few-shot), ``train`` (MultiNLI), ``bitext`` (Tatoeba), ``dictionary``
    (MUSE, counting word pairs) or ``files`` (a source without its own table: ``lang`` is the file's path).
    """

    source: str
    split: str
    lang: str
    label: str
    count: int


def _present(path: Path) -> bool:
    """Whether a data file is there; a folder (or anything else) in its place is a one-line error, not a gap."""
    from xlprompt.data.home import misplaced_file_message, not_a_file

    if path.is_file():
        return True
    if not_a_file(path) is not None:
        raise DataError(misplaced_file_message(path, "a data file", "fetch the file again (`xlprompt data fetch`)"))
    return False


def data_stats(data_dir: str | Path) -> list[StatRow]:
    """Count the rows of every file of the local layout under ``data_dir`` (see :mod:`xlprompt.data`)."""
    root = Path(data_dir)
    if not root.is_dir():
        raise DataError("data folder not found; pass --data-dir with xnli/, xnli-fewshot/, pawsx/, tatoeba/", root)
    rows: list[StatRow] = []
    for split in XNLI_SPLITS:
        for lang in XNLI_LANGUAGES:
            if _present(xnli_path(root, split, lang)):
                labels = [e.label for e in load_xnli(split, lang, root)]
                rows.append(StatRow("xnli", split, lang, TOTAL, len(labels)))
                rows.extend(StatRow("xnli", split, lang, name, labels.count(i)) for i, name in enumerate(LABELS))
    for k in FEWSHOT_KS:
        for split in FEWSHOT_SPLITS:
            for lang in XNLI_LANGUAGES:
                if _present(fewshot_path(root, split, k, lang)):
                    labels = [e.label for e in load_fewshot_split(split, k, lang, root)]
                    rows.append(StatRow("xnli-fewshot", f"{split}-k{k}", lang, TOTAL, len(labels)))
                    rows.extend(
                        StatRow("xnli-fewshot", f"{split}-k{k}", lang, name, labels.count(i))
                        for i, name in enumerate(LABELS)
                    )
    dropped = read_ns_record(root)
    for split in ("dev", "test"):
        for lang in PAWSX_LANGUAGES:
            path = root / "pawsx" / split / f"{lang}.tsv"
            if _present(path):
                counts = dict.fromkeys(PAWSX_LABELS.values(), 0)
                ns = dropped.get((split, lang), 0)
                table = read_tsv(path, ("idx", "sentence1", "sentence2", "label"))
                for row in table:
                    if row["label"] not in PAWSX_LABELS:
                        raise row.error(f"PAWS-X label must be 0, 1 or empty, found {row['label']!r}")
                    if is_ns_row(row["sentence1"], row["sentence2"]):
                        ns += 1  # never read into a run
                        continue
                    counts[PAWSX_LABELS[row["label"]]] += 1
                rows.append(StatRow("pawsx", split, lang, TOTAL, sum(counts.values())))
                rows.extend(StatRow("pawsx", split, lang, name, n) for name, n in counts.items())
                rows.append(StatRow("pawsx", split, lang, NS, ns))
    for lang in TARGET_LANGUAGES:
        path = root / "tatoeba" / f"{lang}-en.tsv"
        if _present(path):
            rows.append(StatRow("tatoeba", "bitext", lang, TOTAL, len(read_tsv(path, (lang, SOURCE_LANGUAGE)))))
    for name, source in _sources().items():
        if name not in _COUNTED:
            rows.extend(COUNTERS.get(name, _count_files)(root, name, source))
    return rows


def _sources() -> dict:
    from xlprompt.data.fetch import default_sources

    return default_sources()


#: the sources whose rows the body of :func:`data_stats` counts itself
_COUNTED = ("fewshot", "xnli", "pawsx", "tatoeba")


def _labelled(source: str, split: str, lang: str, labels: Sequence[int], names: Sequence[str]) -> list[StatRow]:
    return [StatRow(source, split, lang, TOTAL, len(labels))] + [
        StatRow(source, split, lang, name, labels.count(i)) for i, name in enumerate(names)
    ]


def _count_sib200(root: Path, name: str, source) -> list[StatRow]:
    from xlprompt.data.sib200 import FEWSHOT_DIR, SIB200_CATEGORIES, read_sib200

    rows = []
    for path in source.outputs(root):
        if path.parent.as_posix().endswith(FEWSHOT_DIR) or not _present(path):
            continue
        split, code = path.parent.name, path.stem
        labels = [e.label for e in read_sib200(root, split, code)]
        rows += _labelled(name, split, code, labels, SIB200_CATEGORIES)
    fewshot = [
        p
        for p in source.outputs(root)
        if p.parent.as_posix().endswith(FEWSHOT_DIR) and p.suffix == ".tsv" and _present(p)
    ]
    if fewshot:
        rows.append(StatRow(name, "fewshot", SOURCE_LANGUAGE, TOTAL, len(fewshot)))
    return rows


def _count_bitext(root: Path, name: str, source) -> list[StatRow]:
    rows = []
    for path in source.outputs(root):
        if _present(path):
            lang = path.name.removesuffix("-en.tsv")
            rows.append(StatRow(name, "bitext", lang, TOTAL, len(read_tsv(path, (lang, SOURCE_LANGUAGE)))))
    return rows


def _count_americasnli(root: Path, name: str, source) -> list[StatRow]:
    from xlprompt.data.americasnli import read_americasnli

    rows = []
    for path in source.outputs(root):
        if _present(path):
            labels = [e.label for e in read_americasnli(root, path.parent.name, path.stem)]
            rows += _labelled(name, path.parent.name, path.stem, labels, LABELS)
    return rows


def _count_multinli(root: Path, name: str, source) -> list[StatRow]:
    rows = []
    for path in source.outputs(root):
        if _present(path):
            labels = []
            for row in read_tsv(path, ("idx", "premise", "hypothesis", "label")):
                if row["label"] not in LABELS:
                    raise row.error(f"unknown label {row['label']!r}; allowed: {', '.join(LABELS)}")
                labels.append(LABELS.index(row["label"]))
            rows += _labelled(name, "train", SOURCE_LANGUAGE, labels, LABELS)
    return rows


def _count_muse(root: Path, name: str, source) -> list[StatRow]:
    from xlprompt.data.muse import read_dictionary

    rows = []
    for path in source.outputs(root):
        if _present(path):
            pairs = sum(len(targets) for targets in read_dictionary(path).values())
            rows.append(StatRow(name, "dictionary", path.stem.removeprefix("en-"), TOTAL, pairs))
    return rows


def _count_files(root: Path, name: str, source) -> list[StatRow]:
    """A source without its own table: the lines of each file it writes that is there."""
    rows = []
    for path in source.outputs(root):
        if _present(path):
            with open(path, "rb") as handle:
                lines = sum(1 for _ in handle)
            rows.append(StatRow(name, "files", path.relative_to(root).as_posix(), TOTAL, lines))
    return rows


#: source name -> ``count(root, name, source) -> [StatRow]`` (others: :func:`_count_files`)
COUNTERS = {
    "sib200": _count_sib200,
    "tatoeba-sib200": _count_bitext,
    "americasnli": _count_americasnli,
    "multinli": _count_multinli,
    "muse": _count_muse,
}


def format_stats(rows: Iterable[StatRow]) -> str:
    """A readable multi-section table of :func:`data_stats` rows (``-`` marks a missing file): one section per
    source of ``xlprompt data fetch``, in its order, each titled ``[name]``."""
    rows = list(rows)
    count = {(r.source, r.split, r.lang, r.label): r.count for r in rows}
    sections = []
    for name, source in _sources().items():
        section = SECTIONS.get(name)
        text = section(count) if section is not None else _files_section(name, source, rows)
        sections.append(f"[{name}] {text}")
    return "\n\n".join(sections)


def _num(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _table(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(line[i])) for line in [header, *body]) for i in range(len(header))]
    lines = []
    for line in [header, *body]:
        cells = [str(cell).ljust(w) if i == 0 else str(cell).rjust(w) for i, (cell, w) in enumerate(zip(line, widths))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _xnli_section(count: dict) -> str:
    title = "XNLI (xnli/{dev,test}/{lang}.tsv)"
    if not any(key[0] == "xnli" for key in count):
        return f"{title}: not found"
    short = {TOTAL: "rows", "entailment": "ent", "neutral": "neu", "contradiction": "con"}
    header = ["lang"] + [f"{split} {short[lab]}" for split in XNLI_SPLITS for lab in (TOTAL, *LABELS)]
    body = []
    for lang in XNLI_LANGUAGES:
        body.append(
            [lang] + [_num(count.get(("xnli", split, lang, lab))) for split in XNLI_SPLITS for lab in (TOTAL, *LABELS)]
        )
    body.append(
        ["all"]
        + [
            _num(sum(v for (s, sp, _, lab2), v in count.items() if s == "xnli" and sp == split and lab2 == lab))
            for split in XNLI_SPLITS
            for lab in (TOTAL, *LABELS)
        ]
    )
    return f"{title}\n{_table(header, body)}"


def _fewshot_section(count: dict) -> str:
    title = "Few-shot splits (xnli-fewshot/{train,dev}/...; k per class, 3k rows)"
    if not any(key[0] == "xnli-fewshot" for key in count):
        return f"{title}: not found"
    header = ["k", "train en", "train langs", "train rows/lang", "dev en", "dev langs", "dev rows/lang"]
    body = []
    for k in FEWSHOT_KS:
        line = [str(k)]
        for split in FEWSHOT_SPLITS:
            totals = {lang: count.get(("xnli-fewshot", f"{split}-k{k}", lang, TOTAL)) for lang in XNLI_LANGUAGES}
            present = [n for n in totals.values() if n is not None]
            spread = (
                "-"
                if not present
                else (
                    _num(present[0]) if min(present) == max(present) else f"{_num(min(present))}-{_num(max(present))}"
                )
            )
            line += [_num(totals[SOURCE_LANGUAGE]), f"{len(present)}/{len(XNLI_LANGUAGES)}", spread]
        body.append(line)
    return f"{title}\n{_table(header, body)}"


def _pawsx_section(count: dict) -> str:
    title = (
        "PAWS-X (pawsx/{dev,test}/{lang}.tsv; labels: para(phrase) / non-para / unlabelled; NS: rows holding "
        'the placeholder "NS", dropped at fetch or when read, not in rows)'
    )
    if not any(key[0] == "pawsx" for key in count):
        return f"{title}: not found"
    labels = (TOTAL, "paraphrase", "not_paraphrase", "unlabelled", NS)
    short = {TOTAL: "rows", "paraphrase": "para", "not_paraphrase": "non", "unlabelled": "unlab", NS: "NS"}
    header = ["lang"] + [f"{split} {short[lab]}" for split in ("dev", "test") for lab in labels]
    body = [
        [lang] + [_num(count.get(("pawsx", split, lang, lab))) for split in ("dev", "test") for lab in labels]
        for lang in PAWSX_LANGUAGES
    ]
    return f"{title}\n{_table(header, body)}"


def _tatoeba_section(count: dict) -> str:
    title = "Tatoeba (tatoeba/{xx}-en.tsv; a pair = two consecutive rows)"
    if not any(key[0] == "tatoeba" for key in count):
        return f"{title}: not found"
    body = []
    for lang in TARGET_LANGUAGES:
        n = count.get(("tatoeba", "bitext", lang, TOTAL))
        body.append([lang, _num(n), _num(None if n is None else n // 2)])
    return f"{title}\n{_table(['lang', 'rows', 'pairs'], body)}"


def _span(values: Sequence[int]) -> str:
    return (
        "-"
        if not values
        else _num(values[0])
        if min(values) == max(values)
        else f"{_num(min(values))}-{_num(max(values))}"
    )


def _sib200_section(count: dict) -> str:
    from xlprompt.data.sib200 import (
        SIB200_CATEGORIES,
        SIB200_FEWSHOT_KS,
        SIB200_FEWSHOT_SEEDS,
        sib200_flores_languages,
    )

    title = "SIB-200 (sib200/{train,dev,test}/{lang}.tsv; English categories, rows per language)"
    if not any(key[0] == "sib200" for key in count):
        return f"{title}: not found"
    languages = len(sib200_flores_languages())
    header = ["split", "langs", "rows/lang", *(c.split("/")[0][:7] for c in SIB200_CATEGORIES)]
    body = []
    for split in ("train", "dev", "test"):
        totals = [v for (s, sp, _, lab), v in count.items() if s == "sib200" and sp == split and lab == TOTAL]
        expected = 1 if split == "train" else languages
        english = [_num(count.get(("sib200", split, SOURCE_LANGUAGE, c))) for c in SIB200_CATEGORIES]
        body.append([split, f"{len(totals)}/{expected}", _span(totals), *english])
    fewshot = count.get(("sib200", "fewshot", SOURCE_LANGUAGE, TOTAL))
    files = 2 * len(SIB200_FEWSHOT_KS) * len(SIB200_FEWSHOT_SEEDS)
    return f"{title}\n{_table(header, body)}\nfixed few-shot split files (sib200/fewshot/): {_num(fewshot)}/{files}"


def _bitext_summary(source: str, title: str, languages: Sequence[str], count: dict) -> str:
    totals = {lang: count.get((source, "bitext", lang, TOTAL)) for lang in languages}
    present = [n for n in totals.values() if n is not None]
    if not present:
        return f"{title}: not found"
    missing = [lang for lang, n in totals.items() if n is None]
    gap = f"; missing: {', '.join(missing[:8])}{', ...' if len(missing) > 8 else ''}" if missing else ""
    pairs = sum(n // 2 for n in present)
    return (
        f"{title}\n{len(present)}/{len(languages)} languages, rows per language {_span(present)}, {pairs:,} pairs{gap}"
    )


def _tatoeba_sib200_section(count: dict) -> str:
    from xlprompt.data.sib200 import SIB200_TATOEBA

    return _bitext_summary(
        "tatoeba-sib200", "Tatoeba for SIB-200 (tatoeba/{Flores code}-en.tsv)", tuple(SIB200_TATOEBA), count
    )


def _americasnli_section(count: dict) -> str:
    from xlprompt.data.americasnli import AMERICASNLI_LANGUAGES

    title = "AmericasNLI (americasnli/{dev,test}/{lang}.tsv)"
    if not any(key[0] == "americasnli" for key in count):
        return f"{title}: not found"
    short = {TOTAL: "rows", "entailment": "ent", "neutral": "neu", "contradiction": "con"}
    header = ["lang"] + [f"{split} {short[lab]}" for split in ("dev", "test") for lab in (TOTAL, *LABELS)]
    body = [
        [lang]
        + [_num(count.get(("americasnli", split, lang, lab))) for split in ("dev", "test") for lab in (TOTAL, *LABELS)]
        for lang in AMERICASNLI_LANGUAGES
    ]
    return f"{title}\n{_table(header, body)}"


def _multinli_section(count: dict) -> str:
    title = "MultiNLI (multinli/train.tsv; optional: sample_pool=multinli)"
    if ("multinli", "train", SOURCE_LANGUAGE, TOTAL) not in count:
        return f"{title}: not found"
    header = ["split", "rows", "ent", "neu", "con"]
    body = [["train", *(_num(count.get(("multinli", "train", SOURCE_LANGUAGE, lab))) for lab in (TOTAL, *LABELS))]]
    return f"{title}\n{_table(header, body)}"


def _muse_section(count: dict) -> str:
    from xlprompt.data.muse import SOFTMV_LANGUAGES

    title = "MUSE dictionaries (muse/en-{xx}.txt; optional: SoftMV's code-switching)"
    if not any(key[0] == "muse" for key in count):
        return f"{title}: not found"
    body = [[lang, _num(count.get(("muse", "dictionary", lang, TOTAL)))] for lang in SOFTMV_LANGUAGES]
    return f"{title}\n{_table(['lang', 'word pairs'], body)}"


def _files_section(name: str, source, rows: Sequence[StatRow]) -> str:
    """A source without its own table: how many of its files are there, and their lines."""
    title = f"{source.description} ({name}: the files it writes)"
    mine = [r for r in rows if r.source == name and r.split == "files"]
    if not mine:
        return f"{title}: not found"
    return f"{title}\n{len(mine)}/{len(source.outputs(Path('.')))} files, {_num(sum(r.count for r in mine))} lines"


#: source name -> its section of :func:`format_stats` (others: :func:`_files_section`)
SECTIONS = {
    "fewshot": _fewshot_section,
    "xnli": _xnli_section,
    "pawsx": _pawsx_section,
    "tatoeba": _tatoeba_section,
    "multinli": _multinli_section,
    "muse": _muse_section,
    "sib200": _sib200_section,
    "tatoeba-sib200": _tatoeba_sib200_section,
    "americasnli": _americasnli_section,
}
