"""benchmarks/bench_gpu.py: its one-line refusal without CUDA, the CPU smoke run, and the projection
arithmetic checked by hand."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_gpu.py"
ENV = {**os.environ, "PYTHONPATH": str(SCRIPT.parents[1] / "src"), "PYTHONWARNINGS": "ignore"}


def _module():
    spec = importlib.util.spec_from_file_location("bench_gpu", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message where there is no GPU")
def test_without_cuda_one_line_and_exit_2():
    done = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, env=ENV, timeout=120)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "no CUDA device" in lines[0] and "--device cpu --quick" in lines[0]
    assert done.stdout == ""


@pytest.mark.slow
def test_cpu_quick_smoke_prints_json():
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--device", "cpu", "--quick", "--concurrency", "1"],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    single = result["single_run"]
    assert single["mpt_steps_per_s"] > 0 and single["sp_steps_per_s"] > single["mpt_steps_per_s"]
    assert single["eval_rows_per_s"] > 0
    assert result["setup"]["model"] == "random:tiny" and result["setup"]["precision"] == "fp32"
    hours = result["projection_hours"]["1_at_once"]
    assert hours["table1_180_runs"]["runs"] == 180 and hours["table1_180_runs"]["hours"] > 0
    assert hours["table2_30_runs_not_in_table1"]["runs"] == 30


def test_projection_by_hand():
    bench = _module()
    # SP step 0.1 s for 1,000 padded tokens, MPT step 0.5 s for 5,000: 1e-4 s per token, no fixed cost
    single = {
        "sp_step": 10.0,
        "mpt_step": 2.0,
        "tokens_sp": 1000,
        "tokens_mpt": 5000,
        "eval_rows_per_s": 1000.0,
        "startup_s": 10.0,
    }
    out = bench.project(single, {1: {"train": 1.0, "eval": 1.0}, 2: {"train": 2.0, "eval": 1.0}})
    assert out["model"]["step_fixed_s"] == pytest.approx(0.0, abs=1e-12)
    assert out["model"]["step_s_per_padded_token"] == pytest.approx(1e-4)

    def run_seconds(method, k):  # written out from the module docstring's formula
        n = 3 * k
        rows = min(24, n)
        cls_tokens = 1000 * rows / 24
        if method == "mpt":
            steps, step = max(math.ceil(n / 24), math.ceil(500 / 24)), 1e-4 * (cls_tokens + 4000)
        elif method == "pct":
            steps, step = math.ceil(n / 24), 1e-4 * 2 * cls_tokens
        else:
            steps, step = math.ceil(n / 24), 1e-4 * cls_tokens
        return 50 * steps * step, 50 * n / 1000 + 75150 / 1000 + 10

    ks = (1, 2, 4, 8, 16, 32, 64, 128, 256)
    train = sum(5 * run_seconds(m, k)[0] for m in ("ft", "sp", "pct", "mpt") for k in ks)
    rest = sum(5 * run_seconds(m, k)[1] for m in ("ft", "sp", "pct", "mpt") for k in ks)
    assert out["1_at_once"]["table1_180_runs"]["hours"] == pytest.approx((train + rest) / 3600)
    assert out["2_at_once"]["table1_180_runs"]["hours"] == pytest.approx((train / 2 + rest) / 3600)
    # k = 16, MPT: 21 steps of 0.5 s for 50 epochs
    assert run_seconds("mpt", 16)[0] == pytest.approx(525.0)
    new = [("sp", k) for k in (64, 4)] * 5 + [("mpt", k) for k in (64, 4)] * 10  # alpha=1 costs as SP
    t2 = sum(sum(run_seconds(m, k)) for m, k in new)
    assert out["1_at_once"]["table2_30_runs_not_in_table1"]["hours"] == pytest.approx(t2 / 3600)
