"""The two record types that the data layer produces."""

from __future__ import annotations

from dataclasses import asdict, dataclass

#: ``label`` of an example without a gold label (e.g. an unlabelled alignment pair).
NO_LABEL = -1


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
