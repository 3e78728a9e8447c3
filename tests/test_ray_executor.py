"""The Ray executor on a local Ray instance (2 CPUs): two runs at once, each worker writing to the same store.
Skipped where Ray is not installed (``pip install 'xlprompt[ray]'``)."""

from __future__ import annotations

import pytest
import yaml

from xlprompt.executors import RayExecutor, get_executor
from xlprompt.store import ResultStore
from xlprompt.sweep import load_sweep

ray = pytest.importorskip("ray")

FAST = {
    "model": "random:tiny",
    "data_dir": "builtin:demo",
    "epochs": 3,
    "max_length": 64,
    "batch_size": 6,
    "eval_batch_size": 32,
    "eval_languages": "en,de",
    "num_threads": 1,
    "device": "cpu",
    "shots": 2,
}


@pytest.mark.slow
def test_ray_runs_two_at_once_into_one_store(tmp_path, monkeypatch):
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    sweep_file = tmp_path / "s.yaml"
    sweep_file.write_text(
        yaml.safe_dump({"name": "table1", "base": FAST, "grid": {"method": ["sp", "mpt"], "seed": [1]}})
    )
    sweep = load_sweep(sweep_file)
    store_path = tmp_path / "r.db"
    executor = RayExecutor(num_cpus=2, progress=False)
    try:
        summary = executor.run(sweep, store_path, tmp_path / "runs")
    finally:
        if ray.is_initialized():
            ray.shutdown()
    assert summary.ran == 2 and not summary.failed, [o.error for o in summary.outcomes]
    with ResultStore(store_path) as store:
        rows = store.runs()
    assert len(rows) == 2 and all(r.status == "finished" for r in rows)
    assert all(r.worker.startswith("ray:") for r in rows)
    assert len({r.pid for r in rows}) == 2  # two worker processes ...
    a, b = sorted(rows, key=lambda r: r.started)
    assert b.started < a.finished  # ... whose runs overlapped in time
    assert all(r.results["accuracy"].keys() == {"en", "de", "avg"} for r in rows)
    # a second pass finds everything finished: nothing is submitted
    again = RayExecutor(num_cpus=2, progress=False).run(sweep, store_path, tmp_path / "runs")
    assert again.ran == 0 and again.finished_before == 2
    assert not ray.is_initialized()


def test_executor_names():
    assert get_executor("local").name == "local"
    assert get_executor("ray", num_cpus=2).name == "ray"
