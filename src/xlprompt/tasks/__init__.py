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
from xlprompt.tasks.base import TASKS, Task, TaskSplits, register, register_task

__all__ = [
    "Task",
    "TaskSplits",
    "TASKS",
    "load_splits",
    "required_files",
    "register",
    "register_task",
    "get_task",
    "task_languages",
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


def _builtins() -> None:
    from xlprompt.tasks import americasnli, pawsx, sib200, toy, xnli  # noqa: F401  (they register themselves)


def get_task(spec: str) -> Task:
    """The task named ``spec`` (``xnli``, ``pawsx``) or the user task of the YAML file ``spec``."""
    _builtins()
    if spec in TASKS:
        return TASKS[spec]
    text = str(spec)
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
