"""Tables of the tasks beyond XNLI: one table per task, with that task's language columns.

Runs are grouped by task (config key ``task``); within a task, one row per setting (method, k and every other
config key that differs between the task's runs; seeds pooled): mean ± std over seeds per language, ``Avg``
(every evaluated language) and the task paper's average (``Task.average_languages``, or the languages a user
names with ``report --average``), each saying what it covers. Two baseline rows follow from the runs' recorded
per-class counts: the **majority class** (always answering a test set's most frequent gold class) and
**chance** (uniform guessing: 100 / classes for accuracy; for macro-F1 the F1 of its expected counts,
2·(g/C)/(g + n/C) per class of g gold rows among n). The paper's tables, figures and published comparisons
stay XNLI-only (:mod:`xlprompt.report.tables`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from xlprompt.report.leaderboard import source_languages

XNLI = "xnli"


def task_of(row) -> str:
    return str(row.config.get("task", XNLI))


def _task(spec: str):
    try:
        from xlprompt.tasks import get_task

        return get_task(spec)
    except Exception:  # a task file that is no longer there
        return None


def _task_name_and_languages(spec: str, rows) -> tuple[str, tuple[str, ...]]:
    task = _task(spec)
    if task is not None:
        return task.name, task.languages
    # a task file that is no longer there: its name and the languages of its results
    langs = tuple(dict.fromkeys(k for r in rows for k in r.accuracy if k != "avg"))
    return Path(spec).stem, langs


PAPER = "paper"


def baselines(counts: Sequence[dict], metric: str) -> tuple[float, float]:
    """``(majority class, chance)`` scores (%) of one test set from its per-class counts (``gold`` per class),
    in ``metric`` (see the module's text)."""
    gold = [int(c["gold"]) for c in counts]
    n, classes = sum(gold), len(gold)
    if not n or not classes:
        return 0.0, 0.0
    top = max(gold)
    if metric == "accuracy":
        return 100.0 * top / n, 100.0 / classes
    majority = 100.0 * (2 * top / (top + n)) / classes
    chance = 100.0 * sum(2 * (g / classes) / (g + n / classes) for g in gold) / classes
    return majority, chance


@dataclass
class TaskTable:
    """One task's table: ``columns`` are its evaluated languages, ``avg`` and ``paper``; ``rows`` (setting →
    column → the per-run numbers); ``baselines`` (``majority``/``chance`` → language → score, from the runs'
    counts); ``average_languages`` and ``average_note``: what the ``paper`` column covers and why."""

    task: str
    spec: str
    columns: tuple[str, ...]
    rows: list[tuple[str, dict[str, list[float]]]]

    #: the file stem of the table (``task_<slug>.md``): unique among the tables of one report
    slug: str = ""
    metric: str = "accuracy"
    average_languages: tuple[str, ...] = ()
    average_note: str = ""
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)
    #: the other recorded metrics, as ``rows`` (metric → [(setting, language → the per-run numbers)]) and
    #: ``baselines`` (metric → kind → language → score): a table by group shows them beside the report's metric
    other_rows: dict[str, list[tuple[str, dict[str, list[float]]]]] = field(default_factory=dict)
    other_baselines: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    #: the task's named groupings of languages (grouping → group → languages)
    language_groups: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    grouping_sources: Mapping[str, str] = field(default_factory=dict)
    #: setting (a row's label) → the languages its runs trained on (config ``source_languages``, else the task's
    #: source language), and the task's own source language: a table whose rows trained elsewhere says so
    sources: dict[str, tuple[str, ...]] = field(default_factory=dict)
    source_language: str = ""

    @property
    def multi_source(self) -> bool:
        """Whether a row trained on other languages than the task's source language alone."""
        return any(langs != (self.source_language,) for langs in self.sources.values())

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if c not in ("avg", PAPER))

    @property
    def metric_name(self) -> str:
        return {"accuracy": "Accuracy", "macro_f1": "Macro-F1"}.get(self.metric, self.metric)

    def __post_init__(self):
        self.slug = self.slug or re.sub(r"[^A-Za-z0-9_.-]+", "-", self.task).strip("-") or "task"


def task_tables(rows: Sequence, average: tuple[str, ...] | None = None) -> list[TaskTable]:
    """One :class:`TaskTable` per task other than XNLI among ``rows`` (report RunRow objects). ``average``: the
    languages of the ``paper`` column instead of each task's own ``average_languages``."""
    by_task: dict[str, list] = {}
    for row in rows:
        if task_of(row) != XNLI:
            by_task.setdefault(task_of(row), []).append(row)
    out = []
    for spec, runs in by_task.items():
        name, languages = _task_name_and_languages(spec, runs)
        task = _task(spec)
        if average:
            wanted, note = tuple(average), f"the languages asked for ({len(average)})"
        elif task is not None:
            wanted, note = task.paper_average_languages, task.average_source or "every language of the task"
        else:
            wanted, note = languages, "every language of the task"
        keys = sorted({k for r in runs for k in r.config})
        differing = [
            k
            for k in keys
            if k not in ("seed", "method", "shots")
            and len({json.dumps(r.config.get(k), sort_keys=True) for r in runs}) > 1
        ]
        groups: dict[str, dict[str, list[float]]] = {}
        sources: dict[str, tuple[str, ...]] = {}
        others: dict[str, dict[str, dict[str, list[float]]]] = {}
        for r in sorted(runs, key=lambda r: (r.method, r.shots, r.seed)):
            label = f"{r.method.upper()} k={r.shots or 'all'}" + "".join(f" {k}={r.config.get(k)}" for k in differing)
            for metric_name, values in r.other.items():
                other_cells = others.setdefault(metric_name, {}).setdefault(label, {})
                for lang, value in values.items():
                    other_cells.setdefault(lang, []).append(value)
            if label not in sources:  # one lookup per setting (it resolves the run's task)
                sources[label] = tuple(source_languages(r).split(","))
            cells = groups.setdefault(label, {})
            for lang, value in r.accuracy.items():
                cells.setdefault(lang, []).append(float(value))
            paper = [r.accuracy[lang] for lang in wanted if lang in r.accuracy]
            if paper:
                cells.setdefault(PAPER, []).append(sum(paper) / len(paper))
        columns = tuple(lang for lang in languages if any(lang in c for c in groups.values())) + ("avg", PAPER)
        covered = tuple(lang for lang in wanted if lang in columns)
        missing = [lang for lang in wanted if lang not in columns]
        note += f"; over {len(covered)} languages" + (
            f" ({len(missing)} of its languages not evaluated: {', '.join(missing[:8])}"
            + (" ..." if len(missing) > 8 else "")
            + ")"
            if missing
            else ""
        )
        metric = runs[0].metric if runs else "accuracy"
        out.append(
            TaskTable(
                name,
                spec,
                columns,
                list(groups.items()),
                metric=metric,
                average_languages=covered,
                average_note=note,
                baselines=_baselines(runs, metric),
                other_rows={m: list(cells.items()) for m, cells in others.items()},
                other_baselines={m: _baselines(runs, m) for m in others},
                language_groups=task.language_groups if task is not None else {},
                grouping_sources=task.grouping_sources if task is not None else {},
                sources=sources,
                # a task whose file is gone: its runs' own record of their sources stands for it
                source_language=task.source_language if task is not None else next(iter(sources.values()), ("",))[0],
            )
        )
    # two task files of one name (or one named twice): each table keeps its own files, told apart by its spec
    seen: dict[str, int] = {}
    for table in out:
        seen[table.slug] = seen.get(table.slug, 0) + 1
    for table in out:
        if seen[table.slug] > 1:
            table.slug = f"{table.slug}-{hashlib.sha256(table.spec.encode()).hexdigest()[:8]}"
    return out


def _baselines(runs: Sequence, metric: str) -> dict[str, dict[str, float]]:
    """The majority-class and chance scores per language, from the counts of the runs (a language whose runs
    saw test sets of different class counts, e.g. other caps, gets none: it has no single baseline)."""
    seen: dict[str, list] = {}
    for run in runs:
        for lang, counts in (run.counts or {}).items():
            gold = [c.get("gold") for c in counts] if isinstance(counts, list) else None
            seen.setdefault(lang, []).append(gold)
    out: dict[str, dict[str, float]] = {"majority": {}, "chance": {}}
    for lang, golds in seen.items():
        if any(g is None for g in golds) or len({tuple(g) for g in golds}) != 1:
            continue
        majority, chance = baselines([{"gold": g} for g in golds[0]], metric)
        out["majority"][lang], out["chance"][lang] = majority, chance
    return out


def _cell(values: list[float] | None) -> str:
    if not values:
        return "–"
    mean = statistics.fmean(values)
    return f"{mean:.1f}" if len(values) == 1 else f"{mean:.1f}±{statistics.stdev(values):.1f}"


def column_name(column: str) -> str:
    return {"avg": "Avg", PAPER: "Paper avg"}.get(column, column.upper())


def average_lines(table: TaskTable) -> list[str]:
    """What the two averages cover, one line each; a table with rows trained on other or several source languages
    says which, one line per setting (their cells are marked ``ˢ``)."""
    lines = [
        f"- Avg: the mean over every evaluated language ({len(table.languages)}).",
        f"- Paper avg: {table.average_note}.",
    ]
    if table.multi_source:
        lines.append(f"- {SOURCE_MARK}: a source language of the row (trained on); the others are held out.")
        lines += [f"- Sources of {label}: {', '.join(langs)}." for label, langs in table.sources.items()]
    return lines


#: the mark of a cell whose language the row trained on (tables with several source languages)
SOURCE_MARK = "ˢ"


def _row_cells(table: TaskTable, label: str, cells: Mapping[str, list[float]]) -> list[str]:
    """A row's cells in the table's columns, a source language's marked (tables with rows trained elsewhere)."""
    mark = table.sources.get(label, ()) if table.multi_source else ()
    return [_cell(cells.get(c)) + (SOURCE_MARK if c in mark and cells.get(c) else "") for c in table.columns]


def baseline_row(table: TaskTable, kind: str) -> list[str]:
    """A baseline's cells in the table's columns (averages over the languages each covers)."""
    values = table.baselines.get(kind, {})
    cells = []
    for column in table.columns:
        if column == "avg":
            langs = [lang for lang in table.languages if lang in values]
        elif column == PAPER:
            langs = [lang for lang in table.average_languages if lang in values]
        else:
            langs = [column] if column in values else []
        cells.append(f"{statistics.fmean(values[lang] for lang in langs):.1f}" if langs else "–")
    return cells


def to_markdown(table: TaskTable) -> str:
    head = ["setting", *[column_name(c) for c in table.columns], "n"]
    lines = [
        f"## Task {table.task}",
        "",
        f"{table.metric_name} (%) per language, mean±std over seeds (task `{table.spec}`).",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for label, cells in table.rows:
        n = max(len(v) for v in cells.values())
        lines.append("| " + " | ".join([label, *_row_cells(table, label, cells), str(n)]) + " |")
    for kind, label in (("majority", "majority class"), ("chance", "chance")):
        if table.baselines.get(kind):
            lines.append("| " + " | ".join([f"*{label}*", *baseline_row(table, kind), ""]) + " |")
    return "\n".join(lines + ["", *average_lines(table)]) + "\n"


def to_csv(table: TaskTable) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["task", "metric", "setting", *table.columns, "n"])
    for label, cells in table.rows:
        writer.writerow(
            [
                table.task,
                table.metric,
                label,
                *[f"{statistics.fmean(cells[c]):.4f}" if cells.get(c) else "" for c in table.columns],
                max(len(v) for v in cells.values()),
            ]
        )
    for kind, label in (("majority", "majority class"), ("chance", "chance")):
        if table.baselines.get(kind):
            writer.writerow([table.task, table.metric, label, *baseline_row(table, kind), ""])
    return buffer.getvalue()
