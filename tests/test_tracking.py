"""What a run reports while it trains: run.log, plain progress lines off a terminal, step records (steps.jsonl),
TensorBoard event files and an offline W&B run read back, sweep run folders, --quiet / --verbose."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from datafactory import FAST_RUN

from xlprompt.cli import cli
from xlprompt.config import RunConfig
from xlprompt.errors import ConfigError
from xlprompt.experiment import RANDOM_WEIGHTS_NOTE, run_experiment

FAST = {**{k: v for k, v in FAST_RUN.items() if k != "shots"}, "epochs": 2, "eval_languages": "en,de"}
#: the loss parts of MPT (and the other keys of every step record)
STEP_KEYS = {"step", "epoch", "loss", "ce", "kl", "lr"}


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def quiet_run(config, run_dir):
    return run_experiment(config, run_dir, progress=False)


# ------------------------------------------------------------------------------------------ config
def test_logging_steps_and_report_to_leave_the_hash_alone():
    base = RunConfig(model="random:tiny")
    assert (
        RunConfig(model="random:tiny", logging_steps=1, report_to="tensorboard").resolved_hash() == base.resolved_hash()
    )
    assert RunConfig(model="random:tiny", report_to="wandb, tensorboard").report_to == "wandb, tensorboard"
    with pytest.raises(ConfigError, match="report_to must be none, tensorboard, wandb"):
        RunConfig(model="random:tiny", report_to="mlflow")
    with pytest.raises(ConfigError, match="logging_steps must be >= 0"):
        RunConfig(model="random:tiny", logging_steps=-1)


def test_a_missing_tracker_package_is_one_line_naming_the_extra(tiny_config, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name in ("wandb", "tensorboard", "tensorboardX") else real(name, *a),
    )
    for tracker in ("wandb", "tensorboard"):
        with pytest.raises(ConfigError, match=rf"pip install 'xlprompt\[{tracker}\]'"):
            run_experiment(tiny_config(report_to=tracker), tmp_path / tracker, progress=False)
        assert not (tmp_path / tracker).exists()  # refused before the run folder is made


# ------------------------------------------------------------------------------------------ step records
def test_step_records_average_the_steps_since_the_last_and_match_the_epochs(tiny_config, tmp_path):
    """logging_steps=1: one record per optimiser step; the epoch's mean of them is metrics.jsonl's epoch line
    (each recomputed here from the other file). logging_steps=2: each record is the mean of two steps."""
    config = tiny_config(method="mpt", shots=2, epochs=2, logging_steps=1)
    quiet_run(config, tmp_path / "every")
    steps = read_lines(tmp_path / "every" / "steps.jsonl")
    epochs = read_lines(tmp_path / "every" / "metrics.jsonl")
    per_epoch = len(steps) // 2
    assert per_epoch > 2 and len(steps) == 2 * per_epoch
    assert [r["step"] for r in steps] == list(range(1, len(steps) + 1))
    assert all(set(r) == STEP_KEYS for r in steps)
    for index, epoch in enumerate(epochs):
        mine = steps[index * per_epoch : (index + 1) * per_epoch]
        for key in ("loss", "ce", "kl"):
            assert sum(r[key] for r in mine) / per_epoch == pytest.approx(epoch[key], rel=1e-9)
        assert mine[-1]["lr"] == epoch["lr"] and mine[-1]["epoch"] == index + 1

    quiet_run(tiny_config(method="mpt", shots=2, epochs=2, logging_steps=2), tmp_path / "pairs")
    pairs = read_lines(tmp_path / "pairs" / "steps.jsonl")
    assert [r["step"] for r in pairs] == list(range(2, len(steps) + 1, 2))
    for record in pairs:
        both = steps[record["step"] - 2 : record["step"]]
        assert record["loss"] == pytest.approx((both[0]["loss"] + both[1]["loss"]) / 2, rel=1e-9)

    quiet_run(tiny_config(method="sp", shots=2, epochs=1, logging_steps=0), tmp_path / "none")
    assert not (tmp_path / "none" / "steps.jsonl").exists()


def test_run_log_holds_the_notes_step_and_epoch_lines_without_a_configured_logger(tiny_config, tmp_path):
    run_dir = tmp_path / "run"
    quiet_run(tiny_config(method="mpt", epochs=2, logging_steps=3), run_dir)
    log = (run_dir / "run.log").read_text("utf-8")
    assert RANDOM_WEIGHTS_NOTE in log and "data: the shipped demo sample" in log
    assert "train mpt: step 3/" in log and "train mpt: epoch 2/2:" in log and "dev " in log
    assert "\x1b" not in log and "\r" not in log
    quiet_run(tiny_config(method="mpt", epochs=2, logging_steps=3), run_dir)  # finished: reused, appended
    again = (run_dir / "run.log").read_text("utf-8")
    assert again.startswith(log) and "already finished" in again[len(log) :]


class _Killed(Exception):
    pass


def test_a_resumed_run_keeps_its_step_records_and_tensorboard_drops_the_redone_steps(
    tiny_config, tmp_path, monkeypatch
):
    tensorboard = pytest.importorskip("tensorboard")  # noqa: F841
    import xlprompt.trainer as trainer_module
    from xlprompt.checkpoint import save_checkpoint

    # 10 steps an epoch: the record of step 12 spans the end of epoch 1, where the run resumes
    settings = dict(method="mpt", epochs=3, logging_steps=3, checkpoint_every_s=0, report_to="tensorboard")
    quiet_run(tiny_config(**settings), tmp_path / "reference")

    def die_at_the_second_checkpoint(run_dir, epoch, state):
        if epoch == 1:
            raise _Killed  # epoch 2 trained and recorded, its checkpoint never written
        save_checkpoint(run_dir, epoch, state)

    with monkeypatch.context() as patch:
        patch.setattr(trainer_module, "save_checkpoint", die_at_the_second_checkpoint)
        with pytest.raises(_Killed):
            quiet_run(tiny_config(**settings), tmp_path / "run")
    redone = read_lines(tmp_path / "run" / "steps.jsonl")
    quiet_run(tiny_config(**settings), tmp_path / "run")

    reference = read_lines(tmp_path / "reference" / "steps.jsonl")
    assert [r["step"] for r in reference] == list(range(3, 31, 3))
    assert read_lines(tmp_path / "run" / "steps.jsonl") == reference  # each step once, as uninterrupted
    assert len(redone) > len(reference) // 3  # the killed attempt had recorded past its checkpoint
    log = (tmp_path / "run" / "run.log").read_text("utf-8")
    assert log.count("train mpt: epoch 2/3:") == 2 and "resumed after epoch 1 of 3" in log  # appended

    scalars = tensorboard_scalars(tmp_path / "run")
    assert [step for step, _ in scalars["train/loss"]] == [r["step"] for r in reference]
    assert [value for _, value in scalars["train/loss"]] == pytest.approx([r["loss"] for r in reference])


# ------------------------------------------------------------------------------------------ trackers
def tensorboard_scalars(run_dir: Path, sub: str = "tensorboard") -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / sub if sub else run_dir))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_the_tensorboard_event_file_holds_the_step_and_epoch_scalars(tiny_config, tmp_path):
    pytest.importorskip("tensorboard")
    run_dir = tmp_path / "run"
    results = quiet_run(tiny_config(method="mpt", epochs=2, logging_steps=1, report_to="tensorboard"), run_dir)
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    scalars = tensorboard_scalars(run_dir)
    steps = read_lines(run_dir / "steps.jsonl")
    epochs = read_lines(run_dir / "metrics.jsonl")
    for key in ("loss", "ce", "kl", "lr"):
        assert [s for s, _ in scalars[f"train/{key}"]] == [r["step"] for r in steps]
        assert [v for _, v in scalars[f"train/{key}"]] == pytest.approx([r[key] for r in steps], rel=1e-6)
    per_epoch = len(steps) // 2
    for key in ("loss", "ce", "kl", "lr", "dev_accuracy"):
        assert [s for s, _ in scalars[f"epoch/{key}"]] == [per_epoch, 2 * per_epoch]  # at the epoch's last step
        assert [v for _, v in scalars[f"epoch/{key}"]] == pytest.approx([r[key] for r in epochs], rel=1e-6)
    assert [v for _, v in scalars["test/avg"]] == pytest.approx([results["accuracy"]["avg"]])


def _wandb_records(run_dir: Path) -> list:
    """The records of an offline W&B run's ``.wandb`` file: W&B's LevelDB-style log (a 7-byte header ``:W&B``,
    0xBEE1, version; 32 KiB blocks of chunks, each ``crc32 (4) length (2) type (1)``; types full 1, first 2,
    middle 3, last 4), each record a ``wandb_internal_pb2.Record``."""
    from wandb.proto import wandb_internal_pb2

    [path] = run_dir.glob("wandb/offline-run-*/run-*.wandb")
    data = path.read_bytes()
    assert struct.unpack("<4sHB", data[:7]) == (b":W&B", 0xBEE1, 0)
    block, pos, pending, records = 32768, 7, b"", []
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:  # a block's tail too short for a chunk header is padding
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        if kind in (1, 2):
            pending = chunk
        elif kind in (3, 4):
            pending += chunk
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
    return records


@pytest.mark.slow
def test_an_offline_wandb_run_holds_the_scalars_its_group_and_name(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_PROJECT", "xlprompt-tests")
    sweep_file = tmp_path / "s.yaml"
    sweep_file.write_text(
        yaml.safe_dump(
            {
                "name": "wb",
                "base": {**FAST, "epochs": 2, "logging_steps": 2, "report_to": "wandb"},
                "grid": {"method": ["mpt"], "shots": [1], "seed": [1]},
            }
        )
    )
    result = CliRunner().invoke(cli, ["sweep", str(sweep_file), "--store", str(tmp_path / "r.db"), "--quiet"])
    assert result.exit_code == 0, result.output
    [run_dir] = [p for p in (tmp_path / "r.runs").iterdir() if p.is_dir()]
    records = _wandb_records(run_dir)
    [run] = [r.run for r in records if r.WhichOneof("record_type") == "run"]
    assert run.project == "xlprompt-tests" and run.run_group == "wb" and run.display_name == run_dir.name
    config = {item.key: json.loads(item.value_json) for item in run.config.update}
    assert config["method"] == "mpt" and config["hash"] == run_dir.name.rsplit("-", 1)[1]
    history = [
        {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in r.history.item}
        for r in records
        if r.WhichOneof("record_type") == "history"
    ]
    steps = read_lines(run_dir / "steps.jsonl")
    logged = [h for h in history if "train/loss" in h]
    assert [h["_step"] for h in logged] == [r["step"] for r in steps]
    assert [h["train/loss"] for h in logged] == pytest.approx([r["loss"] for r in steps])
    assert [h["train/kl"] for h in logged] == pytest.approx([r["kl"] for r in steps])
    dev = [h["epoch/dev_accuracy"] for h in history if "epoch/dev_accuracy" in h]
    assert dev == pytest.approx([r["dev_accuracy"] for r in read_lines(run_dir / "metrics.jsonl")])
    assert any("test/avg" in h for h in history)


# ------------------------------------------------------------------------------------------ the console
def _sweep_file(tmp_path: Path, **base) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(
        yaml.safe_dump(
            {"name": "tiny", "base": {**FAST, **base}, "grid": {"method": ["sp", "mpt"], "shots": [1], "seed": [1]}}
        )
    )
    return path


def test_a_sweep_logged_to_a_file_has_plain_step_lines_and_no_escape_codes(tmp_path):
    """As a cluster job writes it: stdout and stderr to one file."""
    sweep_file = _sweep_file(tmp_path, logging_steps=2)
    log_path = tmp_path / "sweep.log"
    code = "import sys; from xlprompt.cli import main; sys.argv = ['xlprompt'] + sys.argv[1:]; main()"
    with open(log_path, "w") as log:
        done = subprocess.run(
            [sys.executable, "-c", code, "sweep", str(sweep_file), "--store", str(tmp_path / "r.db")],
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=300,
            env={**os.environ, "TERM": "xterm-256color"},
        )
    text = log_path.read_text("utf-8")
    assert done.returncode == 0, text[-3000:]
    assert "\x1b" not in text and "\r" not in text
    assert "train mpt: step 2/20 (10%), epoch 1/2: loss " in text and " step/s, " in text and " left" in text
    assert "train sp: epoch 1/2: loss " in text and "train mpt: epoch 2/2: loss " in text
    assert "sweep tiny: run 1/2 starting: sp xnli k=1 seed=1 [" in text
    assert "sweep tiny: 2/2 runs finished: mpt xnli k=1 seed=1 [" in text
    assert text.count(RANDOM_WEIGHTS_NOTE) == 1  # once, not per run
    folders = sorted(p.name for p in (tmp_path / "r.runs").iterdir())
    assert [f.rsplit("-", 1)[0] for f in folders] == ["mpt-xnli-k1-s1", "sp-xnli-k1-s1"]
    for folder in folders:
        run_log = (tmp_path / "r.runs" / folder / "run.log").read_text("utf-8")
        assert "\x1b" not in run_log and "epoch 2/2" in run_log


def test_quiet_and_verbose(tmp_path):
    args = [
        "run",
        "--model",
        "random:tiny",
        "--data-dir",
        "builtin:demo",
        "--method",
        "mpt",
        "--shots",
        "1",
        "--set",
        "epochs=2",
        "--set",
        "max_length=64",
        "--set",
        "eval_languages=en",
        "--set",
        "logging_steps=4",
    ]
    plain = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "plain")])
    assert plain.exit_code == 0, plain.output
    assert "train mpt: step 4/" in plain.output and "train mpt: epoch 2/2" in plain.output  # not a terminal
    assert plain.output.count(RANDOM_WEIGHTS_NOTE) == 1
    assert "(random weights: chance-level numbers)" in plain.output  # the table says so too

    quiet = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "quiet"), "--quiet"])
    assert quiet.exit_code == 0, quiet.output
    assert "train mpt" not in quiet.output and RANDOM_WEIGHTS_NOTE in quiet.output and "Avg" in quiet.output
    assert "train mpt: step 4/" in (tmp_path / "quiet" / "run.log").read_text("utf-8")  # the log keeps them

    verbose = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "verbose"), "--verbose"])
    assert verbose.exit_code == 0, verbose.output
    assert "mpt: accuracy en " in verbose.output  # a DEBUG line
    assert "mpt: accuracy en " not in plain.output


def test_a_finished_sweep_bar_says_done(tmp_path, capsys):
    from xlprompt.executors import LocalExecutor
    from xlprompt.sweep import load_sweep

    sweep = load_sweep(_sweep_file(tmp_path, epochs=1))
    summary = LocalExecutor(progress="bar").run(sweep, tmp_path / "r.db", tmp_path / "runs")
    assert summary.ran == 2
    last = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()
    final = [line for line in last if line.startswith("sweep tiny")][-1]
    assert final.rstrip().endswith("done]") and "left" not in final and "now" not in final


def test_every_cli_option_has_help():
    import click

    missing = []

    def walk(command, path):
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, [*path, name])
            return
        missing.extend(
            f"{' '.join(path)} {p.opts[0]}" for p in command.params if isinstance(p, click.Option) and not p.help
        )

    walk(cli, ["xlprompt"])
    assert missing == []


# ------------------------------------------------------------------------------------------ run folders
def test_sweep_run_folders_are_named_and_old_hash_folders_are_still_used(tmp_path):
    import importlib.util

    from xlprompt.executors import LocalExecutor
    from xlprompt.store import ResultStore
    from xlprompt.sweep import load_sweep

    tensorboard = importlib.util.find_spec("tensorboard") is not None
    sweep = load_sweep(_sweep_file(tmp_path, epochs=1, **({"report_to": "tensorboard"} if tensorboard else {})))
    runs = tmp_path / "runs"
    old = next(r for r in sweep.runs if r.config.method == "sp")
    # a store of before: the run finished in a folder named by its hash, the store lost its row
    quiet_run(old.config, runs / old.hash)
    summary = LocalExecutor(progress=False).run(sweep, tmp_path / "r.db", runs)
    assert summary.ran == 2
    names = sorted(p.name for p in runs.iterdir() if p.name != "tensorboard")
    new = next(r for r in sweep.runs if r.config.method == "mpt")
    assert names == sorted([old.hash, f"mpt-xnli-k1-s1-{new.hash}"])
    with ResultStore(tmp_path / "r.db") as store:
        assert Path(store.get(old.hash).run_dir) == runs / old.hash
        assert "already finished" in (runs / old.hash / "run.log").read_text("utf-8")  # reused, not retrained
    if tensorboard:  # the sweep's runs, grouped: tensorboard --logdir runs/tensorboard
        from tensorboard.backend.event_processing.plugin_event_multiplexer import EventMultiplexer

        multiplexer = EventMultiplexer().AddRunsFromDirectory(str(runs / "tensorboard"))
        multiplexer.Reload()
        assert sorted(multiplexer.Runs()) == sorted(f"tiny/{name}" for name in names)
        linked = runs / "tensorboard" / "tiny" / f"mpt-xnli-k1-s1-{new.hash}"
        assert linked.is_symlink() and linked.resolve() == (runs / f"mpt-xnli-k1-s1-{new.hash}" / "tensorboard")
        assert {"train/loss", "train/kl", "epoch/dev_accuracy"} <= set(
            tensorboard_scalars(linked.parent / linked.name, sub="")
        )
