"""Recipes: the defaults of a run's recipe keys, and the checks that need the method and the task.

A :class:`~xlprompt.config.RunConfig` leaves its recipe keys (:data:`~xlprompt.config.RECIPE_KEYS`: optimiser,
lr, schedule, batch, epochs, template, label words, ...) at ``None`` = "take it from the recipe". This module,
which sits above the methods and the tasks, fills them:

* under ``recipe=reference`` from the method's ``RECIPE`` (each method as its authors ran it, cited in its
  ``RECIPE_SOURCES``: ``xlprompt/methods/<name>/recipe.py``);
* under ``recipe=uniform`` the training settings (:data:`~xlprompt.config.UNIFORM_KEYS`) from MPT's recipe;
* a key the method's recipe does not state takes :data:`~xlprompt.config.GENERIC_DEFAULTS`;
* then the task's defaults: ``parallel_source`` (the task's corpus) and, on a task other than XNLI, its label
  words (or the method's own for that task).

A value the user gives always wins. It also checks what the config module cannot see: that the method exists
and can run the task, the task's language codes, and the leak guard's config rules. The config module calls
these through :class:`~xlprompt.config.ConfigHooks`; importing :mod:`xlprompt` installs them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from xlprompt.config import (
    FEWSHOT_KS,
    GENERIC_DEFAULTS,
    RECIPE_KEYS,
    SHOTS_ALL,
    TINY_LABEL_WORDS,
    UNIFORM_KEYS,
    RunConfig,
    install_hooks,
)
from xlprompt.errors import ConfigError
from xlprompt.methods import get_method_spec, method_names

__all__ = ["method_recipe", "recipe_default", "describe_fields", "methods_for_task"]


def method_recipe(method: str) -> tuple[dict[str, Any], dict[str, str]]:
    """(RECIPE, RECIPE_SOURCES) of a registered method; ({}, {}) for an unknown one."""
    try:
        spec = get_method_spec(method)
    except ConfigError:
        return {}, {}
    return dict(spec.recipe), dict(spec.recipe_sources)


def recipe_default(method: str, recipe: str, key: str, tiny_tokenizer: bool = False) -> tuple[Any, str]:
    """(default value, where it comes from) of recipe key ``key`` for ``method`` under ``recipe``."""
    if tiny_tokenizer and key in TINY_LABEL_WORDS:
        return TINY_LABEL_WORDS[key], "builtin:tiny tokenizer (it has none of the references' label words)"
    if recipe == "uniform" and key in UNIFORM_KEYS:
        values, sources = method_recipe("mpt")
        if key in values:
            return values[key], f"uniform: MPT's ({sources.get(key, 'mpt recipe')})"
    values, sources = method_recipe(method)
    if key in values:
        return values[key], f"{method}: {sources.get(key, 'its recipe')}"
    return GENERIC_DEFAULTS[key], f"generic (no {method} recipe entry)"


def _task(spec: str):
    from xlprompt.tasks import get_task

    return get_task(spec)


def methods_for_task(task) -> tuple[str, ...]:
    """The registered methods that can run ``task``."""
    return tuple(name for name in method_names() if get_method_spec(name).task_support(task) is None)


def _check_model_specs(config: RunConfig) -> None:
    """``model`` and ``tokenizer`` name a hub id, a local folder or one of xlprompt's own specs: an unknown
    ``builtin:`` spec, or a path that is a file, is one line here, not a hub error after a network timeout."""
    import os

    from xlprompt.models.backbone import BUILTIN_TOKENIZER

    for key in ("model", "tokenizer"):
        value = getattr(config, key)
        if value is None:
            continue
        if value.startswith("builtin:") and (key == "model" or value != BUILTIN_TOKENIZER):
            known = (
                "random:tiny (random weights; its tokenizer is builtin:tiny)" if key == "model" else BUILTIN_TOKENIZER
            )
            raise ConfigError(f"{key}={value}: unknown builtin {key}; known: {known}")
        try:
            is_file = os.path.isfile(os.path.expanduser(value))
        except (OSError, ValueError):
            is_file = False
        if is_file:
            raise ConfigError(
                f"{key}={value} is a file; a local {key} is a folder (what save_pretrained writes), or give a hub name"
            )


class _Hooks:
    """:class:`xlprompt.config.ConfigHooks` for the registered methods and tasks."""

    def resolve(self, config: RunConfig) -> dict[str, Any]:
        """``{key: value}`` of the keys ``config`` leaves to its recipe and task (``None``): the config sets them
        (it is frozen: this reads it and changes nothing)."""
        get_method_spec(config.method)  # an unknown method: one line naming the registered ones
        filled: dict[str, Any] = {}
        tiny = config._tiny_tokenizer()
        for key in RECIPE_KEYS:
            if getattr(config, key) is None:
                filled[key] = recipe_default(config.method, config.recipe, key, tiny)[0]
        task = _task(config.task)
        if config.parallel_source is None:
            filled["parallel_source"] = task.parallel_default
        if task.name != "xnli" and "label_words" in filled:
            words, mode = ",".join(task.label_words), "word"
            own = get_method_spec(config.method).task_label_words
            method_words = own(task) if own is not None else None
            if tiny and task.tiny_label_words:
                words = ",".join(task.tiny_label_words)
            elif method_words is not None:  # e.g. PCT's PAWS-X label ids
                words, mode = method_words
            filled["label_words"] = words
            if "label_words_as" in filled:
                filled["label_words_as"] = mode
        return filled

    def validate(self, config: RunConfig) -> None:
        from xlprompt.leaks import check_config_leaks
        from xlprompt.models.backbone import RANDOM_ARCHITECTURES, RANDOM_PREFIX

        spec = get_method_spec(config.method)
        _check_model_specs(config)
        if config.model.startswith(RANDOM_PREFIX) and config.model[len(RANDOM_PREFIX) :] not in RANDOM_ARCHITECTURES:
            raise ConfigError(
                f"model={config.model}: unknown random architecture "
                f"'{config.model[len(RANDOM_PREFIX) :]}'; known: "
                + ", ".join(RANDOM_PREFIX + arch for arch in RANDOM_ARCHITECTURES)
            )
        task = _task(config.task)
        for method, options in task.method_options.items():
            if method in method_names() and get_method_spec(method).check_task_options is not None:
                get_method_spec(method).check_task_options(task, options)
        why = spec.task_support(task)
        if why is not None:
            raise ConfigError(
                f"method {config.method} cannot run task {task.name}: {why}; methods for this task: "
                f"{', '.join(methods_for_task(task))}"
            )
        from xlprompt.data.parallel import CORPUS_SOURCE_LANGUAGE, EXTERNAL_SOURCES

        if (
            config.method == "mpt"
            and config.alpha < 1.0
            and config.parallel_source in EXTERNAL_SOURCES
            and config.data_dir != "builtin:demo"
            and task.source_language != CORPUS_SOURCE_LANGUAGE
        ):
            raise ConfigError(
                f"parallel_source={config.parallel_source}: its pairs go from '{CORPUS_SOURCE_LANGUAGE}', but task "
                f"{task.name} transfers from '{task.source_language}'; bring pairs from '{task.source_language}' with "
                "parallel_source=file parallel_file=PATH, or alpha=1"
            )
        if (
            config.method == "softmv"
            and config.softmv_cosda_rate
            and task.name != "xnli"
            and task.load_dictionaries is None
            and not config.dictionary_dir
        ):
            raise ConfigError(
                f"softmv_cosda_rate={config.softmv_cosda_rate}: SoftMV's code-switching needs bilingual dictionaries "
                f"from the source language to the others: MUSE's on XNLI, the task's own elsewhere; task {task.name} "
                "has none: give the task file 'dictionaries' ({language: file}), set dictionary_dir, or run with "
                "softmv_cosda_rate=0"
            )
        if (
            config.method == "mpt"
            and config.alpha < 1.0
            and config.parallel_source == "task"
            and task.load_parallel is None
        ):
            raise ConfigError(
                f"parallel_source=task: task {task.name} has no parallel corpus of its own; use "
                f"parallel_source={task.parallel_default} (this task's default), file or translate"
            )
        if config.method == "mpt" and config.alpha < 1.0 and config.parallel_source in task.parallel_refused:
            raise ConfigError(
                f"task {task.name} with parallel_source={config.parallel_source}: "
                f"{task.parallel_refused[config.parallel_source]} (a leak); use parallel_source=tatoeba "
                "(this task's default), xnli-dev, translate or file"
            )
        if not task.uses_demo and config.data_dir == "builtin:demo":
            raise ConfigError(
                f"data_dir=builtin:demo is an XNLI sample; task {task.name} reads its own data "
                "(unset data_dir or give the data folder)"
            )
        from xlprompt.tasks import TASKS

        if config.shots == SHOTS_ALL and not task.full_train:
            raise ConfigError(
                f"shots=all (the full train split): task {task.name} does not declare it; it is the setting of "
                f"{', '.join(name for name, spec in TASKS.items() if spec.full_train) or 'no task'}; give k >= 1"
            )
        if (
            task.name == "xnli"
            and config.train_source == "fixed"
            and config.data_dir != "builtin:demo"
            and config.shots not in FEWSHOT_KS
        ):
            raise ConfigError(
                f"shots={config.shots}: the fixed few-shot splits exist for k in "
                f"{', '.join(map(str, FEWSHOT_KS))}; use one of these or set train_source=sample"
            )
        self.languages(config)
        sources = self.source_languages(config)
        if sources != (task.source_language,) and not spec.multi_source:
            several = ", ".join(name for name in method_names() if get_method_spec(name).multi_source)
            names = f"names {len(sources)}" if len(sources) > 1 else "names another"
            raise ConfigError(
                f"method {config.method} trains on one source language, the task's ({task.source_language}); "
                f"source_languages={','.join(sources)} {names} (methods that train on other or several: {several})"
            )
        check_config_leaks(config)

    def task(self, spec: str):
        return _task(spec)

    def languages(self, config: RunConfig) -> tuple[str, ...]:
        from xlprompt.languages import check_language

        task = _task(config.task)
        if config.eval_languages == "all":
            return task.languages
        langs = tuple(x.strip() for x in config.eval_languages.split(",") if x.strip())
        if not langs:
            raise ConfigError("eval_languages is empty; give codes like en,de or 'all'")
        twice = sorted({lang for lang in langs if langs.count(lang) > 1})
        if twice:  # evaluated twice, and one run spelled two ways
            raise ConfigError(f"eval_languages names {', '.join(twice)} more than once: '{config.eval_languages}'")
        return tuple(
            check_language(lang, task.languages, f"{task.name} language")
            if task.name != "xnli"
            else check_language(lang)
            for lang in langs
        )

    def source_languages(self, config: RunConfig) -> tuple[str, ...]:
        """The languages ``config`` trains on (``source_languages``, in the task's order; unset: the task's source
        language), each checked to be the task's and to have train data there (:attr:`Task.train_languages`)."""
        import difflib

        task = _task(config.task)
        if config.source_languages is None:
            return (task.source_language,)
        langs = tuple(x.strip() for x in config.source_languages.split(",") if x.strip())
        if not langs:
            raise ConfigError(
                f"source_languages is empty; give codes of task {task.name} like {task.source_language} or leave it unset"
            )
        twice = sorted({lang for lang in langs if langs.count(lang) > 1})
        if twice:
            raise ConfigError(f"source_languages names {', '.join(twice)} more than once: '{config.source_languages}'")
        for lang in langs:
            if lang not in task.languages:
                near = [code for code in task.languages if code.startswith(lang + "_")]
                near = near or difflib.get_close_matches(lang.lower(), task.languages, n=1)
                hint = f" Did you mean '{near[0]}'?" if near else ""
                raise ConfigError(
                    f"source_languages names '{lang}', which is not a language of task {task.name}.{hint} Its "
                    f"{len(task.languages)} languages: {', '.join(task.languages[:16])}"
                    f"{' ... (run --task ' + task.name + ' --help-config lists them)' if len(task.languages) > 16 else ''}"
                )
        offered = task.train_languages or (task.source_language,)
        for lang in langs:
            if lang not in offered:
                shown = ", ".join(offered[:12]) + (" ..." if len(offered) > 12 else "")
                what = f" ({task.train_data_help})" if task.train_data_help else ""
                raise ConfigError(
                    f"source_languages names '{lang}', but task {task.name} has train and dev data in {shown} "
                    f"only{what}; train on {'one of those' if len(offered) > 1 else shown} or leave source_languages unset"
                )
        return tuple(lang for lang in task.languages if lang in langs)

    def hash_fields(self, config: RunConfig) -> dict[str, Any]:
        """``{"method_revision": N}`` for a method whose computation changed after runs of it were stored
        (N > 1), ``{"method_code": identity}`` for a method registered with ``register_method`` (its class and
        module source: :func:`xlprompt.plugins.code_identity`), ``{"task_definition": digest}`` for a task
        registered with ``register_task`` (:func:`xlprompt.tasks.base.definition_digest`) and
        ``{"task_data_revision": 2}`` for a task read from its files (its draws changed), so that a store never
        reuses a run of other code, another task or an older computation as if it were the same; {} otherwise,
        which keeps the hash of every built-in method and task."""
        spec = get_method_spec(config.method)
        out: dict[str, Any] = {"method_revision": spec.revision} if spec.revision > 1 else {}
        if spec.identity:
            out["method_code"] = spec.identity
        task = _task(config.task)
        if task.load_splits is None:
            # a task read from its files (a task file, a registered Task): since revision 2 its rows without an id
            # have content ids (not row numbers) and its draws ignore the language code, so a store never reuses
            # a run drawn the old way
            out["task_data_revision"] = 2
        if task.origin.startswith("registered"):  # a task given from Python: by what it is, not its name
            from xlprompt.tasks.base import definition_digest

            out["task_definition"] = definition_digest(task)
        return out

    def renamed_choices(self) -> tuple[tuple[str, str, str], ...]:
        """The methods' renamed choices ``(key, old spelling, new spelling)`` (their recipes' ``RENAMED_CHOICES``):
        the old spelling is read as the new one, with a warning, and a run's hash holds the old one."""
        from xlprompt.methods import RENAMED_CHOICES

        return RENAMED_CHOICES

    def data_files(self, config: RunConfig) -> tuple[Path, list[str]] | None:
        """The data folder of ``config`` and the files it reads there (None for ``builtin:demo``)."""
        from xlprompt.data.home import resolve_data_dir
        from xlprompt.run_data import DEMO, required_files

        if config.data_dir == DEMO:
            return None
        folder = resolve_data_dir(config.data_dir)
        return folder, [rel for rel, _ in required_files(config, folder)]

    def recipe_sources(self, config: RunConfig) -> dict[str, str]:
        tiny = config._tiny_tokenizer()
        out = {
            key: (
                "set"
                if key not in config._recipe_filled
                else recipe_default(config.method, config.recipe, key, tiny)[1]
            )
            for key in RECIPE_KEYS
        }
        task = _task(config.task)
        if task.name != "xnli" and "label_words" in config._recipe_filled:  # resolve(): the task's words
            own = get_method_spec(config.method).task_label_words
            if tiny and task.tiny_label_words:
                out["label_words"] = f"task {task.name}: its tiny_label_words (builtin:tiny tokenizer)"
            elif own is not None and own(task) is not None:
                out["label_words"] = f"{config.method}: its label words for task {task.name}"
            else:
                out["label_words"] = f"task {task.name}: its label words"
        return out


def describe_fields(
    method: str = "mpt", recipe: str = "reference", config: RunConfig | None = None, given: tuple[str, ...] = ()
) -> str:
    """A help table of every config key, its default for ``method`` under ``recipe`` (or, given ``config``, its
    value there: recipe keys as that config resolved them for its method, recipe and task), where that value
    comes from (recipe keys) and its meaning; ``given``: the keys the command set (shown as set)."""
    if config is not None:
        method, recipe = config.method, config.recipe
        sources = config.recipe_sources()
        task = "" if config.task == "xnli" else f", task={config.task_spec().name}"
        lines = [f"(values for method={method}, recipe={recipe}{task}, as this command sets them)"]
    else:
        lines = [f"(defaults for method={method}, recipe={recipe}; `--method M` shows another method's)"]
    for f in dataclasses.fields(RunConfig):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        source = ""
        label = "default"
        if config is not None:
            default = getattr(config, f.name)
            if f.name in given or (f.name in RECIPE_KEYS and sources[f.name] == "set"):
                label, source = "value", ", set"
            elif f.name in RECIPE_KEYS:
                source = f" from {sources[f.name]}"
        elif f.name in RECIPE_KEYS:
            default, where = recipe_default(method, recipe, f.name)
            source = f" from {where}"
        choices = f.metadata.get("choices")
        if f.name == "method":
            choices = method_names()
        extra = f" [{'|'.join(map(str, choices))}]" if choices else ""
        own = config.task_spec().help_for(f.name) if config is not None else ""
        lines.append(
            f"  {f.name} ({label} {default!r}{source}){extra}\n      {f.metadata.get('help', '')}"
            + (f"\n      task {config.task_spec().name}: {own}" if own else "")
        )
    return "\n".join(lines)


install_hooks(_Hooks())
