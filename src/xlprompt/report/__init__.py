"""``xlprompt report``: the paper's tables and figures from a results store.

:func:`build_report` reads the store's finished runs and writes to ``out_dir``::

    table1.md  table1.csv  table1.tex     Table I   (tables.table1; group "table1", else all runs)
    table2.md  table2.csv  table2.tex     Table II  (tables.table2; group "table2"), with t-test p-values
    fig3_gain.png / .pdf                  Fig. 3    (figures.figure3)
    fig4_ablations.png / .pdf             Fig. 4    (figures.figure4; groups fig4-*)
    fig5_ablations.png / .pdf             Fig. 5    (figures.figure5; groups fig5-*)
    leaderboard.md  leaderboard.csv       the field's methods × k with published numbers (leaderboard; group
                                          "field", else all runs)
    task_<name>.md  task_<name>.csv       one table per task other than XNLI, with its language columns,
                                          Avg and the task paper's average, the majority class and chance
                                          (task_tables); a task of many languages (SIB-200) also gets its
                                          table by group and figure (groups)
    toy_study.md  toy_transfer.png / .pdf the toy world's study: targets' mean, paired t-test against SP, gain
                                          per target language against its distance (toy_study; task toy only)
    report.md                             everything above in one Markdown page, each figure with its caption,
                                          and the data the runs read: each file's SHA-256 and source (cite)

Tables are written even when the store holds no runs for them (they then say so). A figure without runs is
not written: :attr:`Report.skipped` (and report.md, and the ``report`` command) say which and why.
``compare="paper"`` puts the paper's numbers (:mod:`xlprompt.report.paper`) beside ours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from xlprompt.checkpoint import atomic_write_text
from xlprompt.errors import ConfigError
from xlprompt.report import cite, exports, figures, groups, leaderboard, tables, task_tables, toy_study

COMPARE_CHOICES = ("paper",)


@dataclass
class Report:
    out_dir: Path
    table1: tables.Table
    table2: tables.Table
    files: list[Path] = field(default_factory=list)
    runs: int = 0
    #: the figures (or panels) not drawn, and why
    skipped: list[figures.Skipped] = field(default_factory=list)


def build_report(
    store_path: str | Path,
    out_dir: str | Path,
    compare: str | None = None,
    table1_group: str | None = tables.TABLE1_GROUP,
    table2_group: str = tables.TABLE2_GROUP,
    reference: str | None = None,
    samples: str = "seeds",
    fig3_shots: int | None = None,
    metric: str = "accuracy",
    average: Sequence[str] | None = None,
) -> Report:
    """Write the report of the store at ``store_path`` into ``out_dir`` (see the module's text).

    Args:
        store_path: the results store (read only).
        out_dir: the report folder (its earlier report files are replaced).
        compare: ``"paper"`` puts the MPT paper's numbers beside ours (accuracy only).
        table1_group, table2_group: the sweep groups of Table I and Table II.
        reference: Table II's reference variant (default: the store's, else "Original MPT").
        samples: the t-test's samples (``seeds`` or ``seed-language``).
        fig3_shots: Fig. 3's k (default: the largest with MPT and SP runs).
        metric: ``accuracy`` or ``macro_f1``: the number every table and figure shows.
        average: languages of the named average of the task tables instead of each task paper's own set.

    Returns:
        The :class:`Report` (its tables, the files written, what was not drawn)."""
    from xlprompt.store import ResultStore

    tables.check_metric(metric)
    if compare is not None and compare not in COMPARE_CHOICES:
        raise ConfigError(f"--compare must be one of {', '.join(COMPARE_CHOICES)}, not '{compare}'")
    if compare == "paper" and metric != "accuracy":
        raise ConfigError(
            f"--compare paper with --metric {metric}: the paper reports accuracy only; use --metric accuracy"
        )
    if samples not in tables.TTEST_SAMPLES:
        raise ConfigError(f"--ttest-samples must be one of {', '.join(tables.TTEST_SAMPLES)}, not '{samples}'")
    store_path = Path(store_path)
    if not store_path.exists():
        raise ConfigError(f"{store_path}: no such results store (run `xlprompt sweep FILE --store {store_path}`)")
    from xlprompt.safety import check_output_dir, recover_staged

    out = check_output_dir(out_dir, "report folder")  # before any work
    recover_staged(out)  # an earlier report killed while swapping in is finished first: its manifest is read next
    with ResultStore(store_path, create=False, readonly=True) as store:
        all_rows = tables.rows_from_store(store, metric)
        citation = cite.collect(store)  # the data the runs read, from the same connection
        # the paper's tables, figures and leaderboard are XNLI's; other tasks get a table each
        rows = [r for r in all_rows if task_tables.task_of(r) == task_tables.XNLI]
        if reference is not None:
            _check_reference(rows, table2_group, reference)
        reference = reference or store.get_meta(f"reference:{table2_group}")
    t1 = tables.table1(rows, table1_group)
    if fig3_shots is not None:
        _check_fig3_k(t1, fig3_shots)
    t2 = tables.table2(rows, table2_group, reference=reference, samples=samples)
    compare_on = compare == "paper"
    report = Report(out, t1, t2, runs=len(all_rows))
    from xlprompt.safety import staged_folder

    # the files of this report, and those the earlier report listed in its manifest: they alone are replaced (or
    # removed, when this report has no such file: a table of a task no longer in the store); other files stay
    owned: list[str] = _earlier_files(out)
    with staged_folder(out, owned) as work:
        for stem, table in (("table1", t1), ("table2", t2)):
            for suffix, text in (
                ("md", exports.to_markdown(table, compare_on)),
                ("csv", exports.to_csv(table, compare_on)),
                ("tex", exports.to_latex(table, compare_on)),
            ):
                path = work / f"{stem}.{suffix}"
                atomic_write_text(path, text)
                report.files.append(path)
        board = leaderboard.leaderboard(rows)
        for suffix, text in (("md", leaderboard.to_markdown(board)), ("csv", leaderboard.to_csv(board))):
            path = work / f"leaderboard.{suffix}"
            atomic_write_text(path, text)
            report.files.append(path)
        drawn = [
            figures.figure3(t1, work, compare=compare_on, shots=fig3_shots),
            figures.figure4(rows, work),
            figures.figure5(rows, work),
        ]
        figure_lines = []
        for fig in drawn:
            owned += [f"{fig.stem}.png", f"{fig.stem}.pdf"]  # a figure not drawn now leaves no earlier file
            report.files += fig.files
            report.skipped += fig.skipped
            if fig.files:
                figure_lines += [f"![{fig.stem}]({fig.stem}.png)", "", f"*{fig.caption}*", ""]
        if report.skipped:
            figure_lines += ["Not drawn:", ""] + [f"- {s.line()}" for s in report.skipped] + [""]
        per_task = task_tables.task_tables(all_rows, average=tuple(average) if average else None)
        task_pages = []
        for table in per_task:
            for suffix, text in (("md", task_tables.to_markdown(table)), ("csv", task_tables.to_csv(table))):
                path = work / f"task_{table.slug}.{suffix}"
                if path in report.files:  # never one file of this report over another
                    raise ConfigError(f"{path}: two tables of this report would be written to one file")
                atomic_write_text(path, text)
                report.files.append(path)
            if len(table.languages) > groups.MAX_COLUMNS:  # e.g. SIB-200: by group, plot, per-language CSV
                aligned = set(_aligned_languages(table.spec))
                path = work / f"task_{table.slug}_languages.csv"
                atomic_write_text(path, groups.languages_csv(table, aligned))
                report.files.append(path)
                report.files += groups.figure(table, work)
                task_pages += [
                    groups.to_markdown(table),
                    f"![{table.task} per language by group](task_{table.slug}_groups.png)",
                    "",
                ]
            else:
                task_pages.append(task_tables.to_markdown(table))
        toy = toy_study.collect(all_rows)
        owned += ["toy_study.md", "toy_transfer.png", "toy_transfer.pdf"]
        if toy:
            path = work / "toy_study.md"
            atomic_write_text(path, toy_study.to_markdown(toy))
            report.files.append(path)
            drawn_toy = toy_study.figure(toy, work)
            report.files += drawn_toy
            task_pages.append(toy_study.to_markdown(toy))
            if drawn_toy:
                task_pages += ["![toy: gain over SP against distance](toy_transfer.png)", ""]
        page = [
            f"# xlprompt report: {store_path.name}",
            "",
            f"{len(rows)} finished runs in `{store_path}`." + (" Cells: ours (paper, Δ)." if compare_on else ""),
            "",
            exports.to_markdown(t1, compare_on),
            exports.to_markdown(t2, compare_on),
            leaderboard.to_markdown(board),
            "## Figures",
            "",
            *figure_lines,
            *task_pages,
            cite.to_text(citation, store_path.name, markdown=True),
        ]
        atomic_write_text(work / "report.md", "\n".join(page))
        report.files.append(work / "report.md")
        atomic_write_text(work / MANIFEST, "".join(f"{path.name}\n" for path in report.files))
        owned += [path.name for path in report.files] + [MANIFEST]
    report.files = [out / path.name for path in report.files]
    return report


#: the names of the files a report wrote, one per line: the next report into the folder replaces or removes them
MANIFEST = ".xlprompt-report"


def _earlier_files(out: Path) -> list[str]:
    """The files the report earlier written into ``out`` listed (plain names only: never a path elsewhere)."""
    try:
        lines = (out / MANIFEST).read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    return [name for name in lines if name and name == Path(name).name and name not in (".", "..")]


def _aligned_languages(spec: str) -> tuple[str, ...]:
    """The task's languages with alignment data in its default corpus (SIB-200: Tatoeba's 82)."""
    try:
        from xlprompt.tasks import get_task

        return get_task(spec).parallel_languages
    except Exception:
        return ()


def _check_reference(rows, group: str, reference: str) -> None:
    """``--reference`` must name a Table II variant of the store (any case), else a one-line error."""
    from xlprompt.config import suggest

    variants = sorted({v for r in rows for v in r.variants(group)})
    if reference.lower() in (v.lower() for v in variants):
        return
    hint = suggest(reference, variants) if variants else ""
    raise ConfigError(
        f"--reference '{reference}': no variant of that name among the finished runs of group "
        f"'{group}' (variants: {', '.join(repr(v) for v in variants) or 'none'})."
        + (hint if hint.startswith(" Did") else "")
    )


def _check_fig3_k(table1, shots: int) -> None:
    """``--fig3-k K`` needs Table I runs of both MPT and SP at k = K; else name what is missing and the k present."""
    present = {b.shots: {row.paper_key for row in b.rows if row.paper_key in ("mpt", "sp")} for b in table1.blocks}
    have = present.get(shots, set())
    if {"mpt", "sp"} <= have:
        return
    missing = " and ".join(m.upper() for m in ("mpt", "sp") if m not in have)
    listed = (
        ", ".join(
            f"{k} ({'+'.join(sorted(m.upper() for m in ms)) or 'neither MPT nor SP'})"
            for k, ms in sorted(present.items())
        )
        or "none"
    )
    raise ConfigError(
        f"--fig3-k {shots}: Table I has no {missing} runs at k = {shots}; k present (methods of Fig. 3): {listed}"
    )


__all__ = ["build_report", "Report", "tables", "figures", "exports", "leaderboard"]
