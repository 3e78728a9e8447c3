"""Sweep files: a YAML grid of runs → a list of :class:`SweepRun` (a RunConfig with its group/variant labels).

Format (every key optional except that the file must produce at least one run)::

    name: table2                 # the sweep's name (default: the file's stem); also the default group
    save_weights: false          # write each run's trained PLM (plm.safetensors)? default false in sweeps
    base:                        # RunConfig keys shared by every run
      model: xlm-roberta-base
      data_dir: ../shared/data
    grid:                        # axes: the cartesian product of these lists (a scalar is a 1-list)
      shots: [64, 4]
      seed: [1, 2, 3, 4, 5]
    variants:                    # named config overrides, crossed with the grid (Table II rows)
      Original MPT: {}
      w/o consistency loss: {alpha: 1.0}
    reference: Original MPT      # the variant the others are tested against (default: the first)
    groups:                      # optional sub-sweeps; each merges over the top level:
      translator:                #   base and grid key by key, variants replaced when given
        grid: {translator: [linear-1, linear-2]}

Precedence, lowest first: RunConfig defaults < ``base`` < the grid point < the variant < ``--set`` overrides of
the command line (so ``--set epochs=1`` shortens every run, even a variant that sets its own epochs).
``--grid key=v1,v2`` replaces (or adds) a grid axis in every group.

Each run's folder (under the runs folder) is named so that a person can find it: method, task, k, seed, then
the hash (``mpt-xnli-k16-s1-0123456789abcdef``); a store whose runs were written into folders named by the hash
alone keeps using them (:func:`run_dir_of`).

Each run is labelled by its group (the group's name, or the sweep's name when there are no groups) and its
variant ("" without variants); identical configs from several places are one run with several labels, keyed
by ``RunConfig.resolved_hash()``, the same key the results store uses.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from xlprompt.config import RunConfig, coerce, current_key, name_problem, read_yaml, suggest
from xlprompt.errors import ConfigError

#: the most runs one sweep file may expand to (a grid of a few long axes multiplies fast: refused before expanding)
MAX_SWEEP_RUNS = 1_000_000
TOP_KEYS = ("name", "save_weights", "base", "grid", "variants", "reference", "groups", "description")
GROUP_KEYS = ("base", "grid", "variants", "reference", "description")


@dataclass
class SweepRun:
    """One run of a sweep: its config and every (group, variant) that asked for it."""

    config: RunConfig
    labels: list[tuple[str, str]] = field(default_factory=list)
    _hash: str | None = field(default=None, repr=False, compare=False)

    @property
    def hash(self) -> str:
        if self._hash is None:  # computed once (a 100,000-run sweep asks for it several times per run)
            self._hash = self.config.resolved_hash()
        return self._hash

    @property
    def folder_name(self) -> str:
        """The run's folder: method, task, k, seed, then the hash."""
        return run_folder_name(self.config, self.hash)

    def describe(self) -> str:
        """``mpt xnli k=16 seed=1 [hash]``: the run, as progress lines name it."""
        c = self.config
        return f"{c.method} {_task_name(c)} k={c.shots} seed={c.seed} [{self.hash}]"

    @property
    def group(self) -> str:
        return self.labels[0][0]

    @property
    def variant(self) -> str:
        return self.labels[0][1]


@dataclass
class Sweep:
    name: str
    runs: list[SweepRun]
    save_weights: bool = False
    references: dict[str, str] = field(default_factory=dict)  # group -> its reference variant (if given)
    source: str = ""

    def __len__(self) -> int:
        return len(self.runs)

    def hashes(self) -> list[str]:
        return [r.hash for r in self.runs]


def _task_name(config: RunConfig) -> str:
    return config.task if config.task in ("xnli", "pawsx") else config.task_spec().name


def run_folder_name(config: RunConfig, run_hash: str | None = None) -> str:
    """``{method}-{task}-k{shots}-s{seed}-{hash}``, with anything but letters, digits, ``.``, ``_`` and ``-`` of
    a task's name replaced by ``_``."""
    task = re.sub(r"[^A-Za-z0-9._-]+", "_", _task_name(config)).strip("._") or "task"
    return f"{config.method}-{task}-k{config.shots}-s{config.seed}-{run_hash or config.resolved_hash()}"


def run_dir_of(runs_dir: str | Path, run: SweepRun) -> Path:
    """Where ``run`` trains: its named folder, or the hash-named folder an earlier store made for it (so that a
    sweep resumes and skips the runs of existing stores)."""
    old = Path(runs_dir) / run.hash
    return old if old.is_dir() else Path(runs_dir) / run.folder_name


def _config_keys() -> set[str]:
    return {f.name for f in dataclasses.fields(RunConfig)}


def _check_mapping(value: Any, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a mapping of config keys, not {type(value).__name__}")
    return dict(value)


def _check_config_keys(values: Mapping, where: str) -> dict[str, Any]:
    known = _config_keys()
    out = {}
    for key, value in values.items():
        key = current_key(str(key).replace("-", "_"))
        if key not in known:
            raise ConfigError(f"{where}: unknown config key '{key}'.{suggest(key, known)}")
        out[key] = _coerce(key, value, where)
    return out


def _coerce(key: str, value: Any, where: str) -> Any:
    """The typed value, or a one-line error naming the file, the place and the key."""
    try:
        return coerce(key, value)
    except ConfigError as err:
        raise ConfigError(f"{where}: {key}: {err}") from None


def _check_grid(grid: Mapping, where: str) -> dict[str, list]:
    known = _config_keys()
    out: dict[str, list] = {}
    for key, values in grid.items():
        key = current_key(str(key).replace("-", "_"))
        if key not in known:
            raise ConfigError(f"{where}: unknown config key '{key}'.{suggest(key, known)}")
        if not isinstance(values, (list, tuple)):
            values = [values]
        if not values:
            raise ConfigError(f"{where}.{key}: an axis needs at least one value")
        out[key] = [_coerce(key, v, where) for v in values]
    return out


def _check_variants(variants: Any, where: str) -> dict[str, dict]:
    if variants is None:
        return {}
    if not isinstance(variants, Mapping):
        raise ConfigError(f"{where}: expected a mapping 'variant name: {{key: value, ...}}'")
    return {
        _check_name(name, "a variant's name", where): _check_config_keys(
            _check_mapping(ov, f"{where}.{name}"), f"{where}.{name}"
        )
        for name, ov in variants.items()
    }


def _check_keys(spec: Mapping, allowed: tuple[str, ...], where: str) -> None:
    for key in spec:
        if key not in allowed:
            raise ConfigError(
                f"{where}: unknown sweep key '{key}' (allowed: {', '.join(allowed)})."
                + (" Config keys go under 'base:' or 'grid:'." if key in _config_keys() else "")
            )


def expand(
    spec: Mapping,
    name: str = "sweep",
    overrides: Mapping[str, Any] | None = None,
    grid_overrides: Mapping[str, list] | None = None,
    source: str = "",
    plugins: tuple[str, ...] = (),
) -> Sweep:
    """Expand a parsed sweep spec into its runs (configs validated; duplicates merged); ``plugins`` (the command
    line's ``--plugin``) come first in every run's ``plugins``."""
    where = source or name
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where}: a sweep file must be a YAML mapping (keys: {', '.join(TOP_KEYS)})")
    _check_keys(spec, TOP_KEYS, where)
    name = _check_name(spec["name"], "name", where, folder=True) if "name" in spec else name
    save_weights = spec.get("save_weights", False)
    if not isinstance(save_weights, bool):
        raise ConfigError(f"{where}: save_weights must be true or false")
    overrides = _check_config_keys(overrides or {}, "--set")
    grid_overrides = _check_grid(grid_overrides or {}, "--grid")
    top_base = _check_config_keys(_check_mapping(spec.get("base"), f"{where}: base"), f"{where}: base")
    top_grid = _check_grid(_check_mapping(spec.get("grid"), f"{where}: grid"), f"{where}: grid")
    top_variants = _check_variants(spec.get("variants"), f"{where}: variants")
    groups_spec = spec.get("groups")
    if groups_spec is None:
        groups = {name: {}}
    elif isinstance(groups_spec, Mapping) and groups_spec:
        groups = {
            _check_name(g, "a group's name", where): _check_mapping(v, f"{where}: groups.{g}")
            for g, v in groups_spec.items()
        }
    else:
        raise ConfigError(f"{where}: groups must be a non-empty mapping 'group name: {{base, grid, variants}}'")

    planned = 0
    for group, gspec in groups.items():  # the size first: a grid too large is refused before it is expanded
        gwhere = f"{where}: groups.{group}" if groups_spec is not None else where
        grid = {**top_grid, **_check_grid(_check_mapping(gspec.get("grid"), gwhere + ".grid"), gwhere + ".grid")}
        grid.update(grid_overrides)
        variants = _check_variants(gspec["variants"], gwhere + ".variants") if "variants" in gspec else top_variants
        planned += math.prod(len(v) for v in grid.values()) * max(1, len(variants))
    if planned > MAX_SWEEP_RUNS:
        raise ConfigError(
            f"{where}: the grid expands to {planned:,} runs, more than one sweep takes ({MAX_SWEEP_RUNS:,}); "
            "split it into several sweep files or shorten its axes"
        )
    by_hash: dict[str, SweepRun] = {}
    references: dict[str, str] = {}
    for group, gspec in groups.items():
        gwhere = f"{where}: groups.{group}" if groups_spec is not None else where
        _check_keys(gspec, GROUP_KEYS, gwhere)
        base = {**top_base, **_check_config_keys(_check_mapping(gspec.get("base"), gwhere + ".base"), gwhere + ".base")}
        grid = {
            **top_grid,
            **_check_grid(_check_mapping(gspec.get("grid"), gwhere + ".grid"), gwhere + ".grid"),
            **grid_overrides,
        }
        variants = _check_variants(gspec["variants"], gwhere + ".variants") if "variants" in gspec else top_variants
        reference = gspec.get("reference")
        if reference is None and spec.get("reference") is not None and str(spec["reference"]) in variants:
            reference = spec["reference"]  # the top level's reference, where the group has that variant
        elif reference is None and spec.get("reference") is not None and "variants" not in gspec:
            reference = spec["reference"]  # inherited variants: the reference must be among them (checked)
        if reference is not None:
            if str(reference) not in variants:
                raise ConfigError(
                    f"{gwhere}: reference '{reference}' is not one of the variants ({', '.join(variants) or 'none'})"
                )
            references[group] = str(reference)
        variant_items = list(variants.items()) or [("", {})]
        axes = list(grid.items())
        for variant, variant_values in variant_items:
            for point in itertools.product(*[values for _, values in axes]):
                values = {**base, **dict(zip([k for k, _ in axes], point)), **variant_values, **overrides}
                if plugins:
                    values["plugins"] = (*plugins, *(p for p in values.get("plugins", ()) if p not in plugins))
                label = (
                    f"{gwhere}"
                    + (f" variant '{variant}'" if variant else "")
                    + f" {dict(zip([k for k, _ in axes], point))}"
                )
                try:
                    config = RunConfig.from_dict(values, where=label)
                except ConfigError as err:
                    raise ConfigError(f"{label}: {err}") from None
                run_hash = config.resolved_hash()
                run = by_hash.get(run_hash)
                if run is None:
                    run = by_hash[run_hash] = SweepRun(config, _hash=run_hash)
                if (group, variant) not in run.labels:
                    run.labels.append((group, variant))
    if not by_hash:
        raise ConfigError(f"{where}: the sweep has no runs")
    return Sweep(name, list(by_hash.values()), save_weights, references, source)


def _check_name(value, what: str, where: str, folder: bool = False) -> str:
    """A sweep's, group's or variant's name: a non-blank single-line string without '|' (it is a cell of the
    report's Markdown tables); the sweep's name (``folder``) also names a folder (``RUNS_DIR/tensorboard/NAME``), so
    it holds no path separator and is not '.' or '..'. A YAML number is taken as its text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    problem = name_problem(value, folder)
    if problem:
        raise ConfigError(f"{where}: {what} {problem}")
    return value


def load_sweep(
    path: str | Path,
    overrides: Mapping[str, Any] | None = None,
    grid_overrides: Mapping[str, list] | None = None,
    plugins: tuple[str, ...] = (),
) -> Sweep:
    """Read a YAML sweep file (see the module docstring) and expand it; ``plugins``: modules (already imported)
    recorded first in every run's ``plugins``."""
    path = Path(path)
    spec = read_yaml(path, "sweep file")
    if spec is None:
        raise ConfigError(f"{path}: the sweep file is empty")
    return expand(
        spec, name=path.stem, overrides=overrides, grid_overrides=grid_overrides, source=str(path), plugins=plugins
    )


def parse_grid_overrides(items: list[str]) -> dict[str, list]:
    """``["shots=1,2", "seed=1,2"]`` → ``{"shots": ["1", "2"], "seed": ["1", "2"]}`` (typed later)."""
    out: dict[str, list] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--grid '{item}': expected key=v1,v2,...")
        key, values = item.split("=", 1)
        parts = [v.strip() for v in values.split(",") if v.strip()]
        if not parts:
            raise ConfigError(f"--grid '{item}': no values")
        out[key.strip().replace("-", "_")] = parts  # a later --grid of a key wins, as --set
    return out
