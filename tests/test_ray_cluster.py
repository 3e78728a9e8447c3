"""The Ray executor on a real multi-node Ray cluster, simulated on this machine (``ray.cluster_utils.Cluster``):
a head node that runs no task and two worker nodes of one CPU each, each with its own temporary folder.

* a sweep's results equal those of a local sweep, and no Ray worker opens the store (an audit hook loaded into
  every worker process records each ``sqlite3.connect``);
* a node removed while its run trains: the run is scheduled again in the same command, resumes from its
  checkpoint, and every run finishes exactly once, with exit 0 and the local sweep's results;
* the driver killed mid-sweep and the command repeated: the runs it finished stay as they are, the others finish.

Skipped where Ray is not installed (``pip install 'xlprompt[ray]'``).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from xlprompt.executors import LocalExecutor, RayExecutor
from xlprompt.store import ResultStore
from xlprompt.sweep import load_sweep

ray = pytest.importorskip("ray")
cluster_utils = pytest.importorskip("ray.cluster_utils")

pytestmark = pytest.mark.slow

FAST = {
    "model": "random:tiny",
    "data_dir": "builtin:demo",
    "epochs": 2,
    "max_length": 48,
    "batch_size": 6,
    "eval_batch_size": 64,
    "eval_languages": "en,de",
    "num_threads": 1,
    "device": "cpu",
    "shots": 2,
    "checkpoint_every_s": 0,  # a checkpoint after every epoch (not part of the run's hash)
}
SWEEP = {"name": "cluster", "base": FAST, "grid": {"method": ["mpt"], "seed": [1, 2, 3]}}

#: loaded into every process of the cluster (PYTHONPATH): records each sqlite3.connect of a Ray worker; and, while
#: the file ``stall`` exists in the audit folder, makes the first worker that has just placed a run's checkpoint
#: stop there (it writes ``stalled-<pid>`` and sleeps), so that the test removes its node at a known point
AUDIT_HOOK = """
import os, sys, time
_dir = os.environ.get("XLPROMPT_TEST_AUDIT_DIR")
if _dir:
    _armed = []
    def _xlprompt_audit(event, args):
        if event == "sqlite3.connect":
            with open(os.path.join(_dir, f"{os.getpid()}.log"), "a") as fh:
                fh.write(repr(args[0]) + "\\n")
        elif event == "os.rename" and str(args[1]).endswith("checkpoint/latest.json"):
            if os.path.exists(os.path.join(_dir, "stall")):
                _armed.append(str(args[1]))
        elif event == "open" and _armed:
            placed = _armed.pop()
            try:
                os.remove(os.path.join(_dir, "stall"))
            except OSError:
                return  # another worker stalls
            with open(os.path.join(_dir, f"stalled-{os.getpid()}"), "w") as fh:
                fh.write(placed)
            time.sleep(3600)
    sys.addaudithook(_xlprompt_audit)
"""


class Sim:
    """The simulated cluster: ``cluster``, its ``workers`` (node → its own temporary folder) and the audit folder."""

    def __init__(self, root: Path):
        self.root = root
        self.audit = root / "audit"
        self.audit.mkdir()
        hook = root / "hook"
        hook.mkdir()
        (hook / "sitecustomize.py").write_text(AUDIT_HOOK)
        path = [str(hook), *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]]
        self.env = {
            "PYTHONPATH": os.pathsep.join(path),
            "XLPROMPT_TEST_AUDIT_DIR": str(self.audit),
            "RAY_USAGE_STATS_ENABLED": "0",
            "OMP_NUM_THREADS": "1",
        }
        self.cluster = cluster_utils.Cluster(
            initialize_head=True, head_node_args={"num_cpus": 0, "env_vars": dict(self.env)}
        )
        self.workers: dict = {}
        self.added = 0
        for _ in range(2):
            self.add_worker()

    def add_worker(self):
        tmp = self.root / f"node-{self.added}"
        self.added += 1
        tmp.mkdir()
        node = self.cluster.add_node(num_cpus=1, env_vars={**self.env, "TMPDIR": str(tmp)})
        self.workers[node] = tmp
        self.cluster.wait_for_nodes()
        return node

    def node_of_pid(self, pid: int):
        """The worker node whose process ``pid`` is (by the temporary folder in its environment)."""
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        tmpdir = next(e.split(b"=", 1)[1].decode() for e in environ if e.startswith(b"TMPDIR="))
        return next(node for node, tmp in self.workers.items() if str(tmp) == tmpdir)

    def store_opens(self) -> list[str]:
        return [line for log in self.audit.glob("*.log") for line in log.read_text().splitlines()]


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    sim = Sim(tmp_path_factory.mktemp("cluster"))
    ray.init(address=sim.cluster.address, include_dashboard=False, log_to_driver=False)
    try:
        yield sim
    finally:
        ray.shutdown()
        sim.cluster.shutdown()


@pytest.fixture(scope="module")
def sweep_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("sweep") / "cluster.yaml"
    path.write_text(yaml.safe_dump(SWEEP))
    return path


def _outcome_of(store_path: Path, runs_dir: Path) -> dict:
    """Per run hash: its accuracy, best epoch and per-epoch training records (no timings)."""
    with ResultStore(store_path, create=False, readonly=True) as store:
        rows = store.runs()
    out = {}
    for row in rows:
        assert row.status == "finished", (row.hash, row.status, row.error)
        folder = Path(row.results["run_dir"])
        assert folder.parent == runs_dir.resolve()
        epochs = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines() if line]
        epochs = [{k: v for k, v in e.items() if "second" not in k and "time" not in k} for e in epochs]
        saved = json.loads((folder / "results.json").read_text())
        out[row.hash] = (row.results["accuracy"], saved["accuracy"], row.results.get("best_epoch"), epochs)
    return out


@pytest.fixture(scope="module")
def local_reference(sweep_file, tmp_path_factory):
    root = tmp_path_factory.mktemp("local")
    summary = LocalExecutor(progress=False).run(load_sweep(sweep_file), root / "r.db", root / "runs")
    assert summary.ran == 3 and not summary.failed
    return _outcome_of(root / "r.db", root / "runs")


def test_a_cluster_sweep_equals_a_local_sweep_and_no_worker_opens_the_store(sim, sweep_file, local_reference, tmp_path):
    # the audit hook works in the workers: a task that opens a database is seen
    @ray.remote(num_cpus=1)
    def opens_a_database():
        sqlite3.connect(":memory:").close()
        return os.getpid()

    control = ray.get(opens_a_database.remote())
    assert ":memory:" in (sim.audit / f"{control}.log").read_text()
    for log in sim.audit.glob("*.log"):
        log.unlink()

    store = tmp_path / "r.db"
    summary = RayExecutor(progress=False, run_folders="returned").run(load_sweep(sweep_file), store, tmp_path / "runs")
    assert summary.ran == 3 and not summary.failed, [o.error for o in summary.outcomes]
    assert _outcome_of(store, tmp_path / "runs") == local_reference
    assert sim.store_opens() == []  # no worker opened any database: the driver owns the store
    with ResultStore(store, create=False, readonly=True) as opened:
        assert {r.worker for r in opened.runs()} == {f"ray-driver:{os.getpid()}"}
    # the returned run folders are complete, with no leftover of their staging
    for folder in (tmp_path / "runs").iterdir():
        assert not folder.name.startswith("."), folder
        assert {"config.json", "results.json", "metrics.jsonl"} <= {p.name for p in folder.iterdir()}


def test_a_node_lost_mid_run_costs_nothing(sim, sweep_file, local_reference, tmp_path):
    import threading

    store, runs = tmp_path / "r.db", tmp_path / "runs"
    removed: list = []
    (sim.audit / "stall").write_text("")

    def remove_the_stalled_node():
        """A worker has placed its run's first checkpoint on the shared runs folder and stopped: remove its node."""
        deadline = time.time() + 240
        while time.time() < deadline:
            stalled = list(sim.audit.glob("stalled-*"))
            if stalled:
                pid = int(stalled[0].name.split("-")[1])
                node = sim.node_of_pid(pid)
                removed.append((Path(stalled[0].read_text()).parent.parent, node))
                sim.cluster.remove_node(node, allow_graceful=False)
                return
            time.sleep(0.1)

    watcher = threading.Thread(target=remove_the_stalled_node, daemon=True)
    watcher.start()
    summary = RayExecutor(progress=False, max_retries=3).run(load_sweep(sweep_file), store, runs)
    watcher.join()
    assert removed, "no worker stalled after a checkpoint"
    del sim.workers[removed[0][1]]
    sim.add_worker()  # the cluster as it was, for the next test
    assert summary.ran == 3 and not summary.failed, [o.error for o in summary.outcomes]
    assert _outcome_of(store, runs) == local_reference
    run_log = (removed[0][0] / "run.log").read_text()
    assert "resumed after epoch 1" in run_log  # the retried task resumed from the lost node's checkpoint
    with ResultStore(store, create=False, readonly=True) as opened:
        assert all(r.attempts == 1 for r in opened.runs())  # each claimed once, by this driver


def test_the_driver_killed_and_the_command_repeated(sim, sweep_file, local_reference, tmp_path):
    store, runs = tmp_path / "r.db", tmp_path / "runs"
    command = [
        sys.executable,
        "-c",
        "from xlprompt.cli import main; main()",
        "sweep",
        str(sweep_file),
        "--store",
        str(store),
        "--runs-dir",
        str(runs),
        "--executor",
        "ray",
        "--address",
        sim.cluster.address,
        "--quiet",
    ]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}  # the driver: without the workers' audit hook
    driver = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    finished_first: dict = {}
    deadline = time.time() + 180
    try:
        while time.time() < deadline and driver.poll() is None:
            if store.exists():
                with ResultStore(store, create=False, readonly=True) as opened:
                    finished_first = {r.hash: r.finished for r in opened.runs("finished")}
                if finished_first:
                    break
            time.sleep(0.2)
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    assert 0 < len(finished_first) < 3, "the driver was not killed mid-sweep"
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert _outcome_of(store, runs) == local_reference
    with ResultStore(store, create=False, readonly=True) as opened:
        finished = {r.hash: r.finished for r in opened.runs("finished")}
    assert all(finished[h] == t for h, t in finished_first.items())  # finished once: never run again
    assert sim.store_opens() == []
