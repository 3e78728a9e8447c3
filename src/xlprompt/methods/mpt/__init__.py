"""MPT — the Multilingual Prompt Translator (Qiu et al., 2024).

The method itself (:class:`MultilingualPromptTranslator`, in :mod:`xlprompt.methods.mpt.method`) needs torch and is imported on first
use; its recipe (:mod:`xlprompt.methods.mpt.recipe`) does not.
"""

from __future__ import annotations

from xlprompt.methods.mpt.recipe import RECIPE, RECIPE_SOURCES  # noqa: F401


def __getattr__(name: str):
    import importlib

    method = importlib.import_module(f"{__name__}.method")
    try:
        return getattr(method, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
