"""One declaration per value: every config field, through every entry point (``--set``, a sweep file's values,
the Python API), and every numeric CLI option, refuses the hostile values of its class in one line.

Classes: an int or float field gets huge, negative, nan/inf and wrong-type values (beyond its declared range:
refused; inside it: accepted); a path field gets a folder where a file belongs (and the reverse); a choice field
gets an unknown choice; every field gets a list and a mapping. Nothing may raise anything but a ConfigError.
"""

from __future__ import annotations

import dataclasses
import math

import click
import pytest
from click.testing import CliRunner

from xlprompt.cli import cli
from xlprompt.config import RunConfig, _field_type, coerce, parse_overrides
from xlprompt.errors import ConfigError

FIELDS = {f.name: f for f in dataclasses.fields(RunConfig)}
BASE = dict(model="random:tiny", data_dir="builtin:demo", shots=2)


def _hostile(name: str, tmp_path) -> list:
    """Values that field ``name`` must refuse."""
    tp, _ = _field_type(name)
    meta = FIELDS[name].metadata
    values: list = [[1], {"a": 1}]
    if tp in (int, float):
        values += ["abc", True, float("nan"), float("inf"), -float("inf"), 1e23]
        low, high = meta.get("min"), meta.get("max")
        assert low is not None and high is not None, f"numeric config key {name} declares no range"
        assert high < 1e22, f"{name}: its declared maximum must be below the hostile 1e23"
        values += [10**23, -(10**23), -1 if low >= 0 else low - 1]
        if tp is int:
            values += [2.5]
    elif tp is bool:
        values += ["maybe", 2]
    elif meta.get("choices"):
        values += ["no-such-choice", 3]
    if tp is str:
        values += ["", "  "]  # blank: unset is None (the default), never an empty string
    if meta.get("path") == "file":
        values += [str(tmp_path)]  # a folder where a file belongs
    if meta.get("path"):
        (tmp_path / "a-file").write_text("x")
        values += [
            str(tmp_path / "a-file" / "x"),  # under a file: a path that can never exist
            str(tmp_path / ("x" * 5000)),  # a name no file system takes
            "a\0b",
        ]
    if meta.get("path") == "dir":
        values += [str(tmp_path / "a-file")]
    return values


def _one_line(err: BaseException) -> str:
    text = str(err)
    assert "\n" not in text and text, repr(text)
    return text


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_every_config_field_refuses_its_hostile_values_at_every_entry_point(name, tmp_path):
    for value in _hostile(name, tmp_path):
        # the Python API: RunConfig(**values)
        with pytest.raises(ConfigError) as err:
            RunConfig(**{**BASE, name: value})
        _one_line(err.value)
        # a sweep file's value (YAML types) and the CLI's --set text: coerce, then the config
        if isinstance(value, str) and not value.strip() and _field_type(name)[1]:
            assert coerce(name, value) is None  # a blank text in a file or --set: unset, the default
            continue
        with pytest.raises(ConfigError) as err:
            RunConfig.from_dict({**BASE, name: value})
        _one_line(err.value)
        if isinstance(value, (list, dict)):
            continue
        text = repr(value) if isinstance(value, float) and not math.isfinite(value) else str(value)
        text = {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(text, text)
        if not text.strip():
            continue  # --set key= is "unset" (None), as a sweep file's null
        with pytest.raises(ConfigError) as err:
            RunConfig.from_dict({**BASE, **parse_overrides([f"{name}={text}"])})
        _one_line(err.value)


@pytest.mark.parametrize("name", sorted(n for n in FIELDS if _field_type(n)[0] in (int, float)))
def test_numeric_fields_accept_their_declared_bounds(name):
    meta = FIELDS[name].metadata
    tp, _ = _field_type(name)
    for bound, open_ in ((meta["min"], meta.get("min_open")), (meta["max"], meta.get("max_open"))):
        if open_:
            continue
        value = tp(bound)
        extra = {}
        if name == "prompt_length":
            extra = {"max_length": max(16, value + 8)}
        if name == "max_length" and value > 4096:
            continue  # accepted by the config; a model of 65,536 positions is not built here
        base = BASE
        if name == "shots" and value == 0:  # shots=all: a task that declares it, on its own data folder
            base = {**BASE, "task": "sib200", "data_dir": None}
        config = RunConfig.from_dict({**base, **extra, name: coerce(name, str(value))})
        assert getattr(config, name) == value


def test_listed_cases(tmp_path):
    cases = {
        "num_threads=100000": "num_threads must be <= 1024",
        "seed=1e23": "seed",
        "num_threads=1e23": "num_threads",
        "max_length=1e23": "max_length",
        f"label_words_file={tmp_path}": "is a folder",
    }
    for item, fragment in cases.items():
        with pytest.raises(ConfigError, match=fragment):
            RunConfig.from_dict({**BASE, **parse_overrides([item])})
    for big in (10**23, 1e23):
        for name in ("seed", "num_threads", "max_length"):
            with pytest.raises(ConfigError, match=name):
                RunConfig(**{**BASE, name: big})


def test_unknown_random_architecture_is_refused_at_once_listing_the_known_ones():
    with pytest.raises(ConfigError, match="unknown random architecture 'nonexistent-arch'; known: .*random:tiny"):
        RunConfig(model="random:nonexistent-arch")


# ------------------------------------------------------------------------------------------------- CLI options
def _commands(group: click.Group, prefix=()):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))
        else:
            yield (*prefix, name), command


NUMERIC = [
    (path, option)
    for path, command in _commands(cli)
    for option in command.params
    if isinstance(option, click.Option)
    and isinstance(option.type, (click.types.IntParamType, click.types.FloatParamType))
]


def test_the_cli_has_numeric_options():
    assert len(NUMERIC) >= 10


#: options whose domain check (one line naming the rule) comes after the type: a value the type lets through must
#: be refused by it
DOMAIN_CHECKED = {"--stale-after": "xlprompt.store:check_stale_after"}


@pytest.mark.parametrize("path, option", NUMERIC, ids=[f"{' '.join(p)} {o.opts[0]}" for p, o in NUMERIC])
def test_every_numeric_cli_option_is_bounded_and_refuses_hostile_values(path, option):
    import importlib

    kind = option.type
    name = f"{' '.join(path)} {option.opts[0]}"
    assert isinstance(kind, (click.IntRange, click.FloatRange)), f"{name}: a bare {kind.name}; give it a range type"
    assert kind.min is not None and kind.max is not None, f"{name}: unbounded"
    for value in ("-1", "1e23", "nan", "inf", "-inf", "abc", str(10**23), "2.5e400"):
        try:
            converted = kind.convert(value, option, None)
        except click.BadParameter:
            continue
        # let through only where a domain check follows and refuses it in one line
        assert option.opts[0] in DOMAIN_CHECKED and value in ("-1", "nan"), (name, value)
        module, _, func = DOMAIN_CHECKED[option.opts[0]].partition(":")
        with pytest.raises(ConfigError):
            getattr(importlib.import_module(module), func)(converted)


def test_listed_cli_cases(tmp_path):
    runner = CliRunner()
    (tmp_path / "sweep.yaml").write_text("name: s\nbase: {model: 'random:tiny', data_dir: 'builtin:demo'}\n")
    result = runner.invoke(
        cli, ["sweep", str(tmp_path / "sweep.yaml"), "--store", str(tmp_path / "s.db"), "--max-runs", "-1"]
    )
    assert result.exit_code == 2 and "--max-runs" in result.output
    result = runner.invoke(
        cli, ["predict", "--run", str(tmp_path), "--premise", "a", "--hypothesis", "b", "--batch-size", "-1"]
    )
    assert result.exit_code == 2 and "--batch-size" in result.output
    (tmp_path / "FILE").write_text("x")
    from xlprompt.store import ResultStore

    with pytest.raises(Exception) as err:
        ResultStore(tmp_path / "FILE" / "x.db")
    assert "FILE is a file, not a folder" in str(err.value) and not isinstance(err.value, FileExistsError)


def test_help_config_follows_set_and_task():
    from pathlib import Path

    runner = CliRunner()
    out = runner.invoke(cli, ["run", "--method", "sp", "--help-config", "--set", "recipe=uniform"]).output
    assert "lr (default 4e-05 from uniform: MPT's" in out and "recipe (value 'uniform', set)" in out
    example = Path(__file__).resolve().parents[1] / "docs" / "examples" / "sentiment-mini" / "task.yaml"
    out = runner.invoke(cli, ["run", "--help-config", "--method", "sp", "--task", str(example)]).output
    assert "label_words (default 'bad,good' from task sentiment-mini" in out


@pytest.mark.parametrize(
    "codes, fragment", [("[en, EN]", "did you mean 'en'"), ("[en, 'a|b']", "'a|b' is not a language code")]
)
def test_user_task_language_codes_are_checked(tmp_path, codes, fragment):
    (tmp_path / "train.tsv").write_text("text\tlabel\nok\t0\n")
    (tmp_path / "task.yaml").write_text(f"""name: codes
text_fields: [text]
labels: [a, b]
label_words: [x, y]
languages: {codes}
splits:
  train: {{en: train.tsv}}
  test: {{en: train.tsv}}
""")
    with pytest.raises(ConfigError, match=fragment):
        RunConfig(task=str(tmp_path / "task.yaml"))
