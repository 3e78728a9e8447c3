"""DP — discrete prompting (Zhao & Schütze, 2021): a hard cloze template, no soft prompt, the whole PLM tuned.

The method itself (:class:`DiscretePrompting`, in :mod:`xlprompt.methods.discrete_prompt.method`) needs torch and is imported on first
use; its recipe (:mod:`xlprompt.methods.discrete_prompt.recipe`) does not.
"""

from __future__ import annotations

from xlprompt.methods.discrete_prompt.recipe import RECIPE, RECIPE_SOURCES  # noqa: F401


def __getattr__(name: str):
    import importlib

    method = importlib.import_module(f"{__name__}.method")
    try:
        return getattr(method, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
