"""Plugins: Python modules that register methods and tasks (:func:`xlprompt.register_method`,
:func:`xlprompt.register_task`) when they are imported, so that the command line, sweeps and every process that
reads a run back can use them.

A plugin reaches a process in one of three ways:

* ``--plugin MODULE`` on a command (repeatable);
* the config key ``plugins`` (module names): a run records it in its ``config.json``, so that ``predict``,
  ``export``, :func:`xlprompt.load_run`, a sweep's workers and Ray tasks import the same modules again whenever
  they build the run's config (:class:`xlprompt.RunConfig` imports its ``plugins`` before it looks its method
  and task up);
* an installed package's entry point in the group ``xlprompt.plugins`` (``[project.entry-points."xlprompt.plugins"]
  name = "package.module"``, or ``"package.module:function"`` for a function called without arguments): loaded
  once per process, the first time a method or task name is not found or the registered methods are listed.

A module is imported once per process (Python's own module cache), so naming it again costs nothing.
"""

from __future__ import annotations

import importlib
import re
from typing import Iterable

from xlprompt.errors import ConfigError, XlpromptError

__all__ = ["ENTRY_POINT_GROUP", "plugin_names", "import_plugins", "plugin_paths", "load_entry_points", "code_identity"]

#: the entry-point group of installed plugins
ENTRY_POINT_GROUP = "xlprompt.plugins"
_MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
#: :func:`load_entry_points`' state: the entry points (``name=value``) loaded, whether a load is under way, and
#: whether every installed one is loaded (then later calls cost nothing)
_STATE: dict = {"loaded": set(), "loading": False, "done": False}


def plugin_names(value, where: str = "plugins") -> tuple[str, ...]:
    """The module names of ``value``: a comma-separated text (``"a,b.c"``) or a sequence of names, each checked to
    be a dotted Python module name, repeats dropped (the first kept).

    Args:
        value (str | list[str] | tuple[str, ...] | None): the names; None or ``""``: none.
        where (str): what to name in an error (the config key or option).

    Returns:
        tuple[str, ...]: the names in their order.

    Raises:
        ConfigError: a name that is no module name (a path, an empty entry), in one line.
    """
    if value is None:
        return ()
    if not isinstance(value, (str, list, tuple)):
        raise ConfigError(
            f"{where}: needs module names (a list, or one comma-separated text), not the {type(value).__name__} "
            f"{value!r}"
        )
    items = value.split(",") if isinstance(value, str) else list(value)
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ConfigError(f"{where}: a plugin is a module name like 'my_package.methods', not {item!r}")
        name = item.strip()
        if not name and isinstance(value, str):
            continue  # "a," or "": commas around nothing
        if not _MODULE_NAME.fullmatch(name):
            hint = (
                "; give the module's name (the file my_plugin.py is the module my_plugin, on the Python path)"
                if "/" in name or "\\" in name or name.endswith(".py")
                else ""
            )
            raise ConfigError(f"{where}: '{name}' is not a Python module name like 'my_package.methods'{hint}")
        if name not in out:
            out.append(name)
    return tuple(out)


def import_plugins(names: Iterable[str] | str | None, where: str = "plugins") -> tuple[str, ...]:
    """Import each plugin module of ``names`` (each registers its methods and tasks as it is imported).

    Args:
        names (Iterable[str] | str | None): module names, or one comma-separated text (:func:`plugin_names`).
        where (str): what to name in an error (``plugins``, ``--plugin``).

    Returns:
        tuple[str, ...]: the module names imported (or found imported already).

    Raises:
        ConfigError: one line naming the module and the fix: a module that is not found, or one that fails as
            it is imported (its own exception's type and first line).
    """
    names = plugin_names(names, where)
    for name in names:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as err:
            missing = err.name or ""
            if missing and (name == missing or name.startswith(missing + ".")):
                raise ConfigError(
                    f"{where}: plugin module '{name}' not found; install the package that provides it, or add the "
                    "folder that holds it to PYTHONPATH"
                ) from None
            raise ConfigError(_failed(where, name, err)) from None
        except XlpromptError as err:
            raise ConfigError(f"{where}: plugin module '{name}' failed as it was imported: {err}") from None
        except Exception as err:  # noqa: BLE001 - any failure of the user's module: one line naming it
            raise ConfigError(_failed(where, name, err)) from None
    return names


def plugin_paths(names: Iterable[str]) -> list[str]:
    """The folders on this process's Python path from which the plugin modules ``names`` were imported, so that a
    child process (a sweep's worker) given them on its ``PYTHONPATH`` imports the same modules.

    Args:
        names (Iterable[str]): module names, imported already.

    Returns:
        list[str]: the folders, each once, in the order of ``names`` (none for a module that is not imported, has
        no file, or is installed: every process finds those).
    """
    import site
    import sys
    import sysconfig
    from pathlib import Path

    standard = {str(Path(p).resolve()) for k, p in sysconfig.get_paths().items() if k.endswith(("lib", "stdlib"))}
    standard |= {str(Path(p).resolve()) for p in getattr(site, "getsitepackages", list)()}
    out: list[str] = []
    for name in names:
        top = sys.modules.get(name.split(".")[0])
        file = getattr(top, "__file__", None)
        if not file:
            continue
        path = Path(file).resolve()
        root = path.parent.parent if path.name == "__init__.py" else path.parent
        if str(root) not in out and str(root) not in standard:  # an installed module: every process finds it
            out.append(str(root))
    return out


def _failed(where: str, name: str, err: BaseException) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return (
        f"{where}: plugin module '{name}' failed to import ({type(err).__name__}: {lines[0] if lines else ''}); "
        "fix the module, or leave it out"
    )


def load_entry_points() -> tuple[str, ...]:
    """Load the installed plugins: every entry point of the group :data:`ENTRY_POINT_GROUP`, once per process (a
    module is imported; a ``module:function`` entry point's function is called without arguments). Once all have
    loaded, a call costs nothing; a package installed after that is found by the next process.

    Returns:
        tuple[str, ...]: the names of the entry points loaded by this call (empty once all are loaded).

    Raises:
        ConfigError: an entry point that fails to load, in one line naming it, its package and the fix.
    """
    if _STATE["done"] or _STATE["loading"]:  # all loaded, or a plugin that lists the methods as it is imported
        return ()
    from importlib.metadata import entry_points

    loaded = []
    _STATE["loading"] = True
    try:
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: (e.name, e.value)):
            key = f"{ep.name}={ep.value}"
            if key in _STATE["loaded"]:
                continue
            dist = getattr(getattr(ep, "dist", None), "name", None)
            try:
                obj = ep.load()
                if ep.attr and callable(obj):
                    obj()
            except Exception as err:  # noqa: BLE001 - any failure of an installed plugin: one line naming it
                lines = [line.strip() for line in str(err).splitlines() if line.strip()]
                package = f" of the package {dist}" if dist else ""
                raise ConfigError(
                    f"plugin '{ep.name}' ({ep.value}, entry point{package} in group {ENTRY_POINT_GROUP}) failed to "
                    f"load ({type(err).__name__}: {lines[0] if lines else ''}); fix it, or uninstall "
                    f"{dist or 'its package'}"
                ) from None
            _STATE["loaded"].add(key)
            loaded.append(ep.name)
        _STATE["done"] = True  # every installed plugin is loaded (a failed one is tried again, and fails again)
    finally:
        _STATE["loading"] = False
    return tuple(loaded)


def code_identity(obj) -> str:
    """What a run hash records of user code registered under a name (a method's class, a task's data loader):
    ``"module:QualName sha256:<digest>"``, so that other code under the same name, or the same code edited, is
    another run.

    Args:
        obj (type | Callable): the class or function.

    Returns:
        str: its module and qualified name, and the SHA-256 (16 hex digits) of its module's source file
        (``no-source`` for one without a file, defined in an interactive session).
    """
    import hashlib
    import inspect

    try:
        path = inspect.getsourcefile(obj)
        with open(path, "rb") as fh:
            digest = hashlib.sha256(fh.read()).hexdigest()[:16]
    except (OSError, TypeError):
        digest = None
    name = getattr(obj, "__qualname__", type(obj).__qualname__)
    return f"{getattr(obj, '__module__', None)}:{name} " + (f"sha256:{digest}" if digest else "no-source")
