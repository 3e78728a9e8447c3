"""Using a trained run: load_run(...).predict reproduces the run's own evaluation; export → load_adapter gives
the same probabilities; the CLI's predict (single and JSONL) and export."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

import xlprompt
from xlprompt.cli import cli
from xlprompt.config import RunConfig
from xlprompt.errors import CheckpointError, ConfigError, DataError
from xlprompt.experiment import run_experiment
from xlprompt.export import ADAPTER_CONFIG, ADAPTER_WEIGHTS, export_run, load_adapter
from xlprompt.run_data import demo_examples

LANGS = ("en", "de", "zh")
FAST = dict(
    model="random:tiny",
    data_dir="builtin:demo",
    epochs=2,
    shots=2,
    max_length=64,
    batch_size=6,
    eval_batch_size=32,
    eval_languages=",".join(LANGS),
    num_threads=1,
    device="cpu",
)


def demo_pairs(lang: str):
    examples = demo_examples("test", lang)
    return [(ex.premise, ex.hypothesis) for ex in examples], [ex.label for ex in examples]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three finished runs: MPT with a frozen PLM (transformer translator: dropout), MPT with a trained PLM
    (PLM weights saved), and FT whose PLM weights were not saved."""
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for name, config, save in [
        ("mpt-frozen", RunConfig(**FAST, method="mpt", freeze_plm=True, translator="transformer-1"), True),
        ("mpt-trained", RunConfig(**FAST, method="mpt"), True),
        ("ft-nosave", RunConfig(**FAST, method="ft"), False),
    ]:
        results = run_experiment(config, root / name, progress=False, log=lambda _m: None, save_weights=save)
        out[name] = (root / name, results)
    return out


@pytest.mark.parametrize("name", ["mpt-frozen", "mpt-trained"])
def test_load_run_reproduces_the_runs_accuracy(runs, name):
    run_dir, results = runs[name]
    predictor = xlprompt.load_run(run_dir)
    assert predictor.random_weights and "chance-level" in predictor.note
    for lang in LANGS:
        pairs, labels = demo_pairs(lang)
        preds = predictor.predict(pairs, lang=lang)
        accuracy = 100.0 * sum(p.label_id == y for p, y in zip(preds, labels)) / len(labels)
        assert accuracy == pytest.approx(results["accuracy"][lang])
        for p in preds:
            assert sum(p.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
            assert p.label == max(p.probabilities, key=p.probabilities.get)


def test_export_round_trip_frozen_plm(runs, tmp_path):
    run_dir, _ = runs["mpt-frozen"]
    files = export_run(run_dir, tmp_path / "adapter")
    assert {f.name for f in files} == {ADAPTER_CONFIG, ADAPTER_WEIGHTS}
    spec = json.loads((tmp_path / "adapter" / ADAPTER_CONFIG).read_text())
    assert spec["base_model"] == "random:tiny" and spec["method"] == "mpt" and spec["translator"] == "transformer-1"
    assert spec["prompt_length"] == 4 and spec["prompt_position"] == "suffix" and spec["hidden_size"] == 32
    assert spec["label_words"] == ["yes", "maybe", "no"] and spec["plm_weights_included"] is False
    from safetensors.torch import load_file

    tensors = load_file(str(tmp_path / "adapter" / ADAPTER_WEIGHTS))
    assert tensors["p_source"].shape == (4, 32) and tensors["p_target"].shape == (4, 32)
    assert any(k.startswith("prompt_encoder.") for k in tensors) and any(k.startswith("translator.") for k in tensors)
    run_pred, adapter_pred = xlprompt.load_run(run_dir), load_adapter(tmp_path / "adapter")
    # the exported p_T is the one used at test time (eval mode: no dropout sample)
    with torch.no_grad():
        assert torch.allclose(adapter_pred.method.prompt_for("de"), tensors["p_target"], atol=1e-6)
    for lang in LANGS:
        pairs, _ = demo_pairs(lang)
        assert torch.allclose(run_pred.scores(pairs, lang), adapter_pred.scores(pairs, lang), atol=1e-6)


def test_export_round_trip_with_plm(runs, tmp_path):
    run_dir, _ = runs["mpt-trained"]
    files = export_run(run_dir, tmp_path / "a", with_plm=True)
    assert "plm.safetensors" in {f.name for f in files}
    pairs, _ = demo_pairs("de")
    expected = xlprompt.load_run(run_dir).scores(pairs, "de")
    assert torch.allclose(load_adapter(tmp_path / "a").scores(pairs, "de"), expected, atol=1e-6)
    # without the PLM the adapter loads onto the untrained base, with a warning
    export_run(run_dir, tmp_path / "b")
    with pytest.warns(UserWarning, match="--with-plm"):
        load_adapter(tmp_path / "b")


def test_runs_without_plm_weights_are_refused(runs, tmp_path):
    run_dir, _ = runs["ft-nosave"]
    with pytest.raises(CheckpointError, match="plm.safetensors is missing"):
        xlprompt.load_run(run_dir)
    with pytest.raises(CheckpointError, match="--with-plm needs"):
        export_run(run_dir, tmp_path / "a", with_plm=True)
    with pytest.raises(CheckpointError, match="not a run directory"):
        xlprompt.load_run(tmp_path)


def test_bad_inputs(runs):
    predictor = xlprompt.load_run(runs["mpt-frozen"][0])
    with pytest.raises(ConfigError, match="unknown language code 'xx'"):
        predictor.predict([("a", "b")], lang="xx")
    with pytest.raises(DataError, match="pair 0"):
        predictor.predict([("a",)], lang="en")
    assert predictor.predict([], lang="en") == []


def test_cli_predict_and_export(runs, tmp_path):
    run_dir, _ = runs["mpt-frozen"]
    runner = CliRunner()
    single = runner.invoke(
        cli,
        [
            "predict",
            "--run",
            str(run_dir),
            "--lang",
            "de",
            "--premise",
            "Der Hund schläft.",
            "--hypothesis",
            "Ein Tier ruht.",
        ],
    )
    assert single.exit_code == 0, single.output
    assert single.output.split("\t")[0].strip().split("\n")[-1] in ("entailment", "neutral", "contradiction")
    pairs, _ = demo_pairs("zh")
    batch_in = tmp_path / "in.jsonl"
    batch_in.write_text(
        "".join(
            json.dumps({"premise": p, "hypothesis": h, "lang": "zh", "id": i}) + "\n" for i, (p, h) in enumerate(pairs)
        )
        + json.dumps({"premise": "x", "hypothesis": "y"})
        + "\n"
    )
    out = tmp_path / "out.jsonl"
    batch = runner.invoke(
        cli, ["predict", "--run", str(run_dir), "--lang", "en", "--input", str(batch_in), "--output", str(out)]
    )
    assert batch.exit_code == 0, batch.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == len(pairs) + 1 and rows[0]["id"] == 0 and "lang" not in rows[-1]
    expected = xlprompt.load_run(run_dir).predict(pairs, lang="zh")
    assert [r["prediction"] for r in rows[:-1]] == [p.label for p in expected]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"premise": "a", "hypothesis": "b"}\nnot json\n')
    failed = runner.invoke(cli, ["predict", "--run", str(run_dir), "--input", str(bad)])
    assert failed.exit_code == 2 and "bad.jsonl:2" in failed.output
    exported = runner.invoke(cli, ["export", "--run", str(run_dir), "--out", str(tmp_path / "ad")])
    assert exported.exit_code == 0, exported.output
    via_adapter = runner.invoke(
        cli, ["predict", "--adapter", str(tmp_path / "ad"), "--lang", "zh", "--input", str(batch_in)]
    )
    assert via_adapter.exit_code == 0
    adapter_rows = [json.loads(line) for line in via_adapter.output.splitlines() if line.startswith("{")]
    assert [r["prediction"] for r in adapter_rows] == [r["prediction"] for r in rows]


def test_relative_paths_resolve_from_the_recorded_working_directory(tmp_path, monkeypatch):
    from xlprompt.predict import resolve_relative

    project = tmp_path / "a" / "project"
    (tmp_path / "a" / "shared" / "tok").mkdir(parents=True)
    project.mkdir()
    run_dir = tmp_path / "b" / "c" / "run"
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps({"hash": "x", "config": {}, "cwd": str(project)}))
    monkeypatch.chdir(run_dir)
    assert resolve_relative("../shared/tok", run_dir) == str((tmp_path / "a" / "shared" / "tok").resolve())
    assert resolve_relative("xlm-roberta-base", run_dir) == "xlm-roberta-base"  # hub names untouched
    assert resolve_relative("random:tiny", run_dir) == "random:tiny"
    assert resolve_relative("../nowhere", run_dir) == "../nowhere"


def test_a_lossy_export_warns_at_export_time_naming_the_flag(runs, tmp_path):
    run_dir, _ = runs["mpt-trained"]  # the PLM trained (the paper's setting)
    with pytest.warns(
        UserWarning,
        match=r"the PLM trained in this run but the export leaves its weights out: .* "
        r"export with --with-plm$",
    ):
        export_run(run_dir, tmp_path / "a")
    result = CliRunner().invoke(cli, ["export", "--run", str(run_dir), "--out", str(tmp_path / "b")])
    assert result.exit_code == 0
    assert result.stderr.strip().startswith("warning: ") and result.stderr.strip().endswith("export with --with-plm")
    quiet = CliRunner().invoke(cli, ["export", "--run", str(run_dir), "--out", str(tmp_path / "c"), "--with-plm"])
    assert quiet.exit_code == 0 and "warning" not in quiet.stderr
    frozen = CliRunner().invoke(cli, ["export", "--run", str(runs["mpt-frozen"][0]), "--out", str(tmp_path / "d")])
    assert frozen.exit_code == 0 and "warning" not in frozen.stderr


def test_an_adapter_names_no_local_path_and_carries_its_tokenizer(tmp_path):
    import shutil

    from xlprompt.models.backbone import builtin_tokenizer

    tokenizer_dir = tmp_path / "machine" / "tok"
    builtin_tokenizer().save_pretrained(str(tokenizer_dir))
    config = RunConfig(
        **{**FAST, "epochs": 1}, method="mpt", freeze_plm=True, tokenizer=str(tokenizer_dir), label_words="yes,maybe,no"
    )
    run_dir = tmp_path / "machine" / "run"
    run_experiment(config, run_dir, progress=False, log=lambda _m: None)
    export_run(run_dir, tmp_path / "adapter")
    text = (tmp_path / "adapter" / ADAPTER_CONFIG).read_text("utf-8")
    assert str(tmp_path) not in text and "/machine/" not in text
    spec = json.loads(text)
    assert spec["tokenizer"] == "tokenizer" and spec["config"]["tokenizer"] == "tokenizer"
    assert spec["base_model"] == "random:tiny" and spec["config"]["data_dir"] is None
    assert (tmp_path / "adapter" / "tokenizer" / "tokenizer.json").is_file()
    pairs, _ = demo_pairs("de")
    expected = xlprompt.load_run(run_dir).scores(pairs, "de")
    moved = tmp_path / "elsewhere" / "adapter"  # another machine: the run and its tokenizer folder are gone
    shutil.copytree(tmp_path / "adapter", moved)
    shutil.rmtree(tmp_path / "machine")
    shutil.rmtree(tmp_path / "adapter")
    assert torch.allclose(load_adapter(moved).scores(pairs, "de"), expected, atol=1e-6)


def test_a_local_base_model_is_recorded_by_its_hub_name(tmp_path):
    from xlprompt.export import _portable_model

    model = tmp_path / "models" / "xlmr"
    model.mkdir(parents=True)
    (model / "config.json").write_text(json.dumps({"_name_or_path": "xlm-roberta-base"}))
    assert _portable_model(str(model)) == ("xlm-roberta-base", False)
    (model / "config.json").write_text(json.dumps({"_name_or_path": str(model)}))
    assert _portable_model(str(model)) == ("xlmr", True)  # only the folder's name; load_adapter needs base_model
    assert _portable_model("xlm-roberta-base") == ("xlm-roberta-base", False)
