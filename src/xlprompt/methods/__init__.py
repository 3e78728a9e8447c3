"""The methods: MPT (the paper's), its baselines SP, FT and PCT, and the field's DP, DPA, SoftMV, XPE and DUAL.

One package per method (``xlprompt/methods/<name>/``), PEFT-style:

* ``recipe.py`` — torch-free: ``RECIPE`` (config key → the method's default under ``recipe=reference``, its
  authors' code; keys from :data:`xlprompt.config.RECIPE_KEYS`), ``RECIPE_SOURCES`` (key → "repo path:line"),
  and what the method needs from each task (PCT's templates, DP's pattern, DPA's label words), keyed by task;
* ``method.py`` — the :class:`~xlprompt.methods.base.Method` subclass (an ``nn.Module``), imported on first use.

A method is known by its :class:`MethodSpec` in the registry. :func:`register_method` adds one: a new method
is one module and one call. The config's recipe keys are resolved from the spec's recipe by
:mod:`xlprompt.recipes` (a key missing from it takes :data:`xlprompt.config.GENERIC_DEFAULTS`; under
``recipe=uniform`` the keys of :data:`xlprompt.config.UNIFORM_KEYS` take MPT's values; values the user sets
always win).
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Union

from xlprompt.errors import ConfigError
from xlprompt.plugins import code_identity, load_entry_points

if TYPE_CHECKING:  # pragma: no cover
    from xlprompt.methods.base import Method

#: ``task_support(task) -> None`` (the method runs the task) or a one-line reason why it cannot
TaskSupport = Callable[[Any], Union[str, None]]


def _runs_every_task(task) -> str | None:
    return None


@dataclass(frozen=True)
class MethodSpec:
    """A registered method.

    ``factory`` is the :class:`~xlprompt.methods.base.Method` subclass, or its import path
    ``"package.module:ClassName"`` (imported only when a model is built, so that configs and help stay fast).
    """

    name: str
    factory: Union[str, type]
    recipe: Mapping[str, Any] = field(default_factory=dict)
    recipe_sources: Mapping[str, str] = field(default_factory=dict)
    summary: str = ""
    task_support: TaskSupport = _runs_every_task
    #: ``check_task_options(task, options) -> None``: validates what a task file gives this method (its entry
    #: of ``Task.method_options``); raises a one-line ConfigError naming the file and field
    check_task_options: Callable[[Any, Mapping[str, Any]], None] | None = None
    #: ``task_label_words(task) -> (words, label_words_as) | None``: the method's own label words for a task
    #: other than XNLI, where its authors chose others than the task's (PCT's PAWS-X token ids)
    task_label_words: Callable[[Any], Any] | None = None
    #: bumped when the method's computation changes for the same config (part of the run hash from 2 on)
    revision: int = 1
    #: whether the method trains on several source languages at once (config ``source_languages``): every example
    #: carries its language and the method reads it; False: a config naming several is refused in one line
    multi_source: bool = False
    #: a method registered with :func:`register_method`: ``"module:QualName sha256:<its module's source>"``
    #: (:func:`xlprompt.plugins.code_identity`), part of the run hash, so that other code under a name is another
    #: run; "" for the built-in methods
    identity: str = ""

    def load(self) -> type[Method]:
        """The method's class (imports its module on first use)."""
        if isinstance(self.factory, str):
            module, _, attr = self.factory.partition(":")
            return getattr(importlib.import_module(module), attr)
        return self.factory


_REGISTRY: dict[str, MethodSpec] = {}


def register_method(
    name: str,
    factory: Union[str, type],
    *,
    recipe: Mapping[str, Any] | None = None,
    recipe_sources: Mapping[str, str] | None = None,
    summary: str = "",
    task_support: TaskSupport | None = None,
    check_task_options: Callable[[Any, Mapping[str, Any]], None] | None = None,
    task_label_words: Callable[[Any], Any] | None = None,
    revision: int = 1,
    multi_source: bool = False,
    replace: bool = False,
) -> MethodSpec:
    """Register a method under ``name`` (the config's ``method``).

    The method's class is checked here, not when a run starts: it must be importable and a subclass of
    :class:`xlprompt.Method`. Its identity (module, qualified name and a digest of its module's source) becomes part
    of every run hash of the method, so that a name given to other code, or code edited since, is never mistaken
    for the runs stored before. The built-in methods cannot be replaced.

    Args:
        name (str): the method's name: letters, digits, ``-`` or ``_``.
        factory (type | str): a :class:`~xlprompt.methods.base.Method` subclass, called as ``factory(config, plm,
            tokenizer, verbalizer)``, or its import path ``"package.module:ClassName"``.
        recipe (Mapping[str, Any] | None): config key → default (keys of :data:`xlprompt.config.RECIPE_KEYS`).
        recipe_sources (Mapping[str, str] | None): where each default comes from (shown by ``--help-config``).
        summary (str): one line that describes the method.
        task_support (Callable | None): ``task -> None`` or the reason it cannot run that task (default: every
            task).
        check_task_options (Callable | None): ``(task, options) -> None``: checks what a task file gives this
            method (its entry of ``Task.method_options``), raising a one-line ConfigError.
        task_label_words (Callable | None): ``task -> (words, label_words_as) | None``: the method's own label
            words for a task.
        revision (int): bump it when the method's computation changes in code outside its class's module.
        multi_source (bool): whether the method trains on several source languages at once (config
            ``source_languages``; its training reads each example's ``lang``); False: such a config is refused.
        replace (bool): replace a method registered before under ``name`` (not a built-in one).

    Returns:
        MethodSpec: the registered spec.

    Raises:
        ConfigError: a bad name, a name taken (without ``replace``) or built-in, unknown recipe keys, a bad
            revision, or a factory that cannot be imported or is no Method subclass; one line each.
    """
    if not isinstance(name, str) or not name or not name.replace("_", "").replace("-", "").isalnum():
        raise ConfigError(f"register_method: name must be a non-empty word (letters, digits, - or _), not {name!r}")
    if name in BUILTIN_METHODS:
        raise ConfigError(f"register_method: '{name}' is a built-in method; register yours under another name")
    if name in _REGISTRY and not replace:
        raise ConfigError(f"register_method: method '{name}' is already registered; pass replace=True to replace it")
    spec = _spec(name, factory, recipe, recipe_sources, summary, task_support, check_task_options, task_label_words)
    if not isinstance(multi_source, bool):
        raise ConfigError(f"register_method('{name}'): multi_source must be True or False, not {multi_source!r}")
    spec = dataclasses.replace(
        spec,
        revision=_revision(name, revision),
        identity=code_identity(_load(name, factory)),
        multi_source=multi_source,
    )
    _REGISTRY[name] = spec
    return spec


def _spec(name, factory, recipe, recipe_sources, summary, task_support, check_task_options, task_label_words):
    from xlprompt.config import RECIPE_KEYS

    recipe = dict(recipe or {})
    unknown = sorted(set(recipe) - set(RECIPE_KEYS))
    if unknown:
        raise ConfigError(
            f"register_method('{name}'): recipe keys {', '.join(unknown)} are not recipe keys; "
            f"allowed: {', '.join(RECIPE_KEYS)}"
        )
    return MethodSpec(
        name,
        factory,
        recipe,
        dict(recipe_sources or {}),
        summary,
        task_support or _runs_every_task,
        check_task_options,
        task_label_words,
    )


def _revision(name: str, revision) -> int:
    if not isinstance(revision, int) or isinstance(revision, bool) or revision < 1:
        raise ConfigError(f"register_method('{name}'): revision must be an integer >= 1, not {revision!r}")
    return revision


def _load(name: str, factory) -> type:
    """The class of ``factory`` (imported from ``"package.module:ClassName"``), checked to be a Method subclass."""
    where = f"register_method('{name}')"
    if isinstance(factory, str):
        module, colon, attr = factory.partition(":")
        if not colon or not module or not attr:
            raise ConfigError(f"{where}: factory '{factory}' must be an import path 'package.module:ClassName'")
        try:
            loaded = importlib.import_module(module)
        except Exception as err:  # noqa: BLE001 - the user's module: any failure is one line naming it
            lines = [line.strip() for line in str(err).splitlines() if line.strip()]
            raise ConfigError(
                f"{where}: factory '{factory}' cannot be imported ({type(err).__name__}: "
                f"{lines[0] if lines else ''}); give the import path of an importable module"
            ) from None
        if not hasattr(loaded, attr):
            raise ConfigError(f"{where}: factory '{factory}': the module {module} has no '{attr}'")
        cls = getattr(loaded, attr)
    else:
        cls = factory
    from xlprompt.methods.base import Method

    if not (isinstance(cls, type) and issubclass(cls, Method)):
        kind = (
            f"the class {cls.__qualname__}"
            if isinstance(cls, type)
            else f"the function {getattr(cls, '__qualname__', cls)}"
            if callable(cls)
            else f"the {type(cls).__name__} {cls!r}"
        )
        raise ConfigError(
            f"{where}: factory must be a subclass of xlprompt.Method (or the import path "
            f"'package.module:ClassName' of one), not {kind}"
        )
    return cls


def unregister_method(name: str) -> None:
    """Remove a method added with :func:`register_method` (built-in methods stay)."""
    if name in BUILTIN_METHODS:
        raise ConfigError(f"unregister_method: '{name}' is a built-in method")
    _REGISTRY.pop(name, None)


def method_names() -> tuple[str, ...]:
    """The registered methods, built-in ones first (the installed plugins' included: they load first)."""
    load_entry_points()
    return tuple(_REGISTRY)


def get_method_spec(name: str) -> MethodSpec:
    """The :class:`MethodSpec` of ``name`` (a name not registered yet loads the installed plugins first); a
    one-line ConfigError naming the registered methods otherwise."""
    if name not in _REGISTRY:
        load_entry_points()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(
            f"method must be one of {', '.join(_REGISTRY)}, not '{name}' (a method of a plugin module: "
            "--plugin MODULE, or the config key plugins)"
        ) from None


def build_method(config, plm, tokenizer, verbalizer) -> "Method":
    """The method of ``config`` around ``plm``."""
    return get_method_spec(config.method).load()(config, plm, tokenizer, verbalizer)


class _MethodClasses(Mapping):
    """name → class of every registered method (imports each on first access)."""

    def __getitem__(self, name):
        return get_method_spec(name).load() if name in _REGISTRY else _missing(name)

    def __iter__(self):
        return iter(_REGISTRY)

    def __len__(self):
        return len(_REGISTRY)


def _missing(name):
    raise KeyError(name)


METHOD_CLASSES: Mapping[str, type] = _MethodClasses()


def _register_builtins() -> tuple[tuple[str, str, str], ...]:
    """Register the built-in methods; returns their recipes' renamed choices (``RENAMED_CHOICES``)."""
    from xlprompt.methods import discrete_prompt, dpa, dual, finetune, mpt, pct, soft_prompt, softmv, xpe

    builtins = [
        ("mpt", mpt, "MultilingualPromptTranslator", "MPT: soft prompt translated per target language (the paper)"),
        ("sp", soft_prompt, "SoftPrompting", "SP: one soft prompt for every language (Zhao & Schütze, 2021)"),
        ("ft", finetune, "FineTuning", "FT: fine-tuning with a classification head"),
        ("pct", pct, "CrossLingualTemplates", "PCT: prompt-based cross-lingual templates (Qi et al., 2022)"),
        ("dp", discrete_prompt, "DiscretePrompting", "DP: discrete (hard) prompts, PET-style"),
        ("dpa", dpa, "DualPromptAugmentation", "DPA: dual prompt augmentation (Zhou et al., 2023)"),
        ("softmv", softmv, "SoftMultilingualVerbalizer", "SoftMV: soft prompt + multilingual verbalizer"),
        (
            "xpe",
            xpe,
            "CrossPromptEncoding",
            "XPE: cross-prompt encoder + head on a frozen PLM (Mikaberidze et al., 2025)",
        ),
        ("dual", dual, "DualPrompt", "DUAL: XPE's encoder beside a direct soft prompt (Mikaberidze et al., 2025)"),
    ]
    for name, package, cls, summary in builtins:  # imported lazily (torch): their identity is their name
        recipe = package.recipe
        spec = _spec(
            name,
            f"{package.__name__}.method:{cls}",
            recipe.RECIPE,
            recipe.RECIPE_SOURCES,
            summary,
            getattr(recipe, "task_support", None),
            getattr(recipe, "check_task_options", None),
            getattr(recipe, "task_label_words", None),
        )
        _REGISTRY[name] = dataclasses.replace(
            spec,
            revision=_revision(name, getattr(recipe, "REVISION", 1)),
            multi_source=bool(getattr(recipe, "MULTI_SOURCE", False)),
        )
    return tuple(item for _, package, _, _ in builtins for item in getattr(package.recipe, "RENAMED_CHOICES", ()))


#: the built-in methods' renamed config choices, ``(key, old spelling, new spelling)``: their recipes'
#: ``RENAMED_CHOICES`` (read by :mod:`xlprompt.config` through its hooks)
RENAMED_CHOICES: tuple[tuple[str, str, str], ...] = _register_builtins()

#: the built-in methods' names (the registry may hold more: :func:`method_names`)
BUILTIN_METHODS: tuple[str, ...] = tuple(_REGISTRY)


def __getattr__(name: str):
    # the classes of the built-in methods and the base types, imported on first use (they need torch)
    lazy = {"Method": "xlprompt.methods.base", "LossOutput": "xlprompt.methods.base"}
    if name in lazy:
        return getattr(importlib.import_module(lazy[name]), name)
    for spec in _REGISTRY.values():
        if isinstance(spec.factory, str) and spec.factory.endswith(":" + name):
            return spec.load()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "MethodSpec",
    "register_method",
    "unregister_method",
    "get_method_spec",
    "method_names",
    "build_method",
    "METHOD_CLASSES",
    "BUILTIN_METHODS",
]
