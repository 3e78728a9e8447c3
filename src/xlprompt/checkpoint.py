"""Atomic, verified checkpoints of a training run.

Layout inside the run directory::

    checkpoint/epoch-0007.pt       the state after epoch 7 (torch.save of plain tensors and numbers)
    checkpoint/latest.json         {"file": "epoch-0007.pt", "sha256": "...", "epoch": 7}

A checkpoint file is written to a temporary name, flushed to disk, then renamed; ``latest.json`` is replaced
(rename) only after that, and older files are removed last. A kill at any moment leaves ``latest.json``
pointing at a complete file. On load the SHA-256 is checked: a corrupt file is reported, never used.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from xlprompt.errors import CheckpointError

CHECKPOINT_DIR = "checkpoint"
LATEST = "latest.json"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    from xlprompt.safety import atomic_write_bytes as write  # removes the temp file on any failure

    write(path, data)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(Path(path), text.encode("utf-8"))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_checkpoint(run_dir: Path, epoch: int, state: dict[str, Any]) -> Path:
    folder = Path(run_dir) / CHECKPOINT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    name = f"epoch-{epoch:04d}.pt"
    from xlprompt.safety import atomic_file

    with atomic_file(folder / name) as fh:  # no *.tmpPID left behind on a full disk (issue 11)
        torch.save(state, fh)
    pointer = {"file": name, "sha256": _sha256(folder / name), "epoch": epoch}
    atomic_write_text(folder / LATEST, json.dumps(pointer))
    for old in folder.iterdir():
        if old.name not in (name, LATEST):
            old.unlink(missing_ok=True)
    return folder / name


def load_checkpoint(run_dir: Path) -> dict[str, Any] | None:
    """The latest checkpoint's state, or None if the run has none. Raises :class:`CheckpointError` if corrupt."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    pointer_path = folder / LATEST
    if not pointer_path.exists():
        return None
    try:
        pointer = json.loads(pointer_path.read_text("utf-8"))
        path = folder / pointer["file"]
        expected = pointer["sha256"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise CheckpointError(f"{pointer_path}: unreadable checkpoint pointer ({err}); delete the run "
                              "directory's checkpoint/ folder to restart the run from scratch") from None
    if not path.exists():
        raise CheckpointError(f"{path}: checkpoint named by {pointer_path} is missing; delete "
                              f"{folder} to restart the run from scratch")
    if _sha256(path) != expected:
        raise CheckpointError(f"{path}: checkpoint is corrupt (SHA-256 mismatch); delete {folder} to restart "
                              "the run from scratch")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        reason = str(err).strip().split(". ")[0][:160] or type(err).__name__  # torch's text goes on for lines
        raise CheckpointError(f"{path}: checkpoint cannot be read ({reason}); delete {folder} to restart") from None


def remove_checkpoints(run_dir: Path) -> None:
    folder = Path(run_dir) / CHECKPOINT_DIR
    if folder.exists():
        for f in folder.iterdir():
            f.unlink(missing_ok=True)
        folder.rmdir()
