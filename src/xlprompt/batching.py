"""Tokenise once, batch by length, pad to the batch's own maximum.

Text is tokenised a single time per run (:class:`TokenCache`), after the text rules (``strip_punctuation``) are
applied to the text; templates are filled from token ids, and a template whose reference tokenises one whole
string (DPA, PCT's reference layout) tokenises that string itself; no template edits ids to imitate a text rule;
batches are padded only to their longest member, and evaluation sorts by length so that batches hold
inputs of similar length (little padding).
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import torch

from xlprompt.data.examples import NLIExample, ParallelPair
from xlprompt.device import pin
from xlprompt.template import EncodedInput


@dataclass(frozen=True)
class TokenizedExample:
    premise: tuple[int, ...]
    hypothesis: tuple[int, ...]
    label: int
    lang: str
    uid: str
    #: the texts the ids came from (after strip_punctuation); PCT's reference layout tokenises its own strings
    premise_text: str = field(default="", compare=False, repr=False)
    hypothesis_text: str = field(default="", compare=False, repr=False)
    #: the texts as read, before strip_punctuation: SoftMV code-switches the raw text (its pattern strips after)
    premise_raw: str = field(default="", compare=False, repr=False)
    hypothesis_raw: str = field(default="", compare=False, repr=False)


def strip_trailing_punctuation(text: str) -> str:
    """``text.rstrip(string.punctuation)`` unless that leaves nothing (then ``text``): xlmrprompt's XNLI
    pattern (mprompting/xlmrprompt@39aed8f ptuning/pet/pvps/xnli_pvp.py:62-69)."""
    stripped = text.rstrip(string.punctuation)
    return stripped if stripped else text


@dataclass(frozen=True)
class TokenizedPair:
    """A parallel pair, tokenised: source side (the task's source language) and target side."""

    source: TokenizedExample
    target: TokenizedExample


class TokenCache:
    """Tokenises each distinct text once (in batches, with the fast tokenizer)."""

    def __init__(self, tokenizer, strip_punctuation: bool | None = False):
        self.tokenizer = tokenizer
        self.strip_punctuation = bool(strip_punctuation)
        self._ids: dict[str, tuple[int, ...]] = {}

    def text(self, text: str) -> str:
        """The text as it is tokenised (trailing ASCII punctuation stripped with ``strip_punctuation``)."""
        return strip_trailing_punctuation(text) if self.strip_punctuation else text

    def warm(self, texts: Iterable[str]) -> None:
        missing = list(dict.fromkeys(t for t in texts if t not in self._ids))
        for start in range(0, len(missing), 2048):
            chunk = missing[start : start + 2048]
            encoded = self.tokenizer([self.text(t) for t in chunk], add_special_tokens=False)["input_ids"]
            for text, ids in zip(chunk, encoded):
                self._ids[text] = tuple(ids)

    def ids(self, text: str) -> tuple[int, ...]:
        if text not in self._ids:
            self.warm([text])
        return self._ids[text]

    def _example(self, premise: str, hypothesis: str, label: int, lang: str, uid: str) -> TokenizedExample:
        """One tokenised example (its texts warmed before)."""
        return TokenizedExample(
            self._ids[premise],
            self._ids[hypothesis],
            label,
            lang,
            uid,
            self.text(premise),
            self.text(hypothesis),
            premise,
            hypothesis,
        )

    def examples(self, examples: Sequence[NLIExample]) -> list[TokenizedExample]:
        self.warm(t for ex in examples for t in (ex.premise, ex.hypothesis))
        return [self._example(ex.premise, ex.hypothesis, ex.label, ex.lang, ex.uid) for ex in examples]

    def pairs(self, pairs: Sequence[ParallelPair]) -> list[TokenizedPair]:
        self.warm(t for p in pairs for t in (p.src_premise, p.src_hypothesis, p.tgt_premise, p.tgt_hypothesis))
        return [
            TokenizedPair(
                self._example(p.src_premise, p.src_hypothesis, -1, p.src_lang, p.uid),
                self._example(p.tgt_premise, p.tgt_hypothesis, -1, p.tgt_lang, p.uid),
            )
            for p in pairs
        ]


@dataclass
class ModelInputs:
    """A padded batch: ids and attention mask [B, L], prompt slots [B, m] (or None), mask positions [B]."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    prompt_positions: torch.Tensor | None
    mask_positions: torch.Tensor

    @property
    def size(self) -> int:
        return self.input_ids.shape[0]


def collate(encoded: Sequence[EncodedInput], pad_id: int, device: torch.device | str = "cpu") -> ModelInputs:
    """Right-pad to the longest input of the batch (never to ``max_length``). Built on the CPU; on CUDA
    copied from pinned memory without blocking the host."""
    device = torch.device(device)
    longest = max(len(e.input_ids) for e in encoded)
    ids = torch.full((len(encoded), longest), pad_id, dtype=torch.long)
    attention = torch.zeros((len(encoded), longest), dtype=torch.long)
    for row, e in enumerate(encoded):
        ids[row, : len(e.input_ids)] = torch.tensor(e.input_ids, dtype=torch.long)
        attention[row, : len(e.input_ids)] = 1
    slots = {len(e.prompt_positions) for e in encoded}
    if len(slots) != 1:
        raise ValueError("all inputs of a batch must have the same number of prompt slots")
    prompt_positions = None
    if slots != {0}:
        prompt_positions = torch.tensor([e.prompt_positions for e in encoded], dtype=torch.long)
    masks = torch.tensor([e.mask_position for e in encoded], dtype=torch.long)
    return ModelInputs(
        pin(ids, device),
        pin(attention, device),
        None if prompt_positions is None else pin(prompt_positions, device),
        pin(masks, device),
    )


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length, longest batch first (fails fast on memory)."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def token_budget_batches(lengths: Sequence[int], max_tokens: int) -> list[list[int]]:
    """Evaluation batches: indices in length-sorted order (longest first), cut greedily so that each batch's
    padded size, rows × its first (longest) row, stays within ``max_tokens``; a row longer than the budget
    gets a batch of its own. Unlike :func:`token_budget_chunks` no optimisation: inference keeps nothing alive
    between batches, so the largest batches that fit are the fastest."""
    if max_tokens < 1:
        raise ValueError("max_tokens must be >= 1")
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    for i in order:
        if batches and (len(batches[-1]) + 1) * lengths[batches[-1][0]] <= max_tokens:
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


def token_budget_chunks(lengths: Sequence[int], max_tokens: int, overhead: int = 64) -> list[list[int]]:
    """Indices grouped into length-sorted chunks (longest first) whose padded size, rows × longest row, stays
    within ``max_tokens`` (a longer single index still gets a chunk of its own).

    Used to split a training step into micro-batches: the budget bounds the activations that one
    forward/backward keeps alive, and among the ways to cut the sorted order the one with the fewest padded
    tokens plus ``overhead`` tokens per chunk (the fixed cost of a forward) is taken (dynamic programming).
    """
    if max_tokens < 1:
        raise ValueError("max_tokens must be >= 1")
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    n = len(order)
    best = [0.0] + [float("inf")] * n  # best[j]: cost of the first j indices of ``order``
    cut = [0] * (n + 1)
    for j in range(1, n + 1):
        for i in range(j - 1, -1, -1):  # chunk order[i:j]; its longest is order[i]
            size = (j - i) * lengths[order[i]]
            if size > max_tokens and j - i > 1:
                break
            cost = best[i] + size + overhead
            if cost < best[j]:
                best[j], cut[j] = cost, i
    chunks: list[list[int]] = []
    j = n
    while j > 0:
        chunks.append(order[cut[j] : j])
        j = cut[j]
    return chunks[::-1]
