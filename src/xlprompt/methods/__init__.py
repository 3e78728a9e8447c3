"""The methods: MPT (the paper's), its baselines SP, FT and PCT, and the field's DP, DPA and SoftMV (issue 12).
``build_method`` picks one by name."""

from __future__ import annotations

from xlprompt.config import METHODS, RunConfig
from xlprompt.errors import ConfigError
from xlprompt.methods.base import LossOutput, Method
from xlprompt.methods.discrete_prompt import DiscretePrompting
from xlprompt.methods.dpa import DualPromptAugmentation
from xlprompt.methods.finetune import FineTuning
from xlprompt.methods.mpt import MultilingualPromptTranslator
from xlprompt.methods.pct import CrossLingualTemplates
from xlprompt.methods.soft_prompt import SoftPrompting
from xlprompt.methods.softmv import SoftMultilingualVerbalizer

METHOD_CLASSES: dict[str, type[Method]] = {
    "mpt": MultilingualPromptTranslator,
    "sp": SoftPrompting,
    "ft": FineTuning,
    "pct": CrossLingualTemplates,
    "dp": DiscretePrompting,
    "dpa": DualPromptAugmentation,
    "softmv": SoftMultilingualVerbalizer,
}


def build_method(config: RunConfig, plm, tokenizer, verbalizer) -> Method:
    if config.method not in METHOD_CLASSES:
        raise ConfigError(f"method must be one of {', '.join(METHODS)}, not '{config.method}'")
    return METHOD_CLASSES[config.method](config, plm, tokenizer, verbalizer)


__all__ = ["build_method", "Method", "LossOutput", "METHOD_CLASSES", "MultilingualPromptTranslator",
           "SoftPrompting", "FineTuning", "CrossLingualTemplates", "DiscretePrompting", "DualPromptAugmentation",
           "SoftMultilingualVerbalizer"]
