"""Row counts of a data folder, per source, split, language and label (``xlprompt data stats``).

:func:`data_stats` reads every known file through the same validating loaders as training does, so
it doubles as a check of the whole folder: a malformed file raises its :class:`DataError`. Files
that are absent are simply not counted (the table shows ``-``).
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

    ``source`` is ``xnli``, ``xnli-fewshot``, ``pawsx`` or ``tatoeba``. ``split`` is ``dev``/``test``
    (XNLI, PAWS-X), ``train-k{k}``/``dev-k{k}`` (few-shot) or ``bitext`` (Tatoeba).
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
    return rows


def format_stats(rows: Iterable[StatRow]) -> str:
    """A readable multi-section table of :func:`data_stats` rows (``-`` marks a missing file)."""
    count = {(r.source, r.split, r.lang, r.label): r.count for r in rows}
    sections = [
        _xnli_section(count),
        _fewshot_section(count),
        _pawsx_section(count),
        _tatoeba_section(count),
    ]
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
