"""Several source languages (config ``source_languages``) beyond SIB-200's data (tests/test_tasks_sib200.py runs
them end to end): a method trains on each example's own language's label words; a task declares the languages it
has train data in; the report's task tables say which languages a row trained on."""

from __future__ import annotations

import json

import pytest
import torch

import xlprompt
from xlprompt.data.examples import NLIExample
from xlprompt.errors import ConfigError
from xlprompt.tasks.base import TaskSplits, unregister_task

LANGS = ("en", "de", "fr")


def _splits(task, config, folder) -> TaskSplits:
    """Four examples per source language (their texts name it), two of each class; tested on French."""

    def rows(lang: str, split: str) -> list[NLIExample]:
        return [NLIExample(f"{lang} {split} text {i}", "", i % 2, lang, f"{split}-{lang}-{i}") for i in range(4)]

    sources = config.sources()
    return TaskSplits(
        [ex for lang in sources for ex in rows(lang, "train")],
        [ex for lang in sources for ex in rows(lang, "dev")],
        {lang: rows(lang, "test") for lang in config.languages()},
        "test",
    )


@pytest.fixture
def two_source_task():
    task = xlprompt.Task(
        name="two-source",
        labels=("negative", "positive"),
        languages=LANGS,
        label_words=("no", "yes"),
        text_fields=("text",),
        tiny_label_words=("no", "yes"),
        load_splits=_splits,
        train_languages=("en", "de"),
    )
    xlprompt.register_task(task, replace=True)
    yield task
    unregister_task("two-source")


def test_sp_scores_each_training_example_with_its_own_languages_label_words(two_source_task, tmp_path):
    words = tmp_path / "words.json"
    words.write_text(json.dumps({"de": ["yes", "no"]}), "utf-8")  # German swaps the two words
    config = xlprompt.RunConfig(
        method="sp",
        task="two-source",
        model="random:tiny",
        device="cpu",
        source_languages="de,en",
        label_words_file=str(words),
        max_length=32,
    )
    assert config.sources() == ("en", "de")
    model = xlprompt.PromptModel.from_config(config)
    model.eval()  # no dropout: the same inputs give the same numbers
    data = xlprompt.load_data(config)
    assert [ex.lang for ex in data.train] == ["en"] * 4 + ["de"] * 4

    def loss(examples) -> float:
        with torch.no_grad():
            return float(model.training_loss(model.collate(examples, step=0)))

    english = data.train[:4]
    # every German row of class 0 (balanced classes over identical scores would hide which word scored them)
    german = [NLIExample(ex.premise, ex.hypothesis, 0, ex.lang, ex.uid) for ex in data.train[4:]]
    mixed = loss(english + german)
    # CE is a mean over the batch: the mixed batch's is the mean of the two languages' own
    assert mixed == pytest.approx((loss(english) + loss(german)) / 2, abs=1e-5)
    # the German rows read as English (the same texts, English's words) give another loss: the words follow `lang`
    as_english = [NLIExample(ex.premise, ex.hypothesis, ex.label, "en", ex.uid) for ex in german]
    assert abs(loss(as_english) - loss(german)) > 1e-4
    # with the words swapped, a German row of label y is scored as an English row of label 1 - y
    flipped = [NLIExample(ex.premise, ex.hypothesis, 1 - ex.label, "en", ex.uid) for ex in german]
    assert loss(flipped) == pytest.approx(loss(german), abs=1e-5)


def test_dev_selection_runs_on_the_union_of_the_sources_dev_splits(two_source_task):
    from xlprompt.evaluate import accuracy
    from xlprompt.evaluate import predict as predict_classes

    config = xlprompt.RunConfig(
        method="sp", task="two-source", model="random:tiny", device="cpu", source_languages="en,de", max_length=32
    )
    model = xlprompt.PromptModel.from_config(config)
    data = xlprompt.load_data(config)
    tokenized = model.collate(data.dev).examples
    assert sorted({ex.lang for ex in tokenized}) == ["de", "en"] and len(tokenized) == 8
    # by hand: each language's examples predicted as that language's, correct ones counted over all 8
    correct = 0
    for lang in ("en", "de"):
        rows = [ex for ex in tokenized if ex.lang == lang]
        predicted, _ = predict_classes(model.method, rows, lang, 4)
        correct += sum(int(p == ex.label) for p, ex in zip(predicted, rows))
    assert accuracy(model.method, tokenized, None, 4) == pytest.approx(correct / 8)


def test_a_task_declares_its_train_languages(two_source_task):
    base = dict(method="sp", task="two-source", model="random:tiny")
    with pytest.raises(ConfigError) as err:
        xlprompt.RunConfig(**base, source_languages="en,fr")
    assert str(err.value) == (
        "source_languages names 'fr', but task two-source has train and dev data in en, de only; train on one of "
        "those or leave source_languages unset"
    )
    with pytest.raises(ConfigError) as err:
        xlprompt.RunConfig(**{**base, "method": "mpt"}, source_languages="en,de")
    assert str(err.value) == (
        "method mpt trains on one source language, the task's (en); source_languages=en,de names 2 (methods that "
        "train on other or several: sp, ft, xpe, dual)"
    )
    with pytest.raises(ConfigError) as err:
        xlprompt.RunConfig(**{**base, "method": "mpt"}, source_languages="de")
    assert str(err.value).startswith("method mpt trains on one source language, the task's (en); ")
    assert "source_languages=de names another" in str(err.value)
    # a task read from its files has train data in its source language only: it cannot declare more
    files_task = xlprompt.Task(
        name="files-task",
        labels=("a", "b"),
        languages=("en", "de"),
        label_words=("no", "yes"),
        files={"train": {"en": "x.tsv"}},
        train_languages=("en", "de"),
    )
    with pytest.raises(ConfigError) as err:
        xlprompt.register_task(files_task)
    assert str(err.value).startswith(
        "register_task('files-task'): field 'train_languages': a task read from its files trains on its source "
        "language only; "
    )


def test_task_tables_mark_the_source_languages_of_each_row(tmp_path):
    from xlprompt.config import RunConfig
    from xlprompt.report import build_report
    from xlprompt.store import ResultStore

    languages = ("en", "deu_Latn", "swh_Latn")
    with ResultStore(tmp_path / "s.sqlite") as store:
        for sources, acc in (("en,deu_Latn", 70.0), (None, 50.0)):
            config = RunConfig(task="sib200", method="xpe", model="random:tiny", shots=2, source_languages=sources)
            h = config.resolved_hash()
            store.add([(h, config.to_dict(), "g", "")], sweep="g")
            assert store.claim(h).ok
            store.finish(
                h,
                {
                    "accuracy": {**dict.fromkeys(languages, acc), "avg": acc},
                    "random_weights": True,
                    "method": "xpe",
                    "shots": 2,
                    "seed": 1,
                    "model": "random:tiny",
                    "task": "sib200",
                    "eval_split": "test",
                },
            )
    build_report(tmp_path / "s.sqlite", tmp_path / "rep")
    page = (tmp_path / "rep" / "report.md").read_text("utf-8")
    rows = {
        line.split("|")[1].strip(): [c.strip() for c in line.strip("|").split("|")[1:4]]
        for line in page.splitlines()
        if line.startswith("| XPE k=2")
    }
    assert rows == {
        "XPE k=2 source_languages=en,deu_Latn": ["70.0ˢ", "70.0ˢ", "70.0"],
        "XPE k=2 source_languages=None": ["50.0ˢ", "50.0", "50.0"],
    }
    assert "- ˢ: a source language of the row (trained on); the others are held out." in page
    assert "- Sources of XPE k=2 source_languages=en,deu_Latn: en, deu_Latn." in page


@pytest.mark.parametrize("method", ["sp", "ft", "dual"])
def test_multi_source_methods_run_on_the_union_and_report_held_out_languages(two_source_task, method, tmp_path):
    config = xlprompt.RunConfig(
        method=method,
        task="two-source",
        model="random:tiny",
        device="cpu",
        source_languages="en,de",
        epochs=1,
        batch_size=4,
        max_length=32,
        prompt_length=4,
    )
    results = xlprompt.run(config, tmp_path / "run")
    assert results["train_examples"] == 8  # 4 per source language
    assert results["source_languages"] == ["en", "de"] and results["held_out_languages"] == ["fr"]
    held = results["averages"]["held_out"]
    assert held["languages"] == ["fr"] and held["accuracy"] == pytest.approx(results["accuracy"]["fr"])
    saved = json.loads((tmp_path / "run" / "results.json").read_text("utf-8"))
    assert saved["held_out_languages"] == ["fr"]
