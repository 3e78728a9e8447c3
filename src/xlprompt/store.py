"""The results store: one SQLite file (embedded, no server) that holds every run of every sweep.

Layout::

    runs(hash PRIMARY KEY,      -- RunConfig.resolved_hash(): the run's identity
         config JSON,           -- the full resolved config
         grp, variant,          -- the first sweep group / variant that asked for the run
         status,                -- pending | running | finished | failed
         results JSON,          -- what run_experiment returned (finished runs)
         error,                 -- the one-line message of a failed run
         attempts, created, started, finished, heartbeat, host, pid, worker, run_dir)
    labels(hash, grp, variant, sweep, PRIMARY KEY (hash, grp, variant))
                                -- every (group, variant) a run belongs to: the same config asked for by two
                                   sweeps (Table I's SP k=64 is Table II's "w/o MPT framework") runs once and
                                   is reported in both
    meta(key PRIMARY KEY, value) -- schema version; "reference:<group>" = a group's reference variant

Concurrency: the file is in WAL mode with a busy timeout, and every state change is one ``BEGIN IMMEDIATE``
transaction, so any number of processes (local workers, Ray tasks on the same machine) can read and write
at once. A run is executed only after :meth:`ResultStore.claim` has moved it to ``running`` under the
claimer's host and pid; a second claimer of the same hash is refused while the first is alive. A claim is
considered dead, and the run is claimed again, when its process no longer exists (same host) or its
heartbeat — refreshed every ``HEARTBEAT_SECONDS`` by the worker — is older than ``stale_after`` seconds
(any host). So a sweep killed at any moment (even SIGKILL) resumes without losing or duplicating a row:
finished rows stay, the killed run is retried (and itself resumes from its run directory's checkpoint).

SQLite's WAL needs all processes on one host (it uses shared memory): on a multi-machine Ray cluster keep
the store on the head node and let only processes there write (see :mod:`xlprompt.executors`).

A file that is not an xlprompt store (not SQLite, corrupt, another schema) raises :class:`CheckpointError`
with a one-line message; the file is never modified in that case.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import sqlite3
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from xlprompt.errors import CheckpointError
from xlprompt.safety import pid_alive  # noqa: F401  (re-exported: the rule of a live claim)

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
HEARTBEAT_SECONDS = 30.0
#: a running claim whose heartbeat is older than this is taken over (any host)
DEFAULT_STALE_AFTER = 600.0
STATUSES = ("pending", "running", "finished", "failed")
#: the shortest stale_after accepted: a live worker misses at most two heartbeats before it counts as dead
MIN_STALE_FACTOR = 3


def check_stale_after(value: float | None, heartbeat: float = HEARTBEAT_SECONDS) -> float:
    """``--stale-after``: None means the default; a value below ``MIN_STALE_FACTOR`` heartbeats is refused
    (a live run would be taken over and trained twice in one folder), and so are 0, negatives and nan."""
    from xlprompt.errors import ConfigError

    if value is None:
        return DEFAULT_STALE_AFTER
    least = MIN_STALE_FACTOR * heartbeat
    if not (value >= least):  # also refuses nan
        raise ConfigError(
            f"--stale-after {value:g}: a running claim is refreshed every {heartbeat:g} s, so a "
            f"value below {least:g} s ({MIN_STALE_FACTOR} heartbeats) would take over live runs; "
            f"use at least {least:g} (default {DEFAULT_STALE_AFTER:g})"
        )
    return float(value)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    hash      TEXT PRIMARY KEY,
    config    TEXT NOT NULL,
    grp       TEXT NOT NULL DEFAULT '',
    variant   TEXT NOT NULL DEFAULT '',
    status    TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'finished', 'failed')),
    results   TEXT,
    error     TEXT,
    attempts  INTEGER NOT NULL DEFAULT 0,
    created   REAL NOT NULL,
    started   REAL,
    finished  REAL,
    heartbeat REAL,
    host      TEXT,
    pid       INTEGER,
    worker    TEXT,
    run_dir   TEXT
);
CREATE TABLE IF NOT EXISTS labels (
    hash    TEXT NOT NULL REFERENCES runs(hash),
    grp     TEXT NOT NULL,
    variant TEXT NOT NULL DEFAULT '',
    sweep   TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (hash, grp, variant)
);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status);
CREATE INDEX IF NOT EXISTS labels_grp ON labels(grp);
"""


@dataclass
class RunRecord:
    """One row of ``runs`` (with its labels)."""

    hash: str
    config: dict[str, Any]
    group: str
    variant: str
    status: str
    results: dict[str, Any] | None = None
    error: str | None = None
    attempts: int = 0
    created: float | None = None
    started: float | None = None
    finished: float | None = None
    heartbeat: float | None = None
    host: str | None = None
    pid: int | None = None
    worker: str | None = None
    run_dir: str | None = None
    labels: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Claim:
    """The answer of :meth:`ResultStore.claim`: ``ok`` (run it), else why not (finished / busy / missing)."""

    ok: bool
    reason: str = ""


def this_host() -> str:
    return socket.gethostname()


class ResultStore:
    """A results store in one SQLite file. Open one per process (connections are not shared across forks)."""

    def __init__(self, path: str | Path, create: bool = True, timeout: float = 60.0, readonly: bool = False):
        self.path = Path(path)
        self.timeout = timeout
        self.readonly = readonly
        if self.path.is_dir():
            raise CheckpointError(f"{self.path}: is a folder, not a results store; pass a file path (e.g. results.db)")
        if readonly:
            self._open_readonly()
            return
        if not self.path.exists():
            if not create:
                raise CheckpointError(f"{self.path}: no such results store")
        from xlprompt.safety import DiskError, check_output_file

        # the file and its folder must be writable (SQLite writes its -wal and -shm files beside the store), and
        # every part of the path a folder: checked here, for every entry point, before SQLite's own words
        check_output_file(self.path, "results store", create_parents=True)
        if self.path.exists() and not os.access(self.path, os.R_OK | os.W_OK):
            raise DiskError(
                f"{self.path}: the results store is read-only; make it writable, or pass another "
                "--store path (`xlprompt report` reads a read-only store as it is)"
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            self._create_whole()
        # No peeking at the file's header with open(): closing any descriptor of the database file drops
        # every POSIX lock this process holds on it (other connections of this process included), which
        # lets another process checkpoint the WAL under our feet and lose committed rows. SQLite itself
        # refuses a non-database file ("file is not a database") before writing anything.
        self._conn = None
        try:
            self._conn = sqlite3.connect(str(self.path), timeout=timeout, isolation_level=None)
            self._conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")
            self._init_schema()
            check = self._conn.execute("PRAGMA quick_check(1)").fetchone()
            if check is None or check[0] != "ok":
                raise sqlite3.DatabaseError(f"integrity check: {check[0] if check else 'no answer'}")
        except (sqlite3.DatabaseError, CheckpointError) as err:
            self._close_after_open_failure(err)
            from xlprompt.safety import DiskError, disk_error, disk_full

            full = disk_error(err, self.path)
            if full is None and disk_full(self.path):
                full = DiskError(
                    f"no space left on device for {self.path} ({err}); free some space or pass another --store path"
                )
            if full is not None:  # a full disk is named as such
                raise full from None
            if "unable to open database file" in str(err):
                raise DiskError(
                    f"{self.path}: the results store cannot be opened for writing (its folder or the "
                    "file is read-only, or not ours); make it writable, or pass another --store path "
                    "(`xlprompt report` reads a read-only store as it is)"
                ) from None
            raise CheckpointError(
                f"{self.path}: not a usable results store ({err}); pass another --store path"
            ) from None

    def _create_whole(self) -> None:
        """Create a new store whole: its schema is written into a file beside it, which is then linked into place,
        so that another process (a report, a second sweep, a script polling the path) finds no store or a
        complete one, never an SQLite file without tables. Of two processes creating the same store, the second
        link fails and that process opens the first one's store. Where the file system has no hard links, the
        file is renamed into place if the path is still free."""
        import tempfile

        fd, name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".new", dir=self.path.parent)
        os.close(fd)
        tmp = Path(name)
        self._conn = None
        try:
            try:
                self._conn = sqlite3.connect(str(tmp), timeout=self.timeout, isolation_level=None)
                self._conn.execute("PRAGMA journal_mode = WAL")
                self._init_schema()
            finally:
                if self._conn is not None:
                    self._conn.close()  # the last connection: SQLite checkpoints the WAL into the file
                self._conn = None
            try:
                os.link(tmp, self.path)
            except FileExistsError:
                pass
            except OSError:
                if not self.path.exists():
                    os.replace(tmp, self.path)
        except sqlite3.DatabaseError:
            pass  # the open below names what is wrong with the folder or the disk
        finally:
            for left in (tmp, tmp.with_name(tmp.name + "-wal"), tmp.with_name(tmp.name + "-shm")):
                with contextlib.suppress(FileNotFoundError):
                    left.unlink()

    # ------------------------------------------------------------------ plumbing
    def _close_after_open_failure(self, err: Exception) -> None:
        """Close a half-opened connection; re-raise a CheckpointError as it is and name a non-SQLite file.
        Returns for the other errors, which the caller words for its own mode (read-write or read-only)."""
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
        if isinstance(err, CheckpointError):
            raise err
        if "not a database" in str(err):
            raise CheckpointError(
                f"{self.path}: not an SQLite results store (unknown file format); pass another --store path"
            ) from None

    def _open_readonly(self) -> None:
        """Open for reading only (``report``, ``sweep --dry-run``): SQLite's ``mode=ro``; nothing is ever
        written, not even a schema into an empty file."""
        if not self.path.exists():
            raise CheckpointError(f"{self.path}: no such results store")
        if self.path.stat().st_size == 0:
            raise CheckpointError(
                f"{self.path}: an empty file, not a results store (nothing was ever written "
                "to it); pass the store a sweep wrote, or delete the file"
            )
        self._conn = None
        uri = "file:" + urllib.parse.quote(str(self.path.resolve())) + "?mode=ro"
        try:
            try:
                self._conn = sqlite3.connect(uri, uri=True, timeout=self.timeout, isolation_level=None)
                tables = {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            except sqlite3.OperationalError:
                # a WAL store in a folder this process may not write (no -shm file can be made): the file
                # as it is on disk, read as immutable
                with contextlib.suppress(Exception):
                    self._conn.close()
                self._conn = sqlite3.connect(uri + "&immutable=1", uri=True, timeout=self.timeout, isolation_level=None)
                tables = {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if "meta" not in tables or "runs" not in tables:
                raise CheckpointError(
                    f"{self.path}: not an xlprompt results store (tables: "
                    f"{', '.join(sorted(tables)) or 'none'}); pass another --store path"
                )
            owner = self._conn.execute("SELECT value FROM meta WHERE key = 'program'").fetchone()
            version = self._conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if owner is None or owner[0] != "xlprompt":
                raise CheckpointError(
                    f"{self.path}: an SQLite file of another program (no xlprompt metadata); pass another --store path"
                )
            if version is None or int(version[0]) != SCHEMA_VERSION:
                raise CheckpointError(
                    f"{self.path}: results store schema {version and version[0]}, this xlprompt reads {SCHEMA_VERSION}"
                )
        except (sqlite3.DatabaseError, CheckpointError, ValueError) as err:
            self._close_after_open_failure(err)
            raise CheckpointError(
                f"{self.path}: cannot be read as a results store ({err}); pass another --store path"
            ) from None

    def _init_schema(self) -> None:
        with self.transaction() as conn:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if tables and "meta" not in tables:
                raise CheckpointError(
                    f"{self.path}: an SQLite file of another program (tables "
                    f"{', '.join(sorted(tables))}); pass another --store path"
                )
            if "meta" in tables:
                owner = conn.execute("SELECT value FROM meta WHERE key = 'program'").fetchone()
                if owner is None or owner[0] != "xlprompt":
                    raise CheckpointError(
                        f"{self.path}: an SQLite file of another program (no xlprompt "
                        "metadata); pass another --store path"
                    )
            for statement in _SCHEMA.strip().split(";"):
                if statement.strip():
                    conn.execute(statement)
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                conn.execute("INSERT INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('program', 'xlprompt')")
            elif int(row[0]) != SCHEMA_VERSION:
                raise CheckpointError(
                    f"{self.path}: results store schema {row[0]}, this xlprompt reads "
                    f"{SCHEMA_VERSION}; use the matching xlprompt version or a new --store"
                )

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT`` (rolled back on error): takes the write lock up front."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._conn.close()

    def __enter__(self) -> "ResultStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ writing
    def add(self, runs: Iterable[tuple[str, dict, str, str]], sweep: str = "") -> int:
        """Register runs ``(hash, config, group, variant)`` as pending (existing rows are kept as they are);
        every (group, variant) is recorded as a label. Returns how many rows were new."""
        now = time.time()
        new = 0
        with self.transaction() as conn:
            for run_hash, config, group, variant in runs:
                cur = conn.execute(
                    "INSERT OR IGNORE INTO runs(hash, config, grp, variant, status, created) "
                    "VALUES (?, ?, ?, ?, 'pending', ?)",
                    (run_hash, json.dumps(config, sort_keys=True), group, variant or "", now),
                )
                new += cur.rowcount
                conn.execute(
                    "INSERT OR IGNORE INTO labels(hash, grp, variant, sweep) VALUES (?, ?, ?, ?)",
                    (run_hash, group, variant or "", sweep),
                )
        return new

    def _claim_is_dead(self, row: sqlite3.Row | tuple, now: float, stale_after: float) -> bool:
        host, pid, heartbeat = row
        if heartbeat is None or now - heartbeat > stale_after:
            return True
        return host == this_host() and not pid_alive(pid)

    def claim(
        self,
        run_hash: str,
        worker: str = "",
        run_dir: str | None = None,
        stale_after: float = DEFAULT_STALE_AFTER,
        retry_failed: bool = True,
        pid: int | None = None,
        invocation_started: float | None = None,
    ) -> Claim:
        """Move a run to ``running`` for this process if nobody else is running it. One transaction.

        ``invocation_started``: when the sweep invocation this claim belongs to started; a run that failed at or
        after that moment failed in this invocation (in a sibling worker) and is not tried again by it
        (``failed-now``): each failure is tried once per invocation."""
        now = time.time()
        pid = os.getpid() if pid is None else pid
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT status, host, pid, heartbeat, finished FROM runs WHERE hash = ?", (run_hash,)
            ).fetchone()
            if row is None:
                return Claim(False, "missing")
            status = row[0]
            if status == "finished":
                return Claim(False, "finished")
            if status == "failed" and not retry_failed:
                return Claim(False, "failed")
            if status == "failed" and invocation_started is not None and (row[4] or 0) >= invocation_started:
                return Claim(False, "failed-now")
            if status == "running" and not self._claim_is_dead(row[1:4], now, stale_after):
                return Claim(False, "busy")
            if status == "running":
                host, old_pid, beat = row[1:4]
                logger.info(
                    "run %s: taking over the claim of a dead process (host %s, pid %s, last heartbeat %s)",
                    run_hash,
                    host,
                    old_pid,
                    "never" if beat is None else f"{now - beat:.0f} s ago",
                )
            conn.execute(
                "UPDATE runs SET status = 'running', started = ?, heartbeat = ?, host = ?, pid = ?, worker = ?, "
                "run_dir = COALESCE(?, run_dir), attempts = attempts + 1, error = NULL WHERE hash = ?",
                (now, now, this_host(), pid, worker, run_dir, run_hash),
            )
        return Claim(True)

    def heartbeat(self, run_hash: str, pid: int | None = None) -> None:
        pid = os.getpid() if pid is None else pid
        with self.transaction() as conn:
            conn.execute(
                "UPDATE runs SET heartbeat = ? WHERE hash = ? AND status = 'running' AND host = ? AND pid = ?",
                (time.time(), run_hash, this_host(), pid),
            )

    def finish(self, run_hash: str, results: dict[str, Any]) -> bool:
        """Record a run's results. A run already finished (by another worker) is left as it is: False."""
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE runs SET status = 'finished', results = ?, finished = ?, error = NULL "
                "WHERE hash = ? AND status != 'finished'",
                (json.dumps(results, sort_keys=True), time.time(), run_hash),
            )
            return cur.rowcount == 1

    def fail(self, run_hash: str, error: str, pid: int | None = None) -> None:
        pid = os.getpid() if pid is None else pid
        with self.transaction() as conn:
            conn.execute(
                "UPDATE runs SET status = 'failed', error = ?, finished = ? "
                "WHERE hash = ? AND status = 'running' AND pid = ?",
                (error[:2000], time.time(), run_hash, pid),
            )

    def release(self, run_hash: str, pid: int | None = None) -> None:
        """Give a claimed run back (e.g. on Ctrl-C): pending again."""
        pid = os.getpid() if pid is None else pid
        with self.transaction() as conn:
            conn.execute(
                "UPDATE runs SET status = 'pending', heartbeat = NULL WHERE hash = ? "
                "AND status = 'running' AND pid = ?",
                (run_hash, pid),
            )

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, str(value)))

    # ------------------------------------------------------------------ reading
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else row[0]

    def _rows(self, where: str = "", args: tuple = ()) -> list[RunRecord]:
        try:
            return self._read_rows(where, args)
        except (sqlite3.DatabaseError, ValueError) as err:
            raise CheckpointError(
                f"{self.path}: the results store is corrupt ({err}); restore it or pass another --store path"
            ) from None

    def _read_rows(self, where: str, args: tuple) -> list[RunRecord]:
        cur = self._conn.execute(
            "SELECT hash, config, grp, variant, status, results, error, attempts, created, started, finished, "
            f"heartbeat, host, pid, worker, run_dir FROM runs {where} ORDER BY created, hash",
            args,
        )
        records = []
        for r in cur.fetchall():
            records.append(
                RunRecord(
                    hash=r[0],
                    config=json.loads(r[1]),
                    group=r[2],
                    variant=r[3],
                    status=r[4],
                    results=json.loads(r[5]) if r[5] else None,
                    error=r[6],
                    attempts=r[7],
                    created=r[8],
                    started=r[9],
                    finished=r[10],
                    heartbeat=r[11],
                    host=r[12],
                    pid=r[13],
                    worker=r[14],
                    run_dir=r[15],
                )
            )
        labels: dict[str, list[tuple[str, str]]] = {}
        for h, g, v in self._conn.execute("SELECT hash, grp, variant FROM labels ORDER BY grp, variant"):
            labels.setdefault(h, []).append((g, v))
        for rec in records:
            rec.labels = labels.get(rec.hash, [(rec.group, rec.variant)])
        return records

    def get(self, run_hash: str) -> RunRecord | None:
        rows = self._rows("WHERE hash = ?", (run_hash,))
        return rows[0] if rows else None

    def runs(self, status: str | None = None, hashes: Iterable[str] | None = None) -> list[RunRecord]:
        rows = self._rows("WHERE status = ?", (status,)) if status else self._rows()
        if hashes is not None:
            wanted = set(hashes)
            rows = [r for r in rows if r.hash in wanted]
        return rows

    def finished(self) -> list[RunRecord]:
        return self.runs("finished")

    def counts(self, hashes: Iterable[str] | None = None) -> dict[str, int]:
        out = dict.fromkeys(STATUSES, 0)
        if hashes is None:
            for status, n in self._conn.execute("SELECT status, COUNT(*) FROM runs GROUP BY status"):
                out[status] = n
        else:
            wanted = set(hashes)
            for h, status in self._conn.execute("SELECT hash, status FROM runs"):
                if h in wanted:
                    out[status] += 1
        return out

    def groups(self) -> list[str]:
        return [r[0] for r in self._conn.execute("SELECT DISTINCT grp FROM labels ORDER BY grp")]


class Heartbeat:
    """A daemon thread that refreshes the heartbeat of claimed runs (its own connection) until stopped.

    ``run_hash``: one run's hash, or a callable returning the hashes to keep alive at each beat (a Ray driver's
    runs in flight)."""

    def __init__(
        self,
        store_path: str | Path,
        run_hash: str | Callable[[], Iterable[str]],
        interval: float = HEARTBEAT_SECONDS,
        pid: int | None = None,
    ):
        self.store_path = store_path
        self.run_hash = run_hash if isinstance(run_hash, str) else "runs in flight"
        self._hashes = (lambda: (run_hash,)) if isinstance(run_hash, str) else run_hash
        self.interval = interval
        self.pid = os.getpid() if pid is None else pid
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{self.run_hash}", daemon=True)

    def _loop(self) -> None:
        store = None
        try:
            store = ResultStore(self.store_path, create=False)
            while not self._stop.wait(self.interval):
                try:
                    for run_hash in tuple(self._hashes()):
                        store.heartbeat(run_hash, self.pid)
                except sqlite3.Error as err:
                    logger.debug("run %s: heartbeat not written (%s)", self.run_hash, err)
        except Exception as err:  # noqa: BLE001 - the heartbeat must never take the run down
            logger.warning(
                "run %s: heartbeats stopped (%s); another process may take the run over after --stale-after seconds",
                self.run_hash,
                err,
            )
        finally:
            if store is not None:
                store.close()

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
