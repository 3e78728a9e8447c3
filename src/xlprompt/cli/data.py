"""``xlprompt data ...``: fetch and inspect a data folder, and build the external parallel corpus."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from xlprompt.cli.params import fraction_or_count, path_type
from xlprompt.data.parallel import (
    PARALLEL_SOURCES,
    build_parallel_corpus,
    language_counts,
    write_parallel_jsonl,
)
from xlprompt.data.stats import data_stats, format_stats
from xlprompt.languages import LANGUAGE_NAMES, TARGET_LANGUAGES

_DIR = path_type(file_okay=False, path_type=Path)
_FILE = path_type(dir_okay=False, path_type=Path)


@contextmanager
def _warnings_as_lines() -> Iterator[None]:
    """Print each Python warning raised inside the block as one ``warning: ...`` line on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            for item in caught:
                click.echo(f"warning: {item.message}", err=True)


@click.group()
def data() -> None:
    """Inspect data folders and build the parallel corpus for MPT."""


def _default_dir() -> Path:
    from xlprompt.data.home import default_data_dir

    return default_data_dir().path


@data.command("fetch")
@click.option(
    "--out",
    type=_DIR,
    default=None,
    help="Data folder to fill (default: $XLPROMPT_DATA, else the per-user data folder).",
)
@click.option(
    "--only",
    default=None,
    metavar="SOURCES",
    help="Comma-separated sources: fewshot, xnli, pawsx, tatoeba, multinli, muse, sib200, tatoeba-sib200, "
    "americasnli [default: fewshot,xnli,pawsx,tatoeba].",
)
@click.option(
    "--mirror", default=None, metavar="URL", help="Read every download from URL instead of its host (the path is kept)."
)
@click.option("--force", is_flag=True, help="Download again even what is already complete.")
@click.option(
    "--timeout",
    type=fraction_or_count(10.0**6),
    default=None,
    help="Seconds without progress before a download fails: connecting and the response headers in all, "
    "then any S seconds below 1 KiB/s [default: $XLPROMPT_FETCH_TIMEOUT, else 30].",
)
@click.option(
    "--unpinned",
    default=None,
    metavar="SOURCES",
    help="Accept files of these sources that differ from the pinned release (size, SHA-256); their "
    "content facts are still checked. For an upstream that changed.",
)
@click.option("--quiet", is_flag=True, help="No progress bars.")
def fetch(
    out: Path | None,
    only: str | None,
    mirror: str | None,
    force: bool,
    timeout: float | None,
    unpinned: str | None,
    quiet: bool,
) -> None:
    """Download the data sets into a data folder in the layout --data-dir reads (see xlprompt.data.fetch)."""
    from xlprompt.data.fetch import fetch_data

    out = out or _default_dir()
    report = fetch_data(
        out,
        only=only,
        mirror=mirror,
        force=force,
        timeout=timeout,
        progress=not quiet,
        log=click.echo,
        unpinned=unpinned,
    )
    for line in report.failed.values():
        click.echo(f"error: {line}", err=True)
    if report.failed:
        click.echo(f"what was fetched is kept; to resume, run: {report.rerun}", err=True)
        sys.exit(2)
    click.echo(f"data folder {out} is ready ({report.requests} requests, {report.downloaded:,} bytes downloaded)")


@data.command("stats")
@click.option(
    "--data-dir",
    type=_DIR,
    default=None,
    help="Data folder (layout: see xlprompt.data) [default: $XLPROMPT_DATA, else the per-user folder].",
)
def stats(data_dir: Path | None) -> None:
    """Rows per source, split, language and label of a data folder (validates every file)."""
    data_dir = data_dir or _default_dir()
    with _warnings_as_lines():
        rows = data_stats(data_dir)
    click.echo(f"data folder: {data_dir}\n")
    click.echo(format_stats(rows))


@data.command("cite")
@click.option(
    "--store",
    "store_path",
    type=_FILE,
    required=True,
    help="results store whose finished runs' data files are printed",
)
def cite(store_path: Path) -> None:
    """Print the data files a store's runs read: path, SHA-256 and the `data fetch` source of each, per task
    (what a paper cites to name its splits; a file read with two digests is marked CHANGED)."""
    from xlprompt.errors import ConfigError
    from xlprompt.report.cite import collect, to_text

    if not store_path.exists():
        raise ConfigError(f"{store_path}: no such results store (run `xlprompt sweep FILE --store {store_path}`)")
    click.echo(to_text(collect(store_path), store_path.name), nl=False)


@data.command("build-parallel")
@click.option(
    "--source",
    type=click.Choice(PARALLEL_SOURCES),
    required=True,
    help="Where the pairs come from (see xlprompt.data.parallel).",
)
@click.option(
    "--size", type=click.IntRange(1, 10**8), default=500, show_default=True, help="Number of pairs (the paper: 500)."
)
@click.option(
    "--seed",
    type=click.IntRange(0, 2**32 - 1),
    default=0,
    show_default=True,
    help="Seed of the pair and language draws.",
)
@click.option(
    "--out",
    type=_FILE,
    default=None,
    help="Output JSONL file (written atomically); source=translate also caches it in the data folder, "
    "where runs find it (then --out is optional).",
)
@click.option(
    "--data-dir", type=_DIR, default=None, help="Data folder [default: $XLPROMPT_DATA, else the per-user folder]."
)
@click.option(
    "--file",
    "file",
    type=_FILE,
    default=None,
    help="source=file: a parallel JSONL; source=translate: English pairs as JSONL (premise, hypothesis).",
)
@click.option("--model", default=None, help="source=translate: hub name or local folder of a seq2seq MT model.")
@click.option(
    "--languages", default=",".join(TARGET_LANGUAGES), show_default=True, help="Comma-separated target languages."
)
@click.option("--batch-size", type=click.IntRange(1, 10**8), default=16, show_default=True, help="source=translate.")
@click.option("--num-beams", type=click.IntRange(1, 10**8), default=4, show_default=True, help="source=translate.")
@click.option("--max-length", type=click.IntRange(1, 10**8), default=256, show_default=True, help="source=translate.")
@click.option(
    "--device",
    default=None,
    help="source=translate: torch device: auto, cpu, cuda, cuda:N or mps (default: cuda if available).",
)
@click.option(
    "--balanced/--iid",
    default=True,
    show_default=True,
    help="Spread pairs evenly over the languages, or draw each pair's language independently.",
)
def build_parallel(
    source: str,
    size: int,
    seed: int,
    out: Path | None,
    data_dir: Path | None,
    file: Path | None,
    model: str | None,
    languages: str,
    batch_size: int,
    num_beams: int,
    max_length: int,
    device: str | None,
    balanced: bool,
) -> None:
    """Build the external parallel corpus (English pairs, each with one translation) as JSONL.

    source=translate without --file: English PAWS-X train pairs (the paper's PAWS-15), cached in
    DATA_DIR/parallel/ under a key of everything that shapes the corpus: the same file the runs of
    parallel_source=translate read (see xlprompt.data.translated).
    """
    from xlprompt.safety import check_output_file

    if out is not None:
        check_output_file(out, "parallel corpus", create_parents=True)  # before the work
    if device is not None:
        from xlprompt.device import resolve_device

        device = str(resolve_device(device))  # the one device rule, before the work
    cached_in = None
    if source == "translate" and file is None:
        from xlprompt.data.translated import translated_corpus
        from xlprompt.errors import ConfigError

        if model is None:
            raise ConfigError(
                "source 'translate' needs a translation model: pass --model NAME_OR_PATH "
                "(e.g. facebook/nllb-200-distilled-600M or a local folder)"
            )
        with _warnings_as_lines():
            pairs, cached_in, hit = translated_corpus(
                data_dir or _default_dir(),
                model,
                size,
                seed,
                target_languages=languages,
                balanced=balanced,
                num_beams=num_beams,
                max_length=max_length,
                batch_size=batch_size,
                device=device,
                progress=True,
            )
        click.echo(f"{'reused the cached' if hit else 'cached the'} corpus {cached_in}")
    else:
        if out is None:
            raise click.UsageError("--out FILE is required (except for source=translate, which caches its corpus)")
        if source in ("pawsx", "tatoeba", "xnli-dev", "translate") and data_dir is None:
            data_dir = _default_dir()
        with _warnings_as_lines():
            pairs = build_parallel_corpus(
                source,
                size=size,
                seed=seed,
                data_dir=data_dir,
                target_languages=languages,
                file=file,
                translate_model=model,
                batch_size=batch_size,
                num_beams=num_beams,
                max_length=max_length,
                device=device,
                progress=source == "translate",
                balanced=balanced,
            )
    if out is not None:
        write_parallel_jsonl(pairs, out)
    out = out or cached_in
    how = "languages as in the file" if source == "file" else ("balanced" if balanced else "iid") + " languages"
    click.echo(f"wrote {len(pairs):,} pairs (source {source}, seed {seed}, {how}) to {out}")
    click.echo(_summary(language_counts(pairs), len(pairs)))


def _summary(counts: dict[str, int], total: int) -> str:
    width = max(len(LANGUAGE_NAMES[lang]) for lang in counts) if counts else 0
    lines = ["pairs per target language:"]
    for lang, n in counts.items():
        lines.append(f"  {lang}  {LANGUAGE_NAMES[lang]:<{width}}  {n:>6,}  {100 * n / total:5.1f}%")
    return "\n".join(lines)
