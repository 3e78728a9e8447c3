"""Hostile values beyond the config fields' own declarations: the task spec, the CLI's path options, YAML files
(sweep and task), the sweep's names and size, model and tokenizer specs, repeated options. Each is refused in one
line naming what is wrong, before any work."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from xlprompt.cli import cli
from xlprompt.config import RunConfig
from xlprompt.errors import ConfigError

BASE = dict(model="random:tiny", data_dir="builtin:demo", shots=2)


def _error(result) -> str:
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), (result.exit_code, result.output)
    lines = [line for line in result.output.splitlines() if line.lower().startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


@pytest.mark.parametrize(
    "spec, fragment",
    [
        ("", "'task' is empty"),
        ("   ", "'task' is empty"),
        ("x" * 5000, "too long"),
        ("FILE/task.yaml", "FILE is a file, not a folder"),
        ("a\0b.yaml", "NUL"),
    ],
)
def test_a_task_spec_that_can_name_no_file_is_one_line(tmp_path, spec, fragment):
    (tmp_path / "FILE").write_text("x")
    if spec.startswith("FILE"):
        spec = str(tmp_path / spec)
    with pytest.raises(ConfigError, match=fragment) as err:
        RunConfig(**BASE, task=spec)
    assert "\n" not in str(err.value)


# ------------------------------------------------------------------------------------------------ path options
def _commands(group, prefix=()):
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _commands(command, (*prefix, name))
        else:
            yield (*prefix, name), command


PATHS = [
    (path, param)
    for path, command in _commands(cli)
    for param in command.params
    if isinstance(param.type, __import__("click").Path) or param.name == "data_dir"
]


def test_the_cli_has_path_options():
    assert len(PATHS) >= 15


@pytest.mark.parametrize("path, param", PATHS, ids=[f"{' '.join(p)} {q.name}" for p, q in PATHS])
def test_every_path_option_refuses_an_empty_path_and_one_under_a_file(tmp_path, path, param):
    """An empty path (the current folder, silently) and ``FILE/x`` (a path that can never exist) are refused by the
    option's type, before any work: no traceback (``ValueError: PosixPath('.') has an empty name``), no run that
    starts and fails later (``--runs-dir FILE/x``)."""
    import click

    (tmp_path / "FILE").write_text("x")
    name = f"{' '.join(path)} {param.name}"
    for value in ("", "  ", str(tmp_path / "FILE" / "x"), str(tmp_path / ("x" * 5000))):
        if value.strip() == "" and param.name == "data_dir" and not isinstance(param.type, click.Path):
            assert param.type.convert(value, param, None) is None, name  # a config key's blank: unset, as --set
            continue
        with pytest.raises(click.BadParameter):
            param.type.convert(value, param, None)
            pytest.fail(f"{name} accepted {value[:40]!r}")


@pytest.mark.parametrize(
    "args",
    [
        ["sweep", "SWEEP", "--store", ""],
        ["report", "--store", "STORE", "--out", ""],
        ["toy", "pretrain", "--data-dir", "FILE"],
        ["toy", "pretrain", "--data-dir", "FILE/x"],
        ["sweep", "SWEEP", "--store", "STORE", "--runs-dir", "FILE/x"],
    ],
)
def test_listed_path_cases_are_one_line_before_any_work(tmp_path, args):
    (tmp_path / "FILE").write_text("x")
    (tmp_path / "sweep.yaml").write_text("base: {model: 'random:tiny', data_dir: 'builtin:demo', shots: 2}\n")
    subst = {"SWEEP": str(tmp_path / "sweep.yaml"), "STORE": str(tmp_path / "s.db")}
    args = [subst.get(a, a.replace("FILE", str(tmp_path / "FILE"))) for a in args]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output and "Invalid value" in result.output, result.output
    assert not (tmp_path / "s.db").exists()


# ------------------------------------------------------------------------------------------------ YAML files
SWEEP_BASE = "base: {model: 'random:tiny', data_dir: 'builtin:demo', shots: 2}\n"
TASK = """name: strict
text_fields: [text]
labels: [a, b]
label_words: [x, y]
languages: [en]
splits:
  train: {en: train.tsv}
  test: {en: train.tsv}
"""


def _load(kind: str, tmp_path, text: str | bytes):
    from xlprompt.sweep import load_sweep
    from xlprompt.tasks.user import load_task_file

    (tmp_path / "train.tsv").write_text("text\tlabel\nok\ta\nfine\tb\n")
    file = tmp_path / f"{kind}.yaml"
    file.write_bytes(text if isinstance(text, bytes) else text.encode())
    return load_sweep(file) if kind == "sweep" else load_task_file(file)


@pytest.mark.parametrize("kind, good", [("sweep", SWEEP_BASE), ("task", TASK)])
@pytest.mark.parametrize(
    "mutate, fragment",
    [
        (
            lambda t: t.replace("shots: 2", "shots: 2, shots: 4").replace(
                "labels: [a, b]", "labels: [a, b]\nlabels: [b, a]"
            ),
            "given twice",
        ),
        (lambda t: b"\xff\xfe" + t.encode(), "not UTF-8"),
        (lambda t: t + "\n  : [\n", "not valid YAML"),
    ],
    ids=["duplicate-key", "not-utf8", "bad-yaml"],
)
def test_sweep_and_task_files_refuse_duplicate_keys_and_bad_bytes_in_one_line(tmp_path, kind, good, mutate, fragment):
    """YAML keeps the last of two equal keys silently (``shots: 2, shots: 4`` ran k=4); both files are read by one
    strict reader."""
    _load(kind, tmp_path, good)  # the good file loads
    with pytest.raises(ConfigError, match=fragment) as err:
        _load(kind, tmp_path, mutate(good))
    assert "\n" not in str(err.value) and f"{kind}.yaml" in str(err.value)


def test_a_byte_order_mark_is_accepted(tmp_path):
    assert len(_load("sweep", tmp_path, b"\xef\xbb\xbf" + SWEEP_BASE.encode())) == 1


# ------------------------------------------------------------------------------------------------ sweep names
@pytest.mark.parametrize(
    "extra, fragment",
    [
        ("name: ''\n", "name must be"),
        ("name: [a]\n", "name must be"),
        ("name: ../../x\n", "name must be"),
        ("name: a/b\n", "name must be"),
        ("groups: {'a|b': {}}\n", "group's name must be"),
        ("groups: {'': {}}\n", "group's name must be"),
        ("variants: {'x|y': {}}\n", "variant's name must be"),
        ("variants: {'  ': {}}\n", "variant's name must be"),
    ],
)
def test_sweep_names_are_one_line_texts_fit_for_tables_and_folders(tmp_path, extra, fragment):
    with pytest.raises(ConfigError, match=fragment):
        _load("sweep", tmp_path, SWEEP_BASE + extra)


def test_names_that_are_fine_stay_fine(tmp_path):
    sweep = _load("sweep", tmp_path, SWEEP_BASE + "name: t2\nvariants: {'w/o consistency loss': {alpha: 1.0}, 4: {}}\n")
    assert sweep.name == "t2" and {r.variant for r in sweep.runs} == {"w/o consistency loss", "4"}


def test_a_grid_too_large_is_refused_before_it_is_expanded(tmp_path):
    import time

    axes = ", ".join(
        f"{key}: [{', '.join(str(v) for v in range(1, 11))}]"
        for key in ("seed", "shots", "prompt_length", "parallel_size", "epochs", "dev_every", "parallel_seed")
    )
    start = time.perf_counter()
    with pytest.raises(ConfigError, match="expands to 10,000,000 runs"):
        _load("sweep", tmp_path, SWEEP_BASE + f"grid: {{{axes}}}\n")
    assert time.perf_counter() - start < 5


# ------------------------------------------------------------------------------------------------ task files
@pytest.mark.parametrize(
    "old, new, fragment",
    [
        ("name: strict", "name: '../x'", "field 'name': must be"),
        ("name: strict", "name: 'a|b'", "field 'name': must be"),
        ("labels: [a, b]", "labels: ['', b]", "field 'labels': has an empty entry"),
        ("label_words: [x, y]", "label_words: ['', y]", "field 'label_words.default': has an empty label word"),
        ("label_words: [x, y]", "label_words: [x, x]", "two labels share a label word"),
        ("text_fields: [text]", "text_fields: [' ']", "field 'text_fields': has an empty entry"),
    ],
)
def test_task_names_labels_and_label_words_are_checked_in_the_task_file(tmp_path, old, new, fragment):
    """A task's name names the report's task_<name>.md (``../x`` wrote outside the report folder) and titles a
    Markdown table; an empty or shared label word is refused where it is written, not only by a real tokenizer."""
    with pytest.raises(ConfigError, match=fragment) as err:
        _load("task", tmp_path, TASK.replace(old, new))
    assert "task.yaml" in str(err.value)


def test_jsonl_and_label_words_json_refuse_a_key_given_twice(tmp_path):
    from xlprompt.data.tsv import read_jsonl
    from xlprompt.errors import DataError
    from xlprompt.verbalizer import read_label_words_file

    (tmp_path / "a.jsonl").write_text('{"text": "ok", "label": "a"}\n{"text": "t", "label": "a", "label": "b"}\n')
    with pytest.raises(DataError, match=r"a.jsonl:2: the field 'label' is given twice"):
        read_jsonl(tmp_path / "a.jsonl")
    (tmp_path / "w.json").write_text('{"de": ["ja", "vielleicht", "nein"], "de": ["nein", "vielleicht", "ja"]}')
    with pytest.raises(DataError, match="'de' is given twice"):
        read_label_words_file(tmp_path / "w.json")


# ------------------------------------------------------------------------------------------------ model specs
@pytest.mark.parametrize(
    "values, fragment",
    [
        ({"tokenizer": "builtin:nope"}, "tokenizer=builtin:nope: unknown builtin tokenizer; known: builtin:tiny"),
        ({"model": "builtin:tiny"}, "model=builtin:tiny: unknown builtin model"),
        ({"model": "FILE"}, "model=.*FILE is a file; a local model is a folder"),
        ({"tokenizer": "FILE"}, "tokenizer=.*FILE is a file; a local tokenizer is a folder"),
        ({"model": "  "}, "'model' is empty"),
    ],
)
def test_model_and_tokenizer_specs_that_name_nothing_loadable_are_refused_by_the_config(tmp_path, values, fragment):
    """Not "the hub cannot be reached" after a timeout: the spec itself is what is wrong."""
    (tmp_path / "FILE").write_text("x")
    values = {k: str(tmp_path / v) if v == "FILE" else v for k, v in values.items()}
    with pytest.raises(ConfigError, match=fragment):
        RunConfig(**{**BASE, **values})


# ------------------------------------------------------------------------------------------------ conflicting options
@pytest.mark.parametrize(
    "args, fragment",
    [
        (["run", "--seed", "2", "--set", "seed=1"], "--seed 2 and --set seed=1 disagree"),
        (["run", "--set", "eval_languages=en,de,en"], "eval_languages names en more than once"),
        (["demo", "--epochs", "2", "--set", "epochs=3"], "--epochs 2 and --set epochs=3 disagree"),
        (["sweep", "SWEEP", "--store", "STORE", "--dry-run", "--data-dir", "D", "--set", "data_dir=E"], "disagree"),
    ],
)
def test_an_option_and_set_disagreeing_are_refused_not_silently_resolved(tmp_path, args, fragment):
    """``--seed 2 --set seed=1`` ran seed 1. (A later ``--set`` of one key still wins over an earlier one: overrides
    appended to a command.)"""
    (tmp_path / "sweep.yaml").write_text(SWEEP_BASE)
    subst = {"SWEEP": str(tmp_path / "sweep.yaml"), "STORE": str(tmp_path / "s.db"), "D": str(tmp_path)}
    args = [subst.get(a, a) for a in args]
    if args[0] == "run":
        args += ["--model", "random:tiny", "--data-dir", "builtin:demo", "--shots", "2", "--help-config"]
    line = _error(CliRunner().invoke(cli, args))
    assert fragment in line, line


def test_the_same_value_twice_is_fine():
    result = CliRunner().invoke(
        cli, ["run", "--model", "random:tiny", "--seed", "3", "--set", "seed=3", "--set", "seed=3", "--help-config"]
    )
    assert result.exit_code == 0, result.output


# ------------------------------------------------------------------------------------------------ task splits
def _sentiment(tmp_path, extra: str = "", train: str | None = None):
    import shutil
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "docs" / "examples" / "sentiment-mini"
    folder = shutil.copytree(example, tmp_path / "senti")
    text = (folder / "task.yaml").read_text("utf-8")
    text = text.replace("  train: {en: data/train.en.tsv}\n", f"  train: {{en: data/train.en.tsv}}\n{extra}")
    (folder / "task.yaml").write_text(text, "utf-8")
    if train is not None:
        (folder / "data" / "dev.en.tsv").write_text(train, "utf-8")
    return folder / "task.yaml"


@pytest.mark.parametrize(
    "extra, fragment",
    [
        ("  dev: {en: data/train.en.tsv}\n", "field 'splits.dev.en': is the train file: model selection"),
        ("  dev: {de: data/test.de.csv}\n", "field 'splits.dev.de': a run trains and selects its model on the"),
    ],
)
def test_a_task_file_whose_dev_split_is_its_train_file_or_not_the_source_language_is_refused(tmp_path, extra, fragment):
    from xlprompt.tasks import get_task

    path = _sentiment(tmp_path, extra)
    with pytest.raises(ConfigError, match=fragment) as err:
        get_task(str(path))
    assert str(err.value).startswith(f"{path}: ") and "\n" not in str(err.value)


def _spelled_otherwise(row: str, header: str) -> str:
    """The row with its text in capitals and doubled spaces (its label as it was)."""
    fields = dict(zip(header.split("\t"), row.split("\t")))
    fields["text"] = fields["text"].upper().replace(" ", "  ")
    return "\t".join(fields[name] for name in header.split("\t"))


def test_dev_rows_that_repeat_training_rows_are_refused_and_duplicates_never_reach_the_sampled_dev(tmp_path):
    """A dev file that is the train file under another name (or with its rows differently spelled) would score
    training rows in model selection; a train file with a repeated row never puts the repeat into the dev split
    sampled from the rest."""
    from xlprompt.errors import DataError
    from xlprompt.leaks import check_data_leaks, normalise
    from xlprompt.run_data import load_run_data

    path = _sentiment(tmp_path, "  dev: {en: data/dev.en.tsv}\n", train="")
    train_file = path.parent / "data" / "train.en.tsv"
    text = train_file.read_text("utf-8")
    header, *rows = text.splitlines()
    (path.parent / "data" / "dev.en.tsv").write_text(
        "\n".join([header, *(_spelled_otherwise(r, header) for r in rows)]) + "\n", "utf-8"
    )
    config = RunConfig(task=str(path), model="random:tiny", shots=2, method="sp")
    with pytest.raises(DataError, match="model-selection dev examples of task sentiment-mini are also its training"):
        data = load_run_data(config)
        check_data_leaks(config, data.train, data.dev, data.test, [])
    # duplicates in the train file: the sampled dev split never holds a training example's text
    plain = _sentiment(tmp_path / "b")
    train_file = plain.parent / "data" / "train.en.tsv"
    header, *rows = train_file.read_text("utf-8").splitlines()
    train_file.write_text("\n".join([header, *rows, *rows]) + "\n", "utf-8")
    for seed in range(1, 6):
        config = RunConfig(task=str(plain), model="random:tiny", shots=2, method="sp", seed=seed)
        data = load_run_data(config)
        trained = {normalise(ex.premise) for ex in data.train}
        assert not [ex for ex in data.dev if normalise(ex.premise) in trained]
