"""Tasks: what a run classifies. A task is data, not code: a :class:`Task` names its text fields
(one or two), its labels, the label words (a default for every language, optionally per language), its
languages and source language, the methods that can run it and where its splits come from.

Built-in tasks (one module each in this folder): ``xnli`` (:mod:`xlprompt.tasks.xnli`, the paper's task and
the default; its data path is the historical one of :mod:`xlprompt.run_data`, results unchanged) and
``pawsx`` (:mod:`xlprompt.tasks.pawsx`), ``sib200`` (:mod:`xlprompt.tasks.sib200`: topic classification in 205
languages) and ``americasnli`` (:mod:`xlprompt.tasks.americasnli`: NLI in 10 Indigenous languages of the
Americas, trained on English XNLI). A user task is a YAML file (:mod:`xlprompt.tasks.user`): the config
key ``task`` is a registered name or the path of such a file.
"""

from __future__ import annotations

import functools
from pathlib import Path

from xlprompt.errors import ConfigError
from xlprompt.plugins import load_entry_points
from xlprompt.tasks.base import (
    SAVED_PREFIX,
    SAVED_TASKS,
    TASKS,
    Task,
    TaskSplits,
    register,
    saved_task,
    task_record,
    unregister_task,
)

__all__ = [
    "Task",
    "TaskSplits",
    "TASKS",
    "load_splits",
    "required_files",
    "register",
    "register_task",
    "unregister_task",
    "get_task",
    "task_languages",
    "task_record",
    "saved_task",
]


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


def register_task(task: Task, replace: bool = False) -> Task:
    """Register ``task`` under ``task.name`` so that ``task=<name>`` runs it.

    The task is held to the rules of a task file (:func:`xlprompt.tasks.user.check_definition`): a name on one
    line without '|', one or two text fields, at least two distinct labels, valid language codes with the source
    language among them, one distinct label word per label. Its data come from ``task.files`` (split → language →
    file, as a task file gives them) unless it has its own ``load_splits``.

    Args:
        task (Task): the task.
        replace (bool): replace a task registered before under its name (not a built-in one).

    Returns:
        Task: the registered task (its ``origin`` says it was registered).

    Raises:
        ConfigError: a task that a task file could not be, a name taken (without ``replace``) or built-in; one
            line each.
    """
    import dataclasses

    from xlprompt.tasks.user import check_task

    _builtins()
    if not isinstance(task, Task):
        raise ConfigError(f"register_task needs an xlprompt.Task, not {type(task).__name__}")
    check_task(task)  # a built-in task's name (in any letter case) is refused there
    if task.name in TASKS and not replace:
        raise ConfigError(f"register_task: task '{task.name}' is already registered; pass replace=True")
    if task.origin == "built-in":  # the field's default: this one is the user's
        task = dataclasses.replace(task, origin="registered (xlprompt.register_task)")
    return register(task)


def _builtins() -> None:
    from xlprompt.tasks import americasnli, pawsx, sib200, toy, xnli  # noqa: F401  (they register themselves)


def get_task(spec: str) -> Task:
    """The task named ``spec`` (``xnli``, ``pawsx``) or the user task of the YAML file ``spec``."""
    _builtins()
    if spec in TASKS:
        return TASKS[spec]
    text = str(spec)
    if text.startswith(SAVED_PREFIX):
        if text not in SAVED_TASKS:
            raise ConfigError(
                f"task={text} is the task of a saved model that this process has not loaded; load the model "
                "with PromptModel.from_pretrained (or xlprompt.load_run)"
            )
        return SAVED_TASKS[text]
    if text and not text.endswith((".yaml", ".yml")) and "/" not in text:
        load_entry_points()  # an installed plugin may register it
        if spec in TASKS:
            return TASKS[spec]
    if not text.strip():
        raise ConfigError(f"config key 'task' is empty; give a registered task ({', '.join(TASKS)}) or a task file")
    from xlprompt.config import path_problem

    problem = path_problem(text, "file")
    if problem is not None and "is a folder" not in problem:  # FILE/x, a name too long: never a task file
        raise ConfigError(f"task={text if chr(0) not in text else repr(text)} {problem}")
    if text.endswith((".yaml", ".yml")) or "/" in text or Path(text).exists():
        path = Path(text).expanduser().resolve()
        from xlprompt.data.home import misplaced_file_message, not_a_file

        if not_a_file(path) is not None:
            raise ConfigError(misplaced_file_message(text, "the task file", "give the task YAML file's path"))
        if not path.is_file():
            raise ConfigError(
                f"task file not found: {text}; give a registered task ({', '.join(TASKS)}) or the "
                "path of a task YAML file"
            )
        return _load_file(str(path), path.stat().st_mtime_ns)
    import difflib

    near = difflib.get_close_matches(text, list(TASKS), n=1)
    hint = f" Did you mean '{near[0]}'?" if near else ""
    raise ConfigError(
        f"unknown task '{text}'.{hint} Built-in tasks: {', '.join(TASKS)}; or the path of a task "
        "YAML file (see the documentation's 'Tasks and your own task')"
    )


@functools.lru_cache(maxsize=32)
def _load_file(path: str, mtime_ns: int) -> Task:
    from xlprompt.tasks.user import load_task_file

    return load_task_file(path)


def task_languages(spec: str) -> tuple[str, ...]:
    return get_task(spec).languages
