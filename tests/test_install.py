"""The install never replaces a user's torch: the package declares a torch range, the tested version is a
constraint that only the README's set-up commands and CI pass; the README holds no placeholder."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def _torch_requirement() -> str:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["dependencies"]
    found = [d for d in deps if re.match(r"torch\b", d)]
    assert len(found) == 1, deps
    return found[0].replace(" ", "")


def test_the_package_declares_a_torch_range_not_a_pin():
    requirement = _torch_requirement()
    assert "==" not in requirement and "<" not in requirement, requirement
    assert requirement == "torch>=2.1"


def test_the_pin_is_a_constraint_used_by_the_readme_and_ci():
    lines = [
        line.strip()
        for line in (ROOT / "constraints-cpu.txt").read_text("utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert lines == ["torch==2.13.0"]
    readme = (ROOT / "README.md").read_text("utf-8")
    block = readme.split("## Set-up: two commands", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [line for line in block.splitlines() if line.strip() and not line.startswith("#")]
    assert commands == [
        "python3 -m venv .venv && .venv/bin/pip install -c constraints-cpu.txt -e . && .venv/bin/xlprompt demo",
        "python3 -m venv .venv && .venv/bin/pip install -c constraints-cpu.txt -e '.[test]' && "
        ".venv/bin/python -m pytest -q",
    ]
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    assert re.search(r"pip\" install -q -c constraints-cpu.txt -e '\.\[test[,\]]", ci), ci


def test_the_readme_has_no_placeholder():
    assert "PLACEHOLDER" not in (ROOT / "README.md").read_text("utf-8")
