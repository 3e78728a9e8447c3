"""run_experiment and `xlprompt demo` end to end on the shipped sample with random:tiny (offline)."""

from __future__ import annotations

import json
import math
import re

import pytest
from click.testing import CliRunner
from safetensors.torch import load_file

from xlprompt.errors import CheckpointError
from xlprompt.experiment import RANDOM_WEIGHTS_NOTE, run_experiment
from xlprompt.languages import XNLI_LANGUAGES

EPOCHS = 2


def run(config, run_dir):
    logs: list[str] = []
    results = run_experiment(config, run_dir, progress=False, log=logs.append)
    return results, logs


@pytest.mark.parametrize("method_name", ["mpt", "sp", "ft", "pct"])
def test_run_experiment_writes_the_run_directory(tiny_config, tmp_path, method_name):
    config = tiny_config(method=method_name, shots=2, epochs=EPOCHS, batch_size=6)
    run_dir = tmp_path / "run"
    results, logs = run(config, run_dir)

    saved_config = json.loads((run_dir / "config.json").read_text("utf-8"))
    assert saved_config["hash"] == config.resolved_hash()
    assert saved_config["config"] == config.to_dict()

    lines = (run_dir / "metrics.jsonl").read_text("utf-8").splitlines()
    assert len(lines) == EPOCHS
    metrics = [json.loads(line) for line in lines]
    assert [m["epoch"] for m in metrics] == list(range(1, EPOCHS + 1))
    for m in metrics:
        assert math.isfinite(m["loss"]) and m["loss"] > 0
        assert 0.0 <= m["dev_accuracy"] <= 100.0
        assert m["lr"] >= 0 and m["seconds"] > 0
        assert ("kl" in m) == (method_name in ("mpt", "pct"))

    on_disk = json.loads((run_dir / "results.json").read_text("utf-8"))
    assert on_disk == json.loads(json.dumps(results))
    accuracy = on_disk["accuracy"]
    assert list(accuracy) == [*XNLI_LANGUAGES, "avg"]
    assert all(0.0 <= accuracy[lang] <= 100.0 for lang in XNLI_LANGUAGES)
    assert accuracy["avg"] == pytest.approx(sum(accuracy[lang] for lang in XNLI_LANGUAGES) / 15)
    assert on_disk["random_weights"] is True
    assert on_disk["note"] == RANDOM_WEIGHTS_NOTE
    assert on_disk["method"] == method_name
    assert on_disk["best_epoch"] in range(1, EPOCHS + 1)
    assert on_disk["best_dev_accuracy"] == max(m["dev_accuracy"] for m in metrics)
    assert on_disk["config_hash"] == config.resolved_hash()
    assert on_disk["train_examples"] == 6
    assert set(on_disk["eval_examples"]) == set(XNLI_LANGUAGES)
    assert all(n > 0 for n in on_disk["eval_examples"].values())
    assert (on_disk["parallel_pairs"] > 0) == (method_name == "mpt")
    assert any(RANDOM_WEIGHTS_NOTE in line for line in logs)
    assert not (run_dir / "checkpoint").exists()  # removed once the run is complete

    prompt_file = run_dir / "prompt.safetensors"
    if method_name in ("mpt", "sp"):
        tensors = load_file(str(prompt_file))
        assert tensors["prompt.p_source"].shape == (config.prompt_length, 32)
        assert any(k.startswith("prompt_encoder.") for k in tensors)
        if method_name == "mpt":
            assert tensors["prompt.p_target"].shape == (config.prompt_length, 32)
            assert not tensors["prompt.p_target"].equal(tensors["prompt.p_source"])
            assert any(k.startswith("translator.") for k in tensors)
        else:
            assert "prompt.p_target" not in tensors
    elif method_name == "ft":
        tensors = load_file(str(prompt_file))
        assert tensors["head.out_proj.weight"].shape == (3, 32)
        assert not any(k.startswith("prompt.") for k in tensors)
    else:  # pct learns no vectors of its own
        assert not prompt_file.exists() or not any(k.startswith("prompt.") for k in load_file(str(prompt_file)))


def test_finished_run_is_reused_not_retrained(tiny_config, tmp_path, monkeypatch):
    config = tiny_config(method="sp", epochs=1)
    run_dir = tmp_path / "run"
    first, _ = run(config, run_dir)
    stamp = (run_dir / "results.json").stat().st_mtime_ns

    from xlprompt.trainer import Trainer

    def no_training(self):
        raise AssertionError("a finished run must not train again")

    monkeypatch.setattr(Trainer, "fit", no_training)
    second, logs = run(tiny_config(method="sp", epochs=1), run_dir)
    assert second == json.loads(json.dumps(first))
    assert any("already finished" in line for line in logs)
    assert (run_dir / "results.json").stat().st_mtime_ns == stamp


def test_directory_of_another_config_is_refused(tiny_config, tmp_path):
    run_dir = tmp_path / "run"
    run(tiny_config(method="sp", epochs=1), run_dir)
    before = (run_dir / "results.json").read_bytes()
    with pytest.raises(CheckpointError) as err:
        run(tiny_config(method="sp", epochs=1, seed=2), run_dir)
    assert "seed" in str(err.value) and str(run_dir) in str(err.value)
    with pytest.raises(CheckpointError, match="alpha"):
        run(tiny_config(method="sp", epochs=1, alpha=0.3), run_dir)
    assert (run_dir / "results.json").read_bytes() == before  # untouched


def test_non_run_directory_is_refused(tiny_config, tmp_path):
    run_dir = tmp_path / "notes"
    run_dir.mkdir()
    (run_dir / "todo.txt").write_text("mine", "utf-8")
    with pytest.raises(CheckpointError, match="not empty"):
        run(tiny_config(method="sp", epochs=1), run_dir)
    assert sorted(p.name for p in run_dir.iterdir()) == ["todo.txt"]


def test_cli_demo_prints_the_table(tmp_path):
    from xlprompt.cli import cli

    result = CliRunner().invoke(
        cli, ["demo", "--model", "random:tiny", "--method", "sp", "--epochs", "1", "--out", str(tmp_path / "demo")]
    )
    assert result.exit_code == 0, result.output
    out = result.stdout  # the table (progress bars go to stderr)
    header = " ".join(f"{lang.upper():>5}" for lang in XNLI_LANGUAGES) + f" {'Avg':>5}"
    lines = out.splitlines()
    assert header in lines
    row = lines[lines.index(header) + 1]
    numbers = re.findall(r"\d+\.\d", row)
    assert len(numbers) == 16 and all(0.0 <= float(x) <= 100.0 for x in numbers)
    assert "random weights" in out
    assert RANDOM_WEIGHTS_NOTE in out
    assert "SP k=4" in out
    results = json.loads((tmp_path / "demo" / "results.json").read_text("utf-8"))
    assert results["random_weights"] is True and list(results["accuracy"]) == [*XNLI_LANGUAGES, "avg"]


@pytest.mark.parametrize(
    "overrides", [dict(translator="transformer-1"), dict(no_translator=True)], ids=["transformer-1", "no_translator"]
)
def test_saved_prompts_are_the_test_time_prompts(tiny_config, tmp_path, overrides):
    """prompt.safetensors holds p_S and p_T as used at test time: recomputed from the saved modules in eval
    mode (no dropout sample in p_T), and p_T == p_S without a translator."""
    import torch

    from xlprompt.models.prompt_encoder import PromptEncoder, PromptEncoderConfig
    from xlprompt.models.translator import build_translator

    config = tiny_config(method="mpt", epochs=1, **overrides)
    run(config, tmp_path / "run")
    tensors = load_file(str(tmp_path / "run" / "prompt.safetensors"))

    def state(prefix):
        return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}

    encoder = PromptEncoder(
        PromptEncoderConfig(config.prompt_length, 32, config.prompt_encoder, config.prompt_encoder_shape)
    )
    encoder.load_state_dict(state("prompt_encoder."))
    encoder.eval()
    with torch.no_grad():
        p_source = encoder()
        assert torch.allclose(tensors["prompt.p_source"], p_source, atol=1e-6)
        if config.no_translator:
            assert torch.equal(tensors["prompt.p_target"], tensors["prompt.p_source"])
            assert not any(k.startswith("translator.") for k in tensors)
        else:
            translator = build_translator(config.translator, 32)
            translator.load_state_dict(state("translator."))
            translator.eval()
            assert torch.allclose(tensors["prompt.p_target"], translator(p_source), atol=1e-5)
