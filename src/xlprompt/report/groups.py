"""Reports for tasks with many languages (SIB-200's 205): accuracy by writing system, and its plot.

A table of 205 language columns is not a report. For a task with more than :data:`MAX_COLUMNS` languages the
report shows, per setting, the mean accuracy over the languages of each **script** (the Flores-200 code's
suffix: ``swh_Latn`` → Latn, ``hin_Deva`` → Deva; ``en`` → Latn; a code without a script suffix counts as
Latn, the script of AmericasNLI's languages), with the number of languages in each group, and a bar chart
of it (``task_<name>_groups.png``). Script is the grouping because it is exact from the codes themselves and
it is what a subword vocabulary sees first; scripts with fewer than :data:`MIN_GROUP` languages are pooled
as ``other``. The per-language numbers stay in ``task_<name>.csv``. MPT runs
whose task names its corpus languages (SIB-200: the 82 with Tatoeba pairs) get the column ``aligned`` per
language in ``task_<name>_languages.csv``: whether that language had alignment data.
"""

from __future__ import annotations

import csv
import io
import statistics
from pathlib import Path

MAX_COLUMNS = 20
#: scripts with fewer languages than this are pooled as "other" (SIB-200: 17 scripts have one or two)
MIN_GROUP = 3


def script_of(lang: str) -> str:
    return lang.rsplit("_", 1)[1] if "_" in lang else "Latn"


def group_means(table) -> list[tuple[str, str, float, int]]:
    """``(setting, script, mean accuracy over that script's languages, number of languages)``."""
    out = []
    for label, cells in table.rows:
        groups: dict[str, list[float]] = {}
        sizes: dict[str, int] = {}
        for lang in table.columns:
            if lang != "avg":
                sizes[script_of(lang)] = sizes.get(script_of(lang), 0) + 1
        for lang in table.columns:
            if lang != "avg" and cells.get(lang):
                script = script_of(lang) if sizes[script_of(lang)] >= MIN_GROUP else "other"
                groups.setdefault(script, []).append(statistics.fmean(cells[lang]))
        for script in sorted(groups, key=lambda s: (-len(groups[s]), s)):
            out.append((label, script, statistics.fmean(groups[script]), len(groups[script])))
    return out


def to_markdown(table) -> str:
    lines = [
        f"## Task {table.task}: accuracy by script",
        "",
        f"Mean accuracy (%) over the languages of each script; {len(table.columns) - 1} languages, per-language "
        f"numbers in `task_{table.slug}.csv`.",
        "",
        "| setting | script | accuracy | languages |",
        "|---|---|---|---|",
    ]
    lines += [f"| {label} | {script} | {mean:.1f} | {n} |" for label, script, mean, n in group_means(table)]
    return "\n".join(lines) + "\n"


def languages_csv(table, aligned: set[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["task", "setting", "language", "script", "aligned", "accuracy", "n"])
    for label, cells in table.rows:
        for lang in table.columns:
            if lang != "avg" and cells.get(lang):
                writer.writerow(
                    [
                        table.task,
                        label,
                        lang,
                        script_of(lang),
                        "yes" if lang in aligned else "no",
                        f"{statistics.fmean(cells[lang]):.4f}",
                        len(cells[lang]),
                    ]
                )
    return buffer.getvalue()


def figure(table, out_dir: Path) -> list[Path]:
    """A bar chart of accuracy by script (one bar per setting in each group); PNG and PDF."""
    from matplotlib.figure import Figure

    rows = group_means(table)
    scripts = list(dict.fromkeys(script for _, script, _, _ in rows))
    settings = list(dict.fromkeys(label for label, _, _, _ in rows))
    counts = {script: n for _, script, _, n in rows}
    fig = Figure(figsize=(min(14.0, max(6.0, 0.5 * len(scripts) * max(1, len(settings)))), 4.5))
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(settings))
    for i, label in enumerate(settings):
        values = {script: mean for lab, script, mean, _ in rows if lab == label}
        xs = [j + i * width for j in range(len(scripts))]
        ax.bar(xs, [values.get(s, 0.0) for s in scripts], width=width, label=label)
    ax.set_xticks([j + width * (len(settings) - 1) / 2 for j in range(len(scripts))])
    ax.set_xticklabels([f"{s}\n({counts[s]})" for s in scripts], fontsize=8)
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"{table.task}: accuracy by script (languages per script in brackets)")
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    paths = []
    for suffix in ("png", "pdf"):
        path = Path(out_dir) / f"task_{table.slug}_groups.{suffix}"
        fig.savefig(path, dpi=120)
        paths.append(path)
    return paths
