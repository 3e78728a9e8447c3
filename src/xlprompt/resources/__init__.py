"""Files shipped with the package: the demo sample (see README.md in this folder)."""

from __future__ import annotations

import json
from importlib import resources


def read_jsonl(name: str) -> list[dict]:
    """The rows of a shipped JSONL file (``demo_nli.jsonl``, ``demo_parallel.jsonl``)."""
    text = resources.files(__name__).joinpath(name).read_text("utf-8")
    return [json.loads(line) for line in text.split("\n") if line.strip()]
