"""Every writer, with a failure injected while it writes: what was there before is intact byte for byte, what
xlprompt did not write is never removed, no temporary file or folder is left; and a successful write replaces
only its own files. Writers: export, report, save_pretrained (api), the run folder and the results store.
"""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import pytest
import yaml
from datafactory import FAST_RUN

import xlprompt
from xlprompt.config import RunConfig
from xlprompt.experiment import run_experiment

FAST = {**FAST_RUN, "eval_languages": "en,de", "shots": 2, "method": "sp", "freeze_plm": True}


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _no_leftovers(folder: Path) -> None:
    left = [p.name for p in folder.parent.iterdir() if p.name.startswith(f".{folder.name}.")]
    assert not left, left
    assert not [p for p in folder.rglob("*") if ".tmp" in p.name], list(folder.rglob("*.tmp*"))


def _disk_full(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("writers")
    out = {}
    for seed in (1, 2):
        out[seed] = root / f"run{seed}"
        run_experiment(RunConfig(**{**FAST, "seed": seed}), out[seed], progress=False, log=lambda _m: None)
    return out


def test_export_failure_keeps_the_earlier_adapter_and_success_keeps_foreign_files(runs, tmp_path, monkeypatch):
    from xlprompt import export
    from xlprompt.errors import XlpromptError

    adapter = tmp_path / "adapter"
    export.export_run(runs[1], adapter)
    (adapter / "notes.txt").write_text("mine")
    inside = adapter / "run-inside"  # the run being exported lies inside the adapter folder
    shutil.copytree(runs[2], inside)
    before = _snapshot(adapter)
    monkeypatch.setattr(export, "atomic_write_text", _disk_full)
    with pytest.raises(XlpromptError, match="no space left on device"):
        export.export_run(inside, adapter)
    monkeypatch.undo()
    assert _snapshot(adapter) == before
    _no_leftovers(adapter)
    export.export_run(inside, adapter)
    after = _snapshot(adapter)
    assert after["notes.txt"] == b"mine" and all(after[k] == v for k, v in before.items() if k.startswith("run-"))
    spec = json.loads((adapter / "xlprompt_adapter.json").read_text())
    assert spec["config"]["seed"] == 2  # replaced by the new export
    _no_leftovers(adapter)
    with pytest.raises(XlpromptError, match="the run folder being exported"):
        export.export_run(runs[1], runs[1])


def test_save_pretrained_failure_keeps_the_earlier_model(tmp_path, monkeypatch):
    from xlprompt import checkpoint

    model = xlprompt.PromptModel.from_config(RunConfig(**FAST))
    target = tmp_path / "model"
    model.save_pretrained(target)
    (target / "notes.txt").write_text("mine")
    before = _snapshot(target)
    monkeypatch.setattr(checkpoint, "atomic_write_text", _disk_full)
    with pytest.raises(OSError):
        model.save_pretrained(target)
    monkeypatch.undo()
    assert _snapshot(target) == before
    _no_leftovers(target)
    model.save_pretrained(target)
    assert (target / "notes.txt").read_text() == "mine"
    _no_leftovers(target)


def _store(tmp_path, runs_dir, tasks) -> Path:
    from xlprompt.executors import LocalExecutor
    from xlprompt.sweep import load_sweep

    sweep = tmp_path / "s.yaml"
    base = {k: v for k, v in FAST.items() if k != "data_dir"}
    sweep.write_text(yaml.safe_dump({"name": "s", "base": {**base, "eval_languages": "all"}, "grid": {"task": tasks}}))
    store = tmp_path / "r.db"
    summary = LocalExecutor(progress=False).run(load_sweep(sweep), store, runs_dir)
    assert not summary.failed, [o.error for o in summary.failed]
    return store


def test_report_failure_keeps_the_earlier_report_and_two_tasks_of_one_name_keep_their_tables(tmp_path, monkeypatch):
    from xlprompt import report as report_module

    example = Path(__file__).resolve().parents[1] / "docs" / "examples" / "sentiment-mini"
    tasks = []
    for name in ("a", "b"):
        shutil.copytree(example, tmp_path / name)
        tasks.append(str(tmp_path / name / "task.yaml"))
    (tmp_path / "b" / "task.yaml").write_text(
        (tmp_path / "b" / "task.yaml").read_text().replace("languages: [en, de]", "languages: [de, en]")
    )
    store = _store(tmp_path, tmp_path / "runs", tasks)
    out = tmp_path / "report"
    built = report_module.build_report(store, out)
    tables = sorted(p.name for p in out.glob("task_sentiment-mini*.md"))
    assert len(tables) == 2, tables  # one per task file: neither overwrites the other
    assert {p.name for p in built.files} >= set(tables)
    (out / "notes.txt").write_text("mine")
    before = _snapshot(out)
    monkeypatch.setattr(report_module, "atomic_write_text", _disk_full)
    with pytest.raises(OSError):
        report_module.build_report(store, out)
    monkeypatch.undo()
    assert _snapshot(out) == before
    _no_leftovers(out)
    report_module.build_report(store, out)
    assert (out / "notes.txt").read_text() == "mine"
    _no_leftovers(out)


def test_a_run_folder_whose_last_write_fails_is_finished_by_the_same_command(tmp_path, monkeypatch):
    from xlprompt import experiment

    out = tmp_path / "run"
    real = experiment.atomic_write_text

    def fail_results(path, text):
        if Path(path).name == "results.json":
            _disk_full()
        return real(path, text)

    monkeypatch.setattr(experiment, "atomic_write_text", fail_results)
    with pytest.raises(OSError):
        run_experiment(RunConfig(**FAST), out, progress=False, log=lambda _m: None)
    monkeypatch.undo()
    assert not (out / "results.json").exists()
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]
    results = run_experiment(RunConfig(**FAST), out, progress=False, log=lambda _m: None)
    assert results["accuracy"] and (out / "results.json").is_file()


def test_a_store_write_that_fails_leaves_the_row_as_it_was(tmp_path):
    from xlprompt.store import ResultStore

    store = ResultStore(tmp_path / "r.db")
    config = RunConfig(**FAST)
    store.add([(config.resolved_hash(), config.to_dict(), "g", "")])
    assert store.claim(config.resolved_hash()).ok
    before = [(r.status, r.attempts) for r in store.runs()]
    with pytest.raises(TypeError):
        store.finish(config.resolved_hash(), {"accuracy": {"en": object()}})  # fails inside the transaction
    assert [(r.status, r.attempts) for r in store.runs()] == before == [("running", 1)]
    store.close()


def test_a_report_removes_the_tables_of_its_earlier_report_that_it_no_longer_writes(tmp_path):
    """The report lists what it wrote (``.xlprompt-report``); the next report into the folder replaces or removes
    exactly those files: a task no longer in the store leaves no stale table, and no other file is touched."""
    from xlprompt import report as report_module

    example = Path(__file__).resolve().parents[1] / "docs" / "examples" / "sentiment-mini"
    shutil.copytree(example, tmp_path / "a")
    shutil.copytree(example, tmp_path / "b")
    (tmp_path / "b" / "task.yaml").write_text(
        (tmp_path / "b" / "task.yaml").read_text().replace("name: sentiment-mini", "name: other-task")
    )
    (tmp_path / "both").mkdir()
    (tmp_path / "one").mkdir()
    both = _store(tmp_path / "both", tmp_path / "both" / "runs", [str(tmp_path / n / "task.yaml") for n in "ab"])
    one = _store(tmp_path / "one", tmp_path / "one" / "runs", [str(tmp_path / "a" / "task.yaml")])
    out = tmp_path / "report"
    report_module.build_report(both, out)
    assert sorted(p.name for p in out.glob("task_*.md")) == ["task_other-task.md", "task_sentiment-mini.md"]
    (out / "notes.txt").write_text("mine")
    (tmp_path / "outside.txt").write_text("mine too")
    manifest = out / ".xlprompt-report"
    manifest.write_text(manifest.read_text() + "../outside.txt\nnotes.txt/..\n")  # never a path elsewhere
    built = report_module.build_report(one, out)
    assert sorted(p.name for p in out.glob("task_*.md")) == ["task_sentiment-mini.md"]
    assert not (out / "task_other-task.csv").exists()
    assert (out / "notes.txt").read_text() == "mine" and (tmp_path / "outside.txt").read_text() == "mine too"
    assert sorted(manifest.read_text().split()) == sorted(p.name for p in built.files)
    _no_leftovers(out)
