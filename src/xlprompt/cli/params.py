"""Click parameter types built from the config's declarations (:func:`xlprompt.config._f`: type, range), so that
an option that sets a config key (``--shots``, ``--seed``, ``--epochs``) refuses exactly what ``--set`` refuses;
and the bounded types of the options that set no config key."""

from __future__ import annotations

import dataclasses
import math
import os

import click

from xlprompt.config import RunConfig, _field_type, check_field, coerce, path_problem
from xlprompt.errors import ConfigError

#: a count of things (rows, runs, workers): at least 1, at most this
MAX_COUNT = 10**9


class FiniteFloatRange(click.FloatRange):
    """A FloatRange that also refuses nan (which every comparison lets through) and infinities."""

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


def config_type(name: str) -> click.ParamType:
    """The click type of config key ``name``: an IntRange / FloatRange from its declared bounds."""
    field = {f.name: f for f in dataclasses.fields(RunConfig)}[name]
    tp, _ = _field_type(name)
    meta = field.metadata
    kwargs = dict(
        min=meta.get("min"),
        max=meta.get("max"),
        min_open=meta.get("min_open", False),
        max_open=meta.get("max_open", False),
    )
    if tp is int:
        return click.IntRange(**kwargs)
    if tp is float:
        return FiniteFloatRange(**kwargs)
    raise TypeError(f"config key {name} is not a number")


def count(low: int = 1, high: int = MAX_COUNT) -> click.IntRange:
    """A whole number of things in [low, high]."""
    return click.IntRange(low, high)


def fraction_or_count(high: float = 1024.0) -> click.FloatRange:
    """A positive finite amount (CPUs, GPUs, seconds) up to ``high``."""
    return FiniteFloatRange(0.0, high, min_open=True)


def checked_later(low: float, high: float) -> click.FloatRange:
    """A number in [low, high] whose own check (a one-line rule: ``--stale-after``) follows; nan reaches it."""
    return click.FloatRange(low, high)


class CheckedPath(click.Path):
    """A click.Path that also refuses what can never be a path: an empty one (which would mean the current folder),
    one under a file (``FILE/x``), one too long or holding a NUL (:func:`xlprompt.config.path_problem`, the check
    of the config's path keys)."""

    def convert(self, value, param, ctx):
        if self.allow_dash and value == "-":
            return super().convert(value, param, ctx)
        text = os.fsdecode(value) if isinstance(value, (bytes, os.PathLike)) else str(value)
        if not text.strip():
            self.fail("the path is empty", param, ctx)
        kind = "file" if not self.dir_okay else "dir" if not self.file_okay else None
        problem = path_problem(text, kind)
        if problem is not None and not problem.startswith("is a "):  # click says "is a file / directory" itself
            self.fail(f"{text if chr(0) not in text else repr(text)} {problem}", param, ctx)
        return super().convert(value, param, ctx)


def path_type(**kwargs) -> CheckedPath:
    """The type of every path option (``click.Path``'s arguments)."""
    return CheckedPath(**kwargs)


class ConfigValue(click.ParamType):
    """An option that sets config key ``name`` (``--data-dir``): its text is checked by the key's declaration
    (:func:`xlprompt.config.check_field`), as ``--set name=...`` would be."""

    def __init__(self, name: str):
        self.key = name
        self.name = name.upper().replace("_", "-")
        self.field = {f.name: f for f in dataclasses.fields(RunConfig)}[name]

    def convert(self, value, param, ctx):
        try:
            converted = coerce(self.key, value)
            check_field(self.field, converted)
        except ConfigError as err:
            self.fail(str(err), param, ctx)
        return converted


def config_value(name: str) -> ConfigValue:
    return ConfigValue(name)


def with_overrides(values: dict, overrides: dict) -> dict:
    """``values`` of the command's own options (``--seed``) updated with ``--set`` (already parsed): an option given
    on the command line and ``--set`` of the same key with another value is one line, not a silent choice."""
    ctx = click.get_current_context(silent=True)
    for key, value in overrides.items():
        if ctx is None or key not in values:
            continue
        source = ctx.get_parameter_source(key)
        if source is click.core.ParameterSource.COMMANDLINE and values[key] != value:
            if len(values) > 1:  # a whole command's options: a value wrong in itself is named by its own rule first
                RunConfig.from_dict({**values, **overrides}, where="--set")
            option = "--" + key.replace("_", "-")
            raise ConfigError(f"{option} {values[key]} and --set {key}={value} disagree; give one")
    return {**values, **overrides}


def _import_plugin_option(ctx, param, value):
    from xlprompt.plugins import import_plugins

    return import_plugins(value, "--plugin")  # as the options are read: the command's values may name what they add


def plugin_option(command):
    """``--plugin MODULE`` (repeatable) on ``command``: the modules are imported as the command line is read (each
    registers its methods and tasks), and reach the command as the tuple ``plugins``."""
    return click.option(
        "--plugin",
        "plugins",
        multiple=True,
        metavar="MODULE",
        callback=_import_plugin_option,
        help="import this plugin module first (repeatable): it registers methods or tasks "
        "(xlprompt.register_method, xlprompt.register_task); runs record it in their config (plugins). "
        "It must be importable: installed, or its folder on PYTHONPATH",
    )(command)


def with_plugins(values: dict, plugins: tuple) -> dict:
    """``values`` with the ``--plugin`` modules first in the config key ``plugins`` (recorded with the run)."""
    if not plugins:
        return values
    from xlprompt.config import coerce

    given = coerce("plugins", values["plugins"]) if values.get("plugins") is not None else ()
    return {**values, "plugins": (*plugins, *(name for name in given if name not in plugins))}
