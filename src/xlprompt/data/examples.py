"""The two record types that the data layer produces."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

#: ``label`` of an example without a gold label (e.g. an unlabelled alignment pair).
NO_LABEL = -1


def content_uid(*texts: str, prefix: str = "c") -> str:
    """A stable id derived from an example's content alone: ``{prefix}-`` and 16 hex digits of the SHA-256 of the
    texts (in order). The same texts give the same id in every process, batch and position; use it wherever the
    data gives no id of its own. The language is deliberately not part of it: a parallel item keeps one id
    across languages only when the data gives one, and renaming a language code changes no id."""
    digest = hashlib.sha256(json.dumps(list(texts), ensure_ascii=False).encode("utf-8")).hexdigest()
    return f"{prefix}-{digest[:16]}"


@dataclass(frozen=True)
class NLIExample:
    """One labelled example of a task (``xlprompt.Example``): a premise/hypothesis pair, or one text in
    ``premise`` (``hypothesis`` empty) for a one-text task.

    :param premise: the first text.
    :param hypothesis: the second text ("" for a one-text task).
    :param label: the index of its label in the task's labels (:data:`NO_LABEL`: none).
    :param lang: its language code, one of the task's.
    :param uid: a stable id: the data's own, or one derived from the texts
        (:func:`~xlprompt.data.examples.content_uid`); "" where none was given yet.
    """

    premise: str
    hypothesis: str
    label: int
    lang: str
    uid: str = ""

    def to_dict(self) -> dict:
        """The example as plain values.

        :returns: field name → value.
        """
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
