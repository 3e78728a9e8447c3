"""Reports: Table I/II cells against hand-computed means, the t-test against scipy and by hand, every file
written, --compare paper cells, and the transcribed paper numbers."""

from __future__ import annotations

import csv
import math
import statistics

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats

from xlprompt.cli import cli
from xlprompt.config import RunConfig
from xlprompt.languages import XNLI_LANGUAGES
from xlprompt.report import build_report, paper, tables
from xlprompt.store import ResultStore

BASE = dict(model="random:tiny", data_dir="builtin:demo", eval_max_per_language=30)
FILES = [
    "table1.md",
    "table1.csv",
    "table1.tex",
    "table2.md",
    "table2.csv",
    "table2.tex",
    "fig3_gain.png",
    "fig3_gain.pdf",
    "fig4_ablations.png",
    "fig4_ablations.pdf",
    "fig5_ablations.png",
    "fig5_ablations.pdf",
    "leaderboard.md",
    "leaderboard.csv",
    "report.md",
]


def fake_accuracy(method: str, shots: int, seed: int, offset: float = 0.0) -> dict[str, float]:
    """Distinct, known numbers per (method, k, seed, language)."""
    base = {"ft": 33.0, "sp": 36.0, "pct": 38.0, "mpt": 41.0}[method] + offset
    acc = {lang: base + 0.1 * i + 0.7 * seed + 0.01 * shots for i, lang in enumerate(XNLI_LANGUAGES)}
    acc["avg"] = sum(acc.values()) / len(XNLI_LANGUAGES)
    return acc


def insert(
    store: ResultStore, config: RunConfig, accuracy: dict, group: str, variant: str = "", random_weights: bool = True
) -> None:
    h = config.resolved_hash()
    store.add([(h, config.to_dict(), group, variant)], sweep=group)
    if store.get(h).status != "finished":
        assert store.claim(h).ok
        store.finish(
            h,
            {
                "accuracy": accuracy,
                "random_weights": random_weights,
                "method": config.method,
                "shots": config.shots,
                "seed": config.seed,
                "model": config.model,
                "eval_max_per_language": config.eval_max_per_language,
                "eval_split": "test",
            },
        )


T2_VARIANTS = {
    "Original MPT": ({}, 0.0),
    "w/o consistency loss": ({"alpha": 1.0}, -5.0),
    "w/o external data": ({"parallel_source": "xnli-dev"}, -2.0),
    "w/o prompt translator": ({"no_translator": True}, -3.0),
    "w/o MPT framework": ({"method": "sp"}, None),
}


@pytest.fixture
def filled_store(tmp_path):
    path = tmp_path / "results.db"
    with ResultStore(path) as store:
        for method in ("ft", "sp", "pct", "mpt"):
            for shots in (4, 32, 64):
                for seed in (1, 2, 3):
                    config = RunConfig(**BASE, method=method, shots=shots, seed=seed)
                    insert(store, config, fake_accuracy(method, shots, seed), "table1")
        for name, (changes, offset) in T2_VARIANTS.items():
            for seed in (1, 2, 3):
                config = RunConfig(**{**BASE, "method": "mpt", "shots": 64, "seed": seed, **changes})
                acc = fake_accuracy(config.method, 64, seed, offset or 0.0)
                if name == "w/o prompt translator":  # a variant with real spread across seeds
                    acc = {k: v + (seed - 2) ** 2 * 1.5 for k, v in acc.items()}
                insert(store, config, acc, "table2", name)
        for translator in ("linear-1", "linear-2", "lstm-1"):
            for seed in (1, 2):
                config = RunConfig(**BASE, method="mpt", shots=64, seed=seed, translator=translator)
                insert(store, config, fake_accuracy("mpt", 64, seed, 0.5 * len(translator)), "fig4-translator")
        for alpha in (0.0, 0.5, 1.0):
            for seed in (1, 2):
                config = RunConfig(**BASE, method="mpt", shots=64, seed=seed, alpha=alpha)
                insert(store, config, fake_accuracy("mpt", 64, seed, -3 * abs(alpha - 0.5)), "fig5-alpha")
    return path


def test_t_test_matches_scipy_and_the_formula():
    a = [51.2, 52.0, 50.9, 51.8, 52.3]
    b = [46.0, 46.9, 45.1, 47.2, 45.8]
    p = tables.t_test(a, b)
    assert p == pytest.approx(stats.ttest_ind(a, b).pvalue, rel=1e-12)
    # by hand: pooled-variance Student t, two-tailed
    na, nb = len(a), len(b)
    sp2 = ((na - 1) * statistics.variance(a) + (nb - 1) * statistics.variance(b)) / (na + nb - 2)
    t = (statistics.mean(a) - statistics.mean(b)) / math.sqrt(sp2 * (1 / na + 1 / nb))
    assert p == pytest.approx(2 * stats.t.sf(abs(t), na + nb - 2), rel=1e-10)
    # a textbook case: means 3 and 5, both variances 2.5 → t = -2 with 8 df, two-tailed p = 0.0805
    assert tables.t_test([1, 2, 3, 4, 5], [3, 4, 5, 6, 7]) == pytest.approx(0.08052, abs=5e-5)
    assert math.isnan(tables.t_test([1.0], [2.0, 3.0]))
    assert math.isnan(tables.t_test([1.0, 1.0], [1.0, 1.0]))


def test_table1_cells_are_the_seed_means(filled_store):
    t1 = tables.table1(tables.rows_from_store(filled_store))
    assert [b.shots for b in t1.blocks] == [4, 32, 64]
    block = t1.blocks[1]
    assert [r.label for r in block.rows] == ["FT", "SP", "PCT", "MPT"]
    mpt = block.rows[3]
    for lang in XNLI_LANGUAGES + ("avg",):
        values = [fake_accuracy("mpt", 32, s)[lang] for s in (1, 2, 3)]
        assert mpt.cells[lang].mean == pytest.approx(sum(values) / 3)
        assert mpt.cells[lang].std == pytest.approx(statistics.stdev(values))
        assert mpt.cells[lang].n == 3
    assert t1.meta.seeds == [1, 2, 3] and t1.meta.models == ["random:tiny"] and t1.meta.random_weights
    line = t1.meta.line()
    assert "random:tiny" in line and "random weights: chance-level" in line and "seeds: 1, 2, 3" in line
    assert "n = 3" in line and "capped at 30" in line


def test_table1_never_pools_different_configs(filled_store):
    rows = tables.rows_from_store(filled_store)
    # without a table1 group every run counts: the Table II/ablation variants become their own rows
    everything = tables.table1(rows, group="no-such-group")
    labels = [r.label for r in everything.blocks[-1].rows]
    assert "MPT" not in labels
    assert any(label.startswith("MPT [") and "alpha=1.0" in label for label in labels)
    assert all(r.n <= 3 for b in everything.blocks for r in b.rows)


def test_table2_p_values(filled_store):
    t2 = tables.table2(tables.rows_from_store(filled_store))
    (block,) = t2.blocks
    assert block.shots == 64
    assert [r.label for r in block.rows] == list(T2_VARIANTS)
    ref = block.rows[0]
    assert ref.is_reference and ref.p_value is None
    ref_avgs = [fake_accuracy("mpt", 64, s)["avg"] for s in (1, 2, 3)]
    for row in block.rows[1:]:
        samples = [r.accuracy["avg"] for r in sorted(row.runs, key=lambda r: r.seed)]
        expected = stats.ttest_ind(ref_avgs, samples).pvalue
        if math.isnan(expected):
            assert math.isnan(row.p_value)
        else:
            assert row.p_value == pytest.approx(expected, rel=1e-12)
    translator = block.rows[3]
    assert translator.p_value == pytest.approx(
        stats.ttest_ind(
            ref_avgs, [fake_accuracy("mpt", 64, s, -3.0)["avg"] + (s - 2) ** 2 * 1.5 for s in (1, 2, 3)]
        ).pvalue
    )
    # every (seed, language) accuracy as a sample
    per_lang = tables.table2(tables.rows_from_store(filled_store), samples="seed-language")
    row = per_lang.blocks[0].rows[3]
    a = [fake_accuracy("mpt", 64, s)[lang] for s in (1, 2, 3) for lang in XNLI_LANGUAGES]
    b = [fake_accuracy("mpt", 64, s, -3.0)[lang] + (s - 2) ** 2 * 1.5 for s in (1, 2, 3) for lang in XNLI_LANGUAGES]
    assert row.p_value == pytest.approx(stats.ttest_ind(a, b).pvalue)


def test_report_writes_every_file_with_the_right_cells(filled_store, tmp_path):
    out = tmp_path / "report"
    result = CliRunner().invoke(cli, ["report", "--store", str(filled_store), "--out", str(out)])
    assert result.exit_code == 0, result.output
    for name in FILES:
        assert (out / name).stat().st_size > 0, name
    assert (out / "fig3_gain.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "fig4_ablations.pdf").read_bytes()[:5] == b"%PDF-"
    md = (out / "table1.md").read_text()
    mpt64 = [fake_accuracy("mpt", 64, s)["avg"] for s in (1, 2, 3)]
    cell = f"{np.mean(mpt64):.1f} ± {statistics.stdev(mpt64):.1f}"
    row = next(line for line in md.splitlines() if line.startswith("| MPT |") and cell in line)
    assert row.rstrip().endswith("| 3 |")
    assert "random weights: chance-level" in md and "seeds: 1, 2, 3" in md and "random:tiny" in md
    assert "| MPT |" in result.output  # the command prints Table I
    with open(out / "table1.csv", newline="") as fh:
        lines = list(csv.DictReader(fh))
    hit = [r for r in lines if r["shots"] == "64" and r["row"] == "MPT" and r["column"] == "avg"]
    assert len(hit) == 1 and float(hit[0]["mean"]) == pytest.approx(np.mean(mpt64), abs=1e-4)
    assert hit[0]["n"] == "3" and hit[0]["model"] == "random:tiny" and hit[0]["random_weights"].startswith("yes")
    assert len(lines) == 3 * 4 * 16  # blocks x methods x columns
    tex = (out / "table1.tex").read_text()
    assert r"\begin{tabular}" in tex and r"$\pm$" in tex and "random:tiny" in tex
    t2 = (out / "table2.md").read_text()
    assert "| Original MPT |" in t2 and "ref." in t2 and "Student's t-test" in t2
    assert "random weights: chance-level" in (out / "table2.tex").read_text().replace(r"\_", "_")


def test_compare_paper_cells(filled_store, tmp_path):
    report = build_report(filled_store, tmp_path / "r", compare="paper")
    md = (tmp_path / "r" / "table1.md").read_text()
    ours = np.mean([fake_accuracy("mpt", 64, s)["avg"] for s in (1, 2, 3)])
    std = statistics.stdev([fake_accuracy("mpt", 64, s)["avg"] for s in (1, 2, 3)])
    expected = f"{ours:.1f} ± {std:.1f} (51.7, {ours - 51.7:+.1f})"
    assert expected in md
    zh = np.mean([fake_accuracy("sp", 4, s)["zh"] for s in (1, 2, 3)])
    assert f"(38.9, {zh - 38.9:+.1f})" in md  # SP, k = 4, ZH in the paper: 38.9
    t2 = (tmp_path / "r" / "table2.md").read_text()
    assert "(9.7e-07)" in t2  # the paper's p of "w/o consistency loss" beside ours
    with open(tmp_path / "r" / "table1.csv", newline="") as fh:
        row = next(r for r in csv.DictReader(fh) if r["shots"] == "32" and r["row"] == "PCT" and r["column"] == "el")
    assert float(row["paper"]) == 47.4
    assert float(row["delta"]) == pytest.approx(float(row["mean"]) - 47.4, abs=1e-3)
    assert report.table1.blocks[0].rows[0].paper_key == "ft"


def test_paper_numbers_are_consistent():
    assert sorted(paper.TABLE1) == [1, 2, 4, 8, 16, 32, 64, 128, 256]
    for k, rows in paper.TABLE1.items():
        assert sorted(rows) == ["ft", "mpt", "pct", "sp"]
        for method, values in rows.items():
            assert len(values) == 16
            assert sum(values[:15]) / 15 == pytest.approx(values[15], abs=0.1), (k, method)
    assert list(paper.TABLE2_K64) == [
        "Original MPT",
        "w/o consistency loss",
        "w/o external data",
        "w/o prompt translator",
        "w/o MPT framework",
    ]
    for name, (values, _p) in paper.TABLE2_K64.items():
        assert sum(values[:15]) / 15 == pytest.approx(values[15], abs=0.1), name
    assert paper.TABLE2_K64["Original MPT"][0] == paper.TABLE1[64]["mpt"]
    assert paper.TABLE2_K64["w/o MPT framework"][0] == paper.TABLE1[64]["sp"]
    assert [paper.TABLE2_K64[n][1] for n in paper.TABLE2_ROWS] == [None, 9.7e-7, 2.0e-4, 1.8e-3, 1.9e-8]
    gains = paper.fig3_gains(32)  # the text: ZH 18.4 %, SW 14.8 %, UR 13.8 %
    assert gains["zh"] == pytest.approx(18.4, abs=0.1)
    assert gains["sw"] == pytest.approx(14.8, abs=0.1)
    assert gains["ur"] == pytest.approx(13.8, abs=0.1)
    assert paper.table1_cell(256, "MPT", "en") == 65.8
    assert paper.compare_text("50.0 ± 1.0", 51.7, -1.7) == "50.0 ± 1.0 (51.7, -1.7)"


def test_report_of_a_missing_or_empty_store(tmp_path):
    result = CliRunner().invoke(cli, ["report", "--store", str(tmp_path / "none.db"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "no such results store" in result.output
    ResultStore(tmp_path / "empty.db").close()
    report = build_report(tmp_path / "empty.db", tmp_path / "o")
    # every table is written (saying it has no runs); no figure is, and the report says why
    assert report.runs == 0 and sorted(p.name for p in report.files) == sorted(n for n in FILES if "fig" not in n)
    assert "No finished runs" in (tmp_path / "o" / "table1.md").read_text()
    assert [s.figure for s in report.skipped] == ["fig3_gain (Fig. 3)", "fig4_ablations", "fig5_ablations"]
    assert not list((tmp_path / "o").glob("fig*"))
