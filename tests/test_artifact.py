"""One artifact: ``PromptModel.from_pretrained`` (and ``xlprompt predict --model``) loads a run folder, a saved model
and an adapter alike, locally or by Hub name from the Hub cache; a run folder of a task file predicts wherever it is
moved; what an artifact says about itself is compared on load; ``push_to_hub`` uploads the saved folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import xlprompt
from xlprompt.cli import cli
from xlprompt.config import RunConfig

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "sentiment-mini"
TINY = dict(model="random:tiny", device="cpu", shots=2, epochs=1, batch_size=4, max_length=64, num_threads=1)
TEXTS = ["Das Essen war kalt.", "Great soup.", "The room was dirty and loud."]


@pytest.fixture(scope="module")
def senti(tmp_path_factory):
    """A finished SP run of a copy of the sentiment-mini task file, named by a relative path (as a user types it),
    with a frozen PLM so that its adapter predicts exactly as the run."""
    import os

    from xlprompt.experiment import run_experiment

    root = tmp_path_factory.mktemp("artifact")
    shutil.copytree(EXAMPLE, root / "task")
    here = os.getcwd()
    os.chdir(root)
    try:
        config = RunConfig(task="task/task.yaml", method="sp", freeze_plm=True, **TINY)
        run_experiment(config, root / "run", progress=False, log=lambda _m: None)
    finally:
        os.chdir(here)
    return root


def _scores(model, lang="de"):
    return model.scores(TEXTS, lang)


def test_one_from_pretrained_loads_a_run_a_saved_model_and_an_adapter_alike(senti, tmp_path):
    from xlprompt.export import export_run

    run = xlprompt.PromptModel.from_pretrained(senti / "run")
    run.save_pretrained(tmp_path / "saved")
    export_run(senti / "run", tmp_path / "adapter")
    saved = xlprompt.PromptModel.from_pretrained(tmp_path / "saved")
    adapter = xlprompt.PromptModel.from_pretrained(tmp_path / "adapter")
    expected = _scores(run)
    assert torch.allclose(_scores(saved), expected, atol=1e-6)
    assert torch.allclose(_scores(adapter), expected, atol=1e-6)
    fresh = xlprompt.PromptModel.from_config(RunConfig(task=str(EXAMPLE / "task.yaml"), method="sp", seed=3, **TINY))
    assert not torch.allclose(_scores(fresh), expected)  # the trained prompt was loaded, not a new one
    # the three kinds keep one identity: the run's config hash
    run_hash = json.loads((senti / "run" / "results.json").read_text("utf-8"))["config_hash"]
    assert run.config_hash == saved.config_hash == adapter.config_hash == run_hash
    # xlprompt predict takes any kind through --model (and through the older --run / --adapter)
    lines = set()
    for option, folder in [
        ("--model", senti / "run"),
        ("--model", tmp_path / "saved"),
        ("--run", tmp_path / "adapter"),
    ]:
        result = CliRunner().invoke(cli, ["predict", option, str(folder), "--premise", TEXTS[0], "--lang", "de"])
        assert result.exit_code == 0, result.output
        lines.add(result.output.strip().splitlines()[-1])
    label = run.predict([TEXTS[0]], "de")[0]
    assert lines == {f"{label.label}\t(" + ", ".join(f"{k} {v:.3f}" for k, v in label.probabilities.items()) + ")"}
    # the adapter's files do not pretend to be PEFT's
    assert not (tmp_path / "adapter" / "adapter_config.json").exists()
    assert (tmp_path / "adapter" / "xlprompt_adapter.json").is_file()


def test_a_moved_run_folder_of_a_task_file_predicts_and_keeps_its_task_private(senti, tmp_path, monkeypatch):
    expected = xlprompt.load_run(senti / "run").scores(TEXTS, "de")
    moved = tmp_path / "elsewhere" / "run"
    shutil.copytree(senti / "run", moved)
    (moved / "config.json").write_text(
        (moved / "config.json").read_text("utf-8").replace(str(senti), str(tmp_path / "gone")), "utf-8"
    )  # the folder it ran in is gone: no path of it is followed
    monkeypatch.chdir(tmp_path / "elsewhere")  # no task/task.yaml here either
    assert torch.equal(xlprompt.load_run(moved).scores(TEXTS, "de"), expected)
    record = json.loads((moved / "task.json").read_text("utf-8"))
    assert record["labels"] == ["negative", "positive"] and record["label_words"] == ["bad", "good"]
    assert "splits" not in record and "files" not in record  # its definition, not its data
    assert "sentiment-mini" not in xlprompt.tasks.TASKS  # loading registered nothing
    record["labels"] = ["positive", "negative"]
    (moved / "task.json").write_text(json.dumps(record), "utf-8")
    with pytest.raises(xlprompt.CheckpointError, match=r"task.json: not the task the run was trained with \(edited"):
        xlprompt.load_run(moved)


def _save(tmp_path, name, **overrides):
    values = dict(model="random:tiny", data_dir="builtin:demo", device="cpu", max_length=64, method="sp")
    values.update(overrides)
    model = xlprompt.PromptModel.from_config(RunConfig(**values))
    return model, model.save_pretrained(tmp_path / name)


def test_weights_of_another_model_are_refused_in_one_line(tmp_path):
    _save(tmp_path, "seed1", seed=1)
    _save(tmp_path, "seed7", seed=7)
    _save(tmp_path, "mpt", method="mpt")
    shutil.copy(tmp_path / "seed7" / "model.safetensors", tmp_path / "seed1" / "model.safetensors")
    with pytest.raises(xlprompt.CheckpointError, match=r"model.safetensors: the weights of another model") as err:
        xlprompt.PromptModel.from_pretrained(tmp_path / "seed1")
    assert "\n" not in str(err.value)
    shutil.copy(tmp_path / "mpt" / "model.safetensors", tmp_path / "seed7" / "model.safetensors")
    with pytest.raises(xlprompt.CheckpointError, match=r"the weights of another model"):
        xlprompt.PromptModel.from_pretrained(tmp_path / "seed7")
    # a file that carries the folder's hash but another method's tensors: unexpected keys are refused too
    from safetensors.torch import load_file, save_file

    meta = json.loads((tmp_path / "mpt" / "xlprompt_model.json").read_text("utf-8"))
    state = load_file(str(tmp_path / "mpt" / "model.safetensors"))
    state["head.weight"] = torch.zeros(2, 2)
    save_file(state, str(tmp_path / "mpt" / "model.safetensors"), metadata={"config_hash": meta["config_hash"]})
    with pytest.raises(xlprompt.CheckpointError, match=r"holds unexpected head.weight"):
        xlprompt.PromptModel.from_pretrained(tmp_path / "mpt")


def test_another_runs_weights_in_a_run_folder_or_adapter_are_refused(senti, tmp_path):
    from xlprompt.experiment import run_experiment
    from xlprompt.export import export_run

    other = tmp_path / "other"
    config = RunConfig(task=str(EXAMPLE / "task.yaml"), method="sp", freeze_plm=True, seed=7, **TINY)
    run_experiment(config, other, progress=False, log=lambda _m: None)
    copy = tmp_path / "run"
    shutil.copytree(senti / "run", copy)
    shutil.copy(other / "prompt.safetensors", copy / "prompt.safetensors")
    with pytest.raises(xlprompt.CheckpointError, match=r"prompt.safetensors: the weights of another run"):
        xlprompt.PromptModel.from_pretrained(copy)
    with pytest.raises(xlprompt.CheckpointError, match=r"prompt.safetensors: the weights of another run"):
        export_run(copy, tmp_path / "never")
    assert not (tmp_path / "never").exists()
    # an adapter whose weights were swapped with another run's adapter's
    export_run(senti / "run", tmp_path / "a")
    export_run(other, tmp_path / "b")
    shutil.copy(tmp_path / "b" / "xlprompt_adapter.safetensors", tmp_path / "a" / "xlprompt_adapter.safetensors")
    with pytest.raises(xlprompt.CheckpointError, match=r"xlprompt_adapter.safetensors: the weights of another adapter"):
        xlprompt.PromptModel.from_pretrained(tmp_path / "a")


def test_a_saved_model_keeps_the_label_words_it_was_built_with(tmp_path, monkeypatch):
    import tempfile

    words = tmp_path / "words.json"
    words.write_text(json.dumps({"de": ["yes", "maybe", "no"]}), "utf-8")
    model, _ = _save(tmp_path, "before", label_words_file=str(words))
    pairs = [("Ein Mann schläft.", "Niemand schläft."), ("Es regnet.", "Das Wetter ist nass.")]
    expected = model.scores(pairs, "de")
    words.write_text(json.dumps({"de": ["no", "maybe", "yes"]}), "utf-8")  # edited after the model was built
    model.save_pretrained(tmp_path / "edited")
    words.unlink()  # and then deleted
    model.save_pretrained(tmp_path / "deleted")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    for name in ("before", "edited", "deleted"):
        loaded = xlprompt.PromptModel.from_pretrained(tmp_path / name)
        assert torch.equal(loaded.scores(pairs, "de"), expected), name  # not permuted
        assert json.loads((tmp_path / name / "label_words.json").read_text("utf-8")) == {"de": ["yes", "maybe", "no"]}
    assert list((tmp_path / "tmp").iterdir()) == []  # loading wrote no temporary file


def test_incomplete_records_and_bad_targets_are_one_line_errors(tmp_path):
    model, folder = _save(tmp_path, "model")
    meta = json.loads((folder / "xlprompt_model.json").read_text("utf-8"))
    for key in ("config", "task"):
        broken = dict(meta)
        del broken[key]
        (folder / "xlprompt_model.json").write_text(json.dumps(broken), "utf-8")
        with pytest.raises(xlprompt.CheckpointError, match=rf"xlprompt_model.json: no '{key}' entry"):
            xlprompt.PromptModel.from_pretrained(folder)
    (tmp_path / "FILE").write_text("x")
    with pytest.raises(xlprompt.XlpromptError, match=r"FILE/sub: cannot write the model folder: .*FILE is a file"):
        model.save_pretrained(tmp_path / "FILE" / "sub")


def test_a_registered_task_stays_as_the_user_registered_it(tmp_path):
    from xlprompt.data.examples import NLIExample
    from xlprompt.tasks import TaskSplits
    from xlprompt.tasks.base import TASKS, unregister_task

    def load_splits(task, config, folder):
        rows = [NLIExample(f"{w} thing {i}", "", i % 2, "en", f"r{i}") for i, w in enumerate(["good", "bad"] * 6)]
        return TaskSplits(train=rows[:2], dev=rows[2:4], test={"en": rows[4:]}, eval_split="test")

    task = xlprompt.Task(
        name="reg-sentiment",
        labels=("negative", "positive"),
        languages=("en",),
        label_words=("no", "yes"),
        text_fields=("text",),
        tiny_label_words=("no", "yes"),
        load_splits=load_splits,
    )
    registered = xlprompt.register_task(task, replace=True)
    try:
        config = RunConfig(method="sp", task="reg-sentiment", model="random:tiny", device="cpu", shots=2)
        xlprompt.PromptModel.from_config(config).save_pretrained(tmp_path / "model")
        loaded = xlprompt.PromptModel.from_pretrained(tmp_path / "model")
        assert TASKS["reg-sentiment"] is registered  # not replaced
        assert loaded.run_config.task_spec().labels == ("negative", "positive")
        assert len(xlprompt.load_data(config).test["en"]) == 8  # the user's task still loads its data
        with pytest.raises(xlprompt.ConfigError, match="is the task of a saved model .* its definition, without its"):
            xlprompt.load_data(loaded.run_config)  # the saved copy has no data: one line, no KeyError
    finally:
        unregister_task("reg-sentiment")


def test_a_round_trip_keeps_the_hash_and_names_nothing_outside_the_folder(tmp_path):
    model, first = _save(tmp_path, "a", method="mpt")
    again = xlprompt.PromptModel.from_pretrained(first).save_pretrained(tmp_path / "b")
    one, two = (json.loads((f / "xlprompt_model.json").read_text("utf-8")) for f in (first, again))
    assert one["config_hash"] == two["config_hash"] == model.run_config.resolved_hash()
    assert one["config"] == two["config"]
    assert str(tmp_path) not in json.dumps(two)  # no path of this machine: the folder can be moved or uploaded
    assert two["config"]["tokenizer"] == "tokenizer"


def _fill_hub_cache(cache: Path, repo: str, folder: Path, revision: str = "0123456789abcdef0123456789abcdef01234567"):
    """The Hugging Face cache layout: models--user--name/{refs/main, snapshots/<revision>/...}."""
    root = cache / ("models--" + repo.replace("/", "--"))
    shutil.copytree(folder, root / "snapshots" / revision)
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text(revision)


def test_a_hub_name_loads_from_the_cache_offline(tmp_path, monkeypatch):
    model, folder = _save(tmp_path, "model", method="mpt")
    _fill_hub_cache(tmp_path / "hub", "someone/xlprompt-mpt", folder)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    pairs = [("Ein Mann schläft.", "Niemand schläft.")]
    loaded = xlprompt.PromptModel.from_pretrained("someone/xlprompt-mpt")
    assert torch.equal(loaded.scores(pairs, "de"), model.scores(pairs, "de"))
    result = CliRunner().invoke(
        cli, ["predict", "--model", "someone/xlprompt-mpt", "--premise", pairs[0][0], "--hypothesis", pairs[0][1]]
    )
    assert result.exit_code == 0, result.output
    with pytest.raises(xlprompt.CheckpointError, match=r"someone/absent: .*not in the cache \(HF_HUB_OFFLINE is set"):
        xlprompt.PromptModel.from_pretrained("someone/absent")


def test_push_to_hub_uploads_the_saved_folder(tmp_path, monkeypatch):
    from huggingface_hub import HfApi

    sent = {}

    def upload_folder(self, *, folder_path, repo_id, **kwargs):
        root = Path(folder_path)
        sent[repo_id] = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
        return "commit"

    monkeypatch.setattr(HfApi, "create_repo", lambda self, repo_id, **kwargs: repo_id)
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    model, folder = _save(tmp_path, "model")
    assert model.push_to_hub("someone/sp") == "commit"
    assert sent == {"someone/sp": sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())}
    assert {"xlprompt_model.json", "model.safetensors"} <= set(sent["someone/sp"])
    assert any(name.startswith("tokenizer/") for name in sent["someone/sp"])


def test_a_model_saved_by_the_earlier_format_still_loads(tmp_path):
    """Format 1 (earlier versions): no token ids, tokenizer digest or method recorded; the words under
    ``label_words_file``; the config naming the tokenizer where it was."""
    words = tmp_path / "words.json"
    words.write_text(json.dumps({"de": ["yes", "maybe", "no"]}), "utf-8")
    model, folder = _save(tmp_path, "model", label_words_file=str(words))
    meta = json.loads((folder / "xlprompt_model.json").read_text("utf-8"))
    old = {k: meta[k] for k in ("config", "config_hash", "random_weights", "labels", "task")}
    old.update(format=1, label_words_file=meta["label_words"])
    old["config"] = {**meta["config"], "tokenizer": str(tmp_path / "elsewhere"), "label_words_file": str(words)}
    (folder / "xlprompt_model.json").write_text(json.dumps(old), "utf-8")
    pairs = [("Ein Mann schläft.", "Niemand schläft.")]
    assert torch.equal(xlprompt.PromptModel.from_pretrained(folder).scores(pairs, "de"), model.scores(pairs, "de"))


def test_a_run_predicts_with_the_label_words_it_was_built_with(tmp_path):
    from xlprompt.experiment import run_experiment

    words = tmp_path / "words.json"
    words.write_text(json.dumps({"de": ["yes", "maybe", "no"]}), "utf-8")
    values = dict(TINY, data_dir="builtin:demo", method="sp", freeze_plm=True, eval_languages="en,de")
    run_experiment(
        RunConfig(label_words_file=str(words), **values), tmp_path / "run", progress=False, log=lambda _m: None
    )
    pairs = [("Ein Mann schläft.", "Niemand schläft."), ("Es regnet.", "Das Wetter ist nass.")]
    expected = xlprompt.load_run(tmp_path / "run").scores(pairs, "de")
    words.write_text(json.dumps({"de": ["no", "maybe", "yes"]}), "utf-8")  # edited after the run
    assert torch.equal(xlprompt.load_run(tmp_path / "run").scores(pairs, "de"), expected)
    words.unlink()
    assert torch.equal(xlprompt.load_run(tmp_path / "run").scores(pairs, "de"), expected)
    held = tmp_path / "run" / "label_words.json"
    assert json.loads(held.read_text("utf-8")) == {"de": ["yes", "maybe", "no"]}
    held.write_text(json.dumps({"de": ["no", "maybe", "yes"]}), "utf-8")
    with pytest.raises(xlprompt.CheckpointError, match=r"label_words.json: not the label words the run was trained"):
        xlprompt.load_run(tmp_path / "run")


def test_a_run_holds_its_tasks_per_language_words(xlmr_tokenizer):
    """A task file's German label words (schlecht, gut) are the run's test-time words in German, chosen because the
    config left label_words to the task; a config read back from the run sets every key, so the run folder holds
    the words (a loader passes them to the model, as for a label_words_file: the test above)."""
    from xlprompt.experiment import LABEL_WORDS_FILE, run_records
    from xlprompt.verbalizer import verbalizer_for

    config = RunConfig(
        **dict(TINY, task=str(EXAMPLE / "task.yaml"), method="sp", tokenizer=xlmr_tokenizer.name_or_path)
    )
    records = run_records(config, verbalizer_for(config, xlmr_tokenizer))
    assert records[LABEL_WORDS_FILE] == {"en": ["bad", "good"], "de": ["schlecht", "gut"]}
    again = RunConfig.from_dict(config.to_dict())  # as a loader reads it back: the task's table is not chosen again
    assert verbalizer_for(again, xlmr_tokenizer).per_language == {}
    held = verbalizer_for(again, xlmr_tokenizer, records[LABEL_WORDS_FILE])
    assert held.ids_for("de") == tuple(
        xlmr_tokenizer(w, add_special_tokens=False)["input_ids"][-1] for w in ("schlecht", "gut")
    )
