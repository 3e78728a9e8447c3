"""The methods: MPT (the paper's), its baselines SP, FT and PCT, and the field's DP, DPA and SoftMV (issue 12).
``build_method`` picks one by name.

Recipes (issue 10). Every method module declares two module-level dicts:

* ``RECIPE: dict[str, Any]`` — config key → the method's default under ``recipe=reference`` (its authors'
  code); keys from :data:`xlprompt.config.RECIPE_KEYS`;
* ``RECIPE_SOURCES: dict[str, str]`` — config key → where that default comes from ("repo path:line" or
  "paper §IV-B").

Registering the class in :data:`METHOD_CLASSES` is enough: the config finds the recipe as
``sys.modules[cls.__module__].RECIPE`` (:func:`xlprompt.config.method_recipe`). A module without ``RECIPE``
(or a key missing from it) means "no method-specific default": the key then takes
:data:`xlprompt.config.GENERIC_DEFAULTS`. Under ``recipe=uniform`` the keys of
:data:`xlprompt.config.UNIFORM_KEYS` take MPT's values for every method. Values the user sets always win.
"""

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
