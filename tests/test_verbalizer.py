"""The verbalizer (paper Eq. 2): label words → token ids, per language; the label-words file."""

from __future__ import annotations

import json

import pytest
import torch

from xlprompt.errors import ConfigError, DataError, ModelError
from xlprompt.verbalizer import DEFAULT_LABEL_WORDS, Verbalizer, read_label_words_file

GERMAN = ["Die", "Kinder", "der"]  # single tokens of builtin:tiny (not meaningful label words: ids only)


def single_token(tokenizer, word):
    ids = tokenizer(word, add_special_tokens=False)["input_ids"]
    assert len(ids) == 1, (word, tokenizer.convert_ids_to_tokens(ids))
    return ids[0]


def test_default_words_are_single_tokens(tiny_tokenizer):
    assert DEFAULT_LABEL_WORDS == ("yes", "maybe", "no")
    verbalizer = Verbalizer(tiny_tokenizer)
    ids = verbalizer.ids_for("en")
    assert len(ids) == 3 and len(set(ids)) == 3
    assert tiny_tokenizer.convert_ids_to_tokens(list(ids)) == ["▁yes", "▁maybe", "▁no"]
    assert ids == tuple(single_token(tiny_tokenizer, w) for w in DEFAULT_LABEL_WORDS)
    assert verbalizer.ids_for("sw") == ids  # no per-language words: the same for every language
    assert torch.equal(verbalizer.tensor_for("de"), torch.tensor(ids))


def test_default_words_xlmr(xlmr_tokenizer):
    ids = Verbalizer(xlmr_tokenizer).ids_for("en")
    assert xlmr_tokenizer.convert_ids_to_tokens(list(ids)) == ["▁yes", "▁maybe", "▁no"]


def test_multi_token_word_is_an_error(tiny_tokenizer):
    word = "vielleicht"  # ▁vie l le i cht in builtin:tiny
    pieces = tiny_tokenizer(word, add_special_tokens=False)["input_ids"]
    assert len(pieces) > 1
    with pytest.raises(ModelError) as err:
        Verbalizer(tiny_tokenizer, ["yes", word, "no"])
    message = str(err.value)
    assert word in message and "neutral" in message and f"{len(pieces)} tokens" in message
    assert "multi_token_label_words=first" in message


def test_multi_token_first(tiny_tokenizer):
    word = "vielleicht"
    first = tiny_tokenizer(word, add_special_tokens=False)["input_ids"][0]
    verbalizer = Verbalizer(tiny_tokenizer, ["yes", word, "no"], multi_token="first")
    assert verbalizer.ids_for("en") == (single_token(tiny_tokenizer, "yes"), first, single_token(tiny_tokenizer, "no"))


def test_bad_multi_token_option(tiny_tokenizer):
    with pytest.raises(ConfigError, match="error, first"):
        Verbalizer(tiny_tokenizer, multi_token="average")


def test_per_language_words(tiny_tokenizer):
    verbalizer = Verbalizer(tiny_tokenizer, per_language={"de": GERMAN})
    german = tuple(single_token(tiny_tokenizer, w) for w in GERMAN)
    assert verbalizer.ids_for("de") == german
    assert verbalizer.ids_for("en") == verbalizer.default_ids
    assert verbalizer.ids_for("fr") == verbalizer.default_ids
    assert german != verbalizer.default_ids
    assert verbalizer.tensor_for("de").tolist() == list(german)


def test_per_language_words_xlmr(xlmr_tokenizer):
    verbalizer = Verbalizer(
        xlmr_tokenizer,
        per_language={"de": ["ja", "vielleicht", "nein"], "fr": ["oui", "peut-être", "non"]},
        multi_token="first",
    )
    assert xlmr_tokenizer.convert_ids_to_tokens(list(verbalizer.ids_for("de"))) == ["▁ja", "▁vielleicht", "▁ne"]
    assert xlmr_tokenizer.convert_ids_to_tokens(list(verbalizer.ids_for("fr"))) == ["▁oui", "▁peut", "▁non"]
    with pytest.raises(ModelError, match="nein"):
        Verbalizer(xlmr_tokenizer, per_language={"de": ["ja", "vielleicht", "nein"]})


def test_method_scores_with_the_language_words(tiny_components, tiny_tokenizer, demo_train, tmp_path):
    """The words of a language are the ones its test inputs are scored with."""
    path = tmp_path / "words.json"
    path.write_text(json.dumps({"de": GERMAN}), "utf-8")
    parts = tiny_components(method="sp", label_words_file=str(path))
    method = parts.method
    method.eval()
    german = [single_token(tiny_tokenizer, w) for w in GERMAN]
    assert method.label_ids("de").tolist() == german
    batch = demo_train(parts.tokenizer)[:2]
    with torch.no_grad():
        prompt = method.prompt_for("de")
        hidden = method.mask_states([method.encode(ex) for ex in batch], prompt.expand(2, -1, -1))
        full = method.plm.vocab_logits(hidden)
        assert torch.allclose(method.class_scores(batch, "de"), full[:, german], atol=1e-5)
        default = list(parts.verbalizer.default_ids)
        assert torch.allclose(method.class_scores(batch, "fr"), full[:, default], atol=1e-5)


@pytest.mark.parametrize(
    "words, match",
    [
        (["yes", "no"], "need 3 words"),
        (["yes", "yes", "no"], "share"),
        (["yes", " ", "no"], "empty"),
    ],
)
def test_bad_word_lists(tiny_tokenizer, words, match):
    with pytest.raises(ConfigError, match=match):
        Verbalizer(tiny_tokenizer, words)


def test_unknown_word_is_an_error(tiny_tokenizer):
    # builtin:tiny: "Xyzzyq" → '▁' '<unk>' 'y' 'z' ...: its first real piece is unknown
    assert tiny_tokenizer.convert_ids_to_tokens(tiny_tokenizer("Xyzzyq", add_special_tokens=False)["input_ids"])[
        :2
    ] == ["▁", "<unk>"]
    with pytest.raises(ModelError, match="'Xyzzyq' .* unknown"):
        Verbalizer(tiny_tokenizer, ["yes", "Xyzzyq", "no"], multi_token="first")


def test_bare_word_start_piece_is_skipped(tiny_tokenizer):
    # builtin:tiny: "可能" → '▁' '可' '<unk>'; scored by '可', never by the bare '▁' shared by all such words
    verbalizer = Verbalizer(tiny_tokenizer, ["yes", "可能", "no"], multi_token="first")
    assert tiny_tokenizer.convert_ids_to_tokens(verbalizer.ids_for("en")[1]) == "可"


def test_chinese_words_xlmr(xlmr_tokenizer):
    """XLM-R splits "是" into '▁' + '是': the label word is '是' (a single token), not the shared '▁'."""
    assert xlmr_tokenizer.convert_ids_to_tokens(xlmr_tokenizer("是", add_special_tokens=False)["input_ids"]) == [
        "▁",
        "是",
    ]
    verbalizer = Verbalizer(xlmr_tokenizer, per_language={"zh": ["是", "可能", "不"], "th": ["ใช่", "อาจจะ", "ไม่"]})
    assert xlmr_tokenizer.convert_ids_to_tokens(list(verbalizer.ids_for("zh"))) == ["是", "可能", "不"]
    assert xlmr_tokenizer.convert_ids_to_tokens(list(verbalizer.ids_for("th"))) == ["ใช่", "อาจจะ", "▁ไม่"]


def test_unknown_language_in_per_language(tiny_tokenizer):
    with pytest.raises(ConfigError, match="xx"):
        Verbalizer(tiny_tokenizer, per_language={"xx": ["yes", "maybe", "no"]})


# ---------------------------------------------------------------------------- the label-words file
def test_read_label_words_file(tmp_path):
    path = tmp_path / "words.json"
    path.write_text(
        json.dumps({"de": ["ja", "vielleicht", "nein"], "fr": ["oui", "peut-être", "non"]}, ensure_ascii=False), "utf-8"
    )
    assert read_label_words_file(path) == {"de": ["ja", "vielleicht", "nein"], "fr": ["oui", "peut-être", "non"]}


@pytest.mark.parametrize(
    "content, match",
    [
        (None, "not found"),
        (b"{not json", "not valid UTF-8 JSON"),
        (b"\xff\xfe{}", "not valid UTF-8 JSON"),
        (b'["ja", "vielleicht", "nein"]', "expected an object"),
        (b'{"xx": ["a", "b", "c"]}', "unknown language code 'xx'"),
        (b'{"de": ["ja", "nein"]}', "'de': expected a list of 3 words"),
        (b'{"de": "ja vielleicht nein"}', "'de': expected a list of 3 words"),
        (b'{"de": ["ja", 1, "nein"]}', "'de': expected a list of 3 words"),
    ],
)
def test_read_label_words_file_errors_name_the_file(tmp_path, content, match):
    path = tmp_path / "my-words.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError) as err:
        read_label_words_file(path)
    assert str(path) in str(err.value)
    assert err.value.path == str(path)
    assert match in str(err.value)
