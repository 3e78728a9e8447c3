"""Interruption: checkpoints are atomic; a run killed with SIGKILL resumes from the last checkpoint
and ends with exactly the metrics of an uninterrupted run (CPU); a corrupt checkpoint, run directory or
results file is reported (one ``error:`` line, exit 2), never overwritten or mixed into results.

The runs here set ``checkpoint_every_s=0`` (a checkpoint after every epoch, the interval at its
smallest) so that a kill after the first epoch finds one.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from xlprompt.checkpoint import CHECKPOINT_DIR, LATEST, save_checkpoint
from xlprompt.cli import cli

XLPROMPT = Path(sys.executable).with_name("xlprompt")


@pytest.fixture(autouse=True)
def _keep_torch_threads():
    """The runs here set num_threads=1 (so a subprocess and this process compute alike); undo it afterwards."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def run_args(out: Path, epochs: int = 6, seed: int = 1) -> list[str]:
    return [
        "run",
        "--model",
        "random:tiny",
        "--data-dir",
        "builtin:demo",
        "--method",
        "mpt",
        "--shots",
        "4",
        "--seed",
        str(seed),
        "--out",
        str(out),
        "--quiet",
        "--no-save-weights",
        "--set",
        f"epochs={epochs}",
        "--set",
        "batch_size=6",
        "--set",
        "max_length=64",
        "--set",
        "device=cpu",
        "--set",
        "num_threads=1",
        "--set",
        "eval_languages=en,de,zh",
        "--set",
        "checkpoint_every_s=0",
    ]


def curve(run_dir: Path) -> list[dict]:
    """metrics.jsonl without the wall-clock seconds."""
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


def outcome(run_dir: Path) -> dict:
    results = json.loads((run_dir / "results.json").read_text())
    return {k: results[k] for k in ("accuracy", "best_epoch", "best_dev_accuracy", "config_hash")}


def error_line(result, *fragments: str) -> str:
    assert result.exit_code == 2, (result.output, result.exception)
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], f"{fragment!r} not in {errors[0]!r}"
    return errors[0]


# ----------------------------------------------------------------------------------------------- SIGKILL
def _command(out: Path) -> list[str]:
    base = [str(XLPROMPT)] if XLPROMPT.exists() else [sys.executable, "-c", "from xlprompt.cli import main; main()"]
    return base + run_args(out)


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkilled_run_resumes_to_the_same_metrics(tmp_path):
    """Kill ``xlprompt run`` (a real process, SIGKILL) after its first checkpoint, run the same command again,
    and compare with an uninterrupted run of the same config (run in this process meanwhile)."""
    reference_dir, victim_dir = tmp_path / "uninterrupted", tmp_path / "killed"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    victim = subprocess.Popen(_command(victim_dir), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    pointer = victim_dir / CHECKPOINT_DIR / LATEST
    deadline = time.monotonic() + 300
    while not pointer.exists() and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert victim.poll() is None, f"the run ended before its first checkpoint: {victim.stderr.read()!r}"
    victim.send_signal(signal.SIGKILL)  # no clean-up of any kind
    victim.wait()
    victim.stderr.close()
    assert victim.returncode == -signal.SIGKILL
    assert not (victim_dir / "results.json").exists(), "killed too late: the run had finished"
    assert json.loads(pointer.read_text())["epoch"] < 5

    resumed = subprocess.Popen(_command(victim_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    reference = CliRunner().invoke(cli, run_args(reference_dir))  # uninterrupted, while the process starts
    assert reference.exit_code == 0, reference.output
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert "resumed after epoch" in out

    assert curve(victim_dir) == curve(reference_dir)  # every epoch's loss parts, lr and dev accuracy
    assert len(curve(victim_dir)) == 6
    assert outcome(victim_dir) == outcome(reference_dir)
    assert not (victim_dir / CHECKPOINT_DIR).exists()  # removed once the run is complete


# ----------------------------------------------------------------------------------------------- in-process
class _Killed(Exception):
    """Stands for a kill: raised right after a checkpoint is written."""


@pytest.fixture(scope="module")
def _interrupted_template(tmp_path_factory):
    import xlprompt.trainer as trainer_module

    def save_then_die(run_dir, epoch, state):
        save_checkpoint(run_dir, epoch, state)
        raise _Killed

    run_dir = tmp_path_factory.mktemp("interrupted") / "run"
    threads = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(trainer_module, "save_checkpoint", save_then_die)
        result = CliRunner().invoke(cli, run_args(run_dir, epochs=3))
    torch.set_num_threads(threads)
    assert isinstance(result.exception, _Killed), result.output
    assert json.loads((run_dir / CHECKPOINT_DIR / LATEST).read_text())["epoch"] == 0
    return run_dir


@pytest.fixture
def interrupted(_interrupted_template, tmp_path):
    """A run directory left by a run of 3 epochs killed right after its first checkpoint (epoch 1)."""
    run_dir = tmp_path / "run"
    shutil.copytree(_interrupted_template, run_dir)
    return run_dir


def _checkpoint_file(run_dir: Path) -> Path:
    return run_dir / CHECKPOINT_DIR / json.loads((run_dir / CHECKPOINT_DIR / LATEST).read_text())["file"]


def _snapshot(run_dir: Path) -> dict[str, bytes]:
    """Every file of the run folder but its log (which each attempt appends to)."""
    return {
        str(p.relative_to(run_dir)): p.read_bytes()
        for p in sorted(run_dir.rglob("*"))
        if p.is_file() and p.name != "run.log"
    }


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The same 3-epoch run as ``interrupted``, never stopped."""
    run_dir = tmp_path_factory.mktemp("uninterrupted") / "run"
    threads = torch.get_num_threads()
    result = CliRunner().invoke(cli, run_args(run_dir, epochs=3))
    torch.set_num_threads(threads)
    assert result.exit_code == 0, result.output
    return run_dir


def test_killed_run_resumes_in_process_to_the_same_metrics(interrupted, uninterrupted):
    resumed = CliRunner().invoke(cli, run_args(interrupted, epochs=3))
    assert resumed.exit_code == 0, resumed.output
    assert "resumed after epoch 1" in resumed.output
    assert curve(interrupted) == curve(uninterrupted)
    assert outcome(interrupted) == outcome(uninterrupted)


def test_crash_while_writing_a_checkpoint_keeps_the_previous_one(interrupted, uninterrupted):
    """A kill in the middle of writing epoch 2's checkpoint (half the bytes on disk) leaves latest.json on the
    complete epoch-1 file; the next run resumes from it and ends like an uninterrupted run."""
    import xlprompt.checkpoint as checkpoint_module

    real_save = torch.save

    def half_written(state, fh):
        real_save(state, fh)
        fh.seek(fh.tell() // 2)
        fh.truncate()
        raise _Killed

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(checkpoint_module.torch, "save", half_written)
        result = CliRunner().invoke(cli, run_args(interrupted, epochs=3))
    assert isinstance(result.exception, _Killed)
    folder = interrupted / CHECKPOINT_DIR
    # the half-written temporary file is removed on the failure (none is left to fill the disk)
    names = {p.name for p in folder.iterdir()}
    assert {"epoch-0000.pt", LATEST} <= names and not [n for n in names if ".tmp" in n]
    assert names - {"epoch-0000.pt", LATEST} <= {"best-0001.pt", "best-0002.pt"}  # the best epoch's own file
    assert json.loads((folder / LATEST).read_text())["epoch"] == 0  # still the complete file

    resumed = CliRunner().invoke(cli, run_args(interrupted, epochs=3))
    assert resumed.exit_code == 0, resumed.output
    assert "resumed after epoch 1" in resumed.output
    assert not folder.exists()
    assert curve(interrupted) == curve(uninterrupted)
    assert outcome(interrupted) == outcome(uninterrupted)


def _flip_bytes(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for at in (len(data) // 3, len(data) // 2):
        data[at] ^= 0xFF
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize(
    "damage, fragments",
    [
        (
            lambda d: _flip_bytes(_checkpoint_file(d)),
            ("epoch-0000.pt", "checkpoint is corrupt (SHA-256 mismatch)", "to restart the run from scratch"),
        ),
        (lambda d: _truncate(_checkpoint_file(d)), ("epoch-0000.pt", "checkpoint is corrupt (SHA-256 mismatch)")),
        (
            lambda d: (d / CHECKPOINT_DIR / LATEST).write_text('{"file": "epoch-0000.pt", "sha'),
            ("latest.json", "unreadable checkpoint pointer"),
        ),
        (lambda d: (d / CHECKPOINT_DIR / LATEST).write_text("[]"), ("latest.json", "unreadable checkpoint pointer")),
        (lambda d: _checkpoint_file(d).unlink(), ("epoch-0000.pt", "is missing")),
    ],
)
def test_corrupt_checkpoint_is_reported_and_left_alone(damage, fragments, interrupted):
    damage(interrupted)
    before = _snapshot(interrupted)
    log = (interrupted / "run.log").read_text("utf-8")
    error_line(CliRunner().invoke(cli, run_args(interrupted, epochs=3)), *fragments)
    assert _snapshot(interrupted) == before  # nothing overwritten, nothing added
    appended = (interrupted / "run.log").read_text("utf-8")
    assert appended.startswith(log) and "ERROR" in appended[len(log) :] and fragments[0] in appended[len(log) :]
    assert not (interrupted / "results.json").exists()


def test_unreadable_checkpoint_with_a_matching_digest(interrupted):
    """A pointer rewritten to match a damaged file (digest ok, content not a checkpoint) is still refused."""
    import hashlib

    path = _checkpoint_file(interrupted)
    path.write_bytes(b"not a torch file" * 10)
    pointer = interrupted / CHECKPOINT_DIR / LATEST
    pointer.write_text(
        json.dumps({"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "epoch": 0})
    )
    line = error_line(
        CliRunner().invoke(cli, run_args(interrupted, epochs=3)), path.name, "checkpoint cannot be read (", "delete"
    )
    assert "weights_only" not in line  # torch's advice to unpickle untrusted files is not passed on


def test_checkpoint_of_another_config_is_refused(interrupted):
    path = _checkpoint_file(interrupted)
    state = torch.load(path, map_location="cpu", weights_only=True)
    state["config_hash"] = "0" * 16
    save_checkpoint(interrupted, 0, state)  # a consistent pointer: only the config differs
    before = _snapshot(interrupted)
    error_line(
        CliRunner().invoke(cli, run_args(interrupted, epochs=3)),
        str(interrupted),
        "the checkpoint belongs to another config",
    )
    assert _snapshot(interrupted) == before


def test_run_directory_of_another_config_is_refused(interrupted):
    before = _snapshot(interrupted)
    error_line(
        CliRunner().invoke(cli, run_args(interrupted, epochs=3, seed=2)),
        str(interrupted),
        "holds a run of another config (differs in: seed)",
        "use a new --out directory",
    )
    assert _snapshot(interrupted) == before


@pytest.mark.parametrize("text, fragment", [("{broken", "unreadable"), ("[1, 2]", "corrupt (not the config")])
def test_corrupt_config_json_is_reported(text, fragment, interrupted):
    (interrupted / "config.json").write_text(text)
    before = _snapshot(interrupted)
    error_line(CliRunner().invoke(cli, run_args(interrupted, epochs=3)), "config.json", fragment)
    assert _snapshot(interrupted) == before


@pytest.fixture(scope="module")
def _finished_template(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("finished") / "done"
    threads = torch.get_num_threads()
    result = CliRunner().invoke(cli, run_args(run_dir, epochs=1))
    torch.set_num_threads(threads)
    assert result.exit_code == 0, result.output
    return run_dir


@pytest.fixture
def finished(_finished_template, tmp_path):
    """A finished run directory; running the same command again reuses its results."""
    run_dir = tmp_path / "done"
    shutil.copytree(_finished_template, run_dir)
    again = CliRunner().invoke(cli, run_args(run_dir, epochs=1))
    assert again.exit_code == 0 and "already finished" in again.output
    return run_dir


@pytest.mark.parametrize(
    "damage, fragment",
    [
        # cut at a line end (never inside a string, whose length varies with paths and timings)
        (lambda text: text[: text.index("\n", len(text) // 2)], "results.json: corrupt (Expecting"),
        (lambda text: "[]", "results.json: corrupt or of another run"),
        (lambda text: text.replace('"config_hash": "', '"config_hash": "x'), "results.json: corrupt or of another run"),
    ],
)
def test_corrupt_results_json_is_reported(damage, fragment, finished):
    path = finished / "results.json"
    path.write_text(damage(path.read_text()))
    before = _snapshot(finished)
    error_line(CliRunner().invoke(cli, run_args(finished, epochs=1)), fragment, "delete it to re-evaluate")
    assert _snapshot(finished) == before


def test_directory_without_a_run_is_refused(tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    error_line(CliRunner().invoke(cli, run_args(tmp_path / "busy", epochs=1)), "is not empty and holds no xlprompt run")
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"
