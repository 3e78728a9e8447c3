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


def on_page_markdown(markdown: str, page, config, files, **kwargs) -> str:
    if MARKER not in markdown:
        return markdown
    src = Path(config.config_file_path).resolve().parent / "src"
    return markdown.replace(MARKER, "\n".join(_entries(src)))
