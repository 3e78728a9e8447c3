"""Downloads for ``xlprompt data fetch``: the :class:`Fetcher` (mirrors, resumable verified downloads, polite retries on
429/503), the :class:`Source` base type of every data source, and the TSV helpers of the converters (one rule:
fields split on tabs only, a row of another width is an error). The sources themselves: :mod:`xlprompt.data.fetch`
and the task-specific modules (:mod:`xlprompt.data.sib200`, :mod:`xlprompt.data.americasnli`)."""

from __future__ import annotations

import http.client
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from xlprompt.errors import ConfigError, DataError

DEFAULT_TIMEOUT = 30.0
TIMEOUT_ENV = "XLPROMPT_FETCH_TIMEOUT"
PARTIAL = ".partial"
_CHUNK = 1 << 16

#: HTTP statuses that mean "later": waited out (``Retry-After``, else a doubling backoff), then retried.
RETRY_STATUSES: tuple[int, ...] = (429, 503)
RETRIES = 5  # retries of one request after a 429/503
MAX_WAIT = 60.0  # seconds: the longest single wait; a longer Retry-After fails at once with the time to rerun
BACKOFF = 2.0  # seconds before the first retry when the server gives no Retry-After (then 4, 8, ... <= MAX_WAIT)


class FetchError(DataError):
    """A download or check that failed; one line naming the URL (or file) and the fix. ``status``: the HTTP
    status when a server answered with an error."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def _changed(real: str, what: str, expected: str, actual: str, name: str | None) -> FetchError:
    """The one line for a file that is not the pinned one: expected and actual values, and how to proceed."""
    accept = f", or accept the new file with --unpinned {name} (its content facts are still checked)" if name else ""
    return FetchError(
        f"{real}: {what} {actual}, expected the pinned {expected}; the file was deleted. The server "
        "sends another file than the pinned release: run the same command again (a broken transfer), "
        f"fetch the original through --mirror URL{accept}"
    )


def _is_macos_entry(name: str) -> bool:
    """``__MACOSX/...`` folders and ``._name`` AppleDouble files that macOS archivers add: never data."""
    parts = PurePosixPath(name).parts
    return "__MACOSX" in parts or any(part.startswith("._") for part in parts)


# -- downloads ------------------------------------------------------------------------------------


def apply_mirror(url: str, mirror: str | None) -> str:
    """``url`` with the scheme and host of ``mirror`` (and its path as a prefix); unchanged without one."""
    if not mirror:
        return url
    m = urlsplit(mirror)
    if m.scheme not in ("http", "https") or not m.netloc:
        raise ConfigError(
            f"--mirror '{mirror}' must be an http:// or https:// URL with a host (e.g. http://mirror.example.org/data)"
        )
    u = urlsplit(url)
    return urlunsplit((m.scheme, m.netloc, m.path.rstrip("/") + u.path, u.query, ""))


from xlprompt.safety import sha256_file as _sha256  # noqa: E402 - one file hasher for the package


def _reason(err: BaseException) -> str:
    inner = getattr(err, "reason", None)
    text = str(inner if inner is not None else err).strip().splitlines()
    text = text[0][:160] if text else ""
    return (
        f"{type(inner if isinstance(inner, BaseException) else err).__name__}: {text}" if text else type(err).__name__
    )


@dataclass
class Fetcher:
    """Streams URLs into ``out/.partial`` with resume, then verifies and moves them into place."""

    out: Path
    mirror: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    progress: bool = True
    force: bool = False  # download again what is already complete
    requests: int = 0  # HTTP requests sent (tests count them)
    downloaded: int = 0  # bytes received
    unpinned: frozenset[str] = frozenset()  # sources whose changed upstream files are accepted (--unpinned)
    retries: int = RETRIES
    max_wait: float = MAX_WAIT
    sleep: Callable[[float], None] = time.sleep
    waits: list[float] = field(default_factory=list)  # every wait after a 429/503, in seconds

    def url(self, url: str) -> str:
        return apply_mirror(url, self.mirror)

    def partial_path(self, url: str) -> Path:
        parts = urlsplit(url)
        return self.out / PARTIAL / parts.netloc.replace(":", "_") / PurePosixPath(parts.path.lstrip("/"))

    def download(
        self,
        url: str,
        dest: Path,
        sha256: str | None = None,
        size: int | None = None,
        bar: Any = None,
        name: str | None = None,
    ) -> Path:
        """Download ``url`` (through the mirror) to ``dest``, verified; resume a partial file; return ``dest``.

        ``name``: the source, for the ``--unpinned NAME`` of the message when the pinned size or hash differs.
        """
        real = self.url(url)
        part = self.partial_path(url)
        part.parent.mkdir(parents=True, exist_ok=True)
        have = part.stat().st_size if part.is_file() else 0
        if size is not None and have > size:
            part.unlink()
            have = 0
        if size is None or have < size:
            self._stream(real, part, have, size, bar, name)
        elif bar is not None:
            bar.update(have)
        got = part.stat().st_size
        if size is not None and got != size:
            part.unlink()
            raise _changed(real, "size", f"{size:,} bytes", f"{got:,} bytes", name)
        if sha256 is not None:
            actual = _sha256(part)
            if actual != sha256:
                part.unlink()
                raise _changed(real, "SHA-256", sha256, actual, name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(part, dest)
        return dest

    def _open(self, real: str, have: int):
        headers = {"User-Agent": "xlprompt-data-fetch", "Accept-Encoding": "identity"}
        if have:
            headers["Range"] = f"bytes={have}-"
        attempt = 0
        while True:
            self.requests += 1
            try:
                return urllib.request.urlopen(urllib.request.Request(real, headers=headers), timeout=self.timeout)
            except urllib.error.HTTPError as err:
                if err.code == 416 and have:
                    return None
                if err.code in RETRY_STATUSES:
                    wait, asked = self._wait(err, attempt)
                    err.close()
                    if wait is not None and attempt < self.retries:
                        self.waits.append(wait)
                        self.sleep(wait)
                        attempt += 1
                        continue
                    why = (
                        f"the server asks to wait {asked:,.0f} s, longer than the {self.max_wait:,.0f} s fetch waits"
                        if wait is None
                        else f"after {attempt + 1} tries and {sum(self.waits):,.0f} s of waiting"
                    )
                    raise FetchError(
                        f"{real}: HTTP {err.code} {err.reason} ({why}); what was fetched is kept: run "
                        "the same command again later to resume, or pass --mirror URL",
                        err.code,
                    ) from None
                fix = (
                    "the file is not there: check --mirror and its paths"
                    if err.code in (403, 404, 410)
                    else "the server failed: try again later or pass --mirror URL"
                )
                raise FetchError(f"{real}: HTTP {err.code} {err.reason}; {fix}", err.code) from None
            except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
                raise FetchError(
                    f"{real}: cannot connect ({_reason(err)}); offline? run `xlprompt data fetch` on a machine with "
                    "internet (then copy the folder), pass --mirror URL, or raise --timeout"
                ) from None

    def _wait(self, err: urllib.error.HTTPError, attempt: int) -> tuple[float | None, float | None]:
        """(seconds to wait before retrying, or None when the server asks for more than ``max_wait``; what it asked).

        ``Retry-After`` (seconds or an HTTP date) is honoured; without it the wait doubles from
        :data:`BACKOFF`, never above ``max_wait``."""
        value = (err.headers.get("Retry-After") or "").strip() if err.headers is not None else ""
        asked: float | None = None
        if value:
            try:
                asked = float(value)
            except ValueError:
                try:
                    asked = parsedate_to_datetime(value).timestamp() - time.time()
                except (TypeError, ValueError, IndexError, OverflowError):
                    asked = None
        if asked is None:
            return min(self.max_wait, BACKOFF * 2**attempt), None
        asked = max(0.0, asked)
        return (asked if asked <= self.max_wait else None), asked

    def _stream(self, real: str, part: Path, have: int, size: int | None, bar: Any, name: str | None) -> None:
        response = self._open(real, have)
        if response is None:  # 416: the partial file cannot be continued; start again
            part.unlink()
            have = 0
            response = self._open(real, 0)
        own_bar = None
        with response:
            resumed = have > 0 and response.status == 206
            if resumed and not (response.headers.get("Content-Range") or "").startswith(f"bytes {have}-"):
                part.unlink(missing_ok=True)
                raise FetchError(
                    f"{real}: the server resumed at another offset than byte {have:,} (Content-Range "
                    f"{response.headers.get('Content-Range')!r}); the partial file was deleted: run the "
                    "same command again"
                )
            if have and not resumed:
                have = 0  # the server sent the whole file
            length = response.headers.get("Content-Length")
            total = have + int(length) if length and length.isdigit() else size
            if size is not None and total is not None and total != size:
                part.unlink(missing_ok=True)
                raise _changed(real, "size", f"{size:,} bytes", f"{total:,} bytes (announced)", name)
            if bar is None and self.progress:
                from tqdm.auto import tqdm

                own_bar = bar = tqdm(
                    total=total,
                    initial=have,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=PurePosixPath(urlsplit(real).path).name[:40],
                    leave=False,
                )
            elif bar is not None and have:
                bar.update(have)
            received = have
            try:
                with open(part, "ab" if resumed else "wb") as handle:
                    while True:
                        chunk = response.read(_CHUNK)
                        if not chunk:
                            break
                        handle.write(chunk)
                        received += len(chunk)
                        self.downloaded += len(chunk)
                        if bar is not None:
                            bar.update(len(chunk))
            except (OSError, http.client.HTTPException) as err:
                raise FetchError(
                    f"{real}: the download broke off after {received:,} bytes ({_reason(err)}); run "
                    "the same command again to resume it"
                ) from None
            finally:
                if own_bar is not None:
                    own_bar.close()
        if total is not None and received < total:
            raise FetchError(
                f"{real}: the download broke off after {received:,} of {total:,} bytes; run the same "
                "command again to resume it"
            )


# -- writing the layout ---------------------------------------------------------------------------


def _clean(text: str) -> str:
    """A text as one TSV field: tabs and line breaks become spaces (the layout has no quoting)."""
    return text.replace("\t", " ").replace("\r", " ").replace("\n", " ")


def _write_tsv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Write a headed TSV atomically (``\\t``/``\\n``, no quoting, UTF-8)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
        handle.write("\t".join(header) + "\n")
        for row in rows:
            handle.write("\t".join(_clean(str(v)) for v in row) + "\n")
    os.replace(tmp, path)


def _split_tsv(data: bytes, where: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of an unquoted TSV (rows split on ``\\n`` only, fields on ``\\t`` only).

    The converters' one rule: quote characters are text, and a row whose field count differs from the
    header's is an error naming the line and both counts (nothing is padded, cut or skipped).
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise FetchError(
            f"{where}: not UTF-8 ({err.reason} at byte {err.start}); the archive is corrupt: delete it and run again"
        ) from None
    lines = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
    while lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise FetchError(f"{where}: empty file in the archive; run again with --force")
    header = lines[0].split("\t")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != len(header):
            raise FetchError(
                f"{where} line {number} has {len(fields)} fields, expected {len(header)}; the archive "
                "is not the pinned release: run again with --force, or fetch it through --mirror URL"
            )
        rows.append(fields)
    return header, rows


def _columns(header: list[str], names: Sequence[str], where: str) -> list[int]:
    missing = [n for n in names if n not in header]
    if missing:
        raise FetchError(
            f"{where}: columns {', '.join(missing)} missing (header: {', '.join(header[:12])}); this is "
            "not the expected release: check --mirror"
        )
    return [header.index(n) for n in names]


# -- sources --------------------------------------------------------------------------------------


@dataclass
class Source:
    """One data source: where it comes from, what it writes under ``OUT`` and how that is checked."""

    name: str
    description: str

    def urls(self) -> list[str]:
        raise NotImplementedError

    def check(self, out: Path, pinned: bool = True) -> str | None:
        """``None`` when ``out`` already holds this source complete and valid, else what is missing or wrong
        (``pinned=False``, with ``--unpinned``: without comparing the pinned hashes)."""
        raise NotImplementedError

    def fetch(self, fetcher: Fetcher) -> None:
        raise NotImplementedError

    def _converted(self, fetcher: Fetcher, real: str, archive: Path) -> None:
        """After an archive's conversion: its content facts must hold, then the archive is deleted."""
        problem = self.check(fetcher.out, self.name not in fetcher.unpinned)
        if problem is not None:
            raise FetchError(f"{real}: the converted files fail the content check ({problem}); check --mirror")
        archive.unlink(missing_ok=True)

    def _archive(self, fetcher: Fetcher, url: str, sha256: str | None = None, size: int | None = None) -> Path:
        """Download an archive, checked by its pinned ``size`` and ``sha256`` where given (not with
        ``--unpinned NAME``) and, after conversion, by content facts.

        It lands next to its partial file as ``NAME.complete`` (full size reached) and is deleted once
        converted, or when it proves corrupt; a stale one from an interrupted conversion is replaced.
        """
        dest = fetcher.partial_path(url).with_name(fetcher.partial_path(url).name + ".complete")
        dest.unlink(missing_ok=True)
        pinned = self.name not in fetcher.unpinned
        return fetcher.download(url, dest, sha256 if pinned else None, size if pinned else None, name=self.name)

    def _github(self, fetcher: Fetcher, url: str | None) -> Path | None:
        """The repository archive at ``url`` (one request), or None when there is none (no ``url``, or a
        mirror that serves single files answers 404: the files are then fetched one by one)."""
        if not url:
            return None
        try:
            return self._archive(fetcher, url)
        except FetchError as err:
            if err.status == 404 and fetcher.mirror:
                return None
            raise
