"""PCT — prompt-learning from cross-lingual templates (Qi et al., 2022), with hard templates.

The method itself (:class:`CrossLingualTemplates`, in :mod:`xlprompt.methods.pct.method`) needs torch and is imported on first
use; its recipe (:mod:`xlprompt.methods.pct.recipe`) does not.
"""

from __future__ import annotations

from xlprompt.methods.pct.recipe import RECIPE, RECIPE_SOURCES  # noqa: F401


def __getattr__(name: str):
    import importlib

    method = importlib.import_module(f"{__name__}.method")
    try:
        return getattr(method, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
