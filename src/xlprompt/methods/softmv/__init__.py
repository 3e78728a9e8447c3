"""SoftMV — soft prompting with a multilingual verbalizer and code-switched consistency (Li et al., ACL 2023),

The method itself (:class:`SoftMultilingualVerbalizer`, in :mod:`xlprompt.methods.softmv.method`) needs torch and is imported on first
use; its recipe (:mod:`xlprompt.methods.softmv.recipe`) does not.
"""

from __future__ import annotations

from xlprompt.methods.softmv.recipe import RECIPE, RECIPE_SOURCES  # noqa: F401


def __getattr__(name: str):
    import importlib

    method = importlib.import_module(f"{__name__}.method")
    try:
        return getattr(method, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
