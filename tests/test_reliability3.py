"""Reliability by cause: each cause fixed where it lives, a test over its class, and a test per listed case.

* messages: a run refused while its model parts are built leaves nothing behind; predict on a missing adapter;
  a read-only store; user-task sampling errors; ``data stats`` with a folder for a file; CSV rows with extra
  fields;
* resources: with ``--workers N`` a failed run is tried once per sweep invocation.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from datafactory import FAST_RUN

from xlprompt.cli import cli
from xlprompt.config import RunConfig
from xlprompt.errors import ConfigError, DataError, XlpromptError

FAST = dict(FAST_RUN)


def _error(result) -> str:
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), (result.exit_code, result.output)
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def _user_task(
    folder: Path, train_rows: str, extra: str = "", test_file: str = "test.tsv", test_rows: str | None = None
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.tsv").write_text("text\tlabel\n" + train_rows, "utf-8")
    if test_rows is not None:
        (folder / test_file).write_text(test_rows, "utf-8")
    (folder / "task.yaml").write_text(
        f"""name: rel3
text_fields: [text]
labels: [negative, positive]
label_words: ["no", "yes"]
languages: [en]
splits:
  train: {{en: train.tsv}}
  test: {{en: {test_file}}}
{extra}""",
        "utf-8",
    )
    return folder / "task.yaml"


# ------------------------------------------------------------------------------------------------ messages
def test_a_run_refused_while_its_model_is_built_leaves_nothing_that_refuses_the_corrected_command(tmp_path):
    out = tmp_path / "run"
    bad = {**FAST, "label_words": "yes,maybe,xqzxqzxqz", "multi_token_label_words": "error"}
    from xlprompt.experiment import run_experiment

    with pytest.raises(XlpromptError):
        run_experiment(RunConfig(**bad), out, progress=False, log=lambda _m: None)
    assert not (out / "config.json").exists()
    results = run_experiment(RunConfig(**FAST), out, progress=False, log=lambda _m: None)  # the corrected one
    assert results["accuracy"] and (out / "results.json").is_file()


def test_predict_on_a_missing_adapter_or_run_says_so(tmp_path):
    for option in ("--adapter", "--run"):
        line = _error(
            CliRunner().invoke(
                cli, ["predict", option, str(tmp_path / "nope"), "--premise", "a", "--hypothesis", "b", "--lang", "ja"]
            )
        )
        assert "nope" in line and "language code" not in line, line


def test_a_store_that_cannot_be_opened_for_writing_is_one_clear_line(tmp_path, monkeypatch):
    from xlprompt.store import ResultStore

    real = sqlite3.connect

    def refuse(*args, **kwargs):
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(sqlite3, "connect", refuse)
    with pytest.raises(XlpromptError) as err:
        ResultStore(tmp_path / "r.db")
    monkeypatch.setattr(sqlite3, "connect", real)
    assert "cannot be opened for writing" in str(err.value) and "--store" in str(err.value)
    (tmp_path / "FILE").write_text("x")
    with pytest.raises(XlpromptError, match="FILE is a file, not a folder"):
        ResultStore(tmp_path / "FILE" / "x.db")


def test_user_task_sampling_errors_name_file_and_split_and_never_advise_k_0(tmp_path):
    only_negative = "".join(f"bad thing {i}\tnegative\n" for i in range(6))
    task = _user_task(tmp_path / "a", only_negative, test_rows="text\tlabel\nok\tpositive\n")
    from xlprompt.run_data import load_run_data

    with pytest.raises(ConfigError) as err:
        load_run_data(RunConfig(task=str(task), model="random:tiny", shots=2))
    text = str(err.value)
    assert "train.tsv" in text and "split train" in text and "at most 0" not in text
    assert "add examples of class 'positive'" in text
    # dev sampled from the rest of train: that is named too
    few = "".join(f"text {i}\t{('negative', 'positive')[i % 2]}\n" for i in range(5))
    task = _user_task(tmp_path / "b", few, test_rows="text\tlabel\nok\tpositive\n")
    with pytest.raises(ConfigError) as err:
        load_run_data(RunConfig(task=str(task), model="random:tiny", shots=2))
    assert "dev split" in str(err.value) and "splits.dev.en" in str(err.value)


def test_data_stats_refuses_a_folder_in_place_of_a_data_file(tmp_path):
    from datafactory import write_pawsx

    write_pawsx(tmp_path, ("en", "de"))
    target = tmp_path / "pawsx" / "dev" / "de.tsv"
    target.unlink()
    target.mkdir()
    line = _error(CliRunner().invoke(cli, ["data", "stats", "--data-dir", str(tmp_path)]))
    assert "de.tsv" in line and "a folder where a data file belongs" in line


def test_user_task_csv_rows_with_extra_or_missing_fields_are_refused(tmp_path):
    from xlprompt.tasks.user import read_split

    for rows, line in (("text,label\nfine, but long,positive\n", 2), ("text,label\nok,positive\nshort\n", 3)):
        task_file = _user_task(
            tmp_path / f"c{line}", "a\tnegative\nb\tpositive\n", test_file="test.csv", test_rows=rows
        )
        task = RunConfig(task=str(task_file), model="random:tiny").task_spec()
        with pytest.raises(DataError, match=rf"test.csv:{line}: .*fields, the header has 2"):
            read_split(task, "test", "en")


# ------------------------------------------------------------------------------------------------ resources
def test_a_failed_run_is_tried_once_per_sweep_invocation_by_every_worker(tmp_path):
    """Sibling workers of one invocation share its start time: a run that failed since then is not claimed again
    (each worker walks every run of the job, so without this every worker retried every failure)."""
    import time

    from xlprompt.executors import FAILED_ELSEWHERE, execute_run
    from xlprompt.store import ResultStore
    from xlprompt.sweep import load_sweep

    sweep_file = tmp_path / "s.yaml"
    # fails while its model parts are built (a label word of several pieces), after every cheap check passed
    sweep_file.write_text(
        yaml.safe_dump({"name": "t", "base": {**FAST, "method": "sp", "label_words": "yes,maybe,xqzxqzxqz"}})
    )
    run = load_sweep(sweep_file).runs[0]
    store_path = tmp_path / "r.db"
    with ResultStore(store_path) as store:
        store.add([(run.hash, run.config.to_dict(), "t", "")], sweep="t")

    def worker(index: int, started: float):
        return execute_run(
            store_path,
            run.hash,
            run.config.to_dict(),
            tmp_path / "runs" / run.hash,
            worker=f"local-worker:{index}",
            invocation_started=started,
        )

    started = time.time()
    first = worker(0, started)
    assert first.status == "failed" and "xqzxqzxqz" in first.error
    for index in (1, 2):  # the siblings of the same invocation
        assert worker(index, started).status == FAILED_ELSEWHERE
    with ResultStore(store_path) as store:
        assert [r.attempts for r in store.runs()] == [1]
    assert worker(0, time.time() + 1).status == "failed"  # the next invocation tries it again, once
    with ResultStore(store_path) as store:
        assert [r.attempts for r in store.runs()] == [2]


def test_the_workers_of_one_invocation_share_its_start(tmp_path, monkeypatch):
    from xlprompt import executors

    seen = {}
    real = executors.LocalExecutor._run_workers

    def spy(self, *args, **kwargs):
        seen["started"] = kwargs.get("started")
        return real(self, *args[:6], [], started=kwargs.get("started"))  # nothing to run

    monkeypatch.setattr(executors.LocalExecutor, "_run_workers", spy)
    from xlprompt.sweep import load_sweep

    (tmp_path / "s.yaml").write_text(yaml.safe_dump({"name": "t", "base": FAST, "grid": {"seed": [1, 2]}}))
    executors.LocalExecutor(progress=False, workers=2).run(
        load_sweep(tmp_path / "s.yaml"), tmp_path / "r.db", tmp_path / "runs"
    )
    assert isinstance(seen["started"], float)


# ------------------------------------------------------------------------------------------- identity by content
def _sentiment(tmp_path) -> Path:
    import shutil

    folder = tmp_path / "senti"
    shutil.copytree(Path(__file__).resolve().parents[1] / "docs" / "examples" / "sentiment-mini", folder)
    return folder / "task.yaml"


def test_a_task_file_is_one_run_under_every_spelling_and_a_new_run_once_edited(tmp_path, monkeypatch):
    task = _sentiment(tmp_path)
    monkeypatch.chdir(tmp_path)
    spellings = [str(task), "senti/task.yaml", "./senti/../senti/task.yaml"]
    hashes = {RunConfig(task=t, method="sp", model="random:tiny").resolved_hash() for t in spellings}
    assert len(hashes) == 1
    before = hashes.pop()
    # every input file shapes the result: editing the task file, one of its data files, a label-words file or a
    # parallel file gives another run
    text = task.read_text("utf-8")
    task.write_text(text.replace("labels: [negative, positive]", "labels: [positive, negative]"), "utf-8")
    after = RunConfig(task=spellings[1], method="sp", model="random:tiny").resolved_hash()
    assert after != before
    data = task.parent / "data" / "test.de.csv"
    data.write_text(data.read_text("utf-8") + '"ein neuer Satz",positive\n', "utf-8")
    assert RunConfig(task=spellings[2], method="sp", model="random:tiny").resolved_hash() != after
    words = tmp_path / "words.json"
    words.write_text(json.dumps({"en": ["yes", "maybe", "no"]}))
    base = dict(model="random:tiny", data_dir="builtin:demo", label_words_file=str(words))
    first = RunConfig(**base).resolved_hash()
    assert RunConfig(**{**base, "label_words_file": "words.json"}).resolved_hash() == first
    words.write_text(json.dumps({"en": ["no", "maybe", "yes"]}))
    assert RunConfig(**base).resolved_hash() != first


def test_run_and_sweep_see_an_edited_task_file_as_a_new_run(tmp_path, monkeypatch):
    from xlprompt.experiment import run_experiment

    task = _sentiment(tmp_path)
    monkeypatch.chdir(tmp_path)
    values = dict(
        method="sp", model="random:tiny", shots=2, epochs=1, max_length=64, batch_size=4, device="cpu", num_threads=1
    )
    run_experiment(RunConfig(task=str(task), **values), tmp_path / "run", progress=False, log=lambda _m: None)
    # another spelling of the same file: the same run, reused
    again = run_experiment(
        RunConfig(task="senti/task.yaml", **values), tmp_path / "run", progress=False, log=lambda _m: None
    )
    assert again["config_hash"] == RunConfig(task=str(task), **values).resolved_hash()
    sweep = tmp_path / "s.yaml"
    sweep.write_text(yaml.safe_dump({"name": "s", "base": {**values, "task": "senti/task.yaml"}}))
    runner = CliRunner()
    store = tmp_path / "r.db"
    from xlprompt.executors import LocalExecutor
    from xlprompt.sweep import load_sweep

    LocalExecutor(progress=False).run(load_sweep(sweep), store, tmp_path / "runs")
    assert "finished" in runner.invoke(cli, ["sweep", str(sweep), "--store", str(store), "--dry-run"]).output
    text = task.read_text("utf-8")
    task.write_text(text.replace("default: [bad, good]", "default: [good, bad]"), "utf-8")
    dry = runner.invoke(cli, ["sweep", str(sweep), "--store", str(store), "--dry-run"]).output
    assert " new " in dry and "finished" not in dry, dry
    with pytest.raises(XlpromptError, match="the content of task .* changed since it ran"):
        run_experiment(RunConfig(task=str(task), **values), tmp_path / "run", progress=False, log=lambda _m: None)


def test_predict_uses_the_task_a_run_was_trained_with_not_the_task_file_edited_since(tmp_path):
    """The run folder and its adapter hold the task's definition: a task file edited after training (labels
    swapped, label words swapped) changes nothing in their predictions; an edited copy of their own record is
    refused in one line."""
    from xlprompt.experiment import run_experiment

    task = _sentiment(tmp_path)
    values = dict(
        task=str(task),
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
    adapter = tmp_path / "adapter"
    assert CliRunner().invoke(cli, ["export", "--run", str(run_dir), "--out", str(adapter)]).exit_code == 0
    before = {
        option: CliRunner().invoke(cli, ["predict", option, str(place), "--premise", "good food"]).output
        for option, place in (("--run", run_dir), ("--adapter", adapter))
    }
    assert before["--run"] == before["--adapter"] and "negative" in before["--run"], before
    text = task.read_text("utf-8")
    for edited in (
        text.replace("labels: [negative, positive]", "labels: [positive, negative]"),
        text.replace("default: [bad, good]", "default: [good, bad]"),
    ):
        task.write_text(edited, "utf-8")
        for option, place in (("--run", run_dir), ("--adapter", adapter)):
            got = CliRunner().invoke(cli, ["predict", option, str(place), "--premise", "good food"])
            assert got.exit_code == 0 and got.output == before[option], got.output
    record = json.loads((run_dir / "task.json").read_text("utf-8"))
    record["label_words"] = record["label_words"][::-1]
    (run_dir / "task.json").write_text(json.dumps(record), "utf-8")
    line = _error(CliRunner().invoke(cli, ["predict", "--run", str(run_dir), "--premise", "good food"]))
    assert "task.json: not the task the run was trained with (edited since)" in line, line


# ------------------------------------------------------------------------------------------------ leak guard
@pytest.mark.parametrize(
    "variant",
    [
        lambda t: t,  # the same row
        lambda t: t + ".",  # plus a full stop
        lambda t: t.replace(" ", "  "),  # doubled spaces
        lambda t: "  " + t.upper() + " ",  # case and surrounding spaces
        lambda t: t.replace("a", "ａ"),  # a full-width letter (NFKC)
        lambda t: t.replace(" ", " , ", 1) + "!",  # punctuation inside and after
    ],
)
@pytest.mark.parametrize("source", ["en", "de"])
def test_training_rows_evaluated_in_any_language_under_any_normalisation_are_refused(tmp_path, variant, source):
    from datafactory import write_leaky_task

    from xlprompt.run_data import load_run_data

    train = [f"a {('bad', 'good')[i % 2]} sentence number {i}" for i in range(8)]
    task = write_leaky_task(tmp_path / "t", train, variant, source)
    with pytest.raises(DataError, match=r"training examples are also in the evaluated leaky test split \(de"):
        load_run_data(RunConfig(task=str(task), model="random:tiny", shots=2, method="sp"))


def test_an_xnli_parallel_file_of_test_pairs_with_an_extra_space_is_refused(tmp_path):
    from xlprompt.run_data import demo_examples, load_run_data

    de = demo_examples("test", "de")[0]
    en = demo_examples("test", "en")[5]
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
    pairs[1].update(tgt_premise=de.premise + " ", tgt_hypothesis=de.hypothesis.replace(" ", "  "), uid="leaky")
    pairs[2].update(src_premise=en.premise.rstrip(".") + " .", src_hypothesis=en.hypothesis, uid="p2")
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in pairs), "utf-8")
    config = RunConfig(
        **{**FAST, "eval_languages": "en,de", "parallel_source": "file", "parallel_file": str(path), "parallel_size": 3}
    )
    with pytest.raises(
        DataError, match="parallel pair 'leaky' \\(de; pair 2 of the corpus\\) is an example of the evaluated"
    ):
        load_run_data(config)
    pairs[1].update(tgt_premise="Neue Prämisse 1.", tgt_hypothesis="Neue Hypothese 1.")
    path.write_text("".join(json.dumps(p) + "\n" for p in pairs), "utf-8")
    with pytest.raises(DataError, match="parallel pair 'p2' \\(en; pair 3 of the corpus\\)"):
        load_run_data(
            RunConfig(
                **{
                    **FAST,
                    "eval_languages": "en,de",
                    "parallel_source": "file",
                    "parallel_file": str(path),
                    "parallel_size": 3,
                }
            )
        )


def test_a_user_task_whose_dev_split_is_its_test_file_is_refused_with_a_fix_that_fits(tmp_path):
    rows = "".join(f"sentence {i} here\t{('negative', 'positive')[i % 2]}\n" for i in range(8))
    task = _user_task(
        tmp_path / "d",
        rows,
        extra="  dev: {en: test.tsv}\n",
        test_rows="text\tlabel\n" + "".join(f"another {i} row\t{('negative', 'positive')[i % 2]}\n" for i in range(8)),
    )
    from xlprompt.run_data import load_run_data

    with pytest.raises(DataError) as err:
        load_run_data(RunConfig(task=str(task), model="random:tiny", shots=2, method="sp"))
    text = str(err.value)
    assert "model-selection dev examples" in text and "splits.dev.en" in text and "eval_split" not in text
