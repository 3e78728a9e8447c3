"""MkDocs hook: the API reference page lists every name of ``xlprompt.__all__``, each documented where it is
defined (``::: module.Name`` for mkdocstrings), so the page follows the package's public API whether its
names are imported eagerly, under ``TYPE_CHECKING`` or lazily through a module ``__getattr__``."""

from __future__ import annotations

import importlib
import inspect
import logging
import sys
from pathlib import Path

log = logging.getLogger("mkdocs.hooks.api")
MARKER = "<!-- api-members -->"
CONFIG_MARKER = "<!-- config-fields -->"


def _entries(src: Path) -> list[str]:
    if str(src) not in sys.path:
        sys.path.insert(0, str(src))
    package = importlib.import_module("xlprompt")
    names = list(getattr(package, "__all__", None) or [n for n in vars(package) if not n.startswith("_")])
    blocks = []
    for name in names:
        try:
            obj = getattr(package, name)
        except Exception as error:  # a name the package cannot give: say so in the build log, keep building
            log.info("api reference: xlprompt.%s left out (%s)", name, error)
            continue
        if inspect.ismodule(obj):
            blocks.append(f"::: {obj.__name__}\n    options:\n      members: false\n      show_root_heading: true\n")
            continue
        module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
        if not module or not qualname or not module.startswith("xlprompt"):
            continue  # constants (``__version__``) and re-exports of other packages have no page here
        blocks.append(
            f"::: {module}.{qualname}\n    options:\n      show_root_heading: true\n      show_root_full_path: false\n"
        )
    return blocks


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _config_fields(src: Path) -> str:
    """A table of every :class:`xlprompt.RunConfig` field from its declaration: type, default (a recipe key: each
    built-in method's reference default and its source), the values it takes, and its help."""
    import dataclasses

    if str(src) not in sys.path:
        sys.path.insert(0, str(src))
    from xlprompt.config import RECIPE_KEYS, RunConfig
    from xlprompt.methods import method_names
    from xlprompt.recipes import recipe_default

    rows = ["| key | type | default | values | meaning |", "|---|---|---|---|---|"]
    for f in dataclasses.fields(RunConfig):
        meta = f.metadata
        if "help" not in meta:
            continue
        if f.name in RECIPE_KEYS:
            parts = []
            for method in method_names():
                value, where = recipe_default(method, "reference", f.name)
                parts.append(f"{method}: `{value!r}` ({where.split(': ', 1)[-1]})")
            default = "<br>".join(_cell(p) for p in parts)
        else:
            value = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            default = f"`{_cell(repr(value))}`"
        values = []
        if meta.get("choices"):
            values.append(" \\| ".join(f"`{c}`" for c in meta["choices"]))
        if "min" in meta or "max" in meta:
            low = "(" if meta.get("min_open") else "["
            high = ")" if meta.get("max_open") else "]"
            values.append(f"{low}{meta.get('min', '-inf')}, {meta.get('max', 'inf')}{high}")
        if meta.get("path"):
            values.append(f"path to a {meta['path']}")
        kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        rows.append(
            f"| `{f.name}` | `{_cell(kind)}` | {default} | {'; '.join(values) or '—'} | {_cell(meta['help'])} |"
        )
    return "\n".join(rows) + "\n"


def on_page_markdown(markdown: str, page, config, files, **kwargs) -> str:
    src = Path(config.config_file_path).resolve().parent / "src"
    if CONFIG_MARKER in markdown:
        markdown = markdown.replace(CONFIG_MARKER, _config_fields(src))
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, "\n".join(_entries(src)))
