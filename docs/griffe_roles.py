"""Griffe extension for the API reference: the Sphinx roles of xlprompt's docstrings (``:class:`~xlprompt.Task```,
``:meth:`collate```, ``:data:`MODEL_CONFIG```) become cross-references that render.

A role whose target is documented on the site (a name of ``xlprompt.__all__`` or a public member of one) becomes an
autorefs link, ``[`Task`][xlprompt.tasks.base.Task]``; any other target (an internal name, another package's) is
shown as code, never as the literal role. A relative target (``:meth:`collate```) is looked up from the docstring's
own class and module first, as Sphinx does. ``.ci/docs.sh`` checks that no role is left in the built pages.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|meth|func|attr|data|mod|exc|obj|const):`(~?)([^`]+?)`")
SRC = Path(__file__).resolve().parents[1] / "src"


def _rendered(pkg: griffe.Module) -> dict[str, str]:
    """Every path the site documents (and the public aliases of ``xlprompt.X``) → its anchor."""
    if str(SRC) not in sys.path:
        sys.path.insert(0, str(SRC))
    package = importlib.import_module("xlprompt")
    anchors: dict[str, str] = {}
    for name in getattr(package, "__all__", ()):
        try:
            obj = getattr(package, name)
        except Exception:  # noqa: BLE001 - a name the package cannot give is left out of the page too
            continue
        if isinstance(obj, type(sys)):
            path = obj.__name__
        elif str(getattr(obj, "__module__", "")).startswith("xlprompt") and hasattr(obj, "__qualname__"):
            path = f"{obj.__module__}.{obj.__qualname__}"
        else:
            continue  # constants and other packages' objects have no page here
        anchors[path] = path
        anchors[f"xlprompt.{name}"] = path
        try:
            documented = pkg.modules_collection.get_member(path)
        except (KeyError, ValueError, AttributeError):
            continue
        for member in getattr(documented, "members", {}).values():
            if not member.name.startswith("_"):
                anchors[f"{path}.{member.name}"] = f"{path}.{member.name}"
                anchors[f"xlprompt.{name}.{member.name}"] = f"{path}.{member.name}"
    return anchors


class SphinxRoles(griffe.Extension):
    """Rewrite every docstring's Sphinx roles once the package is loaded."""

    def on_package(self, *, pkg: griffe.Module, **kwargs) -> None:
        anchors = _rendered(pkg)

        def rewrite(obj) -> None:
            if obj.is_alias:
                return
            if obj.docstring is not None:
                obj.docstring.value = ROLE.sub(lambda m: self._link(m, obj, anchors), obj.docstring.value)
            for member in obj.members.values():
                rewrite(member)

        rewrite(pkg)

    @staticmethod
    def _link(match: re.Match, obj, anchors: dict[str, str]) -> str:
        short, target = match.group(1) == "~", match.group(2).strip()
        if "<" in target and target.endswith(">"):  # :class:`title <target>`
            title, target = target[:-1].split("<", 1)
            title, short = title.strip(), False
        else:
            title = None
        target = target.rstrip("()").lstrip(".")
        display = title or (target.rsplit(".", 1)[-1] if short else target)
        scopes = []
        node = obj
        while node is not None:
            scopes.append(node.path)
            node = node.parent
        candidates = [target, *(f"{scope}.{target}" for scope in scopes), f"xlprompt.{target}"]
        for candidate in candidates:
            if candidate in anchors:
                return f"[`{display}`][{anchors[candidate]}]"
        return f"`{display}`"
