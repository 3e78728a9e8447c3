"""Numerical faults: a NaN or infinite loss stops the run and names the epoch, the step and the batch.

* a loss poisoned at a chosen step (NaN, +inf) → :class:`NumericalError` naming exactly that epoch, step and
  batch uids; no optimiser step is taken with it and the last checkpoint (the epoch before) is kept;
* a genuine fault: an infinite embedding row makes the forward pass produce NaN;
* through the CLI: ``--set lr=1e20`` (the largest lr the config takes) blows the weights up after one step → exit 2, one ``error:`` line.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
from click.testing import CliRunner

from xlprompt.cli import cli
from xlprompt.errors import NumericalError
from xlprompt.trainer import Trainer


def _trainer(tiny_components, tiny_config, demo_train, run_dir, **overrides):
    settings = dict(method="sp", epochs=3, batch_size=2, checkpoint_every_s=0)  # a checkpoint every epoch
    settings.update(overrides)
    parts = tiny_components(**settings)
    train = demo_train(parts.tokenizer, per_class=2)  # 6 examples: 3 steps per epoch
    return parts, Trainer(parts.method, tiny_config(**settings), train, [], None, run_dir, progress=False)


def _poison(method, at_call: int, value: float) -> list[list[str]]:
    """Make the ``at_call``-th training step's loss ``value``; return the uids of every batch seen."""
    original = method.training_loss
    seen: list[list[str]] = []

    def poisoned(batch, pairs, generator):
        out = original(batch, pairs, generator)
        seen.append([ex.uid for ex in batch])
        if len(seen) == at_call:
            out.loss = out.loss * value if math.isnan(value) else out.loss + value
        return out

    method.training_loss = poisoned
    return seen


@pytest.mark.parametrize("value, shown", [(float("nan"), "nan"), (float("inf"), "inf")])
def test_bad_loss_names_epoch_step_and_batch(value, shown, tiny_components, tiny_config, demo_train, tmp_path):
    parts, trainer = _trainer(tiny_components, tiny_config, demo_train, tmp_path)
    seen = _poison(parts.method, at_call=5, value=value)  # epoch 2, step 2
    before = {k: v.detach().clone() for k, v in parts.method.trainable_state().items()}
    with pytest.raises(NumericalError) as info:
        trainer.fit()
    message = str(info.value)
    assert f"loss is {shown} at epoch 2, step 2" in message
    assert f"classification batch uids {seen[-1]}" in message
    assert "Lower lr" in message and "\n" not in message
    # The bad loss was not stepped on: every parameter is finite, and the checkpoint of epoch 1 is kept.
    assert all(torch.isfinite(v).all() for v in parts.method.trainable_state().values())
    assert any(not torch.equal(before[k], v) for k, v in parts.method.trainable_state().items())
    pointer = json.loads((tmp_path / "checkpoint" / "latest.json").read_text())
    assert pointer["epoch"] == 0


def test_infinite_embedding_weight_gives_numerical_error(tiny_components, tiny_config, demo_train, tmp_path):
    """A real fault, not a mocked loss: the mask token's embedding is infinite, so the first forward pass is NaN."""
    parts, trainer = _trainer(tiny_components, tiny_config, demo_train, tmp_path)
    with torch.no_grad():
        parts.method.plm.word_embeddings.weight[parts.tokenizer.mask_token_id] = float("inf")
    with pytest.raises(NumericalError, match=r"loss is nan at epoch 1, step 1 .*classification batch uids \['"):
        trainer.fit()
    assert not (tmp_path / "checkpoint").exists()


def _cli_args(out, method):
    return [
        "run",
        "--model",
        "random:tiny",
        "--data-dir",
        "builtin:demo",
        "--method",
        method,
        "--shots",
        "4",
        "--out",
        str(out),
        "--quiet",
        "--no-save-weights",
        "--set",
        "epochs=2",
        "--set",
        "batch_size=4",
        "--set",
        "lr=1e20",
        "--set",
        "eval_languages=en",
        "--set",
        "max_length=64",
        "--set",
        "device=cpu",
    ]


@pytest.mark.parametrize("method, extra", [("sp", ""), ("mpt", "alignment pair uids ['")])
def test_cli_exploding_lr_exits_2_with_one_line(method, extra, tmp_path):
    result = CliRunner().invoke(cli, _cli_args(tmp_path / "out", method))
    assert result.exit_code == 2, (result.output, result.exception)
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert "loss is nan at epoch 1, step 2" in errors[0]
    assert "classification batch uids ['demo-" in errors[0]
    assert extra in errors[0]
    assert not (tmp_path / "out" / "results.json").exists()
