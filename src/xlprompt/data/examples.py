"""The two record types that the data layer produces."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

#: ``label`` of an example without a gold label (e.g. an unlabelled alignment pair).
NO_LABEL = -1


def text_problem(text: str) -> str | None:
    """What makes ``text`` unusable as an input text (None when it is usable): characters that are not valid
    Unicode (a lone surrogate: what Python makes of bytes that are not UTF-8 on a command line, or a JSON
    ``\\udXXX`` escape), which no tokenizer can encode. The one check of input texts (predict's command line,
    its ``--input`` rows and the Python API)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        return (
            f"holds U+{ord(text[err.start]):04X} at character {err.start + 1}, which is not valid Unicode text "
            "(bytes that are not UTF-8?); pass UTF-8 text"
        )
    return None


def content_uid(*texts: str, prefix: str = "c") -> str:
    """A stable id derived from an example's content alone: ``{prefix}-`` and 16 hex digits of the SHA-256 of the
    texts (in order). The same texts give the same id in every process, batch and position; use it wherever the
    data gives no id of its own. The language is deliberately not part of it: a parallel item keeps one id
    across languages only when the data gives one, and renaming a language code changes no id."""
    digest = hashlib.sha256(json.dumps(list(texts), ensure_ascii=False).encode("utf-8")).hexdigest()
    return f"{prefix}-{digest[:16]}"


@dataclass(frozen=True)
class NLIExample:
    """One premise/hypothesis pair. ``label`` indexes :data:`xlprompt.languages.LABELS` (or is ``NO_LABEL``)."""

    premise: str
    hypothesis: str
    label: int
    lang: str
    uid: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ParallelPair:
    """A premise/hypothesis pair in the source language and its translation into ``tgt_lang``."""

    src_lang: str
    tgt_lang: str
    src_premise: str
    src_hypothesis: str
    tgt_premise: str
    tgt_hypothesis: str
    uid: str = ""

    def to_dict(self) -> dict:
        return asdict(self)
