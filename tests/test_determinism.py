"""Determinism: the same config and seed on CPU give identical per-language accuracies and identical
loss curves; the few-shot sampler (and the demo run's data) give the same examples in every process, whatever
Python's hash seed and the pool order.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from xlprompt.experiment import run_experiment


def _run(tiny_config, run_dir, **overrides):
    settings = dict(method="mpt", shots=4, epochs=3, batch_size=6, eval_languages="en,de,zh")
    settings.update(overrides)
    results = run_experiment(
        tiny_config(**settings), run_dir, progress=False, log=lambda _msg: None, save_weights=False
    )
    curve = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    for record in curve:
        record.pop("seconds")  # wall time is the only thing allowed to differ
    return results, curve


@pytest.mark.parametrize("method", ["mpt", "sp", "ft", "pct"])
def test_same_config_and_seed_give_identical_accuracies_and_loss_curves(method, tiny_config, tmp_path):
    first, curve1 = _run(tiny_config, tmp_path / "a", method=method)
    second, curve2 = _run(tiny_config, tmp_path / "b", method=method)
    assert len(curve1) == 3
    assert curve1 == curve2  # exact: every loss part, lr and dev accuracy of every epoch
    assert first["accuracy"] == second["accuracy"]
    assert first["best_epoch"] == second["best_epoch"]
    assert first["best_dev_accuracy"] == second["best_dev_accuracy"]


def test_a_different_seed_gives_a_different_curve(tiny_config, tmp_path):
    """The comparison above is not vacuous: the seed does change the run."""
    _, curve1 = _run(tiny_config, tmp_path / "a", seed=1, method="sp", epochs=2)
    _, curve2 = _run(tiny_config, tmp_path / "b", seed=2, method="sp", epochs=2)
    assert [r["loss"] for r in curve1] != [r["loss"] for r in curve2]


# ----------------------------------------------------------------------------------------------- sampler
_SAMPLER_SCRIPT = textwrap.dedent("""
    import json, random, sys, warnings
    from xlprompt.config import RunConfig
    from xlprompt.data.examples import NLIExample
    from xlprompt.data.fewshot import sample_k_per_class
    from xlprompt.run_data import load_run_data

    order_seed = int(sys.argv[1])
    pool = [NLIExample(f"premise {i} \\x1c ü", f"hypothesis {i}", i % 3, "en", f"pool-{i}") for i in range(60)]
    pool += [NLIExample("premise 0 \\x1c ü", "hypothesis 0", 0, "en", "pool-dup")]  # a duplicate
    random.Random(order_seed).shuffle(pool)
    warnings.simplefilter("ignore")  # the duplicate is dropped with a warning
    out = {f"k{k}-s{seed}": [e.uid for e in sample_k_per_class(pool, k, seed)] for k in (1, 4, 16)
           for seed in (1, 2)}
    config = RunConfig(model="random:tiny", data_dir="builtin:demo", shots=4, seed=3, method="sp", device="cpu")
    out["demo-train"] = [e.uid for e in load_run_data(config).train]
    print(json.dumps(out))
""")


def _sample_in_subprocess(hash_seed: str, order_seed: int) -> dict:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    proc = subprocess.run(
        [sys.executable, "-c", _SAMPLER_SCRIPT, str(order_seed)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    return json.loads(proc.stdout)


def test_sampler_is_identical_across_processes_hash_seeds_and_pool_orders():
    runs = [_sample_in_subprocess("0", 0), _sample_in_subprocess("12345", 1), _sample_in_subprocess("random", 2)]
    assert runs[0] == runs[1] == runs[2]
    # Pinned: the digest-based sampler gives these examples on every platform and Python version.
    assert runs[0]["k1-s1"] == PINNED_K1_S1
    assert len(runs[0]["k16-s1"]) == 48 and len(set(runs[0]["k16-s1"])) == 48
    assert runs[0]["demo-train"] == PINNED_DEMO_TRAIN


PINNED_K1_S1 = ["pool-25", "pool-15", "pool-23"]
PINNED_DEMO_TRAIN = [
    "demo-4",
    "demo-5",
    "demo-6",
    "demo-10",
    "demo-7",
    "demo-12",
    "demo-11",
    "demo-1",
    "demo-8",
    "demo-9",
    "demo-3",
    "demo-2",
]
