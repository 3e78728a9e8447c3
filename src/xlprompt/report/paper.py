"""The paper's own numbers (Qiu et al., 2024, arXiv 2403.12407), transcribed as data, and the
``--compare paper`` cell layout.

* :data:`TABLE1` — Table I: accuracy (%) on the XNLI test sets, mean over 5 seeds, for each k (per class)
  and method, in the column order of :data:`COLUMNS` (the 15 XNLI languages, then Avg.).
* :data:`TABLE2_K64` — Table II: the intrinsic analysis at k = 64: (the same 16 columns, two-tailed
  t-test p-value against "Original MPT"). The 4-shot version is only in the paper's appendix, which the
  source text does not hold: no paper numbers for k = 4.

Transcribed from the paper's tables (bold markup removed); ``tests/test_report.py`` checks that each row's
Avg. is the mean of its 15 languages within rounding. The paper's Fig. 3 is derived from Table I at k = 32:
the relative gain of MPT over SP, ``(MPT − SP) / SP`` (e.g. ZH 18.3 %, the text's 18.4 %; SW 14.9 %, UR 13.8 %).
"""

from __future__ import annotations

from xlprompt.languages import XNLI_LANGUAGES

#: The columns of both tables: the 15 languages and the average.
COLUMNS: tuple[str, ...] = XNLI_LANGUAGES + ("avg",)
#: The model and setup of the paper's numbers.
PAPER_MODEL = "xlm-roberta-base (pre-trained), 5 seeds (1-5)"
PAPER_SEEDS = (1, 2, 3, 4, 5)

#: Table I: {k: {method: (AR, BG, DE, EL, EN, ES, FR, HI, RU, SW, TH, TR, UR, VI, ZH, Avg.)}}
TABLE1: dict[int, dict[str, tuple[float, ...]]] = {
    1: {
        "ft": (33.2, 33.3, 33.3, 33.1, 33.3, 33.2, 32.8, 33.0, 33.3, 33.0, 33.3, 32.9, 32.9, 33.2, 33.2, 33.1),
        "sp": (35.4, 36.4, 36.4, 36.6, 36.5, 37.6, 37.9, 36.0, 37.5, 34.1, 35.9, 34.7, 35.0, 35.5, 36.7, 36.1),
        "pct": (33.2, 35.4, 34.8, 35.1, 35.9, 35.3, 35.7, 34.6, 36.2, 33.8, 34.6, 34.3, 33.1, 34.9, 35.0, 34.8),
        "mpt": (37.0, 38.5, 37.8, 38.1, 38.6, 38.1, 38.7, 37.2, 38.5, 36.5, 37.1, 37.6, 37.3, 37.9, 35.7, 37.6),
    },
    2: {
        "ft": (33.5, 33.3, 33.7, 33.3, 34.1, 33.5, 33.7, 33.2, 33.5, 33.3, 33.8, 33.6, 33.5, 34.0, 33.3, 33.5),
        "sp": (36.6, 37.9, 38.0, 38.2, 38.0, 38.0, 38.3, 36.2, 38.9, 34.3, 37.5, 34.6, 35.2, 37.2, 36.7, 37.0),
        "pct": (34.1, 39.0, 39.1, 38.2, 39.9, 40.6, 40.5, 37.9, 39.9, 36.5, 37.2, 36.9, 34.7, 37.9, 37.1, 38.0),
        "mpt": (41.6, 42.8, 40.8, 43.2, 43.2, 42.5, 42.8, 40.4, 43.3, 36.8, 40.5, 41.0, 41.1, 41.4, 38.2, 41.3),
    },
    4: {
        "ft": (34.2, 34.5, 34.1, 34.3, 34.1, 34.1, 34.5, 34.0, 34.3, 33.7, 34.0, 34.0, 34.1, 34.2, 34.2, 34.1),
        "sp": (37.4, 39.7, 39.2, 39.7, 40.2, 38.9, 40.5, 37.1, 40.6, 35.3, 38.1, 35.3, 36.9, 37.2, 38.9, 38.3),
        "pct": (33.9, 37.2, 37.0, 36.2, 37.0, 37.7, 37.5, 36.4, 37.4, 34.2, 34.7, 34.7, 33.5, 35.0, 35.6, 35.9),
        "mpt": (42.9, 43.6, 44.3, 43.6, 45.5, 44.2, 44.1, 42.8, 44.1, 40.2, 43.4, 42.7, 42.4, 43.8, 43.1, 43.4),
    },
    8: {
        "ft": (32.8, 32.7, 32.8, 32.9, 32.7, 32.6, 33.0, 33.3, 32.7, 33.0, 33.2, 33.0, 33.1, 32.5, 32.4, 32.8),
        "sp": (37.4, 39.6, 38.1, 39.1, 40.0, 38.8, 39.2, 36.5, 40.3, 35.6, 38.5, 35.3, 36.5, 37.8, 37.1, 38.0),
        "pct": (40.2, 40.6, 40.9, 41.7, 41.9, 41.7, 41.6, 41.0, 40.6, 39.2, 41.4, 41.4, 38.4, 41.3, 41.2, 40.9),
        "mpt": (42.7, 43.0, 41.9, 42.4, 43.1, 42.3, 42.1, 40.8, 42.6, 39.4, 41.9, 40.1, 40.7, 42.2, 40.2, 41.7),
    },
    16: {
        "ft": (33.6, 33.4, 33.3, 33.5, 34.1, 33.4, 33.3, 33.4, 33.4, 33.6, 33.6, 33.4, 33.5, 33.3, 33.5, 33.5),
        "sp": (39.5, 39.9, 39.1, 40.4, 41.1, 40.2, 40.4, 37.4, 40.7, 37.1, 39.3, 36.5, 36.0, 38.2, 38.3, 38.9),
        "pct": (43.6, 40.8, 36.9, 45.7, 46.5, 41.5, 44.3, 44.8, 42.4, 40.1, 43.9, 43.7, 42.5, 44.7, 44.8, 43.1),
        "mpt": (43.5, 43.8, 44.0, 43.9, 45.2, 44.2, 44.3, 42.9, 43.4, 40.2, 42.5, 41.8, 42.0, 43.4, 42.2, 43.1),
    },
    32: {
        "ft": (36.1, 36.3, 35.7, 35.7, 36.5, 36.2, 36.0, 35.5, 35.9, 35.0, 35.6, 36.0, 35.4, 36.1, 36.3, 35.9),
        "sp": (41.7, 43.4, 42.8, 42.3, 44.9, 42.9, 43.3, 39.2, 43.5, 37.7, 40.2, 41.1, 39.8, 43.0, 39.8, 41.7),
        "pct": (45.7, 45.4, 44.4, 47.4, 49.6, 45.5, 48.8, 46.7, 45.5, 40.3, 41.6, 44.3, 42.9, 46.7, 45.6, 45.4),
        "mpt": (47.1, 47.6, 47.9, 47.1, 49.9, 49.1, 48.2, 46.3, 47.3, 43.3, 47.2, 47.2, 45.3, 49.0, 47.1, 47.3),
    },
    64: {
        "ft": (41.4, 41.2, 41.5, 40.7, 42.6, 41.4, 40.8, 41.2, 40.2, 40.6, 40.7, 41.4, 40.5, 41.7, 41.0, 41.1),
        "sp": (43.9, 44.2, 47.5, 45.1, 50.5, 47.9, 48.6, 41.8, 43.7, 41.3, 45.9, 45.3, 42.6, 47.6, 45.1, 45.4),
        "pct": (48.1, 50.2, 49.3, 50.6, 51.1, 50.9, 51.3, 47.6, 49.1, 44.6, 47.3, 47.4, 44.0, 49.7, 48.2, 48.6),
        "mpt": (50.7, 52.7, 53.1, 52.2, 55.4, 53.8, 53.1, 50.2, 51.0, 46.2, 51.5, 50.4, 49.1, 53.0, 52.3, 51.7),
    },
    128: {
        "ft": (43.9, 44.4, 44.4, 43.7, 46.3, 44.6, 44.5, 42.9, 42.7, 41.7, 43.0, 43.2, 42.7, 44.9, 43.8, 43.8),
        "sp": (46.2, 46.8, 47.8, 47.6, 53.0, 48.5, 49.6, 47.3, 45.5, 41.7, 47.5, 46.4, 44.5, 45.6, 48.7, 47.1),
        "pct": (50.4, 51.9, 52.8, 53.4, 55.0, 53.8, 53.3, 51.5, 51.7, 47.0, 50.0, 50.9, 47.9, 51.7, 51.2, 51.5),
        "mpt": (53.2, 56.1, 56.0, 55.4, 57.4, 56.4, 56.6, 53.5, 54.8, 48.6, 54.0, 53.1, 51.8, 55.2, 55.4, 54.5),
    },
    256: {
        "ft": (53.3, 55.6, 56.5, 55.0, 58.8, 56.9, 56.4, 52.5, 53.6, 50.5, 52.6, 53.8, 51.3, 55.0, 53.0, 54.3),
        "sp": (52.7, 55.2, 49.6, 53.7, 59.5, 55.0, 55.3, 50.6, 51.4, 46.5, 53.4, 46.1, 44.9, 52.8, 51.5, 51.9),
        "pct": (54.7, 56.7, 56.3, 57.9, 60.3, 58.3, 58.3, 54.6, 55.2, 51.6, 55.6, 54.6, 52.6, 57.4, 55.8, 56.0),
        "mpt": (59.0, 61.1, 60.9, 60.6, 65.8, 63.0, 61.9, 57.6, 60.6, 50.7, 59.2, 57.8, 56.1, 60.7, 60.8, 59.7),
    },
}

#: Table II (k = 64): {row: ((AR, ..., ZH, Avg.), p-value or None for the reference row)}
TABLE2_K64: dict[str, tuple[tuple[float, ...], float | None]] = {
    "Original MPT": (
        (50.7, 52.7, 53.1, 52.2, 55.4, 53.8, 53.1, 50.2, 51.0, 46.2, 51.5, 50.4, 49.1, 53.0, 52.3, 51.7),
        None,
    ),
    "w/o consistency loss": (
        (45.8, 46.3, 44.8, 47.7, 51.0, 48.4, 47.7, 47.5, 48.2, 38.1, 46.8, 44.4, 42.8, 45.8, 47.6, 46.2),
        9.7e-7,
    ),
    "w/o external data": (
        (47.3, 48.7, 49.4, 48.8, 52.8, 50.3, 50.6, 46.8, 47.1, 42.2, 48.6, 47.2, 46.0, 49.4, 49.5, 48.3),
        2.0e-4,
    ),
    "w/o prompt translator": (
        (48.1, 48.4, 51.1, 48.5, 53.5, 51.1, 51.0, 46.4, 46.1, 42.9, 49.7, 47.8, 45.7, 50.7, 50.4, 48.8),
        1.8e-3,
    ),
    "w/o MPT framework": (
        (43.9, 44.2, 47.5, 45.1, 50.5, 47.9, 48.6, 41.8, 43.7, 41.3, 45.9, 45.3, 42.6, 47.6, 45.1, 45.4),
        1.9e-8,
    ),
}


#: Table II row names in the paper's order, and the config change each stands for.
TABLE2_ROWS: tuple[str, ...] = tuple(TABLE2_K64)
TABLE2_REFERENCE = "Original MPT"


def table1_cell(shots: int, method: str, column: str) -> float | None:
    """The paper's Table I number, or None where the paper has none."""
    row = TABLE1.get(int(shots), {}).get(method.lower())
    if row is None or column not in COLUMNS:
        return None
    return row[COLUMNS.index(column)]


def table2_row(variant: str) -> tuple[tuple[float, ...], float | None] | None:
    """The paper's Table II row (k = 64) for a variant name (case-insensitive), or None."""
    for name, row in TABLE2_K64.items():
        if name.lower() == variant.strip().lower():
            return row
    return None


def table2_cell(shots: int, variant: str, column: str) -> float | None:
    if int(shots) != 64 or column not in COLUMNS:
        return None
    row = table2_row(variant)
    return None if row is None else row[0][COLUMNS.index(column)]


def table2_p_value(shots: int, variant: str) -> float | None:
    if int(shots) != 64:
        return None
    row = table2_row(variant)
    return None if row is None else row[1]


def fig3_gains(shots: int = 32) -> dict[str, float]:
    """The paper's Fig. 3 values: relative gain (%) of MPT over SP per language, from Table I at ``shots``."""
    mpt, sp = TABLE1[shots]["mpt"], TABLE1[shots]["sp"]
    return {lang: 100.0 * (mpt[i] - sp[i]) / sp[i] for i, lang in enumerate(XNLI_LANGUAGES)}


def compare_text(ours: str, paper: float | None, delta: float | None) -> str:
    """The ``--compare paper`` cell: ``ours (paper, Δ)``; just ``ours`` where the paper has no number."""
    if paper is None or delta is None:
        return ours
    return f"{ours} ({paper:.1f}, {delta:+.1f})"
