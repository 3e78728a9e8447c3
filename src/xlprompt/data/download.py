"""Downloads for ``xlprompt data fetch``: the :class:`Fetcher` (mirrors, resumable verified downloads, polite retries on
429/503), the :class:`Source` base type of every data source, and the TSV helpers of the converters (one rule:
fields split on tabs only, a row of another width is an error). The sources themselves: :mod:`xlprompt.data.fetch`
and the task-specific modules (:mod:`xlprompt.data.sib200`, :mod:`xlprompt.data.americasnli`)."""

from __future__ import annotations

import contextlib
import http.client
import io
import math
import os
import socket
import ssl
import tarfile
import threading
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

from xlprompt.errors import ConfigError, DataError, XlpromptError

DEFAULT_TIMEOUT = 30.0
TIMEOUT_ENV = "XLPROMPT_FETCH_TIMEOUT"
PARTIAL = ".partial"
_CHUNK = 1 << 16

#: HTTP statuses that mean "later": waited out (``Retry-After``, else a doubling backoff), then retried.
RETRY_STATUSES: tuple[int, ...] = (429, 503)
RETRIES = 5  # retries of one request after a 429/503
MAX_WAIT = 60.0  # seconds: the longest single wait; a longer Retry-After fails at once with the time to rerun
BACKOFF = 2.0  # seconds before the first retry when the server gives no Retry-After (then 4, 8, ... <= MAX_WAIT)
#: The slowest transfer a download accepts: every ``--timeout`` seconds must bring at least this many bytes per
#: second on average (curl's ``--speed-limit``/``--speed-time``), so that a server sending a byte now and then
#: cannot hold a fetch forever.
MIN_RATE = 1024
#: The longest line a converter reads from an archive member (its rows are streamed, so memory stays bounded).
MAX_LINE = 1 << 20
#: The largest file a converter reads whole (an archive member or a download without a pinned size).
MAX_MEMBER = 64 << 20
#: The most bytes any download may bring when it has neither a pinned size nor a smaller limit (an archive whose
#: size is not pinned, or a source fetched with ``--unpinned``): a server sending an endless body fills no disk.
MAX_DOWNLOAD = 2 << 30
#: The most bytes an archive may unpack to, in one member and in all the members read before the last wanted one
#: (each archive of the sources unpacks to far less): an archive bomb costs no more time and disk than this.
MAX_UNPACKED = 2 << 30


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
    example = "(e.g. http://mirror.example.org/data)"
    if m.scheme not in ("http", "https") or not m.hostname:
        raise ConfigError(f"--mirror '{mirror}' must be an http:// or https:// URL with a host {example}")
    if m.username is not None or m.password is not None:
        raise ConfigError(
            f"--mirror: a user name or password in the URL is not sent by fetch (and would be printed in its "
            f"messages); pass a mirror that needs none {example}"
        )
    if m.query or m.fragment or "?" in mirror or "#" in mirror:
        raise ConfigError(
            f"--mirror '{mirror}' holds a query or fragment ('?' or '#'), which fetch cannot keep (it appends each "
            f"file's path); pass the mirror's base URL {example}"
        )
    try:
        m.port  # noqa: B018 - raises on a port that is not a number in 0..65535
    except ValueError as err:
        raise ConfigError(f"--mirror '{mirror}': {err}; pass host:PORT with a number in 1..65535 {example}") from None
    u = urlsplit(url)
    return urlunsplit((m.scheme, m.netloc, m.path.rstrip("/") + u.path, u.query, ""))


from xlprompt.safety import sha256_file as _sha256  # noqa: E402 - one file hasher for the package


def _printable(text: str) -> str:
    """A server's words as they go into a message: control characters (a terminal's escape sequences, say) and
    other unprintable ones are shown escaped, never sent to the terminal."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def _reason(err: BaseException) -> str:
    inner = getattr(err, "reason", None)
    text = str(inner if inner is not None else err).strip().splitlines()
    text = _printable(text[0][:160]) if text else ""
    return (
        f"{type(inner if isinstance(inner, BaseException) else err).__name__}: {text}" if text else type(err).__name__
    )


class _Connections:
    """The sockets a download opened, so that a watchdog can close them when the response headers are too slow
    (a socket timeout bounds each read, not a server that sends its headers a byte at a time)."""

    def __init__(self) -> None:
        self.sockets: list[socket.socket] = []
        self.fired = False
        self._lock = threading.Lock()

    def track(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            self.sockets.append(sock)
            if self.fired:
                self._close(sock)
        return sock

    def fire(self) -> None:
        with self._lock:
            self.fired = True
            for sock in self.sockets:
                self._close(sock)

    @staticmethod
    def _close(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


class _Tracking:
    """A urllib handler mixin whose connections report their sockets to a :class:`_Connections`."""

    connections: _Connections

    def do_open(self, http_class, req, **kwargs):  # type: ignore[override]
        connections = self.connections

        def build(*args, **kw):
            conn = http_class(*args, **kw)
            create = conn._create_connection
            conn._create_connection = lambda *a, **k: connections.track(create(*a, **k))
            return conn

        return super().do_open(build, req, **kwargs)  # type: ignore[misc]


class _HTTPHandler(_Tracking, urllib.request.HTTPHandler):
    def __init__(self, connections: _Connections):
        super().__init__()
        self.connections = connections


class _HTTPSHandler(_Tracking, urllib.request.HTTPSHandler):
    def __init__(self, connections: _Connections):
        super().__init__()
        self.connections = connections


def _first_line(text: object) -> str:
    lines = str(text).strip().splitlines()
    return _printable(lines[0][:160]) if lines else ""


@dataclass
class Fetcher:
    """Streams URLs into ``cache/.partial`` with resume, then verifies and moves them into place.

    ``out``: where the sources write (``fetch_data`` points it at a staging folder per source); ``cache``: the
    data folder whose ``.partial/`` holds the downloads (default: ``out``).
    """

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
    cache: Path | None = None
    min_rate: float = MIN_RATE
    #: the whole downloads (``.complete`` files) of the current source: path -> verified by a pinned SHA-256
    completed: dict[Path, bool] = field(default_factory=dict)

    def url(self, url: str) -> str:
        return apply_mirror(url, self.mirror)

    def partial_path(self, url: str) -> Path:
        parts = urlsplit(url)
        root = self.cache if self.cache is not None else self.out
        return root / PARTIAL / parts.netloc.replace(":", "_") / PurePosixPath(parts.path.lstrip("/"))

    def complete(
        self,
        url: str,
        sha256: str | None = None,
        size: int | None = None,
        name: str | None = None,
        limit: int | None = None,
    ) -> Path:
        """``url`` downloaded whole and verified, as ``.partial/<host>/<path>.complete``.

        One left by an earlier call (a fetch interrupted while it converted the file) is used again, after its
        pinned size and SHA-256 (where given) are checked again; with ``--force``, only a SHA-256-pinned one. The
        file stays until its source succeeds (``fetch_data`` deletes it then), so nothing is downloaded twice.
        """
        part = self.partial_path(url)
        dest = part.with_name(part.name + ".complete")
        if dest.is_file():
            fits = (size is None or dest.stat().st_size == size) and (limit is None or dest.stat().st_size <= limit)
            if fits and (sha256 is not None or not self.force) and (sha256 is None or _sha256(dest) == sha256):
                self.completed[dest] = sha256 is not None
                return dest
            dest.unlink()
        self.download(url, dest, sha256, size, name=name, limit=limit)
        self.completed[dest] = sha256 is not None
        return dest

    def download(
        self,
        url: str,
        dest: Path,
        sha256: str | None = None,
        size: int | None = None,
        bar: Any = None,
        name: str | None = None,
        limit: int | None = None,
    ) -> Path:
        """Download ``url`` (through the mirror) to ``dest``, verified; resume a partial file; return ``dest``.

        ``name``: the source, for the ``--unpinned NAME`` of the message when the pinned size or hash differs.
        ``limit``: the most bytes accepted without a pinned size (default :data:`MAX_DOWNLOAD`); with one, no byte
        past it is accepted, whatever the server announces or sends.
        """
        if size is None and limit is None:
            limit = MAX_DOWNLOAD
        real = self.url(url)
        part = self.partial_path(url)
        with _writing(part):
            part.parent.mkdir(parents=True, exist_ok=True)
        have = part.stat().st_size if part.is_file() else 0
        if size is not None and have > size:
            part.unlink()
            have = 0
        if size is None or have < size:
            self._stream(real, part, have, size, bar, name, limit)
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
        with _writing(dest):
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
            connections = _Connections()
            opener = urllib.request.build_opener(_HTTPHandler(connections), _HTTPSHandler(connections))
            # connecting and the response headers (redirects included) get ``timeout`` seconds in all
            watchdog = threading.Timer(self.timeout, connections.fire)
            watchdog.daemon = True
            watchdog.start()
            try:
                response = opener.open(urllib.request.Request(real, headers=headers), timeout=self.timeout)
                watchdog.cancel()
                if connections.fired:  # http.client takes a connection closed mid-headers for their end
                    response.close()
                    raise TimeoutError("the response headers came too slowly")
                return response
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
                    if wait is None:
                        long = f"{asked:,.0f} s" if asked is not None and asked < 1e12 else "more than 10^12 s"
                        why = f"the server asks to wait {long}, longer than the {self.max_wait:,.0f} s fetch waits"
                    else:
                        why = f"after {attempt + 1} tries and {sum(self.waits):,.0f} s of waiting"
                    raise FetchError(
                        f"{real}: HTTP {err.code} {_first_line(err.reason)} ({why}); what was fetched is kept: run "
                        "the same command again later to resume, or pass --mirror URL",
                        err.code,
                    ) from None
                err.close()
                if 300 <= err.code < 400:
                    located = err.headers is not None and ("Location" in err.headers or "URI" in err.headers)
                    if not located:
                        what = "a redirect without a Location, so there is nothing to follow"
                    elif "is not allowed" in str(err.reason):
                        what = "a redirect to a URL that is not http(s), which fetch does not follow"
                    else:
                        what = "too many redirects (a redirect loop, or more than 10 in a row)"
                    raise FetchError(
                        f"{real}: HTTP {err.code}: {what}; check --mirror and its paths, or try again later", err.code
                    ) from None
                fix = (
                    "the file is not there: check --mirror and its paths"
                    if err.code in (403, 404, 410)
                    else "the server failed: try again later or pass --mirror URL"
                )
                raise FetchError(f"{real}: HTTP {err.code} {_first_line(err.reason)}; {fix}", err.code) from None
            except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as err:
                if connections.fired:
                    raise FetchError(
                        f"{real}: no complete answer within {self.timeout:g} s (connecting and the response "
                        "headers); the server is too slow or stalled: try again later, pass --mirror URL, or "
                        "raise --timeout"
                    ) from None
                if isinstance(err, http.client.HTTPException):  # an answer, but not HTTP (or cut off before it)
                    raise FetchError(
                        f"{real}: no valid HTTP answer ({_reason(err)}); the server is not an HTTP server, or it "
                        "broke the connection: check --mirror (host, port, http/https), or try again later"
                    ) from None
                if isinstance(getattr(err, "reason", err), ssl.SSLError):
                    raise FetchError(
                        f"{real}: the secure connection failed ({_reason(err)}); the server's certificate is not "
                        "trusted here, or it does not speak https: check --mirror (http:// for a plain mirror), or "
                        "trust its certificate authority (SSL_CERT_FILE)"
                    ) from None
                raise FetchError(
                    f"{real}: cannot connect ({_reason(err)}); offline? run `xlprompt data fetch` on a machine with "
                    "internet (then copy the folder), pass --mirror URL, or raise --timeout"
                ) from None
            finally:
                watchdog.cancel()

    def _wait(self, err: urllib.error.HTTPError, attempt: int) -> tuple[float | None, float | None]:
        """(seconds to wait before retrying, or None when the server asks for more than ``max_wait``; what it asked).

        ``Retry-After`` (seconds or an HTTP date) is honoured; without it the wait doubles from
        :data:`BACKOFF`, never above ``max_wait``."""
        value = (err.headers.get("Retry-After") or "").strip() if err.headers is not None else ""
        asked: float | None = None
        if value:
            try:
                asked = float(value)
                if not (math.isfinite(asked) and asked >= 0):  # not a number of seconds: the doubling backoff
                    asked = None
            except ValueError:
                try:
                    asked = parsedate_to_datetime(value).timestamp() - time.time()
                except (TypeError, ValueError, IndexError, OverflowError):
                    asked = None
        if asked is None:
            return min(self.max_wait, BACKOFF * 2**attempt), None
        asked = max(0.0, asked)
        return (asked if asked <= self.max_wait else None), asked

    def _stream(
        self,
        real: str,
        part: Path,
        have: int,
        size: int | None,
        bar: Any,
        name: str | None,
        limit: int | None = None,
    ) -> None:
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
            if limit is not None and total is not None and total > limit:
                part.unlink(missing_ok=True)
                raise FetchError(
                    f"{real}: {total:,} bytes announced, more than the {limit:,} such a file can have; not the "
                    "expected file: check --mirror"
                )
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
                with _writing(part):
                    handle = open(part, "ab" if resumed else "wb")
                with handle:
                    window_start, window_bytes = time.monotonic(), 0
                    while True:
                        try:
                            chunk = response.read1(_CHUNK)
                        except (OSError, http.client.HTTPException) as err:
                            raise FetchError(
                                f"{real}: the download broke off after {received:,} bytes ({_reason(err)}); run "
                                "the same command again to resume it"
                            ) from None
                        if not chunk:
                            break
                        with _writing(part):
                            handle.write(chunk)
                        received += len(chunk)
                        self.downloaded += len(chunk)
                        window_bytes += len(chunk)
                        if bar is not None:
                            bar.update(len(chunk))
                        if size is not None and received > size:
                            handle.close()
                            part.unlink(missing_ok=True)
                            raise _changed(real, "size", f"{size:,} bytes", f"more than {size:,} bytes (sent)", name)
                        if limit is not None and received > limit:
                            handle.close()
                            part.unlink(missing_ok=True)
                            raise FetchError(
                                f"{real}: more than the {limit:,} bytes such a file can have; it was deleted: "
                                "not the expected file: check --mirror"
                            )
                        elapsed = time.monotonic() - window_start
                        if elapsed >= self.timeout:
                            if window_bytes < self.min_rate * elapsed:
                                raise FetchError(
                                    f"{real}: too slow: {window_bytes:,} bytes in the last {elapsed:,.1f} s (less "
                                    f"than {self.min_rate:,.0f} bytes/s over --timeout {self.timeout:g} s); the "
                                    f"{received:,} bytes fetched are kept: run the same command again to resume "
                                    "it, pass --mirror URL, or raise --timeout"
                                )
                            window_start, window_bytes = time.monotonic(), 0
            finally:
                if own_bar is not None:
                    own_bar.close()
        if total is not None and received < total:
            raise FetchError(
                f"{real}: the download broke off after {received:,} of {total:,} bytes; run the same "
                "command again to resume it"
            )


@contextlib.contextmanager
def _writing(path: Path) -> Iterator[None]:
    """Turn an OS error while ``path`` is written into one line naming it (a folder in the place of a file, a
    full disk, no permission)."""
    try:
        yield
    except FetchError:
        raise
    except OSError as err:
        if isinstance(err, XlpromptError):  # already one line (safety's DiskError: a full or read-only disk)
            raise FetchError(str(err)) from None
        raise FetchError(
            f"cannot write {path} ({err.strerror or type(err).__name__}); move away what is in "
            "its place, free space, or pass another --out"
        ) from None


# -- writing the layout ---------------------------------------------------------------------------


def _clean(text: str) -> str:
    """A text as one TSV field: tabs and line breaks become spaces (the layout has no quoting)."""
    return text.replace("\t", " ").replace("\r", " ").replace("\n", " ")


class TsvFiles:
    """Headed TSV files written row by row (``\\t``/``\\n``, no quoting, UTF-8), each through the package's one
    atomic writer (:func:`xlprompt.safety.atomic_output`): when the block ends without error every file is moved
    into place; on any error none is, and no temporary file is left. Memory stays at one row, whatever the size of
    the input.

    ``with TsvFiles() as files: files.write(path, header, row)``; :meth:`touch` makes a file with no row."""

    def __init__(self) -> None:
        self._stack = contextlib.ExitStack()
        self._open: dict[Path, IO[str]] = {}

    def _handle(self, path: Path, header: Sequence[str]) -> IO[str]:
        if path not in self._open:
            from xlprompt.safety import atomic_output

            with _writing(path):
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = self._stack.enter_context(atomic_output(path))
                handle = self._stack.enter_context(open(tmp, "w", encoding="utf-8", newline="\n"))
                self._open[path] = handle
                handle.write("\t".join(header) + "\n")
        return self._open[path]

    def touch(self, path: Path, header: Sequence[str]) -> None:
        self._handle(path, header)

    def write(self, path: Path, header: Sequence[str], row: Sequence[Any]) -> None:
        handle = self._handle(path, header)
        with _writing(path):
            handle.write("\t".join(_clean(str(v)) for v in row) + "\n")

    def __enter__(self) -> TsvFiles:
        self._stack.__enter__()
        return self

    def __exit__(self, *exc) -> bool:
        try:
            return bool(self._stack.__exit__(*exc))
        except OSError as err:  # closing or moving a file into place (the target named: os.replace's second name)
            with _writing(Path(getattr(err, "filename2", None) or getattr(err, "filename", None) or "")):
                raise


def _write_tsv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Write a headed TSV atomically (``\\t``/``\\n``, no quoting, UTF-8); rows are streamed."""
    with TsvFiles() as files:
        files.touch(path, header)
        for row in rows:
            files.write(path, header, row)


def staged_names(text: str, stage: Path) -> str:
    """A check's words about files built in a staging folder, naming each file by its place in the data folder
    (``xnli/dev/de.tsv``): the staging folder is gone when the message is read, and the data folder's own file is
    not the one that failed."""
    return text.replace(f"{stage}{os.sep}", "the new ")


def check_unpacked(size: int, where: str) -> None:
    """Refuse an archive member (or the part of an archive read so far) that unpacks to more than
    :data:`MAX_UNPACKED` bytes: a bomb is refused before it is read."""
    if size > MAX_UNPACKED:
        raise FetchError(
            f"{where}: unpacks to {size:,} bytes, more than the {MAX_UNPACKED:,} such an archive can hold; not the "
            "expected release: check --mirror"
        )


def too_many_rows(where: str, expected: int) -> FetchError:
    """A converter that reads a row past the number the release has stops there (disk and time stay bounded)."""
    return FetchError(
        f"{where}: more than the {expected:,} rows of the release; not the expected release: check --mirror"
    )


def read_bounded(handle: IO[bytes], limit: int, where: str) -> bytes:
    """All of ``handle``, refused past ``limit`` bytes (an archive member read whole: memory stays bounded)."""
    data = handle.read(limit + 1)
    if len(data) > limit:
        raise FetchError(
            f"{where}: larger than the {limit:,} bytes such a file can have; not the expected release: check --mirror"
        )
    return data


def github_archive_url(repo: str, commit: str) -> str:
    """The tar.gz of a GitHub repository (``owner/name``) at ``commit``: one request for every file of a source."""
    return f"https://codeload.github.com/{repo}/tar.gz/{commit}"


def github_members(
    fetcher: Fetcher, url: str, archive: Path, prefix: str, wanted: set[str], each: Callable[[str, bytes], None]
) -> set[str]:
    """Call ``each(REL, data)`` for every file ``prefix/REL`` (REL in ``wanted``) of a GitHub archive (top folder
    ``repo-commit/``), one member at a time and each read whole up to :data:`MAX_MEMBER` bytes (memory stays
    bounded); return the RELs found. A corrupt archive is deleted and is a one-line error, and so is a member
    that appears twice."""
    real = fetcher.url(url)

    def corrupt(err: BaseException) -> FetchError:
        archive.unlink(missing_ok=True)
        return FetchError(f"{real}: corrupt archive ({_reason(err)}); it was deleted: run the same command again")

    found: set[str] = set()
    try:
        tar = tarfile.open(archive, "r:gz")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
        raise corrupt(err) from None
    with tar:
        members = iter(tar)
        while True:
            try:
                member = next(members, None)
                if member is None:
                    break
                check_unpacked(member.offset_data + member.size, f"{real}: {member.name}")
                if not member.isfile() or _is_macos_entry(member.name):
                    continue
                rel = "/".join(PurePosixPath(member.name).parts[1:])
                if not rel.startswith(prefix + "/") or rel[len(prefix) + 1 :] not in wanted:
                    continue
                rel = rel[len(prefix) + 1 :]
                if rel in found:
                    raise FetchError(
                        f"{real}: {prefix}/{rel} appears twice in the archive; not the pinned release: check --mirror"
                    )
                data = read_bounded(tar.extractfile(member), MAX_MEMBER, f"{real}: {prefix}/{rel}")  # type: ignore[arg-type]
            except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
                raise corrupt(err) from None
            found.add(rel)
            each(rel, data)
    return found


def tsv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """A headed TSV as the converters write it (:class:`TsvFiles`: ``\\t``/``\\n``, fields cleaned, UTF-8), in
    memory: for a file whose SHA-256 is checked before it is written."""
    lines = ["\t".join(header)] + ["\t".join(_clean(str(v)) for v in row) for row in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def iter_lines(handle: IO[bytes], where: str, max_line: int = MAX_LINE) -> Iterator[tuple[int, str]]:
    """``(number, text)`` of each line of a binary stream, read one at a time (lines end at ``\\n`` only; a
    ``\\r`` before it is dropped; a UTF-8 byte-order mark on line 1 is dropped). Empty lines at the end are not
    yielded. A line longer than ``max_line`` bytes, or not UTF-8, is a one-line error naming it."""
    blank: list[int] = []  # empty lines held back until a non-empty one shows they are not the trailing ones
    number = 0
    while True:
        raw = handle.readline(max_line + 1)
        if not raw:
            return
        number += 1
        if len(raw) > max_line and not raw.endswith(b"\n"):
            raise FetchError(
                f"{where} line {number} is longer than {max_line:,} bytes; not the expected release: check --mirror"
            )
        try:
            text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as err:
            raise FetchError(
                f"{where} line {number}: not UTF-8 ({err.reason} at byte {err.start}); the archive is corrupt or "
                "not the release: run the same command again, or check --mirror"
            ) from None
        if text.endswith("\n"):
            text = text[:-1]
        if text.endswith("\r"):
            text = text[:-1]
        if not text:
            blank.append(number)
            continue
        for empty in blank:
            yield empty, ""
        blank = []
        yield number, text


def tsv_rows(handle: IO[bytes], where: str) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """Header and ``(line number, fields)`` rows of an unquoted TSV stream, read one row at a time.

    The converters' one rule: fields split on ``\\t`` only, quote characters are text, and a row whose field
    count differs from the header's is an error naming the line and both counts (nothing is padded, cut or
    skipped).
    """
    lines = iter_lines(handle, where)
    first = next(lines, None)
    if first is None:
        raise FetchError(f"{where}: empty file in the archive; run again with --force")
    header = first[1].split("\t")

    def rows() -> Iterator[tuple[int, list[str]]]:
        for number, line in lines:
            fields = line.split("\t")
            if len(fields) != len(header):
                raise FetchError(
                    f"{where} line {number} has {len(fields)} fields, expected {len(header)}; the archive "
                    "is not the pinned release: run again with --force, or fetch it through --mirror URL"
                )
            yield number, fields

    return header, rows()


def _split_tsv(data: bytes, where: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of an unquoted TSV held in memory (:func:`tsv_rows`' rule)."""
    header, rows = tsv_rows(io.BytesIO(data), where)
    return header, [fields for _, fields in rows]


def _columns(header: list[str], names: Sequence[str], where: str) -> list[int]:
    missing = [n for n in names if n not in header]
    if missing:
        raise FetchError(
            f"{where}: columns {', '.join(missing)} missing (header: {_printable(', '.join(header[:12])[:300])}); this is "
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

    def outputs(self, out: Path) -> list[Path]:
        """Every file this source writes under ``out``: ``fetch_data`` checks them all before any download (a
        folder in the place of one is an error), stages the source's work next to them, and swaps in only these."""
        raise NotImplementedError

    def writes_verified_files(self, pinned: bool) -> bool:
        """Whether every file the source writes is verified on its own (by a pinned SHA-256, its own or its raw
        file's) before it is written: then, when the source fails part way, the files it wrote are still swapped
        in, and a second call fetches only what is left."""
        return False

    def _converted(self, fetcher: Fetcher, real: str, archive: Path) -> None:
        """After an archive's conversion: its content facts must hold, else the archive is deleted (so that the
        next call downloads it again). A good archive is kept until the source's staging folder is marked
        verified (the point of no return; ``fetch_data`` deletes it then): a call killed before that converts
        it again instead of downloading it again."""
        problem = self.check(fetcher.out, self.name not in fetcher.unpinned)
        if problem is not None:
            archive.unlink(missing_ok=True)
            raise FetchError(
                f"{real}: the converted files fail the content check ({staged_names(problem, fetcher.out) if fetcher.cache not in (None, fetcher.out) else problem}); nothing "
                "was replaced: check --mirror"
            )

    def _archive(
        self,
        fetcher: Fetcher,
        url: str,
        sha256: str | None = None,
        size: int | None = None,
        limit: int | None = None,
    ) -> Path:
        """Download an archive, checked by its pinned ``size`` and ``sha256`` where given (not with
        ``--unpinned NAME``) and, after conversion, by content facts (:meth:`Fetcher.complete`: one downloaded
        whole by an interrupted call is used again)."""
        pinned = self.name not in fetcher.unpinned
        return fetcher.complete(url, sha256 if pinned else None, size if pinned else None, self.name, limit)

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
