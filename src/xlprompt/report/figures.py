"""The paper's figures from the store: Fig. 3 (gain of MPT over SP per language) and Figs. 4–5 (ablations).

Drawn with matplotlib's object API (``matplotlib.figure.Figure``: the Agg canvas, no display, no global
pyplot state) and written as PNG and PDF.

* **Fig. 3** — relative gain of MPT over SP, ``100 · (MPT − SP) / SP`` of the seed-mean accuracy, per language,
  at k = 32 (the paper's) or, without k = 32 runs, the largest k with both methods. Bars are coloured by
  the 11 language families of :data:`xlprompt.languages.LANGUAGE_FAMILIES`, languages grouped by family,
  with a legend of the families. With ``compare`` the paper's values (from its Table I) are drawn as
  black diamonds.
* **Fig. 4** — translator architecture (group ``fig4-translator``) and prompt position (``fig4-position``):
  bars of the average accuracy, mean ± std over seeds.
* **Fig. 5** — prompt length (``fig5-length``), α (``fig5-alpha``) and external-corpus size
  (``fig5-external``): lines with error bars (± std over seeds).

The runs come from :mod:`xlprompt.report.tables` (Table I's runs for Fig. 3; the groups of
``configs/ablations.yaml`` for Figs. 4–5). Each figure states the model, whether its weights were random
("random weights: chance-level"), the seeds and n; a panel without runs says so instead of being left out.
The paper's default of each axis (linear-2, suffix, 4, 0.5, 500) is drawn in a darker colour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from xlprompt.languages import LANGUAGE_FAMILIES, XNLI_LANGUAGES
from xlprompt.report import paper
from xlprompt.report.tables import RANDOM_NOTE, RunRow, Table, select_group

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
FAMILY_COLOURS: dict[str, str] = dict(zip(FAMILY_ORDER, [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
    "#17becf", "#393b79"]))
MAIN = "#4c72b0"
DEFAULT = "#1b2a49"


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=150, layout="constrained")
    FigureCanvasAgg(fig)  # the Agg canvas, whatever backend pyplot may have elsewhere
    return fig


def meta_text(runs: Sequence[RunRow], n_text: str) -> str:
    models = ", ".join(sorted({r.config["model"] for r in runs})) or "–"
    random = any(r.random_weights for r in runs)
    seeds = ", ".join(map(str, sorted({r.seed for r in runs}))) or "–"
    if not runs:
        return "no finished runs"
    weights = RANDOM_NOTE if random else "random weights: no"
    return f"model: {models} · {weights} · seeds: {seeds} · {n_text}"


def save(fig, out_dir: Path, stem: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{stem}.png", out_dir / f"{stem}.pdf"]
    for path in paths:
        fig.savefig(path)
    return paths


# ---------------------------------------------------------------------------------------------- Fig. 3
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


def figure3(table1: Table, out_dir: Path, compare: bool = False, shots: int | None = None) -> list[Path]:
    from matplotlib.patches import Patch

    data = fig3_gains(table1, shots)
    fig = _figure(9.5, 4.4)
    ax = fig.add_subplot()
    langs = sorted(XNLI_LANGUAGES, key=lambda lang: (FAMILY_ORDER.index(LANGUAGE_FAMILIES[lang]), lang))
    if data.gains:
        x = np.arange(len(langs))
        values = [data.gains.get(lang, np.nan) for lang in langs]
        colours = [FAMILY_COLOURS[LANGUAGE_FAMILIES[lang]] for lang in langs]
        ax.bar(x, values, color=colours, width=0.75, edgecolor="black", linewidth=0.4)
        # a dot at each bar's end, so that a gain of (about) zero still shows its family's colour
        ax.scatter(x, values, c=colours, s=22, edgecolors="black", linewidths=0.4, zorder=3)
        for xi, v in zip(x, values):
            if not np.isnan(v):
                ax.annotate(f"{v:.1f}", (xi, v), xytext=(0, 5 if v >= 0 else -12), textcoords="offset points",
                            ha="center", fontsize=6.5)
        ax.axhline(0, color="black", linewidth=0.6)
        ax.set_xticks(x, [lang.upper() for lang in langs])
        handles = [Patch(facecolor=FAMILY_COLOURS[f], edgecolor="black", linewidth=0.4, label=f) for f in FAMILY_ORDER]
        if compare and 32 in paper.TABLE1:
            ref = paper.fig3_gains(32)
            ax.scatter(x, [ref[lang] for lang in langs], marker="D", s=18, color="black", zorder=3)
            from matplotlib.lines import Line2D

            handles.append(Line2D([], [], marker="D", color="black", linestyle="none", markersize=4,
                                  label="paper (k = 32)"))
        shown = [v for v in values if not np.isnan(v)] + (list(paper.fig3_gains(32).values()) if compare else [])
        low, high = min(0.0, *shown), max(0.0, *shown)
        span = max(high - low, 1.0)
        ax.set_ylim(low - 0.08 * span, high + 0.1 * span)
        ax.legend(handles=handles, title="language family", fontsize=7, title_fontsize=7.5, ncol=1,
                  loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        n_text = f"n = {data.n_mpt} (MPT), {data.n_sp} (SP) runs"
        ax.set_title(f"Fig. 3 — accuracy gain of MPT relative to SP, k = {data.shots}"
                     + (" (the paper's figure: k = 32)" if data.shots != 32 else ""), fontsize=10)
    else:
        ax.text(0.5, 0.5, "no runs of both MPT and SP at one k (Table I runs)", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_xticks([])
        n_text = "n = 0"
        ax.set_title("Fig. 3 — accuracy gain of MPT relative to SP", fontsize=10)
    ax.set_ylabel("relative gain (%)")
    ax.grid(axis="y", linewidth=0.3, alpha=0.6)
    fig.suptitle(meta_text(data.runs, n_text), fontsize=7, y=0.005, va="bottom")
    fig.get_layout_engine().set(rect=(0, 0.04, 1, 0.96))
    return save(fig, out_dir, "fig3_gain")


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
        xs = sorted(by_x, key=(lambda v: order.index(v) if order and v in order else len(order or []))
                    if order else (lambda v: (v is None, v)))
        points = []
        for x in xs:
            values = list(by_x[x].values())
            points.append(Point(x, float(np.mean(values)),
                                float(np.std(values, ddof=1)) if len(values) > 1 else 0.0, len(values)))
        out[name] = points
    return dict(sorted(out.items()))


def _panel(ax, rows: Sequence[RunRow], group: str) -> list[RunRow]:
    key, title, default, kind = ABLATIONS[group]
    series = ablation_points(rows, group, key)
    runs, _ = select_group(rows, group, fallback_all=False)
    ax.set_title(title, fontsize=9)
    ax.grid(axis="y", linewidth=0.3, alpha=0.6)
    if not series:
        ax.text(0.5, 0.5, f"no runs in group\n'{group}'", ha="center", va="center", transform=ax.transAxes,
                fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        return runs
    ax.set_ylabel("avg accuracy (%)", fontsize=8)
    ax.tick_params(labelsize=7)
    if len(series) == 1:
        ax.set_title(f"{title} ({next(iter(series))})", fontsize=9)
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
            ax.bar(xs, means, width * 0.9, yerr=stds, capsize=2.5, color=colours, alpha=0.9 if i == 0 else 0.6,
                   label=name, error_kw={"linewidth": 0.8})
        ax.set_xticks(np.arange(len(categories)), [str(c) for c in categories], rotation=30, ha="right")
        low = min(p.mean - p.std for pts in series.values() for p in pts)
        high = max(p.mean + p.std for pts in series.values() for p in pts)
        pad = max(1.0, 0.15 * (high - low))
        ax.set_ylim(max(0.0, low - 3 * pad), high + 2.5 * pad)
    else:
        for name, points in series.items():
            xs = [p.x for p in points]
            ax.errorbar(xs, [p.mean for p in points], yerr=[p.std for p in points], marker="o", markersize=3.5,
                        capsize=2.5, linewidth=1.2, label=name, color=MAIN if len(series) == 1 else None)
            for p in points:
                if p.x == default:
                    ax.plot([p.x], [p.mean], marker="o", markersize=6, color=DEFAULT, zorder=3)
        if key in ("prompt_length", "parallel_size"):
            ax.set_xscale("log", base=2 if key == "prompt_length" else 10)
            ticks = sorted({p.x for pts in series.values() for p in pts})
            ax.set_xticks(ticks, [str(t) for t in ticks])
            ax.minorticks_off()
        ax.set_xlabel({"prompt_length": "m (prompt vectors)", "alpha": "α",
                       "parallel_size": "parallel pairs"}.get(key, key), fontsize=8)
    from matplotlib.lines import Line2D

    handles, _ = ax.get_legend_handles_labels()
    if kind == "bar" and len(series) == 1:
        handles = []
    handles.append(Line2D([], [], marker="s" if kind == "bar" else "o", color=DEFAULT, linestyle="none",
                          markersize=6, label=f"paper's setting ({default})"))
    ax.legend(handles=handles, fontsize=6.5, frameon=True, framealpha=0.8, loc="best")
    return runs


def ablation_figure(rows: Sequence[RunRow], groups: Sequence[str], out_dir: Path, stem: str, title: str) -> list[Path]:
    fig = _figure(4.0 * len(groups) + 0.5, 3.7)
    axes = fig.subplots(1, len(groups))
    used: list[RunRow] = []
    for ax, group in zip(np.atleast_1d(axes), groups):
        used += _panel(ax, rows, group)
    ns = []
    for group in groups:
        key = ABLATIONS[group][0]
        ns += [p.n for pts in ablation_points(rows, group, key).values() for p in pts]
    n_text = (f"n = {min(ns)}" + (f"–{max(ns)}" if max(ns) != min(ns) else "") + " runs per point") if ns else "n = 0"
    fig.suptitle(title + "\n" + meta_text(used, n_text), fontsize=8.5)
    return save(fig, out_dir, stem)


def figure4(rows: Sequence[RunRow], out_dir: Path) -> list[Path]:
    return ablation_figure(rows, FIG4_GROUPS, out_dir, "fig4_ablations",
                           "Fig. 4 — MPT: translator architecture and prompt position (mean ± std over seeds)")


def figure5(rows: Sequence[RunRow], out_dir: Path) -> list[Path]:
    return ablation_figure(rows, FIG5_GROUPS, out_dir, "fig5_ablations",
                           "Fig. 5 — MPT: prompt length, loss weight α, external corpus size (mean ± std over seeds)")
