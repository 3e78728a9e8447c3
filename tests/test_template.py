"""Templates (paper Eq. 1 and Eq. 9): exact token ids, truncation, and errors."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xlprompt.errors import ConfigError, ModelError
from xlprompt.tasks.xnli import PCT_TEMPLATE_WORDS
from xlprompt.template import (
    PROMPT_POSITIONS,
    SpecialTokens,
    cross_lingual_template,
    pair_template,
    soft_prompt_template,
    tail_ids,
    truncate_longest_first,
)

# The hand-made tokenizer's vocabulary: every id below is written out by hand in the expectations.
BOS, PAD, EOS, UNK, MASK, DOT, QMARK, COLON = 0, 1, 2, 3, 4, 5, 6, 7
HAND_VOCAB = {
    "<s>": BOS,
    "<pad>": PAD,
    "</s>": EOS,
    "<unk>": UNK,
    "<mask>": MASK,
    ".": DOT,
    "?": QMARK,
    ":": COLON,
    "a": 8,
    "b": 9,
    "Question": 10,
    "Answer": 11,
    "Frage": 12,
    "Antwort": 13,
    "yes": 14,
    "maybe": 15,
    "no": 16,
}
PREMISE = [20, 21, 22]
HYPOTHESIS = [30, 31]


def hand_tokenizer(with_mask: bool = True):
    """A word-level tokenizer with a fixed vocabulary and the XLM-R special-token layout."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(HAND_VOCAB, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", BOS), ("</s>", EOS)]
    )
    extra = {"mask_token": "<mask>"} if with_mask else {}
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        **extra,
    )


@pytest.fixture(scope="module")
def hand():
    return hand_tokenizer()


def test_hand_tokenizer_layout(hand):
    special = SpecialTokens.from_tokenizer(hand)
    assert special.prefix == (BOS,)
    assert special.suffix == (EOS,)
    assert special.pair_middle == (EOS, EOS)
    assert special.mask_id == MASK
    assert special.pad_id == PAD
    assert special.placeholder_id == UNK
    assert tail_ids(hand, ".") == (DOT,)
    assert tail_ids(hand, "?") == (QMARK,)


# ---------------------------------------------------------------------------- exact ids, four positions
P = UNK  # the placeholder id at each prompt slot (its embedding is replaced by the soft prompt)

EXPECTED = {
    #            <s>  X_P           .    [p]x2   X_H       ?      <mask> .   </s>
    "prefix": ([BOS, P, P, 20, 21, 22, DOT, 30, 31, QMARK, MASK, DOT, EOS], (1, 2), 10),
    "midfix": ([BOS, 20, 21, 22, DOT, P, P, 30, 31, QMARK, MASK, DOT, EOS], (5, 6), 10),
    "suffix": ([BOS, 20, 21, 22, DOT, 30, 31, QMARK, P, P, MASK, DOT, EOS], (8, 9), 10),
    "endfix": ([BOS, 20, 21, 22, DOT, 30, 31, QMARK, MASK, P, P, DOT, EOS], (9, 10), 8),
}


@pytest.mark.parametrize("position", PROMPT_POSITIONS)
def test_soft_prompt_template_ids(hand, position):
    ids, prompt_positions, mask_position = EXPECTED[position]
    encoded = soft_prompt_template(hand, position, prompt_length=2, max_length=64).encode(PREMISE, HYPOTHESIS)
    assert list(encoded.input_ids) == ids
    assert encoded.prompt_positions == prompt_positions
    assert encoded.mask_position == mask_position


def test_four_positions_are_all_different(hand):
    encodings = {
        pos: soft_prompt_template(hand, pos, 2, 64).encode(PREMISE, HYPOTHESIS).input_ids for pos in PROMPT_POSITIONS
    }
    assert len(set(encodings.values())) == 4


def test_default_position_is_suffix_with_four_slots(hand):
    encoded = soft_prompt_template(hand).encode(PREMISE, HYPOTHESIS)
    assert list(encoded.input_ids) == [BOS, 20, 21, 22, DOT, 30, 31, QMARK, P, P, P, P, MASK, DOT, EOS]
    assert encoded.prompt_positions == (8, 9, 10, 11)
    assert encoded.mask_position == 12


def test_pair_template_ids(hand):
    encoded = pair_template(hand, max_length=64).encode(PREMISE, HYPOTHESIS)
    assert list(encoded.input_ids) == [BOS, 20, 21, 22, EOS, EOS, 30, 31, EOS]
    assert encoded.prompt_positions == ()
    assert encoded.mask_position == -1
    # the same layout as the tokenizer's own pair encoding
    assert hand("a a", "b")["input_ids"] == [BOS, 8, 8, EOS, EOS, 9, EOS]


@pytest.mark.parametrize("lang, question, answer", [("en", 10, 11), ("de", 12, 13)])
def test_cross_lingual_template_ids(hand, lang, question, answer):
    encoded = cross_lingual_template(hand, PCT_TEMPLATE_WORDS[lang], max_length=64).encode(PREMISE, HYPOTHESIS)
    #                             X_P        .    Question:        X_H     ?     Answer:        <mask> .  </s>
    assert list(encoded.input_ids) == [
        BOS,
        20,
        21,
        22,
        DOT,
        question,
        COLON,
        30,
        31,
        QMARK,
        answer,
        COLON,
        MASK,
        DOT,
        EOS,
    ]
    assert encoded.mask_position == 12
    assert encoded.prompt_positions == ()


def test_cross_lingual_template_words_cover_xnli():
    from xlprompt.languages import XNLI_LANGUAGES

    assert set(PCT_TEMPLATE_WORDS) == set(XNLI_LANGUAGES)
    assert PCT_TEMPLATE_WORDS["de"] == ("Frage", "Antwort")


def test_cross_lingual_template_needs_two_words(hand):
    with pytest.raises(ConfigError, match=r"needs two words \(question, answer\), not \['Question'\]"):
        cross_lingual_template(hand, ("Question",))


# ---------------------------------------------------------------------------- truncation
def reference_longest_first(len_a: int, len_b: int, budget: int) -> tuple[int, int]:
    """Hugging Face's ``longest_first`` as its original loop: one token at a time from the longer sequence,
    from the second (hypothesis) on a tie."""
    a, b = list(range(len_a)), list(range(len_b))
    while len(a) + len(b) > budget:
        if len(a) > len(b):
            a = a[:-1]
        else:
            b = b[:-1]
    return len(a), len(b)


def test_truncate_longest_first_matches_reference_grid():
    checked = 0
    for la, lb in itertools.product(range(16), repeat=2):
        for budget in range(0, 34):
            assert truncate_longest_first(la, lb, budget) == reference_longest_first(la, lb, budget), (la, lb, budget)
            checked += 1
    assert checked == 16 * 16 * 34


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 400), st.integers(0, 400), st.integers(0, 900))
def test_truncate_longest_first_matches_reference_random(la, lb, budget):
    assert truncate_longest_first(la, lb, budget) == reference_longest_first(la, lb, budget)


@pytest.mark.parametrize(
    "la, lb, budget, expected",
    [
        (10, 3, 8, (5, 3)),  # only the longer one is cut
        (5, 5, 7, (4, 3)),  # tie: the hypothesis loses the odd token
        (9, 4, 6, (3, 3)),  # cut to equal, then alternate
        (2, 2, 10, (2, 2)),  # fits: unchanged
        (3, 0, 0, (0, 0)),
    ],
)
def test_truncate_longest_first_examples(la, lb, budget, expected):
    assert truncate_longest_first(la, lb, budget) == expected


def test_truncate_negative_budget():
    with pytest.raises(ValueError):
        truncate_longest_first(3, 3, -1)


def _check_encoding(template, premise, hypothesis, special):
    """Everything that must hold for any filled-in template."""
    encoded = template.encode(premise, hypothesis)
    ids = list(encoded.input_ids)
    skeleton = list(template.encode([], []).input_ids)
    n_p, n_h = truncate_longest_first(len(premise), len(hypothesis), template.text_budget)
    assert len(ids) <= template.max_length
    assert len(ids) == min(template.max_length, len(skeleton) + len(premise) + len(hypothesis))
    assert len(ids) == len(skeleton) + n_p + n_h
    # the kept text is the start of each sentence, premise before hypothesis
    kept_p = [i for i in ids if 100 <= i < 200]
    kept_h = [i for i in ids if i >= 200]
    assert kept_p == list(premise[:n_p]) and kept_h == list(hypothesis[:n_h])
    if kept_p and kept_h:
        assert ids.index(kept_p[-1]) < ids.index(kept_h[0])
    # the fixed part (specials, punctuation, prompt slots, mask) survives intact and in order
    assert [i for i in ids if i < 100] == skeleton
    assert ids[: len(special.prefix)] == list(special.prefix)
    assert ids[len(ids) - len(special.suffix) :] == list(special.suffix)
    assert len(encoded.prompt_positions) == template.prompt_length
    assert all(ids[pos] == special.placeholder_id for pos in encoded.prompt_positions)
    if encoded.mask_position >= 0:
        assert ids[encoded.mask_position] == special.mask_id
        assert ids.count(special.mask_id) == 1
    return encoded


@pytest.mark.parametrize("position", PROMPT_POSITIONS)
@pytest.mark.parametrize("prompt_length", [1, 4])
def test_truncation_keeps_prompt_mask_and_punctuation(hand, position, prompt_length):
    special = SpecialTokens.from_tokenizer(hand)
    fixed = 6 + prompt_length  # <s> . ? <mask> . </s> + prompt slots
    truncated = 0
    for max_length in (fixed + 2, fixed + 3, fixed + 7, 24):
        template = soft_prompt_template(hand, position, prompt_length, max_length)
        assert template.fixed_length == fixed
        for la, lb in itertools.product((0, 1, 2, 5, 9, 17), repeat=2):
            premise, hypothesis = list(range(100, 100 + la)), list(range(200, 200 + lb))
            encoded = _check_encoding(template, premise, hypothesis, special)
            if la + lb > template.text_budget:
                truncated += 1
                assert len(encoded.input_ids) == max_length
            dots = [i for i, t in enumerate(encoded.input_ids) if t == DOT]
            assert len(dots) == 2 and QMARK in encoded.input_ids
    assert truncated > 50


@pytest.mark.parametrize("lang", ["en", "de"])
def test_truncation_cross_lingual_and_pair(hand, lang):
    special = SpecialTokens.from_tokenizer(hand)
    for template in (cross_lingual_template(hand, PCT_TEMPLATE_WORDS[lang], 16), pair_template(hand, 8)):
        for la, lb in itertools.product((0, 3, 8, 20), repeat=2):
            _check_encoding(template, list(range(100, 100 + la)), list(range(200, 200 + lb)), special)


# ---------------------------------------------------------------------------- errors
def test_bad_position(hand):
    with pytest.raises(ConfigError) as err:
        soft_prompt_template(hand, "middle")
    assert "middle" in str(err.value)
    for position in PROMPT_POSITIONS:
        assert position in str(err.value)


@pytest.mark.parametrize("prompt_length, max_length", [(10, 16), (4, 11), (250, 256)])
def test_prompt_too_long_for_max_length(hand, prompt_length, max_length):
    with pytest.raises(ConfigError, match="max_length"):
        soft_prompt_template(hand, "suffix", prompt_length, max_length)


def test_prompt_just_fits(hand):
    template = soft_prompt_template(hand, "suffix", prompt_length=4, max_length=12)  # 10 fixed + 2 text
    assert template.text_budget == 2
    assert len(template.encode(PREMISE, HYPOTHESIS).input_ids) == 12


def test_prompt_length_zero(hand):
    with pytest.raises(ConfigError, match="prompt_length"):
        soft_prompt_template(hand, "suffix", prompt_length=0)


def test_tokenizer_without_mask_token():
    tokenizer = hand_tokenizer(with_mask=False)
    assert tokenizer.mask_token_id is None
    with pytest.raises(ModelError, match="mask"):
        soft_prompt_template(tokenizer)
    with pytest.raises(ModelError, match="mask"):
        cross_lingual_template(tokenizer, PCT_TEMPLATE_WORDS["en"])
    # fine-tuning's pair template needs no mask
    assert list(pair_template(tokenizer).encode([20], [30]).input_ids) == [BOS, 20, EOS, EOS, 30, EOS]


# ---------------------------------------------------------------------------- real tokenizers
def test_builtin_tokenizer_literals_are_known_tokens(tiny_tokenizer):
    """'.' and '?' of the template are real tokens (not <unk>), the same ids as in natural text."""
    special = SpecialTokens.from_tokenizer(tiny_tokenizer)
    dot, qmark = tail_ids(tiny_tokenizer, "."), tail_ids(tiny_tokenizer, "?")
    assert tiny_tokenizer.convert_ids_to_tokens(list(dot + qmark)) == [".", "?"]
    assert special.placeholder_id == tiny_tokenizer.unk_token_id
    natural = tiny_tokenizer("Is it? yes.", add_special_tokens=False)["input_ids"]
    assert qmark[0] in natural and natural[-1] == dot[0]
    premise = tiny_tokenizer("The children are playing football", add_special_tokens=False)["input_ids"]
    hypothesis = tiny_tokenizer("The children are outside", add_special_tokens=False)["input_ids"]
    encoded = soft_prompt_template(tiny_tokenizer, "suffix", 4, 64).encode(premise, hypothesis)
    expected = (
        [tiny_tokenizer.bos_token_id]
        + premise
        + list(dot)
        + hypothesis
        + list(qmark)
        + [tiny_tokenizer.unk_token_id] * 4
        + [tiny_tokenizer.mask_token_id]
        + list(dot)
        + [tiny_tokenizer.eos_token_id]
    )
    assert list(encoded.input_ids) == expected
    assert tiny_tokenizer.unk_token_id not in premise + hypothesis


def test_xlmr_suffix_template_tokens(xlmr_tokenizer):
    tok = xlmr_tokenizer
    premise = tok("He is reading a book", add_special_tokens=False)["input_ids"]
    hypothesis = tok("He is sleeping", add_special_tokens=False)["input_ids"]
    encoded = soft_prompt_template(tok, "suffix", 4, 256).encode(premise, hypothesis)
    assert tok.convert_ids_to_tokens(list(encoded.input_ids)) == [
        "<s>",
        "▁He",
        "▁is",
        "▁reading",
        "▁a",
        "▁book",
        ".",
        "▁He",
        "▁is",
        "▁sleeping",
        "?",
        "<unk>",
        "<unk>",
        "<unk>",
        "<unk>",
        "<mask>",
        ".",
        "</s>",
    ]
    assert encoded.prompt_positions == (11, 12, 13, 14)
    assert encoded.mask_position == 15
    # the template's '.' and '?' are the ids of naturally tokenised text ("book." and "sleeping?")
    assert tok("He is reading a book.", add_special_tokens=False)["input_ids"][-1] == encoded.input_ids[6]
    assert tok("Is he sleeping?", add_special_tokens=False)["input_ids"][-1] == encoded.input_ids[10]


def test_xlmr_pct_and_pair_tokens(xlmr_tokenizer):
    tok = xlmr_tokenizer
    premise = tok("He is reading a book", add_special_tokens=False)["input_ids"]
    hypothesis = tok("He is sleeping", add_special_tokens=False)["input_ids"]
    pct = cross_lingual_template(tok, PCT_TEMPLATE_WORDS["en"]).encode(premise, hypothesis)
    assert tok.convert_ids_to_tokens(list(pct.input_ids)) == [
        "<s>",
        "▁He",
        "▁is",
        "▁reading",
        "▁a",
        "▁book",
        ".",
        "▁Question",
        ":",
        "▁He",
        "▁is",
        "▁sleeping",
        "?",
        "▁Answer",
        ":",
        "<mask>",
        ".",
        "</s>",
    ]
    pair = pair_template(tok).encode(premise, hypothesis)
    assert list(pair.input_ids) == tok("He is reading a book", "He is sleeping")["input_ids"]
