"""The task type and the registry of tasks (see :mod:`xlprompt.tasks`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional

from xlprompt.errors import ConfigError

__all__ = [
    "Task",
    "TaskSplits",
    "TASKS",
    "register",
    "unregister_task",
    "definition_digest",
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
    them in ``method_options`` (method name → its options), which the method validates.

    Register one with :func:`register_task` (or write a task file: the guide "Tasks and your own task").

    :param name: the task's name (the config's ``task``; names its report table).
    :param labels: the class names; ``labels[i]`` is class ``i``.
    :param languages: its language codes, the source language included.
    :param label_words: one default label word per label (every language).
    :param text_fields: the names of its one or two text fields (default: ``premise``, ``hypothesis``).
    :param source_language: the few-shot train and dev language (default ``en``).
    :param language_label_words: language → one label word per label (test-time words in those languages; the
        multilingual verbalizer of DPA-like methods).
    :param tiny_label_words: the label words used with the builtin tiny tokenizer of ``random:tiny``.
    :param parallel_default: MPT's default external parallel corpus (``parallel_source``).
    :param parallel_refused: corpus → why it cannot be used with this task (it overlaps the evaluation data).
    :param parallel_languages: the target languages the default external corpora have, under this task's codes
        (empty: XNLI's 14).
    :param parallel_fetch: corpus → the ``xlprompt data fetch`` source of its files, where not its own name.
    :param files: split (``train``, ``dev``, ``test``) → language → data file (absolute path): the data of a
        task without ``load_splits``.
    :param columns: text field → the files' column holding it.
    :param label_column: the files' label column (default ``label``).
    :param origin: where the task comes from (``built-in``, a task file's path, ``registered ...``).
    :param method_options: method name → what this task gives that method (PCT's templates, DP's pattern).
    :param load_splits: ``load_splits(task, config, folder) -> TaskSplits``: the task's own data loader; None:
        the files of ``files``.
    :param required_files: ``required_files(task, config, folder) -> [(path in the data folder, fetch
        source)]``, checked before a run starts.
    :param load_parallel: ``load_parallel(task, config, folder) -> [ParallelPair]``: the task's own parallel
        corpus (``parallel_source=task``); None: it has none.
    :param uses_demo: whether ``data_dir=builtin:demo`` (the shipped XNLI sample) serves this task.
    :param average_languages: the languages of the average its paper reports (empty: every language).
    :param average_source: where that definition comes from.
    :param language_groups: grouping → group name → its languages, each averaged in results and reports.
    :param grouping_sources: grouping → where it comes from.
    :param description: one line on the task, for ``run --help-config`` and the docs.
    :param full_train: whether ``shots=all`` (the full train split) runs this task.
    :param eval_split_help: what ``eval_split`` means for this task, for the help.
    :param train_languages: the languages with train and dev data, which ``source_languages`` may name (empty:
        the source language alone).
    :param train_data_help: what train data the task offers, for the error naming a language without any.
    """

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
    #: ``translations(task, config, folder, split, languages) -> {lang: [examples]}``: a parallel task's ``split``
    #: in each of ``languages`` (the task's languages that the run does not evaluate: those it reads anyway) found
    #: in the data folder, each example's uid naming the same sentence in every language; the leak guard finds an
    #: evaluated sentence in any of them. None: not parallel
    translations: Optional[Callable[..., dict]] = field(default=None, compare=False, repr=False)
    #: whether ``data_dir=builtin:demo`` (the shipped XNLI sample) serves this task
    uses_demo: bool = False
    #: the languages of the average the task's paper reports (empty: every language of the task), and where
    #: that definition comes from; results and tables report it as the ``paper`` average beside ``avg``
    average_languages: tuple[str, ...] = ()
    average_source: str = ""
    #: named groupings of the languages, each averaged in results and reports: grouping (``region``,
    #: ``family``, ``script`` ...) → group name → its languages; ``grouping_sources`` says where each comes from
    language_groups: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    grouping_sources: Mapping[str, str] = field(default_factory=dict)
    #: one line on what the task is, for ``run --help-config`` and the docs
    description: str = ""
    #: whether ``shots=all`` (the full train split, selection on the task's own full dev split) runs this task
    full_train: bool = False
    #: what ``eval_split`` means for this task (its splits, their sizes, what selection uses), for the help
    eval_split_help: str = ""
    #: the languages with train and dev data, which the config's ``source_languages`` may name (a run trains on
    #: their union); empty: the source language alone. The task's ``load_splits`` reads each of them
    train_languages: tuple[str, ...] = ()
    #: what train data the task offers (one phrase, for the error naming a language it has none in)
    train_data_help: str = ""
    #: ``load_dictionaries(task) -> {target language: {source word: [translations]}}``: the task's own bilingual
    #: dictionaries (SoftMV's code-switching); None: the task has none (on XNLI SoftMV reads MUSE's)
    load_dictionaries: Optional[Callable[..., dict]] = field(default=None, compare=False, repr=False)

    @property
    def single_text(self) -> bool:
        """Whether the task has one text field (its inputs are single texts, not pairs)."""
        return len(self.text_fields) == 1

    @property
    def target_languages(self) -> tuple[str, ...]:
        """Its languages other than the source language, in order."""
        return tuple(lang for lang in self.languages if lang != self.source_language)

    @property
    def paper_average_languages(self) -> tuple[str, ...]:
        """The languages of the paper's average: ``average_languages``, else every language of the task."""
        return self.average_languages or self.languages

    def averages(self, values: Mapping[str, float], languages: Optional[tuple[str, ...]] = None) -> dict:
        """The ``paper`` average and every group's average of ``values`` (language → number; other keys such as
        ``avg`` are ignored): an average always says what it covers.

        :param values: language → number.
        :param languages: another set of languages for the ``paper`` entry (a user's choice); None: the paper's.
        :returns: ``{"paper": entry, "groups": {grouping: {group: entry}}}``, each entry ``{"value": mean over the
            entry's languages that ``values`` holds (None: none), "languages": those languages, "missing": the
            entry's languages ``values`` lacks}``.
        """
        wanted = tuple(languages) if languages else self.paper_average_languages
        return {
            "paper": average_entry(values, wanted),
            "groups": {
                grouping: {name: average_entry(values, langs) for name, langs in groups.items()}
                for grouping, groups in self.language_groups.items()
            },
        }

    def help_for(self, key: str) -> str:
        """This task's own words on config key ``key`` for ``run --task T --help-config``.

        :param key: a config key (``task``, ``label_words``, ``eval_languages``, ``eval_split``, ``shots``,
            ``source_languages``).
        :returns: one line, or "" where the task has none.
        """
        if key == "task":
            return self.description
        if key == "label_words":
            return f"labels {', '.join(self.labels)}; default words {', '.join(self.label_words)}"
        if key == "eval_languages":
            shown = ", ".join(self.languages[:16]) + (" ..." if len(self.languages) > 16 else "")
            paper = self.paper_average_languages
            return (
                f"all = its {len(self.languages)} languages ({shown}); results average all evaluated (avg) and "
                f"the paper's {len(paper)} ({self.average_source or 'every language of the task'})"
            )
        if key == "eval_split":
            return self.eval_split_help
        if key == "source_languages":
            offered = self.train_languages or (self.source_language,)
            if len(offered) == 1:
                return f"train data in {offered[0]} only"
            return f"train and dev data in {len(offered)} languages ({', '.join(offered[:8])}{' ...' if len(offered) > 8 else ''})"
        if key == "shots" and self.full_train:
            return "shots=all: the full train split, selection on the full dev split"
        return ""

    def parse_label(self, value) -> int:
        """A label's index.

        :param value: a label name or its index (``0``, ``"1"``).
        :returns: the index in ``labels``.
        :raises ValueError: not one of the task's labels.
        """
        from xlprompt.languages import parse_label

        return parse_label(value, self.labels)


def average_entry(values: Mapping[str, float], languages) -> dict:
    """``{"value", "languages", "missing"}``: the unweighted mean of ``values`` over ``languages`` it holds."""
    covered = [lang for lang in languages if lang in values]
    return {
        "value": sum(values[lang] for lang in covered) / len(covered) if covered else None,
        "languages": covered,
        "missing": [lang for lang in languages if lang not in values],
    }


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


def unregister_task(name: str) -> None:
    """Remove a task added with :func:`register_task` (built-in tasks stay)."""
    if name in TASKS and TASKS[name].origin.startswith("built-in"):
        raise ConfigError(f"unregister_task: '{name}' is a built-in task")
    TASKS.pop(name, None)


def definition_digest(task: Task) -> str:
    """The digest of what a registered task is: its fields (labels, label words, languages, templates, ...; its
    data files by their content, not where they lie) and the code of its loaders (``load_splits``,
    ``required_files``, ``load_parallel``: :func:`xlprompt.plugins.code_identity`). Part of the run hash of a task
    registered with :func:`xlprompt.register_task`, so that another task under the same name is another run.

    Args:
        task (Task): the task.

    Returns:
        str: ``"sha256:<hex>"``.
    """
    import dataclasses
    import hashlib
    import json
    from pathlib import Path

    from xlprompt.config import _content_digest
    from xlprompt.plugins import code_identity

    values = {f.name: getattr(task, f.name) for f in dataclasses.fields(task) if f.compare and f.name != "origin"}
    values["files"] = {
        split: {
            lang: file.rpartition("@")[0]
            if file.startswith("hf:")
            else (_content_digest(file) if Path(file).is_file() else "missing")
            for lang, file in sorted(files.items())
        }
        for split, files in sorted(task.files.items())
    }
    for name in ("load_splits", "required_files", "load_parallel"):
        loader = getattr(task, name)
        values[name] = None if loader is None else code_identity(loader)
    payload = json.dumps(values, sort_keys=True, default=lambda v: dict(v) if hasattr(v, "items") else repr(v))
    return "sha256:" + hashlib.sha256(payload.encode()).hexdigest()


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
