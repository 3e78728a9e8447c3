"""Reliability: each case of a list of hostile inputs, fed as that input.

Silent wrong results, double work / lost data, crashes and misleading messages. Runs are tiny (random:tiny
on the shipped demo sample, 1-2 epochs); the CLI runs in-process (click's CliRunner) except where two
processes are the point. The full-disk cases use a small tmpfs where this process may mount one (root),
and always also a simulated ENOSPC (a writer that raises it).
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from click.testing import CliRunner

from xlprompt.cli import cli
from xlprompt.config import RunConfig
from xlprompt.errors import ConfigError, DataError
from xlprompt.experiment import run_experiment
from xlprompt.languages import XNLI_LANGUAGES
from xlprompt.store import ResultStore

FAST = dict(
    model="random:tiny",
    data_dir="builtin:demo",
    epochs=1,
    shots=2,
    max_length=64,
    batch_size=6,
    eval_batch_size=32,
    eval_languages="en,de",
    num_threads=1,
    device="cpu",
)
SRC = str(Path(__file__).resolve().parents[1] / "src")


def run_cli(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input)


def one_error(result, *fragments: str) -> str:
    """Exit 2, exactly one ``error:`` line with every fragment, no traceback."""
    text = result.output + (result.stderr if result.stderr not in result.output else "")
    assert "Traceback" not in text, text
    assert result.exit_code == 2, f"exit {result.exit_code} {result.exception!r}\n{text}"
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], f"{fragment!r} not in {errors[0]!r}"
    return errors[0]


def run_args(out, *extra: str, method: str = "mpt") -> list[str]:
    return [
        "run",
        "--model",
        "random:tiny",
        "--method",
        method,
        "--shots",
        "2",
        "--data-dir",
        "builtin:demo",
        "--out",
        str(out),
        "--quiet",
        "--set",
        "epochs=1",
        "--set",
        "device=cpu",
        "--set",
        "eval_languages=en,de",
        "--set",
        "max_length=64",
        "--set",
        "num_threads=1",
        *extra,
    ]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A: MPT whose PLM trained (weights saved); B: MPT with a frozen PLM."""
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for name, config, save in [
        ("A", RunConfig(**FAST, method="mpt"), True),
        ("B", RunConfig(**FAST, method="mpt", freeze_plm=True, seed=2), True),
    ]:
        run_experiment(config, root / name, progress=False, log=lambda _m: None, save_weights=save)
        out[name] = root / name
    return out


def copy_run(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


# ============================================================================ silent wrong results
def test_export_replaces_the_whole_folder_and_loading_follows_the_config(runs, tmp_path):
    from xlprompt.export import load_adapter

    out = tmp_path / "X"
    assert run_cli("export", "--run", str(runs["A"]), "--out", str(out), "--with-plm").exit_code == 0
    assert (out / "plm.safetensors").exists()
    second = run_cli("export", "--run", str(runs["B"]), "--out", str(out))
    assert second.exit_code == 0, second.output
    assert sorted(p.name for p in out.iterdir()) == ["xlprompt_adapter.json", "xlprompt_adapter.safetensors"]
    assert not list(tmp_path.glob(".X.*"))  # no temporary folder left
    # a PLM file put beside an adapter whose config says "no PLM weights" is not used
    import shutil

    shutil.copyfile(runs["A"] / "plm.safetensors", out / "plm.safetensors")
    pairs = [("A dog sleeps.", "An animal rests."), ("It rains.", "The sun shines.")]
    with pytest.warns(UserWarning, match="ignored"):
        with_stray = load_adapter(out).scores(pairs)
    (out / "plm.safetensors").unlink()
    assert torch.allclose(with_stray, load_adapter(out).scores(pairs))
    # a folder of other files is never replaced by an export
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    one_error(run_cli("export", "--run", str(runs["B"]), "--out", str(other)), "not an xlprompt adapter folder")
    assert (other / "notes.txt").read_text() == "mine"


def _insert(store: ResultStore, config: RunConfig, accuracy: dict, group: str, variant: str = "") -> str:
    h = config.resolved_hash()
    store.add([(h, config.to_dict(), group, variant)], sweep=group)
    if store.get(h).status == "finished":
        return h
    assert store.claim(h).ok
    store.finish(h, {"accuracy": accuracy, "random_weights": True, "eval_split": "test"})
    return h


def test_an_average_over_three_languages_is_labelled_and_not_compared_with_the_paper(tmp_path):
    store_path = tmp_path / "r.db"
    langs = ("en", "de", "fr")
    with ResultStore(store_path) as store:
        for method in ("sp", "mpt"):
            for seed in (1, 2):
                acc = {lang: 40.0 + i + seed for i, lang in enumerate(langs)}
                acc["avg"] = sum(acc.values()) / 3
                config = RunConfig(**{**FAST, "eval_languages": ",".join(langs), "shots": 64}, method=method, seed=seed)
                _insert(store, config, acc, "table1")
                _insert(store, config, acc, "table2", "Original MPT" if method == "mpt" else "w/o MPT framework")
    result = run_cli("report", "--store", str(store_path), "--out", str(tmp_path / "rep"), "--compare", "paper")
    assert result.exit_code == 0, result.output
    for name in ("table1.md", "table2.md"):
        text = (tmp_path / "rep" / name).read_text()
        assert "| Avg (3 langs) |" in text and "| Avg |" not in text
        assert "mean over 3 languages (DE, EN, FR)" in text
        mpt_line = next(line for line in text.splitlines() if line.startswith(("| MPT ", "| Original MPT ")))
        cells = [c.strip() for c in mpt_line.split("|")[1:-1]]  # Method, Recipe, the 15 languages, Avg, ...
        avg_cell = cells[2 + len(XNLI_LANGUAGES)]
        # seeds 1, 2: (41+42+43)/3 = 42, (42+43+44)/3 = 43 → mean 42.5; no "(paper, Δ)" beside it
        assert avg_cell.startswith("42.5 ±") and "(" not in avg_cell
        assert "(" in cells[2 + XNLI_LANGUAGES.index("en")]  # a language is still compared, like with like
    csv_avg = [line for line in (tmp_path / "rep" / "table1.csv").read_text().splitlines() if ",avg," in line]
    assert csv_avg and all(line.split(",")[-2:] == ["", ""] for line in csv_avg)  # no paper, no Δ


@pytest.mark.parametrize(
    "values, fragment",
    [
        (dict(eval_split="dev", parallel_source="xnli-dev", data_dir="data"), "parallel_source=xnli-dev"),
        (dict(eval_split="dev", train_source="sample", data_dir=None), "train_source=sample"),
        (dict(eval_split="dev", train_source="sample", data_dir="data"), "train_source=sample"),
    ],
)
def test_the_evaluated_split_never_trains_or_selects(values, fragment):
    with pytest.raises(ConfigError, match=fragment):
        RunConfig(**{**FAST, **values})


def test_leak_refused_on_the_command_line_and_at_sweep_expansion(tmp_path):
    one_error(
        run_cli(
            *run_args(
                tmp_path / "r",
                "--set",
                "eval_split=dev",
                "--set",
                "parallel_source=xnli-dev",
                "--data-dir",
                str(tmp_path),
            )
        ),
        "eval_split=dev",
        "parallel_source=xnli-dev",
        "leak",
    )
    sweep = tmp_path / "s.yaml"
    sweep.write_text(
        yaml.safe_dump(
            {"base": {**FAST, "data_dir": "d", "parallel_source": "xnli-dev"}, "grid": {"eval_split": ["test", "dev"]}}
        )
    )
    one_error(run_cli("sweep", str(sweep), "--store", str(tmp_path / "s.db"), "--dry-run"), "s.yaml", "leak")
    assert not (tmp_path / "s.db").exists()


def test_a_parallel_file_made_of_evaluated_examples_is_refused(tmp_path):
    """The same leak by hand: a parallel file whose pairs are XNLI examples that the run evaluates."""
    from xlprompt.data.examples import ParallelPair
    from xlprompt.leaks import check_data_leaks
    from xlprompt.run_data import demo_examples

    test = {lang: demo_examples("test", lang) for lang in ("en", "de")}
    en, de = test["en"][0], test["de"][0]
    leaky = [ParallelPair("en", "de", "Another premise.", "Another hypothesis.", de.premise, de.hypothesis, "u1")]
    config = RunConfig(**FAST)
    with pytest.raises(DataError, match="u1.*evaluated"):
        check_data_leaks(config, [], [], test, leaky)
    with pytest.raises(DataError, match="training examples"):
        check_data_leaks(config, [en], [], test, [])
    with pytest.warns(UserWarning, match="1 of the 1 model-selection dev examples"):
        assert check_data_leaks(config, [], [en], test, [])


# ============================================================================ double work, lost data
@pytest.mark.parametrize("value", ["5", "0", "-1", "89", "nan"])
def test_stale_after_below_three_heartbeats_is_refused(tmp_path, value):
    from xlprompt.executors import LocalExecutor

    sweep = tmp_path / "s.yaml"
    sweep.write_text(yaml.safe_dump({"base": FAST}))
    one_error(
        run_cli("sweep", str(sweep), "--store", str(tmp_path / "s.db"), "--stale-after", value, "--quiet"),
        "--stale-after",
        "every 30 s",
        "at least 90",
    )
    assert not (tmp_path / "s.db").exists()
    with pytest.raises(ConfigError):
        LocalExecutor(stale_after=float(value))
    assert LocalExecutor(stale_after=90).stale_after == 90.0 and LocalExecutor().stale_after == 600.0


_HOLDER = """
import sys, time
sys.path.insert(0, {src!r})
from xlprompt.safety import RunLock
lock = RunLock({path!r}).acquire()
print("locked", flush=True)
time.sleep(60)
"""


def test_a_run_folder_is_locked_by_its_owner_and_a_dead_owner_is_taken_over(tmp_path):
    out = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER.format(src=SRC, path=str(out))], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        line = one_error(run_cli(*run_args(out)), str(out), f"process {holder.pid}", "in use")
        assert os.uname().nodename in line
        assert not (out / "results.json").exists()
    finally:
        holder.kill()
        holder.wait()
    assert str(holder.pid) in (out / ".lock").read_text()  # the dead owner's lock file is still there
    (out / "config.json.tmp99999").write_text("{half")  # and a temporary file a killed writer left
    result = run_cli(*run_args(out, "--no-save-weights"))
    assert result.exit_code == 0, result.output
    assert (out / "results.json").exists() and not (out / "config.json.tmp99999").exists()


def test_a_sweep_worker_leaves_a_run_whose_folder_another_process_trains_in(tmp_path):
    """The claim taken over from a live process (a heartbeat too old): the folder lock still keeps the second
    worker out, and the run is given back, not marked failed."""
    from xlprompt.executors import execute_run
    from xlprompt.safety import RunLock

    store_path = tmp_path / "r.db"
    config = RunConfig(**FAST)
    h = config.resolved_hash()
    with ResultStore(store_path) as store:
        store.add([(h, config.to_dict(), "g", "")])
    with RunLock(tmp_path / "runs" / h):  # the other, live trainer
        outcome = execute_run(store_path, h, config.to_dict(), tmp_path / "runs" / h)
    assert outcome.status == "busy"
    with ResultStore(store_path) as store:
        assert store.get(h).status == "pending" and store.get(h).error is None
    assert not (tmp_path / "runs" / h / "config.json").exists()


def test_predict_keeps_every_input_field_and_adds_its_own(runs, tmp_path):
    rows = [
        {"premise": "A dog sleeps.", "hypothesis": "An animal rests.", "label": "entailment", "id": 7, "lang": "de"},
        {"premise": "It rains.", "hypothesis": "The sun shines.", "label": "contradiction", "extra": [1]},
    ]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = run_cli(
        "predict", "--run", str(runs["B"]), "--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "o.jsonl")
    )
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text().splitlines()]
    for row, got in zip(rows, out):
        assert {k: got[k] for k in row} == row  # every input field, the gold label too, unchanged
        assert got["prediction"] in ("entailment", "neutral", "contradiction")
        assert abs(sum(got["probabilities"].values()) - 1.0) < 1e-5
        assert got["prediction"] == max(got["probabilities"], key=got["probabilities"].get)


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    return done.returncode == 0


@pytest.fixture
def tiny_disk(tmp_path):
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "300k"):
        pytest.skip("cannot mount a tmpfs here (not root); the simulated-ENOSPC tests cover the writer")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_full_disk_run_gives_one_line_and_leaves_no_temporary_file(tiny_disk):
    one_error(run_cli(*run_args(tiny_disk / "run")), "no space left on device", str(tiny_disk / "run"))
    assert not [f for f in _files(tiny_disk) if ".tmp" in f], _files(tiny_disk)


def test_full_disk_store_gives_one_line(tiny_disk, tmp_path):
    (tiny_disk / "filler").write_bytes(b"\0" * (300 * 1024 - 8 * 1024))  # leave a few kB
    sweep = tmp_path / "s.yaml"
    sweep.write_text(yaml.safe_dump({"base": FAST, "grid": {"seed": list(range(1, 400))}}))
    result = run_cli(
        "sweep", str(sweep), "--store", str(tiny_disk / "r.db"), "--quiet", "--runs-dir", str(tmp_path / "runs")
    )
    one_error(result, "no space left on device")


def test_simulated_enospc_removes_the_temporary_file(tmp_path, monkeypatch):
    from xlprompt import checkpoint
    from xlprompt.safety import DiskError, atomic_write_bytes

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(DiskError, match=f"no space left on device for {tmp_path / 'f.txt'}"):
        with monkeypatch.context() as m:
            m.setattr(os, "fsync", full)
            atomic_write_bytes(tmp_path / "f.txt", b"x" * 100)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(torch, "save", lambda *_a, **_k: full())
    with pytest.raises(DiskError, match="epoch-0001.pt"):
        checkpoint.save_checkpoint(tmp_path, 1, {"x": torch.zeros(2)})
    assert _files(tmp_path) == []


def test_disk_errors_from_libraries_become_one_line_at_the_cli(tmp_path, monkeypatch):
    import sqlite3

    from xlprompt.cli import experiments

    def sqlite_full(*_a, **_k):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(experiments, "_load_predictor", sqlite_full)
    one_error(
        run_cli("predict", "--run", str(tmp_path), "--premise", "a", "--hypothesis", "b"), "no space left on device"
    )


# ============================================================================ crashes
@pytest.mark.parametrize("name", ["prompt.safetensors", "plm.safetensors"])
@pytest.mark.parametrize("command", ["predict", "export", "export-with-plm"])
def test_truncated_weights_give_one_line(runs, tmp_path, name, command):
    run = copy_run(runs["A"], tmp_path / "run")
    data = (run / name).read_bytes()
    (run / name).write_bytes(data[: len(data) // 2])
    if command == "predict":
        result = run_cli("predict", "--run", str(run), "--premise", "a b", "--hypothesis", "c d")
    else:
        result = run_cli(
            "export",
            "--run",
            str(run),
            "--out",
            str(tmp_path / "ad"),
            *(["--with-plm"] if command == "export-with-plm" else []),
        )
    if command == "export" and name == "plm.safetensors":
        assert result.exit_code == 0  # the PLM is neither read nor copied
        return
    one_error(result, str(run / name), "truncated")
    assert not (tmp_path / "ad").exists()


def test_predict_checks_the_output_path_before_any_work(runs, tmp_path, monkeypatch):
    from xlprompt.cli import experiments

    (tmp_path / "in.jsonl").write_text(json.dumps({"premise": "a", "hypothesis": "b"}) + "\n")

    def never(*_a, **_k):
        raise AssertionError("the model was loaded before the output path was checked")

    monkeypatch.setattr(experiments, "_load_predictor", never)
    one_error(
        run_cli(
            "predict",
            "--run",
            str(runs["B"]),
            "--input",
            str(tmp_path / "in.jsonl"),
            "--output",
            str(tmp_path / "missing" / "dir" / "o.jsonl"),
        ),
        "missing/dir",
        "does not exist",
    )


@pytest.mark.parametrize(
    "column, value",
    [
        ("results", "[]"),
        ("results", '{"accuracy": [1, 2]}'),
        ("results", '{"accuracy": {"en": "x"}}'),
        ("config", "[]"),
        ("config", '{"method": "mpt"}'),
    ],
)
def test_store_rows_of_the_wrong_shape_are_reported_not_crashed_on(tmp_path, column, value):
    import sqlite3

    store_path = tmp_path / "r.db"
    with ResultStore(store_path) as store:
        good = _insert(store, RunConfig(**FAST, method="sp"), {"en": 40.0, "de": 38.0, "avg": 39.0}, "table1")
        bad = _insert(store, RunConfig(**FAST, method="mpt"), {"en": 41.0, "de": 39.0, "avg": 40.0}, "table1")
    conn = sqlite3.connect(store_path)
    conn.execute(f"UPDATE runs SET {column} = ? WHERE hash = ?", (value, bad))
    conn.commit()
    conn.close()
    from xlprompt.report.tables import rows_from_store

    with pytest.warns(UserWarning, match=f"run {bad} left out of the report"):
        assert [r.hash for r in rows_from_store(store_path)] == [good]
    if (column, value) == ("results", "[]"):  # the whole command once (figures are slow to draw)
        result = run_cli("report", "--store", str(store_path), "--out", str(tmp_path / "rep"))
        assert result.exit_code == 0, result.output
        assert "Traceback" not in result.output
        warns = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
        assert len(warns) == 1 and bad in warns[0] and "left out" in warns[0]
        assert "1 finished runs" in result.stdout


@pytest.mark.parametrize("content", ["[]", '{"accuracy": 3}', "{}"])
def test_results_json_of_the_wrong_shape(runs, tmp_path, content):
    run = copy_run(runs["B"], tmp_path / "run")
    (run / "results.json").write_text(content)
    one_error(run_cli("export", "--run", str(run), "--out", str(tmp_path / "ad")), "results.json", "not the results")
    one_error(run_cli("predict", "--run", str(run), "--premise", "a", "--hypothesis", "b"), "results.json")


# ============================================================================ misleading messages
def test_runs_finished_by_another_process_are_not_counted_as_ours(tmp_path):
    from xlprompt.executors import FINISHED_ELSEWHERE, SweepSummary, execute_run

    store_path = tmp_path / "r.db"
    config = RunConfig(**FAST)
    with ResultStore(store_path) as store:
        _insert(store, config, {"en": 1.0, "avg": 1.0}, "g")  # finished by "another process" meanwhile
    outcome = execute_run(store_path, config.resolved_hash(), config.to_dict(), tmp_path / "run")
    assert outcome.status == FINISHED_ELSEWHERE
    assert not (tmp_path / "run").exists()
    summary = SweepSummary(total=8, finished_before=3, outcomes=[outcome])
    assert summary.ran == 0
    assert summary.line().startswith(
        "4/8 runs finished (0 finished by this process, 3 before it started, 1 by another process meanwhile)"
    )


def test_predict_input_errors_name_file_and_line_and_a_bom_is_accepted(runs, tmp_path):
    good = json.dumps({"premise": "a b", "hypothesis": "c d"})
    path = tmp_path / "in.jsonl"
    for bad, fragment in [
        ({"premise": " ", "hypothesis": "x"}, "'premise' is empty"),
        ({"premise": "a", "hypothesis": "b", "lang": "xx"}, "xx"),
        ({"premise": "a", "hypothesis": "b", "prediction": 1}, "'prediction'"),
    ]:
        path.write_text(good + "\n\n" + json.dumps({**bad, "lang": bad.get("lang", "de")}) + "\n")
        one_error(run_cli("predict", "--run", str(runs["B"]), "--input", str(path)), f"{path}:3", fragment)
    path.write_bytes("\ufeff".encode() + (good + "\n").encode())
    result = run_cli("predict", "--run", str(runs["B"]), "--input", str(path))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["premise"] == "a b"


def test_no_save_weights_advice_works_when_followed(tmp_path):
    old = tmp_path / "old"
    assert run_cli(*run_args(old, "--no-save-weights")).exit_code == 0
    line = one_error(
        run_cli("predict", "--run", str(old), "--premise", "a", "--hypothesis", "b"),
        "new --out folder",
        "without --no-save-weights",
    )
    # rerunning into the same folder is what did not work: it now says so instead of suggesting it works
    same = run_cli(*run_args(old))
    assert same.exit_code == 0 and "cannot be added afterwards" in same.output
    assert "wrote" not in same.output and "reused, nothing written" in same.output
    # the advice, followed: the same config into a new --out folder, weights saved
    new = tmp_path / "new"
    assert run_cli(*run_args(new)).exit_code == 0
    assert run_cli("predict", "--run", str(new), "--premise", "a b", "--hypothesis", "c d").exit_code == 0
    assert "export" in line  # the other way out the message names
    assert run_cli("export", "--run", str(old), "--out", str(tmp_path / "ad")).exit_code == 0


def test_report_opens_a_read_only_store_read_only(tmp_path):
    store_path = tmp_path / "r.db"
    with ResultStore(store_path) as store:
        _insert(store, RunConfig(**FAST, method="sp"), {"en": 40.0, "de": 38.0, "avg": 39.0}, "table1")
    before = store_path.read_bytes()
    with ResultStore(store_path, readonly=True) as store:
        with pytest.raises(Exception, match="readonly"):
            store.set_meta("x", "y")
        assert len(store.finished()) == 1
    ro = tmp_path / "ro"
    if _mount_tmpfs(ro, "2m"):  # a really read-only file system
        try:
            import shutil

            shutil.copyfile(store_path, ro / "r.db")
            subprocess.run(["mount", "-o", "remount,ro", str(ro)], check=True)
            result = run_cli("report", "--store", str(ro / "r.db"), "--out", str(tmp_path / "rep"))
            assert result.exit_code == 0, result.output
            assert "1 finished runs" in result.stdout
        finally:
            subprocess.run(["umount", "-l", str(ro)], capture_output=True)
    assert store_path.read_bytes() == before


@pytest.mark.parametrize("content", [b"", b"not a database at all"])
def test_dry_run_and_report_never_write_into_a_non_store(tmp_path, content):
    bad = tmp_path / "r.db"
    bad.write_bytes(content)
    sweep = tmp_path / "s.yaml"
    sweep.write_text(yaml.safe_dump({"base": FAST}))
    one_error(run_cli("sweep", str(sweep), "--store", str(bad), "--dry-run"), str(bad))
    one_error(run_cli("report", "--store", str(bad), "--out", str(tmp_path / "rep")), str(bad))
    assert bad.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.db", "s.yaml"]


def _t2_store(tmp_path) -> Path:
    store_path = tmp_path / "r.db"
    with ResultStore(store_path) as store:
        for seed in (1, 2):
            acc = {"en": 40.0 + seed, "de": 39.0, "avg": 39.5 + seed / 2}
            _insert(store, RunConfig(**FAST, method="mpt", seed=seed), acc, "table2", "Original MPT")
            _insert(store, RunConfig(**FAST, method="mpt", seed=seed, alpha=1.0), acc, "table2", "w/o consistency loss")
            for method, shots in (("sp", 4), ("mpt", 4), ("sp", 8)):
                _insert(store, RunConfig(**{**FAST, "shots": shots}, method=method, seed=seed), acc, "table1")
    return store_path


def test_report_reference_typo_and_missing_fig3_k_are_named(tmp_path):
    store_path = _t2_store(tmp_path)
    out = tmp_path / "rep"
    one_error(
        run_cli("report", "--store", str(store_path), "--out", str(out), "--reference", "Orignal MPT"),
        "'Orignal MPT'",
        "Did you mean 'Original MPT'?",
    )
    one_error(
        run_cli("report", "--store", str(store_path), "--out", str(out), "--fig3-k", "999"),
        "--fig3-k 999",
        "no MPT and SP runs at k = 999",
        "4 (MPT+SP)",
        "8 (SP)",
    )
    assert not out.exists()
    ok = run_cli(
        "report", "--store", str(store_path), "--out", str(out), "--reference", "original mpt", "--fig3-k", "4"
    )
    assert ok.exit_code == 0, ok.output


def test_sweep_expansion_computes_type_hints_once(monkeypatch):
    import typing

    from xlprompt import config as config_module
    from xlprompt.sweep import expand

    calls = []
    real = typing.get_type_hints
    monkeypatch.setattr(typing, "get_type_hints", lambda *a, **k: calls.append(1) or real(*a, **k))
    config_module._field_type.cache_clear()
    sweep = expand({"base": {"model": "random:tiny"}, "grid": {"seed": list(range(1, 51)), "alpha": [0.1, 0.2]}})
    assert len(sweep) == 100
    assert len(calls) <= 3  # once per key seen (model, seed, alpha), not per key per run (would be 300)


@pytest.mark.parametrize(
    "spec, fragments",
    [
        ("base: {label_words: [yes, maybe, no]}", ["base", "label_words", "list", "'yes,maybe,no'"]),
        ("base: {epochs: true}", ["base", "epochs", "bool"]),
        ("grid: {seed: [[1, 2]]}", ["grid", "seed", "list [1, 2]"]),
        ("variants: {a: {shots: [1]}}", ["variants.a", "shots", "list"]),
    ],
)
def test_sweep_values_are_typed_strictly_and_errors_name_the_file_and_key(tmp_path, spec, fragments):
    path = tmp_path / "bad.yaml"
    path.write_text("name: t\n" + spec + "\n")
    one_error(run_cli("sweep", str(path), "--store", str(tmp_path / "s.db"), "--dry-run"), str(path), *fragments)


@pytest.mark.parametrize(
    "change, fragments",
    [
        ({"src_lang": "de", "tgt_lang": "fr"}, ["p.jsonl:1", "src_lang is 'de'", "'en'"]),
        ({"uid": 0}, ["p.jsonl:1", "uid must be a string, found 0"]),
        ({"uid": 1}, ["p.jsonl:1", "uid must be a string, found 1"]),
        ({"uid": ""}, ["p.jsonl:1", "uid must be a non-empty string"]),
    ],
)
def test_build_parallel_from_a_file_checks_src_lang_and_uid(tmp_path, change, fragments):
    row = {
        "src_lang": "en",
        "tgt_lang": "de",
        "src_premise": "A.",
        "src_hypothesis": "B.",
        "tgt_premise": "C.",
        "tgt_hypothesis": "D.",
        "uid": "u",
    }
    (tmp_path / "p.jsonl").write_text(json.dumps({**row, **change}) + "\n")
    one_error(
        run_cli(
            "data",
            "build-parallel",
            "--source",
            "file",
            "--file",
            str(tmp_path / "p.jsonl"),
            "--size",
            "1",
            "--out",
            str(tmp_path / "o.jsonl"),
        ),
        *fragments,
    )
    assert not (tmp_path / "o.jsonl").exists()
