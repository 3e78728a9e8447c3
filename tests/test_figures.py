"""Honest figures and paper-sized LaTeX: like-with-like paper values in Fig. 3, no figure without runs (and the
report says which it left out, and why), bars from zero with chance marked, captions that carry what the tables
carry, and LaTeX cells ``$mean_{\\pm std}$`` with the paper's numbers as rows of their own."""

from __future__ import annotations

import re
import statistics

import pytest
from click.testing import CliRunner
from test_report import BASE, fake_accuracy, filled_store, insert  # noqa: F401  (filled_store: a fixture)

from xlprompt.cli import cli
from xlprompt.config import RunConfig
from xlprompt.languages import XNLI_LANGUAGES
from xlprompt.report import build_report, exports, figures, paper, tables
from xlprompt.store import ResultStore


def _ablation_only_store(path):
    """A store like one of configs/ablations.yaml alone: MPT at k = 64 in two ablation groups, no SP."""
    with ResultStore(path) as store:
        for translator in ("linear-1", "linear-2"):
            for seed in (1, 2):
                insert(
                    store,
                    RunConfig(**BASE, method="mpt", shots=64, seed=seed, translator=translator),
                    fake_accuracy("mpt", 64, seed),
                    "fig4-translator",
                )
        for alpha in (0.0, 0.5):
            for seed in (1, 2):
                insert(
                    store,
                    RunConfig(**BASE, method="mpt", shots=64, seed=seed, alpha=alpha),
                    fake_accuracy("mpt", 64, seed, -alpha),
                    "fig5-alpha",
                )
    return path


def test_a_figure_without_runs_is_not_written_and_the_report_says_why(tmp_path):
    store = _ablation_only_store(tmp_path / "ablation.db")
    out = tmp_path / "rep"
    out.mkdir()
    (out / "fig3_gain.png").write_bytes(b"an older report's figure")
    result = CliRunner().invoke(cli, ["report", "--store", str(store), "--out", str(out)])
    assert result.exit_code == 0, result.output
    # finished runs, but none that Fig. 3 can use: it is not drawn, and an old file of its name is gone
    assert not (out / "fig3_gain.png").exists() and not (out / "fig3_gain.pdf").exists()
    assert (out / "fig4_ablations.png").exists() and (out / "fig5_ablations.png").exists()
    fig3_line = next(line for line in result.output.splitlines() if "not drawn: fig3_gain" in line)
    assert "MPT only with other settings" in fig3_line and "no SP" in fig3_line and "k = 64" in fig3_line
    assert "no finished runs" not in fig3_line
    assert "not drawn: fig4_ablations: panel 'Prompt position' left out" in result.output
    assert "not drawn: fig5_ablations: panel 'Prompt length' left out" in result.output
    page = (out / "report.md").read_text()
    assert "Not drawn:" in page and "- fig3_gain (Fig. 3): not written" in page
    assert "![fig3_gain]" not in page and "![fig4_ablations](fig4_ablations.png)" in page


def test_fig3_paper_values_are_at_our_k_or_absent(filled_store, tmp_path):  # noqa: F811
    t1 = tables.table1(tables.rows_from_store(filled_store))
    fig, caption = figures.draw_figure3(t1, compare=True, shots=4)
    ax = fig.axes[0]
    labels = ax.get_legend_handles_labels()[1] + [t.get_text() for t in ax.get_legend().get_texts()]
    assert "paper, k = 4 (its Table I)" in labels and not any("k = 32" in label for label in labels)
    (diamonds,) = [c for c in ax.collections if len(c.get_offsets()) == 15 and c.get_facecolors()[0][:3].sum() == 0]
    langs = [t.get_text().lower() for t in ax.get_xticklabels()]
    mpt, sp = paper.TABLE1[4]["mpt"], paper.TABLE1[4]["sp"]  # the paper's Table I at k = 4, by hand
    expected = [
        100 * (mpt[XNLI_LANGUAGES.index(lang)] - sp[XNLI_LANGUAGES.index(lang)]) / sp[XNLI_LANGUAGES.index(lang)]
        for lang in langs
    ]
    assert list(diamonds.get_offsets()[:, 1]) == pytest.approx(expected)
    assert "same k = 4" in caption
    # at the paper's k = 32 the diamonds are its Fig. 3
    _, caption32 = figures.draw_figure3(t1, compare=True, shots=32)
    assert "same k = 32" in caption32
    # without compare: no diamonds at all
    fig, _ = figures.draw_figure3(t1, compare=False, shots=4)
    assert not any("paper" in t.get_text() for t in fig.axes[0].get_legend().get_texts())


def test_fig3_at_a_k_the_paper_lacks_draws_no_paper_values(tmp_path):
    path = tmp_path / "k3.db"
    with ResultStore(path) as store:
        for method in ("sp", "mpt"):
            for seed in (1, 2):
                insert(
                    store,
                    RunConfig(**BASE, method=method, shots=3, seed=seed),
                    fake_accuracy(method, 3, seed),
                    "table1",
                )
    t1 = tables.table1(tables.rows_from_store(path))
    fig, caption = figures.draw_figure3(t1, compare=True)
    ax = fig.axes[0]
    assert not any("paper" in t.get_text() for t in ax.get_legend().get_texts())
    assert all(len(c.get_offsets()) == 15 for c in ax.collections)  # only our dots, no diamonds
    assert "no numbers at k = 3" in caption


def test_fig3_bars_start_at_zero(filled_store):  # noqa: F811
    t1 = tables.table1(tables.rows_from_store(filled_store))
    fig, _ = figures.draw_figure3(t1, shots=64)
    ax = fig.axes[0]
    bars = ax.patches
    assert len(bars) == 15 and all(bar.get_y() == 0 for bar in bars)
    low, high = ax.get_ylim()
    assert low <= 0 <= high and max(bar.get_height() for bar in bars) <= high


def _chance_lines(ax):
    return [line for line in ax.get_lines() if line.get_label().startswith(figures.CHANCE_LABEL)]


def test_ablation_bars_from_zero_lines_with_chance(filled_store):  # noqa: F811
    rows = tables.rows_from_store(filled_store)
    fig4, caption4, left4 = figures.draw_ablation_figure(rows, figures.FIG4_GROUPS, figures.FIG4_TITLE)
    assert left4 == ["fig4-position"] and len(fig4.axes) == 1  # the panel without runs is not drawn
    (ax,) = fig4.axes
    assert ax.get_ylim()[0] == 0.0
    assert all(bar.get_y() == 0 for bar in ax.patches)
    (chance,) = _chance_lines(ax)
    assert list(chance.get_ydata()) == pytest.approx([100 / 3, 100 / 3])
    assert "chance (33.3" in caption4
    fig5, caption5, left5 = figures.draw_ablation_figure(rows, figures.FIG5_GROUPS, figures.FIG5_TITLE)
    assert left5 == ["fig5-length", "fig5-external"]
    (ax,) = fig5.axes
    low, _ = ax.get_ylim()
    assert _chance_lines(ax) and low <= 100 / 3
    assert low == 0 or f"axis from {low:g}, not 0" in ax.get_ylabel()


def test_chance_is_one_over_the_number_of_labels():
    def row(task):
        return tables.RunRow(
            "h",
            {"method": "mpt", "model": "random:tiny", "shots": 4, "seed": 1, "task": task},
            {"en": 50.0, "avg": 50.0},
            True,
            [],
        )

    assert figures.chance_level([row("xnli")]) == pytest.approx(100 / 3)
    assert figures.chance_level([row("pawsx")]) == pytest.approx(50.0)


def test_captions_carry_caps_seeds_and_random_weights(filled_store, tmp_path):  # noqa: F811
    build_report(filled_store, tmp_path / "r")
    page = (tmp_path / "r" / "report.md").read_text()
    captions = [line for line in page.splitlines() if line.startswith("*Fig.")]
    assert len(captions) == 3
    for caption in captions:
        assert "capped at 30 examples/language" in caption
        assert "random weights: chance-level" in caption and "model: random:tiny" in caption
        assert re.search(r"seeds: 1, 2(, 3)? ", caption)


LATEX_CELL = re.compile(r"^\$\d+\.\d_\{\\pm \d+\.\d\}\$$")


def test_latex_cells_are_mean_and_std_and_the_paper_has_its_own_rows(filled_store, tmp_path):  # noqa: F811
    t1 = tables.table1(tables.rows_from_store(filled_store))
    tex = exports.to_latex(t1, compare=True)
    assert tex.count("{") == tex.count("}")
    assert r"\resizebox{\ifdim\width>\textwidth\textwidth\else\width\fi}{!}{%" in tex
    header = next(line for line in tex.splitlines() if line.startswith("Method &"))
    assert header.split(" & ")[1:] == [c.upper() for c in XNLI_LANGUAGES] + [r"Avg \\"]  # no Recipe, no n column
    lines = tex.splitlines()
    mpt64 = [line for line in lines if line.startswith("MPT & ")][-1]  # the last block is k = 64
    cells = mpt64.removesuffix(r" \\").split(" & ")[1:]
    assert len(cells) == 16 and all(LATEX_CELL.match(c) for c in cells), cells
    values = [fake_accuracy("mpt", 64, s)["ar"] for s in (1, 2, 3)]
    assert cells[0] == f"${statistics.mean(values):.1f}_{{\\pm {statistics.stdev(values):.1f}}}$"
    assert "(" not in mpt64
    paper_row = lines[lines.index(mpt64) + 1]
    assert paper_row.startswith(r"\quad\textit{paper} & ")
    assert paper_row.removesuffix(r" \\").split(" & ")[1:] == [f"{v:.1f}" for v in paper.TABLE1[64]["mpt"]]
    assert "Recipe: reference" in tex and "n = 3 runs per cell" in tex and "capped at 30" in tex
    # without --compare: no paper rows
    assert r"\textit{paper}" not in exports.to_latex(t1)
    t2 = exports.to_latex(tables.table2(tables.rows_from_store(filled_store)), compare=True)
    ref = next(line for line in t2.splitlines() if line.startswith("Original MPT & "))
    assert ref.endswith(r"ref. \\")
    consistency = t2.splitlines()
    row = next(i for i, line in enumerate(consistency) if line.startswith("w/o consistency loss & "))
    assert consistency[row + 1].startswith(r"\quad\textit{paper}") and consistency[row + 1].endswith(r"9.7e-07 \\")
