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
from typing import Mapping

from xlprompt.errors import ConfigError

__all__ = ["Task", "TASKS", "register", "get_task", "task_languages", "method_support"]

#: methods that need no task-specific resource beyond the task's labels and label words
GENERIC_METHODS: tuple[str, ...] = ("mpt", "sp", "ft")


@dataclass(frozen=True)
class Task:
    """One classification task. ``labels[i]`` is class ``i``; ``label_words[i]`` its default label word (every
    language); ``language_label_words[lang]`` per-language words (the multilingual verbalizers of DPA-like
    methods); ``tiny_label_words`` the words used with the builtin tiny tokenizer (tests)."""

    name: str
    labels: tuple[str, ...]
    languages: tuple[str, ...]
    label_words: tuple[str, ...]
    text_fields: tuple[str, ...] = ("premise", "hypothesis")
    source_language: str = "en"
    language_label_words: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    tiny_label_words: tuple[str, ...] = ()
    #: the methods that can run the task, and for the others why not (one line each)
    methods: tuple[str, ...] = GENERIC_METHODS
    missing: Mapping[str, str] = field(default_factory=dict)
    #: MPT's default external parallel corpus for this task, and the corpora that overlap its evaluation data
    parallel_default: str = "tatoeba"
    parallel_refused: Mapping[str, str] = field(default_factory=dict)
    #: user tasks: split -> language -> file (absolute), the columns of the text fields and the label
    files: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    columns: Mapping[str, str] = field(default_factory=dict)
    label_column: str = "label"
    origin: str = "built-in"
    #: PCT (a task that has them): its reference templates per language, their <mask> repair rule and the
    #: languages its second template is drawn from; label words per method where its authors chose others
    pct_templates: Mapping[str, str] = field(default_factory=dict)
    pct_repair: str = "question"
    pct_draw_languages: tuple[str, ...] = ()
    method_label_words: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    #: DP (a task that has one): its hard pattern, ``{<text field>}`` and ``<mask>`` placeholders between
    #: literal words (:func:`xlprompt.methods.discrete_prompt.task_dp_template`)
    dp_template: str = ""

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

    def check_method(self, method: str) -> None:
        """A one-line :class:`ConfigError` unless ``method`` can run this task."""
        if method not in self.methods:
            why = self.missing.get(method, f"it needs resources that exist only for XNLI")
            raise ConfigError(f"method {method} cannot run task {self.name}: {why}; methods for this task: "
                              f"{', '.join(self.methods)}")


TASKS: dict[str, Task] = {}


def register(task: Task) -> Task:
    TASKS[task.name] = task
    return task


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
                      "YAML file (see the documentation's 'Tasks and your own task')")


@functools.lru_cache(maxsize=32)
def _load_file(path: str, mtime_ns: int) -> Task:
    from xlprompt.tasks.user import load_task_file

    return load_task_file(path)


def task_languages(spec: str) -> tuple[str, ...]:
    return get_task(spec).languages


def method_support() -> dict[str, tuple[str, ...]]:
    """Built-in task → the methods that run it (README, help)."""
    _builtins()
    return {name: task.methods for name, task in TASKS.items()}
