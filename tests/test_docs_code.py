"""Every Python code block of the guides runs as written, so that none can go stale (the README's blocks: see
``test_readme_quickstart.py``).

A guide's blocks run in order, in one namespace (a later block may use what an earlier one made), in a fresh
working folder. A block that cannot run here (it needs a GPU, the Hub, real weights or the full data) is preceded by
``<!-- not-run: REASON -->`` and is compiled, not run; the reason is required.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md"))
BLOCK = re.compile(r"(?:<!--\s*not-run:(?P<reason>[^>]*)-->\s*\n)?```python\n(?P<code>.*?)```", re.S)


def blocks(path: Path) -> list[tuple[str, str | None, int]]:
    """(code, reason it is not run or None, line) of each Python block of ``path``."""
    text = path.read_text("utf-8")
    out = []
    for match in BLOCK.finditer(text):
        reason = match.group("reason")
        out.append(
            (match.group("code"), None if reason is None else reason.strip(), text[: match.start()].count("\n") + 1)
        )
    return out


def test_every_readme_python_block_is_in_the_tested_quickstart():
    text = (ROOT / "README.md").read_text("utf-8")
    start = text.index("## Python quickstart")
    end = text.find("\n## ", start + 1)
    assert text.count("```python") == text[start:end].count("```python")


def test_every_skipped_block_says_why():
    for path in DOCS:
        for _code, reason, line in blocks(path):
            assert reason is None or reason, f"{path.name}:{line}: <!-- not-run: --> needs a reason"


@pytest.fixture
def registries():
    """The methods and tasks a guide registers are removed after it (the registries are global)."""
    from xlprompt.methods import method_names, unregister_method
    from xlprompt.tasks.base import TASKS, unregister_task

    methods, tasks = set(method_names()), set(TASKS)
    yield
    for name in set(method_names()) - methods:
        unregister_method(name)
    for name in set(TASKS) - tasks:
        if not TASKS[name].origin.startswith("built-in"):  # built-in tasks register on first use
            unregister_task(name)


@pytest.mark.parametrize("path", [p for p in DOCS if blocks(p)], ids=lambda p: p.name)
def test_the_guides_python_runs(path, tmp_path, monkeypatch, registries):
    monkeypatch.chdir(tmp_path)  # relative paths of the examples (runs/...) land in a temporary folder
    monkeypatch.setenv("XLPROMPT_DATA", str(tmp_path / "data"))  # never the user's data folder
    namespace: dict = {"__name__": f"__docs_{path.stem}__"}
    for code, reason, line in blocks(path):
        compiled = compile("\n" * (line) + code, str(path), "exec")  # errors name the guide's line
        if reason is None:
            exec(compiled, namespace)
