"""``xlprompt data ...``: inspect a data folder and build the external parallel corpus."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from xlprompt.data.parallel import (
    PARALLEL_SOURCES,
    build_parallel_corpus,
    language_counts,
    write_parallel_jsonl,
)
from xlprompt.data.stats import data_stats, format_stats
from xlprompt.languages import LANGUAGE_NAMES, TARGET_LANGUAGES

_DIR = click.Path(file_okay=False, path_type=Path)
_FILE = click.Path(dir_okay=False, path_type=Path)


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


@data.command("stats")
@click.option("--data-dir", type=_DIR, required=True, help="Data folder (layout: see xlprompt.data).")
def stats(data_dir: Path) -> None:
    """Rows per source, split, language and label of a data folder (validates every file)."""
    with _warnings_as_lines():
        rows = data_stats(data_dir)
    click.echo(f"data folder: {data_dir}\n")
    click.echo(format_stats(rows))


@data.command("build-parallel")
@click.option("--source", type=click.Choice(PARALLEL_SOURCES), required=True,
              help="Where the pairs come from (see xlprompt.data.parallel).")
@click.option("--size", type=click.IntRange(min=1), default=500, show_default=True,
              help="Number of pairs (the paper: 500).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the pair and language draws.")
@click.option("--out", type=_FILE, required=True, help="Output JSONL file (written atomically).")
@click.option("--data-dir", type=_DIR, default=None, help="Data folder (pawsx, tatoeba, xnli-dev, translate).")
@click.option("--file", "file", type=_FILE, default=None,
              help="source=file: a parallel JSONL; source=translate: English pairs as JSONL (premise, hypothesis).")
@click.option("--model", default=None, help="source=translate: hub name or local folder of a seq2seq MT model.")
@click.option("--languages", default=",".join(TARGET_LANGUAGES), show_default=True,
              help="Comma-separated target languages.")
@click.option("--batch-size", type=click.IntRange(min=1), default=16, show_default=True, help="source=translate.")
@click.option("--num-beams", type=click.IntRange(min=1), default=4, show_default=True, help="source=translate.")
@click.option("--device", default=None, help="source=translate: torch device (default: cuda if available).")
@click.option("--balanced/--iid", default=True, show_default=True,
              help="Spread pairs evenly over the languages, or draw each pair's language independently.")
def build_parallel(
    source: str, size: int, seed: int, out: Path, data_dir: Path | None, file: Path | None,
    model: str | None, languages: str, batch_size: int, num_beams: int, device: str | None,
    balanced: bool,
) -> None:
    """Build the external parallel corpus (English pairs, each with one translation) as JSONL."""
    from xlprompt.safety import check_output_file

    check_output_file(out, "parallel corpus", create_parents=True)  # before the work (issue 11)
    with _warnings_as_lines():
        pairs = build_parallel_corpus(
            source, size=size, seed=seed, data_dir=data_dir, target_languages=languages,
            file=file, translate_model=model, batch_size=batch_size, num_beams=num_beams,
            device=device, progress=source == "translate", balanced=balanced,
        )
    write_parallel_jsonl(pairs, out)
    how = "languages as in the file" if source == "file" else ("balanced" if balanced else "iid") + " languages"
    click.echo(f"wrote {len(pairs):,} pairs (source {source}, seed {seed}, {how}) to {out}")
    click.echo(_summary(language_counts(pairs), len(pairs)))


def _summary(counts: dict[str, int], total: int) -> str:
    width = max(len(LANGUAGE_NAMES[lang]) for lang in counts) if counts else 0
    lines = ["pairs per target language:"]
    for lang, n in counts.items():
        lines.append(f"  {lang}  {LANGUAGE_NAMES[lang]:<{width}}  {n:>6,}  {100 * n / total:5.1f}%")
    return "\n".join(lines)

