"""PAWS-15 the paper's way: English PAWS-X **train** pairs machine-translated, cached in the data folder.

The paper (§IV-A) builds its external corpus from 500 English PAWS-X training pairs, each translated
into one of the 14 other XNLI languages. :func:`translated_corpus` does that with the ``translate``
source of :func:`xlprompt.data.parallel.build_parallel_corpus` (English pairs from
``pawsx/train/en.tsv``, which ``xlprompt data fetch --only pawsx`` writes) and caches the result as

    DATA_DIR/parallel/translate-{key}.jsonl        the corpus (format of write_parallel_jsonl)
    DATA_DIR/parallel/translate-{key}.key.json     what the key was computed from

where ``key`` is a SHA-256 (first 16 hex digits) of everything that shapes the corpus: the translation
model (name or path as given), ``size``, ``seed``, ``balanced``, the target languages, ``num_beams``,
``max_length`` and the SHA-256 of ``pawsx/train/en.tsv``. The batch size and device are not in the
key (they change speed, not the result beyond float noise). So the 180 runs of Table I translate once;
``xlprompt data build-parallel --source translate --data-dir DIR`` writes the same file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Iterable

from xlprompt.data.examples import ParallelPair
from xlprompt.data.parallel import build_parallel_corpus, normalize_targets, read_parallel_jsonl, write_parallel_jsonl
from xlprompt.errors import DataError
from xlprompt.languages import TARGET_LANGUAGES

__all__ = ["ENGLISH_FILE", "CACHE_FOLDER", "cache_key", "cache_path", "translated_corpus"]

ENGLISH_FILE = "pawsx/train/en.tsv"
CACHE_FOLDER = "parallel"
_FORMAT = "xlprompt-translate-cache-1"


def _file_sha256(path: Path) -> str:
    if not path.is_file():
        raise DataError(
            "not found: the translate source samples English PAWS-X train pairs; fill the folder with "
            f"`xlprompt data fetch --out {path.parents[2]} --only pawsx`",
            path,
        )
    from xlprompt.safety import sha256_file

    return sha256_file(path)


def _model_name(model: Any) -> str:
    return str(getattr(model, "name", None) or model) if not isinstance(model, (str, Path)) else str(model)


def cache_key(
    data_dir: str | Path,
    model: Any,
    size: int,
    seed: int,
    target_languages: Iterable[str] | str = TARGET_LANGUAGES,
    balanced: bool = True,
    num_beams: int = 4,
    max_length: int = 256,
) -> dict[str, Any]:
    """Everything that shapes a translated corpus (see the module docstring)."""
    return {
        "format": _FORMAT,
        "model": _model_name(model),
        "size": size,
        "seed": seed,
        "balanced": bool(balanced),
        "languages": list(normalize_targets(target_languages)),
        "num_beams": num_beams,
        "max_length": max_length,
        "english_file": ENGLISH_FILE,
        "english_sha256": _file_sha256(Path(data_dir) / ENGLISH_FILE),
    }


def cache_path(data_dir: str | Path, key: dict[str, Any]) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return Path(data_dir) / CACHE_FOLDER / f"translate-{digest}.jsonl"


def translated_corpus(
    data_dir: str | Path,
    model: Any,
    size: int = 500,
    seed: int = 0,
    target_languages: Iterable[str] | str = TARGET_LANGUAGES,
    balanced: bool = True,
    num_beams: int = 4,
    max_length: int = 256,
    batch_size: int = 16,
    device: str | None = None,
    progress: bool = False,
) -> tuple[list[ParallelPair], Path, bool]:
    """The translated corpus of ``size`` PAWS-X train pairs: from the cache, or translated and cached.

    ``model`` is a hub name or folder of a seq2seq MT model (or a translator object with ``translate``
    and a ``name``). Returns ``(pairs, cache file, whether it came from the cache)``.
    """
    key = cache_key(data_dir, model, size, seed, target_languages, balanced, num_beams, max_length)
    path = cache_path(data_dir, key)
    if path.is_file():
        pairs = read_parallel_jsonl(path)
        if len(pairs) == size:
            return pairs, path, True
    pairs = build_parallel_corpus(
        "translate",
        size=size,
        seed=seed,
        data_dir=data_dir,
        target_languages=target_languages,
        translate_model=model,
        batch_size=batch_size,
        num_beams=num_beams,
        max_length=max_length,
        device=device,
        progress=progress,
        balanced=balanced,
    )
    write_parallel_jsonl(pairs, path)
    from xlprompt.checkpoint import atomic_write_text

    atomic_write_text(path.with_name(path.stem + ".key.json"), json.dumps(key, indent=2))
    return pairs, path, False
