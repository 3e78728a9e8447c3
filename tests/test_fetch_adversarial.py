"""``data fetch`` against hostile servers and archives, over each class of attack: every download is bounded
(pinned size, or a limit), every archive is bounded in what it unpacks and in the rows a converter writes, and
what fetch reports or leaves behind can be used as it is."""

from __future__ import annotations

import io
import shlex
import tarfile
import threading
import zipfile

import pytest
from click.testing import CliRunner
from test_fetch import (
    FEWSHOT_ARCHIVE_PATH,
    PAWSX_FILES,
    PAWSX_HEADER,
    Server,
    archived_fewshot,
    github_tar,
    pawsx_source,
    pawsx_tar,
    quiet_fetch,
    xnli_row,
    xnli_source,
    xnli_zip,
)
from test_fetch_staging import XLMRPROMPT_COMMIT, RawServer, _multinli, leftovers, snapshot

from xlprompt.cli import cli
from xlprompt.data import download
from xlprompt.data.fetch import fetch_data
from xlprompt.errors import ConfigError, DataError


@pytest.fixture
def server():
    srv = Server()
    yield srv
    srv.stop()


# -- every download is bounded ------------------------------------------------------------------------------------


class Endless:
    """A server that answers every request with 200, no Content-Length, and a body that never ends (until the
    client hangs up): counts what it sent."""

    def __init__(self, chunk: bytes):
        self.sent = 0
        self.lock = threading.Lock()

        def answer(conn, stop):
            conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
            while not stop.is_set():
                conn.sendall(chunk)
                with self.lock:
                    self.sent += len(chunk)

        self.raw = RawServer(answer)
        self.url = self.raw.url

    def close(self):
        self.raw.close()


@pytest.mark.parametrize("case", ["pinned-size", "unpinned", "github-archive"])
def test_a_download_that_never_ends_stops_at_its_bound(tmp_path, monkeypatch, case):
    """A server sending an endless body: a download stops at its pinned size, or without one (an archive whose size
    is not pinned, a source fetched with --unpinned) at MAX_DOWNLOAD; one line, and nothing kept on disk."""
    monkeypatch.setattr(download, "MAX_DOWNLOAD", 200_000)
    data = xnli_zip()
    endless = Endless(data)
    try:
        if case == "github-archive":
            sources = archived_fewshot(_Files())
            report = quiet_fetch(tmp_path, sources, endless.url)
        else:
            sources = xnli_source(data)
            unpinned = "xnli" if case == "unpinned" else None
            report = quiet_fetch(tmp_path, sources, endless.url, unpinned=unpinned)
    finally:
        endless.close()
    (name, line), *_ = report.failed.items()
    assert "\n" not in line
    if case == "pinned-size":
        assert f"size more than {len(data):,} bytes (sent), expected the pinned {len(data):,} bytes" in line
        assert report.downloaded <= len(data) + download._CHUNK
    else:
        assert "more than the 200,000 bytes such a file can have; it was deleted" in line
        assert report.downloaded <= 200_000 + download._CHUNK
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and p.stat().st_size > 1000 and ".fetch" not in p.name]


class _Files:
    """The ``files`` of a server, for fakes that only register what they serve (here nothing is served)."""

    def __init__(self):
        self.files: dict[str, bytes] = {}


# -- every archive is bounded: what it unpacks, and the rows a converter writes ---------------------------------------


def _xnli_with_dev(extra: list[str]) -> bytes:
    rows = [
        xnli_row(lang, lab, "p", "h") for lang in ("de", "en") for lab in ("entailment", "neutral", "contradiction")
    ]
    return xnli_zip(dev_rows=rows + extra)


def _served(server, path: str, data: bytes) -> bytes:
    server.files[path] = data
    return data


def _archive_case(server, case: str, big: bytes):
    """(sources, the archive's URL path) of a source whose archive holds ``big`` where the release has a small
    member (a bomb: ``big`` unpacks to more than MAX_UNPACKED, or rows past the release's count)."""
    if case == "xnli":
        data = _served(server, "/XNLI/XNLI-1.0.zip", _xnli_with_dev([big.decode()]))
        return xnli_source(data)
    if case == "multinli":
        sources, _, _ = _multinli(server)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("multinli_1.0/multinli_1.0_train.jsonl", big)
        data = _served(server, "/~sbowman/multinli/multinli_1.0.zip", buffer.getvalue())
        sources["multinli"].sha256, sources["multinli"].size = None, None
        return sources
    if case == "pawsx":
        files = dict(PAWSX_FILES)
        files["x-final/en/train.tsv"] = [PAWSX_HEADER, *[tuple(line.split("\t")) for line in big.decode().splitlines()]]
        _served(server, "/paws/pawsx/x-final.tar.gz", pawsx_tar(files))
        return pawsx_source(server)
    if case == "github":
        sources = archived_fewshot(server)
        server.files[FEWSHOT_ARCHIVE_PATH] = github_tar(
            f"xlmrprompt-{XLMRPROMPT_COMMIT}", {"big/skipped.bin": big, **_fewshot_members(server)}
        )
        return sources
    raise AssertionError(case)


def _fewshot_members(server) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(server.files[FEWSHOT_ARCHIVE_PATH]), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]


@pytest.mark.parametrize("case", ["xnli", "multinli", "pawsx", "github"])
def test_an_archive_that_unpacks_to_more_than_the_bound_is_refused_before_it_is_read(
    server, tmp_path, monkeypatch, case
):
    """A member (wanted or skipped) that unpacks past MAX_UNPACKED is refused from its declared size, before its
    bytes are unpacked: an archive bomb costs neither time nor disk."""
    monkeypatch.setattr(download, "MAX_UNPACKED", 50_000)
    row = "\t".join(["x"] * 10) + "\n" if case != "multinli" else '{"sentence1": "a"}\n'
    big = (row * (60_000 // len(row) + 1)).encode()
    sources = _archive_case(server, case, big)
    (name,) = sources
    report = quiet_fetch(tmp_path, sources, server.url)
    line = report.failed[name]
    assert "unpacks to" in line and "more than the 50,000 such an archive can hold" in line, line
    assert "\n" not in line and snapshot(tmp_path) == {} and leftovers(tmp_path) == []


@pytest.mark.parametrize("case", ["xnli", "multinli", "pawsx"])
def test_a_converter_stops_at_the_first_row_past_the_release(server, tmp_path, monkeypatch, case):
    """An archive whose member holds far more rows than the release (a bomb that fits the pinned size of PAWS-X, or
    any archive with --unpinned): the converter stops at the first row too many, so the disk it fills is bounded
    by the release's row count, not by the archive."""
    if case == "xnli":
        extra = [xnli_row("de", "neutral", f"p{i}", "h") for i in range(5000)]
        sources = xnli_source(_served(server, "/XNLI/XNLI-1.0.zip", _xnli_with_dev(extra)))
        expected, where = 3, "XNLI-1.0/xnli.dev.tsv: language de"
    elif case == "multinli":
        sources, _, _ = _multinli(server)
        rows = b"".join(
            b'{"gold_label": "neutral", "sentence1": "p%d", "sentence2": "h", "genre": "g", "pairID": "1"}\n' % i
            for i in range(5000)
        )
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("multinli_1.0/multinli_1.0_train.jsonl", rows)
        _served(server, "/~sbowman/multinli/multinli_1.0.zip", buffer.getvalue())
        sources["multinli"].sha256, sources["multinli"].size = None, None
        expected, where = 3, "multinli_1.0/multinli_1.0_train.jsonl"
    else:
        files = dict(PAWSX_FILES)
        files["x-final/en/train.tsv"] = [PAWSX_HEADER, *[(i, f"a{i}", f"b{i}", 1) for i in range(5000)]]
        _served(server, "/paws/pawsx/x-final.tar.gz", pawsx_tar(files))
        sources = pawsx_source(server)
        expected, where = 3, "x-final/en/train.tsv"
    written = {"n": 0}
    real_write = download.TsvFiles.write

    def counting(self, *args, **kwargs):
        written["n"] += 1
        return real_write(self, *args, **kwargs)

    monkeypatch.setattr(download.TsvFiles, "write", counting)
    (name,) = sources
    line = quiet_fetch(tmp_path, sources, server.url).failed[name]
    assert line.endswith(
        f"{where}: more than the {expected:,} rows of the release; not the expected release: check --mirror"
    ), line
    assert written["n"] < 100, written
    assert snapshot(tmp_path) == {} and leftovers(tmp_path) == []


# -- fetch's own names: what a user put there is never deleted, moved or written over ------------------------------


def _user_thing(out, kind: str):
    """A user's file or folder in one of the names fetch keeps for itself; returns what must stay as it is."""
    if kind == "staging-folder":
        (out / ".staging" / "notes").mkdir(parents=True)
        (out / ".staging" / "notes" / "a.txt").write_text("mine")
        (out / ".staging" / "mine.txt").write_text("mine")
    elif kind == "staging-source-folder":  # a folder named like a source, in the staging folder
        (out / ".staging" / "xnli").mkdir(parents=True)
        (out / ".staging" / "xnli" / "a.txt").write_text("mine")
    elif kind == "staging-file":
        (out / ".staging").write_text("mine")
    elif kind == "partial-file":
        (out / ".partial").write_text("mine")
    elif kind == "lock-folder":
        (out / ".fetch.lock").mkdir()
        (out / ".fetch.lock" / "a.txt").write_text("mine")
    elif kind == "lock-file":
        (out / ".fetch.lock").write_text("my notes")
    return snapshot_all(out)


def snapshot_all(out):
    return {p.relative_to(out).as_posix(): p.read_bytes() if p.is_file() else None for p in sorted(out.rglob("*"))}


@pytest.mark.parametrize(
    "kind",
    ["staging-folder", "staging-source-folder", "staging-file", "partial-file", "lock-folder", "lock-file"],
)
def test_a_user_file_in_a_name_fetch_keeps_for_itself_is_one_line_and_kept(server, tmp_path, kind):
    data = _served(server, "/XNLI/XNLI-1.0.zip", xnli_zip())
    before = _user_thing(tmp_path, kind)
    requests = server.gets()
    with pytest.raises(DataError) as caught:
        quiet_fetch(tmp_path, xnli_source(data), server.url)
    assert "\n" not in str(caught.value) and "move it away" in str(caught.value)
    assert snapshot_all(tmp_path) == before and server.gets() == requests


def test_an_empty_staging_folder_of_a_killed_call_is_no_obstacle(server, tmp_path):
    """A call killed between making its staging folder and marking it leaves an empty folder: nobody's data, so it
    is removed, and the folder completes."""
    data = _served(server, "/XNLI/XNLI-1.0.zip", xnli_zip())
    (tmp_path / ".staging" / "xnli").mkdir(parents=True)
    assert quiet_fetch(tmp_path, xnli_source(data), server.url).fetched == ["xnli"]
    assert leftovers(tmp_path) == []


# -- what fetch says can be used as it is -------------------------------------------------------------------------


def test_the_rerun_command_is_one_shell_command(server, tmp_path):
    """The resume command of a failure survives a data folder whose path holds spaces and quotes: split as a shell
    would, it gives back the options."""
    out = tmp_path / "my data's folder"
    sources = xnli_source(b"not the archive")
    server.files["/XNLI/XNLI-1.0.zip"] = xnli_zip()
    report = quiet_fetch(out, sources, server.url + "/base dir", unpinned="xnli")
    assert shlex.split(report.rerun) == [
        "xlprompt", "data", "fetch", "--out", str(out), "--only", "xnli", "--mirror", server.url + "/base dir",
        "--unpinned", "xnli",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "mirror",
    [
        "http://user:secret@127.0.0.1:8000",
        "http://127.0.0.1:8000/?token=abc",
        "http://127.0.0.1:8000/data#x",
        "http://127.0.0.1:99999",
        "http://127.0.0.1:port",
        "http://:8000/x",
        "ftp://127.0.0.1/",
    ],
)
def test_a_mirror_fetch_cannot_use_is_one_line_before_anything_is_written(tmp_path, mirror):
    out = tmp_path / "data"
    with pytest.raises(ConfigError) as caught:
        quiet_fetch(out, xnli_source(b"x"), mirror)
    assert str(caught.value).startswith("--mirror") and "\n" not in str(caught.value)
    assert "secret" not in str(caught.value) and not out.exists()
    result = CliRunner().invoke(cli, ["data", "fetch", "--out", str(out), "--mirror", mirror, "--quiet"])
    assert result.exit_code == 2 and "Traceback" not in result.output and "--mirror" in result.output


def test_a_tls_failure_says_so(server, tmp_path):
    data = _served(server, "/XNLI/XNLI-1.0.zip", xnli_zip())
    mirror = server.url.replace("http://", "https://")  # a plain http server reached with https
    line = quiet_fetch(tmp_path, xnli_source(data), mirror).failed["xnli"]
    assert line.startswith(f"{mirror}/XNLI/XNLI-1.0.zip: the secure connection failed (SSLError: ")
    assert "offline" not in line and "\n" not in line


def test_errors_name_the_option_or_variable_that_was_given(tmp_path, monkeypatch):
    monkeypatch.setenv("XLPROMPT_FETCH_TIMEOUT", "inf")
    with pytest.raises(ConfigError, match=r"^\$XLPROMPT_FETCH_TIMEOUT='inf' must be a number of seconds in"):
        fetch_data(tmp_path, only="xnli", progress=False, log=lambda _: None)
    result = CliRunner().invoke(cli, ["data", "fetch", "--out", str(tmp_path), "--quiet"])
    assert result.exit_code == 2 and "$XLPROMPT_FETCH_TIMEOUT='inf'" in result.output
    monkeypatch.delenv("XLPROMPT_FETCH_TIMEOUT")
    with pytest.raises(ConfigError, match=r"^--unpinned: unknown source XNLI; allowed: "):
        fetch_data(tmp_path, only="xnli", unpinned="XNLI", progress=False, log=lambda _: None)
    with pytest.raises(ConfigError, match=r"^--only: unknown source 'xnli\\x00'; allowed: "):
        fetch_data(tmp_path, only="xnli\x00", progress=False, log=lambda _: None)


# -- answers that are not the file: one line that says what the server did --------------------------------------------

_ANSWERS = {
    "not-http": (b"PK\x03\x04\x1b[2J\x1b]0;owned\x07 binary", "no valid HTTP answer (BadStatusLine: "),
    "bad-status": (b"HTTP/1.1 abc\r\n\r\n", "no valid HTTP answer (BadStatusLine: "),
    "closed-at-once": (b"", "no valid HTTP answer (RemoteDisconnected: "),
    "header-too-long": (b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70_000 + b"\r\n\r\n", "no valid HTTP answer (LineTooLong"),
    "too-many-headers": (b"HTTP/1.1 200 OK\r\n" + b"X: a\r\n" * 200 + b"\r\n", "no valid HTTP answer (HTTPException"),
    "redirect-without-location": (
        b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n",
        "HTTP 302: a redirect without a Location, so there is nothing to follow; check --mirror",
    ),
    "escape-in-reason": (
        b"HTTP/1.1 500 \x1b]0;owned\x07 oops\r\nContent-Length: 0\r\n\r\n",
        "HTTP 500 \\x1b]0;owned\\x07 oops; the server failed",
    ),
    "endless-retry-after": (
        b"HTTP/1.1 429 Slow down\r\nRetry-After: 1e308\r\nContent-Length: 0\r\n\r\n",
        "HTTP 429 Slow down (the server asks to wait more than 10^12 s, longer than the 60 s fetch waits)",
    ),
}


@pytest.mark.parametrize("case", sorted(_ANSWERS))
def test_an_answer_that_is_not_the_file_is_one_printable_line_saying_what_it_was(tmp_path, case):
    raw, expected = _ANSWERS[case]
    srv = RawServer(lambda conn, stop: conn.sendall(raw) if raw else None)
    try:
        line = quiet_fetch(tmp_path, xnli_source(b"x"), srv.url, timeout=5).failed["xnli"]
    finally:
        srv.close()
    assert line.startswith(f"{srv.url}/XNLI/XNLI-1.0.zip: ") and expected in line, line
    assert "offline" not in line and line.isprintable(), line  # no control character reaches the terminal


@pytest.mark.parametrize("value", ["-5", "-inf", "nan"])
def test_a_retry_after_that_is_not_a_number_of_seconds_is_not_a_wait_of_zero(server, tmp_path, monkeypatch, value):
    """``Retry-After: -5`` is not a number of seconds: the doubling backoff applies (no burst of retries)."""
    monkeypatch.setattr(download, "BACKOFF", 0.01)
    server.limit_first, server.retry_after = 2, value
    data = _served(server, "/XNLI/XNLI-1.0.zip", xnli_zip())
    report = quiet_fetch(tmp_path, xnli_source(data), server.url)
    assert report.fetched == ["xnli"] and report.waits == [0.01, 0.02]


def test_a_failed_check_names_the_files_by_their_place_not_the_staging_folder(server, tmp_path):
    """The staging folder is gone when the message is read: a failed check names the new file by its place in
    the data folder, and says that nothing was replaced."""
    extra = [xnli_row("de", "neutral", "p", "h")]
    sources = xnli_source(_served(server, "/XNLI/XNLI-1.0.zip", _xnli_with_dev(extra)))
    sources["xnli"].rows = {"dev": 4, "test": 6}  # the English dev file has 3 rows
    line = quiet_fetch(tmp_path, sources, server.url).failed["xnli"]
    assert ".staging" not in line and "(the new xnli/dev/en.tsv: 3 rows with labels" in line, line
    assert "nothing was replaced" in line


@pytest.mark.parametrize("case", ["xnli", "multinli"])
def test_a_zip_member_that_appears_twice_is_refused(server, tmp_path, case):
    """Which of two members of one name is read is the archiver's choice: refused, as the tar converters do."""
    import warnings

    name = "XNLI-1.0/xnli.dev.tsv" if case == "xnli" else "multinli_1.0/multinli_1.0_train.jsonl"
    path = "/XNLI/XNLI-1.0.zip" if case == "xnli" else "/~sbowman/multinli/multinli_1.0.zip"
    if case == "xnli":
        good = xnli_zip()
        sources = xnli_source(good)
    else:
        sources, _, _ = _multinli(server)
        good = server.files[path]
    buffer = io.BytesIO(good)
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "a") as zf:
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate name
        zf.writestr(name, zipfile.ZipFile(io.BytesIO(good)).read(name))
    data = _served(server, path, buffer.getvalue())
    sources[case].sha256, sources[case].size = None, None
    line = quiet_fetch(tmp_path, sources, server.url).failed[case]
    assert line == f"{server.url}{path}: {name} appears twice in the archive; not the release: check --mirror"
    assert snapshot(tmp_path) == {} and data
