"""xlprompt: few-shot cross-lingual transfer with soft prompts.

The core is MPT, the Multilingual Prompt Translator (Qiu et al., 2024, arXiv 2403.12407). Data flows one way:
task data → template → model → loss → trainer → store → report.

The public API is the names in :data:`__all__`; everything else is internal and may change. Importing
``xlprompt`` is cheap: torch and transformers load only when a name that needs them is first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from xlprompt import recipes as _recipes  # noqa: F401  (installs the config's recipe resolver)
from xlprompt.config import RunConfig
from xlprompt.errors import CheckpointError, ConfigError, DataError, ModelError, XlpromptError
from xlprompt.methods import register_method
from xlprompt.tasks import Task, register_task
from xlprompt.version import __version__  # noqa: E402

#: public name → the module that defines it (imported on first use: these need torch)
_LAZY = {
    "run": "xlprompt.api",
    "run_sweep": "xlprompt.api",
    "load_data": "xlprompt.api",
    "PromptModel": "xlprompt.api",
    "load_run": "xlprompt.api",
    "Prediction": "xlprompt.predict",
    "Example": "xlprompt.data.examples",
    "Method": "xlprompt.methods.base",
    "LossOutput": "xlprompt.methods.base",
}

__all__ = [
    "__version__",
    # configure and run
    "RunConfig",
    "run",
    "run_sweep",
    "load_data",
    # a method as a module for your own loop, saved and loaded whole
    "PromptModel",
    "load_run",
    "Prediction",
    "Example",
    # extend
    "register_method",
    "register_task",
    "Method",
    "LossOutput",
    "Task",
    # errors
    "XlpromptError",
    "ConfigError",
    "DataError",
    "ModelError",
    "CheckpointError",
]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name if name != "Example" else "NLIExample")
        globals()[name] = value
        return value
    raise AttributeError(f"module 'xlprompt' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover
    from xlprompt.api import PromptModel, load_data, load_run, run, run_sweep
    from xlprompt.data.examples import NLIExample as Example
    from xlprompt.methods.base import LossOutput, Method
    from xlprompt.predict import Prediction
