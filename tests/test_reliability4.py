"""Reliability by cause, round four: each cause fixed where it lives, a test over its class, a test per case.

* writers trust no path: every output name must be absent or a regular file (a link, FIFO, socket or device is
  refused in one line, before any work); lock and log files are opened without following links; a tracker's
  path in the run folder is checked before the run loads anything;
* saves that a later call finishes: a staged folder killed at any point of its swap is finished (or undone)
  by the next writer of that folder, and nothing of a dead writer survives; one lock per toy model;
* the library validates what the command line validates; messages name the situation.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from xlprompt.cli import cli
from xlprompt.config import RunConfig
from xlprompt.errors import ConfigError, XlpromptError

FAST = {
    "model": "random:tiny",
    "data_dir": "builtin:demo",
    "epochs": 1,
    "max_length": 64,
    "batch_size": 6,
    "eval_batch_size": 32,
    "eval_languages": "en",
    "num_threads": 1,
    "device": "cpu",
    "shots": 1,
    "method": "sp",
    "freeze_plm": True,
}
SRC = str(Path(__file__).resolve().parents[1] / "src")


def _error(result) -> str:
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), (result.exit_code, result.output)
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def _dead_pid() -> int:
    """The pid of a process that has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _make(kind: str, path: Path, target: Path) -> Path:
    """``path`` made as a node of ``kind``; ``target``: a regular file outside, that a link points to."""
    if kind == "link":
        path.symlink_to(target)
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
        sock.close()
    elif kind == "device":
        if os.geteuid() != 0:
            pytest.skip("making a device node needs root")
        os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # as /dev/null
    elif kind == "folder":
        path.mkdir()
    return path


KINDS = {
    "link": "a symbolic link",
    "fifo": "a FIFO (named pipe)",
    "socket": "a socket",
    "device": "a device",
}


# ------------------------------------------------------------------------------ 1. writers trust no path
@pytest.mark.parametrize("kind", list(KINDS))
def test_the_atomic_writer_and_the_output_check_refuse_every_name_that_is_not_a_regular_file(tmp_path, kind):
    from xlprompt.safety import atomic_write_bytes, check_output_file

    target = tmp_path / "outside.txt"
    target.write_text("keep")
    node = _make(kind, tmp_path / "out.jsonl", target)
    before = os.lstat(node)
    for write, what in (
        (lambda: atomic_write_bytes(node, b"new"), "output file"),
        (lambda: check_output_file(node, "--output file"), "--output file"),
    ):
        with pytest.raises(XlpromptError) as err:
            write()
        assert str(err.value) == (
            f"{node}: the {what} is {KINDS[kind]}; xlprompt writes only a new file or over a regular file: "
            "remove it or pass another path"
        )
    after = os.lstat(node)
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)  # the node itself, unchanged
    assert target.read_text() == "keep" and sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "outside.txt"]


def test_a_lock_or_log_file_that_is_a_link_or_a_folder_is_one_line_and_its_target_is_untouched(tmp_path):
    from xlprompt.safety import RunLock
    from xlprompt.tracking import run_log

    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    for name, enter in ((".lock", lambda run: RunLock(run)), ("run.log", lambda run: run_log(run))):
        for kind in ("link", "folder"):
            run = tmp_path / f"run-{name}-{kind}"
            run.mkdir()
            _make(kind, run / name, outside)
            with pytest.raises(XlpromptError, match=rf"^{run / name}: the (lock file|run log) is a "):
                with enter(run):
                    pass
            assert outside.read_text() == "precious" and os.path.lexists(run / name)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    from xlprompt.experiment import run_experiment

    out = tmp_path_factory.mktemp("rel4") / "run"
    run_experiment(RunConfig(**FAST), out, progress=False, log=lambda _m: None)
    return out


@pytest.mark.parametrize("kind", ["link", "fifo"])
def test_predict_output_and_build_parallel_out_refuse_a_link_or_fifo_before_any_work(finished_run, tmp_path, kind):
    inp = tmp_path / "in.jsonl"
    inp.write_text(json.dumps({"premise": "a", "hypothesis": "b"}) + "\n")
    target = tmp_path / "outside.txt"
    target.write_text("keep")
    node = _make(kind, tmp_path / "out.jsonl", target)
    result = CliRunner().invoke(
        cli, ["predict", "--run", str(finished_run), "--input", str(inp), "--output", str(node)]
    )
    assert _error(result) == (
        f"error: {node}: the --output file is {KINDS[kind]}; xlprompt writes only a new file or over a regular "
        "file: remove it or pass another path; to write to a stream, use --output - (stdout)"
    )
    result = CliRunner().invoke(cli, ["data", "build-parallel", "--source", "xnli-dev", "--out", str(node)])
    assert _error(result).startswith(f"error: {node}: the parallel corpus is {KINDS[kind]}; ")
    assert target.read_text() == "keep" and os.path.lexists(node) and not stat.S_ISREG(os.lstat(node).st_mode)


def test_a_file_where_the_tensorboard_folder_goes_is_refused_before_the_run_loads_anything(
    finished_run, tmp_path, monkeypatch
):
    from xlprompt import experiment

    run = tmp_path / "run"  # a run killed before its first checkpoint: its config is written, nothing else
    run.mkdir()
    (run / "config.json").write_bytes((finished_run / "config.json").read_bytes())
    (run / "tensorboard").write_text("not a folder")
    from xlprompt import run_data

    monkeypatch.setattr(run_data, "load_run_data", lambda *a, **k: pytest.fail("data loaded before the check"))
    with pytest.raises(ConfigError) as err:
        experiment.run_experiment(RunConfig(**FAST, report_to="tensorboard"), run, progress=False)
    assert str(err.value) == (
        f"{run / 'tensorboard'}: report_to=tensorboard writes its event files into this folder, but it is a "
        "file; move it away (or set report_to=none)"
    )
    assert sorted(p.name for p in run.iterdir()) == ["config.json", "tensorboard"]


# ------------------------------------------------------------------------ 2. saves a later call finishes
KILL_SCRIPT = r"""
import os, shutil, sys
from pathlib import Path
from xlprompt import safety
out, kill_at, version = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
names = [f"f{i:02d}.bin" for i in range(10)] + (["extra.bin"] if version == "v1" else []) + ["config.json"]
real_replace, count = os.replace, [0]
def replace(src, dst):
    if count[0] == kill_at:
        os._exit(9)
    count[0] += 1
    return real_replace(src, dst)
def rmtree(*args, **kwargs):
    os._exit(9)
with safety.staged_folder(out, names + ["extra.bin"]) as tmp:
    for name in names:
        (tmp / name).write_text(version)
    if kill_at >= 0:
        os.replace = replace
    if kill_at == 99:
        shutil.rmtree = rmtree
"""


def _write_staged(out: Path, kill_at: int, version: str) -> int:
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(out), str(kill_at), version], env=env).returncode


def _state(out: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(out.iterdir())}


V1 = {**{f"f{i:02d}.bin": "v1" for i in range(10)}, "extra.bin": "v1", "config.json": "v1", "notes.txt": "mine"}
V2 = {**{f"f{i:02d}.bin": "v2" for i in range(10)}, "config.json": "v2", "notes.txt": "mine"}


@pytest.mark.parametrize("kill_at", [0, 1, 6, 11, 12, 13, 20, 23, 99])
def test_a_staged_write_killed_anywhere_in_its_swap_is_finished_or_undone_by_the_next_call(tmp_path, kill_at):
    """Renames of the swap: 0 the journal (the point of no return), 1-12 the earlier entries moved aside, 13-23
    the new ones placed; 99: killed while removing its folders, after the swap."""
    from xlprompt.safety import recover_staged

    out = tmp_path / "adapter"
    assert _write_staged(out, -1, "v1") == 0
    (out / "notes.txt").write_text("mine")
    assert _state(out) == V1
    assert _write_staged(out, kill_at, "v2") == 9  # killed
    assert any(p.name.startswith(".adapter.") for p in tmp_path.iterdir())  # it left its folders
    finished = recover_staged(out)  # what the next writer of the folder does first
    assert _state(out) == (V1 if kill_at == 0 else V2)
    assert len(finished) == (0 if kill_at == 0 else 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adapter"]  # nothing of the killed writer is left


def test_a_live_writers_staging_is_left_alone_and_a_dead_ones_is_removed_by_every_writer(tmp_path, finished_run):
    """export, report and save_pretrained write through the staged folder: each removes what a dead writer of
    its folder left, and leaves alone what a live one is building."""
    import xlprompt
    from xlprompt.export import export_run
    from xlprompt.report import build_report
    from xlprompt.safety import recover_staged
    from xlprompt.store import ResultStore

    store = tmp_path / "empty.db"
    with ResultStore(store):
        pass

    dead, alive = _dead_pid(), os.getppid()
    writers = {
        "adapter": lambda out: export_run(finished_run, out),
        "model": lambda out: xlprompt.PromptModel.from_config(RunConfig(**FAST)).save_pretrained(out),
        "report": lambda out: build_report(store, out),
    }
    for name, write in writers.items():
        out = tmp_path / name
        for pid in (dead, alive):
            for kind in ("tmp", "old"):
                (tmp_path / f".{name}.{kind}{pid}").mkdir()
                (tmp_path / f".{name}.{kind}{pid}" / "weights.bin").write_bytes(b"x" * 10)
        write(out)
        left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(f".{name}."))
        assert left == [f".{name}.old{alive}", f".{name}.tmp{alive}"], (name, left)


def test_two_builds_of_one_toy_model_pre_train_it_once_and_the_second_waits_and_reuses_it(tmp_path, monkeypatch):
    from xlprompt.models import toy

    calls: list[int] = []

    def fake_pretrain(name, seed, out):  # the build is not under test: a complete folder, slowly enough to overlap
        calls.append(seed)
        time.sleep(0.3)
        out.mkdir(parents=True, exist_ok=True)
        (out / "pretraining.json").write_text(json.dumps({"seconds": 0, "loss_first": 1, "loss_last": 0}), "utf-8")
        return {"seconds": 0, "loss_first": 1, "loss_last": 0}

    monkeypatch.setattr(toy, "pretrain_toy_model", fake_pretrain)
    spec = toy.TOY_PREFIX + next(iter(toy.TOY_MODELS))
    folder = toy.toy_model_dir(spec, tmp_path)
    folder.parent.mkdir(parents=True)
    (folder.parent / f"{folder.name}.tmp_killed").mkdir()  # what a killed build left
    logs: list[list[str]] = [[], []]
    found: list[Path] = []
    threads = [
        threading.Thread(target=lambda i=i: found.append(toy.ensure_toy_model(spec, tmp_path, log=logs[i].append)))
        for i in range(2)
    ]
    for thread in threads:
        thread.start()
        time.sleep(0.05)
    for thread in threads:
        thread.join()
    assert calls == [toy.DEFAULT_SEED] and found == [folder, folder] and toy.is_built(folder)
    assert any("is being built by process" in line and "waiting to use it" in line for line in logs[1]), logs
    assert sorted(p.name for p in folder.parent.iterdir()) == sorted([folder.name, f".{folder.name}.lock"])
