"""Tables of the tasks beyond XNLI: one table per task, with that task's language columns.

Runs are grouped by task (config key ``task``); within a task, one row per setting (method, k and every other
config key that differs between the task's runs; seeds pooled): mean ± std over seeds per language and the
average. The paper's tables, figures and published comparisons stay XNLI-only (:mod:`xlprompt.report.tables`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

XNLI = "xnli"


def task_of(row) -> str:
    return str(row.config.get("task", XNLI))


def _task_name_and_languages(spec: str, rows) -> tuple[str, tuple[str, ...]]:
    try:
        from xlprompt.tasks import get_task

        task = get_task(spec)
        return task.name, task.languages
    except Exception:  # a task file that is no longer there: its name and the languages of its results
        langs = tuple(dict.fromkeys(k for r in rows for k in r.accuracy if k != "avg"))
        return Path(spec).stem, langs


@dataclass
class TaskTable:
    task: str
    spec: str
    columns: tuple[str, ...]
    rows: list[tuple[str, dict[str, list[float]]]]

    #: the file stem of the table (``task_<slug>.md``): unique among the tables of one report
    slug: str = ""

    def __post_init__(self):
        self.slug = self.slug or re.sub(r"[^A-Za-z0-9_.-]+", "-", self.task).strip("-") or "task"


def task_tables(rows: Sequence) -> list[TaskTable]:
    """One :class:`TaskTable` per task other than XNLI among ``rows`` (report RunRow objects)."""
    by_task: dict[str, list] = {}
    for row in rows:
        if task_of(row) != XNLI:
            by_task.setdefault(task_of(row), []).append(row)
    out = []
    for spec, runs in by_task.items():
        name, languages = _task_name_and_languages(spec, runs)
        keys = sorted({k for r in runs for k in r.config})
        differing = [
            k
            for k in keys
            if k not in ("seed", "method", "shots")
            and len({json.dumps(r.config.get(k), sort_keys=True) for r in runs}) > 1
        ]
        groups: dict[str, dict[str, list[float]]] = {}
        for r in sorted(runs, key=lambda r: (r.method, r.shots, r.seed)):
            label = f"{r.method.upper()} k={r.shots}" + "".join(f" {k}={r.config.get(k)}" for k in differing)
            cells = groups.setdefault(label, {})
            for lang, value in r.accuracy.items():
                cells.setdefault(lang, []).append(float(value))
        columns = tuple(lang for lang in languages if any(lang in c for c in groups.values())) + ("avg",)
        out.append(TaskTable(name, spec, columns, list(groups.items())))
    # two task files of one name (or one named twice): each table keeps its own files, told apart by its spec
    seen: dict[str, int] = {}
    for table in out:
        seen[table.slug] = seen.get(table.slug, 0) + 1
    for table in out:
        if seen[table.slug] > 1:
            table.slug = f"{table.slug}-{hashlib.sha256(table.spec.encode()).hexdigest()[:8]}"
    return out


def _cell(values: list[float] | None) -> str:
    if not values:
        return "–"
    mean = statistics.fmean(values)
    return f"{mean:.1f}" if len(values) == 1 else f"{mean:.1f}±{statistics.stdev(values):.1f}"


def to_markdown(table: TaskTable) -> str:
    head = ["setting", *[c.upper() if c != "avg" else "Avg" for c in table.columns], "n"]
    lines = [
        f"## Task {table.task}",
        "",
        f"Accuracy (%) per language, mean±std over seeds (task `{table.spec}`).",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for label, cells in table.rows:
        n = max(len(v) for v in cells.values())
        lines.append("| " + " | ".join([label, *[_cell(cells.get(c)) for c in table.columns], str(n)]) + " |")
    return "\n".join(lines) + "\n"


def to_csv(table: TaskTable) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["task", "setting", *table.columns, "n"])
    for label, cells in table.rows:
        writer.writerow(
            [
                table.task,
                label,
                *[f"{statistics.fmean(cells[c]):.4f}" if cells.get(c) else "" for c in table.columns],
                max(len(v) for v in cells.values()),
            ]
        )
    return buffer.getvalue()
