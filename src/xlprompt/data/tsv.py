"""Strict readers for the two file formats of the data layer: headed TSV and JSONL.

Every data source (XNLI, PAWS-X, Tatoeba, the few-shot splits, parallel corpora) is read through
:func:`read_tsv` or :func:`read_jsonl`, so that every malformed file fails the same way: with a
:class:`~xlprompt.errors.DataError` whose one-line message names the file, the line and the fix.

TSV format (as in ``../shared/data``):

* UTF-8 (a leading byte-order mark is tolerated), one header line, **no quoting** of any kind.
* Rows end with ``\\n`` only. Texts may contain ``\\x1c``/``\\x1d``/``\\u2028`` and the like, which
  :meth:`str.splitlines` would wrongly treat as line breaks, so the reader never uses it. A ``\\r``
  right before the ``\\n`` (Windows line ends) is dropped; a ``\\r`` anywhere else is kept as text.
* Fields are separated by ``\\t``; every line must have exactly as many fields as the header.
* Columns beyond the required ones are allowed; they are kept in the returned rows and ignored by
  the loaders. Column order does not matter.
* Empty lines at the very end of the file are ignored; an empty line anywhere else is an error.
* Values are returned verbatim (no stripping, no type conversion).

JSONL format: one JSON object per ``\\n``-terminated line, UTF-8; blank lines are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from xlprompt.errors import DataError

__all__ = ["Row", "read_tsv", "read_jsonl", "read_text_lines"]

_PREVIEW = 8  # how many header names to show in an error message


class Row(dict):
    """One record of a file (column/field name -> value) that remembers where it came from.

    It is a plain ``dict`` plus two attributes, ``path`` and ``line`` (1-based line number in the
    file), so that a loader can report a bad value at its exact place with :meth:`error`.
    """

    __slots__ = ("path", "line")

    def __init__(self, values: dict[str, Any] | Iterable[tuple[str, Any]], path: str, line: int):
        super().__init__(values)
        self.path = path
        self.line = line

    def error(self, message: str) -> DataError:
        """A :class:`DataError` located at this row (``file:line: message``)."""
        return DataError(message, self.path, self.line)

    def __reduce__(self):  # keep path/line when pickled (e.g. by a DataLoader worker)
        return (Row, (dict(self), self.path, self.line))


def _read_bytes(path: Path, what: str) -> bytes:
    if not path.exists():
        parent = path.parent
        hint = "" if parent.is_dir() else f" (the folder {parent} does not exist either)"
        raise DataError(
            f"{what} not found{hint}; check --data-dir and the file layout (`xlprompt data fetch` fills a data folder)",
            path,
        )
    if path.is_dir():
        raise DataError(f"expected a {what}, found a directory", path)
    try:
        return path.read_bytes()
    except OSError as err:
        raise DataError(f"cannot read {what}: {err.strerror or err}", path) from None


def read_text_lines(path: str | Path, what: str = "file") -> list[str]:
    """Decode ``path`` as strict UTF-8 and split it into lines on ``\\n`` only.

    A trailing ``\\r`` is removed from each line; a leading byte-order mark is removed from the
    first line. The empty string after a final ``\\n`` is not returned, so the list holds exactly
    the lines of the file. Invalid UTF-8 raises a :class:`DataError` naming the line and the
    byte offset (both in the file and in the line).
    """
    return _split_lines(Path(path), what)[0]


def _split_lines(path: Path, what: str) -> tuple[list[str], bool]:
    """The lines of ``path`` (see :func:`read_text_lines`) and whether the file ends with ``\\n``."""
    data = _read_bytes(path, what)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        line_start = data.rfind(b"\n", 0, err.start) + 1
        bad = data[err.start : err.end].hex(" ")
        raise DataError(
            f"invalid UTF-8 (byte 0x{bad} at byte offset {err.start} of the file, byte "
            f"{err.start - line_start + 1} of the line: {err.reason}); re-save the file as UTF-8",
            path,
            line,
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    ends_with_newline = lines[-1] == "" and len(lines) > 1
    if lines[-1] == "":
        lines.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines], ends_with_newline


def read_tsv(path: str | Path, required_columns: Sequence[str] = ()) -> list[Row]:
    """Read a headed, unquoted TSV file into one :class:`Row` per data line.

    ``required_columns`` must all appear in the header (in any order); other columns are kept but
    not checked. Rows keep every header column, as strings, verbatim. See the module docstring for
    the exact format. Raises :class:`DataError` (``file:line: what is wrong; how to fix it``) for
    a missing or unreadable file, invalid UTF-8, an empty file, a header with an empty or repeated
    column name, a missing required column, an empty line, or a line with the wrong number of
    fields (which also catches a truncated last line).
    """
    path = Path(path)
    lines, ends_with_newline = _split_lines(path, "TSV file")
    if not lines or (len(lines) == 1 and lines[0] == ""):
        raise DataError(
            f"file is empty (no header line); expected a tab-separated header with columns: "
            f"{', '.join(required_columns) or '(any)'}",
            path,
            1,
        )
    header = lines[0].split("\t")
    _check_header(header, required_columns, path)
    width = len(header)
    while lines and lines[-1] == "" and len(lines) > 1:  # tolerate blank lines at the very end
        lines.pop()

    rows: list[Row] = []
    for number, line in enumerate(lines[1:], start=2):
        if line == "":
            raise DataError(
                f"empty line inside the file (expected {width} tab-separated fields); delete it",
                path,
                number,
            )
        fields = line.split("\t")
        if len(fields) != width:
            hint = _width_hint(len(fields), width, number == len(lines) and not ends_with_newline)
            raise DataError(
                f"line has {len(fields)} tab-separated field{'s' if len(fields) != 1 else ''}, "
                f"expected {width} (header: {_preview(header)}); {hint}",
                path,
                number,
            )
        rows.append(Row(zip(header, fields), str(path), number))
    return rows


def read_jsonl(path: str | Path, required_fields: Sequence[str] = ()) -> list[Row]:
    """Read a JSON Lines file: one JSON object per line, each with all of ``required_fields``.

    Blank lines are skipped. Raises :class:`DataError` naming the file and line for a missing or
    unreadable file, invalid UTF-8, invalid JSON, a line that is not a JSON object, or a missing
    required field. Values keep their JSON types; the loaders check them.
    """
    path = Path(path)
    rows: list[Row] = []
    for number, line in enumerate(read_text_lines(path, "JSONL file"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line, object_pairs_hook=unique_object)
        except json.JSONDecodeError as err:
            raise DataError(
                f"invalid JSON ({err.msg} at column {err.colno}); each line must hold one JSON object",
                path,
                number,
            ) from None
        except DuplicateKeyError as err:
            raise DataError(f"the field '{err.key}' is given twice in one object; keep one", path, number) from None
        if not isinstance(value, dict):
            raise DataError(f"expected a JSON object ({{...}}) on each line, found {_json_type(value)}", path, number)
        missing = [name for name in required_fields if name not in value]
        if missing:
            raise DataError(
                f"missing field{'s' if len(missing) > 1 else ''} {', '.join(repr(m) for m in missing)} "
                f"(fields found: {_preview(list(value)) or 'none'}); every line needs: "
                f"{', '.join(required_fields)}",
                path,
                number,
            )
        rows.append(Row(value, str(path), number))
    return rows


class DuplicateKeyError(ValueError):
    """A JSON object names one key twice (``json`` keeps the last value silently)."""

    def __init__(self, key: str):
        super().__init__(f"the key '{key}' is given twice in one JSON object")
        self.key = key


def unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads(..., object_pairs_hook=unique_object)``: a dict, or :class:`DuplicateKeyError` for a key given
    twice."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKeyError(key)
        out[key] = value
    return out


def _check_header(header: list[str], required: Sequence[str], path: Path) -> None:
    seen: set[str] = set()
    for position, name in enumerate(header, start=1):
        if name == "":
            raise DataError(
                f"header column {position} has an empty name (header: {_preview(header)}); "
                "remove the stray tab or name the column",
                path,
                1,
            )
        if name in seen:
            raise DataError(f"header names column '{name}' twice; column names must be unique", path, 1)
        seen.add(name)
    missing = [name for name in required if name not in seen]
    if missing:
        hint = ""
        if len(header) == 1 and ("," in header[0] or ";" in header[0] or " " in header[0].strip()):
            hint = " The header has no tab: is this a CSV or space-separated file? Use tabs."
        raise DataError(
            f"missing required column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(repr(m) for m in missing)}; header found: {_preview(header)}; "
            f"expected (tab-separated, any order): {', '.join(required)}.{hint}",
            path,
            1,
        )


def _width_hint(found: int, width: int, truncated_last: bool) -> str:
    if truncated_last:
        return "the file does not end with a newline: was it truncated? Re-create or re-download it"
    if found > width:
        return "a text contains a tab character; replace tabs inside texts with spaces"
    return "a text contains a line break, or a field is missing; fix or remove this line"


def _preview(names: Sequence[str]) -> str:
    shown = ", ".join(repr(n) if n.strip() != n or n == "" else n for n in names[:_PREVIEW])
    if len(names) > _PREVIEW:
        shown += f", ... ({len(names)} columns)"
    return shown


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "a JSON array"
    if isinstance(value, str):
        return "a JSON string"
    if isinstance(value, bool):
        return "a JSON boolean"
    if value is None:
        return "null"
    return "a JSON number"
