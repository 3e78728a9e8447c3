"""RunConfig: typed overrides, helpful errors, choice fields, the stable resolved hash."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys

import pytest

from xlprompt.config import HASH_EXCLUDED, RunConfig, coerce, parse_overrides
from xlprompt.errors import ConfigError
from xlprompt.recipes import describe_fields

FIELDS = dataclasses.fields(RunConfig)
CHOICE_FIELDS = [f for f in FIELDS if f.metadata.get("choices")]


def test_parse_overrides_types():
    out = parse_overrides(
        [
            "alpha=0.7",
            "translator=lstm-1",
            "epochs=3",
            "freeze_plm=true",
            "no-translator=yes",
            "prompt_lr=none",
            "align_batch_size=8",
            "eval_max_per_language=30",
            "label_words=ja,vielleicht,nein",
            "data_dir=/tmp/a=b",
            " seed = 4 ",
            "lr=4e-5",
            "max_grad_norm=1",
        ]
    )
    assert out == {
        "alpha": 0.7,
        "translator": "lstm-1",
        "epochs": 3,
        "freeze_plm": True,
        "no_translator": True,
        "prompt_lr": None,
        "align_batch_size": 8,
        "eval_max_per_language": 30,
        "label_words": "ja,vielleicht,nein",
        "data_dir": "/tmp/a=b",
        "seed": 4,
        "lr": 4e-5,
        "max_grad_norm": 1.0,
    }
    assert type(out["alpha"]) is float and type(out["epochs"]) is int and type(out["freeze_plm"]) is bool
    assert type(out["max_grad_norm"]) is float
    assert RunConfig.from_dict(out).alpha == 0.7


@pytest.mark.parametrize(
    "text, value",
    [("true", True), ("1", True), ("on", True), ("False", False), ("0", False), ("no", False), ("off", False)],
)
def test_bool_spellings(text, value):
    assert parse_overrides([f"freeze_plm={text}"]) == {"freeze_plm": value}


@pytest.mark.parametrize(
    "item, match",
    [
        ("epochs=3.5", "epochs.*int"),
        ("epochs=three", "epochs.*int"),
        ("alpha=half", "alpha.*float"),
        ("freeze_plm=maybe", "freeze_plm.*bool"),
        ("alpha", "key=value"),
    ],
)
def test_parse_overrides_bad_values(item, match):
    with pytest.raises(ConfigError, match=match):
        parse_overrides([item])


def test_coerce_keeps_typed_values():
    assert coerce("epochs", 5) == 5
    assert coerce("epochs", 5.0) == 5
    assert coerce("alpha", 1) == 1.0 and isinstance(coerce("alpha", 1), float)
    assert coerce("tokenizer", None) is None
    assert coerce("prompt_lr", "null") is None
    with pytest.raises(ConfigError):
        coerce("epochs", 2.5)


@pytest.mark.parametrize(
    "typo, expected",
    [("alpah", "alpha"), ("translater", "translator"), ("prompt_lenght", "prompt_length"), ("epoch", "epochs")],
)
def test_unknown_key_suggests_nearest(typo, expected):
    with pytest.raises(ConfigError) as err:
        parse_overrides([f"{typo}=1"])
    assert f"'{typo}'" in str(err.value)
    assert f"Did you mean '{expected}'?" in str(err.value)
    with pytest.raises(ConfigError, match=f"Did you mean '{expected}'"):
        RunConfig.from_dict({typo: 1})


def test_unknown_key_far_from_all():
    with pytest.raises(ConfigError) as err:
        parse_overrides(["qqqqqqqqq=1"])
    assert "Did you mean" not in str(err.value) and "--help-config" in str(err.value)


@pytest.mark.parametrize("field", CHOICE_FIELDS, ids=lambda f: f.name)
def test_choice_fields_reject_bad_values(field):
    choices = field.metadata["choices"]
    assert getattr(RunConfig(), field.name) in choices
    with pytest.raises(ConfigError) as err:
        RunConfig(**{field.name: "no-such-value"})
    message = str(err.value)
    assert field.name in message and "no-such-value" in message
    for choice in choices:
        assert str(choice) in message
    for choice in choices:  # every listed value is accepted
        values = {field.name: choice}
        if field.name == "parallel_source" and choice in ("file", "translate"):
            values.update(parallel_file="x.jsonl", translate_model="m")
        if field.name == "parallel_source" and choice == "task":  # a task with a corpus of its own
            values.update(task="toy")
        assert getattr(RunConfig(**values), field.name) == choice


def test_choice_lists():
    from xlprompt.methods import BUILTIN_METHODS

    choices = {f.name: f.metadata["choices"] for f in CHOICE_FIELDS}
    assert BUILTIN_METHODS == ("mpt", "sp", "ft", "pct", "dp", "dpa", "softmv", "xpe", "dual")  # the registry
    with pytest.raises(ConfigError, match="method must be one of mpt, sp, ft, pct, dp, dpa, softmv, xpe, dual"):
        RunConfig(method="no-such-method")
    assert choices["prompt_position"] == ("prefix", "midfix", "suffix", "endfix")
    assert choices["translator"] == ("linear-1", "linear-2", "lstm-1", "lstm-2", "transformer-1", "transformer-2")
    assert choices["scoring"] == ("vocab", "labels")


@pytest.mark.parametrize("alpha", [-0.01, 1.01, 5.0])
def test_alpha_outside_unit_interval(alpha):
    with pytest.raises(ConfigError, match=r"alpha must lie in \[0, 1\]"):
        RunConfig(alpha=alpha)
    with pytest.raises(ConfigError, match="alpha"):
        RunConfig.from_dict(parse_overrides([f"alpha={alpha}"]))


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_alpha_inside_unit_interval(alpha):
    assert RunConfig(alpha=alpha).alpha == alpha


def test_paper_defaults():
    c = RunConfig()
    assert (c.model, c.lr, c.batch_size, c.epochs, c.max_length) == ("xlm-roberta-base", 4e-5, 24, 50, 256)
    assert (c.prompt_length, c.prompt_position, c.alpha, c.translator, c.parallel_size) == (
        4,
        "suffix",
        0.5,
        "linear-2",
        500,
    )


@pytest.mark.parametrize(
    "values, match",
    [
        (dict(prompt_length=0), "prompt_length"),
        (dict(prompt_length=250, max_length=256), "prompt_length"),
        (dict(max_length=8), "max_length"),
        (dict(epochs=0), "epochs"),
        (dict(shots=0), "shots"),
        (dict(shots=3, data_dir="/data"), "shots=3"),
        (dict(lr=0.0), "lr must be > 0"),
        (dict(warmup_ratio=1.0), "warmup_ratio"),
        (dict(eval_languages="en,xx"), "xx"),
        (dict(parallel_source="file"), "parallel_file"),
    ],
)
def test_validation(values, match):
    with pytest.raises(ConfigError, match=match):
        RunConfig(**values)


# ---------------------------------------------------------------------------- the resolved hash
def _other_value(field: dataclasses.Field, current):
    """A valid value of ``field`` different from ``current``."""
    choices = field.metadata.get("choices")
    if field.name == "method":  # the registry's names
        choices = ("mpt", "sp")
    if choices:
        return next(c for c in choices if c != current and c not in ("file", "translate"))
    if isinstance(current, bool):
        return not current
    if field.name == "alpha":
        return 0.25
    if field.name in ("softmv_cosda_rate", "xpe_encoder_ratio", "xpe_dropout"):  # fractions: doubling leaves [0, 1]
        return 0.2
    if isinstance(current, float):
        return current * 2 if current else 0.1
    if isinstance(current, int):
        return current + 1 if field.name != "shots" else 32
    if field.name == "eval_languages":
        return "en,de"
    if field.name == "source_languages":  # several sources: a task with train data in several languages
        return "en,deu_Latn"
    if field.name == "task":  # a registered task (or a task file), not any string
        return "pawsx"
    if field.name == "device":  # a device spec (auto, cpu, cuda, cuda:N, mps)
        return "cpu" if current != "cpu" else "auto"
    if current is None:
        hint = str(field.type)
        if "int" in hint:
            return 2
        if "float" in hint:
            return 1e-3
        return "something"
    return current + "x"


def test_resolved_hash_is_stable():
    a, b = RunConfig(), RunConfig()
    assert a.resolved_hash() == b.resolved_hash()
    assert re.fullmatch(r"[0-9a-f]{16}", a.resolved_hash())
    data = a.to_dict()
    assert RunConfig.from_dict(dict(reversed(list(data.items())))).resolved_hash() == a.resolved_hash()
    assert RunConfig.from_dict({"alpha": "0.5", "epochs": "50"}).resolved_hash() == a.resolved_hash()
    # the same in a fresh interpreter (no per-process salt)
    code = "from xlprompt.config import RunConfig; print(RunConfig(method='sp', seed=3).resolved_hash())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == RunConfig(method="sp", seed=3).resolved_hash()


@pytest.mark.parametrize("field", [f for f in FIELDS if f.name not in HASH_EXCLUDED], ids=lambda f: f.name)
def test_resolved_hash_changes_with_every_field(field):
    # source_languages: XNLI has train data in English only; SIB-200 in every language, which SP trains on
    base = RunConfig(task="sib200", method="sp") if field.name == "source_languages" else RunConfig()
    current = getattr(base, field.name)
    changed = base.replace(**{field.name: _other_value(field, current)})
    assert getattr(changed, field.name) != current
    assert changed.resolved_hash() != base.resolved_hash()


def test_describe_fields_lists_every_key():
    text = describe_fields()
    for field in FIELDS:
        assert f"  {field.name} (default" in text
    assert "[mpt|sp|ft|pct|dp|dpa|softmv|xpe|dual]" in text


# ---------------------------------------------------------------------------- deprecated spellings
@pytest.fixture
def fresh_warnings(monkeypatch):
    """Each deprecated spelling warns once per process: a test starts with none warned yet."""
    import xlprompt.config

    monkeypatch.setattr(xlprompt.config, "_WARNED", set())


def test_english_prompt_is_a_deprecated_alias_of_source_prompt_that_warns_once(fresh_warnings, recwarn):
    import warnings

    new = RunConfig(method="mpt", source_prompt="target")
    with pytest.warns(FutureWarning, match=r"^config: 'english_prompt' is deprecated; write 'source_prompt'$"):
        old = RunConfig.from_dict({"method": "mpt", "english_prompt": "target"})
    assert old.source_prompt == "target" and old.resolved_hash() == new.resolved_hash()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once: the same spelling again is silent, on every entry point
        assert RunConfig(method="mpt", english_prompt="target").source_prompt == "target"
        assert parse_overrides(["english_prompt=target"]) == {"source_prompt": "target"}
        assert RunConfig(method="mpt").replace(english_prompt="target").source_prompt == "target"
    # a saved config of an older version (the key as it was written then) reads back with the same hash
    saved = {k: v for k, v in new.to_dict().items() if k != "source_prompt"} | {"english_prompt": "target"}
    assert RunConfig.from_dict(saved, where="config.json").resolved_hash() == new.resolved_hash()
    assert "english_prompt" not in new.to_dict() and "source_prompt" in new.to_dict()


def test_english_prompt_in_a_sweep_file_and_a_conflict(fresh_warnings):
    from xlprompt.sweep import expand

    with pytest.warns(FutureWarning, match="'english_prompt' is deprecated"):
        sweep = expand({"base": {"model": "random:tiny"}, "grid": {"english_prompt": ["source", "target"]}}, name="s")
    assert [run.config.source_prompt for run in sweep.runs] == ["source", "target"]
    with pytest.raises(ConfigError) as info:
        RunConfig.from_dict({"english_prompt": "target", "source_prompt": "source"}, where="--set")
    assert str(info.value) == (
        "--set: 'english_prompt' (deprecated) and 'source_prompt' are both given, with different values "
        "('target', 'source'); keep 'source_prompt' only"
    )


def test_renamed_choice_dpa_test_label_words_en_reads_as_source(fresh_warnings):
    with pytest.warns(
        FutureWarning, match=r"'dpa_test_label_words=en' is deprecated; write 'dpa_test_label_words=source'"
    ):
        old = RunConfig.from_dict({"method": "dpa", "dpa_test_label_words": "en"})
    assert old.dpa_test_label_words == "source"
    assert old.resolved_hash() == RunConfig(method="dpa").resolved_hash() == "c8df2afc885d5d7c"  # recorded in 0.1.0
