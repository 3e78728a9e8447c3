"""Time one run's checkpoints on an XLM-R-base-sized state: what each epoch pays with and without an interval.

The state has the shapes of XLM-R base (278M parameters, fp32): the trainable weights, AdamW's two moments,
and the best epoch's copy. It times ``xlprompt.checkpoint.save_checkpoint`` from whichever xlprompt is
on ``PYTHONPATH`` (run it once with the old tree and once with the new one), for three epochs in a row:

* epoch 1: the best epoch changes (both the state and the best-epoch copy are written);
* epochs 2, 3: the best epoch stays (the new layout writes only the state; the old one rewrote everything).

Without an interval every epoch pays this; after it, a checkpoint is written at most every ``checkpoint_every_s``
seconds (600 by default) and after the last epoch. Prints JSON. Needs about 5 GB of free memory and disk::

    PYTHONPATH=src python benchmarks/bench_checkpoint.py --out /tmp/ckpt-bench
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import torch

from xlprompt.checkpoint import CHECKPOINT_DIR, save_checkpoint

VOCAB, D, LAYERS, FF, POSITIONS = 250002, 768, 12, 3072, 514


def xlmr_base_shapes() -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {
        "embeddings.word": (VOCAB, D),
        "embeddings.position": (POSITIONS, D),
        "embeddings.ln": (2, D),
        "lm_head.dense": (D, D),
        "lm_head.bias": (VOCAB,),
    }
    for i in range(LAYERS):
        shapes.update(
            {
                f"layer{i}.qkvo": (4, D, D),
                f"layer{i}.up": (FF, D),
                f"layer{i}.down": (D, FF),
                f"layer{i}.small": (13, D),
            }
        )  # biases and LayerNorms, folded together
    return shapes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="scratch folder (removed at the end)")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    shapes = xlmr_base_shapes()
    params = {k: torch.randn(s) for k, s in shapes.items()}
    n = sum(p.numel() for p in params.values())
    optimizer = {
        "state": {
            i: {"step": torch.tensor(7.0), "exp_avg": torch.randn_like(p), "exp_avg_sq": torch.rand_like(p)}
            for i, p in enumerate(params.values())
        },
        "param_groups": [{"lr": 4e-5, "params": list(range(len(params)))}],
    }
    new_layout = hasattr(__import__("xlprompt.checkpoint").checkpoint, "_write_state")
    run_dir = args.out / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    times, sizes = [], []
    try:
        best = None
        for epoch in range(args.epochs):
            started = time.perf_counter()
            # the one-file layout (a clone of every weight); the current one: no clone
            trainable = {k: v.clone() for k, v in params.items()} if not new_layout else dict(params)
            if epoch == 0:  # the best epoch changes: the trainer copies the weights
                best = {k: v.detach().cpu().clone() for k, v in params.items()}
            state = {
                "format": 1,
                "config_hash": "0" * 16,
                "epoch": epoch,
                "trainable": trainable,
                "optimizer": optimizer,
                "scheduler": {},
                "rng": torch.get_rng_state(),
                "history": [],
                "best_epoch": 1,
                "best_dev_accuracy": 50.0,
                "best_state": best,
            }
            save_checkpoint(run_dir, epoch, state)
            times.append(time.perf_counter() - started)
            sizes.append(sum(p.stat().st_size for p in (run_dir / CHECKPOINT_DIR).iterdir()))
    finally:
        shutil.rmtree(args.out, ignore_errors=True)
    print(
        json.dumps(
            {
                "layout": "separate best file" if new_layout else "one file",
                "parameters": n,
                "seconds_per_checkpoint": [round(t, 2) for t in times],
                "checkpoint_folder_bytes": sizes,
                "torch": torch.__version__,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
