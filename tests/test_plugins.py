"""Plugins and the registries: a method defined in a plugin module runs through ``xlprompt run --plugin``, a sweep
with two worker processes and ``predict`` (which imports the plugin the run recorded, in a registry that has
forgotten it); installed packages' entry points are found; a replaced or edited method is another run; the
registries refuse at registration what a run would fail on later; and a config never goes stale (frozen, with
``dataclasses.replace`` and ``RunConfig.replace`` giving the same config)."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import pickle
import sys
import uuid
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from datafactory import FAST_RUN

import xlprompt
from xlprompt import plugins as plugins_module
from xlprompt.cli import cli
from xlprompt.methods import get_method_spec, method_names, unregister_method
from xlprompt.store import ResultStore
from xlprompt.tasks.base import unregister_task

FAST = {k: v for k, v in FAST_RUN.items() if k != "batch_size"}
BUILTINS = "mpt, sp, ft, pct, dp, dpa, softmv, xpe, dual"

PLUGIN = '''
"""A plugin: registers the method METHOD (a bag of input embeddings and a linear head)."""
import torch
import torch.nn.functional as F

import xlprompt


class Bag(xlprompt.Method):
    """The mean of the PLM's input embeddings of both texts, then a linear head."""

    def __init__(self, config, plm, tokenizer, verbalizer):
        super().__init__(config, plm, tokenizer, verbalizer)
        self.head = torch.nn.Linear(plm.word_embeddings.weight.shape[1], len(config.task_spec().labels))

    def extra_modules(self):
        return {"head": self.head}

    def _features(self, batch):
        rows = [torch.tensor(ex.premise + ex.hypothesis, device=self.device) for ex in batch]
        return torch.stack([self.plm.word_embeddings(ids).mean(0) for ids in rows])

    def training_loss(self, batch, parallel, generator):
        ce = F.cross_entropy(self.head(self._features(batch)), self.labels_tensor(batch))
        return xlprompt.LossOutput(ce, {"ce": ce.item()})

    def class_scores(self, batch, lang):
        return self.head(self._features(batch))


xlprompt.register_method(
    "METHOD", Bag, recipe={"lr": 5e-3, "batch_size": 6}, recipe_sources={"lr": "the plugin"}, replace=True
)
'''


def _forget(module: str, method: str) -> None:
    """What a new process knows: neither the plugin's module nor its method."""
    unregister_method(method)
    sys.modules.pop(module, None)


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """A plugin module written into its own folder on sys.path: (module name, method name)."""
    tag = uuid.uuid4().hex[:8]
    module, method = f"xlp_plugin_{tag}", f"bag{tag}"
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / f"{module}.py").write_text(PLUGIN.replace("METHOD", method), "utf-8")
    monkeypatch.syspath_prepend(str(folder))
    yield module, method
    _forget(module, method)


def _sets(values: dict) -> list[str]:
    return [arg for key, value in values.items() for arg in ("--set", f"{key}={value}")]


def _error(result) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


def test_a_plugin_method_runs_through_run_and_predict_imports_it_again(tmp_path, plugin):
    module, method = plugin
    runner = CliRunner()
    bare = runner.invoke(cli, ["run", "--method", method, "--out", str(tmp_path / "x"), *_sets(FAST)])
    assert _error(bare) == (
        f"error: method must be one of {BUILTINS}, not '{method}' (a method of a plugin module: --plugin MODULE, "
        "or the config key plugins)"
    )
    shown = runner.invoke(cli, ["run", "--plugin", module, "--method", method, "--help-config", *_sets(FAST)])
    assert shown.exit_code == 0, shown.output
    assert f"lr (default 0.005 from {method}: the plugin)" in shown.output  # the plugin's recipe, resolved
    run = tmp_path / "run"
    result = runner.invoke(cli, ["run", "--plugin", module, "--method", method, "--out", str(run), *_sets(FAST)])
    assert result.exit_code == 0, result.output
    recorded = json.loads((run / "config.json").read_text("utf-8"))["config"]
    assert recorded["plugins"] == [module] and recorded["method"] == method and recorded["lr"] == 0.005
    source = tmp_path / "plugins" / f"{module}.py"
    original = source.read_text("utf-8")
    source.write_text(original + "# edited: another computation, as far as anyone knows\n", "utf-8")
    _forget(module, method)
    again = runner.invoke(cli, ["run", "--plugin", module, "--method", method, "--out", str(run), *_sets(FAST)])
    assert _error(again) == (
        f"error: {run} holds a run of another config (differs in: format, or the code of its registered method or "
        "task); use a new --out directory"
    )
    source.write_text(original, "utf-8")
    _forget(module, method)
    assert method not in method_names()
    out = runner.invoke(
        cli, ["predict", "--run", str(run), "--premise", "A man plays.", "--hypothesis", "Someone plays."]
    )
    assert out.exit_code == 0, out.output
    assert out.output.splitlines()[-1].split("\t")[0] in ("entailment", "neutral", "contradiction")
    assert method in method_names()  # the recorded plugin was imported again
    _forget(module, method)
    predictor = xlprompt.load_run(run)
    assert predictor.config.method == method and predictor.config.plugins == (module,)
    _forget(module, method)
    exported = runner.invoke(cli, ["export", "--run", str(run), "--out", str(tmp_path / "adapter")])
    assert exported.exit_code == 0, exported.output
    _forget(module, method)
    adapter = ["predict", "--adapter", str(tmp_path / "adapter"), "--premise", "A man plays.", "--hypothesis", "Yes."]
    out = runner.invoke(cli, adapter)
    assert out.exit_code == 0, out.output
    assert out.output.splitlines()[-1].split("\t")[0] in ("entailment", "neutral", "contradiction")
    _forget(module, method)
    (tmp_path / "plugins" / f"{module}.py").unlink()  # a machine without the plugin: one line, naming the file
    importlib.invalidate_caches()
    for kind, folder, file in (
        ("--run", run, "config.json"),
        ("--adapter", tmp_path / "adapter", "xlprompt_adapter.json"),
    ):
        assert _error(runner.invoke(cli, ["predict", kind, str(folder), "--premise", "A", "--hypothesis", "B"])) == (
            f"error: {folder / file}: plugins: plugin module '{module}' not found; install the package that provides "
            "it, or add the folder that holds it to PYTHONPATH"
        )


def test_a_plugin_method_runs_through_a_sweep_of_two_worker_processes(tmp_path, plugin):
    """Two local worker processes claim the runs from the store: each run is done once, by a worker that imported
    the run's plugin."""
    module, method = plugin
    sweep_file = tmp_path / "s.yaml"
    sweep_file.write_text(
        yaml.safe_dump({"name": "plug", "base": {**FAST, "method": method}, "grid": {"seed": [1, 2]}})
    )
    store = tmp_path / "r.db"
    args = ["sweep", str(sweep_file), "--store", str(store), "--quiet", "--workers", "2", "--plugin", module]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    with ResultStore(store) as opened:
        rows = opened.runs()
    assert len(rows) == 2 and all(r.status == "finished" for r in rows), [(r.status, r.error) for r in rows]
    assert all(r.worker.startswith("local-worker:") for r in rows)  # trained in the worker processes
    assert all(r.attempts == 1 for r in rows), [r.attempts for r in rows]  # each run claimed once
    for row in rows:
        recorded = json.loads(Path(row.run_dir, "config.json").read_text("utf-8"))["config"]
        assert recorded["plugins"] == [module] and recorded["method"] == method
        # trained once: one epoch line, one result
        assert len(Path(row.run_dir, "metrics.jsonl").read_text().splitlines()) == 1
        assert json.loads(Path(row.run_dir, "results.json").read_text())["config_hash"] == row.hash
    assert not list(store.with_name(store.stem + ".runs").glob(".workers-*"))  # the job file is removed
    again = CliRunner().invoke(cli, args)  # a second pass finds every run finished: nothing is started
    assert (
        again.exit_code == 0 and "2/2 runs finished (0 finished by this process, 2 before it started)" in again.output
    )


def test_a_worker_that_cannot_import_a_runs_plugin_records_that_run_failed_in_one_line(tmp_path, plugin, capsys):
    from xlprompt.executors import worker_main

    module, method = plugin
    config = xlprompt.RunConfig(method=method, plugins=[module], **FAST)
    run_hash, store_path = config.resolved_hash(), tmp_path / "r.db"
    with ResultStore(store_path) as store:
        store.add([(run_hash, config.to_dict(), "g", "")], sweep="s")
    _forget(module, method)
    (tmp_path / "plugins" / f"{module}.py").unlink()  # the worker's machine lacks the plugin
    importlib.invalidate_caches()
    job = {"store": str(store_path), "save_weights": False, "stale_after": 600, "retry_failed": True}
    job.update(
        plugins=[module], runs=[{"hash": run_hash, "config": config.to_dict(), "run_dir": str(tmp_path / "run")}]
    )
    (tmp_path / "job.json").write_text(json.dumps(job), "utf-8")
    assert worker_main(str(tmp_path / "job.json"), 0) == 0  # the worker goes on with the other runs
    outcome = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert outcome["status"] == "failed" and outcome["error"] == (
        f"plugins: plugin module '{module}' not found; install the package that provides it, or add the folder that "
        "holds it to PYTHONPATH"
    )
    with ResultStore(store_path) as store:
        assert [r.status for r in store.runs()] == ["failed"]
    assert not (tmp_path / "run").exists()  # refused before the run folder (no .lock, no run.log)


def test_a_plugin_that_cannot_be_imported_is_one_line_naming_it_and_the_fix(tmp_path, monkeypatch):
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "xlp_broken_plugin.py").write_text("x = 1\nraise RuntimeError('boom\\nsecond line')\n", "utf-8")
    monkeypatch.syspath_prepend(str(folder))
    runner = CliRunner()
    base = ["run", "--out", str(tmp_path / "r"), *_sets(FAST)]
    assert _error(runner.invoke(cli, [*base, "--plugin", "xlp_no_such_plugin"])) == (
        "error: --plugin: plugin module 'xlp_no_such_plugin' not found; install the package that provides it, "
        "or add the folder that holds it to PYTHONPATH"
    )
    assert _error(runner.invoke(cli, [*base, "--plugin", "xlp_broken_plugin"])) == (
        "error: --plugin: plugin module 'xlp_broken_plugin' failed to import (RuntimeError: boom); fix the module, "
        "or leave it out"
    )
    assert _error(runner.invoke(cli, [*base, "--plugin", "plugins/mine.py"])) == (
        "error: --plugin: 'plugins/mine.py' is not a Python module name like 'my_package.methods'; give the "
        "module's name (the file my_plugin.py is the module my_plugin, on the Python path)"
    )
    with pytest.raises(xlprompt.ConfigError) as err:
        xlprompt.RunConfig(plugins=["xlp_no_such_plugin"])
    assert str(err.value) == (
        "plugins: plugin module 'xlp_no_such_plugin' not found; install the package that provides it, or add the "
        "folder that holds it to PYTHONPATH"
    )
    assert not (tmp_path / "r").exists()  # refused before any work


def _fake_distribution(folder: Path, dist: str, entry_points: str) -> None:
    info = folder / f"{dist}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n", "utf-8")
    (info / "entry_points.txt").write_text(f"[xlprompt.plugins]\n{entry_points}\n", "utf-8")


def test_an_installed_packages_entry_point_registers_its_method(tmp_path, monkeypatch):
    tag = uuid.uuid4().hex[:8]
    module, method = f"xlp_ep_plugin_{tag}", f"epbag{tag}"
    site = tmp_path / "site"
    site.mkdir()
    (site / f"{module}.py").write_text(PLUGIN.replace("METHOD", method), "utf-8")
    _fake_distribution(site, f"xlp-fake-{tag}", f"bag = {module}")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(plugins_module, "_STATE", {"loaded": set(), "loading": False, "done": False})
    try:
        config = xlprompt.RunConfig(method=method, model="random:tiny", data_dir="builtin:demo")
        assert config.lr == 0.005 and config.plugins == ()  # found without naming it: the package is installed
        assert method in method_names()
    finally:
        _forget(module, method)
    (site / f"{module}.py").write_text("raise ImportError('needs torch 9')\n", "utf-8")
    monkeypatch.setattr(plugins_module, "_STATE", {"loaded": set(), "loading": False, "done": False})
    with pytest.raises(xlprompt.ConfigError) as err:
        xlprompt.RunConfig(method=method)
    assert str(err.value) == (
        f"plugin 'bag' ({module}, entry point of the package xlp-fake-{tag} in group xlprompt.plugins) failed to "
        f"load (ImportError: needs torch 9); fix it, or uninstall xlp-fake-{tag}"
    )
    sys.modules.pop(module, None)


# ------------------------------------------------------------------------------------------------ the registries
IMPL = '''
import xlprompt


class Impl(xlprompt.Method):
    """BODY"""

    def training_loss(self, batch, parallel, generator):
        raise NotImplementedError

    def class_scores(self, batch, lang):
        raise NotImplementedError
'''


class Other(xlprompt.Method):
    """Another method's class."""

    def training_loss(self, batch, parallel, generator):
        raise NotImplementedError

    def class_scores(self, batch, lang):
        raise NotImplementedError


def test_a_replaced_or_edited_method_is_another_run_and_a_built_in_is_not_replaced(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    module, name = f"xlp_impl_{uuid.uuid4().hex[:8]}", "mine"
    source = tmp_path / f"{module}.py"
    source.write_text(IMPL.replace("BODY", "first"), "utf-8")
    sp = xlprompt.RunConfig(method="sp")
    with pytest.raises(xlprompt.ConfigError) as err:
        xlprompt.register_method("sp", f"{module}:Impl", recipe=dict(get_method_spec("sp").recipe), replace=True)
    assert str(err.value) == "register_method: 'sp' is a built-in method; register yours under another name"
    assert xlprompt.RunConfig(method="sp").resolved_hash() == sp.resolved_hash()  # SP stays SP
    try:
        xlprompt.register_method(name, f"{module}:Impl")
        digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
        assert get_method_spec(name).identity == f"{module}:Impl sha256:{digest}"
        first = xlprompt.RunConfig(method=name).resolved_hash()
        assert xlprompt.RunConfig(method=name).resolved_hash() == first  # a function of the values
        source.write_text(IMPL.replace("BODY", "second"), "utf-8")  # the same name, edited code
        xlprompt.register_method(name, f"{module}:Impl", replace=True)
        second = xlprompt.RunConfig(method=name).resolved_hash()
        xlprompt.register_method(name, Other, replace=True)  # the same name, another class
        third = xlprompt.RunConfig(method=name).resolved_hash()
        assert len({first, second, third}) == 3
    finally:
        unregister_method(name)
        sys.modules.pop(module, None)


def test_register_method_refuses_a_factory_a_run_could_not_build():
    def make(config, plm, tokenizer, verbalizer):
        return None

    cases = [
        (
            "xlp_no_such_module:Impl",
            "register_method('m'): factory 'xlp_no_such_module:Impl' cannot be imported (ModuleNotFoundError: No "
            "module named 'xlp_no_such_module'); give the import path of an importable module",
        ),
        ("json:Nope", "register_method('m'): factory 'json:Nope': the module json has no 'Nope'"),
        ("json.dumps", "register_method('m'): factory 'json.dumps' must be an import path 'package.module:ClassName'"),
        (
            make,
            "register_method('m'): factory must be a subclass of xlprompt.Method (or the import path "
            "'package.module:ClassName' of one), not the function "
            "test_register_method_refuses_a_factory_a_run_could_not_build.<locals>.make",
        ),
        (
            dict,
            "register_method('m'): factory must be a subclass of xlprompt.Method (or the import path "
            "'package.module:ClassName' of one), not the class dict",
        ),
        (
            "json:JSONDecoder",
            "register_method('m'): factory must be a subclass of xlprompt.Method (or the import path "
            "'package.module:ClassName' of one), not the class JSONDecoder",
        ),
    ]
    for factory, message in cases:
        with pytest.raises(xlprompt.ConfigError) as err:
            xlprompt.register_method("m", factory)
        assert str(err.value) == message
    assert "m" not in method_names()  # nothing registered


def _task(**changes) -> xlprompt.Task:
    values = dict(name="xlp-sentiment", labels=("negative", "positive"), languages=("en",), label_words=("bad", "good"))
    return xlprompt.Task(**{**values, **changes})


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"labels": ()}, "register_task('xlp-sentiment'): field 'labels': needs a non-empty list of strings"),
        (
            {"labels": ("a", "a")},
            "register_task('xlp-sentiment'): field 'labels': has a repeated entry: ['a', 'a']",
        ),
        (
            {"label_words": ("word", "word")},
            "register_task('xlp-sentiment'): field 'label_words.default': two labels share a label word: "
            "['word', 'word']",
        ),
        (
            {"name": "pos|neg"},
            "register_task('pos|neg'): field 'name': must be a non-empty text on one line without '|', '/', '\\' "
            "and not '.' or '..', not 'pos|neg'",
        ),
        (
            {"languages": ("de",)},
            "register_task('xlp-sentiment'): field 'source_language': 'en' is not one of languages (de)",
        ),
        (
            {"label_words": ("bad",)},
            "register_task('xlp-sentiment'): field 'label_words.default': label 'positive' has no label word "
            "(1 words for 2 labels)",
        ),
    ],
)
def test_register_task_refuses_what_a_task_file_may_not_be(changes, message):
    with pytest.raises(xlprompt.ConfigError) as err:
        xlprompt.register_task(_task(**changes))
    assert str(err.value) == message
    assert "xlp-sentiment" not in xlprompt.tasks.TASKS and "pos|neg" not in xlprompt.tasks.TASKS


def test_a_registered_task_is_known_by_its_definition_not_its_name(tmp_path):
    train = tmp_path / "train.tsv"
    train.write_text("text\tlabel\ngood thing\t1\nbad thing\t0\n", "utf-8")
    files = {"train": {"en": str(train)}, "test": {"en": str(train)}}
    values = dict(method="sp", task="xlp-sentiment", model="random:tiny")
    try:
        task = xlprompt.register_task(_task(text_fields=("text",), files=files))
        assert task.origin == "registered (xlprompt.register_task)"
        first = xlprompt.RunConfig(**values).resolved_hash()
        xlprompt.register_task(_task(text_fields=("text",), files=files), replace=True)  # the same task again
        assert xlprompt.RunConfig(**values).resolved_hash() == first
        xlprompt.register_task(_task(text_fields=("text",), files=files, label_words=("poor", "fine")), replace=True)
        other_words = xlprompt.RunConfig(**values).resolved_hash()
        train.write_text("text\tlabel\ngood thing\t1\nawful thing\t0\n", "utf-8")  # other data
        xlprompt.register_task(_task(text_fields=("text",), files=files), replace=True)
        other_data = xlprompt.RunConfig(**values).resolved_hash()
        assert len({first, other_words, other_data}) == 3
    finally:
        unregister_task("xlp-sentiment")


# ------------------------------------------------------------------------------------------ a frozen RunConfig
def test_a_config_cannot_change_and_both_replaces_give_the_same_config():
    mpt = xlprompt.RunConfig(method="mpt")
    assert (mpt.lr, mpt.optimizer) == (4e-5, "adamw")  # MPT's recipe
    with pytest.raises(dataclasses.FrozenInstanceError):
        mpt.lr = 1.0
    by_dataclasses, by_method = dataclasses.replace(mpt, method="sp"), mpt.replace(method="sp")
    assert (by_dataclasses.lr, by_dataclasses.optimizer) == (1e-5, "adam_l2")  # SP's, not MPT's
    assert by_dataclasses == by_method and by_dataclasses.resolved_hash() == by_method.resolved_hash()
    assert hash(by_dataclasses) == hash(by_method)
    assert by_dataclasses.recipe_sources()["lr"] == by_method.recipe_sources()["lr"] != "set"
    pinned = dataclasses.replace(mpt, method="sp", lr=2e-3)  # a value given is kept
    assert pinned.lr == 2e-3 and pinned.recipe_sources()["lr"] == "set" and pinned == mpt.replace(method="sp", lr=2e-3)
    own = xlprompt.RunConfig(method="mpt", lr=3e-5)  # a value the user set survives a change of method
    assert dataclasses.replace(own, method="sp").lr == 3e-5 == own.replace(method="sp").lr
    thawed = pickle.loads(pickle.dumps(mpt))  # a sweep worker's copy re-resolves as the original does
    assert thawed == mpt and dataclasses.replace(thawed, method="sp") == by_method
    again = xlprompt.RunConfig.from_dict(json.loads(json.dumps(mpt.to_dict())))
    assert again == mpt and again.resolved_hash() == mpt.resolved_hash()


def test_plugins_are_a_list_of_module_names_left_out_of_the_hash():
    plain = xlprompt.RunConfig()
    named = xlprompt.RunConfig.from_dict({"plugins": "json, json.decoder,json"})
    assert named.plugins == ("json", "json.decoder") and named.to_dict()["plugins"] == ["json", "json.decoder"]
    assert xlprompt.RunConfig(plugins=["json"]).plugins == ("json",)
    assert named.resolved_hash() == plain.resolved_hash() == "baf5474ea09e835c"  # MPT's recorded hash
    with pytest.raises(xlprompt.ConfigError) as err:
        xlprompt.RunConfig.from_dict({"plugins": 3})
    assert str(err.value) == "config key 'plugins' needs a list of names, not the int 3"
    with pytest.raises(xlprompt.ConfigError) as err:
        xlprompt.RunConfig(plugins=3)
    assert str(err.value) == "plugins: needs module names (a list, or one comma-separated text), not the int 3"
    with pytest.raises(xlprompt.ConfigError) as err:
        xlprompt.RunConfig(plugins=["json", 3])
    assert str(err.value) == "plugins: a plugin is a module name like 'my_package.methods', not 3"
