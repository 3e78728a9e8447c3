"""The toy world's study page (``toy_study.md`` and ``toy_transfer.png``): the paper's questions asked of the toy
world (:mod:`xlprompt.data.toy`), from the runs of task ``toy`` in a store.

* **The table**: one row per setting (the sweep's variant name, else the method) and ``k``: accuracy per language
  and the mean of the target languages ("targets"), mean ± std over seeds; then the difference of the targets'
  mean from SP's at the same ``k`` and the two-tailed p-value of the **paired** t-test over the seeds both ran
  (``scipy.stats.ttest_rel``; a seed fixes the same few-shot sample for every method, so runs pair by seed).
* **The figure**: for each ``k``, each setting's gain over SP on each target language (mean over the shared
  seeds) against that language's distance from the source (:func:`xlprompt.data.toy.language_distance`).
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Sequence

#: the baseline of the paired test (the method's name)
BASELINE = "sp"
TASK = "toy"


def _setting(row, group: str | None) -> str:
    names = [v for g, v in row.labels if group is None or g == group]
    return names[0] if names else row.method.upper()


def collect(rows: Sequence, group: str | None = None) -> dict[tuple[int, str], dict[int, dict[str, float]]]:
    """``{(k, setting): {seed: accuracy by language}}`` of the toy runs among ``rows`` (report RunRow objects).

    Args:
        rows (Sequence): the store's finished runs.
        group (str | None): the sweep group whose variant names label the settings (None: any group's).

    Returns:
        dict: per (k, setting), the accuracies of each seed.
    """
    out: dict[tuple[int, str], dict[int, dict[str, float]]] = {}
    for row in rows:
        if str(row.config.get("task")) != TASK:
            continue
        out.setdefault((row.shots, _setting(row, group)), {})[row.seed] = dict(row.accuracy)
    return out


def targets_mean(accuracy: dict[str, float], targets: Sequence[str]) -> float:
    return statistics.fmean(accuracy[lang] for lang in targets)


def paired_test(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-tailed p-value of the paired t-test of ``a`` against ``b`` (NaN with fewer than 2 pairs or no
    spread in the differences)."""
    if len(a) < 2 or len({x - y for x, y in zip(a, b)}) < 2:
        return math.nan
    from scipy.stats import ttest_rel

    return float(ttest_rel(a, b).pvalue)


#: the study's settings in the order of configs/toy_study.yaml (others after them, by name)
ORDER = (
    "original mpt",
    "w/o consistency loss",
    "w/o prompt translator",
    "sp",
    "w/o mpt framework",
    "ft",
    "pct",
    "dp",
    "dpa",
    "softmv",
)


def _order(setting: str) -> tuple[int, str]:
    name = setting.lower()
    return (ORDER.index(name), "") if name in ORDER else (len(ORDER), name)


def _cell(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.fmean(values):.1f} ± {statistics.stdev(values):.1f}"


def _baseline_key(data, k: int):
    keys = [key for key in data if key[0] == k and key[1].lower() in (BASELINE, "w/o mpt framework")]
    return keys[0] if keys else None


def to_markdown(data) -> str:
    """The study's table (see the module's text)."""
    from xlprompt.data.toy import TOY_LANGUAGES, TOY_TARGETS, language_distance

    langs = [lang for lang in TOY_LANGUAGES]
    head = ["k", "setting", *langs, "targets", "Δ targets vs SP", "p (paired)", "seeds"]
    lines = [
        "## The toy world's study",
        "",
        "Accuracy (%) on the 900 test items of each language, mean ± std over seeds; chance 33.3. "
        "targets: the mean of " + ", ".join(TOY_TARGETS) + ". Δ and p: against SP at the same k, paired by seed "
        "(two-tailed paired t-test). Distance from the source (word-level edit distance): "
        + ", ".join(f"{lang} {language_distance(lang):.2f}" for lang in TOY_TARGETS)
        + ".",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for (k, setting), seeds in sorted(data.items(), key=lambda kv: (kv[0][0], _order(kv[0][1]))):
        cells = [_cell([acc[lang] for acc in seeds.values()]) for lang in langs]
        tgt = [targets_mean(acc, TOY_TARGETS) for acc in seeds.values()]
        base = _baseline_key(data, k)
        delta = p = "–"
        if base is not None and base != (k, setting):
            shared = sorted(set(seeds) & set(data[base]))
            a = [targets_mean(seeds[s], TOY_TARGETS) for s in shared]
            b = [targets_mean(data[base][s], TOY_TARGETS) for s in shared]
            if shared:
                delta = f"{statistics.fmean(a) - statistics.fmean(b):+.1f}"
                value = paired_test(a, b)
                p = "–" if math.isnan(value) else ("<0.001" if value < 0.001 else f"{value:.3f}")
        lines.append("| " + " | ".join([str(k), setting, *cells, _cell(tgt), delta, p, str(len(seeds))]) + " |")
    return "\n".join(lines) + "\n"


def figure(data, out_dir: Path) -> list[Path]:
    """``toy_transfer.png`` / ``.pdf``: each setting's gain over SP per target language against its distance from
    the source, one panel per k. Returns the files written (none without an SP baseline)."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    from xlprompt.data.toy import TOY_TARGETS, language_distance

    ks = sorted({k for k, _ in data if _baseline_key(data, k) is not None})
    if not ks:
        return []
    settings = sorted({name for k, name in data if k in ks and (k, name) != _baseline_key(data, k)}, key=_order)
    colours = {name: f"C{i % 10}" for i, name in enumerate(settings)}
    markers = {name: "osD^v<>p*h"[(i // 10) % 10] for i, name in enumerate(settings)}
    fig = Figure(figsize=(3.6 * len(ks) + 2.2, 3.8))
    distance = [language_distance(lang) for lang in TOY_TARGETS]
    first = None
    for i, k in enumerate(ks):
        ax = fig.add_subplot(1, len(ks), i + 1, sharey=first)
        first = first or ax
        base = data[_baseline_key(data, k)]
        for setting in settings:
            seeds = data.get((k, setting))
            shared = sorted(set(seeds or ()) & set(base))
            if not shared:
                continue
            gains = [statistics.fmean(seeds[s][lang] - base[s][lang] for s in shared) for lang in TOY_TARGETS]
            ax.plot(distance, gains, marker=markers[setting], color=colours[setting], label=setting)
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xticks(distance)
        ax.set_xticklabels([f"{lang}\n{x:.2f}" for lang, x in zip(TOY_TARGETS, distance)], fontsize=8)
        ax.set_xlabel("target (distance from en)", fontsize=9)
        if i == 0:
            ax.set_ylabel("gain over SP (points)")
        ax.set_title(f"k = {k}")
    handles = [Line2D([], [], color=colours[name], marker=markers[name], label=name) for name in settings]
    fig.legend(handles=handles, loc="center right", fontsize=7)
    fig.tight_layout(rect=(0, 0, 1 - 2.0 / (3.6 * len(ks) + 2.2), 1))
    from xlprompt.report.figures import save

    return save(fig, Path(out_dir), "toy_transfer", dpi=120)
