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
from datafactory import FAST_RUN

from xlprompt.cli import cli
from xlprompt.config import RunConfig
from xlprompt.errors import ConfigError, XlpromptError

FAST = {**FAST_RUN, "method": "sp", "freeze_plm": True}
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


def _unblock(fifo: Path) -> None:
    """Open and close the writing end of ``fifo``: a reader blocked opening it sees an empty file."""
    try:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass  # nobody reads it (or it is no FIFO)


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


@pytest.mark.parametrize("name, kind", [("metrics.jsonl", "link"), ("results.json", "fifo"), ("steps.jsonl", "link")])
def test_a_run_file_that_is_a_link_or_fifo_is_refused_before_the_run_loads_anything(
    finished_run, tmp_path, monkeypatch, name, kind
):
    from xlprompt import run_data
    from xlprompt.experiment import run_experiment

    run = tmp_path / "run"  # a killed run of this config, resumed
    run.mkdir()
    (run / "config.json").write_bytes((finished_run / "config.json").read_bytes())
    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    node = _make(kind, run / name, outside)
    monkeypatch.setattr(run_data, "load_run_data", lambda *a, **k: pytest.fail("data loaded before the check"))
    watchdog = threading.Timer(5, _unblock, [node])  # a reader blocked on the FIFO gets an end of file: no hang
    watchdog.start()
    try:
        with pytest.raises(XlpromptError) as err:
            run_experiment(RunConfig(**FAST), run, progress=False)
    finally:
        watchdog.cancel()
    assert str(err.value).startswith(f"{node}: the run's {name} is {KINDS[kind]}; xlprompt writes only a new file")
    assert outside.read_text() == "keep" and not stat.S_ISREG(os.lstat(node).st_mode)


# ------------------------------------------------------------------------ 2. saves a later call finishes
KILL_SCRIPT = r"""
import os, shutil, sys
from pathlib import Path
from xlprompt import safety
out, kill_at, version = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
names = [f"f{i:02d}.bin" for i in range(10)] + (["extra.bin"] if version == "v1" else []) + ["config.json"]
names = sys.argv[4].split(",") if len(sys.argv) > 4 else names
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


def _write_staged(out: Path, kill_at: int, version: str, names: tuple[str, ...] = ()) -> int:
    """Write ``out`` through a staged folder in a new process, killed (exit 9) at rename ``kill_at`` (-1: never)."""
    env = {**os.environ, "PYTHONPATH": SRC}
    argv = [sys.executable, "-c", KILL_SCRIPT, str(out), str(kill_at), version, *([",".join(names)] if names else [])]
    return subprocess.run(argv, env=env).returncode


def _state(out: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(out.iterdir())}


V1 = {**{f"f{i:02d}.bin": "v1" for i in range(10)}, "extra.bin": "v1", "config.json": "v1", "notes.txt": "mine"}
V2 = {**{f"f{i:02d}.bin": "v2" for i in range(10)}, "config.json": "v2", "notes.txt": "mine"}


@pytest.mark.parametrize("kill_at", [0, 1, 12, 13, 23, 99])
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
        for pid in (dead, alive):  # each killed (dead) or busy (alive) while building, before its journal is whole
            (tmp_path / f".{name}.tmp{pid}").mkdir()
            (tmp_path / f".{name}.tmp{pid}" / "weights.bin").write_bytes(b"x" * 10)
            (tmp_path / f".{name}.swap{pid}.tmp{pid}").write_bytes(b'{"own')
        write(out)
        left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(f".{name}."))
        assert left == [f".{name}.swap{alive}.tmp{alive}", f".{name}.tmp{alive}"], (name, left)


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


# ------------------------------------------------------------- 3. the library validates what the CLI validates
@pytest.fixture(scope="module")
def predictor(finished_run):
    import xlprompt

    return xlprompt.load_run(finished_run)


@pytest.mark.parametrize(
    "value, message",
    [
        (-1, "batch_size must be >= 1, not -1"),
        (0, "batch_size must be >= 1, not 0"),
        (1.5, "batch_size needs a value of type int, not the float 1.5"),
        (True, "batch_size needs a value of type int, not the bool True"),
        (1_000_001, "batch_size must be <= 1000000, not 1000001"),
    ],
)
def test_predictor_batch_size_follows_the_rule_of_the_command_line(predictor, value, message):
    with pytest.raises(ConfigError) as err:
        predictor.predict([("a cat sleeps", "an animal sleeps")], batch_size=value)
    assert str(err.value) == message
    assert len(predictor.predict([("a cat sleeps", "an animal sleeps")] * 3, batch_size=2)) == 3
    line = _error(
        CliRunner().invoke(cli, ["predict", "--premise", "a", "--hypothesis", "b", "--batch-size", str(value)])
    )
    assert "--batch-size" in line  # the same bounds, as the command line words them


def test_run_with_an_out_dir_that_is_not_a_path_is_one_line(tmp_path, monkeypatch):
    import xlprompt

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as err:
        xlprompt.run(RunConfig(**FAST), 123)
    assert str(err.value) == "the run folder (out_dir) must be a path (a str or pathlib.Path), not int"
    assert list(tmp_path.iterdir()) == []


def test_texts_that_are_not_valid_unicode_are_one_line_in_the_library_and_the_command_line(
    predictor, finished_run, tmp_path
):
    from xlprompt.errors import DataError

    with pytest.raises(DataError) as err:
        predictor.predict([("a cat\udcff sleeps", "an animal sleeps")])
    assert str(err.value) == (
        "pair 0: 'premise' holds U+DCFF at character 6, which is not valid Unicode text (bytes that are not UTF-8?); "
        "pass UTF-8 text"
    )
    result = CliRunner().invoke(
        cli, ["predict", "--run", str(finished_run), "--premise", "ok", "--hypothesis", "\udcffx"]
    )
    assert _error(result).startswith("error: --hypothesis holds U+DCFF at character 1, which is not valid Unicode")
    rows = tmp_path / "in.jsonl"
    rows.write_text('{"premise": "ok", "hypothesis": "bad \\udcff"}\n', "utf-8")  # a JSON escape of a lone surrogate
    line = _error(CliRunner().invoke(cli, ["predict", "--run", str(finished_run), "--input", str(rows)]))
    assert line.startswith(f"error: {rows}:1: 'hypothesis' holds U+DCFF at character 5, which is not valid Unicode")


# ---------------------------------------------------------------------- 4. messages named after the situation
def _one_text_task(folder: Path, name: str = "rel4", languages: str = "[en, de]", extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = "".join(f"text {i} {w}\t{w}\n" for i in range(4) for w in ("bad", "good"))
    for split in ("train", "test_en", "test_de"):
        (folder / f"{split}.tsv").write_text("text\tlabel\n" + rows.replace("text", f"{split} text"), "utf-8")
    (folder / "task.yaml").write_text(
        f"""name: {name}
text_fields: [text]
labels: [bad, good]
label_words: ["no", "yes"]
languages: {languages}
splits:
  train: {{en: train.tsv}}
  test: {{en: test_en.tsv, de: test_de.tsv}}
{extra}""",
        "utf-8",
    )
    return folder / "task.yaml"


def test_a_folder_where_a_data_file_belongs_says_so_for_run_sweep_and_task_files_without_a_loop(tmp_path):
    from datafactory import write_data_dir

    data = write_data_dir(tmp_path / "data", ("en", "de"))
    target = data / "xnli" / "test" / "de.tsv"
    target.unlink()
    target.mkdir()
    base = ["--model", "random:tiny", "--data-dir", str(data), "--set", "eval_languages=en,de"]
    expected = (
        f"error: {target}: a folder where a data file belongs; move it away, then fill it with "
        f"`xlprompt data fetch --out {data} --only xnli`"
    )
    assert _error(CliRunner().invoke(cli, ["run", *base, "--out", str(tmp_path / "run")])) == expected
    sweep = tmp_path / "s.yaml"
    sweep.write_text(f"name: s\nbase: {{model: 'random:tiny', data_dir: '{data}', eval_languages: 'en,de'}}\n")
    line = _error(CliRunner().invoke(cli, ["sweep", str(sweep), "--store", str(tmp_path / "r.db")]))
    assert line.endswith(expected[len("error: ") :]), line
    # a task file's data file, and the task file itself
    task = _one_text_task(tmp_path / "task")
    (tmp_path / "task" / "test_de.tsv").unlink()
    (tmp_path / "task" / "test_de.tsv").mkdir()
    line = _error(
        CliRunner().invoke(cli, ["run", "--task", str(task), "--model", "random:tiny", "--out", str(tmp_path / "r2")])
    )
    assert line == (
        f"error: {task}: field 'splits.test.de': {tmp_path / 'task' / 'test_de.tsv'}: a folder where a data file "
        "belongs; move it away, then give the file's path"
    )
    folder_task = tmp_path / "t.yaml"
    folder_task.mkdir()
    line = _error(
        CliRunner().invoke(
            cli, ["run", "--task", str(folder_task), "--model", "random:tiny", "--out", str(tmp_path / "r3")]
        )
    )
    assert (
        line
        == f"error: {folder_task}: a folder where the task file belongs; move it away, then give the task YAML file's path"
    )


def test_cheap_checks_come_before_loading_negative_token_ids_and_wandb_set_up(tmp_path, monkeypatch):
    from xlprompt import run_data
    from xlprompt.experiment import run_experiment

    monkeypatch.setattr(run_data, "load_run_data", lambda *a, **k: pytest.fail("data loaded before the check"))
    out = tmp_path / "run"
    with pytest.raises(ConfigError) as err:
        run_experiment(RunConfig(**{**FAST, "label_words_as": "id", "label_words": "5,-3,7"}), out, progress=False)
    assert str(err.value) == "label_words: token id -3 (neutral) is negative; token ids are whole numbers from 0"
    monkeypatch.setenv("WANDB_MODE", "sideways")
    with pytest.raises(ConfigError) as err:
        run_experiment(RunConfig(**FAST, report_to="wandb"), out, progress=False)
    assert str(err.value) == (
        "report_to=wandb: WANDB_MODE='sideways' is not a W&B mode; use one of online, offline, disabled (or unset it)"
    )
    monkeypatch.delenv("WANDB_MODE")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    (tmp_path / "netrc").write_text("")
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    with pytest.raises(ConfigError) as err:
        run_experiment(RunConfig(**FAST, report_to="wandb"), out, progress=False)
    assert str(err.value) == (
        "report_to=wandb: W&B has no login (no WANDB_API_KEY, no ~/.netrc entry); run `wandb login`, set "
        "WANDB_MODE=offline to log locally, or use report_to=none"
    )
    assert not out.exists()  # nothing written: no config.json, no wandb-id.txt


def test_a_one_text_task_refuses_a_hypothesis(tmp_path):
    from xlprompt.experiment import run_experiment

    task = _one_text_task(tmp_path / "task")
    run = tmp_path / "run"
    config = RunConfig(**{**FAST, "data_dir": None, "task": str(task), "eval_languages": "en", "label_words": None})
    run_experiment(config, run, progress=False)
    result = CliRunner().invoke(cli, ["predict", "--run", str(run), "--premise", "good", "--hypothesis", "x"])
    assert _error(result).startswith(
        "error: the task rel4 has one text (text): give it as --premise; --hypothesis is for a two-text task"
    )


@pytest.mark.parametrize(
    "name, languages, message",
    [
        ("XNLI", "[en, de]", "field 'name': 'XNLI' is a built-in task ('xnli'); give your task another name"),
        ("PawsX", "[en, de]", "field 'name': 'PawsX' is a built-in task ('pawsx'); give your task another name"),
        ("rel4", "[en, all]", "field 'languages': language code 'all' is reserved: eval_languages=all means every"),
    ],
)
def test_a_user_task_may_not_take_a_built_in_name_in_any_case_nor_the_language_all(tmp_path, name, languages, message):
    from xlprompt.tasks import get_task

    task = _one_text_task(tmp_path / "task", name, languages)
    with pytest.raises(ConfigError) as err:
        get_task(str(task))
    assert str(err.value).startswith(f"{task}: {message}"), str(err.value)


def test_toy_with_paws_x_pairs_says_paws_x_has_no_toy_language_pairs(tmp_path):
    line = _error(
        CliRunner().invoke(
            cli,
            ["run", "--task", "toy", "--method", "mpt", "--model", "random:tiny", "--set", "parallel_source=pawsx"]
            + ["--out", str(tmp_path / "run")],
        )
    )
    assert line == (
        "error: task toy: none of its target languages (qaa, qab, qac) has PAWS-X pairs (they exist for de, es, fr, "
        "ja, ko, zh); use parallel_source=task (the task's own corpus), a corpus of yours with parallel_source=file "
        "parallel_file=PATH or alpha=1"
    )


# ------------------------------------------------------------------------- 5. docs that state what the code does
def test_translator_conditioning_language_serves_every_task_as_the_docs_say(tmp_path):
    """docs/tasks.md: with PAWS-X, ``translator_conditioning=language`` learns a vector for each PAWS-X target
    language and those without pairs use the mean vector, as for XNLI and SIB-200."""
    from datafactory import write_pawsx

    from xlprompt.predict import build_method

    data = write_pawsx(tmp_path, ("en", "de", "fr", "ja"))
    config = RunConfig(
        **{**FAST, "data_dir": str(data), "task": "pawsx", "method": "mpt", "translator_conditioning": "language"}
    )
    _, method, _ = build_method(config)
    assert method.conditioned and method.translator.languages == ("de", "es", "fr", "ja", "ko", "zh")
    text = " ".join((Path(__file__).resolve().parents[1] / "docs" / "tasks.md").read_text("utf-8").split())
    assert "`translator_conditioning=language` is XNLI-only" not in text
    assert "`translator_conditioning=language` learns a vector for each of the six target languages" in text


def test_a_save_pretrained_killed_at_its_swap_is_finished_by_the_next_save(tmp_path):
    """Killed before its config was placed, the folder holds a model's files but no model config: the next
    ``save_pretrained`` finishes that swap first, then saves (it does not refuse the folder as "not a saved
    model")."""
    import xlprompt
    from xlprompt.api import LABEL_WORDS_FILE, MODEL_CONFIG, MODEL_WEIGHTS

    model = xlprompt.PromptModel.from_config(RunConfig(**FAST))
    target = tmp_path / "model"
    model.save_pretrained(target)
    names = ("tokenizer", MODEL_WEIGHTS, LABEL_WORDS_FILE, MODEL_CONFIG)
    # renames: 0 the journal, 1-3 the three earlier entries aside, 4-5 the new tokenizer and weights placed, 6 the
    # config: killed there
    assert _write_staged(target, 6, "v2", names) == 9
    assert not (target / MODEL_CONFIG).exists(), sorted(p.name for p in target.iterdir())
    model.save_pretrained(target)
    again = xlprompt.PromptModel.from_pretrained(target)
    saved, loaded = model.method.trainable_state(), again.method.trainable_state()
    assert saved.keys() == loaded.keys() and all(saved[k].equal(loaded[k]) for k in saved)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_a_save_killed_at_its_swap_is_finished_by_the_next_load_too(tmp_path):
    """Not only the next writer: the next reader of the folder (from_pretrained, predict) finishes a save killed
    after its point of no return, so it loads the whole new model and nothing of the killed writer is left."""
    import xlprompt
    from xlprompt.api import MODEL_CONFIG

    target, other = tmp_path / "model", tmp_path / "other"
    xlprompt.PromptModel.from_config(RunConfig(**FAST)).save_pretrained(target)
    newer = xlprompt.PromptModel.from_config(RunConfig(**{**FAST, "seed": 2}))
    newer.save_pretrained(other)
    # another process saves the seed-2 model over it and is killed at the rename that places its config (renames:
    # 0 the journal, 1-3 the earlier entries aside, 4-5 the tokenizer and weights placed, 6 the config)
    script = (
        "import os, sys, xlprompt\n"
        "model = xlprompt.PromptModel.from_pretrained(sys.argv[1])\n"
        "real, count = os.replace, [0]\n"
        "def replace(src, dst):\n"
        "    if count[0] == 6:\n"
        "        os._exit(9)\n"
        "    count[0] += 1\n"
        "    return real(src, dst)\n"
        "os.replace = replace\n"
        "model.save_pretrained(sys.argv[2])\n"
    )
    env = {**os.environ, "PYTHONPATH": SRC}
    assert subprocess.run([sys.executable, "-c", script, str(other), str(target)], env=env).returncode == 9
    assert not (target / MODEL_CONFIG).exists()
    loaded = xlprompt.PromptModel.from_pretrained(target)  # the reader finishes the swap first
    assert loaded.run_config.seed == 2
    saved, got = newer.method.trainable_state(), loaded.method.trainable_state()
    assert saved.keys() == got.keys() and all(saved[k].equal(got[k]) for k in saved)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "other"]
