"""Safe file handling shared by every command: one atomic writer, one disk-error message, output
paths checked before the work, a run-folder lock and a check of ``.safetensors`` files before use.

* :func:`atomic_output` — every file xlprompt writes goes to ``NAME.tmpPID`` next to the target, is flushed
  and fsynced, then renamed over the target. On *any* failure (a full disk included) the temporary file is
  removed, so a failed write never leaves a file behind that keeps the disk full. It writes only where the
  name is absent or a regular file (:func:`check_replaceable`): a link, FIFO, device or socket is refused in one
  line before any work, never replaced.
* :func:`staged_folder` — a folder of several files built aside and swapped in; the point of no return is a
  journal written atomically before the swap, so a swap killed half way is finished by the next writer of that
  folder (:func:`recover_staged`), which also removes what dead processes left beside it.
* :func:`disk_error` — ``OSError`` ENOSPC / EROFS / EACCES / EDQUOT (and the same errors as torch,
  safetensors or sqlite word them) become one :class:`DiskError` line: "no space left on device for PATH".
  The CLI applies it at its boundary too (:func:`as_disk_error`), for errors raised deep inside a library.
* :func:`check_output_file` / :func:`check_output_dir` — an output path is checked (its folder exists or
  can be made, is a folder, is writable) before any work is done.
* :class:`RunLock` — ``RUN_DIR/.lock``, held with ``fcntl.flock`` while a process owns the run folder; the
  file names the owner (pid and host). A second process gets a one-line error naming the owner. A lock
  left by a dead process is no lock at all (the kernel drops ``flock`` locks when their process exits), so
  it is taken over. The lock file is opened without following a link (:func:`open_no_follow`, as ``run.log``
  and ``steps.jsonl`` are): a link or folder there is one line, and nothing outside the folder is touched.
* :func:`check_path_value` — a path argument of the Python API that is not a path is one line.
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
import stat
import struct
from pathlib import Path
from typing import IO, Callable, Iterator, Sequence

from xlprompt.errors import CheckpointError, ConfigError, XlpromptError

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


_KINDS = (
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
    (stat.S_ISSOCK, "a socket"),
)


def path_kind(path: str | Path) -> str | None:
    """What ``path`` itself is when it exists and is not a regular file (its last part not followed when it is
    a link): ``"a symbolic link"``, ``"a folder"``, ``"a FIFO (named pipe)"``, ``"a device"``, ``"a socket"``;
    None when it is absent or a regular file."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        return None  # a file in the place of a folder above it: the folder checks say so
    if stat.S_ISREG(mode):
        return None
    return next((kind for test, kind in _KINDS if test(mode)), "not a regular file")


def check_replaceable(path: str | Path, what: str = "output file", hint: str = "") -> Path:
    """Refuse, in one line, an output name that exists and is not a regular file (a link, folder, FIFO, device
    or socket): xlprompt writes only where the name is absent or a regular file it may replace, so it never
    replaces a device node or writes through a link. ``hint``: a sentence added to the message."""
    path = Path(path)
    kind = path_kind(path)
    if kind is not None:
        raise XlpromptError(
            f"{path}: the {what} is {kind}; xlprompt writes only a new file or over a regular file: "
            f"remove it or pass another path{hint}"
        )
    return path


def _tmp_name(path: Path) -> Path:
    return path.with_name(path.name + f".tmp{os.getpid()}")


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success fsync and rename it over ``path``; on any failure
    remove it (and raise a :class:`DiskError` for a full or read-only disk)."""
    path = check_replaceable(path)  # before the work
    tmp = _tmp_name(path)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        check_replaceable(path)  # and again at the rename: it may have appeared meanwhile
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


#: staged_folder's names beside OUT: ``.OUT.tmpPID`` (the new entries), ``.OUT.oldPID`` (the earlier ones, moved
#: aside), ``.OUT.swapPID`` (the journal: written once the new entries are complete, the point of no return)
_STAGED = ("tmp", "old", "swap")
_ACTIVE: set[tuple[str, int]] = set()  # (folder, pid) of the staged writes running in this process


def _remove(path: Path) -> None:
    import shutil

    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """``flock`` on ``folder`` itself (no file is created): the staged writes into one parent folder finish
    or recover one at a time. Where the file system has no ``flock``, nothing is locked."""
    import fcntl

    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        yield
        return
    try:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # drops the lock


def _staged_names(out_dir: Path) -> dict[int, dict[str, Path]]:
    """The staging entries beside ``out_dir``, by the pid in their names."""
    import re

    found: dict[int, dict[str, Path]] = {}
    prefix = f".{out_dir.name}."
    pattern = re.compile(r"(tmp|old|swap)(\d+)(\.tmp\d+)?")
    with contextlib.suppress(OSError):
        for entry in out_dir.parent.iterdir():
            match = pattern.fullmatch(entry.name[len(prefix) :]) if entry.name.startswith(prefix) else None
            if match is not None and (match[3] is None or match[1] == "swap"):
                kind = match[1] + ("-partial" if match[3] else "")  # a journal being written when killed
                found.setdefault(int(match[2]), {})[kind] = entry
    return found


def _roll_forward(out_dir: Path, tmp: Path, old: Path, journal: dict) -> None:
    """Finish a swap whose journal was written: every entry of the new build ends up in ``out_dir``, every
    other entry the writer owns is removed (moved to ``old``). Idempotent: a kill while it runs is finished by
    the next call."""
    place = [str(n) for n in journal.get("place", [])]
    owned = [str(n) for n in journal.get("owned", [])]
    old.mkdir(exist_ok=True)
    for name in owned:
        if name in place and not os.path.lexists(tmp / name):
            continue  # already placed
        if os.path.lexists(out_dir / name):
            if os.path.lexists(old / name):
                _remove(out_dir / name)
            else:
                os.replace(out_dir / name, old / name)
    out_dir.mkdir(exist_ok=True)
    for name in place:
        if os.path.lexists(tmp / name):
            os.replace(tmp / name, out_dir / name)


def _roll_back(out_dir: Path, old: Path) -> None:
    """Put back the earlier entries a writer without a journal had moved aside (the format before journals)."""
    if old.is_dir():
        out_dir.mkdir(exist_ok=True)
        for entry in old.iterdir():
            if not os.path.lexists(out_dir / entry.name):
                os.replace(entry, out_dir / entry.name)


def pid_alive(pid: int | None) -> bool:
    """Whether a process with this pid exists on this host (a zombie counts as dead)."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:  # Linux: a zombie ('Z') has exited but not been reaped
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def recover_staged(out_dir: str | Path) -> list[str]:
    """Finish or undo the staged writes of ``out_dir`` (:func:`staged_folder`) whose process is dead, and remove
    what they left beside it: with a journal the swap is finished (the new entries were complete), without one
    the new entries are dropped and any earlier entry moved aside is put back. Returns one line per write
    recovered. Safe to call at any time: the writes of live processes are left alone."""
    import shutil

    out_dir = Path(out_dir)
    done: list[str] = []
    if not out_dir.parent.is_dir():
        return done
    with _folder_lock(out_dir.parent):
        for pid, entries in sorted(_staged_names(out_dir).items()):
            if (str(out_dir), pid) in _ACTIVE or (pid != os.getpid() and pid_alive(pid)):
                continue
            tmp = entries.get("tmp", out_dir.with_name(f".{out_dir.name}.tmp{pid}"))
            old = entries.get("old", out_dir.with_name(f".{out_dir.name}.old{pid}"))
            journal_path = entries.get("swap")
            journal = None
            if journal_path is not None:
                with contextlib.suppress(OSError, ValueError):
                    journal = json.loads(journal_path.read_text("utf-8"))
            if isinstance(journal, dict):
                _roll_forward(out_dir, tmp, old, journal)
                done.append(f"{out_dir}: finished the swap of a write interrupted in process {pid}")
            else:
                _roll_back(out_dir, old)
            for name in ("swap", "swap-partial"):
                if name in entries:
                    entries[name].unlink(missing_ok=True)
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.rmtree(old, ignore_errors=True)
    return done


@contextlib.contextmanager
def staged_folder(out_dir: str | Path, owned: Sequence[str]) -> Iterator[Path]:
    """Build into a new sibling folder, then swap in: yields the new folder; when the block ends without error
    (the caller has written and verified everything there), its entries named in ``owned`` (the files and
    folders this writer owns) replace those of ``out_dir``; every entry of ``out_dir`` not in ``owned`` stays
    untouched (a writer never deletes what it did not write). ``owned`` is read when the block ends, so a writer
    may fill a list with what it wrote.

    First, writes of dead processes into ``out_dir`` are finished or undone (:func:`recover_staged`). Before
    the swap a journal naming the new entries is written atomically: the point of no return. A swap that fails
    in this process is undone (``out_dir`` is as it was, the new folder removed); one killed part way is
    finished by the next call of any writer of ``out_dir``, which also removes the killed one's folders."""
    import shutil

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    recover_staged(out_dir)
    pid = os.getpid()
    tmp = out_dir.with_name(f".{out_dir.name}.tmp{pid}")
    old = out_dir.with_name(f".{out_dir.name}.old{pid}")
    journal = out_dir.with_name(f".{out_dir.name}.swap{pid}")
    key = (str(out_dir), pid)
    _ACTIVE.add(key)
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        moved: list[str] = []
        placed: list[str] = []
        try:
            yield tmp
            names = list(dict.fromkeys(owned))
            place = [name for name in names if os.path.lexists(tmp / name)]
            with _folder_lock(out_dir.parent):
                atomic_write_bytes(journal, json.dumps({"owned": names, "place": place}).encode())
                out_dir.mkdir(exist_ok=True)
                old.mkdir(exist_ok=True)
                for name in names:
                    if os.path.lexists(out_dir / name):
                        os.replace(out_dir / name, old / name)
                        moved.append(name)
                for name in place:  # in the caller's order: its last entry (a config) marks a complete folder
                    os.replace(tmp / name, out_dir / name)
                    placed.append(name)
        except BaseException as err:
            for name in reversed(placed):  # back to the new folder, so that the journal still describes it
                with contextlib.suppress(OSError):
                    os.replace(out_dir / name, tmp / name)
            for name in moved:  # put the earlier ones back
                with contextlib.suppress(OSError):
                    os.replace(old / name, out_dir / name)
            with contextlib.suppress(OSError):
                journal.unlink()
            shutil.rmtree(tmp, ignore_errors=True)
            with contextlib.suppress(OSError):
                old.rmdir()  # empty once everything is back; else what could not be put back stays there
            found = as_disk_error(err, out_dir) if isinstance(err, Exception) else None
            if found is not None and found is not err:
                raise found from None
            raise
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
        journal.unlink(missing_ok=True)  # last: until then a later call finishes (and cleans up) this swap
    finally:
        _ACTIVE.discard(key)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_file(path) as fh:
        fh.write(data)


def save_safetensors(tensors: dict, path: str | Path, metadata: dict | None = None) -> None:
    """``safetensors.torch.save_file`` through :func:`atomic_output` (no partial file on a full disk)."""
    from safetensors.torch import save_file

    with atomic_output(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


def check_output_file(
    path: str | Path, what: str = "output file", create_parents: bool = False, hint: str = ""
) -> Path:
    """Refuse an output file path that cannot be written, before any work: the path must be absent or a
    regular file (not a folder, link, FIFO, device or socket: :func:`check_replaceable`, whose message gets
    ``hint``), its folder must exist (or, with ``create_parents``, be creatable) and be writable."""
    path = Path(path)
    if path_kind(path) == "a folder":
        raise XlpromptError(f"{path}: the {what} is a folder; pass a file path")
    check_replaceable(path, what, hint)
    parent = path.parent
    if not parent.exists() and not create_parents:
        raise XlpromptError(
            f"{path}: cannot write the {what}: the folder {parent} does not exist; create it first or pass another path"
        )
    _check_creatable(parent, path, what)
    return path


def check_path_value(value: object, what: str) -> Path:
    """``value`` as a :class:`~pathlib.Path` when it is a path (a ``str`` or ``os.PathLike`` naming one, not
    empty); else one :class:`ConfigError` line naming ``what`` and the type given (the Python API's paths are
    checked here, as the command line's are by its options)."""
    text = os.fspath(value) if isinstance(value, (str, os.PathLike)) else None
    if not isinstance(text, str) or not text.strip():
        shown = repr(value) if isinstance(value, (str, bytes)) else type(value).__name__
        raise ConfigError(f"{what} must be a path (a str or pathlib.Path), not {shown}")
    return Path(text)


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
def open_no_follow(path: str | Path, flags: int, what: str) -> int:
    """``os.open`` of a lock or log file that is never a link's target: ``path`` must be absent or a regular
    file (a link, folder, FIFO, device or socket there is one line naming it); returns the descriptor."""
    path = Path(path)
    check_replaceable(path, what)
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
    except OSError as err:
        if err.errno in (errno.ELOOP, errno.EISDIR, errno.ENXIO):  # it became a link or folder meanwhile
            check_replaceable(path, what)
        found = disk_error(err, path)
        raise (found or CheckpointError(f"{path}: cannot open the {what} ({err.strerror or err})")) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        check_replaceable(path, what)
        raise CheckpointError(f"{path}: the {what} is not a regular file; remove it")
    os.set_blocking(fd, True)
    return fd


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
        fd = open_no_follow(self.path, os.O_RDWR | os.O_CREAT, "lock file")
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
