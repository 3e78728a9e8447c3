"""The task type and the registry of tasks (see :mod:`xlprompt.tasks`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional

from xlprompt.errors import ConfigError

__all__ = ["Task", "TaskSplits", "TASKS", "register", "register_task", "unregister_task"]


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
    #: the target languages that the default external corpora have, under this task's codes (empty: XNLI's 14),
    #: and the ``xlprompt data fetch`` source of a parallel_source's files where it is not the source's name
    parallel_languages: tuple[str, ...] = ()
    parallel_fetch: Mapping[str, str] = field(default_factory=dict)
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
    #: ``load_parallel(task, config, folder) -> [ParallelPair]``: the task's own parallel corpus
    #: (``parallel_source=task``); None: the task has none
    load_parallel: Optional[Callable[..., list]] = field(default=None, compare=False, repr=False)
    #: whether ``data_dir=builtin:demo`` (the shipped XNLI sample) serves this task
    uses_demo: bool = False
    #: ``load_dictionaries(task) -> {target language: {source word: [translations]}}``: the task's own bilingual
    #: dictionaries (SoftMV's code-switching); None: the task has none (on XNLI SoftMV reads MUSE's)
    load_dictionaries: Optional[Callable[..., dict]] = field(default=None, compare=False, repr=False)

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
    if task.name in TASKS and TASKS[task.name].origin.startswith("built-in"):
        raise ConfigError(f"register_task: '{task.name}' is a built-in task; give your task another name")
    if task.origin == "built-in":  # the field's default: this one is the user's
        task = dataclasses.replace(task, origin="registered (xlprompt.register_task)")
    return register(task)


def unregister_task(name: str) -> None:
    """Remove a task added with :func:`register_task` (built-in tasks stay)."""
    if name in TASKS and TASKS[name].origin.startswith("built-in"):
        raise ConfigError(f"unregister_task: '{name}' is a built-in task")
    TASKS.pop(name, None)
