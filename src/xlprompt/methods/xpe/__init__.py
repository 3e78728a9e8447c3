"""XPE — the cross-prompt encoder (Mikaberidze et al., Findings of IJCNLP-AACL 2025), as bmikaberidze/XPE runs it.

The method itself (in :mod:`xlprompt.methods.xpe.method`) needs torch and is imported on first use; its recipe
(:mod:`xlprompt.methods.xpe.recipe`) does not.
"""

from __future__ import annotations

from xlprompt.methods.xpe.recipe import RECIPE, RECIPE_SOURCES  # noqa: F401


def __getattr__(name: str):
    import importlib

    if name in ("load_peft_prompt", "PeftPrompt"):  # the published prompts' loader
        return getattr(importlib.import_module(f"{__name__}.peft_prompts"), name)
    method = importlib.import_module(f"{__name__}.method")
    try:
        return getattr(method, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
