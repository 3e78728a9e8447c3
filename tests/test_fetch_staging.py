"""``data fetch`` never breaks what is there, is bounded in memory and time, and does each piece of work once.

Every registered source is faked here at small size (its published format, served by a local HTTP server), so
each guarantee is tested over the whole class of sources, not one of them:

* a refetch from a server that sends wrong but valid files leaves a complete data folder byte-identical;
* a failure injected into every write (a full disk, a kill) leaves only verified files, no temporary file, and
  the next call completes the folder;
* a folder in the place of any file a source writes is a one-line error before any download;
* two fetches into one folder: the second waits, then downloads nothing;
* an archive downloaded whole and interrupted during its conversion is not downloaded again;
* archive members are streamed (peak memory measured), slow servers time out, redirect loops are one line.
"""

from __future__ import annotations

import errno
import io
import json
import os
import socket
import threading
import time
import tracemalloc
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import test_tasks_sib200 as sibtest
from click.testing import CliRunner
from test_fetch import (
    FEWSHOT_ARCHIVE_PATH,
    ONE,
    PAWSX_FILES,
    PAWSX_HEADER,
    TATOEBA_ARCHIVE_PATH,
    TWO,
    XLMRPROMPT_COMMIT,
    Server,
    archived_fewshot,
    github_tar,
    pawsx_source,
    pawsx_tar,
    quiet_fetch,
    sha,
    xnli_row,
    xnli_source,
    xnli_zip,
)

from xlprompt.cli import cli
from xlprompt.data import americasnli as anli
from xlprompt.data import download
from xlprompt.data import sib200 as sib
from xlprompt.data.fetch import (
    LASER_COMMIT,
    MultinliArchive,
    MuseDictionaries,
    TatoebaFiles,
    default_sources,
    fetch_data,
)
from xlprompt.errors import ConfigError, DataError


@pytest.fixture
def server():
    srv = Server()
    yield srv
    srv.stop()


# -- one small fake per source: (sources, a function that makes the server send wrong but valid files, unpinned) --


def _xnli(server):
    server.files["/XNLI/XNLI-1.0.zip"] = xnli_zip()
    sources = xnli_source(server.files["/XNLI/XNLI-1.0.zip"])

    def wreck():  # a valid archive without German dev rows: the refetch would leave xnli/dev/de.tsv a header
        rows = [xnli_row("en", lab, f"other p{i}", "h") for i, lab in enumerate(("entailment", "neutral"))]
        server.files["/XNLI/XNLI-1.0.zip"] = xnli_zip(dev_rows=[*rows, xnli_row("en", "contradiction", "p", "h")])

    return sources, wreck, "xnli"


def _pawsx(server):
    server.files["/paws/pawsx/x-final.tar.gz"] = pawsx_tar(PAWSX_FILES)
    sources = pawsx_source(server)

    def wreck():  # one German test row fewer
        files = dict(PAWSX_FILES)
        files["x-final/de/test_2k.tsv"] = [PAWSX_HEADER, (3, "de t1", "de t2", 0)]
        server.files["/paws/pawsx/x-final.tar.gz"] = pawsx_tar(files)

    return sources, wreck, "pawsx"


def _fewshot(server):
    sources = archived_fewshot(server)

    def wreck():  # one split file changed upstream
        server.files[FEWSHOT_ARCHIVE_PATH] = github_tar(
            f"xlmrprompt-{XLMRPROMPT_COMMIT}",
            {
                "common_datasets/train/en/train_split,1.jsonl": ONE,
                "common_datasets/dev/rest/dev_split,de,1.jsonl": TWO.replace(b"neutral", b"NEUTRAL"),
            },
        )

    return sources, wreck, None


TATOEBA_PREFIX = "data/tatoeba/v1"


def _tatoeba(server):
    def laser(de: bytes) -> bytes:
        return github_tar(
            f"LASER-{LASER_COMMIT}",
            {
                f"{TATOEBA_PREFIX}/tatoeba.deu-eng.deu": de,
                f"{TATOEBA_PREFIX}/tatoeba.deu-eng.eng": b"Hello.\nThanks!\n",
            },
        )

    server.files[TATOEBA_ARCHIVE_PATH] = laser("Hallo.\nDanke!\n".encode())
    converted = "idx\tde\ten\n0\tHallo.\tHello.\n1\tDanke!\tThanks!\n".encode()
    sources = {"tatoeba": TatoebaFiles("tatoeba", "Tatoeba", rows={"de": 2}, sha256={"de": sha(converted)})}

    def wreck():  # the same number of lines, other sentences
        server.files[TATOEBA_ARCHIVE_PATH] = laser("Guten Tag.\nBitte!\n".encode())

    return sources, wreck, None


def _multinli_zip(n: int) -> bytes:
    rows = [
        {"gold_label": lab, "sentence1": f"p{i}", "sentence2": f"h{i}", "genre": "slate", "pairID": f"{i}e"}
        for i, lab in enumerate(["neutral", "entailment", "contradiction"][:n])
    ]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("multinli_1.0/multinli_1.0_train.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    return buffer.getvalue()


def _multinli(server):
    server.files["/~sbowman/multinli/multinli_1.0.zip"] = data = _multinli_zip(3)
    sources = {"multinli": MultinliArchive("multinli", "MultiNLI", train_rows=3, sha256=sha(data), size=len(data))}

    def wreck():
        server.files["/~sbowman/multinli/multinli_1.0.zip"] = _multinli_zip(2)

    return sources, wreck, "multinli"


def _muse(server):
    server.files["/arrival/dictionaries/en-de.txt"] = b"house haus\ndog hund\n"
    server.files["/arrival/dictionaries/en-fr.txt"] = b"house maison\n"
    sources = {"muse": MuseDictionaries("muse", "MUSE", languages=("de", "fr"))}

    def wreck():
        server.files["/arrival/dictionaries/en-fr.txt"] = b"three words here\n"

    return sources, wreck, None


def _serve_folder(server, root: Path) -> None:
    """Everything ``test_tasks_sib200``'s helpers wrote under ``root`` (at its URL paths), served by ``server``."""
    for path in root.rglob("*"):
        if path.is_file():
            server.files["/" + path.relative_to(root).as_posix()] = path.read_bytes()


SIB200_ARCHIVE_PATH = f"/dadelani/sib-200/tar.gz/{sib.SIB200_COMMIT}"


def sib200_tar(release: dict[str, bytes]) -> bytes:
    """The dadelani/sib-200 repository archive holding ``release`` under ``data/annotated/`` (and a file besides)."""
    files = {f"data/annotated/{rel}": data for rel, data in release.items()}
    return github_tar(f"sib-200-{sib.SIB200_COMMIT}", {**files, "data/annotated/eng_Latn/labels.txt": b"travel\n"})


def _sib200(server, tmp_path):
    source = sibtest._sib_source(tmp_path / "mirror")
    release = sibtest.sib_release()
    server.files[SIB200_ARCHIVE_PATH] = sib200_tar(release)

    def wreck():  # the German test file changed upstream (its pinned SHA-256 differs)
        changed = dict(release)
        changed["deu_Latn/test.tsv"] = changed["deu_Latn/test.tsv"].replace(b"sentence number", b"sentence no.")
        server.files[SIB200_ARCHIVE_PATH] = sib200_tar(changed)

    return {"sib200": source}, wreck, None


def laser_tar(sides: dict[str, bytes]) -> bytes:
    return github_tar(f"LASER-{LASER_COMMIT}", {f"{TATOEBA_PREFIX}/{name}": data for name, data in sides.items()})


def _sib200_train(server, tmp_path):
    import dataclasses

    source = dataclasses.replace(sibtest._sib_source(tmp_path / "mirror"), name="sib200-train", other_train=True)
    _serve_folder(server, tmp_path / "mirror")

    def wreck():  # the German train file (fetched by sib200-train only) changed upstream
        path = urlsplit(f"{sib.SIB200_BASE}/deu_Latn/train.tsv").path
        server.files[path] = server.files[path].replace(b"sentence number", b"sentence no.")

    return {"sib200-train": source}, wreck, None


def _tatoeba_sib200(server, tmp_path):
    langs = list(sib.SIB200_TATOEBA)[:3]
    source = sibtest._tatoeba_source(tmp_path / "mirror", rows=3, langs=langs)
    sides = sibtest.tatoeba_sides(3)
    server.files[TATOEBA_ARCHIVE_PATH] = laser_tar(sides)

    def wreck():  # one side of the last language with a line more
        code = source.codes[langs[-1]]
        server.files[TATOEBA_ARCHIVE_PATH] = laser_tar(
            {**sides, f"tatoeba.{code}-eng.eng": sides[f"tatoeba.{code}-eng.eng"] + b"one line more\n"}
        )

    return {"tatoeba-sib200": source}, wreck, None


def _americasnli(server, tmp_path):
    sources = {"americasnli": sibtest._anli_source(tmp_path / "mirror")}
    _serve_folder(server, tmp_path / "mirror")

    def wreck():
        path = urlsplit(f"{anli.AMERICASNLI_BASE}/test.tsv").path
        server.files[path] = server.files[path].replace(b"premise", b"Premise")

    return sources, wreck, None


FAKES = {
    "fewshot": lambda server, tmp: _fewshot(server),
    "xnli": lambda server, tmp: _xnli(server),
    "pawsx": lambda server, tmp: _pawsx(server),
    "tatoeba": lambda server, tmp: _tatoeba(server),
    "multinli": lambda server, tmp: _multinli(server),
    "muse": lambda server, tmp: _muse(server),
    "sib200": _sib200,
    "sib200-train": _sib200_train,
    "tatoeba-sib200": _tatoeba_sib200,
    "americasnli": _americasnli,
}
NAMES = sorted(FAKES)


def test_every_registered_source_has_a_fake_here():
    assert set(FAKES) == set(default_sources())


def snapshot(out: Path) -> dict[str, bytes]:
    """Every data file of a folder (not the downloads in ``.partial/``, the staging folders nor the lock file)."""
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.relative_to(out).parts[0] not in (".partial", ".fetch.lock", ".staging")
    }


def leftovers(out: Path) -> list[str]:
    """Temporary files and staging folders: none may stay after a call, however it ended."""
    return sorted(
        p.relative_to(out).as_posix()
        for p in out.rglob("*")
        if ".tmp" in p.name or p.relative_to(out).parts[0] == ".staging"
    )


@pytest.fixture(params=NAMES)
def fake(request, server, tmp_path):
    sources, wreck, unpinned = FAKES[request.param](server, tmp_path)
    out = tmp_path / "data"
    report = quiet_fetch(out, sources, server.url)
    assert report.fetched == [request.param], report.failed
    return request.param, sources, wreck, unpinned, out


def test_a_wrong_refetch_never_breaks_a_complete_folder(fake, server):
    """The refetch (``--force``, and ``--unpinned`` where the source is pinned by content only) of files that are
    valid but wrong fails in one line, and every file that was there is byte-identical."""
    name, sources, wreck, unpinned, out = fake
    before = snapshot(out)
    assert before and sources[name].check(out) is None
    wreck()
    report = quiet_fetch(out, sources, server.url, force=True, unpinned=unpinned)
    assert list(report.failed) == [name] and "\n" not in report.failed[name]
    assert snapshot(out) == before
    assert sources[name].check(out) is None
    assert leftovers(out) == []


class Injected(OSError):
    pass


@pytest.mark.parametrize("kill", [False, True], ids=["disk-full", "killed"])
def test_a_failure_in_any_write_leaves_only_verified_files(fake, server, monkeypatch, kill):
    """Every file move of a refetch (each writer ends in one, and so does the swap into place) fails in turn:
    with a full disk (reported in one line) or a kill (the call stops). The folder still passes its check, no
    temporary file is left, and the next call completes it with the new files."""
    name, sources, _, unpinned, out = fake
    real_replace = os.replace
    calls = {"n": 0, "fail_at": -1}

    def replace(src, dst, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == calls["fail_at"]:
            if kill:
                raise KeyboardInterrupt
            raise Injected(errno.ENOSPC, "No space left on device", str(dst))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    quiet_fetch(out, sources, server.url, force=True)
    total = calls["n"]
    assert total >= 2
    # every move when there are few; else the first and last three (download, conversion, swap) and 6 between
    points = (
        range(1, total + 1)
        if total <= 12
        else sorted({1, 2, 3, total - 2, total - 1, total} | {1 + i * (total - 1) // 7 for i in range(1, 7)})
    )
    for fail_at in points:
        calls.update(n=0, fail_at=fail_at)
        if kill:
            with pytest.raises(KeyboardInterrupt):
                quiet_fetch(out, sources, server.url, force=True)
        else:
            report = quiet_fetch(out, sources, server.url, force=True)
            assert list(report.failed) == [name], fail_at
            assert "no space left on device" in report.failed[name].lower() and "\n" not in report.failed[name]
            # what may stay: a staging folder whose files were all verified, for the next call to swap in
            stages = [p for p in (out / ".staging").iterdir()] if (out / ".staging").is_dir() else []
            assert all((p / ".verified").is_file() for p in stages), leftovers(out)
            assert not [p for p in leftovers(out) if ".tmp" in p]
        assert sources[name].check(out) is None, fail_at  # never a broken file in the data folder
        assert [p for p in out.rglob("*") if ".tmp" in p.name] == []
        calls.update(n=0, fail_at=-1)
        report = quiet_fetch(out, sources, server.url)  # the next call ends what was left
        assert not report.failed and sources[name].check(out) is None and leftovers(out) == []


def test_a_folder_where_a_file_goes_is_one_line_before_any_download(fake, server):
    name, sources, _, _, out = fake
    checked: list[str] = []
    outputs = sources[name].outputs(out)
    assert outputs and all(p.is_file() for p in outputs)  # outputs() names exactly what the source wrote
    assert {p.relative_to(out).as_posix() for p in outputs} == set(snapshot(out))
    for victim in (outputs[0], outputs[-1]):
        data = victim.read_bytes()
        victim.unlink()
        victim.mkdir()
        (victim / "mine.txt").write_text("not xlprompt's")
        requests = server.gets()
        with pytest.raises(DataError) as caught:
            quiet_fetch(out, sources, server.url, force=True)
        assert str(caught.value).startswith(f"{victim} is a folder (or not a plain file) where `data fetch` writes")
        assert "\n" not in str(caught.value) and server.gets() == requests
        assert (victim / "mine.txt").read_text() == "not xlprompt's" and leftovers(out) == []
        if victim in default_sources()[name].outputs(out):  # the CLI's own source writes there too: one line
            result = CliRunner().invoke(
                cli, ["data", "fetch", "--out", str(out), "--only", name, "--mirror", server.url, "--quiet"]
            )
            assert result.exit_code == 2 and result.output == f"error: {caught.value}\n"
            checked.append(name)
        (victim / "mine.txt").unlink()
        victim.rmdir()
        victim.write_bytes(data)
    assert checked or name not in ("xnli", "pawsx", "muse", "americasnli")  # those fakes write real paths


def test_a_file_where_a_folder_goes_and_a_folder_where_a_download_goes(server, tmp_path):
    sources, _, _ = _xnli(server)
    (tmp_path / "xnli").write_text("a file of mine")
    with pytest.raises(DataError, match=r"xnli is a file where `data fetch` needs the folder of xnli's files"):
        quiet_fetch(tmp_path, sources, server.url)
    (tmp_path / "xnli").unlink()
    partial = tmp_path / ".partial" / "dl.fbaipublicfiles.com" / "XNLI" / "XNLI-1.0.zip"
    partial.mkdir(parents=True)  # a folder where the download is written
    line = quiet_fetch(tmp_path, sources, server.url).failed["xnli"]
    assert line.startswith(f"cannot write {partial} (Is a directory)") and "\n" not in line
    assert not partial.exists()  # an empty folder in fetch's own download area is removed at the end
    complete = partial.with_name("XNLI-1.0.zip.complete")
    complete.mkdir(parents=True)  # a folder where the verified download is moved
    line = quiet_fetch(tmp_path, sources, server.url).failed["xnli"]
    assert line.startswith(f"cannot write {complete} (") and "\n" not in line
    assert leftovers(tmp_path) == [] and not (tmp_path / "xnli").exists()
    complete.rmdir()
    assert quiet_fetch(tmp_path, sources, server.url).fetched == ["xnli"]


# -- each piece of work once ---------------------------------------------------------------------------------


def test_an_archive_interrupted_during_its_conversion_is_not_downloaded_again(server, tmp_path, monkeypatch):
    for name, make in (("xnli", _xnli), ("pawsx", _pawsx), ("multinli", _multinli)):
        sources, _, _ = make(server)
        out = tmp_path / name
        real_write = download.TsvFiles.write

        def killed(self, *args, **kwargs):
            raise KeyboardInterrupt

        monkeypatch.setattr(download.TsvFiles, "write", killed)
        with pytest.raises(KeyboardInterrupt):
            quiet_fetch(out, sources, server.url)
        monkeypatch.setattr(download.TsvFiles, "write", real_write)
        assert [p.name for p in (out / ".partial").rglob("*.complete")] != []
        assert snapshot(out) == {} and not (out / ".staging" / name / ".verified").exists()
        requests = server.gets()
        report = quiet_fetch(out, sources, server.url)
        assert report.fetched == [name] and server.gets() == requests  # converted from the kept archive
        assert not (out / ".partial").exists() and leftovers(out) == []


def test_a_swap_interrupted_by_a_kill_is_finished_by_the_next_call(server, tmp_path, monkeypatch):
    sources, _, _ = _xnli(server)
    out = tmp_path / "data"
    real_replace = os.replace
    moved = []

    def replace(src, dst, *args, **kwargs):
        if ".staging" in str(src) and not str(dst).startswith(str(out / ".staging")):
            if len(moved) == 2:
                raise KeyboardInterrupt  # killed in the middle of the swap
            moved.append(dst)
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        quiet_fetch(out, sources, server.url)
    monkeypatch.setattr(os, "replace", real_replace)
    assert len(snapshot(out)) == 2 and (out / ".staging" / "xnli" / ".verified").is_file()
    logged: list[str] = []
    requests = server.gets()
    report = fetch_data(out, only="xnli", mirror=server.url, progress=False, sources=sources, log=logged.append)
    assert logged[0] == "xnli: finished swapping in the verified files of an interrupted fetch (2 files)"
    assert report.present == ["xnli"] and server.gets() == requests and leftovers(out) == []


def test_two_fetches_into_one_folder_wait_for_each_other_and_download_once(server, tmp_path, monkeypatch):
    sources, _, _ = _xnli(server)
    release = threading.Event()
    real_complete = download.Fetcher.complete

    def slow_complete(self, *args, **kwargs):
        release.wait(10)  # the first fetch holds the folder until the second one is waiting
        return real_complete(self, *args, **kwargs)

    monkeypatch.setattr(download.Fetcher, "complete", slow_complete)
    results: dict[str, object] = {}
    logs: dict[str, list[str]] = {"a": [], "b": []}

    def run(key):
        results[key] = fetch_data(
            tmp_path, only="xnli", mirror=server.url, progress=False, sources=sources, log=logs[key].append
        )

    first = threading.Thread(target=run, args=("a",))
    first.start()
    deadline = time.monotonic() + 10
    while not (tmp_path / ".fetch.lock").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    second = threading.Thread(target=run, args=("b",))
    second.start()
    while not logs["b"] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert logs["b"] and "another `xlprompt data fetch` (process" in logs["b"][0] and "waiting" in logs["b"][0]
    release.set()
    first.join(20)
    second.join(20)
    assert results["a"].fetched == ["xnli"] and results["b"].present == ["xnli"]
    assert [path for path, _ in server.requests] == ["/XNLI/XNLI-1.0.zip"]  # downloaded once


# -- bounded memory --------------------------------------------------------------------------------------------


def _peak_mib(call) -> float:
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def test_archive_members_are_streamed_in_bounded_memory(server, tmp_path):
    """A 1 MB zip holding a 60 MB member (rows of a language the source does not keep) is converted with a
    peak of a few MiB: the member is read one row at a time."""
    filler = (xnli_row("xx", "neutral", "p" * 200, "h" * 200) + "\n").encode() * 150_000
    rows = [
        xnli_row(lang, lab, "p", "h") for lang in ("de", "en") for lab in ("entailment", "neutral", "contradiction")
    ]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("XNLI-1.0/xnli.dev.tsv", _xnli_header() + ("\n".join(rows) + "\n").encode() + filler)
        with zipfile.ZipFile(io.BytesIO(xnli_zip())) as good:
            zf.writestr("XNLI-1.0/xnli.test.tsv", good.read("XNLI-1.0/xnli.test.tsv"))
    data = buffer.getvalue()
    assert len(data) < 2 * 2**20 and len(filler) > 60 * 10**6
    server.files["/XNLI/XNLI-1.0.zip"] = data
    sources = xnli_source(data)
    peak = _peak_mib(lambda: quiet_fetch(tmp_path, sources, server.url))
    assert sources["xnli"].check(tmp_path) is None
    assert peak < 8, f"peak {peak:.1f} MiB"


def _xnli_header() -> bytes:
    with zipfile.ZipFile(io.BytesIO(xnli_zip())) as zf:
        return zf.read("XNLI-1.0/xnli.dev.tsv").split(b"\n", 1)[0] + b"\n"


def test_a_line_without_end_and_an_oversized_member_are_refused_in_bounded_memory(server, tmp_path, monkeypatch):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("XNLI-1.0/xnli.dev.tsv", _xnli_header() + b"x" * (40 * 2**20))  # one 40 MiB line
        zf.writestr("XNLI-1.0/xnli.test.tsv", _xnli_header())
    server.files["/XNLI/XNLI-1.0.zip"] = buffer.getvalue()
    sources = xnli_source(buffer.getvalue())
    report = {}
    peak = _peak_mib(lambda: report.update(quiet_fetch(tmp_path / "a", sources, server.url).failed))
    assert report["xnli"] == (
        f"{server.url}/XNLI/XNLI-1.0.zip: XNLI-1.0/xnli.dev.tsv line 2 is longer than 1,048,576 bytes; not the "
        "expected release: check --mirror"
    )
    assert peak < 8, f"peak {peak:.1f} MiB"
    # a GitHub archive member larger than any file of the source is refused after MAX_MEMBER bytes
    monkeypatch.setattr("xlprompt.data.download.MAX_MEMBER", 2**20)
    big = b"Hallo.\n" * (3 * 2**20 // 7)
    server.files[TATOEBA_ARCHIVE_PATH] = github_tar(
        f"LASER-{LASER_COMMIT}",
        {f"{TATOEBA_PREFIX}/tatoeba.deu-eng.deu": big, f"{TATOEBA_PREFIX}/tatoeba.deu-eng.eng": b"Hello.\n"},
    )
    tatoeba = {"tatoeba": TatoebaFiles("tatoeba", "Tatoeba", rows={"de": 1})}
    line = quiet_fetch(tmp_path / "b", tatoeba, server.url).failed["tatoeba"]
    assert line == (
        f"{server.url}{TATOEBA_ARCHIVE_PATH}: {TATOEBA_PREFIX}/tatoeba.deu-eng.deu: larger than the 1,048,576 "
        "bytes such a file can have; not the expected release: check --mirror"
    )


def test_a_download_without_a_pinned_size_is_bounded(server, tmp_path, monkeypatch):
    monkeypatch.setattr("xlprompt.data.fetch.MAX_MEMBER", 1000)
    server.files["/arrival/dictionaries/en-de.txt"] = b"house haus\n" * 200
    sources = {"muse": MuseDictionaries("muse", "MUSE", languages=("de",))}
    line = quiet_fetch(tmp_path, sources, server.url).failed["muse"]
    assert line == (
        f"{server.url}/arrival/dictionaries/en-de.txt: 2,200 bytes announced, more than the 1,000 such a file "
        "can have; not the expected file: check --mirror"
    )
    assert not list((tmp_path / ".partial").rglob("*en-de*")) if (tmp_path / ".partial").exists() else True


# -- time: slow servers, redirects --------------------------------------------------------------------------------


class RawServer:
    """A socket server whose answer is a script: ``answer(conn)`` writes whatever it likes, as slowly as it likes."""

    def __init__(self, answer):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.answer = answer
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn):
        try:
            conn.recv(65536)
            self.answer(conn, self.stop)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.stop.set()
        self.sock.close()


def trickle(conn, stop, data: bytes, every: float) -> None:
    for i in range(len(data)):
        if stop.is_set():
            return
        conn.sendall(data[i : i + 1])
        time.sleep(every)


def _muse_one():
    return {"muse": MuseDictionaries("muse", "MUSE", languages=("de",))}


@pytest.mark.parametrize("phase", ["body", "headers"])
def test_a_source_sending_a_byte_at_a_time_times_out(tmp_path, phase):
    body = b"house haus\n" * 50
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body)

    def answer(conn, stop):
        if phase == "headers":
            trickle(conn, stop, head + body, 0.02)
        else:
            conn.sendall(head)
            trickle(conn, stop, body, 0.02)

    srv = RawServer(answer)
    try:
        start = time.monotonic()
        report = quiet_fetch(tmp_path, _muse_one(), srv.url, timeout=0.5)
        took = time.monotonic() - start
    finally:
        srv.close()
    line = report.failed["muse"]
    assert took < 3, took  # each read came within the timeout; the download as a whole did not
    if phase == "headers":
        assert line == (
            f"{srv.url}/arrival/dictionaries/en-de.txt: no complete answer within 0.5 s (connecting and the "
            "response headers); the server is too slow or stalled: try again later, pass --mirror URL, or raise "
            "--timeout"
        )
    else:
        assert line.startswith(f"{srv.url}/arrival/dictionaries/en-de.txt: too slow: ")
        assert "bytes/s over --timeout 0.5 s)" in line and line.endswith("or raise --timeout")
        kept = list((tmp_path / ".partial").rglob("en-de.txt"))
        assert len(kept) == 1 and 0 < kept[0].stat().st_size < len(body)  # kept, to resume


def test_a_redirect_loop_and_a_redirect_off_http_are_one_line(tmp_path):
    def loop(conn, stop):
        conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: /arrival/dictionaries/en-de.txt\r\nContent-Length: 0\r\n\r\n")

    srv = RawServer(loop)
    try:
        line = quiet_fetch(tmp_path, _muse_one(), srv.url).failed["muse"]
    finally:
        srv.close()
    assert line == (
        f"{srv.url}/arrival/dictionaries/en-de.txt: HTTP 302: too many redirects (a redirect loop, or more than 10 "
        "in a row); check --mirror and its paths, or try again later"
    )

    def elsewhere(conn, stop):
        conn.sendall(b"HTTP/1.1 301 Moved\r\nLocation: file:///etc/passwd\r\nContent-Length: 0\r\n\r\n")

    srv = RawServer(elsewhere)
    try:
        line = quiet_fetch(tmp_path, _muse_one(), srv.url).failed["muse"]
    finally:
        srv.close()
    assert line == (
        f"{srv.url}/arrival/dictionaries/en-de.txt: HTTP 301: a redirect to a URL that is not http(s), which fetch "
        "does not follow; check --mirror and its paths, or try again later"
    )


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "0", "-1", "1e7", "1e400"])
def test_timeout_values_out_of_range_are_one_line(tmp_path, value):
    result = CliRunner().invoke(cli, ["data", "fetch", "--out", str(tmp_path), "--timeout", value, "--quiet"])
    assert result.exit_code == 2 and "--timeout" in result.output and "Traceback" not in result.output
    with pytest.raises(ConfigError, match=r"--timeout must be a number of seconds in \(0, 1,000,000\]"):
        fetch_data(tmp_path, only="fewshot", timeout=float(value), progress=False, log=lambda _: None)


def test_a_fetch_killed_after_converting_an_archive_but_before_marking_it_verified_does_not_download_again(
    server, tmp_path, monkeypatch
):
    """The downloaded archive is kept until the point of no return (the staging folder marked verified)."""
    from xlprompt.data import fetch as fetch_module

    real_writing = fetch_module._writing

    def killed_at_the_mark(path):
        if path.name == ".verified":
            raise KeyboardInterrupt  # killed after the conversion and its check, before the mark
        return real_writing(path)

    for name, make in (("xnli", _xnli), ("multinli", _multinli)):
        sources, _, _ = make(server)
        out = tmp_path / name
        monkeypatch.setattr(fetch_module, "_writing", killed_at_the_mark)
        with pytest.raises(KeyboardInterrupt):
            quiet_fetch(out, sources, server.url)
        monkeypatch.setattr(fetch_module, "_writing", real_writing)
        assert [p.name for p in (out / ".partial").rglob("*.complete")] != []  # the archive is kept
        requests = server.gets()
        report = quiet_fetch(out, sources, server.url)
        assert report.fetched == [name] and server.gets() == requests  # nothing downloaded twice
        assert not (out / ".partial").exists() and leftovers(out) == []


# -- one request per repository; every converted file pinned ---------------------------------------------------


def test_sib200_and_its_tatoeba_are_one_archive_request_each_and_an_edited_file_is_fetched_again(server, tmp_path):
    """``--only sib200,tatoeba-sib200``: one request per repository (dadelani/sib-200, facebookresearch/LASER), the
    converted files equal a conversion written by hand, and a hand-edited sentence (same rows, categories and
    ids) is found by the next fetch and fetched again."""
    sources = {**_sib200(server, tmp_path)[0], **_tatoeba_sib200(server, tmp_path)[0]}
    out = tmp_path / "data"
    logged: list[str] = []
    report = fetch_data(
        out, only="sib200,tatoeba-sib200", mirror=server.url, progress=False, sources=sources, log=logged.append
    )
    assert report.fetched == ["sib200", "tatoeba-sib200"], report.failed
    assert [path for path, _ in server.requests] == [SIB200_ARCHIVE_PATH, TATOEBA_ARCHIVE_PATH]
    sentence, tatoeba = out / "sib200/test/yor_Latn.tsv", out / "tatoeba/afr_Latn-en.tsv"
    assert sentence.read_bytes() == sibtest.converted_tsv("yor_Latn", "test")
    assert tatoeba.read_bytes() == sibtest.tatoeba_converted("afr_Latn", 3)
    assert quiet_fetch(out, sources, server.url).present == ["sib200", "tatoeba-sib200"]
    assert server.gets() == 2  # complete: nothing downloaded
    sentence.write_bytes(sentence.read_bytes().replace(b"sentence number 2003", b"sentence number 2003 indeed"))
    tatoeba.write_bytes(tatoeba.read_bytes().replace(b"tatoeba line 1", b"tatoeba line one"))
    logged.clear()
    report = fetch_data(
        out, only="sib200,tatoeba-sib200", mirror=server.url, progress=False, sources=sources, log=logged.append
    )
    assert report.fetched == ["sib200", "tatoeba-sib200"] and not [line for line in logged if "already" in line]
    assert [path for path, _ in server.requests[2:]] == [SIB200_ARCHIVE_PATH, TATOEBA_ARCHIVE_PATH]
    assert sentence.read_bytes() == sibtest.converted_tsv("yor_Latn", "test")
    assert tatoeba.read_bytes() == sibtest.tatoeba_converted("afr_Latn", 3)
    problem = sources["sib200"].check(out)
    assert problem is None and leftovers(out) == []


def test_the_shipped_pins_cover_every_converted_file():
    """Every file the registered sib200, sib200-train, tatoeba-sib200 and americasnli sources write has a pinned
    SHA-256."""
    from xlprompt.data.fetch import default_sources

    sources = default_sources()
    out = Path("/data")
    sib_files = {
        p.relative_to(out).as_posix()
        for name in ("sib200", "sib200-train")
        for p in sources[name].outputs(out)
        if "fewshot" not in p.parts
    }
    assert set(sib.sib200_converted_pins()) == sib_files and len(sib_files) == 3 * 205
    tatoeba = sources["tatoeba-sib200"]
    assert set(tatoeba.sha256) == set(tatoeba.rows) == set(sib.SIB200_TATOEBA)
    assert all(len(sha) == 64 and int(sha, 16) >= 0 for sha in tatoeba.sha256.values())
    americas = {p.relative_to(out).as_posix() for p in sources["americasnli"].outputs(out)}
    assert set(anli.americasnli_converted_pins()) == americas and len(americas) == 20


#: a file of each source pinned by SHA-256, and a hand edit of one of its rows (rows, labels and ids unchanged)
EDITS = {
    "fewshot": ("xnli-fewshot/train/en/train_split,1.jsonl", b"A man sleeps", b"A tall man sleeps"),
    "tatoeba": ("tatoeba/de-en.tsv", b"Hallo.", b"Hallo Welt."),
    "sib200": ("sib200/test/deu_Latn.tsv", b"sentence number 2003 ", b"sentence number 2003 indeed "),
    "sib200-train": ("sib200/train/deu_Latn.tsv", b"sentence number 3 ", b"sentence number 3 indeed "),
    "tatoeba-sib200": ("tatoeba/afr_Latn-en.tsv", b"tatoeba line 1", b"tatoeba line one"),
    "americasnli": ("americasnli/test/quy.tsv", b"quy test premise 2", b"quy test premise two"),
}


@pytest.mark.parametrize("name", sorted(EDITS))
def test_a_hand_edited_file_of_a_pinned_source_is_found_and_fetched_again(name, server, tmp_path):
    """A word added to one row of a file: the next fetch finds it by its pinned SHA-256 and restores the file;
    never "already complete"."""
    sources, _, _ = FAKES[name](server, tmp_path)
    out = tmp_path / "data"
    assert quiet_fetch(out, sources, server.url).fetched == [name]
    rel, old, new = EDITS[name]
    path = out / rel
    original = path.read_bytes()
    assert original.count(old) >= 1
    path.write_bytes(original.replace(old, new, 1))
    assert sources[name].check(out) is not None
    report = quiet_fetch(out, sources, server.url)
    assert report.fetched == [name] and report.present == [], report.failed
    assert path.read_bytes() == original
