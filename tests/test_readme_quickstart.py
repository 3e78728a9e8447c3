"""The README's Python quickstart runs as written (so it cannot go stale)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def quickstart_blocks() -> list[str]:
    text = README.read_text("utf-8")
    start = text.index("## Python quickstart")
    end = text.find("\n## ", start + 1)
    section = text[start : end if end != -1 else len(text)]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_the_readme_has_a_python_quickstart():
    blocks = quickstart_blocks()
    assert len(blocks) >= 2
    assert any("save_pretrained" in b and "from_pretrained" in b for b in blocks)
    assert any("training_loss" in b for b in blocks)


def test_the_python_quickstart_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # its relative paths (runs/...) land in a temporary folder
    for block in quickstart_blocks():
        exec(compile(block, str(README), "exec"), {"__name__": "__readme__"})
    out = capsys.readouterr().out
    assert "avg " in out and "train accuracy 1.0" in out
    assert (tmp_path / "runs" / "mpt-demo" / "results.json").is_file()
    assert (tmp_path / "runs" / "mpt-module" / "xlprompt_model.json").is_file()
