"""Atomic, verified checkpoints of a training run.

Layout inside the run directory::

    checkpoint/epoch-0007.pt       the state after epoch 7 (torch.save of plain tensors and numbers)
    checkpoint/best-0005.pt        the trainable state of the best epoch so far (here 5), a file of its own
    checkpoint/latest.json         {"file": "epoch-0007.pt", "sha256": "...", "epoch": 7,
                                    "best": {"file": "best-0005.pt", "sha256": "...", "epoch": 5}}

A checkpoint file is written to a temporary name, flushed to disk, then renamed; ``latest.json`` is replaced
(rename) only after that, and older files are removed last. A kill at any moment leaves ``latest.json``
pointing at complete files. On load the SHA-256 is checked: a corrupt file is reported, never used.

The best-epoch copy (as large as the latest state's weights) is written and hashed only when the best epoch
has changed since the previous checkpoint; otherwise the pointer keeps naming the file already there
(on a GPU an epoch takes seconds, and rewriting 1-2 GB each time would dominate it).
"""

from __future__ import annotations

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


def weights_metadata(path: Path) -> dict[str, str]:
    """The metadata of a ``.safetensors`` file (xlprompt's: the config hash it was saved with, and the method);
    empty for a file without (or with a corrupt header: :func:`xlprompt.safety.verify_safetensors` says so)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), "pt") as fh:
            return dict(fh.metadata() or {})
    except Exception:  # safetensors raises its own error types for a corrupt header
        return {}


def json_digest(value: Any) -> str:
    """``sha256:…`` of a JSON value (keys sorted, no spaces): how an artifact recognises a record it holds (a run
    folder's task definition and label words) whatever the file's layout."""
    import hashlib

    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


from xlprompt.safety import sha256_file as _sha256  # noqa: E402 - one file hasher for the package


def _write_state(path: Path, state: Any) -> str:
    """torch.save ``state`` atomically to ``path``; its SHA-256."""
    from xlprompt.safety import atomic_file

    with atomic_file(path) as fh:  # no *.tmpPID left behind on a full disk
        torch.save(state, fh)
    return _sha256(path)


def _previous_pointer(folder: Path) -> dict:
    try:
        pointer = json.loads((folder / LATEST).read_text("utf-8"))
        return pointer if isinstance(pointer, dict) else {}
    except (OSError, ValueError):
        return {}


def save_checkpoint(run_dir: Path, epoch: int, state: dict[str, Any]) -> Path:
    """Write ``state`` as the checkpoint of ``epoch``. ``state["best_state"]`` (the best epoch's trainable
    state, or None) goes to a file of its own, ``best-<best_epoch>.pt``, reused as it is when the previous
    checkpoint already holds that best epoch."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    state = dict(state)
    best_state = state.pop("best_state", None)
    name = f"epoch-{epoch:04d}.pt"
    pointer: dict[str, Any] = {"file": name, "sha256": _write_state(folder / name, state), "epoch": epoch}
    if best_state is not None:
        best_epoch = int(state.get("best_epoch", epoch + 1))
        best_name = f"best-{best_epoch:04d}.pt"
        previous = _previous_pointer(folder).get("best")
        if isinstance(previous, dict) and previous.get("file") == best_name and (folder / best_name).exists():
            pointer["best"] = previous  # unchanged: neither rewritten nor re-hashed
        else:
            pointer["best"] = {
                "file": best_name,
                "sha256": _write_state(folder / best_name, best_state),
                "epoch": best_epoch,
            }
    atomic_write_text(folder / LATEST, json.dumps(pointer))
    keep = {name, LATEST, pointer.get("best", {}).get("file")}
    for old in folder.iterdir():
        if old.name not in keep:
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
        files = [(pointer["file"], pointer["sha256"])]
        if pointer.get("best") is not None:
            files.append((pointer["best"]["file"], pointer["best"]["sha256"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise CheckpointError(
            f"{pointer_path}: unreadable checkpoint pointer ({err}); delete the run "
            "directory's checkpoint/ folder to restart the run from scratch"
        ) from None
    loaded = [_load_verified(folder / file, expected, pointer_path) for file, expected in files]
    state = loaded[0]
    if len(loaded) > 1:
        state["best_state"] = loaded[1]
    return state


def _load_verified(path: Path, expected: str, pointer_path: Path) -> Any:
    folder = path.parent
    if not path.exists():
        raise CheckpointError(
            f"{path}: checkpoint named by {pointer_path} is missing; delete {folder} to restart the run from scratch"
        )
    if _sha256(path) != expected:
        raise CheckpointError(
            f"{path}: checkpoint is corrupt (SHA-256 mismatch); delete {folder} to restart the run from scratch"
        )
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
