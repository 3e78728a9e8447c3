"""Tasks: what a run classifies (issue 13). A task is data, not code: a :class:`Task` names its text fields
(one or two), its labels, the label words (a default for every language, optionally per language), its
languages and source language, the methods that can run it and where its splits come from.

Built-in tasks (one module each in this folder): ``xnli`` (:mod:`xlprompt.tasks.xnli`, the paper's task and
the default; its data path is the historical one of :mod:`xlprompt.run_data`, results unchanged) and
``pawsx`` (:mod:`xlprompt.tasks.pawsx`). A user task is a YAML file (:mod:`xlprompt.tasks.user`): the config
key ``task`` is a registered name or the path of such a file.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

from xlprompt.errors import ConfigError

__all__ = ["Task", "TaskSplits", "TASKS", "load_splits", "required_files", "register", "register_task", "get_task", "task_languages"]


@dataclass(frozen=True)
class Task:
    """One classification task. ``labels[i]`` is class ``i``; ``label_words[i]`` its default label word (every
    language); ``language_label_words[lang]`` a task file's per-language words (its test-time words in those
    languages, and the multilingual verbalizer of DPA-like methods); ``tiny_label_words`` the words used with
    the builtin tiny tokenizer (tests).

    What a method needs beyond this (PCT's templates, DP's pattern, DPA's label-word table) belongs to the
    method: built-in tasks' entries live in the method's recipe module, keyed by task name; a task file gives
    them in ``method_options`` (method name → its options), which the method validates."""

    name: str
    labels: tuple[str, ...]
    languages: tuple[str, ...]
    label_words: tuple[str, ...]
    text_fields: tuple[str, ...] = ("premise", "hypothesis")
    source_language: str = "en"
    language_label_words: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    tiny_label_words: tuple[str, ...] = ()
    #: MPT's default external parallel corpus for this task, and the corpora that overlap its evaluation data
    parallel_default: str = "tatoeba"
    parallel_refused: Mapping[str, str] = field(default_factory=dict)
    #: user tasks: split -> language -> file (absolute), the columns of the text fields and the label
    files: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    columns: Mapping[str, str] = field(default_factory=dict)
    label_column: str = "label"
    origin: str = "built-in"
    #: what a task file gives each method that needs more than labels and label words (method → options)
    method_options: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    #: ``load_splits(task, config, folder) -> TaskSplits``; None: the files of ``files`` (a task file's way)
    load_splits: Optional[Callable[..., "TaskSplits"]] = field(default=None, compare=False, repr=False)
    #: ``required_files(task, config, folder) -> [(path in the data folder, fetch source)]``, checked before a run
    required_files: Optional[Callable[..., list]] = field(default=None, compare=False, repr=False)
    #: whether ``data_dir=builtin:demo`` (the shipped XNLI sample) serves this task
    uses_demo: bool = False

    @property
    def single_text(self) -> bool:
        return len(self.text_fields) == 1

    @property
    def target_languages(self) -> tuple[str, ...]:
        return tuple(lang for lang in self.languages if lang != self.source_language)

    def parse_label(self, value) -> int:
        """A label name or its index (``0``, ``"1"``) → its index; ``ValueError`` otherwise."""
        from xlprompt.languages import parse_label

        return parse_label(value, self.labels)


@dataclass
class TaskSplits:
    """A run's task data: few-shot ``train`` and ``dev`` (source language), ``test`` per evaluated language, the
    split evaluated and notes for the log."""

    train: list
    dev: list
    test: dict[str, list]
    eval_split: str
    notes: list[str] = field(default_factory=list)


def load_splits(task: Task, config, folder) -> TaskSplits:
    """The splits of ``task`` for ``config`` from the data folder ``folder`` (None: ``builtin:demo``)."""
    if task.load_splits is not None:
        return task.load_splits(task, config, folder)
    from xlprompt.tasks.user import load_user_data

    return load_user_data(task, config)


def required_files(task: Task, config, folder) -> list[tuple[str, str]]:
    """The task's files in the data folder that ``config`` reads (a task file's own files are checked when the
    file is read)."""
    return list(task.required_files(task, config, folder)) if task.required_files is not None else []


TASKS: dict[str, Task] = {}


def register(task: Task) -> Task:
    """Add a built-in task (its module calls this at import)."""
    TASKS[task.name] = task
    return task


def register_task(task: Task, replace: bool = False) -> Task:
    """Register ``task`` under ``task.name`` so that ``task=<name>`` runs it. Its data come from
    ``task.files`` (split → language → file, as a task file gives them) unless a data loader is registered
    for it in :data:`xlprompt.tasks.data.LOADERS`."""
    if not isinstance(task, Task):
        raise ConfigError(f"register_task needs an xlprompt.Task, not {type(task).__name__}")
    if task.name in TASKS and not replace:
        raise ConfigError(f"register_task: task '{task.name}' is already registered; pass replace=True")
    return register(task)


def _builtins() -> None:
    from xlprompt.tasks import pawsx, xnli  # noqa: F401  (they register themselves)


def get_task(spec: str) -> Task:
    """The task named ``spec`` (``xnli``, ``pawsx``) or the user task of the YAML file ``spec``."""
    _builtins()
    if spec in TASKS:
        return TASKS[spec]
    text = str(spec)
    if text.endswith((".yaml", ".yml")) or "/" in text or Path(text).exists():
        path = Path(text).expanduser().resolve()
        if not path.is_file():
            raise ConfigError(f"task file not found: {text}; give a registered task ({', '.join(TASKS)}) or the "
                              "path of a task YAML file")
        return _load_file(str(path), path.stat().st_mtime_ns)
    import difflib

    near = difflib.get_close_matches(text, list(TASKS), n=1)
    hint = f" Did you mean '{near[0]}'?" if near else ""
    raise ConfigError(f"unknown task '{text}'.{hint} Built-in tasks: {', '.join(TASKS)}; or the path of a task "
                      "YAML file (README 'Tasks')")


@functools.lru_cache(maxsize=32)
def _load_file(path: str, mtime_ns: int) -> Task:
    from xlprompt.tasks.user import load_task_file

    return load_task_file(path)


def task_languages(spec: str) -> tuple[str, ...]:
    return get_task(spec).languages
