"""Writing a :class:`~xlprompt.report.tables.Table` as Markdown, CSV and LaTeX.

* Markdown: the title, the meta line (model, random weights, seeds, n, eval cap), one table per block;
  cells ``mean ± std``; a column n (runs per row) and, for Table II, p; notes under the table.
* CSV (tidy, one line per cell): table, shots, row, column, mean, std, n, values (;-separated), p_value,
  and the meta columns model, random_weights, seeds — so every line states where it comes from.
* LaTeX (for a paper): a booktabs ``table*`` per table that fits the text width: a cell is the mean with its
  std as a subscript (``$41.6_{\\pm 0.7}$``), a ``\\midrule`` and a "k = …" line per block, the recipe and n
  as columns only where rows differ in them (else in the caption, with the meta line), and the tabular
  shrunk to ``\\textwidth`` only if it is wider.

With ``compare=True`` (``--compare paper``) a Markdown cell reads ``ours (paper, Δ)`` where the paper has a
number (see :func:`xlprompt.report.paper.compare_text`); in LaTeX the paper's numbers are a row of their own
("paper") under ours, never inside our cells; the CSV gets ``paper`` and ``delta`` columns (and
``paper_p_value`` for Table II).
"""

from __future__ import annotations

import csv
import io
import math

from xlprompt.report.paper import PAPER_MODEL, compare_text
from xlprompt.report.tables import COLUMNS, Block, Row, Table


def format_p(p: float | None) -> str:
    if p is None:
        return "–"
    if isinstance(p, float) and math.isnan(p):
        return "n/a"
    return f"{p:.1e}" if p < 0.01 else f"{p:.3f}"


def cell_text(table: Table, block: Block, row: Row, column: str, compare: bool) -> str:
    cell = row.cells[column]
    ours = cell.text()
    if not compare or not cell.values:
        return ours
    paper = table.paper_cell(block, row, column)
    return compare_text(ours, paper, None if paper is None else cell.mean - paper)


def p_text(table: Table, block: Block, row: Row, compare: bool) -> str:
    if row.is_reference:
        return "ref."
    ours = format_p(row.p_value)
    if compare:
        paper_p = table.paper_p_value(block, row)
        if paper_p is not None:
            return f"{ours} ({format_p(paper_p)})"
    return ours


def _header(table: Table) -> list[str]:
    first = "Variant" if table.has_p_values else "Method"
    head = [first, "Recipe"] + [table.column_name(c) for c in COLUMNS] + ["n"]
    return head + ["p"] if table.has_p_values else head


def _cells_row(table: Table, block: Block, row: Row, compare: bool) -> list[str]:
    out = [row.label, row.recipe] + [cell_text(table, block, row, c, compare) for c in COLUMNS] + [str(row.n)]
    if table.has_p_values:
        out.append(p_text(table, block, row, compare))
    return out


def compare_note(table: Table) -> str:
    return f"cells: ours (paper, Δ = ours − paper); the paper: {PAPER_MODEL}" + (
        "; p: ours (paper's)" if table.has_p_values else ""
    )


def to_markdown(table: Table, compare: bool = False) -> str:
    lines = [f"## {table.name}: {table.title}", "", f"*{table.meta.line()}*", ""]
    if table.group:
        lines += [f"Runs of group `{table.group}`.", ""]
    if compare:
        lines += [f"*{compare_note(table)}*", ""]
    if table.empty:
        lines += ["_No finished runs for this table in the store._", ""]
    head = _header(table)
    for block in table.blocks:
        lines += [
            f"### {block.title}",
            "",
            "| " + " | ".join(head) + " |",
            "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|",
        ]
        for row in block.rows:
            lines.append("| " + " | ".join(_cells_row(table, block, row, compare)) + " |")
        if compare and not any(table.paper_cell(block, row, "avg") is not None for row in block.rows):
            lines += [
                "",
                f"_The paper gives no numbers for this block ({block.title}"
                + (": its 4-shot Table II is in an appendix that is not transcribed" if table.has_p_values else "")
                + ")._",
            ]
        lines.append("")
    for note in table.notes + table.average_notes():
        lines.append(f"- {note}")
    if table.meta.random_weights:
        lines.append("- random weights: chance-level numbers that demonstrate the pipeline, not the method")
    return "\n".join(lines).rstrip() + "\n"


def to_csv(table: Table, compare: bool = False) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    fields = [
        "table",
        "shots",
        "row",
        "column",
        "mean",
        "std",
        "n",
        "values",
        "seeds",
        "p_value",
        "model",
        "random_weights",
        "recipe",
    ]
    if compare:
        fields += ["paper", "delta"] + (["paper_p_value"] if table.has_p_values else [])
    writer.writerow(fields)
    models = ";".join(table.meta.models)
    for block in table.blocks:
        for row in block.rows:
            row_models = ";".join(sorted({r.config["model"] for r in row.runs})) or models
            random = any(r.random_weights for r in row.runs)
            for column in COLUMNS:
                cell = row.cells[column]
                p = "" if not table.has_p_values or row.is_reference or row.p_value is None else repr(row.p_value)
                out = [
                    table.name,
                    block.shots,
                    row.label,
                    column,
                    f"{cell.mean:.4f}" if cell.values else "",
                    f"{cell.std:.4f}" if cell.values else "",
                    cell.n,
                    ";".join(f"{v:.4f}" for v in cell.values),
                    ";".join(map(str, row.seeds)),
                    p,
                    row_models,
                    "yes (chance-level)" if random else "no",
                    row.recipe,
                ]
                if compare:
                    paper = table.paper_cell(block, row, column)
                    out += [
                        "" if paper is None else paper,
                        "" if paper is None or not cell.values else f"{cell.mean - paper:+.4f}",
                    ]
                    if table.has_p_values:
                        paper_p = table.paper_p_value(block, row)
                        out.append("" if paper_p is None else paper_p)
                writer.writerow(out)
    return buf.getvalue()


_LATEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def latex_escape(text: str) -> str:
    out = "".join(_LATEX_ESCAPES.get(ch, ch) for ch in str(text))
    return out.replace("±", r"$\pm$").replace("Δ", r"$\Delta$").replace("–", "--").replace("−", "-")


def latex_cell(cell) -> str:
    r"""``$mean_{\pm std}$``: mean ± std in one narrow cell; ``--`` for a cell without runs."""
    if not cell.values:
        return "--"
    return f"${cell.mean:.1f}_{{\\pm {cell.std:.1f}}}$"


def _latex_paper_row(table: Table, block: Block, row: Row, width: int, recipe_col: bool, n_col: bool) -> str | None:
    """The paper's numbers for ``row`` as a row of their own, or None where the paper has none."""
    numbers = [table.paper_cell(block, row, c) if row.cells[c].values else None for c in COLUMNS]
    if all(v is None for v in numbers):
        return None
    out = [r"\quad\textit{paper}"] + ([""] if recipe_col else [])
    out += ["" if v is None else f"{v:.1f}" for v in numbers] + ([""] if n_col else [])
    if table.has_p_values:
        paper_p = table.paper_p_value(block, row)
        out.append("" if paper_p is None else latex_escape(format_p(paper_p)))
    assert len(out) == width
    return " & ".join(out) + r" \\"


def to_latex(table: Table, compare: bool = False) -> str:
    rows = [row for block in table.blocks for row in block.rows]
    recipes = sorted({row.recipe for row in rows})
    recipe_col = len(recipes) > 1
    n_col = table.meta.n_min != table.meta.n_max
    head = ["Variant" if table.has_p_values else "Method"] + (["Recipe"] if recipe_col else [])
    head += [table.column_name(c) for c in COLUMNS] + (["n"] if n_col else []) + (["p"] if table.has_p_values else [])
    caption = f"{table.name}: {table.title}. {table.meta.line()}."
    if recipes and not recipe_col:
        caption += f" Recipe: {recipes[0]}."
    caption += "".join(f" {note}." for note in table.average_notes())
    if compare:
        caption += (
            f" Rows 'paper': the paper's numbers ({PAPER_MODEL})"
            + (", p: the paper's" if table.has_p_values else "")
            + "."
        )
    if table.meta.random_weights:
        caption += " Random weights: chance-level numbers that demonstrate the pipeline."
    lines = [
        r"% generated by xlprompt report; needs \usepackage{booktabs,graphicx}",
        r"\begin{table*}[t]",
        r"\centering",
        r"\scriptsize",
        r"\setlength{\tabcolsep}{2.5pt}",
        r"\resizebox{\ifdim\width>\textwidth\textwidth\else\width\fi}{!}{%",
        r"\begin{tabular}{l" + "r" * (len(head) - 1) + "}",
        r"\toprule",
        " & ".join(latex_escape(h) for h in head) + r" \\",
    ]
    if table.empty:
        lines += [r"\midrule", r"\multicolumn{" + str(len(head)) + r"}{c}{no finished runs} \\"]
    for block in table.blocks:
        lines += [
            r"\midrule",
            r"\multicolumn{" + str(len(head)) + r"}{l}{\textit{" + latex_escape(block.title) + r"}} \\",
        ]
        for row in block.rows:
            cells = [latex_escape(row.label)] + ([latex_escape(row.recipe)] if recipe_col else [])
            cells += [latex_cell(row.cells[c]) for c in COLUMNS] + ([str(row.n)] if n_col else [])
            if table.has_p_values:
                cells.append(latex_escape(p_text(table, block, row, compare=False)))
            lines.append(" & ".join(cells) + r" \\")
            if compare:
                paper_row = _latex_paper_row(table, block, row, len(head), recipe_col, n_col)
                if paper_row:
                    lines.append(paper_row)
    lines += [
        r"\bottomrule",
        r"\end{tabular}}",
        r"\caption{" + latex_escape(caption) + "}",
        r"\label{tab:" + table.name.lower().replace(" ", "-") + "}",
        r"\end{table*}",
    ]
    return "\n".join(lines) + "\n"
