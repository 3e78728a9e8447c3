"""DUAL — XPE's cross-prompt encoder beside a directly trained soft prompt (Mikaberidze et al., 2025): the
authors' hybrid configuration, encoder ratio 0.3 (bmikaberidze/XPE@78b384f
nlpka/configs/storage/language_model/xlmr/finetune/peft/sib200_hybrid.xpe.yml:37). Of the 20 virtual tokens, 14
are soft-prompt vectors trained directly and 6 come from the encoder, in that order
(nlpka/models/cross_prompt_encoder.py:1002-1004, 1235-1240). The computation is XPE's
(:class:`~xlprompt.methods.xpe.method.CrossPromptEncoding`); only the recipe differs."""

from __future__ import annotations

from xlprompt.methods.dual.recipe import RECIPE, RECIPE_SOURCES  # noqa: F401  (re-exported)
from xlprompt.methods.xpe.method import CrossPromptEncoding


class DualPrompt(CrossPromptEncoding):
    """DUAL: :class:`CrossPromptEncoding` at the hybrid encoder ratio (``xpe_encoder_ratio``, 0.3 by default)."""

    name = "dual"
