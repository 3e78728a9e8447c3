"""The data folder a run reads, and the check that it holds every file the run needs.

Runs read a local folder only; ``xlprompt data fetch`` is the one step that uses the network (see
:mod:`xlprompt.data.fetch`). The folder is, in this order:

1. ``data_dir`` of the config (``--data-dir DIR``);
2. ``$XLPROMPT_DATA``, if set and not empty;
3. the platform's per-user data folder: ``$XDG_DATA_HOME/xlprompt`` (default ``~/.local/share/xlprompt``)
   on Linux and other POSIX systems, ``~/Library/Application Support/xlprompt`` on macOS,
   ``%LOCALAPPDATA%\\xlprompt`` (default ``~\\AppData\\Local\\xlprompt``) on Windows.

:func:`check_files` checks that a list of files is there (without reading them) and, when some are
missing, raises one :class:`~xlprompt.errors.DataError` line naming the folder, where that folder came
from, the first missing file and the ``xlprompt data fetch`` call that fills it. Runs call it (through
:func:`xlprompt.run_data.check_run_files`) before any model or tokenizer is loaded.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from xlprompt.errors import DataError

__all__ = ["DATA_ENV", "DEMO", "DataHome", "default_data_dir", "resolve_data_dir", "check_files", "fetch_command"]

#: The environment variable that names the default data folder.
DATA_ENV = "XLPROMPT_DATA"
#: The shipped demo sample (no folder).
DEMO = "builtin:demo"


@dataclass(frozen=True)
class DataHome:
    """A data folder and where its name came from (``--data-dir``, ``$XLPROMPT_DATA``, the platform default)."""

    path: Path
    origin: str


def default_data_dir(environ: dict | None = None, platform: str | None = None) -> DataHome:
    """The folder used without ``--data-dir``: ``$XLPROMPT_DATA``, else the per-user data folder."""
    env = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if env.get(DATA_ENV, "").strip():
        return DataHome(Path(env[DATA_ENV]).expanduser(), f"${DATA_ENV}")
    home = Path(env.get("HOME") or env.get("USERPROFILE") or Path.home())
    if platform.startswith("win"):
        base = Path(env["LOCALAPPDATA"]) if env.get("LOCALAPPDATA") else home / "AppData" / "Local"
        return DataHome(base / "xlprompt", "the per-user data folder (%LOCALAPPDATA%\\xlprompt)")
    if platform == "darwin":
        return DataHome(
            home / "Library" / "Application Support" / "xlprompt",
            "the per-user data folder (~/Library/Application Support/xlprompt)",
        )
    base = Path(env["XDG_DATA_HOME"]) if env.get("XDG_DATA_HOME", "").strip() else home / ".local" / "share"
    return DataHome(base / "xlprompt", "the per-user data folder ($XDG_DATA_HOME/xlprompt or ~/.local/share/xlprompt)")


def resolve_data_dir(data_dir: str | Path | None) -> Path:
    """``data_dir`` as a path, or the default folder when it is ``None`` (never ``builtin:demo``)."""
    return default_data_dir().path if data_dir is None else Path(data_dir)


def _home(data_dir: str | Path | None) -> DataHome:
    return default_data_dir() if data_dir is None else DataHome(Path(data_dir), "--data-dir / data_dir")


def fetch_command(folder: Path, sources: list[str]) -> str:
    """The ``xlprompt data fetch`` call that fills ``folder`` with ``sources``."""
    return f"xlprompt data fetch --out {shlex.quote(str(folder))} --only {','.join(sources)}"


def not_a_file(path: str | Path) -> str | None:
    """What stands where an input file belongs, when it is not one: ``"a folder"`` or ``"not a regular file"``
    (a FIFO, a device, a socket); None when ``path`` is a file (or a link to one) or is absent. The one check of
    every input file's place (data files, task files and the files they name), so that each says the same."""
    path = Path(path)
    if path.is_file() or not path.exists():
        return None
    return "a folder" if path.is_dir() else "not a regular file"


def misplaced_file_message(path: str | Path, what: str, fix: str) -> str:
    """The one line for ``path`` being :func:`not_a_file` where ``what`` (a data file, a task file) belongs:
    it names the path and what stands there, and says to move it away, then ``fix`` (how to get the file: a
    ``data fetch`` call, which works once the place is free)."""
    return f"{path}: {not_a_file(path)} where {what} belongs; move it away, then {fix}"


def check_files(data_dir: str | Path | None, needed: list[tuple[str, str]]) -> Path:
    """Raise a one-line :class:`DataError` unless every ``(path relative to the folder, fetch source)`` of
    ``needed`` exists in the data folder ``data_dir`` (None: the default folder); return the folder. The line
    names the folder, where its name came from, the first missing file and the ``xlprompt data fetch`` call."""
    home = _home(data_dir)
    for rel, source in needed:  # a folder where a file belongs: named as such (`data fetch` refuses to write there)
        if not_a_file(home.path / rel) is not None:
            raise DataError(
                misplaced_file_message(
                    home.path / rel, "a data file", f"fill it with `{fetch_command(home.path, [source])}`"
                )
            )
    missing = [(rel, source) for rel, source in needed if not (home.path / rel).is_file()]
    if not missing:
        return home.path
    sources = list(dict.fromkeys(source for _, source in missing))
    if not home.path.is_dir():
        state = "does not exist"
    else:
        state = "is empty" if not any(home.path.iterdir()) else "lacks some files"
    more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
    raise DataError(
        f"the data folder {home.path} (from {home.origin}) {state}: {missing[0][0]} not found{more}; "
        f"fill it with `{fetch_command(home.path, sources)}` (on a machine with internet), or pass --data-dir DIR"
    )
