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
    """A text pair (premise and hypothesis) in the source language ``src_lang`` and its translation into
    ``tgt_lang``; or, for a one-text task, one text and its translation (``src_premise`` and ``tgt_premise``,
    the hypotheses empty: :meth:`one_text`). ``uid``: the data's id, else one derived from the texts
    (:func:`content_uid`)."""

    src_lang: str
    tgt_lang: str
    src_premise: str
    src_hypothesis: str
    tgt_premise: str
    tgt_hypothesis: str
    uid: str = ""

    @classmethod
    def one_text(cls, src_lang: str, tgt_lang: str, src_text: str, tgt_text: str, uid: str = "") -> "ParallelPair":
        """A pair of one text and its translation (a one-text task's corpus): no hypothesis.

        Args:
            src_lang (str): the source language's code.
            tgt_lang (str): the target language's code.
            src_text (str): the text in the source language.
            tgt_text (str): its translation.
            uid (str): the data's id ("": derived from the two texts, :func:`content_uid`).

        Returns:
            ParallelPair: the pair, with empty hypotheses.
        """
        return cls(
            src_lang, tgt_lang, src_text, "", tgt_text, "", uid or content_uid(src_text, tgt_text, prefix="pair")
        )

    @property
    def single_text(self) -> bool:
        """Whether the pair holds one text per side (no hypothesis)."""
        return not self.src_hypothesis and not self.tgt_hypothesis

    def to_dict(self) -> dict:
        """The pair as a JSONL line writes it: ``src_text``/``tgt_text`` for a one-text pair, else the premise and
        hypothesis fields."""
        if self.single_text:
            return {
                "src_lang": self.src_lang,
                "tgt_lang": self.tgt_lang,
                "src_text": self.src_premise,
                "tgt_text": self.tgt_premise,
                "uid": self.uid,
            }
        return asdict(self)
