"""Reports for tasks with many languages (SIB-200's 205): the metric by group of languages, and its figure.

A table of 205 language columns is not a report. For a task with more than :data:`MAX_COLUMNS` languages the
report shows, per setting, the mean over the languages of each **group** of every grouping the task declares
(``Task.language_groups``; SIB-200: region, language family and XLM-R pre-training coverage from the SIB-200
paper's Table 7, Glot500-m pre-training coverage from the Glot500 authors' training-data selection, and script
from the codes), with the number of languages in each group and the majority-class
score of the same languages beside it; a task that declares none is grouped by **script** (the Flores-200
code's suffix: ``swh_Latn`` → Latn; ``en`` and a code without a suffix → Latn). Groups with fewer than
:data:`MIN_GROUP` languages are pooled as ``other`` in the table (their languages are listed in the CSV).

The figure (``task_<name>_groups.png``) shows the metric per language, grouped by the first grouping (SIB-200:
region) and sorted within each group, one marker per setting, each group's mean as a line across its
languages, with chance and the majority-class score drawn as lines. The per-language numbers stay in
``task_<name>.csv`` and ``task_<name>_languages.csv`` (with every grouping's group of each language, and
whether MPT had alignment data for it: the ``aligned`` column).
"""

from __future__ import annotations

import csv
import io
import statistics
from pathlib import Path

from xlprompt.tasks.sib200 import script_of

MAX_COLUMNS = 20
#: groups with fewer languages than this are pooled as "other" in the tables
MIN_GROUP = 3
OTHER = "other"


def groupings(table) -> dict[str, dict[str, tuple[str, ...]]]:
    """The task's groupings restricted to the table's languages (empty groups dropped); by script if none."""
    declared = dict(table.language_groups) or {"script": _by_script(table.languages)}
    present = set(table.languages)
    return {
        grouping: {name: kept for name, langs in groups.items() if (kept := tuple(x for x in langs if x in present))}
        for grouping, groups in declared.items()
    }


def _by_script(languages) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for lang in languages:
        out.setdefault(script_of(lang), []).append(lang)
    return {k: tuple(v) for k, v in out.items()}


def _pooled(groups: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """Groups of at least MIN_GROUP languages, largest first, and the rest pooled as ``other``."""
    big = {k: v for k, v in groups.items() if len(v) >= MIN_GROUP}
    small = tuple(lang for k, v in groups.items() if len(v) < MIN_GROUP for lang in v)
    out = dict(sorted(big.items(), key=lambda kv: (-len(kv[1]), kv[0])))
    if small:
        out[OTHER] = small
    return out


def _mean(cells, langs) -> float | None:
    values = [statistics.fmean(cells[lang]) for lang in langs if cells.get(lang)]
    return statistics.fmean(values) if values else None


def metrics_of(table) -> list[str]:
    """The report's metric first, then the other metrics every setting of the table recorded."""
    labels = {label for label, _ in table.rows}
    return [table.metric] + [m for m, rows in table.other_rows.items() if {label for label, _ in rows} == labels]


def group_means(table, metric: str | None = None) -> list[tuple[str, str, str, float, int, float | None]]:
    """``(setting, grouping, group, mean over the group's languages, number of languages, majority-class
    score over the same languages or None)`` for every setting, grouping and (pooled) group, in ``metric`` (the
    report's by default; another recorded one: :func:`metrics_of`)."""
    metric = metric or table.metric
    rows = table.rows if metric == table.metric else table.other_rows[metric]
    baselines = table.baselines if metric == table.metric else table.other_baselines.get(metric, {})
    majority = baselines.get("majority", {})
    out = []
    for label, cells in rows:
        for grouping, groups in groupings(table).items():
            for name, langs in _pooled(groups).items():
                mean = _mean(cells, langs)
                if mean is None:
                    continue
                with_values = [lang for lang in langs if cells.get(lang)]
                base = [majority[lang] for lang in with_values if lang in majority]
                out.append(
                    (
                        label,
                        grouping,
                        name,
                        mean,
                        len(with_values),
                        statistics.fmean(base) if base else None,
                    )
                )
    return out


def to_markdown(table) -> str:
    from xlprompt.report.task_tables import average_lines, baseline_row, column_name

    name = table.metric_name
    shown = " and ".join("macro-F1" if m == "macro_f1" else m for m in metrics_of(table))
    lines = [
        f"## Task {table.task}: {shown} by group",
        "",
        f"Mean {shown} (%) over the languages of each group, mean over seeds per language first, beside the "
        f"majority-class score of the same languages; {len(table.languages)} languages, per-language numbers in "
        f"`task_{table.slug}.csv`; groups of fewer than {MIN_GROUP} languages pooled as '{OTHER}'. The averages "
        f"first ({name.lower()}):",
        "",
    ]
    for grouping, source in table.grouping_sources.items():
        lines.append(f"- {grouping}: {source}")
    lines += [
        "",
        "| setting | " + " | ".join(column_name(c) for c in ("avg", "paper")) + " | n |",
        "|---|---|---|---|",
    ]
    for label, cells in table.rows:
        from xlprompt.report.task_tables import _cell

        n = max(len(v) for v in cells.values())
        lines.append(f"| {label} | {_cell(cells.get('avg'))} | {_cell(cells.get('paper'))} | {n} |")
    for kind, label in (("majority", "majority class"), ("chance", "chance")):
        if table.baselines.get(kind):
            row = dict(zip(table.columns, baseline_row(table, kind)))
            lines.append(f"| *{label}* | {row['avg']} | {row['paper']} | |")
    lines += ["", *average_lines(table), ""]
    metrics = metrics_of(table)
    names = {"accuracy": "accuracy", "macro_f1": "macro-F1"}
    heads = [h for m in metrics for h in (names.get(m, m), f"majority class ({names.get(m, m)})")]
    lines += [
        "| setting | grouping | group | languages | " + " | ".join(heads) + " |",
        "|" + "---|" * (4 + len(heads)),
    ]
    by_metric = [{(e[0], e[1], e[2]): e for e in group_means(table, m)} for m in metrics]
    for key, (label, grouping, group, _, n, _) in by_metric[0].items():
        cells = []
        for entries in by_metric:
            entry = entries.get(key)
            cells += (
                ["–", "–"] if entry is None else [f"{entry[3]:.1f}", "–" if entry[5] is None else f"{entry[5]:.1f}"]
            )
        lines.append(f"| {label} | {grouping} | {group} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def languages_csv(table, aligned: set[str]) -> str:
    """One line per (setting, language): its group in every grouping, ``aligned``, the metric and n."""
    found = groupings(table)
    member = {g: {lang: name for name, langs in groups.items() for lang in langs} for g, groups in found.items()}
    if "script" not in member:
        member["script"] = {lang: script_of(lang) for lang in table.languages}
    majority = table.baselines.get("majority", {})
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["task", "setting", "language", *member, "aligned", table.metric, "majority_class", "n"])
    for label, cells in table.rows:
        for lang in table.languages:
            if cells.get(lang):
                writer.writerow(
                    [
                        table.task,
                        label,
                        lang,
                        *[member[g].get(lang, "") for g in member],
                        "yes" if lang in aligned else "no",
                        f"{statistics.fmean(cells[lang]):.4f}",
                        f"{majority[lang]:.4f}" if lang in majority else "",
                        len(cells[lang]),
                    ]
                )
    return buffer.getvalue()


def figure(table, out_dir: Path) -> list[Path]:
    """The metric per language, grouped by the task's first grouping and sorted within each group, one marker
    per setting, group means as lines, chance and the majority class as lines; PNG and PDF."""
    from matplotlib.figure import Figure

    found = groupings(table)
    grouping = next(iter(found))
    groups = dict(sorted(found[grouping].items(), key=lambda kv: (-len(kv[1]), kv[0])))
    grouped = {lang for langs in groups.values() for lang in langs}
    rest = tuple(lang for lang in table.languages if lang not in grouped)
    if rest:
        groups["not in the table"] = rest
    first = table.rows[0][1]
    order: list[str] = []
    spans = []
    for name, langs in groups.items():
        langs = sorted((x for x in langs if any(c.get(x) for _, c in table.rows)), key=lambda x: -_value(first, x))
        if langs:
            spans.append((name, len(order), len(order) + len(langs)))
            order += langs
    width = min(40.0, max(8.0, 0.085 * len(order) + 2))
    fig = Figure(figsize=(width, 5.0))  # margins below are in inches of this size
    ax = fig.add_subplot()
    xs = range(len(order))
    markers = "os^Dv<>"
    for i, (label, cells) in enumerate(table.rows):
        ax.plot(xs, [_value(cells, x) for x in order], markers[i % len(markers)], ms=3, label=label, alpha=0.8)
        for _name, start, end in spans:
            mean = _mean(cells, order[start:end])
            if mean is not None:
                ax.hlines(mean, start - 0.4, end - 0.6, colors=f"C{i}", linewidth=1.2)
    majority = table.baselines.get("majority", {})
    if majority:
        ax.step(
            xs,
            [majority.get(x, float("nan")) for x in order],
            where="mid",
            color="black",
            ls=":",
            lw=1,
            label="majority class",
        )
    chance = table.baselines.get("chance", {})
    if chance:
        ax.step(
            xs, [chance.get(x, float("nan")) for x in order], where="mid", color="grey", ls="--", lw=1, label="chance"
        )
    for name, start, end in spans:
        if start:
            ax.axvline(start - 0.5, color="lightgrey", lw=0.8)
        narrow = end - start < 12  # a narrow group's name stands upright above it
        ax.text(
            (start + end - 1) / 2,
            101,
            f"{name} ({end - start})" if narrow else f"{name}\n({end - start})",
            ha="center",
            va="bottom",
            fontsize=7,
            rotation=90 if narrow else 0,
        )
    ax.set_xticks(list(xs))
    ax.set_xticklabels(order, rotation=90, fontsize=4 if len(order) > 60 else 7)
    ax.set_xlim(-1, len(order))
    ax.set_ylim(0, 100)
    ax.set_ylabel(f"{table.metric_name.lower()} (%)")
    ax.set_title(
        f"{table.task}: {table.metric_name.lower()} per language by {grouping}, sorted within each group "
        "(lines: group means)",
        pad=70,
        fontsize=10,
    )
    ax.legend(fontsize=7, loc="lower left", ncol=4)
    # fixed margins (inches) for the rotated language codes and the group names: no tight_layout, which lays
    # out every one of the 205 tick labels again
    fig.subplots_adjust(left=0.7 / width, right=1 - 0.2 / width, bottom=0.55 / 5.0, top=1 - 1.25 / 5.0)
    from xlprompt.report.figures import save

    return save(fig, Path(out_dir), f"task_{table.slug}_groups", dpi=150)


def _value(cells, lang) -> float:
    return statistics.fmean(cells[lang]) if cells.get(lang) else float("nan")
