"""SP — soft prompting (Zhao & Schütze, 2021): one learned prompt ``p_S``, CE only (Eq. 3), used for every language.

The method itself (:class:`SoftPrompting`, in :mod:`xlprompt.methods.soft_prompt.method`) needs torch and is imported on first
use; its recipe (:mod:`xlprompt.methods.soft_prompt.recipe`) does not.
"""

from __future__ import annotations

from xlprompt.methods.soft_prompt.recipe import RECIPE, RECIPE_SOURCES  # noqa: F401


def __getattr__(name: str):
    import importlib

    method = importlib.import_module(f"{__name__}.method")
    try:
        return getattr(method, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
