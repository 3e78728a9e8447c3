"""Every method through every command: methods × tasks × commands (run, predict --run, export, predict --adapter),
and ``xlprompt demo`` for every method ``demo --help`` offers.

Tasks: XNLI on the shipped sample (``builtin:demo``), PAWS-X from a tiny data folder this test writes, and a user
task (YAML + TSV/JSONL files written here). A combination that cannot run must be refused in one line that says
why (exit status 2); every other one must go through all four commands, and the adapter's predictions (with the
trained PLM exported) must be the run's. Fast on purpose (random:tiny, 1 epoch, tiny data): it runs in CI.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from datafactory import write_pawsx, write_tatoeba

from xlprompt.cli import cli
from xlprompt.methods import BUILTIN_METHODS

METHODS = ("mpt", "sp", "ft", "pct", "dp", "dpa", "softmv", "xpe", "dual")
TASKS = ("xnli", "pawsx", "user")
#: combinations refused by design, and the words the one-line refusal must contain
REFUSED = {("softmv", "pawsx"): "softmv cannot run task pawsx"}

USER_TASK = """name: matrix-task
text_fields: [text]
labels: [negative, positive]
label_words:
  default: [bad, good]
  en: [bad, good]
  de: [schlecht, gut]
languages: [en, de]
tiny_label_words: ["no", "yes"]
splits:
  train: {en: train.tsv}
  test: {en: test.en.jsonl, de: test.de.jsonl}
pct_templates: {en: "Review: {} Sentiment: <mask>", de: "Rezension: {} Stimmung: <mask>"}
dp_template: "{text} . Sentiment: <mask> ."
"""


@pytest.fixture(scope="module")
def places(tmp_path_factory):
    root = tmp_path_factory.mktemp("matrix")
    pawsx = root / "pawsx-data"
    write_pawsx(pawsx, ("en", "de"), n_dev=14, n_test=2, n_train=0)  # evaluated on dev
    write_tatoeba(pawsx, ("de", "es", "fr", "zh"), n_rows={"de": 16, "es": 4, "fr": 4, "zh": 4})
    user = root / "user-task"
    user.mkdir()
    words = ("awful", "great")
    (user / "train.tsv").write_text(
        "text\tlabel\n"
        + "".join(f"the {words[i % 2]} film number {i}\t{('negative', 'positive')[i % 2]}\n" for i in range(12)),
        "utf-8",
    )
    for lang in ("en", "de"):
        (user / f"test.{lang}.jsonl").write_text(
            "".join(
                json.dumps({"text": f"[{lang}] a {words[i % 2]} test film {i}", "label": i % 2}) + "\n"
                for i in range(6)
            ),
            "utf-8",
        )
    (user / "task.yaml").write_text(USER_TASK, "utf-8")
    return {"root": root, "pawsx": pawsx, "user": user / "task.yaml"}


def _task_args(task: str, places) -> list[str]:
    common = [
        "--set",
        "epochs=1",
        "--set",
        "max_length=64",
        "--set",
        "batch_size=6",
        "--set",
        "num_threads=1",
        "--set",
        "device=cpu",
        "--set",
        "parallel_size=8",
        "--set",
        "eval_batch_size=32",
    ]
    if task == "xnli":
        return ["--data-dir", "builtin:demo", "--set", "eval_languages=en,de", *common]
    if task == "pawsx":
        return ["--task", "pawsx", "--data-dir", str(places["pawsx"]), "--set", "eval_languages=en,de", *common]
    return ["--task", str(places["user"]), "--data-dir", str(places["pawsx"]), *common]  # MPT: its Tatoeba


def _invoke(args):
    result = CliRunner().invoke(cli, args, catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"xlprompt {' '.join(map(str, args))} raised {result.exception!r}:\n{result.output}")
    return result


def test_the_matrix_names_every_builtin_method():
    assert set(METHODS) == set(BUILTIN_METHODS)


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("method", METHODS)
def test_every_method_through_every_command(method, task, places):
    run_dir = places["root"] / f"run-{method}-{task}"
    adapter = places["root"] / f"adapter-{method}-{task}"
    extra = ["--set", "softmv_cosda_rate=0"] if method == "softmv" else []
    run = _invoke(
        [
            "run",
            "--method",
            method,
            "--model",
            "random:tiny",
            "--shots",
            "2",
            "--out",
            str(run_dir),
            "--quiet",
            *_task_args(task, places),
            *extra,
        ]
    )
    if (method, task) in REFUSED:
        assert run.exit_code == 2, run.output
        lines = [line for line in run.output.splitlines() if line.startswith("error:")]
        assert len(lines) == 1 and REFUSED[(method, task)] in lines[0], run.output
        assert not run_dir.exists() or not any(run_dir.iterdir()), "a refused run leaves nothing behind"
        return
    assert run.exit_code == 0, run.output
    text = ("a great film", "") if task == "user" else ("the cat sat", "a cat was sitting")
    lang = "de"
    query = ["--premise", text[0]] + (["--hypothesis", text[1]] if text[1] else []) + ["--lang", lang]
    from_run = _invoke(["predict", "--run", str(run_dir), *query])
    assert from_run.exit_code == 0, from_run.output
    exported = _invoke(["export", "--run", str(run_dir), "--out", str(adapter), "--with-plm"])
    assert exported.exit_code == 0, exported.output
    from_adapter = _invoke(["predict", "--adapter", str(adapter), *query])
    assert from_adapter.exit_code == 0, from_adapter.output
    # the adapter with the trained PLM predicts what the run predicts, probabilities included
    assert from_adapter.output.strip().splitlines()[-1] == from_run.output.strip().splitlines()[-1]


@pytest.mark.parametrize("method", METHODS)
def test_demo_runs_every_method_it_offers(method, tmp_path):
    result = _invoke(
        [
            "demo",
            "--method",
            method,
            "--model",
            "random:tiny",
            "--epochs",
            "1",
            "--out",
            str(tmp_path / "demo"),
            "--set",
            "eval_languages=en,de",
            "--set",
            "max_length=64",
        ]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "demo" / "results.json").is_file()


def test_demo_without_a_model_runs_a_method_the_toy_world_cannot_run_on_random_tiny(tmp_path, monkeypatch):
    """Every built-in method runs the toy world; one that cannot (here SoftMV, made to refuse it) falls back."""
    import dataclasses

    from xlprompt import methods

    spec = methods.get_method_spec("softmv")

    def refuse_toy(task):
        return "refused for this test" if task.name == "toy" else spec.task_support(task)

    monkeypatch.setitem(methods._REGISTRY, "softmv", dataclasses.replace(spec, task_support=refuse_toy))
    result = _invoke(["demo", "--method", "softmv", "--epochs", "1", "--out", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    assert "softmv cannot run the toy world (refused for this test)" in result.output
    assert "random:tiny" in result.output
    assert (tmp_path / "demo" / "results.json").is_file()
