"""FT — plain fine-tuning: a classification head on the first token's representation, the PLM trains.

The method itself (:class:`FineTuning`, in :mod:`xlprompt.methods.finetune.method`) needs torch and is imported on first
use; its recipe (:mod:`xlprompt.methods.finetune.recipe`) does not.
"""

from __future__ import annotations

from xlprompt.methods.finetune.recipe import RECIPE, RECIPE_SOURCES  # noqa: F401


def __getattr__(name: str):
    import importlib

    method = importlib.import_module(f"{__name__}.method")
    try:
        return getattr(method, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
