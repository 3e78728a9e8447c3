"""Templates: how a premise/hypothesis pair becomes a sequence of token ids (paper Eq. 1 and Eq. 9).

A :class:`Template` is a list of pieces assembled from token ids, never from a re-tokenised string:

* ``premise`` / ``hypothesis`` — the (already tokenised) sentence pieces; the only truncatable parts;
* ``literal`` — fixed token ids (punctuation ``.`` ``?``, PCT's "Question:" / "Answer:");
* ``prompt`` — ``m`` slots whose input embeddings are replaced by the soft prompt (``p_S`` or ``p_T``);
* ``mask`` — the ``<mask>`` token whose MLM prediction is read out.

The soft-prompt template of the paper (Eq. 1) with its four prompt positions (Eq. 9)::

    prefix : <s> [p] X_P . X_H ? <mask> . </s>
    midfix : <s> X_P . [p] X_H ? <mask> . </s>
    suffix : <s> X_P . X_H ? [p] <mask> . </s>      (the paper's best; default)
    endfix : <s> X_P . X_H ? <mask> [p] . </s>

Truncation to ``max_length`` shortens only premise and hypothesis, longest first (the rule of
Hugging Face's ``longest_first``: cut one token from the end of the longer one, the hypothesis on a tie),
so the prompt slots, the mask and the punctuation always survive.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Mapping, Sequence

from xlprompt.errors import ConfigError, ModelError

PROMPT_POSITIONS: tuple[str, ...] = ("prefix", "midfix", "suffix", "endfix")

PREMISE = "premise"
HYPOTHESIS = "hypothesis"
LITERAL = "literal"
PROMPT = "prompt"
MASK = "mask"


@dataclass(frozen=True)
class Piece:
    """One piece of a template: ``kind`` is premise, hypothesis, literal, prompt or mask."""

    kind: str
    ids: tuple[int, ...] = ()
    length: int = 0  # number of slots, for ``prompt``


@dataclass(frozen=True)
class EncodedInput:
    """A template filled in: token ids, where the prompt slots are, and where the mask is (-1: none)."""

    input_ids: tuple[int, ...]
    prompt_positions: tuple[int, ...]
    mask_position: int


def truncate_longest_first(len_a: int, len_b: int, budget: int) -> tuple[int, int]:
    """Lengths of two token sequences after longest-first truncation to ``budget`` tokens in total."""
    if budget < 0:
        raise ValueError("budget must be >= 0")
    excess = len_a + len_b - budget
    if excess <= 0:
        return len_a, len_b
    # Cut the longer one down to the shorter one's length first, then alternate (hypothesis first on a tie).
    cut = min(excess, abs(len_a - len_b))
    if len_a > len_b:
        len_a -= cut
    else:
        len_b -= cut
    rest = excess - cut
    len_b -= (rest + 1) // 2
    len_a -= rest // 2
    return len_a, len_b


@dataclass(frozen=True)
class SpecialTokens:
    """The special tokens a tokenizer puts around a single sequence and between a pair."""

    prefix: tuple[int, ...]
    suffix: tuple[int, ...]
    pair_middle: tuple[int, ...]
    mask_id: int | None
    pad_id: int
    placeholder_id: int  # put at prompt slots; its embedding is replaced, so any valid id works

    @classmethod
    def from_tokenizer(cls, tokenizer) -> "SpecialTokens":
        """Infer the layout by encoding a probe with and without special tokens."""
        a = tokenizer("a", add_special_tokens=False)["input_ids"]
        b = tokenizer("b", add_special_tokens=False)["input_ids"]
        single = tokenizer("a")["input_ids"]
        pair = tokenizer("a", "b")["input_ids"]
        start = _find(single, a)
        prefix, suffix = tuple(single[:start]), tuple(single[start + len(a) :])
        a_at = _find(pair, a)
        b_at = _find(pair, b, a_at + len(a))
        middle = tuple(pair[a_at + len(a) : b_at])
        if tokenizer.pad_token_id is None:
            raise ModelError("the tokenizer has no padding token; set tokenizer.pad_token before use")
        placeholder = tokenizer.unk_token_id if tokenizer.unk_token_id is not None else tokenizer.pad_token_id
        return cls(prefix, suffix, middle, tokenizer.mask_token_id, tokenizer.pad_token_id, placeholder)


def _find(seq: Sequence[int], sub: Sequence[int], start: int = 0) -> int:
    for i in range(start, len(seq) - len(sub) + 1):
        if list(seq[i : i + len(sub)]) == list(sub):
            return i
    raise ModelError("could not infer the tokenizer's special-token layout")


def tail_ids(tokenizer, text: str) -> tuple[int, ...]:
    """Token ids of ``text`` as it appears glued to a preceding word (``"."`` in ``"word."``).

    SentencePiece tokenizers mark word starts (``▁``); punctuation after a sentence is not a word start,
    so the template uses the in-word form, as in naturally tokenised text.
    """
    base = tokenizer("a", add_special_tokens=False)["input_ids"]
    glued = tokenizer("a" + text, add_special_tokens=False)["input_ids"]
    if glued[: len(base)] != base or len(glued) == len(base):
        return tuple(tokenizer(text, add_special_tokens=False)["input_ids"])
    return tuple(glued[len(base) :])


def word_ids(tokenizer, text: str) -> tuple[int, ...]:
    """Token ids of ``text`` as (a) separate word(s)."""
    return tuple(tokenizer(text, add_special_tokens=False)["input_ids"])


class Template:
    """A sequence of pieces between the tokenizer's prefix and suffix special tokens."""

    def __init__(self, pieces: Sequence[Piece], special: SpecialTokens, max_length: int, name: str = ""):
        self.pieces = tuple(pieces)
        self.special = special
        self.max_length = int(max_length)
        self.name = name
        kinds = [p.kind for p in self.pieces]
        if kinds.count(MASK) > 1 or kinds.count(PROMPT) > 1:
            raise ConfigError("a template holds at most one mask and one prompt piece")
        if MASK in kinds and special.mask_id is None:
            raise ModelError(
                "the tokenizer has no mask token, so it cannot fill a cloze template; "
                "use a masked-LM tokenizer (e.g. xlm-roberta-base)"
            )
        self.fixed_length = (
            len(special.prefix)
            + len(special.suffix)
            + sum(
                len(p.ids) if p.kind == LITERAL else p.length if p.kind == PROMPT else 1 if p.kind == MASK else 0
                for p in self.pieces
            )
        )
        self.text_budget = self.max_length - self.fixed_length
        if self.text_budget < 2:
            raise ConfigError(
                f"max_length={self.max_length} leaves {self.text_budget} tokens for premise and hypothesis "
                f"after the template's {self.fixed_length} fixed tokens (prompt slots, mask, punctuation); "
                "raise max_length or shorten the prompt (prompt_length)"
            )

    @property
    def prompt_length(self) -> int:
        return sum(p.length for p in self.pieces if p.kind == PROMPT)

    def encode(self, premise_ids: Sequence[int], hypothesis_ids: Sequence[int]) -> EncodedInput:
        """Fill in the template, truncating premise and hypothesis (longest first) to fit ``max_length``."""
        n_p, n_h = truncate_longest_first(len(premise_ids), len(hypothesis_ids), self.text_budget)
        ids: list[int] = list(self.special.prefix)
        prompt_positions: list[int] = []
        mask_position = -1
        for piece in self.pieces:
            if piece.kind == PREMISE:
                ids.extend(premise_ids[:n_p])
            elif piece.kind == HYPOTHESIS:
                ids.extend(hypothesis_ids[:n_h])
            elif piece.kind == LITERAL:
                ids.extend(piece.ids)
            elif piece.kind == PROMPT:
                prompt_positions.extend(range(len(ids), len(ids) + piece.length))
                ids.extend([self.special.placeholder_id] * piece.length)
            elif piece.kind == MASK:
                mask_position = len(ids)
                ids.append(self.special.mask_id)
        ids.extend(self.special.suffix)
        return EncodedInput(tuple(ids), tuple(prompt_positions), mask_position)


TEMPLATE_PUNCTUATION: tuple[str, ...] = ("separate", "glued")


def soft_prompt_template(
    tokenizer,
    position: str = "suffix",
    prompt_length: int = 4,
    max_length: int = 256,
    special: SpecialTokens | None = None,
    punctuation: str = "glued",
    single_text: bool = False,
) -> Template:
    """The paper's cloze template with a soft prompt (Eq. 1) at one of four positions (Eq. 9).

    ``punctuation="separate"`` builds the parts as the SP reference does: each of ``.``, ``?`` is tokenised
    on its own (``▁`` ``.`` and ``▁?`` for XLM-R; mprompting/xlmrprompt@39aed8f ptuning/pet/pvps/pvp.py:84-89)
    and the prompt slots hold the ids of ``the`` (xnli_pvp.py:75-78; their embeddings are replaced, so only
    the ids differ). ``"glued"``: the in-word pieces (as in ``word.``) and the unknown-token placeholder.
    Trailing punctuation of premise and hypothesis is stripped (or not) before tokenising
    (``strip_punctuation``, :class:`xlprompt.batching.TokenCache`).

    ``single_text`` (a task with one text field): the hypothesis slot is empty and its pieces go:
    ``<s> [p] X . <mask> .</s>`` (prefix), ``<s> X . [p] <mask> . </s>`` (midfix and suffix), ``<s> X . <mask>
    [p] . </s>`` (endfix).
    """
    if position not in PROMPT_POSITIONS:
        raise ConfigError(f"prompt_position must be one of {', '.join(PROMPT_POSITIONS)}, not '{position}'")
    if prompt_length < 1:
        raise ConfigError(f"prompt_length must be >= 1, not {prompt_length}")
    if punctuation not in TEMPLATE_PUNCTUATION:
        raise ConfigError(f"template_punctuation must be one of {', '.join(TEMPLATE_PUNCTUATION)}, not '{punctuation}'")
    special = special or SpecialTokens.from_tokenizer(tokenizer)
    if punctuation == "separate":
        dot, question = word_ids(tokenizer, "."), word_ids(tokenizer, "?")
        the = word_ids(tokenizer, "the")
        if len(the) == 1:
            special = dataclasses.replace(special, placeholder_id=the[0])
    else:
        dot, question = tail_ids(tokenizer, "."), tail_ids(tokenizer, "?")
    prompt = Piece(PROMPT, length=prompt_length)
    slots = {pos: [prompt] if pos == position else [] for pos in PROMPT_POSITIONS}
    if single_text:
        pieces = [
            *slots["prefix"],
            Piece(PREMISE),
            Piece(LITERAL, dot),
            *slots["midfix"],
            *slots["suffix"],
            Piece(MASK),
            *slots["endfix"],
            Piece(LITERAL, dot),
        ]
        return Template(pieces, special, max_length, name=f"soft-single-{position}-{prompt_length}")
    pieces = [
        *slots["prefix"],
        Piece(PREMISE),
        Piece(LITERAL, dot),
        *slots["midfix"],
        Piece(HYPOTHESIS),
        Piece(LITERAL, question),
        *slots["suffix"],
        Piece(MASK),
        *slots["endfix"],
        Piece(LITERAL, dot),
    ]
    return Template(pieces, special, max_length, name=f"soft-{position}-{prompt_length}")


def pair_template(
    tokenizer, max_length: int = 256, special: SpecialTokens | None = None, single_text: bool = False
) -> Template:
    """The plain sentence-pair input of fine-tuning: ``<s> X_P </s></s> X_H </s>`` (tokenizer's own layout);
    ``single_text``: ``<s> X </s>``."""
    special = special or SpecialTokens.from_tokenizer(tokenizer)
    if single_text:
        return Template([Piece(PREMISE)], special, max_length, name="single")
    pieces = [Piece(PREMISE), Piece(LITERAL, special.pair_middle), Piece(HYPOTHESIS)]
    return Template(pieces, special, max_length, name="pair")


def cross_lingual_template(
    tokenizer, words: Sequence[str], max_length: int = 256, special: SpecialTokens | None = None, name: str = "pct"
) -> Template:
    """PCT's hard (cloze) template in one language: ``<s> X_P . Question: X_H ? Answer: <mask> . </s>``.

    Args:
        tokenizer: the run's tokenizer.
        words (Sequence[str]): the language's words for ``Question`` and ``Answer`` (a task resource:
            :data:`xlprompt.tasks.xnli.PCT_TEMPLATE_WORDS` for XNLI).
        max_length (int): the longest input, in tokens.
        special (SpecialTokens | None): the tokenizer's special tokens (None: read from ``tokenizer``).
        name (str): the template's name (logs).

    Returns:
        Template: the template.
    """
    if len(words) != 2 or not all(isinstance(w, str) and w.strip() for w in words):
        raise ConfigError(f"PCT's cloze template needs two words (question, answer), not {list(words)}")
    special = special or SpecialTokens.from_tokenizer(tokenizer)
    question, answer = words
    dot, qmark = tail_ids(tokenizer, "."), tail_ids(tokenizer, "?")
    pieces = [
        Piece(PREMISE),
        Piece(LITERAL, dot),
        Piece(LITERAL, word_ids(tokenizer, question + ":")),
        Piece(HYPOTHESIS),
        Piece(LITERAL, qmark),
        Piece(LITERAL, word_ids(tokenizer, answer + ":")),
        Piece(MASK),
        Piece(LITERAL, dot),
    ]
    return Template(pieces, special, max_length, name=name)


class PCTReferenceTemplate:
    """PCT's input as the authors build it: ``tokenizer.encode(premise, templates[lang].format(hypothesis))``
    — ``<s> P </s></s> question:H? Answer:<mask></s>`` for XLM-R — truncated longest-first to ``max_length``
    (qikunxun/PCT@4b3d675 train_xnli.py:72-76). When truncation cut the ``<mask>`` off, the authors' repair
    follows (train_xnli.py:78-84, :99-115): drop as many trailing tokens as ``tokenizer.encode(tail)`` has
    (``tail`` = the template after its ``?``; ``؟`` in a template that asks with it, as the authors' Arabic and
    Urdu ones), then append ``?`` as a word (705 for XLM-R; ``؟``: 9446) and ``tail``'s ids without ``<s>``. The texts are tokenised here (with a cache), not taken from
    pre-tokenised ids: the template's words touch the hypothesis (``question:The``).
    """

    def __init__(
        self,
        tokenizer,
        lang: str,
        max_length: int,
        special: SpecialTokens,
        templates: Mapping[str, str],
        repair: str = "question",
        single: bool = False,
    ):
        """``templates``: the task's strings by language (a task resource: PCT's recipe keeps XNLI's and PAWS-X's,
        a task file gives its own); ``repair``: how a cut-off ``<mask>`` is repaired: ``question`` as
        train_xnli.py, ``brace`` as train_pawsx.py (``tail`` = the template after ``{}``; drop
        ``len(encode(tail)) - 1`` trailing tokens and append ``tail``'s ids without ``<s>``).
        ``single`` (a user task with one text field): the text fills ``{}`` and the input is
        ``tokenizer.encode(template.format(text))`` — one sequence, no pair."""
        table = templates
        if lang not in table:
            raise ConfigError(f"no PCT template for language '{lang}'; known: {', '.join(table)}")
        if special.mask_id is None:
            raise ModelError("the tokenizer has no mask token, so it cannot fill PCT's cloze template")
        self.tokenizer, self.lang, self.special = tokenizer, lang, special
        self.max_length = int(max_length)
        self.name = f"pct-reference-{lang}"
        self.pattern = table[lang].replace("<mask>", tokenizer.mask_token)
        self.repair = repair
        self.single = bool(single)
        middle = 0 if self.single else len(special.pair_middle)
        self.budget = self.max_length - len(special.prefix) - middle - len(special.suffix)
        if self.budget < 2:
            raise ConfigError(f"max_length={self.max_length} leaves no room for PCT's premise and hypothesis")
        mark = "؟" if "؟" in self.pattern else "?"  # the authors' Arabic and Urdu templates ask with "؟"
        tail = self.pattern.split("{}")[1] if repair == "brace" else self.pattern.split(mark)[1]
        self.tail_ids = tuple(tokenizer(tail)["input_ids"])  # with special tokens
        self.mark_ids = word_ids(tokenizer, mark)
        self._cache: dict[tuple[str, str], EncodedInput] = {}

    def encode_text(self, premise: str, hypothesis: str) -> EncodedInput:
        key = (premise, hypothesis)
        if key not in self._cache:
            self._cache[key] = self._encode(premise, hypothesis)
        return self._cache[key]

    def _encode(self, premise: str, hypothesis: str) -> EncodedInput:
        if self.single:  # one text: <s> template.format(text) </s>, cut from the end, <mask> repaired as below
            h_ids = self.tokenizer(self.pattern.format(premise), add_special_tokens=False)["input_ids"]
            s = self.special
            ids = [*s.prefix, *h_ids[: self.budget], *s.suffix]
            if s.mask_id not in ids:
                ids = ids[: -(len(self.tail_ids) - 1)] + list(self.tail_ids[len(s.prefix) :])
            return EncodedInput(tuple(ids), (), ids.index(s.mask_id))
        p_ids = self.tokenizer(premise, add_special_tokens=False)["input_ids"]
        h_ids = self.tokenizer(self.pattern.format(hypothesis), add_special_tokens=False)["input_ids"]
        n_p, n_h = truncate_longest_first(len(p_ids), len(h_ids), self.budget)
        s = self.special
        ids = [*s.prefix, *p_ids[:n_p], *s.pair_middle, *h_ids[:n_h], *s.suffix]
        if s.mask_id not in ids and self.repair == "brace":  # train_pawsx.py's repair
            ids = ids[: -(len(self.tail_ids) - 1)] + list(self.tail_ids[len(s.prefix) :])
        elif s.mask_id not in ids:  # the authors' repair of a cut-off <mask>
            ids = ids[: -len(self.tail_ids)] + list(self.mark_ids) + list(self.tail_ids[len(s.prefix) :])
        return EncodedInput(tuple(ids), (), ids.index(s.mask_id))
