"""The data folder a run reads, and the check that it holds every file the run needs.

Runs read a local folder only; ``xlprompt data fetch`` is the one step that uses the network (see
:mod:`xlprompt.data.fetch`). The folder is, in this order:

1. ``data_dir`` of the config (``--data-dir DIR``);
2. ``$XLPROMPT_DATA``, if set and not empty;
3. the platform's per-user data folder: ``$XDG_DATA_HOME/xlprompt`` (default ``~/.local/share/xlprompt``)
   on Linux and other POSIX systems, ``~/Library/Application Support/xlprompt`` on macOS,
   ``%LOCALAPPDATA%\\xlprompt`` (default ``~\\AppData\\Local\\xlprompt``) on Windows.

:func:`check_run_files` lists the files a config reads (without reading them) and, when some are
missing, raises one :class:`~xlprompt.errors.DataError` line naming the folder, where that folder came
from, the first missing file and the ``xlprompt data fetch`` call that fills it. Runs call it before
any model or tokenizer is loaded.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from xlprompt.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    from xlprompt.config import RunConfig

__all__ = ["DATA_ENV", "DEMO", "DataHome", "default_data_dir", "resolve_data_dir", "required_files",
           "check_run_files", "fetch_command"]

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
        return DataHome(home / "Library" / "Application Support" / "xlprompt",
                        "the per-user data folder (~/Library/Application Support/xlprompt)")
    base = Path(env["XDG_DATA_HOME"]) if env.get("XDG_DATA_HOME", "").strip() else home / ".local" / "share"
    return DataHome(base / "xlprompt", "the per-user data folder ($XDG_DATA_HOME/xlprompt or "
                                       "~/.local/share/xlprompt)")


def resolve_data_dir(data_dir: str | Path | None) -> Path:
    """``data_dir`` as a path, or the default folder when it is ``None`` (never ``builtin:demo``)."""
    return default_data_dir().path if data_dir is None else Path(data_dir)


def _home(data_dir: str | Path | None) -> DataHome:
    return default_data_dir() if data_dir is None else DataHome(Path(data_dir), "--data-dir / data_dir")


def fetch_command(folder: Path, sources: list[str]) -> str:
    """The ``xlprompt data fetch`` call that fills ``folder`` with ``sources``."""
    return f"xlprompt data fetch --out {shlex.quote(str(folder))} --only {','.join(sources)}"


def required_files(config: "RunConfig") -> list[tuple[str, str]]:
    """``(path relative to the data folder, fetch source)`` of every file ``config`` reads from it."""
    from xlprompt.data.fewshot import fewshot_path
    from xlprompt.data.parallel import PAWSX_LANGUAGES
    from xlprompt.languages import SOURCE_LANGUAGE, TARGET_LANGUAGES

    needed: list[tuple[str, str]] = []
    task = config.task_spec()
    if task.name != "xnli":  # issue 13
        if task.name == "pawsx":
            # without pawsx/train/en.tsv, train/dev are sampled from dev and dev is evaluated (xlprompt.tasks.pawsx)
            split = config.eval_split if (_home(config.data_dir).path / "pawsx/train/en.tsv").is_file() else "dev"
            needed += [("pawsx/dev/en.tsv", "pawsx")] + [(f"pawsx/{split}/{lang}.tsv", "pawsx")
                                                         for lang in config.languages()]
        # a user task's files are checked when its YAML file is read
        targets = [lang for lang in task.target_languages if lang in TARGET_LANGUAGES]
        if config.method == "mpt" and config.alpha < 1.0:
            if config.parallel_source == "tatoeba":
                needed += [(f"tatoeba/{lang}-en.tsv", "tatoeba") for lang in targets]
            elif config.parallel_source == "xnli-dev":
                needed += [(f"xnli/dev/{lang}.tsv", "xnli") for lang in (SOURCE_LANGUAGE, *targets)]
            elif config.parallel_source == "translate":
                needed.append(("pawsx/train/en.tsv", "pawsx"))
        return list(dict.fromkeys(needed))
    if config.train_source == "fixed":
        for split in ("train", "dev"):
            needed.append((fewshot_path("", split, config.shots).as_posix(), "fewshot"))
    else:
        if getattr(config, "sample_pool", "xnli-dev") == "multinli":
            needed.append(("multinli/train.tsv", "multinli"))
        needed.append(("xnli/dev/en.tsv", "xnli"))
    needed += [(f"xnli/{config.eval_split}/{lang}.tsv", "xnli") for lang in config.languages()]
    if config.method == "mpt" and config.alpha < 1.0:
        source = config.parallel_source
        if source == "pawsx":
            for split in ("dev", "test"):
                needed += [(f"pawsx/{split}/{lang}.tsv", "pawsx") for lang in PAWSX_LANGUAGES
                           if lang == SOURCE_LANGUAGE or lang in TARGET_LANGUAGES]
        elif source == "tatoeba":
            needed += [(f"tatoeba/{lang}-en.tsv", "tatoeba") for lang in TARGET_LANGUAGES]
        elif source == "xnli-dev":
            needed += [(f"xnli/dev/{lang}.tsv", "xnli") for lang in (SOURCE_LANGUAGE, *TARGET_LANGUAGES)]
        elif source == "translate":
            needed.append(("pawsx/train/en.tsv", "pawsx"))
    if config.method == "softmv" and getattr(config, "softmv_cosda_rate", 0) > 0 and not config.dictionary_dir:
        from xlprompt.data.muse import DEFAULT_SUBDIR, SOFTMV_LANGUAGES

        needed += [(f"{DEFAULT_SUBDIR}/en-{lang}.txt", "muse") for lang in SOFTMV_LANGUAGES]
    return list(dict.fromkeys(needed))


def check_run_files(config: "RunConfig") -> Path | None:
    """Raise a one-line :class:`DataError` unless every file ``config`` reads exists; return the folder.

    ``builtin:demo`` needs no folder (returns ``None``). Files outside the data folder that the config
    names (``parallel_file``) are checked too.
    """
    named = []  # the label-words file is read (and so checked) by experiment.check_inputs
    if config.method == "mpt" and config.alpha < 1.0 and config.parallel_source == "file" and config.parallel_file:
        named.append(("parallel_file", config.parallel_file))
    for key, value in named:
        if not Path(value).is_file():
            raise DataError(f"{key} not found; pass an existing file ({key}=PATH)", value)
    if config.data_dir == DEMO:
        return None
    home = _home(config.data_dir)
    needed = required_files(config)
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
