"""The results store: idempotent registration, claim/finish semantics, dead and stale claims, concurrent
writers from several processes, and one-line errors for files that are not a store."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
import subprocess
import sys
import time

import pytest

from xlprompt.errors import CheckpointError
from xlprompt.store import ResultStore, pid_alive


def _runs(n: int, group: str = "g", variant: str = ""):
    return [(f"h{i:03d}", {"method": "mpt", "seed": i}, group, variant) for i in range(n)]


def test_add_is_idempotent_and_keeps_finished_rows(tmp_path):
    store = ResultStore(tmp_path / "s.db")
    assert store.add(_runs(3)) == 3
    assert store.claim("h000").ok
    assert store.finish("h000", {"accuracy": {"avg": 40.0}})
    assert store.add(_runs(3)) == 0  # nothing new, finished row untouched
    assert store.add(_runs(3, group="other", variant="v")) == 0
    rows = {r.hash: r for r in store.runs()}
    assert len(rows) == 3
    assert rows["h000"].status == "finished" and rows["h000"].results == {"accuracy": {"avg": 40.0}}
    assert sorted(rows["h000"].labels) == [("g", ""), ("other", "v")]
    assert store.counts() == {"pending": 2, "running": 0, "finished": 1, "failed": 0}
    # WAL mode, the embedded default
    assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_claim_finish_semantics(tmp_path):
    store = ResultStore(tmp_path / "s.db")
    store.add(_runs(2))
    assert store.claim("h000").ok
    assert store.claim("h000").reason == "busy"  # a live claim is never taken twice
    assert store.claim("nope").reason == "missing"
    assert store.finish("h000", {"x": 1})
    assert not store.finish("h000", {"x": 2})  # a second finish changes nothing
    assert store.get("h000").results == {"x": 1}
    assert store.claim("h000").reason == "finished"
    assert store.claim("h001").ok
    store.fail("h001", "ValueError: boom")
    assert store.get("h001").status == "failed" and "boom" in store.get("h001").error
    assert store.claim("h001", retry_failed=False).reason == "failed"
    assert store.claim("h001").ok and store.get("h001").attempts == 2
    store.release("h001")
    assert store.get("h001").status == "pending"


def test_dead_and_stale_claims_are_taken_over(tmp_path):
    store = ResultStore(tmp_path / "s.db")
    store.add(_runs(2))
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert not pid_alive(proc.pid)
    assert store.claim("h000", pid=proc.pid).ok  # claimed by a process that is gone now
    assert store.claim("h000").ok  # → taken over
    assert store.get("h000").attempts == 2
    # a live process on this host whose heartbeat is too old (e.g. hung): taken over after stale_after
    assert store.claim("h001").ok
    assert store.claim("h001", pid=1, stale_after=3600).reason == "busy"
    time.sleep(0.05)
    assert store.claim("h001", pid=1, stale_after=0.01).ok


def _claim_all(path, hashes, queue):
    store = ResultStore(path, create=False)
    won = []
    for h in hashes:
        if store.claim(h, worker="w").ok:
            won.append(h)
            store.finish(h, {"by": mp.current_process().name})
    store.close()
    queue.put(won)


def test_concurrent_processes_never_run_a_hash_twice(tmp_path):
    path = tmp_path / "s.db"
    with ResultStore(path) as store:
        store.add(_runs(40))
    hashes = [f"h{i:03d}" for i in range(40)]
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_claim_all, args=(path, hashes[::step], queue)) for step in (1, 1, -1, 1)]
    for p in procs:
        p.start()
    won = [h for _ in procs for h in queue.get(timeout=60)]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert sorted(won) == hashes  # each hash claimed exactly once
    with ResultStore(path) as store:
        assert store.counts()["finished"] == 40
        assert len(store.runs()) == 40


def test_not_a_store_gives_a_one_line_error(tmp_path):
    text = tmp_path / "notes.db"
    text.write_text("hello, not a database\n")
    with pytest.raises(CheckpointError, match="not an SQLite results store") as err:
        ResultStore(text)
    assert "\n" not in str(err.value)
    assert text.read_text() == "hello, not a database\n"  # never modified
    assert not (tmp_path / "notes.db-wal").exists()

    corrupt = tmp_path / "corrupt.db"
    with ResultStore(corrupt) as store:
        store.add(_runs(5))
    data = bytearray(corrupt.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)
    corrupt.write_bytes(bytes(data))
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"corrupt.db{suffix}").unlink(missing_ok=True)
    with pytest.raises(CheckpointError) as err:
        ResultStore(corrupt).runs()
    assert "\n" not in str(err.value)

    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE runs (a)")
    conn.commit()
    conn.close()
    with pytest.raises(CheckpointError, match="another program"):
        ResultStore(other)
    with pytest.raises(CheckpointError, match="folder"):
        ResultStore(tmp_path)
    with pytest.raises(CheckpointError, match="no such"):
        ResultStore(tmp_path / "missing.db", create=False)


def test_opening_a_store_never_opens_the_file_outside_sqlite(tmp_path, monkeypatch):
    """Regression: closing any descriptor of the database file drops all of this process's POSIX locks on it
    (its other SQLite connections included) — a concurrent process could then reset the WAL and lose rows
    committed here. So ResultStore must never open() the file itself (e.g. to sniff its header)."""
    import builtins
    import io

    path = tmp_path / "s.db"
    first = ResultStore(path)
    first.add(_runs(1))
    real_open = builtins.open

    def guarded(file, *args, **kwargs):
        assert str(file) != str(path), "ResultStore opened the database file outside SQLite"
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded)
    monkeypatch.setattr(io, "open", guarded)
    second = ResultStore(path)  # a second connection in the same process
    assert second.claim("h000").ok and second.finish("h000", {"ok": 1})
    second.close()
    assert first.get("h000").status == "finished"
    first.close()


def test_a_new_store_appears_whole_and_a_second_creator_opens_the_first_ones(tmp_path, monkeypatch):
    """A store is created beside its path and linked into place: while its schema is written, the path does not
    exist (a reader polling it finds no store, never an SQLite file without tables); a process that loses the race
    to create it opens the winner's store, rows included; nothing is left beside it."""
    path = tmp_path / "r.db"
    real = ResultStore._init_schema
    seen = []

    def spy(self):
        seen.append(path.exists())
        if len(seen) == 1:  # while the first creator writes its schema, another one creates the store whole
            monkeypatch.setattr(ResultStore, "_init_schema", real)
            with ResultStore(path) as other:
                other.set_meta("written_by", "the other creator")
        real(self)

    monkeypatch.setattr(ResultStore, "_init_schema", spy)
    with ResultStore(path) as store:
        assert seen == [False]
        assert store._conn.execute("SELECT value FROM meta WHERE key = 'written_by'").fetchone() == (
            "the other creator",
        )
    assert {p.name for p in tmp_path.iterdir()} <= {"r.db", "r.db-wal", "r.db-shm"}
    with ResultStore(path, create=False, readonly=True) as opened:
        tables = {r[0] for r in opened._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"meta", "runs"} <= tables
