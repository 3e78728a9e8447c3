#!/usr/bin/env python
"""GPU benchmark: the paper's MPT step, evaluation, peak GPU memory, and the projected time of
Table I (180 runs) and Table II with 1, 2 and 4 runs sharing one GPU. Prints JSON; about 5-8 minutes.

    python benchmarks/bench_gpu.py [--out FILE.json]          # CUDA, random:xlm-roberta-base, bf16
    python benchmarks/bench_gpu.py --device cpu --quick        # a tiny smoke run (random:tiny), for CI

What runs: ``random:xlm-roberta-base`` (the real architecture and cost, random weights) through the package's
own code, each measurement in N concurrent worker processes (N = 1, 2, 4: ``--concurrency``) that wait for
each other before timing (so the N runs really share the GPU), synchronising the device around every
timed region:

* **MPT step**: ``Trainer.train_step`` on the paper's step, 24 few-shot rows + 24 parallel pairs
  (α = 0.5, 72 rows), micro-batched by ``step_token_budget`` (``--step-token-budget``, default 8192),
  bf16 autocast, fused AdamW; and the SP step (24 rows) for the methods without alignment rows;
* **evaluation**: ``evaluate.predict`` (rows/s) in batches of ``eval_token_budget`` padded tokens
  (``--eval-token-budget``, default 16384);
* **peak GPU memory** per process (``torch.cuda.max_memory_allocated``).

Inputs are synthetic token ids with the lengths of the real data (``bench_speed.py`` on ``../shared``: XNLI
rows 48 tokens on average, PAWS-X rows 76): the cost of a transformer depends on lengths, not on which
tokens; so this needs no data folder and no tokenizer download beyond the model's.

Projection (per run, then summed over the grids of ``configs/table1.yaml`` and ``configs/table2.yaml``)::

    run = epochs x (steps_per_epoch x step_seconds + dev rows / eval rate) + test rows / eval rate + startup

with steps per epoch as the trainer makes them (max(ceil(3k/24), ceil(500/24)) for MPT, ceil(3k/24) for
the others), the step cost linear in padded tokens (fitted to the SP and MPT steps, so the optimiser step
is in the constant), PCT counted as two rows per example and FT as SP (assumptions, marked in the JSON),
dev = 3k English rows per epoch, test = 15 x 5,010 rows. With N runs at once the aggregate throughput
measured for N is used. Table II lists its 50 runs and the 30 that Table I does not already hold.

Without CUDA (and without ``--device cpu``) it stops with a one-line message.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_TOKENIZER = REPO.parent / "shared" / "tokenizers" / "xlm-roberta"
GIB = 2**30
XNLI_ROW_TOKENS, PAWSX_ROW_TOKENS = 48, 76  # mean padded-free row lengths of the real data (XLM-R tokens)
TEST_ROWS = 15 * 5010
PARALLEL_PAIRS, BATCH, EPOCHS = 500, 24, 50
TABLE1 = {"methods": ("ft", "sp", "pct", "mpt"), "shots": (1, 2, 4, 8, 16, 32, 64, 128, 256), "seeds": 5}
TABLE2_VARIANTS = {
    "Original MPT": "mpt",
    "w/o consistency loss": "sp-like",
    "w/o external data": "mpt",
    "w/o prompt translator": "mpt",
    "w/o MPT framework": "sp",
}
TABLE2_SHOTS, TABLE2_SHARED = (64, 4), ("Original MPT", "w/o MPT framework")  # the latter two are Table I runs


def fail(message: str) -> None:
    print(f"bench_gpu: {message}", file=sys.stderr)
    sys.exit(2)


# ----------------------------------------------------------------------------------------------- worker
def synthetic_rows(n: int, mean_tokens: int, overhead: int, vocab: range, rng: random.Random, max_len: int):
    """(premise ids, hypothesis ids) whose template rows average ``mean_tokens`` tokens."""
    rows = []
    for _ in range(n):
        total = min(max_len - overhead - 2, max(6, int(rng.gauss(mean_tokens, mean_tokens / 3))) - overhead)
        total = max(4, total)
        cut = max(2, int(total * 0.6))
        premise = tuple(rng.choice(vocab) for _ in range(cut))
        rows.append((premise, tuple(rng.choice(vocab) for _ in range(total - cut))))
    return rows


def worker(args) -> dict:
    import torch

    sys.path.insert(0, str(REPO / "src"))
    from xlprompt.batching import TokenizedExample, TokenizedPair
    from xlprompt.config import RunConfig
    from xlprompt.evaluate import predict
    from xlprompt.experiment import build_components
    from xlprompt.trainer import Trainer

    device = torch.device(args.device)
    quick = args.quick
    config = RunConfig(
        method="mpt",
        model=args.model,
        tokenizer=args.tokenizer,
        device=args.device,
        precision=args.precision,
        data_dir="builtin:demo",
        seed=1 + args.worker_index,
        max_length=64 if quick else 256,
        step_token_budget=args.step_token_budget,
        eval_token_budget=args.eval_token_budget,
    )
    started = time.perf_counter()
    parts = build_components(config, device)
    method, tokenizer = parts.method, parts.tokenizer
    build_seconds = time.perf_counter() - started
    special = set(tokenizer.all_special_ids)
    vocab = range(5, min(len(tokenizer), 5000))
    vocab = [i for i in vocab if i not in special]
    rng = random.Random(args.worker_index)
    overhead = config.prompt_length + 4  # <s>, </s> x2 and <mask> around the prompt
    scale = 0.5 if quick else 1.0

    def examples(n, mean, lang="en", label=True):
        return [
            TokenizedExample(p, h, i % 3 if label else -1, lang, f"syn-{lang}-{i}")
            for i, (p, h) in enumerate(synthetic_rows(n, int(mean * scale), overhead, vocab, rng, config.max_length))
        ]

    cls = examples(BATCH, XNLI_ROW_TOKENS)
    pairs = [
        TokenizedPair(s, t)
        for s, t in zip(examples(BATCH, PAWSX_ROW_TOKENS, "en", False), examples(BATCH, PAWSX_ROW_TOKENS, "de", False))
    ]
    test = examples(64 if quick else 3000, XNLI_ROW_TOKENS, "de")
    trainer = Trainer(method, config, cls, [], pairs, None, progress=False)
    generator = torch.Generator().manual_seed(0)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def barrier(name: str) -> None:  # every worker of this round reaches the same point before timing
        Path(args.barrier, f"{name}-{args.worker_index}").touch()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if sum(1 for _ in Path(args.barrier).glob(f"{name}-*")) >= args.workers:
                return
            time.sleep(0.05)

    def timed_steps(batch, aligned, seconds: float) -> dict:
        method.train()
        for _ in range(2):  # warm-up: AdamW state, allocator, cuBLAS handles
            trainer.train_step(batch, aligned, generator)
        sync()
        barrier(f"train-{len(aligned)}")
        count, t0 = 0, time.perf_counter()
        while True:
            trainer.train_step(batch, aligned, generator)
            count += 1
            sync()
            elapsed = time.perf_counter() - t0
            if elapsed >= seconds and count >= 2:
                return {"steps": count, "seconds": elapsed, "steps_per_s": count / elapsed}

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    out = {"worker": args.worker_index, "build_seconds": build_seconds}
    out["mpt_step"] = timed_steps(cls, pairs, args.train_seconds)
    out["sp_step"] = timed_steps(cls, [], args.train_seconds / 2)
    autocast = trainer.autocast_dtype
    predict(method, test[:16], "de", 64, autocast, token_budget=config.eval_token_budget)  # warm-up
    sync()
    barrier("eval")
    rows, t0 = 0, time.perf_counter()
    while True:
        predict(method, test, "de", 64, autocast, token_budget=config.eval_token_budget)
        rows += len(test)
        sync()
        elapsed = time.perf_counter() - t0
        if elapsed >= args.eval_seconds:
            break
    out["eval"] = {"rows": rows, "seconds": elapsed, "rows_per_s": rows / elapsed}
    lengths = lambda exs: sum(len(method.encode(e).input_ids) for e in exs)  # noqa: E731
    out["tokens"] = {
        "sp_step": lengths(cls),
        "mpt_step": lengths(cls) + lengths([p.source for p in pairs]) + lengths([p.target for p in pairs]),
    }
    out["peak_gpu_gib"] = torch.cuda.max_memory_allocated(device) / GIB if device.type == "cuda" else None
    return out


# ----------------------------------------------------------------------------------------------- driver
def run_round(args, n: int) -> list[dict]:
    with tempfile.TemporaryDirectory() as barrier:
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--worker",
            "--workers",
            str(n),
            "--barrier",
            barrier,
            "--device",
            args.device,
            "--precision",
            args.precision,
            "--model",
            args.model,
            "--train-seconds",
            str(args.train_seconds),
            "--eval-seconds",
            str(args.eval_seconds),
            "--step-token-budget",
            str(args.step_token_budget),
            "--eval-token-budget",
            str(args.eval_token_budget),
        ]
        if args.tokenizer:
            cmd += ["--tokenizer", args.tokenizer]
        if args.quick:
            cmd.append("--quick")
        env = {**os.environ, "PYTHONWARNINGS": "ignore", "TOKENIZERS_PARALLELISM": "false"}
        if args.device == "cpu":
            env.setdefault("OMP_NUM_THREADS", "1")
        procs = [
            subprocess.Popen(
                cmd + ["--worker-index", str(i)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
            )
            for i in range(n)
        ]
        results = []
        for proc in procs:
            out, err = proc.communicate()
            lines = [line for line in out.splitlines() if line.startswith("{")]
            if proc.returncode != 0 or not lines:
                last = (err.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
                fail(f"a worker of the {n}-run round failed: {last}")
            results.append(json.loads(lines[-1]))
    return results


def project(single: dict, speedup: dict[int, dict[str, float]]) -> dict:
    """Hours for Table I and II from one run's rates, for each concurrency (its aggregate speed-ups)."""
    t_sp, t_mpt = 1 / single["sp_step"], 1 / single["mpt_step"]
    tok_sp, tok_mpt = single["tokens_sp"], single["tokens_mpt"]
    per_token = max(0.0, (t_mpt - t_sp) / max(1, tok_mpt - tok_sp))
    fixed = max(0.0, t_sp - per_token * tok_sp)
    eval_rate, startup = single["eval_rows_per_s"], single["startup_s"]
    pair_tokens = tok_mpt - tok_sp  # the 24 pairs' 48 rows

    def step_seconds(cls_rows: int, pair_rows: bool, cls_factor: float = 1.0) -> float:
        tokens = cls_factor * cls_rows * tok_sp / BATCH + (pair_tokens if pair_rows else 0)
        return fixed + per_token * tokens

    def run_hours(kind: str, k: int) -> tuple[float, float]:
        n = 3 * k
        cls_rows = min(BATCH, n)
        cls_steps = math.ceil(n / BATCH)
        if kind == "mpt":
            steps, step = max(cls_steps, math.ceil(PARALLEL_PAIRS / BATCH)), step_seconds(cls_rows, True)
        elif kind == "pct":
            steps, step = cls_steps, step_seconds(cls_rows, False, 2.0)
        else:  # sp, ft, sp-like (alpha = 1: no alignment rows)
            steps, step = cls_steps, step_seconds(cls_rows, False)
        train = EPOCHS * steps * step
        evaluate = EPOCHS * n / eval_rate + TEST_ROWS / eval_rate
        return train, evaluate + startup

    def total(runs: list[tuple[str, int]]) -> tuple[float, float]:
        train = sum(run_hours(kind, k)[0] for kind, k in runs)
        rest = sum(run_hours(kind, k)[1] for kind, k in runs)
        return train, rest

    table1 = [(m, k) for m in TABLE1["methods"] for k in TABLE1["shots"] for _ in range(TABLE1["seeds"])]
    table2 = [(kind, k) for kind in TABLE2_VARIANTS.values() for k in TABLE2_SHOTS for _ in range(5)]
    table2_new = [
        (kind, k)
        for name, kind in TABLE2_VARIANTS.items()
        if name not in TABLE2_SHARED
        for k in TABLE2_SHOTS
        for _ in range(5)
    ]
    out = {
        "model": {
            "step_fixed_s": fixed,
            "step_s_per_padded_token": per_token,
            "eval_rows_per_s": eval_rate,
            "startup_s": startup,
            "assumptions": "FT costs as SP; PCT as SP with two rows per example; alpha=1 as SP; "
            "xnli-dev pairs cost as PAWS-X pairs; 50 epochs; dev 3k rows per epoch; "
            "test 15 x 5010 rows",
        }
    }
    for n, s in speedup.items():
        row = {}
        for name, runs in (
            ("table1_180_runs", table1),
            ("table2_50_runs", table2),
            ("table2_30_runs_not_in_table1", table2_new),
        ):
            train, rest = total(runs)
            row[name] = {"runs": len(runs), "hours": (train / s["train"] + rest / s["eval"]) / 3600}
        out[f"{n}_at_once"] = row
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    parser.add_argument(
        "--precision", default=None, choices=("bf16", "fp32"), help="default: bf16 on CUDA, fp32 on CPU"
    )
    parser.add_argument("--quick", action="store_true", help="random:tiny, seconds per phase: the CI smoke run")
    parser.add_argument("--model", default=None, help="default: random:xlm-roberta-base (random:tiny with --quick)")
    parser.add_argument(
        "--tokenizer",
        default=None,
        help="default: ../shared/tokenizers/xlm-roberta where it exists, else the model's (hub)",
    )
    parser.add_argument(
        "--concurrency", default=None, help="runs sharing the GPU per round (default 1,2,4; 1,2 with --quick)"
    )
    parser.add_argument("--train-seconds", type=float, default=None, help="timed seconds per step kind")
    parser.add_argument("--eval-seconds", type=float, default=None)
    parser.add_argument("--step-token-budget", type=int, default=8192)
    parser.add_argument("--eval-token-budget", type=int, default=16384)
    parser.add_argument("--out", default=None, help="also write the JSON to this file")
    # worker mode (internal)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--worker-index", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--barrier", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.precision = args.precision or ("bf16" if args.device == "cuda" else "fp32")
    args.model = args.model or ("random:tiny" if args.quick else "random:xlm-roberta-base")
    if args.tokenizer is None and args.model == "random:xlm-roberta-base" and SHARED_TOKENIZER.is_dir():
        args.tokenizer = str(SHARED_TOKENIZER)
    args.train_seconds = args.train_seconds or (0.5 if args.quick else 25.0)
    args.eval_seconds = args.eval_seconds or (0.5 if args.quick else 15.0)
    if args.worker:
        print(json.dumps(worker(args)))
        return
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        fail(
            f"no CUDA device visible to torch {torch.__version__}: this benchmark needs a GPU "
            "(for a smoke test without one: --device cpu --quick)"
        )
    rounds = [int(x) for x in (args.concurrency or ("1,2" if args.quick else "1,2,4")).split(",")]
    if rounds[0] != 1:
        fail("--concurrency must start with 1 (the single run the others are compared with)")
    started = time.perf_counter()
    measured = {}
    for n in rounds:
        print(f"bench_gpu: {n} run(s) at once ...", file=sys.stderr, flush=True)
        measured[n] = run_round(args, n)
    one = measured[1][0]
    single = {
        "mpt_step": one["mpt_step"]["steps_per_s"],
        "sp_step": one["sp_step"]["steps_per_s"],
        "eval_rows_per_s": one["eval"]["rows_per_s"],
        "startup_s": one["build_seconds"],
        "tokens_sp": one["tokens"]["sp_step"],
        "tokens_mpt": one["tokens"]["mpt_step"],
    }
    rounds_out, speedup = {}, {}
    for n, workers in measured.items():
        agg_mpt = sum(w["mpt_step"]["steps_per_s"] for w in workers)
        agg_sp = sum(w["sp_step"]["steps_per_s"] for w in workers)
        agg_eval = sum(w["eval"]["rows_per_s"] for w in workers)
        speedup[n] = {
            "train": (agg_mpt / single["mpt_step"] + agg_sp / single["sp_step"]) / 2,
            "eval": agg_eval / single["eval_rows_per_s"],
        }
        peaks = [w["peak_gpu_gib"] for w in workers if w["peak_gpu_gib"] is not None]
        rounds_out[str(n)] = {
            "mpt_steps_per_s_total": agg_mpt,
            "mpt_steps_per_s_per_run": agg_mpt / n,
            "sp_steps_per_s_total": agg_sp,
            "eval_rows_per_s_total": agg_eval,
            "speedup_vs_one_run": speedup[n],
            "peak_gpu_gib_per_run": max(peaks) if peaks else None,
            "peak_gpu_gib_total": sum(peaks) if peaks else None,
        }
    gpu = None
    if args.device == "cuda":
        props = torch.cuda.get_device_properties(0)
        gpu = {"name": props.name, "memory_gib": props.total_memory / GIB, "capability": f"{props.major}.{props.minor}"}
    result = {
        "setup": {
            "device": args.device,
            "gpu": gpu,
            "precision": args.precision,
            "model": args.model,
            "quick": args.quick,
            "step_token_budget": args.step_token_budget,
            "eval_token_budget": args.eval_token_budget,
            "train_seconds": args.train_seconds,
            "eval_seconds": args.eval_seconds,
            "torch": torch.__version__,
            "paper_step": "24 few-shot rows + 24 parallel pairs (72 rows), alpha 0.5",
        },
        "single_run": {
            "mpt_steps_per_s": single["mpt_step"],
            "sp_steps_per_s": single["sp_step"],
            "eval_rows_per_s": single["eval_rows_per_s"],
            "peak_gpu_gib": one["peak_gpu_gib"],
            "build_seconds": one["build_seconds"],
        },
        "concurrent": rounds_out,
        "projection_hours": project(single, speedup),
        "total_seconds": time.perf_counter() - started,
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n", "utf-8")


if __name__ == "__main__":
    main()
