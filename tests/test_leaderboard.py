"""The field's leaderboard: methods × k, mean ± std of the runs' average accuracy, published numbers."""

from __future__ import annotations

import statistics

from test_report import insert

from xlprompt.config import RunConfig
from xlprompt.languages import XNLI_LANGUAGES
from xlprompt.report import build_report, leaderboard, tables
from xlprompt.store import ResultStore

BASE = dict(model="random:tiny", data_dir="builtin:demo", eval_max_per_language=30)
VARIANTS = {
    "FT": {"method": "ft"},
    "DP": {"method": "dp"},
    "DPA": {"method": "dpa"},
    "MPT per language": {"method": "mpt", "translator_conditioning": "language"},
    "XPE": {"method": "xpe"},
    "DUAL": {"method": "dual"},
}


def avg_accuracy(value: float) -> dict[str, float]:
    acc = {lang: value for lang in XNLI_LANGUAGES}
    acc["avg"] = value
    return acc


def test_leaderboard_cells_and_published_numbers(tmp_path):
    path = tmp_path / "field.db"
    numbers = {}
    with ResultStore(path) as store:
        for i, (name, changes) in enumerate(VARIANTS.items()):
            for shots in (1, 16):
                for seed in (1, 2, 3):
                    value = 30.0 + i + 0.5 * seed + shots / 100
                    numbers.setdefault((name, shots), []).append(value)
                    insert(
                        store, RunConfig(**BASE, **changes, shots=shots, seed=seed), avg_accuracy(value), "field", name
                    )
    board = leaderboard.leaderboard(tables.rows_from_store(path))
    assert board.group == "field" and board.shots == [1, 16]
    assert [r.label for r in board.rows] == ["FT", "DP", "DPA", "MPT per language", "XPE", "DUAL"]  # field.yaml's
    assert {r.sources for r in board.rows} == {"en"}  # XNLI's source language, in every row
    for row in board.rows:
        for shots in (1, 16):
            values = numbers[(row.label, shots)]
            assert row.cells[shots].mean == statistics.mean(values)
            assert abs(row.cells[shots].std - statistics.stdev(values)) < 1e-9
            assert row.cells[shots].n == 3
    published = {r.label: r.published for r in board.rows}
    assert published["DP"][leaderboard.ZHAO_SCHUTZE][16].value == 36.43
    assert published["FT"][leaderboard.ZHAO_SCHUTZE][16].value == 33.74
    assert published["FT"][leaderboard.MPT_TABLE1][16].value == 33.5  # Table I, k = 16, Avg.
    assert published["DPA"][leaderboard.DPA_PAPER][16].other_protocol
    assert published["MPT per language"] == published["XPE"] == published["DUAL"] == {}
    report = build_report(path, tmp_path / "report")
    text = (tmp_path / "report" / "leaderboard.md").read_text("utf-8")
    assert "| DPA | " in text and "other protocol" in text and "46.54" in text and "38.79" not in text
    assert "| Method | Sources | k=1 | k=16 |" in text
    dp_line = next(line for line in text.splitlines() if line.startswith("| DP | en | "))
    assert next(line for line in text.splitlines() if line.startswith("| DUAL | en | "))
    csv_rows = (tmp_path / "report" / "leaderboard.csv").read_text("utf-8").splitlines()
    assert csv_rows[0].startswith("method,source_languages,shots") and all(",en," in r for r in csv_rows[1:])
    assert f"{statistics.mean(numbers[('DP', 16)]):.1f} ± {statistics.stdev(numbers[('DP', 16)]):.1f} (3)" in dp_line
    assert "Leaderboard" in (tmp_path / "report" / "report.md").read_text("utf-8")
    assert tmp_path / "report" / "leaderboard.csv" in report.files


def test_field_sweep_file():
    from pathlib import Path

    from xlprompt.sweep import load_sweep

    sweep = load_sweep(Path(__file__).resolve().parents[1] / "configs" / "field.yaml")
    assert len(sweep) == 10 * 9 * 5
    variants = {r.variant for r in sweep.runs}
    assert variants == set(leaderboard.ORDER)
    by_variant = {r.variant: r.config for r in sweep.runs if r.config.shots == 16 and r.config.seed == 1}
    assert by_variant["MPT per language"].translator_conditioning == "language"
    assert by_variant["MPT"].translator_conditioning == "none"
    assert {c.method for c in by_variant.values()} == {"ft", "dp", "sp", "pct", "dpa", "softmv", "mpt", "xpe", "dual"}
    assert {r.config.shots for r in sweep.runs} == {1, 2, 4, 8, 16, 32, 64, 128, 256}


def test_an_average_over_fewer_languages_is_marked_and_not_compared(tmp_path):
    """The published averages are over 15 languages; a run over three is not."""
    path = tmp_path / "field.db"
    with ResultStore(path) as store:
        for seed in (1, 2):
            acc = {"en": 40.0 + seed, "de": 41.0 + seed, "fr": 42.0 + seed}
            acc["avg"] = sum(acc.values()) / 3
            insert(
                store,
                RunConfig(**BASE, method="dp", shots=16, seed=seed, eval_languages="en,de,fr"),
                acc,
                "field",
                "DP",
            )
    board = leaderboard.leaderboard(tables.rows_from_store(path))
    (row,) = board.rows
    assert row.label == "DP [Avg over 3 langs: DE, EN, FR]"
    assert row.published == {}  # not Zhao & Schütze's 36.43, an average over 15 languages
    assert row.cells[16].mean == statistics.mean([42.0, 43.0])


def test_every_row_names_its_source_languages(tmp_path):
    """A row trained on several source languages says so (config ``source_languages``), beside an English one."""
    from test_report import insert

    path = tmp_path / "field.db"
    with ResultStore(path) as store:
        insert(store, RunConfig(**BASE, method="xpe", shots=16, seed=1), avg_accuracy(40.0), "field", "XPE")
    rows = tables.rows_from_store(path)
    several = tables.RunRow(
        "h2", {**rows[0].config, "source_languages": "de,en,fr"}, avg_accuracy(44.0), True, [("field", "XPE")]
    )
    board = leaderboard.leaderboard([*rows, several])
    assert sorted((r.label.split(" (")[0], r.sources) for r in board.rows) == [("XPE", "de,en,fr"), ("XPE", "en")]
    text = leaderboard.to_markdown(board)
    assert "| XPE (source_languages=de,en,fr) | de,en,fr |" in text
