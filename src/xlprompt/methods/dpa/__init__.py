"""DPA — Dual Prompt Augmentation (Zhou, Li, Jiang, Bing; Findings of ACL 2023), as DAMO-NLP-SG/DPA runs it.

The method itself (:class:`DualPromptAugmentation`, in :mod:`xlprompt.methods.dpa.method`) needs torch and is imported on first
use; its recipe (:mod:`xlprompt.methods.dpa.recipe`) does not.
"""

from __future__ import annotations

from xlprompt.methods.dpa.recipe import RECIPE, RECIPE_SOURCES  # noqa: F401


def __getattr__(name: str):
    import importlib

    method = importlib.import_module(f"{__name__}.method")
    try:
        return getattr(method, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
