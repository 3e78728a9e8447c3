"""Tasks through sweeps (task axis), the store (runs keyed with their task), the report (a table per
task with its language columns; the paper's tables XNLI-only) and predict (the task's fields and labels)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from xlprompt.config import RunConfig
from xlprompt.errors import DataError
from xlprompt.store import ResultStore

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "sentiment-mini" / "task.yaml"


def test_sweep_task_axis_gives_one_run_per_task_with_distinct_hashes():
    from xlprompt.sweep import expand

    spec = {
        "name": "tasks",
        "base": {"method": "sp", "model": "random:tiny", "shots": 2},
        "grid": {"task": ["xnli", "pawsx", str(EXAMPLE)], "seed": [1, 2]},
    }
    sweep = expand(spec)
    assert len(sweep.runs) == 6
    assert sorted({r.config.task for r in sweep.runs}) == sorted(["xnli", "pawsx", str(EXAMPLE)])
    assert len(set(sweep.hashes())) == 6
    pawsx = next(r.config for r in sweep.runs if r.config.task == "pawsx")
    assert pawsx.languages() == ("en", "de", "es", "fr", "ja", "ko", "zh") and pawsx.label_words == "no,yes"
    xnli = next(r.config for r in sweep.runs if r.config.task == "xnli" and r.config.seed == 1)
    assert xnli.label_words == "yes,maybe,no"  # the XNLI recipe (builtin:tiny), untouched by the task layer


def _insert(store, config, accuracy):
    h = config.resolved_hash()
    store.add([(h, config.to_dict(), "g", "")], sweep="g")
    assert store.claim(h).ok
    store.finish(
        h,
        {
            "accuracy": accuracy,
            "random_weights": True,
            "method": config.method,
            "shots": config.shots,
            "seed": config.seed,
            "model": config.model,
            "task": config.task,
            "eval_split": "dev",
        },
    )
    return h


def test_store_keys_runs_with_their_task_and_report_writes_a_table_per_task(tmp_path):
    from xlprompt.report import build_report

    store_path = tmp_path / "store.sqlite"
    langs = ("en", "de", "es", "fr", "ja", "ko", "zh")
    with ResultStore(store_path) as store:
        hashes = []
        for seed, base in ((1, 50.0), (2, 60.0)):
            acc = {lang: base + i for i, lang in enumerate(langs)}
            acc["avg"] = sum(acc.values()) / 7
            hashes.append(
                _insert(store, RunConfig(task="pawsx", method="sp", model="random:tiny", shots=4, seed=seed), acc)
            )
        senti = RunConfig(task=str(EXAMPLE), method="ft", model="random:tiny", shots=2)
        hashes.append(_insert(store, senti, {"en": 50.0, "de": 100 * 4 / 6, "avg": (50 + 100 * 4 / 6) / 2}))
        assert len(set(hashes)) == 3
        assert {store.get(h).config["task"] for h in hashes} == {"pawsx", str(EXAMPLE)}
    report = build_report(store_path, tmp_path / "report")
    assert report.runs == 3
    assert report.table1.empty  # the paper's Table I holds XNLI runs only
    md = (tmp_path / "report" / "task_pawsx.md").read_text("utf-8")
    assert "| setting | EN | DE | ES | FR | JA | KO | ZH | Avg | Paper avg | n |" in md
    # means over the two seeds, by hand: en (50+60)/2 = 55.0, zh (56+66)/2 = 61.0, std of (50, 60) = 7.07; the
    # paper's average of PAWS-X is over its 7 languages: 53 and 63 per run
    assert (
        "| SP k=4 | 55.0±7.1 | 56.0±7.1 | 57.0±7.1 | 58.0±7.1 | 59.0±7.1 | 60.0±7.1 | 61.0±7.1 | 58.0±7.1 | 58.0±7.1 "
        "| 2 |"
    ) in md
    assert "- Paper avg: every one of the 7 PAWS-X languages, English included" in md
    csv_text = (tmp_path / "report" / "task_sentiment-mini.csv").read_text("utf-8")
    assert csv_text.splitlines()[0] == "task,metric,setting,en,de,avg,paper,n"
    assert csv_text.splitlines()[1] == "sentiment-mini,accuracy,FT k=2,50.0000,66.6667,58.3333,58.3333,1"
    assert "## Task pawsx" in (tmp_path / "report" / "report.md").read_text("utf-8")


@pytest.fixture(scope="module")
def senti_run(tmp_path_factory):
    from xlprompt.experiment import run_experiment

    run_dir = tmp_path_factory.mktemp("senti") / "run"
    config = RunConfig(
        task=str(EXAMPLE),
        method="sp",
        model="random:tiny",
        device="cpu",
        shots=2,
        epochs=1,
        batch_size=4,
        max_length=64,
    )
    run_experiment(config, run_dir, progress=False, log=lambda _: None)
    return run_dir


def test_predict_uses_the_task_fields_labels_and_languages(senti_run):
    from xlprompt.errors import ConfigError
    from xlprompt.predict import load_run

    predictor = load_run(senti_run)
    preds = predictor.predict(["Das Essen war kalt.", {"text": "Great soup."}], lang="de")
    assert len(preds) == 2
    for pred in preds:
        assert pred.label in ("negative", "positive") and set(pred.probabilities) == {"negative", "positive"}
        assert sum(pred.probabilities.values()) == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="unknown sentiment-mini language code 'fr'"):
        predictor.predict(["Bon."], lang="fr")
    with pytest.raises(DataError, match="pair 0: needs the field 'text'"):
        predictor.predict([{"premise": "x"}], lang="en")


def test_predict_cli_on_a_one_text_task(senti_run, tmp_path):
    from xlprompt.cli import cli

    result = CliRunner().invoke(cli, ["predict", "--run", str(senti_run), "--premise", "Great soup.", "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert result.output.split("\t")[0].strip().splitlines()[-1] in ("negative", "positive")
    batch = tmp_path / "in.jsonl"
    batch.write_text(json.dumps({"text": "Kalt.", "lang": "de"}) + "\n" + json.dumps({"premise": "x"}) + "\n", "utf-8")
    result = CliRunner().invoke(cli, ["predict", "--run", str(senti_run), "--input", str(batch)])
    assert result.exit_code == 2
    assert "in.jsonl:2: expected an object with string field(s) 'text'" in result.output


def test_export_and_adapter_predict_keep_the_task(senti_run, tmp_path):
    from xlprompt.export import export_run, load_adapter, read_adapter_config

    export_run(senti_run, tmp_path / "adapter")
    spec = read_adapter_config(tmp_path / "adapter")
    assert spec["task"] == "sentiment-mini" and spec["labels"] == ["negative", "positive"]
    assert (tmp_path / "adapter" / "task.json").is_file()  # the task's definition travels with the adapter
    predictor = load_adapter(tmp_path / "adapter")
    pred = predictor.predict(["Schön."], lang="de")[0]
    assert set(pred.probabilities) == {"negative", "positive"}


def test_sweep_dry_run_names_the_task(tmp_path):
    import yaml

    from xlprompt.cli import cli

    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(
        yaml.safe_dump(
            {
                "name": "t",
                "base": {"method": "sp", "model": "random:tiny", "shots": 2},
                "grid": {"task": ["xnli", "pawsx", str(EXAMPLE)]},
            }
        ),
        "utf-8",
    )
    result = CliRunner().invoke(cli, ["sweep", str(sweep), "--store", str(tmp_path / "s.db"), "--dry-run"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[-1] == "3 runs"
    assert "task=" not in lines[0] and "task=pawsx" in lines[1] and "task=sentiment-mini" in lines[2]
