"""The task type and the registry of tasks (see :mod:`xlprompt.tasks`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional

from xlprompt.errors import ConfigError

__all__ = [
    "Task",
    "TaskSplits",
    "TASKS",
    "register",
    "register_task",
    "unregister_task",
    "task_record",
    "saved_task",
]


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


#: the spelling of the config key ``task`` for a task held by a saved model or run folder (:func:`saved_task`):
#: ``saved:<digest of its record>``. Such tasks are private to the models loaded with them: never in :data:`TASKS`,
#: so loading a model never replaces a registered task
SAVED_PREFIX = "saved:"
SAVED_TASKS: dict[str, Task] = {}
#: the fields of a task record (:func:`task_record`): what a prediction needs, no data files
RECORD_FIELDS: tuple[str, ...] = (
    "name",
    "labels",
    "languages",
    "label_words",
    "text_fields",
    "source_language",
    "language_label_words",
    "tiny_label_words",
    "parallel_default",
    "method_options",
)


def task_record(task: Task) -> dict:
    """What a prediction needs of ``task`` as JSON-ready data: name, labels, languages, label words (default, per
    language, the tiny tokenizer's), text fields, source language and the methods' options (PCT's templates, DP's
    pattern). No data files: a saved model or run folder holds this, not the task's splits."""
    import json

    return {
        "name": task.name,
        "labels": list(task.labels),
        "languages": list(task.languages),
        "label_words": list(task.label_words),
        "text_fields": list(task.text_fields),
        "source_language": task.source_language,
        "language_label_words": {k: list(v) for k, v in task.language_label_words.items()},
        "tiny_label_words": list(task.tiny_label_words),
        "parallel_default": task.parallel_default,
        "method_options": json.loads(json.dumps(task.method_options, default=list)),
    }


def saved_task(record: object, where: str) -> str:
    """Make the task of a saved model's or run folder's ``record`` (:func:`task_record`) available under the private
    spelling ``saved:<digest>`` and return it (the config key ``task`` of the loaded model). ``where`` names the
    file in the one-line :class:`~xlprompt.errors.CheckpointError` of a record that is no task."""
    import hashlib
    import json

    from xlprompt.errors import CheckpointError

    def bad(problem: str) -> CheckpointError:
        return CheckpointError(f"{where}: the saved task {problem}; save the model again with this xlprompt")

    if not isinstance(record, dict):
        raise bad(f"is a {type(record).__name__}, not a task record")
    missing = [k for k in RECORD_FIELDS if k not in record]
    if missing:
        raise bad(f"lacks {', '.join(missing)}")
    strings = ("labels", "languages", "label_words", "text_fields", "tiny_label_words")
    for key in strings:
        if not isinstance(record[key], list) or not all(isinstance(v, str) for v in record[key]):
            raise bad(f"field '{key}' is not a list of strings")
    labels = record["labels"]
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise bad(f"has the labels {labels} (two or more distinct ones needed)")
    if len(record["label_words"]) != len(labels) or len(record["text_fields"]) not in (1, 2):
        raise bad("has label words or text fields that do not fit its labels")
    if record["source_language"] not in record["languages"]:
        raise bad(f"has the source language {record['source_language']!r} outside its languages")
    words = record["language_label_words"]
    if not isinstance(words, dict) or not all(
        isinstance(v, list) and len(v) == len(labels) and all(isinstance(w, str) for w in v) for v in words.values()
    ):
        raise bad("field 'language_label_words' is not one word per label for each language")
    if not isinstance(record["method_options"], dict) or not isinstance(record["parallel_default"], str):
        raise bad("field 'method_options' or 'parallel_default' has the wrong type")
    if not isinstance(record["name"], str) or not record["name"].strip():
        raise bad("has no name")
    text = json.dumps({k: record[k] for k in RECORD_FIELDS}, sort_keys=True, ensure_ascii=False)
    spec = SAVED_PREFIX + hashlib.sha256(text.encode()).hexdigest()[:16]
    if spec not in SAVED_TASKS:
        SAVED_TASKS[spec] = Task(
            name=record["name"],
            labels=tuple(labels),
            languages=tuple(record["languages"]),
            label_words=tuple(record["label_words"]),
            text_fields=tuple(record["text_fields"]),
            source_language=record["source_language"],
            language_label_words={k: tuple(v) for k, v in words.items()},
            tiny_label_words=tuple(record["tiny_label_words"]),
            parallel_default=record["parallel_default"],
            method_options=record["method_options"],
            origin=f"saved ({where})",
            load_splits=_no_data,
        )
    return spec


def _no_data(task: Task, config, folder) -> TaskSplits:
    """The data loader of a saved model's task: it has none (a saved model holds its task's definition only)."""
    raise ConfigError(
        f"task '{task.name}' is the task of a saved model ({task.origin}): its definition, without its data; to "
        "train or evaluate, give its task file or register the task (xlprompt.register_task)"
    )
