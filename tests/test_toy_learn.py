"""End-to-end learning on the toy world, through the CLI: every method that runs task toy learns on the source
language and transfers to the derived languages, MPT and SP to every one of them; `predict` and an exported adapter
reproduce a run's evaluation; `xlprompt demo` prints it; and a run whose evaluation labels are permuted (training
untouched) fails the same checks. One run each of MPT (the demo), SP and SoftMV (k=16, seed 1) and the control:
4 runs; every method's numbers are the study's (docs/toy.md).

The toy model is pre-trained once per test session into ``$XLPROMPT_TOY_DATA`` when set, else pytest's cache
folder (``.pytest_cache``; kept between sessions), else (no cache plugin) a temporary folder. The thresholds come
from the study (docs/toy.md: every method, k=16, seeds 1-5): the lowest source accuracy of MPT, SP and SoftMV
observed was 85.3 (chance 33.3), their lowest best-target accuracy 82.7, MPT's lowest target 78.4 (85.3 with
seed 1), SP's 75.3 (77.6 with seed 1: 15 points above chance is the aim), and MPT over SP on the farthest
language, qac, +7.7 with seed 1 (the gain there was positive with 3 seeds of 5, the largest of the three
targets with seed 1); 900 items per language put chance's standard deviation at 1.6 points.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from xlprompt.cli import cli
from xlprompt.data.toy import TOY_TARGETS, language_distance
from xlprompt.tasks.toy import TOY_SETTINGS

#: MPT and SP (the paper's comparison) and SoftMV (the task's own dictionary); the study runs the others
METHODS = ("mpt", "sp", "softmv")
SHOTS = 16
CHANCE = 100 / 3
#: source (en) accuracy a trained method must reach, and the best of the three derived languages
SOURCE_MIN = 75.0
TARGET_MIN = 70.0
#: every target language: MPT's, and SP's (one English prompt for every language: 15 points above chance)
MPT_TARGET_MIN = 80.0
SP_TARGET_MIN = CHANCE + 15
#: MPT over SP on the language farthest from the source (the paper's claim: the larger gains far from it)
MPT_GAIN_MIN = 5.0
FARTHEST = max(TOY_TARGETS, key=language_distance)


@pytest.fixture(scope="session")
def toy_data(request, tmp_path_factory) -> Path:
    """The data folder holding the pre-trained toy model (built here on the session's first use): ``$XLPROMPT_TOY_DATA``,
    else pytest's cache folder (kept between sessions), else, without the cache plugin (``-p no:cacheprovider``), a
    temporary folder of this session."""
    from xlprompt.models.toy import ensure_toy_model

    cache = getattr(request.config, "cache", None)
    folder = os.environ.get("XLPROMPT_TOY_DATA") or (
        cache.mkdir("xlprompt-toy") if cache is not None else tmp_path_factory.mktemp("xlprompt-toy")
    )
    ensure_toy_model("toy:small", Path(folder))
    return Path(folder)


def run_args(method: str, data: Path, out: Path, seed: int = 1) -> list[str]:
    sets = [f"{k}={v}" for k, v in TOY_SETTINGS.items()]
    return [
        "run",
        "--method",
        method,
        "--task",
        "toy",
        "--model",
        "toy:small",
        "--shots",
        str(SHOTS),
        "--seed",
        str(seed),
        "--data-dir",
        str(data),
        "--out",
        str(out),
        "--quiet",
        *[arg for s in sets for arg in ("--set", s)],
    ]


def cli_run(method: str, data: Path, out: Path) -> dict:
    result = CliRunner().invoke(cli, run_args(method, data, out))
    assert result.exit_code == 0, result.output
    return json.loads((out / "results.json").read_text("utf-8"))


def check_learned(results: dict) -> None:
    acc = results["accuracy"]
    target = max(acc[lang] for lang in TOY_TARGETS)
    assert acc["en"] >= SOURCE_MIN, f"{results['method']}: en {acc['en']:.1f} < {SOURCE_MIN} (chance {CHANCE:.1f})"
    assert target >= TARGET_MIN, f"{results['method']}: targets {target:.1f} < {TARGET_MIN} (chance {CHANCE:.1f})"


@pytest.fixture(scope="session")
def toy_runs(toy_data, tmp_path_factory) -> dict:
    """One run per method (k=16, seed 1), shared by the tests below: MPT's is `xlprompt demo` itself (the same
    settings), so the demo costs no run of its own; the others through `xlprompt run`."""
    root = tmp_path_factory.mktemp("toy-runs")
    out = {}
    for method in METHODS:
        if method == "mpt":
            result = CliRunner(env={"XLPROMPT_DATA": str(toy_data)}).invoke(cli, ["demo", "--out", str(root / method)])
            assert result.exit_code == 0, result.output
            out[method] = (
                root / method,
                json.loads((root / method / "results.json").read_text("utf-8")),
                result.stdout,
            )
        else:
            out[method] = (root / method, cli_run(method, toy_data, root / method), None)
    return out


@pytest.mark.parametrize("method", METHODS)
def test_method_learns_and_transfers(toy_runs, method):
    _, results, _ = toy_runs[method]
    assert results["task"] == "toy" and not results["random_weights"]
    assert results["eval_examples"] == {"en": 900, "qaa": 900, "qab": 900, "qac": 900}
    check_learned(results)
    minimum = {"mpt": MPT_TARGET_MIN, "sp": SP_TARGET_MIN}.get(method)
    if minimum is not None:
        low = min(results["accuracy"][lang] for lang in TOY_TARGETS)
        assert low >= minimum, f"{method}: lowest target {low:.1f} < {minimum:.1f} (chance {CHANCE:.1f})"


def test_mpt_gains_most_on_the_farthest_language(toy_runs):
    """The paper's claim in miniature: on the language farthest from the source, MPT (its prompt aligned on
    translation pairs) is above SP (one English prompt for every language), with the same seed and the same
    few-shot sample, and its gain there is the largest of the three targets."""
    mpt, sp = (toy_runs[m][1]["accuracy"] for m in ("mpt", "sp"))
    gains = {lang: mpt[lang] - sp[lang] for lang in TOY_TARGETS}
    assert gains[FARTHEST] >= MPT_GAIN_MIN, f"MPT over SP on {FARTHEST}: {gains[FARTHEST]:+.1f} < {MPT_GAIN_MIN}"
    assert max(gains, key=gains.__getitem__) == FARTHEST, gains


@pytest.mark.parametrize("method", ("sp", "softmv"))
def test_predict_and_adapter_reproduce_the_run(toy_runs, toy_data, tmp_path, method, monkeypatch):
    """The adapter carries the toy model: a prediction from it, wherever the default data folder is, pre-trains
    no toy model again."""
    from xlprompt.data.toy import toy_world

    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setenv("XLPROMPT_DATA", str(elsewhere))
    run_dir, results, _ = toy_runs[method]
    runner = CliRunner()
    exported = runner.invoke(cli, ["export", "--run", str(run_dir), "--out", str(tmp_path / "adapter"), "--with-plm"])
    assert exported.exit_code == 0, exported.output
    for lang in ("en", "qab"):
        items = toy_world().test[lang]
        batch = tmp_path / f"{lang}.jsonl"
        batch.write_text(
            "".join(
                json.dumps({"premise": ex.premise, "hypothesis": ex.hypothesis, "lang": lang}) + "\n" for ex in items
            ),
            "utf-8",
        )
        predictions = {}
        for source in (["--run", str(run_dir)], ["--adapter", str(tmp_path / "adapter")]):
            written = tmp_path / f"{lang}{source[0]}.jsonl"
            out = runner.invoke(cli, ["predict", *source, "--input", str(batch), "--output", str(written)])
            assert out.exit_code == 0, out.output
            rows = [json.loads(line) for line in written.read_text("utf-8").splitlines()]
            assert [(r["premise"], r["hypothesis"]) for r in rows] == [(ex.premise, ex.hypothesis) for ex in items]
            predictions[source[0]] = [r["prediction_id"] for r in rows]
        assert predictions["--run"] == predictions["--adapter"]
        correct = sum(p == ex.label for p, ex in zip(predictions["--run"], items))
        assert 100 * correct / len(items) == pytest.approx(results["accuracy"][lang], abs=1e-6)
    assert not elsewhere.exists()  # no toy model was built in the default data folder


def test_permuted_evaluation_labels_are_caught(toy_data, tmp_path, monkeypatch):
    """The control: training as always, the test labels shifted (entailment → neutral → contradiction →
    entailment). The learning checks above must fail on it."""
    import dataclasses

    import xlprompt.tasks.toy as toy_task
    from xlprompt.data.toy import toy_world

    world = toy_world()
    shifted = {
        lang: [dataclasses.replace(ex, label=(ex.label + 1) % 3) for ex in examples]
        for lang, examples in world.test.items()
    }
    monkeypatch.setattr(toy_task, "toy_world", lambda: dataclasses.replace(world, test=shifted))
    results = cli_run("sp", toy_data, tmp_path / "broken")
    with pytest.raises(AssertionError):
        check_learned(results)
    assert results["accuracy"]["en"] < CHANCE


def test_demo_shows_learning_on_the_toy_world(toy_runs):
    """`xlprompt demo` (its default: MPT on the toy model, found in the data folder) prints the table, how far
    above chance each language is, and that the world is synthetic."""
    import re

    _, results, out = toy_runs["mpt"]
    assert "NOT XNLI" in out and "synthetic" in out and "building the toy model" not in out
    header = "   EN   QAA   QAB   QAC   Avg"
    assert header in out.splitlines()
    above = re.search(r"above chance by \(points\): en ([+-]\d+\.\d)", out)
    assert float(above.group(1)) == pytest.approx(results["accuracy"]["en"] - CHANCE, abs=0.06)


def test_a_toy_run_carries_its_toy_model_and_predicts_in_another_data_folder(toy_runs, tmp_path, monkeypatch):
    """The demo's run read its toy model from the default data folder. Predicting from the run with another
    default data folder (another machine, a moved run) uses the model the run folder carries: nothing is
    pre-trained again, and the predictions are the run's."""
    from xlprompt.data.toy import toy_world

    run_dir, results, _ = toy_runs["mpt"]
    assert json.loads((run_dir / "config.json").read_text("utf-8"))["config"]["data_dir"] is None
    assert (run_dir / "base_model" / "config.json").is_file()
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setenv("XLPROMPT_DATA", str(elsewhere))
    items = toy_world().test["qaa"]
    batch = tmp_path / "qaa.jsonl"
    batch.write_text(
        "".join(json.dumps({"premise": ex.premise, "hypothesis": ex.hypothesis, "lang": "qaa"}) + "\n" for ex in items),
        "utf-8",
    )
    out = CliRunner().invoke(
        cli, ["predict", "--run", str(run_dir), "--input", str(batch), "--output", str(tmp_path / "p.jsonl")]
    )
    assert out.exit_code == 0, out.output
    predicted = [json.loads(line)["prediction_id"] for line in (tmp_path / "p.jsonl").read_text("utf-8").splitlines()]
    correct = sum(p == ex.label for p, ex in zip(predicted, items))
    assert 100 * correct / len(items) == pytest.approx(results["accuracy"]["qaa"], abs=1e-6)
    assert not elsewhere.exists()  # no toy model was pre-trained in the other data folder
