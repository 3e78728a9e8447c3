"""The recipe of dual: XPE's (:mod:`xlprompt.methods.xpe.recipe`) with the authors' hybrid encoder ratio, 0.3 (6 of
the 20 virtual tokens from the cross-prompt encoder, 14 soft-prompt vectors trained directly). Torch-free."""

from __future__ import annotations

from typing import Any

from xlprompt.methods.xpe.recipe import CPE, UTILS, YML
from xlprompt.methods.xpe.recipe import RECIPE as XPE_RECIPE
from xlprompt.methods.xpe.recipe import RECIPE_SOURCES as XPE_SOURCES

#: DUAL: config key → default under recipe=reference (see methods/__init__.py)
#: it trains on several source languages at once (config source_languages): its training reads each example's
#: language where it uses one (label words), and nothing else of it
MULTI_SOURCE = True

RECIPE: dict[str, Any] = {**XPE_RECIPE, "xpe_encoder_ratio": 0.3}
RECIPE_SOURCES: dict[str, str] = {
    **XPE_SOURCES,
    "xpe_encoder_ratio": f"{YML}:37 (encoder_ratio: 0.3); {UTILS}:242 (the D30 row); {CPE}:1002-1004 "
    "(xpe tokens = max(1, min(m - 1, int(m x ratio))), the rest soft-prompt vectors)",
}
