"""The field's leaderboard: methods × k, the mean ± std over seeds of each run's average XNLI accuracy
(15 languages), with the published numbers beside ours where they exist.

Rows are the variants of the sweep group ``field`` (``configs/field.yaml``: FT, DP, SP, PCT, DPA, SoftMV, MPT,
MPT per language, XPE, DUAL); without such a group, every finished run, labelled by its method. Runs pool only when
their configs are identical except for the seed (as in Table I); a label with several configs gets the differing
keys. Every row states its source languages (the languages its training data are in: ``source_languages`` where a
run names several, else its task's source language), so that a multi-source row is never read as an English one.

Published numbers (:data:`PUBLISHED`), each with its source:

* FT, SP, PCT, MPT at the 9 values of k: the MPT paper's Table I average (:mod:`xlprompt.report.paper`);
* FT 33.74, DP 36.43, SP 38.79 at k = 16 (48 English examples): Zhao & Schütze (EMNLP 2021, arXiv 2109.03630),
  abstract — the same fixed splits;
* DPA 46.54 at k = 16: Zhou et al. (Findings of ACL 2023, arXiv 2202.07255), abstract — **other protocol** (its own
  balanced samples of the Hugging Face XNLI data, not the fixed splits);
* SoftMV: no published number was found in the sources available to xlprompt (its paper's tables are not in
  the reference index); none is shown;
* XPE, DUAL: their paper (Mikaberidze et al., Findings of IJCNLP-AACL 2025, arXiv 2508.10352) reports SIB-200 with
  several source languages, not few-shot XNLI: none is shown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Sequence

from xlprompt.languages import XNLI_LANGUAGES
from xlprompt.report import paper
from xlprompt.report.tables import Cell, RunRow, TableMeta, _differing_keys, _meta, metric_name, select_group

LEADERBOARD_GROUP = "field"
#: the row order of configs/field.yaml
ORDER: tuple[str, ...] = ("FT", "DP", "SP", "PCT", "DPA", "SoftMV", "MPT", "MPT per language", "XPE", "DUAL")
METHOD_LABELS: dict[str, str] = {
    "ft": "FT",
    "dp": "DP",
    "sp": "SP",
    "pct": "PCT",
    "dpa": "DPA",
    "softmv": "SoftMV",
    "mpt": "MPT",
    "xpe": "XPE",
    "dual": "DUAL",
}
MPT_TABLE1 = "MPT paper (arXiv 2403.12407) Table I, Avg."
ZHAO_SCHUTZE = "Zhao & Schütze 2021 (arXiv 2109.03630), abstract"
DPA_PAPER = "Zhou et al. 2023 (DPA, Findings of ACL; arXiv 2202.07255), abstract"


@dataclass(frozen=True)
class Published:
    label: str
    shots: int
    value: float
    source: str
    other_protocol: bool = False


def _published() -> list[Published]:
    out = []
    for shots, methods in paper.TABLE1.items():
        for method, row in methods.items():
            out.append(Published(METHOD_LABELS[method], shots, row[-1], MPT_TABLE1))
    out += [
        Published("FT", 16, 33.74, ZHAO_SCHUTZE),
        Published("DP", 16, 36.43, ZHAO_SCHUTZE),
        Published("SP", 16, 38.79, ZHAO_SCHUTZE),
        Published("DPA", 16, 46.54, DPA_PAPER, other_protocol=True),
    ]
    return out


PUBLISHED: list[Published] = _published()


@dataclass
class LeaderRow:
    label: str
    cells: dict[int, Cell]  # shots -> per-run average accuracies
    published: dict[str, dict[int, Published]] = field(default_factory=dict)  # source -> shots -> number
    #: the languages the row's runs trained on, comma-separated (from their configs: :func:`source_languages`)
    sources: str = ""


def source_languages(run: RunRow) -> str:
    """The languages ``run`` trained on, comma-separated: its config's ``source_languages`` (a list or a
    comma-separated string) where it has one, else its task's source language.

    Args:
        run (RunRow): a finished run of the store.

    Returns:
        str: e.g. ``en`` or ``arb_Arab,deu_Latn,eng_Latn``.
    """
    named = run.config.get("source_languages")
    if named:
        langs = named if isinstance(named, (list, tuple)) else str(named).split(",")
        return ",".join(lang.strip() for lang in langs if str(lang).strip())
    try:
        from xlprompt.tasks import get_task

        return get_task(str(run.config.get("task", "xnli"))).source_language
    except Exception:  # a task file that is no longer there: its source cannot be read back
        return "unknown (task not found)"


@dataclass
class Leaderboard:
    group: str | None
    shots: list[int]
    rows: list[LeaderRow]
    meta: TableMeta
    #: the metric of the cells ("Accuracy", "Macro-F1"); the published numbers are accuracies
    metric: str = "Accuracy"

    @property
    def empty(self) -> bool:
        return not self.rows


def _label(run: RunRow, group: str | None) -> str:
    variants = [v for v in run.variants(group) if v] if group else []
    return variants[0] if variants else METHOD_LABELS.get(run.method, run.method.upper())


def leaderboard(rows: Sequence[RunRow], group: str | None = LEADERBOARD_GROUP) -> Leaderboard:
    runs, used = select_group(rows, group, fallback_all=True)
    by_label: dict[str, list[RunRow]] = {}
    for run in runs:
        by_label.setdefault(_label(run, used), []).append(run)
    out: list[LeaderRow] = []
    for label, members in by_label.items():
        signatures: dict[str, list[RunRow]] = {}
        for run in members:
            signatures.setdefault(
                json.dumps({k: v for k, v in run.config.items() if k not in ("seed", "shots")}, sort_keys=True), []
            ).append(run)
        extra = _differing_keys(members, ignore=("shots",)) if len(signatures) > 1 else []
        for sig_runs in signatures.values():
            name = label + (" (" + ", ".join(f"{k}={sig_runs[0].config.get(k)}" for k in extra) + ")" if extra else "")
            cells: dict[int, Cell] = {}
            for shots in sorted({r.shots for r in sig_runs}):
                by_seed = {}
                for r in sig_runs:
                    if r.shots == shots and "avg" in r.accuracy:
                        by_seed.setdefault(r.seed, float(r.accuracy["avg"]))
                cells[shots] = Cell(list(by_seed.values()))
            covered = {lang for r in sig_runs for lang in r.accuracy if lang != "avg"}
            full = covered == set(XNLI_LANGUAGES)
            if not full:  # say what the average covers; the published averages are over all 15
                name += f" [Avg over {len(covered)} langs: {', '.join(sorted(covered)).upper()}]"
            row = LeaderRow(name, cells, sources=source_languages(sig_runs[0]))
            comparable = full and (not runs or runs[0].metric == "accuracy")  # the published numbers are accuracies
            for pub in PUBLISHED if comparable else ():  # like with like only
                if pub.label == label:
                    row.published.setdefault(pub.source, {})[pub.shots] = pub
            out.append(row)
    out.sort(
        key=lambda r: (ORDER.index(r.label.split(" (")[0]) if r.label.split(" (")[0] in ORDER else len(ORDER), r.label)
    )
    shots = sorted({k for r in out for k in r.cells})
    meta = _meta(runs, [])
    sizes = [c.n for r in out for c in r.cells.values()] or [0]
    meta.n_min, meta.n_max = min(sizes), max(sizes)
    return Leaderboard(used, shots, out, meta, metric_name(runs))


def to_markdown(board: Leaderboard) -> str:
    lines = ["## Leaderboard: the field's methods on one protocol", ""]
    if board.empty:
        return "\n".join(lines + ["No finished runs (run `xlprompt sweep configs/field.yaml`).", ""])
    lines += [
        f"Average XNLI {board.metric.lower()} over the 15 languages (a row marked [Avg over N langs] covers fewer, "
        "and is compared with no published number"
        + (
            "; the published numbers are accuracies, so none is shown beside macro-F1"
            if board.metric != "Accuracy"
            else ""
        )
        + f"), mean ± std over seeds (n). {board.meta.line()}",
        "",
    ]
    header = "| Method | Sources | " + " | ".join(f"k={k}" for k in board.shots) + " |"
    lines += [header, "|" + "---|" * (len(board.shots) + 2)]
    notes = []
    for row in board.rows:
        cells = [f"{row.cells[k].text()} ({row.cells[k].n})" if k in row.cells else "–" for k in board.shots]
        lines.append(f"| {row.label} | {row.sources} | " + " | ".join(cells) + " |")
        for source, numbers in row.published.items():
            if not any(k in numbers for k in board.shots):
                continue  # published only at values of k this store has no runs for
            other = any(p.other_protocol for p in numbers.values())
            tag = " (other protocol)" if other else ""
            lines.append(
                f"| ↳ published{tag}: {source} | {row.sources} | "
                + " | ".join(f"{numbers[k].value:.2f}" if k in numbers else "" for k in board.shots)
                + " |"
            )
            if other:
                notes.append(f"{row.label}: {source} is another protocol (not the fixed splits of Zhao & Schütze)")
    lines.append("")
    if board.meta.random_weights:
        lines.append("- random weights: chance-level numbers that demonstrate the pipeline, not the methods")
    for note in dict.fromkeys(notes):
        lines.append(f"- {note}")
    lines.append("- SoftMV: no published number found in the sources available (not shown)")
    lines.append("- XPE, DUAL: published on SIB-200 with several source languages, not on few-shot XNLI (not shown)")
    lines.append("")
    return "\n".join(lines)


def to_csv(board: Leaderboard) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["method", "source_languages", "shots", "mean", "std", "n", "source", "other_protocol"])
    for row in board.rows:
        for k, cell in row.cells.items():
            writer.writerow([row.label, row.sources, k, f"{cell.mean:.4f}", f"{cell.std:.4f}", cell.n, "xlprompt", ""])
        for source, numbers in row.published.items():
            for k, pub in sorted(numbers.items()):
                writer.writerow(
                    [row.label, row.sources, k, f"{pub.value:.2f}", "", "", source, str(pub.other_protocol).lower()]
                )
    return buffer.getvalue()
