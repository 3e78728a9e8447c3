"""Aggregating the store's finished runs into the paper's tables.

**Table I** (methods × 15 languages + Avg, one block per k): the runs of group ``table1`` (all finished runs
if the store has no such group). Runs are pooled only when their configs are identical except for the
seed, so nothing different is ever averaged together: a block has one row per distinct config, labelled by
its method (FT, SP, PCT, MPT, in the paper's order) plus, where rows of the same method differ in other
keys (model, alpha, ...), those keys. Each cell is the mean over seeds, with the sample standard deviation
(``ddof=1``; 0 for one run) and n, the number of runs.

**Table II** (the ablation variants of group ``table2``, one block per k, k = 64 first): cells as in Table I,
plus the two-tailed p-value of Student's t-test (``scipy.stats.ttest_ind``, equal variances, unpaired)
between each variant and the reference variant ("Original MPT", or the sweep file's ``reference``).

The t-test's samples: by default (``samples="seeds"``) one number per run — the run's average accuracy
over the 15 languages — so n = the number of seeds per variant (5 in the paper's setup). This is the
reading of "two-tailed t-tests" over repeated runs that the paper's 5 seeds support; the paper does not
say what its samples were, and its p-values cannot be recomputed from its tables (a t-test over the 15
per-language means of Table II gives p of the same order: 3.9e-6 for "w/o consistency loss" against the
paper's 9.7e-7). ``samples="seed-language"`` uses every (seed, language) accuracy instead (n = 15 × seeds).
Fewer than 2 samples on a side, or no variance at all, gives p = NaN (printed "n/a").

Every table carries its :class:`TableMeta`: the model(s), whether the weights were random (then labelled
"random weights: chance-level" everywhere), the seeds, n per cell, and the evaluation cap.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

from xlprompt.languages import XNLI_LANGUAGES
from xlprompt.report import paper

COLUMNS: tuple[str, ...] = XNLI_LANGUAGES + ("avg",)
COLUMN_NAMES: dict[str, str] = {**{lang: lang.upper() for lang in XNLI_LANGUAGES}, "avg": "Avg"}
METHOD_ORDER: tuple[str, ...] = ("ft", "sp", "pct", "mpt")
METHOD_NAMES: dict[str, str] = {"ft": "FT", "sp": "SP", "pct": "PCT", "mpt": "MPT"}
TABLE1_GROUP = "table1"
TABLE2_GROUP = "table2"
TTEST_SAMPLES = ("seeds", "seed-language")
#: config keys that never separate rows (they are what a row aggregates over or is labelled by)
_POOLED_KEYS = ("seed",)
RANDOM_NOTE = "random weights: chance-level"
#: the metrics a report can show (``xlprompt report --metric``): each run records both per language
METRICS: tuple[str, ...] = ("accuracy", "macro_f1")
METRIC_NAMES: dict[str, str] = {"accuracy": "Accuracy", "macro_f1": "Macro-F1"}


@dataclass
class RunRow:
    """One finished run as the report sees it. ``accuracy``: the per-language numbers (and ``avg``) of the
    report's metric (``metric``: accuracy unless the report asks for macro-F1); ``counts``: the per-class counts
    per language (runs recorded before xlprompt kept them: empty)."""

    hash: str
    config: dict[str, Any]
    accuracy: dict[str, float]
    random_weights: bool
    labels: list[tuple[str, str]]
    eval_max_per_language: int | None = None
    eval_split: str = "test"
    metric: str = "accuracy"
    counts: dict[str, list[dict]] = field(default_factory=dict)
    #: the per-language tables of the other recorded metrics (metric → language → number), for the tables that
    #: show both (SIB-200 by group)
    other: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def method(self) -> str:
        return self.config["method"]

    @property
    def shots(self) -> int:
        return int(self.config["shots"])

    @property
    def seed(self) -> int:
        return int(self.config["seed"])

    def signature(self) -> str:
        """The config without the seed: runs with equal signatures are seeds of one setting."""
        return json.dumps({k: v for k, v in self.config.items() if k not in _POOLED_KEYS}, sort_keys=True)

    def in_group(self, group: str) -> bool:
        return any(g == group for g, _ in self.labels)

    def variants(self, group: str) -> list[str]:
        return [v for g, v in self.labels if g == group]


def metric_name(runs: Sequence[RunRow]) -> str:
    """The name of the metric of ``runs`` (a report has one): "Accuracy" or "Macro-F1"."""
    return METRIC_NAMES[runs[0].metric] if runs else METRIC_NAMES["accuracy"]


def check_metric(metric: str) -> str:
    """``metric`` if it is one of :data:`METRICS`, else a one-line :class:`ConfigError` naming the choices."""
    if metric not in METRICS:
        from xlprompt.errors import ConfigError

        raise ConfigError(f"--metric must be one of {', '.join(METRICS)}, not '{metric}'")
    return metric


def rows_from_store(store, metric: str = "accuracy") -> list[RunRow]:
    """Finished runs of a :class:`xlprompt.store.ResultStore` (or its path), with the per-language numbers of
    ``metric`` (``accuracy`` or ``macro_f1``). A run recorded before xlprompt recorded macro-F1 is left out of a
    macro-F1 report, with one warning line naming it."""
    check_metric(metric)
    from xlprompt.store import ResultStore

    own = not hasattr(store, "finished")
    if own:
        store = ResultStore(store, create=False, readonly=True)
    try:
        rows = []
        for rec in store.finished():
            problem = row_problem(rec.config, rec.results)
            if problem:  # one line per bad row, and the report goes on without it
                warnings.warn(f"{store.path}: run {rec.hash} left out of the report: {problem}", stacklevel=2)
                continue
            results = rec.results
            values = results.get(metric)
            if metric != "accuracy" and isinstance(values, dict) and row_problem(rec.config, {"accuracy": values}):
                values = None  # a malformed table: left out below like a missing one
            if not isinstance(values, dict) or not values:
                warnings.warn(
                    f"{store.path}: run {rec.hash} left out of the report: it has no {metric} table (recorded "
                    f"before xlprompt recorded {METRIC_NAMES[metric]}); report --metric accuracy, or run it again",
                    stacklevel=2,
                )
                continue
            counts = results.get("counts")
            other = {
                m: {k: float(v) for k, v in results[m].items()}
                for m in METRICS
                if m != metric
                and isinstance(results.get(m), dict)
                and results[m]
                and not row_problem(rec.config, {"accuracy": results[m]})
            }
            rows.append(
                RunRow(
                    rec.hash,
                    rec.config,
                    {k: float(v) for k, v in values.items()},
                    bool(results.get("random_weights")),
                    rec.labels,
                    results.get("eval_max_per_language"),
                    results.get("eval_split", "test"),
                    metric,
                    counts if isinstance(counts, dict) else {},
                    other,
                )
            )
        return rows
    finally:
        if own:
            store.close()


def row_problem(config: Any, results: Any) -> str | None:
    """What is wrong with the shape of a finished run's stored config / results, or None if nothing."""
    if not isinstance(config, dict):
        return f"its config is {type(config).__name__}, not an object"
    for key, kind in (("method", str), ("model", str), ("shots", int), ("seed", int)):
        if not isinstance(config.get(key), kind) or isinstance(config.get(key), bool):
            return f"its config has no valid '{key}'"
    if not isinstance(results, dict):
        return f"its results are {type(results).__name__}, not an object"
    accuracy = results.get("accuracy")
    if not isinstance(accuracy, dict) or not accuracy:
        return "its results have no 'accuracy' table"
    for lang, value in accuracy.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return f"its accuracy of '{lang}' is {value!r}, not a number"
    return None


@dataclass
class Cell:
    """Mean ± sample std over n runs (``values`` are the per-run numbers)."""

    values: list[float]

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return float(np.mean(self.values)) if self.values else math.nan

    @property
    def std(self) -> float:
        return float(np.std(self.values, ddof=1)) if self.n > 1 else 0.0

    def text(self, digits: int = 1, std: bool = True) -> str:
        if not self.values:
            return "–"
        return f"{self.mean:.{digits}f}" + (f" ± {self.std:.{digits}f}" if std else "")


@dataclass
class Row:
    label: str
    cells: dict[str, Cell]
    runs: list[RunRow]
    #: what the paper calls this row (method for Table I, variant for Table II); None: no paper counterpart
    paper_key: str | None = None
    p_value: float | None = None
    is_reference: bool = False

    @property
    def n(self) -> int:
        return len(self.runs)

    @property
    def recipe(self) -> str:
        """The recipe of the row's runs (``reference``, ``uniform``); runs stored before recipes
        existed ran on xlprompt's old shared defaults: shown as ``-``."""
        return ",".join(sorted({str(r.config.get("recipe", "-")) for r in self.runs})) or "-"

    @property
    def seeds(self) -> list[int]:
        return sorted({r.seed for r in self.runs})

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages every run of the row was evaluated on: what its Avg covers."""
        common = set(XNLI_LANGUAGES)
        for run in self.runs:
            common &= set(run.accuracy)
        return tuple(lang for lang in XNLI_LANGUAGES if lang in common)

    @property
    def full_average(self) -> bool:
        """Whether the row's Avg is over all 15 XNLI languages (like the paper's), so comparable with it."""
        return len(self.languages) == len(XNLI_LANGUAGES)


@dataclass
class Block:
    shots: int
    rows: list[Row]

    @property
    def title(self) -> str:
        return f"k = {self.shots or 'all'}"


@dataclass
class TableMeta:
    models: list[str]
    random_weights: bool
    seeds: list[int]
    n_min: int
    n_max: int
    eval_caps: list[int | None]
    eval_split: str = "test"
    data_dirs: list[str] = field(default_factory=list)

    def line(self) -> str:
        """One line: model, random weights yes/no, seeds, n, eval cap."""
        if not self.models:
            return "no finished runs"
        n = str(self.n_min) if self.n_min == self.n_max else f"{self.n_min}–{self.n_max}"
        weights = RANDOM_NOTE if self.random_weights else "random weights: no"
        caps = sorted({c for c in self.eval_caps if c})
        cap = (
            f"{self.eval_split} split capped at {', '.join(map(str, caps))} examples/language"
            if caps
            else f"full {self.eval_split} split"
        )
        data = ", ".join(self.data_dirs) or "default data folder"
        return (
            f"model: {', '.join(self.models)}; {weights}; "
            f"seeds: {', '.join(map(str, self.seeds)) or '–'}; n = {n} runs per cell; data: {data} ({cap})"
        )


@dataclass
class Table:
    name: str  # "Table I" / "Table II"
    title: str
    group: str | None
    blocks: list[Block]
    meta: TableMeta
    has_p_values: bool = False
    samples: str = "seeds"
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any(b.rows for b in self.blocks)

    def column_name(self, column: str) -> str:
        """A column's header; the average says what it covers when that is not the 15 languages."""
        if column != "avg":
            return COLUMN_NAMES[column]
        counts = sorted({len(row.languages) for b in self.blocks for row in b.rows})
        if not counts or counts == [len(XNLI_LANGUAGES)]:
            return "Avg"
        span = str(counts[0]) if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"
        return f"Avg ({span} langs)"

    def average_notes(self) -> list[str]:
        """A note for each row whose Avg is not over the 15 languages (which ones it covers)."""
        notes = []
        for block in self.blocks:
            for row in block.rows:
                if not row.full_average:
                    notes.append(
                        f"{block.title}, {row.label}: Avg is the mean over {len(row.languages)} "
                        f"languages ({', '.join(row.languages).upper()}), not the paper's 15; it is not "
                        "compared with the paper's Avg"
                    )
        return notes

    def paper_cell(self, block: Block, row: Row, column: str) -> float | None:
        if row.paper_key is None:
            return None
        if column == "avg" and not row.full_average:
            return None  # the paper's Avg is over 15 languages: compared only like with like
        if self.has_p_values:
            return paper.table2_cell(block.shots, row.paper_key, column)
        return paper.table1_cell(block.shots, row.paper_key, column)

    def paper_p_value(self, block: Block, row: Row) -> float | None:
        if not self.has_p_values or row.paper_key is None or not row.full_average:
            return None
        return paper.table2_p_value(block.shots, row.paper_key)


def _meta(runs: Sequence[RunRow], rows: Iterable[Row]) -> TableMeta:
    sizes = [r.n for r in rows] or [0]
    return TableMeta(
        models=sorted({r.config["model"] for r in runs}),
        random_weights=any(r.random_weights for r in runs),
        seeds=sorted({r.seed for r in runs}),
        n_min=min(sizes),
        n_max=max(sizes),
        eval_caps=sorted({r.eval_max_per_language for r in runs}, key=lambda c: (c is None, c or 0)),
        eval_split=",".join(sorted({r.eval_split for r in runs})) or "test",
        data_dirs=sorted({str(r.config.get("data_dir") or "default data folder") for r in runs}),
    )


def _cells(runs: Sequence[RunRow]) -> dict[str, Cell]:
    return {col: Cell([float(r.accuracy[col]) for r in runs if col in r.accuracy]) for col in COLUMNS}


def _differing_keys(runs: Sequence[RunRow], ignore: Iterable[str]) -> list[str]:
    skip = set(_POOLED_KEYS) | set(ignore)
    keys = sorted({k for r in runs for k in r.config} - skip)
    return [k for k in keys if len({json.dumps(r.config.get(k)) for r in runs}) > 1]


def _pool(runs: Sequence[RunRow]) -> dict[str, list[RunRow]]:
    """Runs grouped by signature (config minus seed); one run per (signature, seed) — the first."""
    pooled: dict[str, dict[int, RunRow]] = {}
    for run in runs:
        pooled.setdefault(run.signature(), {}).setdefault(run.seed, run)
    return {sig: list(by_seed.values()) for sig, by_seed in pooled.items()}


def select_group(rows: Sequence[RunRow], group: str | None, fallback_all: bool) -> tuple[list[RunRow], str | None]:
    """Runs of ``group``; if there are none and ``fallback_all``, every run (the group is then None)."""
    if group:
        chosen = [r for r in rows if r.in_group(group)]
        if chosen or not fallback_all:
            return chosen, group
    return (list(rows), None) if fallback_all else ([], group)


def table1(rows: Sequence[RunRow], group: str | None = TABLE1_GROUP) -> Table:
    """Table I: see the module docstring."""
    runs, used_group = select_group(rows, group, fallback_all=True)
    blocks = []
    for shots in sorted({r.shots for r in runs}):
        in_block = [r for r in runs if r.shots == shots]
        pools = _pool(in_block)
        block_rows = []
        for members in pools.values():
            method = members[0].method
            same_method = [r for r in in_block if r.method == method]
            extra = _differing_keys(same_method, ignore=("method", "shots"))
            if "recipe" in extra:  # the training settings that follow from the recipe are not listed again
                from xlprompt.config import UNIFORM_KEYS

                extra = [k for k in extra if k not in UNIFORM_KEYS]
            label = METHOD_NAMES.get(method, method.upper())
            if extra:
                label += " [" + ", ".join(f"{k}={members[0].config.get(k)}" for k in extra) + "]"
            # the paper's numbers are for the reference recipe; a row that differs only in its recipe keeps them
            paper_ok = (
                not [k for k in extra if k != "recipe"] and members[0].config.get("recipe", "reference") == "reference"
            )
            block_rows.append(Row(label, _cells(members), members, paper_key=method if paper_ok else None))
        block_rows.sort(
            key=lambda row: (
                METHOD_ORDER.index(row.runs[0].method) if row.runs[0].method in METHOD_ORDER else len(METHOD_ORDER),
                row.label,
            )
        )
        blocks.append(Block(shots, block_rows))
    all_rows = [row for b in blocks for row in b.rows]
    notes = [] if used_group else ([f"no runs in group '{group}': all finished runs of the store"] if group else [])
    return Table(
        "Table I",
        f"{metric_name(runs)} (%) on XNLI, few-shot: mean ± std over seeds",
        used_group,
        blocks,
        _meta(runs, all_rows),
        notes=notes,
    )


def t_test(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-tailed p-value of Student's two-sample t-test (``scipy.stats.ttest_ind``, equal variances)."""
    from scipy import stats

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or len(b) < 2:
        return math.nan
    if np.var(a) == 0 and np.var(b) == 0:
        return math.nan
    return float(stats.ttest_ind(a, b, equal_var=True, alternative="two-sided").pvalue)


def t_samples(runs: Sequence[RunRow], samples: str = "seeds") -> list[float]:
    if samples == "seeds":
        return [float(r.accuracy["avg"]) for r in runs if "avg" in r.accuracy]
    if samples == "seed-language":
        return [float(r.accuracy[lang]) for r in runs for lang in XNLI_LANGUAGES if lang in r.accuracy]
    raise ValueError(f"samples must be one of {', '.join(TTEST_SAMPLES)}, not '{samples}'")


def _variant_order(name: str) -> tuple[int, str]:
    lowered = [n.lower() for n in paper.TABLE2_ROWS]
    return (lowered.index(name.lower()), name) if name.lower() in lowered else (len(lowered), name)


def table2(
    rows: Sequence[RunRow], group: str = TABLE2_GROUP, reference: str | None = None, samples: str = "seeds"
) -> Table:
    """Table II: see the module docstring. ``reference`` defaults to "Original MPT" (any case), else the
    first variant in the paper's order."""
    if samples not in TTEST_SAMPLES:
        raise ValueError(f"samples must be one of {', '.join(TTEST_SAMPLES)}, not '{samples}'")
    runs, _ = select_group(rows, group, fallback_all=False)
    blocks = []
    for shots in sorted({r.shots for r in runs}, key=lambda k: (k != 64, -k)):
        by_variant: dict[str, list[RunRow]] = {}
        for run in (r for r in runs if r.shots == shots):
            for variant in run.variants(group):
                by_variant.setdefault(variant, []).append(run)
        names = sorted(by_variant, key=_variant_order)
        pools = {name: list(_pool(by_variant[name]).values()) for name in names}
        wanted = (reference or paper.TABLE2_REFERENCE).lower()
        ref_name = next((n for n in names if n.lower() == wanted), None)
        if ref_name is None and reference is None and names:
            ref_name = names[0]
        ref_members = pools[ref_name][0] if ref_name is not None else None
        block_rows = []
        for name in names:
            for members in pools[name]:
                label = name or "(no variant)"
                if len(pools[name]) > 1:
                    extra = _differing_keys(by_variant[name], ignore=())
                    label += " [" + ", ".join(f"{k}={members[0].config.get(k)}" for k in extra) + "]"
                is_ref = members is ref_members
                p = None
                if not is_ref and ref_members is not None:
                    p = t_test(t_samples(ref_members, samples), t_samples(members, samples))
                block_rows.append(
                    Row(
                        label,
                        _cells(members),
                        members,
                        paper_key=name if paper.table2_row(name) and len(pools[name]) == 1 else None,
                        p_value=p,
                        is_reference=is_ref,
                    )
                )
        blocks.append(Block(shots, block_rows))
    all_rows = [row for b in blocks for row in b.rows]
    notes = [
        f"p: two-tailed Student's t-test (scipy.stats.ttest_ind) against '{reference or 'Original MPT'}'; "
        + (
            "samples: each run's average accuracy (one per seed)"
            if samples == "seeds"
            else "samples: every (seed, language) accuracy"
        )
    ]
    if not runs:
        notes.insert(0, f"no runs in group '{group}' (run configs/table2.yaml into this store)")
    return Table(
        "Table II",
        f"Intrinsic analysis of MPT: {metric_name(runs).lower()} (%) mean ± std over seeds, p-value vs. the full "
        "method",
        group,
        blocks,
        _meta(runs, all_rows),
        has_p_values=True,
        samples=samples,
        notes=notes,
    )
