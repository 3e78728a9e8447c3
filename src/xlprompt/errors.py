"""User-facing errors.

Every error that a user can cause (bad data, bad config, a model that does not fit) is raised as an
:class:`XlpromptError`. The CLI prints it as one line (``error: ...``) and exits with status 2, so no
traceback from inside torch or transformers reaches the user.
"""

from __future__ import annotations

from pathlib import Path


class XlpromptError(Exception):
    """An error the user can fix; its message says what is wrong and how to fix it, on one line: a line break
    in a value it quotes (a path, a task name) is shown as ``\\n``, so that every caller, not only the CLI,
    gets one line."""

    def __init__(self, *args):
        if args and isinstance(args[0], str):
            args = (one_line(args[0]), *args[1:])
        super().__init__(*args)


def one_line(text: str) -> str:
    """``text`` with its line breaks written out (``\\r``, ``\\n``)."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


class DataError(XlpromptError, ValueError):
    """Bad input data. The message names the file and, where known, the line.

    :param message: what is wrong and how to fix it.
    :param path: the data file; its path (and ``line``) start the message.
    :param line: the line of the file (1-based).
    """

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        self.path = None if path is None else str(path)
        self.line = line
        where = ""
        if self.path is not None:
            where = self.path + (f":{line}" if line is not None else "") + ": "
        super().__init__(where + message)


class ConfigError(XlpromptError, ValueError):
    """A configuration value that is not allowed. The message names the field and the allowed values."""


class ModelError(XlpromptError, ValueError):
    """A model or tokenizer that cannot be used for the chosen method."""


class CheckpointError(XlpromptError):
    """A checkpoint, run directory or store file that is corrupt or belongs to another config."""


class NumericalError(XlpromptError, FloatingPointError):
    """A loss became NaN or infinite; the message names the epoch, step and batch."""
