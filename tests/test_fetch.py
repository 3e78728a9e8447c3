"""``xlprompt data fetch`` against a real HTTP server on 127.0.0.1 (Range requests, dropped connections,
corrupt files, a server that is down), the default data folder, and the fail-fast checks of runs and sweeps.

The served files are small, in the original formats and at the original paths (``/mprompting/xlmrprompt/...``,
``/XNLI/XNLI-1.0.zip``, ``/paws/pawsx/x-final.tar.gz``, ``/facebookresearch/LASER/...``, ...), reached through
``--mirror``. Expected values are written out by hand in the tests.
"""

from __future__ import annotations

import filecmp
import hashlib
import io
import json
import re
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from click.testing import CliRunner
from conftest import SHARED_DATA, needs_shared
from datafactory import write_data_dir

from xlprompt.cli import cli
from xlprompt.data.fetch import (
    FEWSHOT_BASE,
    LASER_COMMIT,
    XLMRPROMPT_COMMIT,
    MultinliArchive,
    PawsxArchive,
    PinnedFiles,
    TatoebaFiles,
    XnliArchive,
    apply_mirror,
    fetch_data,
    fewshot_pins,
)
from xlprompt.data.home import default_data_dir
from xlprompt.errors import ConfigError


class Server:
    """A threaded HTTP server on an ephemeral port: serves ``files`` (path -> bytes) with Range support."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.drop_after: dict[str, int] = {}  # path -> bytes sent before the connection is dropped (once)
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        # rate limiting: the first `limit_first` requests of every path are answered `limit_status`
        # (with `Retry-After: retry_after` unless it is None)
        self.limit_first = 0
        self.limit_status = 429
        self.retry_after: str | None = "1"
        self.limited = 0
        self.seen: dict[str, int] = {}
        state = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                path = unquote(urlsplit(self.path).path)
                state.requests.append((path, self.headers.get("Range")))
                state.seen[path] = state.seen.get(path, 0) + 1
                if state.seen[path] <= state.limit_first:
                    state.limited += 1
                    self.send_response(state.limit_status)
                    if state.retry_after is not None:
                        self.send_header("Retry-After", state.retry_after)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    self.close_connection = True
                    return
                if path not in state.files:
                    self.send_error(404, "Not Found")
                    return
                data = state.files[path]
                start = 0
                match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
                if match:
                    start = int(match.group(1))
                    if start >= len(data):
                        self.send_error(416, "Range Not Satisfiable")
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                body = data[start:]
                drop = state.drop_after.pop(path, None)
                self.wfile.write(body if drop is None else body[:drop])
                self.wfile.flush()
                self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def gets(self) -> int:
        return len(self.requests)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    srv = Server()
    yield srv
    srv.stop()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


FEWSHOT_PATH = f"/mprompting/xlmrprompt/{XLMRPROMPT_COMMIT}/common_datasets"
ONE = b'{"lang": "en", "sentence1": "A man sleeps.", "sentence2": "Someone rests.", "gold": "entailment"}\n' * 40
TWO = b'{"lang": "de", "sentence1": "Ein Mann.", "sentence2": "Jemand.", "gold": "neutral"}\n' * 30


def small_fewshot(server) -> dict:
    server.files[f"{FEWSHOT_PATH}/train/en/train_split,1.jsonl"] = ONE
    server.files[f"{FEWSHOT_PATH}/dev/rest/dev_split,de,1.jsonl"] = TWO
    pins = [(sha(ONE), len(ONE), "train/en/train_split,1.jsonl"), (sha(TWO), len(TWO), "dev/rest/dev_split,de,1.jsonl")]
    return {"fewshot": PinnedFiles("fewshot", "test splits", pins=pins, archive_url=None)}  # one request per file


def quiet_fetch(out, sources, mirror, **kwargs):
    return fetch_data(
        out, only=list(sources), mirror=mirror, progress=False, sources=sources, log=lambda _: None, **kwargs
    )


# -- mirror, pins ----------------------------------------------------------------------------------


def test_mirror_keeps_the_path():
    url = "https://raw.githubusercontent.com/mprompting/xlmrprompt/abc/common_datasets/train/en/x,1.jsonl"
    assert (
        apply_mirror(url, "http://127.0.0.1:8000")
        == "http://127.0.0.1:8000/mprompting/xlmrprompt/abc/common_datasets/train/en/x,1.jsonl"
    )
    assert (
        apply_mirror("https://dl.fbaipublicfiles.com/XNLI/XNLI-1.0.zip", "https://m.example.org/data/")
        == "https://m.example.org/data/XNLI/XNLI-1.0.zip"
    )
    assert apply_mirror(url, None) == url
    with pytest.raises(ConfigError, match="--mirror 'ftp://x' must be an http"):
        apply_mirror(url, "ftp://x")


def test_fewshot_pins_cover_every_split_k_and_language():
    pins = fewshot_pins()
    assert len(pins) == 2 * 9 * 15 == 270
    paths = {p for _, _, p in pins}
    assert "train/en/train_split,16.jsonl" in paths and "dev/rest/dev_split,sw,256.jsonl" in paths
    assert all(re.fullmatch(r"[0-9a-f]{64}", s) and n > 0 for s, n, _ in pins)
    assert FEWSHOT_BASE == (
        "https://raw.githubusercontent.com/mprompting/xlmrprompt/"
        "39aed8fa0bbb934a2ef60569c016f25bcb66c387/common_datasets"
    )


# -- downloads: resume, corrupt, down, idempotent --------------------------------------------------


def test_interrupted_download_resumes_with_a_range_request(server, tmp_path):
    sources = small_fewshot(server)
    server.drop_after[f"{FEWSHOT_PATH}/train/en/train_split,1.jsonl"] = 1000
    report = quiet_fetch(tmp_path, sources, server.url)
    assert list(report.failed) == ["fewshot"]
    assert report.failed["fewshot"] == (
        f"{server.url}{FEWSHOT_PATH}/train/en/train_split,1.jsonl: the download broke off after 1,000 of "
        f"{len(ONE):,} bytes; run the same command again to resume it"
    )
    target = tmp_path / "xnli-fewshot" / "train" / "en" / "train_split,1.jsonl"
    assert not target.exists()  # a partial file is never taken for the complete one
    partial = list((tmp_path / ".partial").rglob("train_split,1.jsonl"))
    assert len(partial) == 1 and partial[0].read_bytes() == ONE[:1000]

    report = quiet_fetch(tmp_path, sources, server.url)
    assert report.fetched == ["fewshot"] and not report.failed
    assert (f"{FEWSHOT_PATH}/train/en/train_split,1.jsonl", "bytes=1000-") in server.requests
    assert target.read_bytes() == ONE
    assert (tmp_path / "xnli-fewshot" / "dev" / "rest" / "dev_split,de,1.jsonl").read_bytes() == TWO
    assert not (tmp_path / ".partial").exists()


def test_second_run_downloads_nothing(server, tmp_path):
    sources = small_fewshot(server)
    assert quiet_fetch(tmp_path, sources, server.url).fetched == ["fewshot"]
    assert server.gets() == 2
    again = quiet_fetch(tmp_path, sources, server.url)
    assert again.present == ["fewshot"] and again.requests == 0 and server.gets() == 2
    forced = quiet_fetch(tmp_path, sources, server.url, force=True)
    assert forced.fetched == ["fewshot"] and server.gets() == 4


def test_a_changed_file_is_fetched_again(server, tmp_path):
    sources = small_fewshot(server)
    quiet_fetch(tmp_path, sources, server.url)
    target = tmp_path / "xnli-fewshot" / "dev" / "rest" / "dev_split,de,1.jsonl"
    target.write_bytes(TWO.replace(b"neutral", b"NEUTRAL"))
    report = quiet_fetch(tmp_path, sources, server.url)
    assert report.fetched == ["fewshot"] and server.gets() == 3  # only the changed file
    assert target.read_bytes() == TWO


def test_corrupt_file_is_refused(server, tmp_path):
    sources = small_fewshot(server)
    path = f"{FEWSHOT_PATH}/train/en/train_split,1.jsonl"
    server.files[path] = ONE.replace(b"sleeps", b"sleepz")  # same size, other bytes
    report = quiet_fetch(tmp_path, sources, server.url)
    line = report.failed["fewshot"]
    assert line == (
        f"{server.url}{path}: SHA-256 {sha(server.files[path])}, expected the pinned {sha(ONE)}; the "
        "file was deleted. The server sends another file than the pinned release: run the same command "
        "again (a broken transfer), fetch the original through --mirror URL, or accept the new file with "
        "--unpinned fewshot (its content facts are still checked)"
    )
    assert not (tmp_path / "xnli-fewshot" / "train" / "en" / "train_split,1.jsonl").exists()
    assert not list((tmp_path / ".partial").rglob("train_split,1.jsonl"))
    server.files[path] = ONE + b"x"  # wrong size: refused from the Content-Length
    line = quiet_fetch(tmp_path, sources, server.url).failed["fewshot"]
    assert line.startswith(
        f"{server.url}{path}: size {len(ONE) + 1:,} bytes (announced), expected the pinned "
        f"{len(ONE):,} bytes; the file was deleted."
    )
    accepted = quiet_fetch(tmp_path, sources, server.url, unpinned="fewshot")  # the documented way to proceed
    assert accepted.fetched == ["fewshot"]
    assert (tmp_path / "xnli-fewshot" / "train" / "en" / "train_split,1.jsonl").read_bytes() == ONE + b"x"


def test_missing_file_and_server_down(server, tmp_path):
    sources = small_fewshot(server)
    del server.files[f"{FEWSHOT_PATH}/train/en/train_split,1.jsonl"]
    line = quiet_fetch(tmp_path, sources, server.url).failed["fewshot"]
    assert line == (
        f"{server.url}{FEWSHOT_PATH}/train/en/train_split,1.jsonl: HTTP 404 Not Found; the file is not "
        "there: check --mirror and its paths"
    )
    url = server.url
    server.stop()
    server.stop = lambda: None
    line = quiet_fetch(tmp_path, sources, url, timeout=2).failed["fewshot"]
    assert line.startswith(f"{url}{FEWSHOT_PATH}/train/en/train_split,1.jsonl: cannot connect (")
    assert line.endswith(
        "offline? run `xlprompt data fetch` on a machine with internet (then copy the folder), "
        "pass --mirror URL, or raise --timeout"
    )
    assert "\n" not in line


def test_offline_every_source_fails_at_once_with_its_url(tmp_path, monkeypatch):
    """No mirror: each default URL is tried once and named in one line. A proxy on a closed port makes every
    connection fail at once here and on a machine with internet alike."""
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    result = CliRunner().invoke(
        cli,
        [
            "data",
            "fetch",
            "--out",
            str(tmp_path / "d"),
            "--timeout",
            "2",
            "--quiet",
            "--only",
            "fewshot,xnli,pawsx,tatoeba,multinli",
        ],
    )
    assert result.exit_code == 2
    lines = result.stderr.strip().split("\n")
    assert len(lines) == 6
    assert lines[-1] == (
        f"what was fetched is kept; to resume, run: xlprompt data fetch --out {tmp_path / 'd'} "
        "--only fewshot,xnli,pawsx,tatoeba,multinli"
    )
    expected = [
        f"https://codeload.github.com/mprompting/xlmrprompt/tar.gz/{XLMRPROMPT_COMMIT}",
        "https://dl.fbaipublicfiles.com/XNLI/XNLI-1.0.zip",
        "https://storage.googleapis.com/paws/pawsx/x-final.tar.gz",
        f"https://codeload.github.com/facebookresearch/LASER/tar.gz/{LASER_COMMIT}",
        "https://cims.nyu.edu/~sbowman/multinli/multinli_1.0.zip",
    ]
    for line, url in zip(lines, expected):
        assert line.startswith(f"error: {url}: cannot connect ("), line
        assert "pass --mirror URL" in line


def test_bad_arguments(tmp_path):
    result = CliRunner().invoke(cli, ["data", "fetch", "--out", str(tmp_path), "--only", "fewshot,xnlii"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: --only: unknown source xnlii; allowed: fewshot, xnli, pawsx, tatoeba, "
        "multinli, muse, sib200, sib200-train, tatoeba-sib200, americasnli (comma-separated)"
    )
    (tmp_path / "file").write_text("x")
    result = CliRunner().invoke(cli, ["data", "fetch", "--out", str(tmp_path / "file"), "--only", "fewshot"])
    assert result.exit_code == 2 and "is a file" in result.stderr
    with pytest.raises(ConfigError, match="is a file; pass a folder"):
        fetch_data(tmp_path / "file", only="fewshot")


# -- archives and converted sources ----------------------------------------------------------------

XNLI_COLUMNS = [
    "language",
    "gold_label",
    "sentence1_binary_parse",
    "sentence2_binary_parse",
    "sentence1_parse",
    "sentence2_parse",
    "sentence1",
    "sentence2",
    "promptID",
    "pairID",
    "genre",
    "label1",
    "label2",
    "label3",
    "label4",
    "label5",
    "sentence1_tokenized",
    "sentence2_tokenized",
    "match",
]


def xnli_row(lang, label, s1, s2, genre="fiction"):
    values = dict.fromkeys(XNLI_COLUMNS, "x")
    values.update(language=lang, gold_label=label, sentence1=s1, sentence2=s2, genre=genre)
    return "\t".join(values[c] for c in XNLI_COLUMNS)


#: macOS entries as the archivers of that platform add them (AppleDouble: not UTF-8, not data)
APPLE_DOUBLE = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        \x00\x02\xff\xfe"


def xnli_zip(labels=("entailment", "neutral", "contradiction"), dev_rows=None) -> bytes:
    """XNLI 1.0 as released: dev/test spell the label "contradiction"; texts hold quote characters (no quoting);
    a macOS archiver's ``__MACOSX/`` and ``._`` entries lie beside (and before) the real members."""
    dev = dev_rows or [
        xnli_row(lang, labels[i], f'{lang} dev "p{i}"', f"{lang} dev h{i}'s") for lang in ("de", "en") for i in range(3)
    ]
    test = [
        xnli_row(lang, labels[i % 3], f"{lang} test p{i}", f"{lang} test h{i}\x1d!", "travel")
        for lang in ("en", "de")
        for i in range(6)
    ]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("__MACOSX/XNLI-1.0/._xnli.dev.tsv", APPLE_DOUBLE)
        zf.writestr("XNLI-1.0/._xnli.dev.tsv", APPLE_DOUBLE)
        for name, rows in (("dev", dev), ("test", test)):
            zf.writestr(f"XNLI-1.0/xnli.{name}.tsv", "\n".join(["\t".join(XNLI_COLUMNS), *rows]) + "\n")
    return buffer.getvalue()


def xnli_source(data: bytes, **kwargs) -> dict:
    """The XNLI source pinned to ``data`` (the real one is pinned to the published size and SHA-256)."""
    return {
        "xnli": XnliArchive(
            "xnli",
            "XNLI",
            rows={"dev": 3, "test": 6},
            languages=("en", "de"),
            sha256=sha(data),
            size=len(data),
            **kwargs,
        )
    }


def test_the_archives_are_pinned_to_their_published_values():
    assert (XnliArchive("x", "").size, XnliArchive("x", "").sha256) == (
        17_865_352,
        "4ba1d5e1afdb7161f0f23c66dc787802ccfa8a25a3ddd3b165a35e50df346ab1",
    )
    assert (MultinliArchive("m", "").size, MultinliArchive("m", "").sha256) == (
        226_850_426,
        "049f507b9e36b1fcb756cfd5aeb3b7a0cfcb84bf023793652987f7e7e0957822",
    )
    assert PawsxArchive("p", "").size == 30_282_057


def test_xnli_archive_is_converted_and_checked(server, tmp_path):
    server.files["/XNLI/XNLI-1.0.zip"] = xnli_zip()
    sources = xnli_source(server.files["/XNLI/XNLI-1.0.zip"])
    assert quiet_fetch(tmp_path, sources, server.url).fetched == ["xnli"]
    assert (tmp_path / "xnli" / "dev" / "de.tsv").read_text("utf-8") == (
        "idx\tpremise\thypothesis\tlabel\tgenre\n"
        '0\tde dev "p0"\tde dev h0\'s\tentailment\tfiction\n'
        '1\tde dev "p1"\tde dev h1\'s\tneutral\tfiction\n'
        '2\tde dev "p2"\tde dev h2\'s\tcontradiction\tfiction\n'
    )
    assert (tmp_path / "xnli" / "test" / "en.tsv").read_text("utf-8").split("\n")[
        4
    ] == "3\ten test p3\ten test h3\x1d!\tentailment\ttravel"
    assert not (tmp_path / ".partial").exists()  # the archive is removed once converted
    assert quiet_fetch(tmp_path, sources, server.url).present == ["xnli"] and server.gets() == 1
    wrong = {
        "xnli": XnliArchive("xnli", "XNLI", rows={"dev": 6, "test": 6}, languages=("en", "de"), sha256=None, size=None)
    }
    line = quiet_fetch(tmp_path / "other", wrong, server.url).failed["xnli"]
    assert line.startswith(f"{server.url}/XNLI/XNLI-1.0.zip: the converted files fail the content check (")
    assert "3 rows with labels [1, 1, 1], expected 6 rows, [2, 2, 2]" in line


def test_a_changed_upstream_archive_is_one_line_with_expected_and_actual(server, tmp_path):
    good = xnli_zip()
    changed = xnli_zip(
        dev_rows=[
            xnli_row(lang, ("entailment", "neutral", "contradiction")[i], f"{lang} new p{i}", f"{lang} new h{i}")
            for lang in ("de", "en")
            for i in range(3)
        ]
    )
    server.files["/XNLI/XNLI-1.0.zip"] = changed
    sources = xnli_source(good)
    line = quiet_fetch(tmp_path, sources, server.url).failed["xnli"]
    size = (f"{len(good):,} bytes", f"{len(changed):,} bytes")
    what = (
        ("SHA-256", sha(good), sha(changed))
        if len(good) == len(changed)
        else ("size", size[0], size[1] + " (announced)")
    )
    assert line == (
        f"{server.url}/XNLI/XNLI-1.0.zip: {what[0]} {what[2]}, expected the pinned {what[1]}; the file "
        "was deleted. The server sends another file than the pinned release: run the same command again "
        "(a broken transfer), fetch the original through --mirror URL, or accept the new file with "
        "--unpinned xnli (its content facts are still checked)"
    )
    assert not (tmp_path / "xnli").exists()
    accepted = quiet_fetch(tmp_path, sources, server.url, unpinned="xnli")
    assert accepted.fetched == ["xnli"]
    assert "de new p0" in (tmp_path / "xnli" / "dev" / "de.tsv").read_text("utf-8")


def test_the_converters_share_one_rule_for_rows_of_the_wrong_width(server, tmp_path):
    short = xnli_row("de", "neutral", "p", "h").rsplit("\t", 1)[0]  # one field short
    rows = [xnli_row(lang, lab, "p", "h") for lang in ("de", "en") for lab in ("entailment", "neutral")]
    server.files["/XNLI/XNLI-1.0.zip"] = xnli_zip(dev_rows=[*rows, short])
    line = quiet_fetch(tmp_path, xnli_source(server.files["/XNLI/XNLI-1.0.zip"]), server.url).failed["xnli"]
    assert line == (
        f"{server.url}/XNLI/XNLI-1.0.zip: XNLI-1.0/xnli.dev.tsv line 6 has 18 fields, expected 19; the "
        "archive is not the pinned release: run again with --force, or fetch it through --mirror URL"
    )
    header = ("id", "sentence1", "sentence2", "label")
    files = dict(PAWSX_FILES)
    files["x-final/de/test_2k.tsv"] = [header, (3, "de t1", "de t2", 0), (4, "de u1", "de u2")]  # short row
    server.files["/paws/pawsx/x-final.tar.gz"] = pawsx_tar(files)
    line = quiet_fetch(tmp_path, pawsx_source(server), server.url).failed["pawsx"]
    assert line == (
        f"{server.url}/paws/pawsx/x-final.tar.gz: x-final/de/test_2k.tsv line 3 has 3 fields, expected 4; "
        "the archive is not the pinned release: run again with --force, or fetch it through --mirror URL"
    )
    # a label the release does not spell is refused, not mapped
    server.files["/XNLI/XNLI-1.0.zip"] = xnli_zip(labels=("entailment", "neutral", "contradictory"))
    line = quiet_fetch(tmp_path, xnli_source(server.files["/XNLI/XNLI-1.0.zip"]), server.url).failed["xnli"]
    assert (
        "xnli.dev.tsv line 4 has gold_label 'contradictory', expected one of entailment, neutral, contradiction" in line
    )


def test_corrupt_archive_is_refused_and_deleted(server, tmp_path):
    server.files["/XNLI/XNLI-1.0.zip"] = b"PK\x03\x04 this is not a zip archive" * 10
    sources = xnli_source(server.files["/XNLI/XNLI-1.0.zip"])
    line = quiet_fetch(tmp_path, sources, server.url).failed["xnli"]
    assert line.startswith(f"{server.url}/XNLI/XNLI-1.0.zip: corrupt archive (BadZipFile: ")
    assert line.endswith("it was deleted: run the same command again")
    assert not [p for p in (tmp_path / ".partial").rglob("*") if p.is_file()]


def tsv_bytes(rows) -> bytes:
    return ("\n".join("\t".join(map(str, r)) for r in rows) + "\n").encode()


PAWSX_HEADER = ("id", "sentence1", "sentence2", "label")
#: PAWS-X as released: quote characters are text; translated dev/test rows may hold the placeholder "NS"
PAWSX_FILES = {
    "x-final/en/dev_2k.tsv": [PAWSX_HEADER, (7, 'en "d1"', "en d2", 1), (9, "en e1", "en e2", 0)],
    "x-final/en/test_2k.tsv": [PAWSX_HEADER, (3, "en t1", "en t2", 0), (4, "en u1", "en u2", 1)],
    "x-final/en/train.tsv": [PAWSX_HEADER, (1, "a", "b", 0), (2, "c", "d", 1), (5, "e", "f", 1)],
    "x-final/de/dev_2k.tsv": [PAWSX_HEADER, (7, "NS", "de d2", 1), (9, 'de "e1"', "de e2", 0)],
    "x-final/de/test_2k.tsv": [PAWSX_HEADER, (3, "de t1", "de t2", 0), (4, "de u1", "de u2", 1)],
    "x-final/de/translated_train.tsv": [PAWSX_HEADER, (1, "x", "y", 0)],
}


def pawsx_tar(files) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in [
            ("x-final/de/._dev_2k.tsv", APPLE_DOUBLE),
            *((name, tsv_bytes(rows)) for name, rows in files.items()),
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def pawsx_source(server, **kwargs) -> dict:
    return {
        "pawsx": PawsxArchive(
            "pawsx",
            "PAWS-X",
            rows={"dev": 2, "test": 2},
            train_rows=3,
            languages=("en", "de"),
            size=len(server.files["/paws/pawsx/x-final.tar.gz"]),
            **kwargs,
        )
    }


def test_pawsx_archive_with_the_english_train_set_drops_ns_rows(server, tmp_path):
    server.files["/paws/pawsx/x-final.tar.gz"] = pawsx_tar(PAWSX_FILES)
    logged = []
    sources = pawsx_source(server)
    report = fetch_data(tmp_path, only="pawsx", mirror=server.url, progress=False, sources=sources, log=logged.append)
    assert report.fetched == ["pawsx"]
    assert logged == ["pawsx: fetched and verified (PAWS-X); 1 NS rows dropped (dev/de 1)"]
    assert (tmp_path / "pawsx" / "train" / "en.tsv").read_text() == (
        "idx\tid\tsentence1\tsentence2\tlabel\n0\t1\ta\tb\t0\n1\t2\tc\td\t1\n2\t5\te\tf\t1\n"
    )
    assert (tmp_path / "pawsx" / "test" / "de.tsv").read_text() == (
        "idx\tid\tsentence1\tsentence2\tlabel\n0\t3\tde t1\tde t2\t0\n1\t4\tde u1\tde u2\t1\n"
    )
    assert (tmp_path / "pawsx" / "dev" / "de.tsv").read_text() == (
        'idx\tid\tsentence1\tsentence2\tlabel\n1\t9\tde "e1"\tde e2\t0\n'
    )  # NS row 0 dropped, idx kept
    assert (tmp_path / "pawsx" / "ns_rows.tsv").read_text() == "split\tlang\tidx\tid\ndev\tde\t0\t7\n"
    assert not (tmp_path / "pawsx" / "train" / "de.tsv").exists()
    assert sources["pawsx"].check(tmp_path) is None  # 1 row + 1 dropped = 2
    stats = CliRunner().invoke(cli, ["data", "stats", "--data-dir", str(tmp_path)])
    assert stats.exit_code == 0, stats.output
    de = [line.split() for line in stats.output.splitlines() if line.startswith("de ")]
    assert de == [["de", "1", "0", "1", "0", "1", "2", "1", "1", "0", "0"]]
    # the archive's size is pinned too (no hash is published)
    wrong = pawsx_source(server)
    wrong["pawsx"].size += 1
    line = quiet_fetch(tmp_path / "w", wrong, server.url).failed["pawsx"]
    actual = len(server.files["/paws/pawsx/x-final.tar.gz"])
    assert line.startswith(
        f"{server.url}/paws/pawsx/x-final.tar.gz: size {actual:,} bytes (announced), expected the "
        f"pinned {wrong['pawsx'].size:,} bytes; the file was deleted."
    )


def test_tatoeba_files_are_joined_and_counted(server, tmp_path):
    base = f"/facebookresearch/LASER/{LASER_COMMIT}/data/tatoeba/v1"
    server.files[f"{base}/tatoeba.deu-eng.deu"] = "Hallo.\nDanke!\n".encode()
    server.files[f"{base}/tatoeba.deu-eng.eng"] = b"Hello.\nThanks!\n"
    server.files[f"{base}/tatoeba.swh-eng.swh"] = b"Hakuna matata.\n"
    server.files[f"{base}/tatoeba.swh-eng.eng"] = b"There are no problems.\n"
    sources = {"tatoeba": TatoebaFiles("tatoeba", "Tatoeba", rows={"de": 2, "sw": 1}, archive_url=None)}
    assert quiet_fetch(tmp_path, sources, server.url).fetched == ["tatoeba"]
    assert (tmp_path / "tatoeba" / "de-en.tsv").read_text() == "idx\tde\ten\n0\tHallo.\tHello.\n1\tDanke!\tThanks!\n"
    assert (
        tmp_path / "tatoeba" / "sw-en.tsv"
    ).read_text() == "idx\tsw\ten\n0\tHakuna matata.\tThere are no problems.\n"
    server.files[f"{base}/tatoeba.swh-eng.eng"] = b"There are no problems.\nExtra line.\n"
    line = quiet_fetch(tmp_path / "b", sources, server.url).failed["tatoeba"]
    assert line == (
        f"{server.url}{base}/tatoeba.swh-eng.eng: 2 lines, expected 1; it was deleted: run the same "
        "command again, or check --mirror"
    )


def test_multinli_archive_ignores_macos_entries(server, tmp_path):
    """The macOS entry ``__MACOSX/multinli_1.0/._multinli_1.0_train.jsonl`` comes first and is not UTF-8."""
    rows = [
        {"gold_label": lab, "sentence1": f'p{i} "q"', "sentence2": f"h{i}\tx", "genre": "slate", "pairID": f"{i}e"}
        for i, lab in enumerate(["neutral", "entailment", "contradiction"])
    ]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("__MACOSX/multinli_1.0/._multinli_1.0_train.jsonl", APPLE_DOUBLE)
        zf.writestr("multinli_1.0/._multinli_1.0_train.jsonl", APPLE_DOUBLE)
        zf.writestr("multinli_1.0/multinli_1.0_train.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    server.files["/~sbowman/multinli/multinli_1.0.zip"] = buffer.getvalue()
    sources = {
        "multinli": MultinliArchive(
            "multinli", "MultiNLI", train_rows=3, sha256=sha(buffer.getvalue()), size=len(buffer.getvalue())
        )
    }
    assert quiet_fetch(tmp_path, sources, server.url).fetched == ["multinli"]
    assert (tmp_path / "multinli" / "train.tsv").read_text() == (
        'idx\tpremise\thypothesis\tlabel\tgenre\tpairID\n0\tp0 "q"\th0 x\tneutral\tslate\t0e\n'
        '1\tp1 "q"\th1 x\tentailment\tslate\t1e\n2\tp2 "q"\th2 x\tcontradiction\tslate\t2e\n'
    )


@needs_shared
def test_fetch_fewshot_through_a_mirror_is_byte_identical_to_shared(server, tmp_path):
    """A mirror of single files at their repository paths (no archive): fetched one by one, byte-identical."""
    local = SHARED_DATA / "xnli-fewshot"
    for path in local.rglob("*.jsonl"):
        server.files[f"{FEWSHOT_PATH}/{path.relative_to(local).as_posix()}"] = path.read_bytes()
    out = tmp_path / "D"
    args = ["data", "fetch", "--only", "fewshot", "--mirror", server.url, "--out", str(out), "--quiet"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert server.gets() == 271  # a mirror of single files: the archive's 404, then one request per file
    compared = filecmp.dircmp(out / "xnli-fewshot", local)
    files = sorted(p.relative_to(out / "xnli-fewshot") for p in (out / "xnli-fewshot").rglob("*") if p.is_file())
    assert len(files) == 270
    match, mismatch, errors = filecmp.cmpfiles(out / "xnli-fewshot", local, [str(f) for f in files], shallow=False)
    assert len(match) == 270 and not mismatch and not errors, compared
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0 and server.gets() == 271
    assert "fewshot: already complete" in again.output and "(0 requests, 0 bytes downloaded)" in again.output


# -- the default data folder and failing fast --------------------------------------------------------


def test_default_data_folder_per_platform():
    home = "/home/u"
    assert default_data_dir({"XLPROMPT_DATA": "/data/x", "HOME": home}, "linux").path == Path("/data/x")
    assert default_data_dir({"HOME": home}, "linux").path == Path("/home/u/.local/share/xlprompt")
    assert default_data_dir({"HOME": home, "XDG_DATA_HOME": "/xdg"}, "linux").path == Path("/xdg/xlprompt")
    assert default_data_dir({"HOME": home}, "darwin").path == Path("/home/u/Library/Application Support/xlprompt")
    assert default_data_dir({"HOME": home, "LOCALAPPDATA": "C:/Users/u/AppData/Local"}, "win32").path == Path(
        "C:/Users/u/AppData/Local/xlprompt"
    )
    assert default_data_dir({"HOME": home, "XLPROMPT_DATA": " "}, "linux").origin.startswith("the per-user")


@pytest.fixture
def no_model_loading(monkeypatch):
    """Loading any tokenizer or model fails the test loudly."""
    from xlprompt.models import backbone

    def boom(*args, **kwargs):
        raise AssertionError("a model or tokenizer was loaded before the data checks")

    monkeypatch.setattr(backbone, "load_tokenizer", boom)
    monkeypatch.setattr(backbone, "load_masked_lm", boom)


def test_run_with_an_empty_default_folder_stops_before_any_model(tmp_path, monkeypatch, no_model_loading):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("XLPROMPT_DATA", str(empty))
    result = CliRunner().invoke(
        cli,
        [
            "run",
            "--method",
            "mpt",
            "--shots",
            "16",
            "--model",
            "xlm-roberta-base",
            "--out",
            str(tmp_path / "run"),
            "--quiet",
        ],
    )
    assert result.exit_code == 2, result.output
    # 27 files: the train and dev split of k=16, XNLI test in 15 languages, PAWS-X dev+test in en, de, es, fr, zh
    assert result.stderr.strip() == (
        f"error: the data folder {empty} (from $XLPROMPT_DATA) is empty: xnli-fewshot/train/en/train_split,16.jsonl "
        f"not found (and 26 more); fill it with `xlprompt data fetch --out {empty} --only fewshot,xnli,pawsx` "
        "(on a machine with internet), or pass --data-dir DIR"
    )
    assert not (tmp_path / "run").exists()


def test_missing_files_name_only_the_sources_that_lack_them(tmp_path, monkeypatch, no_model_loading):
    data = write_data_dir(tmp_path / "d", ks=(1,))
    (data / "tatoeba" / "sw-en.tsv").unlink()
    result = CliRunner().invoke(
        cli,
        [
            "run",
            "--method",
            "mpt",
            "--shots",
            "1",
            "--model",
            "random:tiny",
            "--data-dir",
            str(data),
            "--out",
            str(tmp_path / "run"),
            "--quiet",
            "--set",
            "parallel_source=tatoeba",
        ],
    )
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: the data folder {data} (from --data-dir / data_dir) lacks some files: tatoeba/sw-en.tsv not found; "
        f"fill it with `xlprompt data fetch --out {data} --only tatoeba` (on a machine with internet), or pass "
        "--data-dir DIR"
    )


def test_a_bad_data_file_is_reported_before_any_model_loads(tmp_path, no_model_loading):
    from xlprompt.config import RunConfig
    from xlprompt.errors import DataError
    from xlprompt.experiment import run_experiment

    data = write_data_dir(tmp_path / "d", ks=(1,))
    (data / "xnli" / "test" / "de.tsv").write_text("idx\tpremise\n0\tonly\n", encoding="utf-8")
    config = RunConfig(method="sp", shots=1, model="xlm-roberta-base", data_dir=str(data))
    with pytest.raises(DataError, match=r"de.tsv:1: missing required columns 'hypothesis', 'label'"):
        run_experiment(config, tmp_path / "run", progress=False, log=lambda _: None)


def test_the_shipped_sweeps_read_the_data_folder(tmp_path, monkeypatch, no_model_loading):
    """configs/*.yaml name no data folder: --data-dir or $XLPROMPT_DATA decides, and the sweep checks every run's
    files before it starts one."""
    from xlprompt.sweep import load_sweep

    configs = Path(__file__).resolve().parents[1] / "configs"
    for name in ("table1", "table2", "ablations"):
        assert "shared" not in (configs / f"{name}.yaml").read_text()
        assert {run.config.data_dir for run in load_sweep(configs / f"{name}.yaml").runs} == {None}
    empty = tmp_path / "empty"
    monkeypatch.setenv("XLPROMPT_DATA", str(empty))
    store = tmp_path / "s.db"
    result = CliRunner().invoke(cli, ["sweep", str(configs / "table1.yaml"), "--store", str(store), "--quiet"])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: the data folder {empty} (from $XLPROMPT_DATA) does not exist: ")
    assert not store.exists()
    other = tmp_path / "other"
    other.mkdir()
    result = CliRunner().invoke(
        cli, ["sweep", str(configs / "table2.yaml"), "--store", str(store), "--quiet", "--data-dir", str(other)]
    )
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: the data folder {other} (from --data-dir / data_dir) is empty: ")
    dry = CliRunner().invoke(
        cli, ["sweep", str(configs / "table2.yaml"), "--store", str(store), "--dry-run", "--data-dir", str(other)]
    )
    assert dry.exit_code == 0 and dry.output.strip().endswith("50 runs")


def test_a_shipped_sweep_runs_unchanged_with_xlprompt_data(tmp_path, monkeypatch):
    data = write_data_dir(tmp_path / "d", langs=("en", "de", "fr", "es", "zh"), ks=(1,))
    monkeypatch.setenv("XLPROMPT_DATA", str(data))
    configs = Path(__file__).resolve().parents[1] / "configs"
    store = tmp_path / "s.db"
    args = [
        "sweep",
        str(configs / "table1.yaml"),
        "--store",
        str(store),
        "--quiet",
        "--grid",
        "method=sp",
        "--grid",
        "shots=1",
        "--grid",
        "seed=1",
        "--set",
        "model=random:tiny",
        "--set",
        "epochs=1",
        "--set",
        "max_length=64",
        "--set",
        "eval_languages=en,de",
        "--set",
        "device=cpu",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    from xlprompt.store import ResultStore

    with ResultStore(store, create=False) as results:
        runs = results.runs()
        assert [r.status for r in runs] == ["finished"]


def test_data_stats_reads_the_default_folder(tmp_path, monkeypatch):
    data = write_data_dir(tmp_path / "d", langs=("en", "de"), ks=(1,))
    monkeypatch.setenv("XLPROMPT_DATA", str(data))
    result = CliRunner().invoke(cli, ["data", "stats"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"data folder: {data}\n")


def test_help_config_lists_the_new_key():
    result = CliRunner().invoke(cli, ["run", "--help-config"])
    assert "  sample_pool (default 'xnli-dev') [xnli-dev|multinli]" in result.output
    assert "$XLPROMPT_DATA" in result.output


def test_sample_pool_multinli_reads_the_fetched_file(tmp_path):
    from datafactory import write_tsv

    from xlprompt.config import RunConfig
    from xlprompt.errors import DataError
    from xlprompt.run_data import load_run_data

    data = write_data_dir(tmp_path / "d", langs=("en", "de"), ks=(1,))
    config = RunConfig(
        method="sp",
        shots=2,
        model="random:tiny",
        data_dir=str(data),
        train_source="sample",
        sample_pool="multinli",
        eval_languages="en,de",
    )
    with pytest.raises(
        DataError,
        match=r"multinli/train.tsv not found; fill it with `xlprompt data fetch --out .* "
        r"--only multinli`",
    ):
        load_run_data(config)
    labels = ["entailment", "neutral", "contradiction"]
    write_tsv(
        data / "multinli" / "train.tsv",
        ("idx", "premise", "hypothesis", "label", "genre", "pairID"),
        [(i, f"mnli p{i}", f"mnli h{i}", labels[i % 3], "slate", f"{i}n") for i in range(9)],
    )
    run = load_run_data(config)
    assert len(run.train) == 6 and all(e.uid.startswith("mnli-train-") for e in run.train)
    assert sorted(e.label for e in run.train) == [0, 0, 1, 1, 2, 2]
    assert all(e.uid.startswith("xnli-dev-") for e in run.dev)  # dev: sampled from XNLI dev en


@needs_shared
def test_the_content_facts_hold_for_the_real_data():
    """The pins and row counts of the default sources agree with ../shared/data (the same releases)."""
    from xlprompt.data.fetch import default_sources

    sources = default_sources()
    assert sources["fewshot"].check(SHARED_DATA) is None
    assert sources["xnli"].check(SHARED_DATA) is None
    assert sources["tatoeba"].check(SHARED_DATA) is None
    assert sources["pawsx"].check(SHARED_DATA).endswith("pawsx/train/en.tsv is missing")  # no train set there


def test_muse_dictionaries_are_fetched_checked_and_skipped(server, tmp_path):
    from xlprompt.data.fetch import MuseDictionaries

    base = "/arrival/dictionaries"
    server.files[f"{base}/en-de.txt"] = "house haus\nhouse heim\ndog hund\n".encode()
    server.files[f"{base}/en-fr.txt"] = "house maison\n".encode()
    sources = {"muse": MuseDictionaries("muse", "MUSE", languages=("de", "fr"))}
    assert quiet_fetch(tmp_path, sources, server.url).fetched == ["muse"]
    assert (tmp_path / "muse" / "en-de.txt").read_bytes() == server.files[f"{base}/en-de.txt"]
    before = server.gets()
    assert quiet_fetch(tmp_path, sources, server.url).fetched == []  # complete: checked, nothing downloaded
    assert server.gets() == before
    server.files[f"{base}/en-fr.txt"] = b"three words here\n"
    line = quiet_fetch(tmp_path / "b", sources, server.url).failed["muse"]
    assert line.startswith(f"{server.url}{base}/en-fr.txt: not a MUSE dictionary (")
    assert "got 3" in line and not (tmp_path / "b" / "muse" / "en-fr.txt").exists()


# -- GitHub sources in one request, and a server that rate-limits ----------------------------------


def github_tar(top: str, files: dict[str, bytes]) -> bytes:
    """A GitHub repository archive (codeload's tar.gz: one top folder ``repo-commit/``), with a macOS entry."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in [(f"{top}/._README.md", APPLE_DOUBLE), *files.items()]:
            info = tarfile.TarInfo(f"{top}/{name}" if not name.startswith(top) else name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


FEWSHOT_ARCHIVE_PATH = f"/mprompting/xlmrprompt/tar.gz/{XLMRPROMPT_COMMIT}"
TATOEBA_ARCHIVE_PATH = f"/facebookresearch/LASER/tar.gz/{LASER_COMMIT}"


def archived_fewshot(server) -> dict:
    server.files[FEWSHOT_ARCHIVE_PATH] = github_tar(
        f"xlmrprompt-{XLMRPROMPT_COMMIT}",
        {
            "common_datasets/train/en/train_split,1.jsonl": ONE,
            "common_datasets/dev/rest/dev_split,de,1.jsonl": TWO,
            "common_datasets/dev/rest/other.jsonl": b"not pinned\n",
            "README.md": b"# xlmrprompt\n",
        },
    )
    pins = [(sha(ONE), len(ONE), "train/en/train_split,1.jsonl"), (sha(TWO), len(TWO), "dev/rest/dev_split,de,1.jsonl")]
    return {"fewshot": PinnedFiles("fewshot", "test splits", pins=pins)}


def test_fewshot_comes_from_one_repository_archive_each_file_checked(server, tmp_path):
    sources = archived_fewshot(server)
    report = quiet_fetch(tmp_path, sources, server.url)
    assert report.fetched == ["fewshot"] and server.requests == [(FEWSHOT_ARCHIVE_PATH, None)]
    assert (tmp_path / "xnli-fewshot" / "train" / "en" / "train_split,1.jsonl").read_bytes() == ONE
    assert (tmp_path / "xnli-fewshot" / "dev" / "rest" / "dev_split,de,1.jsonl").read_bytes() == TWO
    assert not (tmp_path / "xnli-fewshot" / "dev" / "rest" / "other.jsonl").exists()
    # a file of the archive that is not the pinned one: one line with both hashes; the others are written
    changed = TWO.replace(b"neutral", b"NEUTRAL")
    server.files[FEWSHOT_ARCHIVE_PATH] = github_tar(
        f"xlmrprompt-{XLMRPROMPT_COMMIT}",
        {"common_datasets/train/en/train_split,1.jsonl": ONE, "common_datasets/dev/rest/dev_split,de,1.jsonl": changed},
    )
    line = quiet_fetch(tmp_path / "b", sources, server.url).failed["fewshot"]
    assert line == (
        f"{server.url}{FEWSHOT_ARCHIVE_PATH}: common_datasets/dev/rest/dev_split,de,1.jsonl: SHA-256 "
        f"{sha(changed)} ({len(changed):,} bytes), expected the pinned {sha(TWO)} ({len(TWO):,} bytes); "
        "the 1 other files are written. The archive is not the pinned release: fetch it through --mirror "
        "URL, or accept the changed files with --unpinned fewshot"
    )
    assert (tmp_path / "b" / "xnli-fewshot" / "train" / "en" / "train_split,1.jsonl").read_bytes() == ONE
    assert not (tmp_path / "b" / "xnli-fewshot" / "dev" / "rest" / "dev_split,de,1.jsonl").exists()


def test_retry_after_is_honoured_on_429_and_503(server, tmp_path):
    sources = archived_fewshot(server)
    server.limit_first, server.retry_after = 2, "1"  # two 429s, each asking for one second
    report = quiet_fetch(tmp_path, sources, server.url)
    assert report.fetched == ["fewshot"] and report.waits == [1.0, 1.0]
    assert server.gets() == 3 and server.limited == 2 and report.requests == 3
    server.seen.clear()
    server.limit_status = 503
    report = quiet_fetch(tmp_path / "b", sources, server.url)
    assert report.fetched == ["fewshot"] and report.waits == [1.0, 1.0]


def test_backoff_without_retry_after_is_bounded(server, tmp_path, monkeypatch):
    import xlprompt.data.download as download_module

    monkeypatch.setattr(download_module, "BACKOFF", 0.01)
    archived_fewshot(server)  # the server holds the archive; the CLI fetches it
    server.limit_first, server.retry_after = 100, None  # always 429, no Retry-After
    result = CliRunner().invoke(
        cli, ["data", "fetch", "--only", "fewshot", "--out", str(tmp_path), "--quiet", "--mirror", server.url]
    )
    assert server.gets() == 6  # the request and 5 retries, waiting 0.01, 0.02, 0.04, 0.08, 0.16 s
    assert result.exit_code == 2
    assert result.stderr.split("\n")[:2] == [
        f"error: {server.url}{FEWSHOT_ARCHIVE_PATH}: HTTP 429 Too Many Requests (after 6 tries and 0 s of waiting); "
        "what was fetched is kept: run the same command again later to resume, or pass --mirror URL",
        f"what was fetched is kept; to resume, run: xlprompt data fetch --out {tmp_path} --only fewshot --mirror "
        f"{server.url}",
    ]


def test_a_long_retry_after_fails_at_once_and_a_partial_archive_resumes(server, tmp_path):
    sources = archived_fewshot(server)
    server.drop_after[FEWSHOT_ARCHIVE_PATH] = 100
    report = quiet_fetch(tmp_path, sources, server.url)
    assert "the download broke off after 100 of" in report.failed["fewshot"]
    assert report.rerun == f"xlprompt data fetch --out {tmp_path} --only fewshot --mirror {server.url}"
    server.seen.clear()
    server.limit_first, server.retry_after = 1, "3600"
    line = quiet_fetch(tmp_path, sources, server.url).failed["fewshot"]
    assert line == (
        f"{server.url}{FEWSHOT_ARCHIVE_PATH}: HTTP 429 Too Many Requests (the server asks to wait 3,600 "
        "s, longer than the 60 s fetch waits); what was fetched is kept: run the same command again later "
        "to resume, or pass --mirror URL"
    )
    report = quiet_fetch(tmp_path, sources, server.url)  # later: the partial archive resumes where it stopped
    assert report.fetched == ["fewshot"] and server.requests[-1] == (FEWSHOT_ARCHIVE_PATH, "bytes=100-")


def shared_mirror(server) -> None:
    """The published formats rebuilt from ../shared/data: the xlmrprompt archive at the pinned commit and the
    LASER archive with the raw Tatoeba files (one sentence per line) of the 14 languages."""
    from xlprompt.data.fetch import TATOEBA_CODES

    local = SHARED_DATA / "xnli-fewshot"
    server.files[FEWSHOT_ARCHIVE_PATH] = github_tar(
        f"xlmrprompt-{XLMRPROMPT_COMMIT}",
        {f"common_datasets/{p.relative_to(local).as_posix()}": p.read_bytes() for p in sorted(local.rglob("*.jsonl"))},
    )
    laser = {}
    for lang, code in TATOEBA_CODES.items():
        lines = (SHARED_DATA / "tatoeba" / f"{lang}-en.tsv").read_text("utf-8").split("\n")[1:-1]
        rows = [line.split("\t") for line in lines]
        laser[f"data/tatoeba/v1/tatoeba.{code}-eng.{code}"] = "".join(r[1] + "\n" for r in rows).encode()
        laser[f"data/tatoeba/v1/tatoeba.{code}-eng.eng"] = "".join(r[2] + "\n" for r in rows).encode()
    server.files[TATOEBA_ARCHIVE_PATH] = github_tar(f"LASER-{LASER_COMMIT}", laser)


@needs_shared
def test_fetch_through_a_rate_limiting_mirror_is_byte_identical_to_shared(server, tmp_path):
    shared_mirror(server)
    server.limit_first, server.retry_after = 1, "1"  # every first request of a file: 429, Retry-After: 1
    out = tmp_path / "D"
    args = ["data", "fetch", "--only", "fewshot,tatoeba", "--mirror", server.url, "--out", str(out), "--quiet"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert server.requests == [(FEWSHOT_ARCHIVE_PATH, None)] * 2 + [(TATOEBA_ARCHIVE_PATH, None)] * 2
    assert result.output.strip().endswith(
        f"({server.gets()} requests, {sum(map(len, server.files.values())):,} bytes downloaded)"
    )
    for folder, pattern, count in (("xnli-fewshot", "*.jsonl", 270), ("tatoeba", "*-en.tsv", 14)):
        files = sorted(str(p.relative_to(out / folder)) for p in (out / folder).rglob(pattern))
        assert len(files) == count
        match, mismatch, errors = filecmp.cmpfiles(out / folder, SHARED_DATA / folder, files, shallow=False)
        assert len(match) == count and not mismatch and not errors
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0 and server.gets() == 4 and "(0 requests, 0 bytes downloaded)" in again.output
