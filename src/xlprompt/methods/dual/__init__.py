"""DUAL — the cross-prompt encoder (Mikaberidze et al., Findings of IJCNLP-AACL 2025), as bmikaberidze/XPE runs it.

The method itself (in :mod:`xlprompt.methods.dual.method`) needs torch and is imported on first use; its recipe
(:mod:`xlprompt.methods.dual.recipe`) does not.
"""

from __future__ import annotations

from xlprompt.methods.dual.recipe import RECIPE, RECIPE_SOURCES  # noqa: F401


def __getattr__(name: str):
    import importlib

    method = importlib.import_module(f"{__name__}.method")
    try:
        return getattr(method, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
