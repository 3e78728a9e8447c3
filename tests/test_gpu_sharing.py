"""Several runs of one sweep on one GPU: local worker processes that claim runs from the store, and
Ray's fractional GPU request (its arithmetic, without a GPU or a Ray instance)."""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner
from datafactory import FAST_RUN

from xlprompt.cli import cli
from xlprompt.errors import ConfigError
from xlprompt.executors import RayExecutor, get_executor
from xlprompt.sweep import load_sweep

FAST = dict(FAST_RUN)


class _FakeRay:
    def __init__(self, resources):
        self._resources = resources

    def cluster_resources(self):
        return dict(self._resources)


@pytest.mark.parametrize(
    "gpus_per_run, cluster, expected",
    [
        (None, {"CPU": 16, "GPU": 1}, {"num_gpus": 1.0, "num_cpus": 1.0}),  # default: one GPU per run
        (0.25, {"CPU": 16, "GPU": 1}, {"num_gpus": 0.25, "num_cpus": 1.0}),  # four runs share the GPU
        (2, {"CPU": 16, "GPU": 4}, {"num_gpus": 2.0, "num_cpus": 1.0}),
        (None, {"CPU": 16}, {"num_cpus": 1.0}),  # no GPU: CPUs only
    ],
)
def test_ray_resource_request(gpus_per_run, cluster, expected):
    executor = RayExecutor(gpus_per_run=gpus_per_run, progress=False)
    assert executor.resources(_FakeRay(cluster)) == expected
    # how many runs Ray then runs at once on one GPU
    if "GPU" in cluster and expected.get("num_gpus", 1) <= 1:
        assert int(cluster["GPU"] / expected["num_gpus"]) == {None: 1, 0.25: 4}[gpus_per_run]


@pytest.mark.parametrize("value", [0, -0.5, 1.5])
def test_bad_gpus_per_run_is_one_line(value):
    with pytest.raises(ConfigError, match="--gpus-per-run must be a fraction in"):
        RayExecutor(gpus_per_run=value)


def test_fractional_gpus_without_a_gpu_is_refused():
    with pytest.raises(ConfigError, match="the Ray cluster has no GPU"):
        RayExecutor(gpus_per_run=0.5).resources(_FakeRay({"CPU": 4}))


def test_options_belong_to_their_executor():
    with pytest.raises(ConfigError, match="--gpus-per-run is for --executor ray"):
        get_executor("local", gpus_per_run=0.5)
    with pytest.raises(ConfigError, match="--workers must be >= 1"):
        get_executor("local", workers=0)


def test_sweep_cli_passes_workers_to_the_local_executor(tmp_path, monkeypatch):
    """The CLI plumbing only (the worker processes themselves are tested above)."""
    import xlprompt.executors as executors

    seen = {}

    def fake_workers(self, sweep, store_path, runs_dir, save_weights, summary, finished, todo, **_):
        seen.update(workers=self.workers, todo=len(todo))
        return summary

    monkeypatch.setattr(executors.LocalExecutor, "_run_workers", fake_workers)
    sweep_file = tmp_path / "s.yaml"
    sweep_file.write_text(
        yaml.safe_dump({"name": "table1", "base": {**FAST, "method": "sp"}, "grid": {"seed": [1, 2, 3]}})
    )
    result = CliRunner().invoke(
        cli, ["sweep", str(sweep_file), "--store", str(tmp_path / "r.db"), "--quiet", "--workers", "3"]
    )
    assert result.exit_code == 0, result.output
    assert seen == {"workers": 3, "todo": 3}
    bad = CliRunner().invoke(
        cli, ["sweep", str(sweep_file), "--store", str(tmp_path / "r2.db"), "--quiet", "--gpus-per-run", "0.25"]
    )
    assert bad.exit_code == 2 and "--gpus-per-run is for --executor ray" in bad.output


def test_ray_run_passes_the_fractional_request_to_ray_remote(tmp_path, monkeypatch):
    """RayExecutor.run against a stand-in for the ray module (no Ray started): the options of every task."""
    import xlprompt.executors as executors

    class Ref:
        def __init__(self, run_hash):
            self.run_hash = run_hash

    class FakeRayModule(_FakeRay):
        def __init__(self):
            super().__init__({"CPU": 16, "GPU": 1})
            self.options_seen, self.submitted = [], []

        def is_initialized(self):
            return True  # an instance "already running": the executor neither starts nor stops one

        def remote(self, fn):
            module = self

            class Task:
                def options(self, **kwargs):
                    module.options_seen.append(kwargs)
                    return self

                def remote(self, run_hash, config, *rest):  # a task receives a config, never the store
                    module.submitted.append(run_hash)
                    return Ref(run_hash)

            return Task()

        def wait(self, refs, num_returns, timeout):
            return refs[:num_returns], refs[num_returns:]

        def get(self, ref):
            return {"status": "finished", "results": {"accuracy": {"avg": 50.0}}, "files": None}

    fake = FakeRayModule()
    monkeypatch.setattr(executors, "_import_ray", lambda: fake)
    sweep_file = tmp_path / "s.yaml"
    sweep_file.write_text(
        yaml.safe_dump({"name": "table1", "base": {**FAST, "method": "sp"}, "grid": {"seed": [1, 2, 3, 4]}})
    )
    sweep = load_sweep(sweep_file)
    summary = RayExecutor(gpus_per_run=0.25, progress=False, poll_seconds=0).run(
        sweep, tmp_path / "r.db", tmp_path / "runs"
    )
    assert fake.options_seen == [{"max_retries": 3, "retry_exceptions": False, "num_gpus": 0.25, "num_cpus": 1.0}]
    assert sorted(fake.submitted) == sorted(sweep.hashes()) and summary.ran == 4
