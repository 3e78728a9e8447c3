"""The paper's figures from the store: Fig. 3 (gain of MPT over SP per language) and Figs. 4–5 (ablations).

Drawn with matplotlib's object API (``matplotlib.figure.Figure``: the Agg canvas, no display, no global
pyplot state) and written as PNG and PDF.

* **Fig. 3** — relative gain of MPT over SP, ``100 · (MPT − SP) / SP`` of the seed-mean accuracy, per language,
  at k = 32 (the paper's) or, without k = 32 runs, the largest k with both methods. Bars are coloured by
  the 11 language families of :data:`xlprompt.languages.LANGUAGE_FAMILIES`, languages grouped by family,
  with a legend of the families. With ``compare`` the paper's values at the **same** k (from its Table I;
  at k = 32 they are its Fig. 3) are drawn as black diamonds; at a k the paper has no numbers for, none are
  drawn. Bars grow from zero.
* **Fig. 4** — translator architecture (group ``fig4-translator``) and prompt position (``fig4-position``):
  bars of the average accuracy, mean ± std over seeds, from zero, with chance (``100 / number of labels``)
  as a dashed line.
* **Fig. 5** — prompt length (``fig5-length``), α (``fig5-alpha``) and external-corpus size
  (``fig5-external``): lines with error bars (± std over seeds); the y axis does not start at zero, says so,
  and reaches down to chance, which is drawn as a dashed line.

The runs come from :mod:`xlprompt.report.tables` (Table I's runs for Fig. 3; the groups of
``configs/ablations.yaml`` for Figs. 4–5). Each figure's caption states what the tables state: the model,
whether its weights were random ("random weights: chance-level"), the seeds, n, and the evaluation cap.
A figure with no runs is **not written** (an older file of that name in the report folder is removed);
a panel of Fig. 4/5 without runs is left out. Each such omission comes back as a :class:`Skipped` line,
which the report lists. The paper's default of each axis (linear-2, suffix, 4, 0.5, 500) is drawn in a
darker colour.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from xlprompt.languages import LANGUAGE_FAMILIES, XNLI_LANGUAGES
from xlprompt.report import paper
from xlprompt.report.tables import RANDOM_NOTE, RunRow, Table, metric_name, select_group

#: ablation group → (config key on the x axis, panel title, paper's default value, kind)
ABLATIONS: dict[str, tuple[str, str, Any, str]] = {
    "fig4-translator": ("translator", "Translator architecture", "linear-2", "bar"),
    "fig4-position": ("prompt_position", "Prompt position", "suffix", "bar"),
    "fig5-length": ("prompt_length", "Prompt length", 4, "line"),
    "fig5-alpha": ("alpha", "Loss weight α", 0.5, "line"),
    "fig5-external": ("parallel_size", "External corpus size", 500, "line"),
}
FIG4_GROUPS = ("fig4-translator", "fig4-position")
FIG5_GROUPS = ("fig5-length", "fig5-alpha", "fig5-external")
CATEGORY_ORDER = {
    "translator": ["linear-1", "linear-2", "lstm-1", "lstm-2", "transformer-1", "transformer-2"],
    "prompt_position": ["prefix", "midfix", "suffix", "endfix"],
}
FAMILY_ORDER: tuple[str, ...] = tuple(dict.fromkeys(LANGUAGE_FAMILIES.values()))
# 11 distinguishable colours (tab20 picks), one per family
FAMILY_COLOURS: dict[str, str] = dict(
    zip(
        FAMILY_ORDER,
        [
            "#1f77b4",
            "#ff7f0e",
            "#2ca02c",
            "#d62728",
            "#9467bd",
            "#8c564b",
            "#e377c2",
            "#7f7f7f",
            "#bcbd22",
            "#17becf",
            "#393b79",
        ],
    )
)
MAIN = "#4c72b0"
DEFAULT = "#1b2a49"
CHANCE = "#888888"
#: the label of the chance line (tests and readers find it by this prefix)
CHANCE_LABEL = "chance"
XNLI_LABELS = 3


@dataclass
class Skipped:
    """A figure (or a panel of one) that the report did not draw, and why."""

    figure: str
    reason: str

    def line(self) -> str:
        return f"{self.figure}: {self.reason}"


@dataclass
class Drawn:
    """What one figure function produced: its files (none when skipped), its caption, what it left out."""

    stem: str
    files: list[Path] = field(default_factory=list)
    caption: str = ""
    skipped: list[Skipped] = field(default_factory=list)


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=150, layout="constrained")
    FigureCanvasAgg(fig)  # the Agg canvas, whatever backend pyplot may have elsewhere
    return fig


def _cap_text(runs: Sequence[RunRow]) -> str:
    caps = sorted({r.eval_max_per_language for r in runs if r.eval_max_per_language})
    split = ",".join(sorted({r.eval_split for r in runs})) or "test"
    if caps:
        return f"{split} split capped at {', '.join(map(str, caps))} examples/language"
    return f"full {split} split"


def meta_text(runs: Sequence[RunRow], n_text: str) -> str:
    """The caption's facts, as the tables state them: model, random weights, seeds, n, evaluation cap."""
    if not runs:
        return "no runs in this figure"
    models = ", ".join(sorted({r.config["model"] for r in runs}))
    weights = RANDOM_NOTE if any(r.random_weights for r in runs) else "random weights: no"
    seeds = ", ".join(map(str, sorted({r.seed for r in runs})))
    return f"model: {models} · {weights} · seeds: {seeds} · {n_text} · {_cap_text(runs)}"


def chance_level(runs: Sequence[RunRow]) -> float:
    """Chance accuracy (%) of the runs' task: 100 / number of labels (XNLI: 3 labels, 33.3)."""
    counts = set()
    for spec in {str(r.config.get("task", "xnli")) for r in runs}:
        try:
            from xlprompt.tasks import get_task

            counts.add(len(get_task(spec).labels))
        except Exception:  # a task file that is gone: the paper's figures are XNLI's
            counts.add(XNLI_LABELS)
    return 100.0 / (min(counts) if counts else XNLI_LABELS)


def save(fig, out_dir: Path, stem: str, dpi: float | None = None) -> list[Path]:
    """Write ``fig`` as ``<stem>.png`` and ``<stem>.pdf`` in ``out_dir`` (made if missing).

    Args:
        fig (matplotlib.figure.Figure): the figure.
        out_dir (Path): the folder.
        stem (str): the files' name without suffix.
        dpi (float | None): the resolution (None: matplotlib's ``savefig.dpi``).

    Returns:
        list[Path]: the PNG's and the PDF's paths.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{stem}.png", out_dir / f"{stem}.pdf"]
    options = {} if dpi is None else {"dpi": dpi}
    for path in paths:
        fig.savefig(path, **options)
    return paths


def _remove_stale(out_dir: Path, stem: str) -> None:
    """A skipped figure leaves no file of an earlier report behind under its name."""
    for suffix in (".png", ".pdf"):
        (out_dir / f"{stem}{suffix}").unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------- Fig. 3
FIG3_STEM = "fig3_gain"


@dataclass
class Gains:
    shots: int | None
    gains: dict[str, float]
    n_mpt: int
    n_sp: int
    runs: list[RunRow]


def fig3_gains(table1: Table, shots: int | None = None) -> Gains:
    """Relative gains (%) of MPT over SP per language from Table I's rows (paper-named rows only)."""
    candidates = {}
    for block in table1.blocks:
        rows = {row.paper_key: row for row in block.rows if row.paper_key in ("mpt", "sp")}
        if "mpt" in rows and "sp" in rows:
            candidates[block.shots] = rows
    if shots is None:
        shots = 32 if 32 in candidates else (max(candidates) if candidates else None)
    if shots not in candidates:
        return Gains(shots, {}, 0, 0, [])
    mpt, sp = candidates[shots]["mpt"], candidates[shots]["sp"]
    gains = {}
    for lang in XNLI_LANGUAGES:
        m, s = mpt.cells[lang].mean, sp.cells[lang].mean
        if not (math.isnan(m) or math.isnan(s)) and s > 0:
            gains[lang] = 100.0 * (m - s) / s
    return Gains(shots, gains, mpt.n, sp.n, mpt.runs + sp.runs)


def fig3_missing(table1: Table) -> str:
    """Why Table I gives Fig. 3 nothing to draw, in terms of the rows it does have."""
    need = "it needs Table I runs of both MPT and SP with the paper's settings at one k"
    if table1.empty:
        return f"{need}; the store has no finished XNLI runs for Table I"
    parts = []
    for block in table1.blocks:
        found = []
        for method in ("mpt", "sp"):
            rows = [row for row in block.rows if row.runs[0].method == method]
            plain = [row for row in rows if row.paper_key == method]
            name = method.upper()
            if plain:
                found.append(f"{name}")
            elif rows:
                found.append(
                    f"{name} only with other settings ({len(rows)} row{'s' * (len(rows) > 1)}, e.g. '{rows[0].label}')"
                )
            else:
                found.append(f"no {name}")
        parts.append(f"k = {block.shots}: " + ", ".join(found))
    where = (
        f"the runs of group '{table1.group}'"
        if table1.group
        else "all finished runs, as the store has no Table I group"
    )
    return f"{need}; Table I, made of {where}, has " + "; ".join(parts)


def draw_figure3(table1: Table, compare: bool = False, shots: int | None = None):
    """Fig. 3 as a ``Figure`` with its caption, or ``(None, reason)`` when there is nothing to draw."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    data = fig3_gains(table1, shots)
    if not data.gains:
        return None, fig3_missing(table1)
    fig = _figure(9.5, 4.4)
    ax = fig.add_subplot()
    langs = sorted(XNLI_LANGUAGES, key=lambda lang: (FAMILY_ORDER.index(LANGUAGE_FAMILIES[lang]), lang))
    x = np.arange(len(langs))
    values = [data.gains.get(lang, np.nan) for lang in langs]
    colours = [FAMILY_COLOURS[LANGUAGE_FAMILIES[lang]] for lang in langs]
    ax.bar(x, values, color=colours, width=0.75, edgecolor="black", linewidth=0.4)  # bars grow from 0
    # a dot at each bar's end, so that a gain of (about) zero still shows its family's colour
    ax.scatter(x, values, c=colours, s=22, edgecolors="black", linewidths=0.4, zorder=3)
    for xi, v in zip(x, values):
        if not np.isnan(v):
            ax.annotate(
                f"{v:.1f}",
                (xi, v),
                xytext=(0, 5 if v >= 0 else -12),
                textcoords="offset points",
                ha="center",
                fontsize=6.5,
            )
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_xticks(x, [lang.upper() for lang in langs])
    handles = [Patch(facecolor=FAMILY_COLOURS[f], edgecolor="black", linewidth=0.4, label=f) for f in FAMILY_ORDER]
    shown = [v for v in values if not np.isnan(v)]
    paper_note = ""
    if compare and data.shots in paper.TABLE1:  # like with like: the paper's numbers at our k, or none
        ref = paper.fig3_gains(data.shots)
        ax.scatter(x, [ref[lang] for lang in langs], marker="D", s=18, color="black", zorder=3)
        label = "paper's Fig. 3 (k = 32)" if data.shots == 32 else f"paper, k = {data.shots} (its Table I)"
        handles.append(Line2D([], [], marker="D", color="black", linestyle="none", markersize=4, label=label))
        shown += list(ref.values())
        paper_note = (
            f"Diamonds: the paper's gains at the same k = {data.shots}, from its Table I (pre-trained "
            "xlm-roberta-base)."
        )
    elif compare:
        paper_note = f"The paper has no numbers at k = {data.shots}: no paper values drawn."
    low, high = min(0.0, *shown), max(0.0, *shown)
    span = max(high - low, 1.0)
    ax.set_ylim(low - 0.08 * span, high + 0.1 * span)
    ax.legend(
        handles=handles,
        title="language family",
        fontsize=7,
        title_fontsize=7.5,
        ncol=1,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
    )
    n_text = f"n = {data.n_mpt} (MPT), {data.n_sp} (SP) runs"
    ax.set_title(
        f"Fig. 3 — {metric_name(data.runs).lower()} gain of MPT relative to SP, k = {data.shots}"
        + (" (the paper's figure: k = 32)" if data.shots != 32 else ""),
        fontsize=10,
    )
    ax.set_ylabel("relative gain (%)")
    ax.grid(axis="y", linewidth=0.3, alpha=0.6)
    meta = meta_text(data.runs, n_text)
    fig.suptitle(meta, fontsize=7, y=0.005, va="bottom")
    fig.get_layout_engine().set(rect=(0, 0.04, 1, 0.96))
    caption = (
        f"Fig. 3: relative {metric_name(data.runs).lower()} gain of MPT over SP, 100·(MPT − SP)/SP of the seed means, "
        "per language "
        f"(k = {data.shots}). {meta}." + (f" {paper_note}" if paper_note else "")
    )
    return fig, caption


def figure3(table1: Table, out_dir: Path, compare: bool = False, shots: int | None = None) -> Drawn:
    fig, text = draw_figure3(table1, compare, shots)
    if fig is None:
        _remove_stale(out_dir, FIG3_STEM)
        return Drawn(FIG3_STEM, skipped=[Skipped(f"{FIG3_STEM} (Fig. 3)", f"not written: {text}")])
    return Drawn(FIG3_STEM, save(fig, out_dir, FIG3_STEM), text)


# ---------------------------------------------------------------------------------------------- Figs. 4-5
@dataclass
class Point:
    x: Any
    mean: float
    std: float
    n: int


def ablation_points(rows: Sequence[RunRow], group: str, key: str) -> dict[str, list[Point]]:
    """Series (one per k and model) of points: x = the config value of ``key``, y = average accuracy."""
    runs, _ = select_group(rows, group, fallback_all=False)
    series: dict[str, dict[Any, dict[int, float]]] = {}
    models = {r.config["model"] for r in runs}
    for run in runs:
        if "avg" not in run.accuracy:
            continue
        name = f"k = {run.shots}" + (f", {run.config['model']}" if len(models) > 1 else "")
        series.setdefault(name, {}).setdefault(run.config.get(key), {}).setdefault(run.seed, run.accuracy["avg"])
    out = {}
    order = CATEGORY_ORDER.get(key)
    for name, by_x in series.items():
        xs = sorted(
            by_x,
            key=(lambda v: order.index(v) if order and v in order else len(order or []))
            if order
            else (lambda v: (v is None, v)),
        )
        points = []
        for x in xs:
            values = list(by_x[x].values())
            points.append(
                Point(x, float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0, len(values))
            )
        out[name] = points
    return dict(sorted(out.items()))


def _chance_line(ax, chance: float) -> None:
    ax.axhline(chance, color=CHANCE, linestyle="--", linewidth=0.9, zorder=1, label=f"{CHANCE_LABEL} ({chance:.1f})")


def _panel(ax, rows: Sequence[RunRow], group: str, chance: float) -> list[RunRow]:
    key, title, default, kind = ABLATIONS[group]
    series = ablation_points(rows, group, key)
    runs, _ = select_group(rows, group, fallback_all=False)
    ax.set_title(title, fontsize=9)
    ax.grid(axis="y", linewidth=0.3, alpha=0.6)
    ax.tick_params(labelsize=7)
    if len(series) == 1:
        ax.set_title(f"{title} ({next(iter(series))})", fontsize=9)
    high = max(p.mean + p.std for pts in series.values() for p in pts)
    if kind == "bar":
        categories = list(dict.fromkeys(p.x for pts in series.values() for p in pts))
        categories.sort(key=lambda v: CATEGORY_ORDER[key].index(v) if v in CATEGORY_ORDER.get(key, []) else 99)
        width = 0.8 / len(series)
        for i, (name, points) in enumerate(series.items()):
            by_x = {p.x: p for p in points}
            xs = np.arange(len(categories)) + (i - (len(series) - 1) / 2) * width
            means = [by_x[c].mean if c in by_x else np.nan for c in categories]
            stds = [by_x[c].std if c in by_x else 0 for c in categories]
            colours = [DEFAULT if c == default else MAIN for c in categories]
            ax.bar(
                xs,
                means,
                width * 0.9,
                yerr=stds,
                capsize=2.5,
                color=colours,
                alpha=0.9 if i == 0 else 0.6,
                label=name,
                error_kw={"linewidth": 0.8},
            )
            for xi, m, sd in zip(xs, means, stds):
                if not np.isnan(m):
                    ax.annotate(
                        f"{m:.1f}",
                        (xi, m + sd),
                        xytext=(0, 2),
                        textcoords="offset points",
                        ha="center",
                        va="bottom",
                        fontsize=6,
                    )
        ax.set_xticks(np.arange(len(categories)), [str(c) for c in categories], rotation=30, ha="right")
        _chance_line(ax, chance)
        ax.set_ylim(0.0, max(high, chance) * 1.35)  # bars are lengths: the axis starts at zero; room for the legend
        ax.set_ylabel(f"avg {metric_name(rows).lower()} (%)", fontsize=8)
    else:
        for name, points in series.items():
            xs = [p.x for p in points]
            ax.errorbar(
                xs,
                [p.mean for p in points],
                yerr=[p.std for p in points],
                marker="o",
                markersize=3.5,
                capsize=2.5,
                linewidth=1.2,
                label=name,
                color=MAIN if len(series) == 1 else None,
            )
            for p in points:
                if p.x == default:
                    ax.plot([p.x], [p.mean], marker="o", markersize=6, color=DEFAULT, zorder=3)
        if key in ("prompt_length", "parallel_size"):
            ax.set_xscale("log", base=2 if key == "prompt_length" else 10)
            ticks = sorted({p.x for pts in series.values() for p in pts})
            ax.set_xticks(ticks, [str(t) for t in ticks])
            ax.minorticks_off()
        ax.set_xlabel(
            {"prompt_length": "m (prompt vectors)", "alpha": "α", "parallel_size": "parallel pairs"}.get(key, key),
            fontsize=8,
        )
        _chance_line(ax, chance)
        low = min(min(p.mean - p.std for pts in series.values() for p in pts), chance)
        pad = max(1.0, 0.1 * (max(high, chance) - low))
        bottom = max(0.0, math.floor(low - pad))
        ax.set_ylim(bottom, max(high, chance) + 2.5 * pad)
        ax.set_ylabel(
            f"avg {metric_name(rows).lower()} (%)" + (f", axis from {bottom:g}, not 0" if bottom > 0 else ""),
            fontsize=8,
        )
    from matplotlib.lines import Line2D

    handles, _ = ax.get_legend_handles_labels()
    if len(series) == 1:  # its k is in the panel's title
        handles = [h for h in handles if h.get_label().startswith(CHANCE_LABEL)]
    handles.append(
        Line2D(
            [],
            [],
            marker="s" if kind == "bar" else "o",
            color=DEFAULT,
            linestyle="none",
            markersize=6,
            label=f"paper's setting ({default})",
        )
    )
    ax.legend(handles=handles, fontsize=6.5, frameon=True, framealpha=0.8, loc="upper right")
    return runs


def draw_ablation_figure(rows: Sequence[RunRow], groups: Sequence[str], title: str):
    """The panels of ``groups`` that have runs, as a ``Figure`` with its caption and the panels left out;
    ``(None, "", left_out)`` when no group has a run."""
    present = [g for g in groups if ablation_points(rows, g, ABLATIONS[g][0])]
    left_out = [g for g in groups if g not in present]
    if not present:
        return None, "", left_out
    used: list[RunRow] = []
    for group in present:
        used += select_group(rows, group, fallback_all=False)[0]
    chance = chance_level(used)
    width = max(4.0 * len(present) + 0.5, 6.5)
    fig = _figure(width, 3.9 + 0.25 * (len(present) == 1))
    axes = fig.subplots(1, len(present))
    for ax, group in zip(np.atleast_1d(axes), present):
        _panel(ax, rows, group, chance)
    ns = [p.n for group in present for pts in ablation_points(rows, group, ABLATIONS[group][0]).values() for p in pts]
    n_text = f"n = {min(ns)}" + (f"–{max(ns)}" if max(ns) != min(ns) else "") + " runs per point"
    meta = meta_text(used, n_text)
    chars = int(width * 14)  # about 14 characters of 8.5 pt text per inch
    gone = ("left out, no runs: " + ", ".join(ABLATIONS[g][1] for g in left_out)) if left_out else ""
    fig.suptitle(
        "\n".join(textwrap.wrap(title, chars) + textwrap.wrap(meta, chars) + textwrap.wrap(gone, chars)), fontsize=8.5
    )
    caption = f"{title}. {meta}. Dashed line: chance ({chance:.1f} %)."
    if left_out:
        caption += " Left out (no runs): " + ", ".join(f"{ABLATIONS[g][1]} ('{g}')" for g in left_out) + "."
    return fig, caption, left_out


def ablation_figure(rows: Sequence[RunRow], groups: Sequence[str], out_dir: Path, stem: str, title: str) -> Drawn:
    fig, caption, left_out = draw_ablation_figure(rows, groups, title)
    if fig is None:
        _remove_stale(out_dir, stem)
        names = ", ".join(f"'{g}'" for g in groups)
        return Drawn(
            stem,
            skipped=[
                Skipped(
                    stem,
                    f"not written: no finished runs in its groups {names} (run configs/ablations.yaml into this store)",
                )
            ],
        )
    skipped = [Skipped(stem, f"panel '{ABLATIONS[g][1]}' left out: no finished runs in group '{g}'") for g in left_out]
    return Drawn(stem, save(fig, out_dir, stem), caption, skipped)


FIG4_TITLE = "Fig. 4 — MPT: translator architecture and prompt position (mean ± std over seeds)"
FIG5_TITLE = "Fig. 5 — MPT: prompt length, loss weight α, external corpus size (mean ± std over seeds)"


def figure4(rows: Sequence[RunRow], out_dir: Path) -> Drawn:
    return ablation_figure(rows, FIG4_GROUPS, out_dir, "fig4_ablations", FIG4_TITLE)


def figure5(rows: Sequence[RunRow], out_dir: Path) -> Drawn:
    return ablation_figure(rows, FIG5_GROUPS, out_dir, "fig5_ablations", FIG5_TITLE)
