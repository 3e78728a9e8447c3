"""Safe file handling shared by every command: one atomic writer, one disk-error message, output
paths checked before the work, a run-folder lock and a check of ``.safetensors`` files before use.

* :func:`atomic_output` — every file xlprompt writes goes to ``NAME.tmpPID`` next to the target, is flushed
  and fsynced, then renamed over the target. On *any* failure (a full disk included) the temporary file is
  removed, so a failed write never leaves a file behind that keeps the disk full.
* :func:`disk_error` — ``OSError`` ENOSPC / EROFS / EACCES / EDQUOT (and the same errors as torch,
  safetensors or sqlite word them) become one :class:`DiskError` line: "no space left on device for PATH".
  The CLI applies it at its boundary too (:func:`as_disk_error`), for errors raised deep inside a library.
* :func:`check_output_file` / :func:`check_output_dir` — an output path is checked (its folder exists or
  can be made, is a folder, is writable) before any work is done.
* :class:`RunLock` — ``RUN_DIR/.lock``, held with ``fcntl.flock`` while a process owns the run folder; the
  file names the owner (pid and host). A second process gets a one-line error naming the owner. A lock
  left by a dead process is no lock at all (the kernel drops ``flock`` locks when their process exits), so
  it is taken over.
* :func:`verify_safetensors` — a ``.safetensors`` file's header is parsed and its size checked against the
  header's offsets, so a truncated or corrupt file gives one line, not a traceback from safetensors.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import socket
import struct
from pathlib import Path
from typing import IO, Callable, Iterator, Sequence

from xlprompt.errors import CheckpointError, XlpromptError

LOCK_FILE = ".lock"
_DISK_ERRNOS = {
    errno.ENOSPC: "no space left on device",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    getattr(errno, "EDQUOT", -1): "disk quota exceeded",
}
#: how libraries word those errors when they do not raise an OSError (torch, safetensors, sqlite)
_DISK_TEXTS = {
    "no space left on device": "no space left on device",
    "database or disk is full": "no space left on device",
    "file write failed": "no space left on device (write failed)",
    "read-only file system": "read-only file system",
    "attempt to write a readonly database": "read-only file system (or a read-only store)",
    "disk quota exceeded": "disk quota exceeded",
}


class DiskError(XlpromptError, OSError):
    """A write failed because the disk is full, read-only or not writable; the message names the path."""


def disk_error(err: BaseException, path: str | Path | None = None) -> DiskError | None:
    """The one-line :class:`DiskError` for a full / read-only / unwritable disk, or None for other errors."""
    reason = None
    if isinstance(err, DiskError):
        return err
    if isinstance(err, OSError) and err.errno in _DISK_ERRNOS:
        reason = _DISK_ERRNOS[err.errno]
        path = path or err.filename
    else:
        text = str(err).lower()
        reason = next((why for key, why in _DISK_TEXTS.items() if key in text), None)
    if reason is None:
        return None
    where = f" for {path}" if path else ""
    fix = "free some space or pass another path" if "space" in reason or "quota" in reason else "pass a writable path"
    return DiskError(f"{reason}{where}; {fix}")


def disk_full(path: str | Path, margin: int = 1 << 20) -> bool:
    """Whether the file system holding ``path`` (or its nearest existing folder) has under ``margin`` bytes
    free: what SQLite's bare "disk I/O error" means on a full disk."""
    import shutil

    path = Path(path)
    while not path.exists() and path.parent != path:
        path = path.parent
    try:
        return shutil.disk_usage(path).free < margin
    except OSError:
        return False


def as_disk_error(err: BaseException, path: str | Path | None = None) -> DiskError | None:
    """A disk error anywhere in ``err``'s chain (torch raises its own RuntimeError while handling the
    ENOSPC), as one line (None if there is none). The CLI applies it at its boundary."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        found = disk_error(err, path)
        if found is not None:
            return found
        err = err.__cause__ or err.__context__
    return None


def _tmp_name(path: Path) -> Path:
    return path.with_name(path.name + f".tmp{os.getpid()}")


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success fsync and rename it over ``path``; on any failure
    remove it (and raise a :class:`DiskError` for a full or read-only disk)."""
    path = Path(path)
    tmp = _tmp_name(path)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            tmp.unlink()
        found = as_disk_error(err, path) if isinstance(err, Exception) else None
        if found is not None and found is not err:
            raise found from None
        raise


@contextlib.contextmanager
def atomic_file(path: str | Path, mode: str = "wb") -> Iterator[IO]:
    """An open file whose content replaces ``path`` atomically when the block ends without error."""
    with atomic_output(path) as tmp:
        with open(tmp, mode) as fh:
            yield fh
            fh.flush()


@contextlib.contextmanager
def staged_folder(out_dir: str | Path, owned: Sequence[str]) -> Iterator[Path]:
    """Build into a new sibling folder, then swap in: yields the new folder; when the block ends without error
    (the caller has written and verified everything there), its entries named in ``owned`` (the files and
    folders this writer owns) replace those of ``out_dir``. The old ones are moved aside first and put back if
    the swap fails; every entry of ``out_dir`` not in ``owned`` stays untouched (a writer never deletes what it
    did not write). ``owned`` is read when the block ends, so a writer may fill a list with what it wrote. On
    any failure ``out_dir`` is as it was and the new folder is removed."""
    import shutil

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp{os.getpid()}")
    old = out_dir.with_name(f".{out_dir.name}.old{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    moved: list[str] = []
    placed: list[str] = []

    def remove(path: Path) -> None:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()

    try:
        yield tmp
        out_dir.mkdir(exist_ok=True)
        old.mkdir(exist_ok=True)
        for name in owned:
            if os.path.lexists(out_dir / name):
                os.replace(out_dir / name, old / name)
                moved.append(name)
        for name in owned:  # in the caller's order: its last entry (a config) marks a complete folder
            if os.path.lexists(tmp / name):
                os.replace(tmp / name, out_dir / name)
                placed.append(name)
    except BaseException as err:
        for name in placed:
            with contextlib.suppress(OSError):
                remove(out_dir / name)
        for name in moved:  # put the earlier ones back
            with contextlib.suppress(OSError):
                os.replace(old / name, out_dir / name)
        shutil.rmtree(tmp, ignore_errors=True)
        with contextlib.suppress(OSError):
            old.rmdir()  # empty once everything is back; else what could not be put back stays there
        found = as_disk_error(err, out_dir) if isinstance(err, Exception) else None
        if found is not None and found is not err:
            raise found from None
        raise
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_file(path) as fh:
        fh.write(data)


def save_safetensors(tensors: dict, path: str | Path, metadata: dict | None = None) -> None:
    """``safetensors.torch.save_file`` through :func:`atomic_output` (no partial file on a full disk)."""
    from safetensors.torch import save_file

    with atomic_output(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


def check_output_file(path: str | Path, what: str = "output file", create_parents: bool = False) -> Path:
    """Refuse an output file path that cannot be written, before any work: the path must not be a folder,
    its folder must exist (or, with ``create_parents``, be creatable) and be writable."""
    path = Path(path)
    if path.is_dir():
        raise XlpromptError(f"{path}: the {what} is a folder; pass a file path")
    parent = path.parent
    if not parent.exists() and not create_parents:
        raise XlpromptError(
            f"{path}: cannot write the {what}: the folder {parent} does not exist; create it first or pass another path"
        )
    _check_creatable(parent, path, what)
    return path


def check_output_dir(path: str | Path, what: str = "output folder") -> Path:
    """Refuse an output folder that cannot be made or written, before any work."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise XlpromptError(f"{path}: the {what} is a file; pass a folder path")
    _check_creatable(path, path, what)
    return path


def _check_creatable(folder: Path, path: Path, what: str) -> None:
    """``folder`` exists as a writable folder, or its nearest existing ancestor is one."""
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise XlpromptError(f"{path}: cannot write the {what}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise DiskError(f"{path}: cannot write the {what}: {existing} is not writable; pass a writable path")
    with contextlib.suppress(OSError):  # a read-only mount answers os.access as writable for root
        if os.statvfs(existing).f_flag & os.ST_RDONLY:
            raise DiskError(
                f"{path}: cannot write the {what}: {existing} is on a read-only file system; pass a writable path"
            )


# ------------------------------------------------------------------------------------------- run lock
class RunLockedError(CheckpointError):
    """Another live process owns the run folder."""


class RunLock:
    """``with RunLock(run_dir):`` — exclusive ownership of a run folder (see the module docstring)."""

    def __init__(self, run_dir: str | Path, file: str = LOCK_FILE, on_busy: Callable[[str], None] | None = None):
        """``file``: the lock file's name in ``run_dir``; ``on_busy``: when given, a busy folder is waited for
        (``on_busy`` is called once with the owner, then the lock is taken when the owner lets go) instead of
        being an error."""
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / file
        self.on_busy = on_busy
        self._fd: int | None = None

    def owner(self) -> str:
        try:
            info = json.loads(self.path.read_text("utf-8"))
            return f"process {info['pid']} on host {info['host']}"
        except (OSError, ValueError, KeyError, TypeError):
            return "another process"

    def acquire(self) -> "RunLock":
        import fcntl

        self.run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if self.on_busy is not None:
                self.on_busy(self.owner())
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)  # blocks until the owner releases it (or exits)
                except BaseException:
                    os.close(fd)
                    raise
            else:
                os.close(fd)
                raise RunLockedError(
                    f"{self.run_dir}: in use by {self.owner()} (lock file {self.path}); wait for "
                    "it to finish or use another --out folder"
                ) from None
        except OSError:
            os.close(fd)
            raise
        # the lock is ours (a lock file left by a dead process is taken over): name the owner
        payload = json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, payload, 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


# ------------------------------------------------------------------------------------------- safetensors
def verify_safetensors(path: str | Path) -> Path:
    """Check that ``path`` is a complete ``.safetensors`` file (header parses, data as long as the header
    says); raise a one-line :class:`CheckpointError` otherwise."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise ValueError(f"{size} bytes, shorter than a header")
            (length,) = struct.unpack("<Q", head)
            if length > size - 8:
                raise ValueError(f"header of {length} bytes, file of {size}")
            header = json.loads(fh.read(length))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing") from None
    except (OSError, ValueError, UnicodeDecodeError) as err:
        raise CheckpointError(
            f"{path}: not a complete safetensors file ({err}); it is truncated or corrupt: "
            "train the run again (or restore the file)"
        ) from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: not a safetensors file (its header is not an object)")
    end = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            end = max(end, int(info["data_offsets"][1]))
        except (KeyError, TypeError, ValueError, IndexError):
            raise CheckpointError(f"{path}: corrupt safetensors header (tensor '{name}')") from None
    if 8 + length + end != size:
        raise CheckpointError(
            f"{path}: truncated or corrupt safetensors file ({size} bytes, its header "
            f"describes {8 + length + end}); train the run again (or restore the file)"
        )
    return path


def load_safetensors(path: str | Path) -> dict:
    """:func:`verify_safetensors`, then ``safetensors.torch.load_file``."""
    from safetensors.torch import load_file

    verify_safetensors(path)
    try:
        return load_file(str(path))
    except Exception as err:  # safetensors' own errors are long and name no file
        raise CheckpointError(f"{path}: cannot be read ({str(err).splitlines()[0][:160]})") from None


def sha256_file(path: str | Path) -> str:
    """The SHA-256 of a file, read in 1 MiB blocks (checkpoints, fetched data, cache keys): the one hasher."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
