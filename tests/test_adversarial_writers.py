"""Adversarial cases of the reliability classes, each over its class: the leak guard's normalisation (invisible
and modifier characters), writers that must never delete or reuse what xlprompt did not write, and a run's
identity by content for readers of a saved model.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datafactory import FAST_RUN

from xlprompt.config import RunConfig
from xlprompt.errors import DataError

FAST = {**FAST_RUN, "eval_languages": "en,de"}

#: spellings of one row that a tokenizer's normaliser (or a reader) does not tell apart: invisible format
#: characters (Cf) and modifier symbols (Sk) written for an apostrophe
VARIANTS = {
    "zero-width space": lambda t: t.replace(" ", " \u200b", 2),
    "word joiner": lambda t: t.replace(" ", "\u2060 ", 1),
    "soft hyphen": lambda t: t[:3] + "\u00ad" + t[3:],
    "byte-order mark": lambda t: "\ufeff" + t,
    "backtick for apostrophe": lambda t: t.replace("'", "`"),
    "acute accent for apostrophe": lambda t: t.replace("'", "\u00b4"),
    "non-breaking spaces and NFD": lambda t: t.replace(" ", "\u00a0").replace("é", "e\u0301"),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_the_leak_guard_normalises_invisible_and_modifier_characters(variant):
    from xlprompt.leaks import normalise

    row = "the film's café scene wasn't good"
    assert normalise(VARIANTS[variant](row)) == normalise(row)
    assert normalise("the film was good") != normalise("the film was bad")


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("source", ["en", "de"])
def test_user_task_test_rows_equal_to_train_rows_up_to_those_characters_are_refused(tmp_path, variant, source):
    from datafactory import write_leaky_task

    train = [f"the film's café scene number {i} wasn't {('bad', 'good')[i % 2]}" for i in range(8)]
    task = write_leaky_task(tmp_path / "t", train, VARIANTS[variant], source)
    from xlprompt.run_data import load_run_data

    with pytest.raises(DataError, match=r"training examples are also in the evaluated leaky test split \(de"):
        load_run_data(RunConfig(task=str(task), model="random:tiny", shots=2, method="sp"))


@pytest.mark.parametrize("variant", ["zero-width space", "soft hyphen", "byte-order mark"])
def test_an_xnli_parallel_file_of_test_pairs_with_invisible_characters_is_refused(tmp_path, variant):
    from xlprompt.run_data import demo_examples, load_run_data

    de = demo_examples("test", "de")[0]
    pairs = [
        {
            "src_lang": "en",
            "tgt_lang": "de",
            "src_premise": f"Fresh premise {i}.",
            "src_hypothesis": f"Fresh hypothesis {i}.",
            "tgt_premise": f"Neue Prämisse {i}.",
            "tgt_hypothesis": f"Neue Hypothese {i}.",
            "uid": f"p{i}",
        }
        for i in range(3)
    ]
    pairs[1].update(
        tgt_premise=VARIANTS[variant](de.premise), tgt_hypothesis=VARIANTS[variant](de.hypothesis), uid="leaky"
    )
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in pairs), "utf-8")
    config = RunConfig(**{**FAST, "parallel_source": "file", "parallel_file": str(path), "parallel_size": 3})
    with pytest.raises(
        DataError, match="parallel pair 'leaky' \\(de; pair 2 of the corpus\\) is an example of the evaluated"
    ):
        load_run_data(config)


# ------------------------------------------------------------------------------------------------ saved models
def test_a_saved_model_is_loaded_with_its_own_label_words_and_loading_writes_nothing(tmp_path):
    """save_pretrained A (label_words_file), load it, save B (other words) into the same folder, load it: B's words,
    never a file left by A or by a reader; loading a read-only folder works and adds no file."""
    import os
    import stat

    import xlprompt

    def model_with(words: list[str], name: str):
        path = tmp_path / name
        path.write_text(json.dumps({"de": words}), "utf-8")
        config = RunConfig(**{**FAST, "method": "sp", "label_words_file": str(path)})
        return xlprompt.PromptModel.from_config(config)

    target = tmp_path / "model"
    model_with(["yes", "maybe", "no"], "a.json").save_pretrained(target)
    files = sorted(p.name for p in target.iterdir())
    loaded = xlprompt.PromptModel.from_pretrained(target)
    assert sorted(p.name for p in target.iterdir()) == files  # a reader writes nothing into the folder
    assert loaded.method.verbalizer.per_language == {"de": ("yes", "maybe", "no")}
    model_with(["no", "maybe", "yes"], "b.json").save_pretrained(target)
    mode = target.stat().st_mode
    os.chmod(target, stat.S_IRUSR | stat.S_IXUSR)
    try:
        loaded = xlprompt.PromptModel.from_pretrained(target)
    finally:
        os.chmod(target, mode)
    assert loaded.method.verbalizer.per_language == {"de": ("no", "maybe", "yes")}
    assert loaded.run_config.label_words_file is None  # the words come from the model's record, not a file
    # a label_words.json edited since the model was saved is never taken: refused in one line
    (target / "label_words.json").write_text(json.dumps({"de": ["x", "y", "z"]}), "utf-8")
    with pytest.raises(
        xlprompt.CheckpointError, match=r"label_words.json: not the label words the model was saved with"
    ):
        xlprompt.PromptModel.from_pretrained(target)


# ------------------------------------------------------------------------------------------------ run folders
@pytest.mark.parametrize("name", ["notes.tmp1", "draft.txt.tmp42", "checkpoint.tmp7"])
def test_a_run_folder_holding_a_users_file_named_like_a_temporary_file_is_refused_and_kept(tmp_path, name):
    """The atomic writer's leftovers (``config.json.tmpPID``) are cleaned; a file of the user's that only ends like
    one is neither taken for a leftover (the folder is not empty) nor deleted."""
    from xlprompt.errors import CheckpointError
    from xlprompt.experiment import run_experiment

    out = tmp_path / "run"
    out.mkdir()
    (out / name).write_text("mine", "utf-8")
    (out / "results.json.tmp999").write_text("{", "utf-8")  # what a killed xlprompt leaves
    with pytest.raises(CheckpointError, match="not empty and holds no xlprompt run"):
        run_experiment(RunConfig(**{**FAST, "method": "sp"}), out, progress=False, log=lambda _m: None)
    assert (out / name).read_text("utf-8") == "mine"
    (out / name).unlink()  # only xlprompt's leftovers: the folder is taken, and they are cleaned
    results = run_experiment(RunConfig(**{**FAST, "method": "sp"}), out, progress=False, log=lambda _m: None)
    assert results["accuracy"] and not (out / "results.json.tmp999").exists()


# ------------------------------------------------------------------------------------------------ relative paths
def test_predict_and_export_read_relative_inputs_where_the_run_started_not_where_they_are_called(tmp_path, monkeypatch):
    """A run started in A with ``task=senti/task.yaml`` and ``label_words_file=words.json`` meant A's files; called
    from B, which holds other files of those names, predict and export use A's (the run's), not B's."""
    import shutil

    from click.testing import CliRunner

    from xlprompt.cli import cli
    from xlprompt.experiment import run_experiment

    example = Path(__file__).resolve().parents[1] / "docs" / "examples" / "sentiment-mini"
    a, b = tmp_path / "a", tmp_path / "b"
    for folder, labels in ((a, "[negative, positive]"), (b, "[positive, negative]")):
        shutil.copytree(example, folder / "senti")
        task = folder / "senti" / "task.yaml"
        task.write_text(task.read_text("utf-8").replace("labels: [negative, positive]", f"labels: {labels}"), "utf-8")
    monkeypatch.chdir(a)
    values = dict(
        task="senti/task.yaml",
        method="sp",
        model="random:tiny",
        shots=2,
        epochs=1,
        max_length=64,
        batch_size=4,
        device="cpu",
        num_threads=1,
        freeze_plm=True,
    )
    run_dir = tmp_path / "run"
    run_experiment(RunConfig(**values), run_dir, progress=False, log=lambda _m: None)
    expected = CliRunner().invoke(cli, ["predict", "--run", str(run_dir), "--premise", "good food"])
    assert expected.exit_code == 0, expected.output
    monkeypatch.chdir(b)
    got = CliRunner().invoke(cli, ["predict", "--run", str(run_dir), "--premise", "good food"])
    assert got.exit_code == 0 and got.output == expected.output, got.output
    exported = CliRunner().invoke(cli, ["export", "--run", str(run_dir), "--out", str(tmp_path / "adapter")])
    assert exported.exit_code == 0, exported.output
    spec = json.loads((tmp_path / "adapter" / "xlprompt_adapter.json").read_text("utf-8"))
    assert spec["task"] == json.loads((tmp_path / "adapter" / "task.json").read_text("utf-8"))["name"]


# ------------------------------------------------------------------------------------------------ local models
def test_a_local_tokenizer_folder_edited_since_training_is_noticed_by_run_predict_and_export(tmp_path):
    """A tokenizer (or model) given as a local folder shapes the result, but its path is spelling: the run records
    its content; ``run --out`` of the finished run, predict and export compare it with what they see."""
    from click.testing import CliRunner

    from xlprompt.cli import cli
    from xlprompt.errors import CheckpointError
    from xlprompt.experiment import run_experiment
    from xlprompt.models.backbone import load_tokenizer

    folder = tmp_path / "tok"
    load_tokenizer("builtin:tiny").save_pretrained(str(folder))
    config = RunConfig(
        **{**FAST, "method": "sp", "tokenizer": str(folder), "freeze_plm": True, "label_words": "yes,maybe,no"}
    )
    run_dir = tmp_path / "run"
    run_experiment(config, run_dir, progress=False, log=lambda _m: None)
    query = ["--premise", "the cat sat", "--hypothesis", "a cat", "--lang", "de"]
    assert CliRunner().invoke(cli, ["predict", "--run", str(run_dir), *query]).exit_code == 0
    edited = next(p for p in sorted(folder.iterdir()) if p.suffix == ".json")
    edited.write_text(edited.read_text("utf-8") + " ", "utf-8")
    with pytest.raises(CheckpointError, match=r"content of tokenizer \(.*tok\) changed since it ran"):
        run_experiment(config, run_dir, progress=False, log=lambda _m: None)
    for args in (["predict", "--run", str(run_dir), *query], ["export", "--run", str(run_dir), "--out", "a"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2 and "not the one the run was trained with" in result.output, result.output


# ------------------------------------------------------------------------------------------------ toy models
def test_toy_pretrain_force_keeps_the_earlier_model_when_the_swap_fails(tmp_path, monkeypatch):
    """``xlprompt toy pretrain --force``: the new model is built aside; the earlier one is removed only once the
    new one is in place, so a failure while swapping leaves the earlier model as it was."""
    import errno
    import os

    from xlprompt.models import toy

    def fake_pretrain(name, seed, out):  # the build itself is not under test here: a complete folder, quickly
        out.mkdir(parents=True, exist_ok=True)
        (out / "pretraining.json").write_text(json.dumps({"seconds": 0, "loss_first": 1, "loss_last": 0}), "utf-8")
        (out / "weights").write_text(f"new {seed}", "utf-8")
        return json.loads((out / "pretraining.json").read_text("utf-8"))

    monkeypatch.setattr(toy, "pretrain_toy_model", fake_pretrain)
    spec = toy.TOY_PREFIX + next(iter(toy.TOY_MODELS))
    folder = toy.ensure_toy_model(spec, data_dir=tmp_path)
    (folder / "weights").write_text("earlier", "utf-8")
    real = os.replace

    def failing(src, dst):
        if Path(src).name.startswith(folder.name + ".tmp"):
            raise OSError(errno.EIO, "I/O error")
        return real(src, dst)

    monkeypatch.setattr(toy.os, "replace", failing)
    with pytest.raises(OSError):
        toy.ensure_toy_model(spec, data_dir=tmp_path, force=True)
    assert (folder / "weights").read_text("utf-8") == "earlier" and toy.is_built(folder)
    # nothing left aside (the model's lock file stays: it is the lock, not a leftover)
    assert sorted(p.name for p in folder.parent.iterdir()) == [f".{folder.name}.lock", folder.name]
    monkeypatch.setattr(toy.os, "replace", real)
    toy.ensure_toy_model(spec, data_dir=tmp_path, force=True)
    assert (folder / "weights").read_text("utf-8").startswith("new")
