"""``data fetch`` against hostile servers and archives, over each class of attack: every download is bounded
(pinned size, or a limit), every archive is bounded in what it unpacks and in the rows a converter writes, and
what fetch reports or leaves behind can be used as it is."""

from __future__ import annotations

import io
import tarfile
import threading
import zipfile

import pytest
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

from xlprompt.data import download


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
