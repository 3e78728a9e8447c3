"""Sweep files → runs, the local executor, and resume after SIGKILL mid-run (exactly N rows, no duplicates)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from datafactory import FAST_RUN

from xlprompt.config import RunConfig
from xlprompt.errors import ConfigError
from xlprompt.executors import LocalExecutor
from xlprompt.store import ResultStore
from xlprompt.sweep import expand, load_sweep, parse_grid_overrides

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
#: a run on the builtin demo that takes about a second
FAST = {**{k: v for k, v in FAST_RUN.items() if k != "shots"}, "epochs": 2, "eval_languages": "en,de"}


def write_sweep(path: Path, grid: dict, base: dict | None = None, **extra) -> Path:
    path.write_text(yaml.safe_dump({"name": "table1", "base": {**FAST, **(base or {})}, "grid": grid, **extra}))
    return path


# ------------------------------------------------------------------------------------------ expansion
def test_grid_is_a_cartesian_product_with_hash_keys():
    sweep = expand(
        {"base": {"model": "random:tiny"}, "grid": {"method": ["sp", "mpt"], "shots": [1, 2], "seed": [1, 2, 3]}},
        name="t",
    )
    assert len(sweep) == 12
    assert len(set(sweep.hashes())) == 12
    assert all(run.labels == [("t", "")] for run in sweep.runs)
    first = sweep.runs[0]
    assert first.hash == RunConfig(model="random:tiny", method="sp", shots=1, seed=1).resolved_hash()


def test_variants_groups_precedence_and_dedup():
    spec = {
        "base": {"method": "mpt", "epochs": 50},
        "grid": {"seed": [1, 2]},
        "reference": "full",
        "variants": {"full": {}, "no-kl": {"alpha": 1.0}, "sp": {"method": "sp", "epochs": 7}},
        "groups": {"a": {}, "b": {"grid": {"seed": [2]}, "variants": {"same-as-full": {}}}},
    }
    sweep = expand(spec, name="t", overrides={"epochs": 3})
    # group a: 3 variants x 2 seeds; group b: 1 variant x seed 2 — identical to a/full seed 2 → merged
    assert len(sweep) == 6
    merged = [r for r in sweep.runs if len(r.labels) == 2]
    assert len(merged) == 1 and merged[0].labels == [("a", "full"), ("b", "same-as-full")]
    assert all(r.config.epochs == 3 for r in sweep.runs)  # --set wins over base and variants
    sp_runs = [r for r in sweep.runs if r.variant == "sp"]
    assert {r.config.method for r in sp_runs} == {"sp"}
    assert sweep.references == {"a": "full"}


def test_grid_override_replaces_an_axis():
    sweep = expand(
        {"grid": {"shots": [1, 2, 4], "seed": [1, 2, 3, 4, 5]}},
        name="t",
        grid_overrides=parse_grid_overrides(["seed=1,2", "method=sp,mpt"]),
    )
    assert len(sweep) == 3 * 2 * 2
    assert {r.config.seed for r in sweep.runs} == {1, 2}


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"grid": {"alpah": [0.5]}}, "Did you mean 'alpha'"),
        ({"base": {"shots": "many"}}, "type int"),
        ({"grid": {"alpha": [2.0]}}, "alpha must lie in"),
        ({"epochs": 3}, "go under 'base:'"),
        ({"variants": {"x": {}}, "reference": "y"}, "reference 'y'"),
        ({"grid": {"seed": []}}, "at least one value"),
    ],
)
def test_bad_sweep_files_name_the_problem(spec, message):
    with pytest.raises(ConfigError, match=message):
        expand(spec, name="t")


def test_yaml_errors_name_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("grid:\n  seed: [1, 2\nbase: {}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:\d+: not valid YAML"):
        load_sweep(bad)


def test_the_paper_grids():
    t1 = load_sweep(CONFIGS / "table1.yaml")
    assert len(t1) == 4 * 9 * 5
    assert {r.config.method for r in t1.runs} == {"ft", "sp", "pct", "mpt"}
    assert {r.config.shots for r in t1.runs} == {1, 2, 4, 8, 16, 32, 64, 128, 256}
    assert {r.config.seed for r in t1.runs} == {1, 2, 3, 4, 5}
    t2 = load_sweep(CONFIGS / "table2.yaml")
    assert len(t2) == 5 * 2 * 5
    assert t2.references == {"table2": "Original MPT"}
    by_variant = {r.variant: r.config for r in t2.runs if r.config.shots == 64 and r.config.seed == 1}
    assert by_variant["w/o consistency loss"].alpha == 1.0
    assert by_variant["w/o external data"].parallel_source == "xnli-dev"
    assert by_variant["w/o prompt translator"].no_translator is True
    assert by_variant["w/o MPT framework"].method == "sp"
    # Table II's full method and "w/o MPT framework" are Table I's MPT and SP configs: one hash each
    assert by_variant["Original MPT"].resolved_hash() in set(t1.hashes())
    assert by_variant["w/o MPT framework"].resolved_hash() in set(t1.hashes())
    ab = load_sweep(CONFIGS / "ablations.yaml")
    groups = {g for r in ab.runs for g, _ in r.labels}
    assert groups == {"fig4-translator", "fig4-position", "fig5-length", "fig5-alpha", "fig5-external"}
    translators = {r.config.translator for r in ab.runs if ("fig4-translator", "") in r.labels}
    assert translators == {"linear-1", "linear-2", "lstm-1", "lstm-2", "transformer-1", "transformer-2"}
    sizes = {
        r.config.parallel_size: r.config.epochs
        for r in ab.runs
        if r.labels[0][0] == "fig5-external" or any(g == "fig5-external" for g, _ in r.labels)
    }
    assert sizes[2000] == 15 and sizes[500] == 50


# ------------------------------------------------------------------------------------------ execution
def test_local_sweep_skips_finished_runs(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path / "s.yaml", {"method": ["sp"], "shots": [1], "seed": [1, 2]}))
    store_path = tmp_path / "r.db"
    summary = LocalExecutor(progress=False).run(sweep, store_path, tmp_path / "runs")
    assert summary.ran == 2 and not summary.failed
    with ResultStore(store_path) as store:
        before = {r.hash: r.finished for r in store.runs()}
    again = LocalExecutor(progress=False).run(sweep, store_path, tmp_path / "runs")
    assert again.ran == 0 and again.finished_before == 2
    with ResultStore(store_path) as store:
        assert {r.hash: r.finished for r in store.runs()} == before
        rec = store.runs()[0]
        assert rec.results["accuracy"].keys() == {"en", "de", "avg"}
        assert rec.results["random_weights"] is True
        assert Path(rec.run_dir, "results.json").exists()
        assert not Path(rec.run_dir, "plm.safetensors").exists()  # sweeps do not save the PLM by default


def test_failed_run_is_recorded_and_the_sweep_goes_on(tmp_path):
    sweep = load_sweep(
        write_sweep(
            tmp_path / "s.yaml",
            {"method": ["sp", "mpt"], "shots": [1], "seed": [1]},
            base={"label_words_file": str(tmp_path / "missing.json")},
        )
    )
    summary = LocalExecutor(progress=False).run(sweep, tmp_path / "r.db", tmp_path / "runs")
    assert len(summary.failed) == 2
    with ResultStore(tmp_path / "r.db") as store:
        assert {r.status for r in store.runs()} == {"failed"}
        assert all("label-words file not found" in r.error for r in store.runs())


def _sweep_process(sweep_file: Path, store: Path) -> subprocess.Popen:
    code = "import sys; from xlprompt.cli import main; sys.argv = ['xlprompt'] + sys.argv[1:]; main()"
    return subprocess.Popen(
        [sys.executable, "-c", code, "sweep", str(sweep_file), "--store", str(store), "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_sigkill_mid_run_then_resume_gives_exactly_n_rows(tmp_path):
    n = 4
    sweep_file = write_sweep(
        tmp_path / "s.yaml", {"method": ["sp", "mpt"], "shots": [1], "seed": [1, 2]}, base={"epochs": 2}
    )
    store_path = tmp_path / "r.db"
    proc = _sweep_process(sweep_file, store_path)
    killed_running = None
    deadline = time.time() + 120
    try:
        while time.time() < deadline and proc.poll() is None:
            if store_path.exists():
                try:
                    with ResultStore(store_path, create=False) as store:
                        rows = store.runs()
                except Exception:
                    rows = []
                finished = [r for r in rows if r.status == "finished"]
                running = [r for r in rows if r.status == "running"]
                if finished and running:  # the first row is in, the next run is mid-way
                    os.kill(proc.pid, signal.SIGKILL)
                    killed_running = running[0].hash
                    first_done = {r.hash: r.finished for r in finished}
                    break
            time.sleep(0.02)
    finally:
        if proc.poll() is None and killed_running is None:
            proc.kill()
        proc.wait(timeout=30)
    assert killed_running is not None, "the sweep ended before it could be killed mid-run:\n" + proc.stdout.read()
    assert proc.returncode == -signal.SIGKILL
    with ResultStore(store_path) as store:
        assert store.get(killed_running).status == "running"  # left behind by the dead process

    resumed = _sweep_process(sweep_file, store_path)
    out, _ = resumed.communicate(timeout=180)
    assert resumed.returncode == 0, out
    assert f"{n}/{n} runs finished" in out
    with ResultStore(store_path) as store:
        rows = store.runs()
        assert len(rows) == n and len({r.hash for r in rows}) == n
        assert all(r.status == "finished" for r in rows)
        for h, finished_at in first_done.items():  # finished rows were not run again
            assert store.get(h).finished == finished_at and store.get(h).attempts == 1
        assert store.get(killed_running).attempts == 2  # the killed run was taken up again
        raw = store._conn.execute("SELECT COUNT(*), COUNT(DISTINCT hash) FROM runs").fetchone()
        assert raw == (n, n)


def test_ray_missing_gives_the_install_hint(monkeypatch):
    from xlprompt.executors import get_executor

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray → ImportError
    with pytest.raises(ConfigError, match=r"pip install 'xlprompt\[ray\]'"):
        get_executor("ray")


@pytest.mark.integration
@pytest.mark.slow
def test_sweep_and_report_on_shared_data(shared_data, tmp_path):
    """Two runs on ../shared/data with random:tiny and the real XLM-R tokenizer, then the report."""
    from click.testing import CliRunner

    from xlprompt.cli import cli

    tokenizer = shared_data.parent / "tokenizers" / "xlm-roberta"
    if not tokenizer.is_dir():
        pytest.skip(f"{tokenizer} is absent")
    sweep_file = tmp_path / "s.yaml"
    sweep_file.write_text(
        yaml.safe_dump(
            {
                "name": "table1",
                "base": {
                    "model": "random:tiny",
                    "tokenizer": str(tokenizer),
                    "data_dir": str(shared_data),
                    "epochs": 1,
                    "eval_max_per_language": 30,
                    "parallel_size": 48,
                    "num_threads": 1,
                },
                "grid": {"method": ["sp", "mpt"], "shots": [1], "seed": [1]},
            }
        )
    )
    store = tmp_path / "r.db"
    runner = CliRunner()
    result = runner.invoke(cli, ["sweep", str(sweep_file), "--store", str(store), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "2/2 runs finished" in result.output
    report = runner.invoke(cli, ["report", "--store", str(store), "--out", str(tmp_path / "rep"), "--compare", "paper"])
    assert report.exit_code == 0, report.output
    md = (tmp_path / "rep" / "table1.md").read_text()
    assert "| SP |" in md and "| MPT |" in md and "capped at 30" in md and "(36.1," in md
