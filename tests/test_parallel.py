"""The external parallel corpus: every source on tiny data, determinism, sizes, languages, JSONL files."""

from __future__ import annotations

import hashlib
import io
import json
import string
from collections import Counter
from pathlib import Path

import pytest
from datafactory import (
    write_data_dir,
    write_jsonl,
    write_pawsx,
    write_tatoeba,
    write_xnli,
)

from xlprompt.data import (
    ParallelPair,
    build_parallel_corpus,
    language_counts,
    read_parallel_jsonl,
    write_parallel_jsonl,
)
from xlprompt.data import parallel as parallel_module
from xlprompt.data.parallel import normalize_targets
from xlprompt.errors import ConfigError, DataError, ModelError
from xlprompt.languages import TARGET_LANGUAGES


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """All 15 languages: XNLI dev 12 / test 15 rows, PAWS-X 8+8 pairs, Tatoeba 12 rows (6 pairs)."""
    return write_data_dir(tmp_path_factory.mktemp("data"))


def by_uid(pairs):
    return {p.uid: p for p in pairs}


def assert_valid(pairs, size, targets=TARGET_LANGUAGES):
    assert len(pairs) == size
    assert len({p.uid for p in pairs}) == size
    assert all(p.src_lang == "en" and p.tgt_lang in targets for p in pairs)
    assert all(p.src_premise and p.src_hypothesis and p.tgt_premise and p.tgt_hypothesis for p in pairs)


# -- targets ----------------------------------------------------------------------------------------


def test_normalize_targets():
    assert normalize_targets("zh, de,fr,de") == ("de", "fr", "zh")
    assert normalize_targets(["sw", "ar"]) == ("ar", "sw")
    with pytest.raises(ConfigError, match="'en' is the source language"):
        normalize_targets("de,en")
    with pytest.raises(ConfigError, match="unknown target language code 'ja'"):
        normalize_targets(["ja"])
    with pytest.raises(ConfigError, match="no target languages"):
        normalize_targets("")


# -- pawsx ------------------------------------------------------------------------------------------


def test_pawsx_pairs_are_aligned_translations(data_dir):
    pairs = build_parallel_corpus("pawsx", size=16, seed=0, data_dir=data_dir)
    assert_valid(pairs, 16, ("de", "es", "fr", "zh"))
    assert {p.uid for p in pairs} == {f"pawsx-{s}-{i}" for s in ("dev", "test") for i in range(8)}
    for p in pairs:
        _, split, idx = p.uid.split("-")
        assert p.src_premise == f"[en] pawsx {split} s1 {idx}"
        assert p.tgt_premise == f"[{p.tgt_lang}] pawsx {split} s1 {idx}"
        assert p.tgt_hypothesis == f"[{p.tgt_lang}] pawsx {split} s2 {idx}"
    assert language_counts(pairs) == {"de": 4, "es": 4, "fr": 4, "zh": 4}  # balanced


def test_pawsx_output_is_pinned(data_dir):
    """The exact corpus for a seed is fixed: a change of algorithm must fail this test."""
    pairs = build_parallel_corpus("pawsx", size=5, seed=0, data_dir=data_dir)
    assert [(p.uid, p.tgt_lang) for p in pairs] == [
        ("pawsx-test-2", "zh"),
        ("pawsx-dev-0", "fr"),
        ("pawsx-test-5", "es"),
        ("pawsx-dev-1", "de"),
        ("pawsx-dev-4", "fr"),
    ]
    iid = build_parallel_corpus("pawsx", size=5, seed=0, data_dir=data_dir, balanced=False)
    assert [p.tgt_lang for p in iid] == ["es", "es", "zh", "de", "fr"]


def test_pawsx_determinism_seeds_and_nesting(data_dir):
    first = build_parallel_corpus("pawsx", size=10, seed=3, data_dir=data_dir)
    assert build_parallel_corpus("pawsx", size=10, seed=3, data_dir=data_dir) == first
    assert build_parallel_corpus("pawsx", size=10, seed=4, data_dir=data_dir) != first
    assert build_parallel_corpus("pawsx", size=6, seed=3, data_dir=data_dir) == first[:6]


def test_pawsx_respects_the_target_languages(data_dir):
    pairs = build_parallel_corpus("pawsx", size=10, seed=0, data_dir=data_dir, target_languages="fr,ar,bg")
    assert {p.tgt_lang for p in pairs} == {"fr"}
    with pytest.raises(ConfigError, match="PAWS-X has none of the target languages ar, bg; it has de, es, fr, zh"):
        build_parallel_corpus("pawsx", size=10, data_dir=data_dir, target_languages=["ar", "bg"])


def test_pawsx_too_small_names_how_many_exist(data_dir):
    with pytest.raises(ConfigError) as info:
        build_parallel_corpus("pawsx", size=17, data_dir=data_dir)
    assert "the 'pawsx' source has only 16 English pairs" in str(info.value)
    assert "fewer than the 17 asked for" in str(info.value)


def test_pawsx_needs_data_dir_and_parallel_files(tmp_path, monkeypatch):
    monkeypatch.setenv("XLPROMPT_DATA", str(tmp_path / "default"))  # without data_dir: the default folder
    with pytest.raises(DataError, match=r"default/pawsx/dev/en.tsv: TSV file not found"):
        build_parallel_corpus("pawsx", size=1)
    write_pawsx(tmp_path, ("en", "de"), n_dev=3, n_test=3)
    write_pawsx(tmp_path / "other", ("fr",), n_dev=2, n_test=3)
    (tmp_path / "pawsx" / "dev" / "fr.tsv").write_bytes((tmp_path / "other/pawsx/dev/fr.tsv").read_bytes())
    (tmp_path / "pawsx" / "test" / "fr.tsv").write_bytes((tmp_path / "other/pawsx/test/fr.tsv").read_bytes())
    with pytest.raises(DataError, match=r"fr.tsv: pawsx/dev/fr.tsv and pawsx/dev/en.tsv must hold the same idx"):
        build_parallel_corpus("pawsx", size=1, data_dir=tmp_path, target_languages="de,fr")
    with pytest.raises(DataError, match=r"es.tsv.*not found"):
        build_parallel_corpus("pawsx", size=1, data_dir=tmp_path, target_languages="es")


# -- tatoeba ----------------------------------------------------------------------------------------


def test_tatoeba_pairs_are_consecutive_rows(data_dir):
    pairs = build_parallel_corpus("tatoeba", size=84, seed=1, data_dir=data_dir)  # 14 languages x 6 pairs
    assert_valid(pairs, 84)
    assert language_counts(pairs) == dict.fromkeys(TARGET_LANGUAGES, 6)
    for p in pairs:
        _, lang, i = p.uid.split("-")
        i = int(i)
        assert p.tgt_lang == lang
        assert (p.tgt_premise, p.tgt_hypothesis) == (f"[{lang}] tatoeba {2 * i}", f"[{lang}] tatoeba {2 * i + 1}")
        assert (p.src_premise, p.src_hypothesis) == (f"[en] tatoeba {lang} {2 * i}", f"[en] tatoeba {lang} {2 * i + 1}")


def test_tatoeba_languages_run_out_unevenly(tmp_path):
    write_tatoeba(tmp_path, ("de", "sw", "th"), n_rows={"de": 20, "sw": 5, "th": 8})  # 10 + 2 + 4 pairs
    pairs = build_parallel_corpus("tatoeba", size=16, seed=0, data_dir=tmp_path, target_languages="de,sw,th")
    assert language_counts(pairs) == {"de": 10, "sw": 2, "th": 4}
    six = build_parallel_corpus("tatoeba", size=6, seed=0, data_dir=tmp_path, target_languages="de,sw,th")
    assert language_counts(six) == {"de": 2, "sw": 2, "th": 2}
    assert six == pairs[:6]
    with pytest.raises(ConfigError) as info:
        build_parallel_corpus("tatoeba", size=17, data_dir=tmp_path, target_languages="de,sw,th")
    assert "has only 16 pairs (two consecutive rows each: de 10, sw 2, th 4)" in str(info.value)


def test_tatoeba_determinism_and_iid(data_dir):
    a = build_parallel_corpus("tatoeba", size=30, seed=5, data_dir=data_dir)
    assert a == build_parallel_corpus("tatoeba", size=30, seed=5, data_dir=data_dir)
    assert a != build_parallel_corpus("tatoeba", size=30, seed=6, data_dir=data_dir)
    iid = build_parallel_corpus("tatoeba", size=30, seed=5, data_dir=data_dir, balanced=False)
    assert iid != a and len(iid) == 30
    assert max(language_counts(a).values()) - min(language_counts(a).values()) <= 1


def test_tatoeba_empty_text_names_file_and_line(tmp_path):
    path = write_tatoeba(tmp_path, ("de",), n_rows=4) / "tatoeba" / "de-en.tsv"
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[3] = "2\t\tsomething"
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(DataError) as info:
        build_parallel_corpus("tatoeba", size=2, data_dir=tmp_path, target_languages="de")
    assert str(info.value).startswith(f"{path}:4: de is empty")


# -- xnli-dev ---------------------------------------------------------------------------------------


def test_xnli_dev_uses_the_dev_split_only(tmp_path, monkeypatch):
    write_xnli(tmp_path, n_dev=12, n_test=4)
    for test_file in (tmp_path / "xnli" / "test").iterdir():
        test_file.write_text("garbage", encoding="utf-8")  # reading it would fail
    calls = []
    real = parallel_module.load_xnli

    def spy(split, lang, data_dir=None, limit=None):
        calls.append(split)
        return real(split, lang, data_dir, limit)

    monkeypatch.setattr(parallel_module, "load_xnli", spy)
    pairs = build_parallel_corpus("xnli-dev", size=12, seed=2, data_dir=tmp_path)
    assert set(calls) == {"dev"} and len(calls) == 15
    assert_valid(pairs, 12)
    assert {p.uid for p in pairs} == {f"xnli-dev-{i}" for i in range(12)}
    for p in pairs:
        idx = p.uid.rsplit("-", 1)[1]
        assert p.src_hypothesis == f"[en] dev hypothesis {idx}"
        assert p.tgt_hypothesis == f"[{p.tgt_lang}] dev hypothesis {idx}"
    assert len(language_counts(pairs)) == 12  # 12 pairs, 14 languages, balanced: 12 different ones


def test_xnli_dev_too_small(data_dir):
    with pytest.raises(ConfigError, match="the 'xnli-dev' source has only 12 English pairs"):
        build_parallel_corpus("xnli-dev", size=13, data_dir=data_dir)


def test_xnli_dev_without_data_dir_reads_the_default_folder(tmp_path, monkeypatch):
    write_xnli(tmp_path / "home", ("en", "de", "fr"), n_dev=4, n_test=1)
    monkeypatch.setenv("XLPROMPT_DATA", str(tmp_path / "home"))
    pairs = build_parallel_corpus("xnli-dev", size=4, target_languages="de,fr")
    assert {p.uid for p in pairs} == {f"xnli-dev-{i}" for i in range(4)}
    assert all(p.tgt_premise.startswith(f"[{p.tgt_lang}] dev premise") for p in pairs)


# -- file -------------------------------------------------------------------------------------------


def _pairs(n, langs=("de", "fr", "sw")):
    return [ParallelPair("en", langs[i % len(langs)], f"p{i}", f"h{i}", f"tp{i}", f"th{i}", f"u{i}") for i in range(n)]


def test_jsonl_round_trip_is_atomic(tmp_path):
    pairs = _pairs(7) + [ParallelPair("en", "el", "a\x1cb", "ü\u2028", "α", "β\x1d", "odd")]
    path = write_parallel_jsonl(pairs, tmp_path / "sub" / "corpus.jsonl")
    assert read_parallel_jsonl(path) == pairs
    assert sorted(p.name for p in path.parent.iterdir()) == ["corpus.jsonl"]  # no temp file left
    write_parallel_jsonl(pairs[:2], path)  # overwrite
    assert read_parallel_jsonl(path) == pairs[:2]
    with pytest.raises(TypeError):
        write_parallel_jsonl([("en", "de")], path)
    assert read_parallel_jsonl(path) == pairs[:2]  # a failed write leaves the old file


def test_file_source_selects_filters_and_is_deterministic(tmp_path):
    path = write_parallel_jsonl(_pairs(30), tmp_path / "c.jsonl")
    chosen = build_parallel_corpus("file", size=8, seed=1, file=path, target_languages="de,sw")
    assert_valid(chosen, 8, ("de", "sw"))
    assert chosen == build_parallel_corpus("file", size=8, seed=1, file=path, target_languages="de,sw")
    assert chosen != build_parallel_corpus("file", size=8, seed=2, file=path, target_languages="de,sw")
    with pytest.raises(ConfigError, match="has only 20 pairs with a target language among de, sw"):
        build_parallel_corpus("file", size=21, file=path, target_languages="de,sw")
    with pytest.raises(ConfigError, match="pass --file FILE"):
        build_parallel_corpus("file", size=1)


FIELDS = {
    "src_lang": "en",
    "tgt_lang": "de",
    "src_premise": "p",
    "src_hypothesis": "h",
    "tgt_premise": "tp",
    "tgt_hypothesis": "th",
}


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"tgt_lang": "xx"}, "unknown tgt_lang code 'xx'"),
        ({"src_lang": "EN"}, "unknown src_lang code 'EN'. Did you mean 'en'?"),
        ({"tgt_lang": "en"}, "src_lang and tgt_lang are both 'en'"),
        ({"tgt_premise": "  "}, "tgt_premise must be a non-empty string, found '  '"),
        ({"src_hypothesis": None}, "src_hypothesis must be a non-empty string, found None"),
        ({"uid": "a"}, "uid 'a' occurs twice (first on line 1)"),
        ({"uid": 5}, "uid must be a string, found 5"),
    ],
)
def test_read_parallel_jsonl_validates_each_row(tmp_path, change, expected):
    path = write_jsonl(tmp_path / "c.jsonl", [dict(FIELDS, uid="a"), {**FIELDS, "uid": "b", **change}])
    with pytest.raises(DataError) as info:
        read_parallel_jsonl(path)
    assert str(info.value).startswith(f"{path}:2: {expected}")


def test_read_parallel_jsonl_expected_languages(tmp_path):
    path = write_jsonl(tmp_path / "c.jsonl", [dict(FIELDS), dict(FIELDS, tgt_lang="fr"), dict(FIELDS, tgt_lang="sw")])
    # no uid: one derived from the texts (the same texts again: -2, -3), never the line number
    base = _content_id(*(FIELDS[k] for k in ("src_premise", "src_hypothesis", "tgt_premise", "tgt_hypothesis")))
    assert [p.uid for p in read_parallel_jsonl(path, ["de", "fr", "sw"])] == [base, f"{base}-2", f"{base}-3"]
    with pytest.raises(DataError) as info:
        read_parallel_jsonl(path, expected_languages=("de", "fr", "en"))
    assert str(info.value).startswith(f"{path}:3: tgt_lang 'sw' is not among the run's languages (de, en, fr)")


def test_read_parallel_jsonl_missing_field_and_empty_file(tmp_path):
    row = dict(FIELDS)
    del row["tgt_hypothesis"]
    path = write_jsonl(tmp_path / "c.jsonl", [FIELDS, row])
    with pytest.raises(DataError, match=r"c.jsonl:2: missing field 'tgt_hypothesis'"):
        read_parallel_jsonl(path)
    empty = write_jsonl(tmp_path / "e.jsonl", [])
    with pytest.raises(DataError, match="e.jsonl: the parallel corpus is empty"):
        read_parallel_jsonl(empty)


# -- translate (stub translator) --------------------------------------------------------------------


class StubTranslator:
    """Translates by tagging: the builder's plumbing is tested without a model."""

    def __init__(self, supported=TARGET_LANGUAGES, empty=False):
        self.calls: list[tuple[str, list[str]]] = []
        self.supported = supported
        self.empty = empty

    def check_languages(self, languages):
        missing = [lang for lang in languages if lang not in self.supported]
        if missing:
            raise ConfigError(f"cannot translate into {', '.join(missing)}")

    def translate(self, texts, tgt_lang, progress=None):
        self.calls.append((tgt_lang, list(texts)))
        if progress is not None:
            progress(len(texts))
        return ["" if self.empty else f"<{tgt_lang}> {t}" for t in texts]


def test_translate_pairs_from_pawsx_english(data_dir, capsys):
    stub = StubTranslator()
    pairs = build_parallel_corpus("translate", size=14, seed=0, data_dir=data_dir, translate_model=stub, progress=True)
    progress = capsys.readouterr().err
    assert "translate en->" in progress and "28/28" in progress  # 14 pairs x 2 texts
    assert_valid(pairs, 14)
    assert language_counts(pairs) == dict.fromkeys(TARGET_LANGUAGES, 1)
    for p in pairs:
        assert p.uid.startswith("pawsx-") and p.src_premise.startswith("[en] pawsx")
        assert p.tgt_premise == f"<{p.tgt_lang}> {p.src_premise}"
        assert p.tgt_hypothesis == f"<{p.tgt_lang}> {p.src_hypothesis}"
    assert sorted(lang for lang, _ in stub.calls) == sorted(TARGET_LANGUAGES)  # one call per language
    again = build_parallel_corpus("translate", size=14, seed=0, data_dir=data_dir, translate_model=StubTranslator())
    assert again == pairs


def _content_id(*texts: str) -> str:
    """The id of a pair without one, computed by hand: 16 hex digits of the SHA-256 of its texts as JSON."""
    return "pair-" + hashlib.sha256(json.dumps(list(texts), ensure_ascii=False).encode("utf-8")).hexdigest()[:16]


def test_translate_given_pairs_and_file(tmp_path):
    stub = StubTranslator()
    english = [("same premise", f"hypothesis {i}") for i in range(6)]
    pairs = build_parallel_corpus(
        "translate", size=6, seed=1, target_languages="de", translate_model=stub, english_pairs=english
    )
    assert {p.uid for p in pairs} == {_content_id("same premise", f"hypothesis {i}") for i in range(6)}
    assert stub.calls[0][1].count("same premise") == 1  # each distinct text is translated once
    assert all(p.tgt_premise == "<de> same premise" for p in pairs)
    rows = [{"premise": f"p{i}", "hypothesis": f"h{i}", "uid": f"mine-{i}"} for i in range(3)]
    path = write_jsonl(tmp_path / "en.jsonl", [*rows, {"premise": "p3", "hypothesis": "h3"}])
    from_file = build_parallel_corpus(
        "translate", size=4, file=path, target_languages="fr,sw", translate_model=StubTranslator()
    )
    assert {p.uid for p in from_file} == {"mine-0", "mine-1", "mine-2", _content_id("p3", "h3")}
    assert {p.tgt_lang for p in from_file} == {"fr", "sw"}


def test_translate_errors(tmp_path, data_dir):
    with pytest.raises(ConfigError, match="needs a translation model: pass --model"):
        build_parallel_corpus("translate", size=2, data_dir=data_dir)
    with pytest.raises(DataError, match=r"no-default-data-folder/pawsx/train/en.tsv: TSV file not found"):
        build_parallel_corpus("translate", size=2, translate_model=StubTranslator())  # the default folder
    with pytest.raises(ConfigError, match="has only 16 English pairs to translate, fewer than the 17"):
        build_parallel_corpus("translate", size=17, data_dir=data_dir, translate_model=StubTranslator())
    with pytest.raises(ConfigError, match="cannot translate into el, th"):
        build_parallel_corpus(
            "translate",
            size=2,
            data_dir=data_dir,
            translate_model=StubTranslator(supported=("de", "fr")),
            target_languages="de,el,th",
        )
    with pytest.raises(DataError, match="empty de translation"):
        build_parallel_corpus(
            "translate", size=2, data_dir=data_dir, target_languages="de", translate_model=StubTranslator(empty=True)
        )
    with pytest.raises(DataError, match=r"English pair 2 \(pair-[0-9a-f]{16}\) has an empty premise or hypothesis"):
        build_parallel_corpus(
            "translate", size=1, english_pairs=[("a", "b"), ("", "c")], translate_model=StubTranslator()
        )
    with pytest.raises(ConfigError, match="translate_model must be a model name or folder, or an object"):
        build_parallel_corpus("translate", size=1, english_pairs=[("a", "b")], translate_model=42)
    with pytest.raises(ModelError, match="could not load translation model"):
        build_parallel_corpus("translate", size=1, english_pairs=[("a", "b")], translate_model=str(tmp_path / "none"))


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        (
            {"source": "paws"},
            "unknown parallel-corpus source 'paws'. Allowed: pawsx, tatoeba, xnli-dev, translate, file",
        ),
        ({"source": "pawsx", "size": 0}, "size must be a positive integer, got 0"),
        ({"source": "pawsx", "size": 2.5}, "size must be a positive integer, got 2.5"),
        ({"source": "pawsx", "seed": "1"}, "seed must be an integer, got '1'"),
    ],
)
def test_builder_config_errors(data_dir, kwargs, expected):
    with pytest.raises(ConfigError) as info:
        build_parallel_corpus(data_dir=data_dir, **kwargs)
    assert str(info.value) == expected


# -- translate (tiny random Hugging Face models) ----------------------------------------------------


def _tiny_m2m100(tokenizer, output_token: str):
    """A random 1-layer M2M100 whose decoder always emits ``output_token`` (so outputs are non-empty)."""
    torch = pytest.importorskip("torch")
    from transformers import M2M100Config, M2M100ForConditionalGeneration

    vocab_size = max(tokenizer.convert_tokens_to_ids([t])[0] or 0 for t in ("__zh__", "zho_Hans", "</s>")) + 10
    config = M2M100Config(
        vocab_size=max(vocab_size, len(tokenizer) + 1),
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=64,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=0,
        decoder_start_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    model = M2M100ForConditionalGeneration(config)
    target = tokenizer.convert_tokens_to_ids([output_token])[0]
    with torch.no_grad():
        embeddings = model.get_output_embeddings().weight
        embeddings[target] = 0.0
        embeddings[target, 0] = 50.0
        norm = model.model.decoder.layer_norm
        norm.weight.zero_()
        norm.bias.zero_()
        norm.bias[0] = 1.0
    return model


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    """Tiny random M2M100 (sentencepiece) and NLLB (BPE) translation models saved to disk."""
    spm = pytest.importorskip("sentencepiece")
    pytest.importorskip("transformers")
    from transformers import M2M100Tokenizer, NllbTokenizer

    root = tmp_path_factory.mktemp("mt")
    buffer = io.BytesIO()
    sentences = ["the cat sat on the mat", "a man walks a dog", "hello world this is a test", "le chat"] * 10
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_writer=buffer,
        vocab_size=30,
        model_type="unigram",
        character_coverage=1.0,
        bos_id=-1,
        eos_id=-1,
        unk_id=0,
        pad_id=-1,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    (root / "spm.model").write_bytes(buffer.getvalue())
    processor = spm.SentencePieceProcessor(model_file=str(root / "spm.model"))
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for i in range(processor.get_piece_size()):
        vocab.setdefault(processor.id_to_piece(i), len(vocab))
    (root / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    m2m_tokenizer = M2M100Tokenizer(vocab_file=str(root / "vocab.json"), spm_file=str(root / "spm.model"))
    m2m = root / "m2m100"
    _tiny_m2m100(m2m_tokenizer, list(vocab)[-1]).save_pretrained(m2m)
    m2m_tokenizer.save_pretrained(m2m)

    chars = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for ch in "▁" + string.ascii_lowercase:
        chars[ch] = len(chars)
    nllb_tokenizer = NllbTokenizer(vocab=chars, merges=[])
    nllb = root / "nllb"
    _tiny_m2m100(nllb_tokenizer, "c").save_pretrained(nllb)
    nllb_tokenizer.save_pretrained(nllb)
    return {"m2m100": m2m, "nllb": nllb}


@pytest.mark.parametrize("scheme", ["m2m100", "nllb"])
def test_hf_translator_language_codes(tiny_models, scheme):
    from xlprompt.data.translate import NLLB_CODES, HFTranslator

    translator = HFTranslator(tiny_models[scheme], device="cpu", num_beams=2, max_length=6)
    assert translator.scheme == scheme
    assert translator.supported_languages() == TARGET_LANGUAGES
    texts, extra = translator.generation_inputs(["the cat"], "de")
    assert texts == ["the cat"]
    tokenizer = translator.tokenizer
    expected = tokenizer.get_lang_id("de") if scheme == "m2m100" else tokenizer.convert_tokens_to_ids(NLLB_CODES["de"])
    assert extra == {"forced_bos_token_id": expected}

    seen = []
    generate = translator.model.generate

    def spy(**kwargs):
        seen.append(kwargs)
        return generate(**kwargs)

    translator.model.generate = spy
    out = translator.translate(["the cat sat", "a dog", "hello"], "sw")
    assert len(out) == 3 and all(text.strip() for text in out)
    assert all("__sw__" not in text and "swh_Latn" not in text for text in out)
    sw_id = tokenizer.get_lang_id("sw") if scheme == "m2m100" else tokenizer.convert_tokens_to_ids("swh_Latn")
    assert seen[0]["forced_bos_token_id"] == sw_id and seen[0]["num_beams"] == 2
    source_code = tokenizer.get_lang_id("en") if scheme == "m2m100" else tokenizer.convert_tokens_to_ids("eng_Latn")
    assert source_code in seen[0]["input_ids"][0].tolist()  # the source language tag is set


def test_translate_source_with_a_model_folder(tiny_models, data_dir):
    pairs = build_parallel_corpus(
        "translate",
        size=5,
        seed=0,
        data_dir=data_dir,
        translate_model=str(tiny_models["nllb"]),
        target_languages="de,zh",
        device="cpu",
        num_beams=1,
        max_length=5,
        batch_size=3,
    )
    assert_valid(pairs, 5, ("de", "zh"))
    assert sorted(Counter(p.tgt_lang for p in pairs).values()) == [2, 3]  # balanced
    assert all(set(p.tgt_premise) <= {"c"} for p in pairs)  # what this tiny model always says


class FakeTokenizer:
    """Just enough of a tokenizer for scheme detection."""

    unk_token_id = 0

    def __init__(self, tokens):
        self.vocab = {"<unk>": 0, **{t: i + 1 for i, t in enumerate(tokens)}}

    def convert_tokens_to_ids(self, tokens):
        return [self.vocab.get(t, 0) for t in tokens]


def _translator_with(tokenizer):
    from xlprompt.data.translate import HFTranslator

    translator = HFTranslator.__new__(HFTranslator)
    translator.name, translator.tokenizer = "fake", tokenizer
    translator.scheme = translator._detect_scheme()
    return translator


def test_marian_mbart_and_single_direction_schemes():
    marian = _translator_with(FakeTokenizer([">>deu<<", ">>fra<<", ">>cmn_Hans<<"]))
    assert marian.scheme == "marian"
    assert marian.supported_languages() == ("de", "fr", "zh")
    assert marian.generation_inputs(["hi"], "zh") == ([">>cmn_Hans<< hi"], {})
    with pytest.raises(ConfigError, match="cannot translate into sw; drop them from --languages"):
        marian.check_languages(["de", "sw"])

    mbart = _translator_with(FakeTokenizer(["en_XX", "de_DE", "bg_BG"]))
    assert mbart.scheme == "mbart50"
    assert mbart.generation_inputs(["hi"], "de") == (["hi"], {"forced_bos_token_id": 2})
    with pytest.raises(ConfigError, match="cannot translate into bg"):
        mbart.check_languages(["bg"])  # not an mBART-50 language, even if the token exists

    single = _translator_with(FakeTokenizer(["▁hallo"]))
    assert single.scheme == "single"
    single.check_languages(["de"])
    assert single.generation_inputs(["hi"], "de") == (["hi"], {})
    with pytest.raises(ConfigError, match="pass --languages with the one language it translates into"):
        single.check_languages(["de", "fr"])


# -- PAWS-15 the paper's way: translated PAWS-X train pairs, cached in the data folder --------


class NamedStub(StubTranslator):
    name = "stub-mt"


def test_translated_corpus_is_cached_by_everything_that_shapes_it(tmp_path):
    from xlprompt.data.translated import translated_corpus

    data = write_pawsx(tmp_path, ("en", "de"), n_dev=2, n_test=2, n_train=20)
    stub = NamedStub()
    pairs, path, cached = translated_corpus(data, stub, size=6, seed=0, target_languages="de,fr")
    assert not cached and path.parent == data / "parallel" and path.name.startswith("translate-")
    assert len(stub.calls) == 2  # de and fr
    for p in pairs:  # English PAWS-X *train* pairs, as in the paper
        idx = int(p.uid.removeprefix("pawsx-train-"))
        assert (p.src_premise, p.src_hypothesis) == (f"[en] pawsx train s1 {idx}", f"[en] pawsx train s2 {idx}")
        assert p.tgt_premise == f"<{p.tgt_lang}> {p.src_premise}"
    assert read_parallel_jsonl(path) == pairs
    key = json.loads(path.with_name(path.stem + ".key.json").read_text())
    assert (key["model"], key["size"], key["seed"], key["languages"], key["balanced"]) == (
        "stub-mt",
        6,
        0,
        ["de", "fr"],
        True,
    )
    again = NamedStub()
    assert translated_corpus(data, again, size=6, seed=0, target_languages="fr,de") == (pairs, path, True)
    assert again.calls == []  # read from the cache: nothing translated
    other_seed = translated_corpus(data, again, size=6, seed=1, target_languages="de,fr")
    assert other_seed[1] != path and not other_seed[2]
    iid = translated_corpus(data, NamedStub(), size=6, seed=0, target_languages="de,fr", balanced=False)
    assert iid[1] not in (path, other_seed[1])
    english = data / "pawsx" / "train" / "en.tsv"
    english.write_text(english.read_text().replace("s1 3", "s1 three"))  # another source file: another key
    assert translated_corpus(data, NamedStub(), size=6, seed=0, target_languages="de,fr")[1] != path


def test_translate_cli_and_runs_share_one_cached_corpus(tiny_models, tmp_path, monkeypatch):
    """`xlprompt data build-parallel --source translate` writes the file that parallel_source=translate reads."""
    from click.testing import CliRunner

    from xlprompt.cli import cli
    from xlprompt.config import RunConfig
    from xlprompt.data import translate as translate_module
    from xlprompt.run_data import load_run_data

    data = write_data_dir(tmp_path / "d", langs=("en", "de", "fr"), ks=(1,))
    model = str(tiny_models["nllb"])
    out = tmp_path / "copy.jsonl"
    result = CliRunner().invoke(
        cli,
        [
            "data",
            "build-parallel",
            "--source",
            "translate",
            "--model",
            model,
            "--data-dir",
            str(data),
            "--size",
            "3",
            "--device",
            "cpu",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    cache = sorted((data / "parallel").glob("translate-*.jsonl"))
    assert len(cache) == 1 and f"cached the corpus {cache[0]}" in result.output
    assert out.read_bytes() == cache[0].read_bytes()
    pairs = read_parallel_jsonl(cache[0])
    assert len(pairs) == 3 and all(p.uid.startswith("pawsx-train-") for p in pairs)

    def no_translation(*args, **kwargs):
        raise AssertionError("translated again instead of reading the cache")

    monkeypatch.setattr(translate_module.HFTranslator, "__init__", no_translation)
    config = RunConfig(
        method="mpt",
        shots=1,
        model="random:tiny",
        data_dir=str(data),
        parallel_source="translate",
        translate_model=model,
        parallel_size=3,
        eval_languages="en,de",
    )
    run_data = load_run_data(config)
    assert run_data.parallel == pairs
    assert any(f"cached in {cache[0]}" in note for note in run_data.notes)


# -- one-text corpora (a one-text task's: no hypothesis) ----------------------------------------------


def test_a_one_text_corpus_is_written_and_read_without_a_hypothesis(tmp_path):
    pairs = [
        ParallelPair.one_text("en", "de", "a good film", "ein guter Film"),
        ParallelPair.one_text("en", "fr", "a bad film", "un mauvais film", uid="mine"),
    ]
    assert pairs[0].uid == _content_id("a good film", "ein guter Film") and pairs[0].single_text
    path = write_parallel_jsonl(pairs, tmp_path / "one.jsonl")
    lines = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    assert lines[1] == {
        "src_lang": "en",
        "tgt_lang": "fr",
        "src_text": "a bad film",
        "tgt_text": "un mauvais film",
        "uid": "mine",
    }
    assert read_parallel_jsonl(path) == pairs
    # written by hand without uids: ids from the texts
    bare = write_jsonl(tmp_path / "bare.jsonl", [{k: v for k, v in lines[0].items() if k != "uid"}])
    assert read_parallel_jsonl(bare, source_language="en") == pairs[:1]
    two = ParallelPair("en", "de", "p", "h", "P", "H", "u")
    assert not two.single_text and two.to_dict() == dict(
        FIELDS, src_premise="p", src_hypothesis="h", tgt_premise="P", tgt_hypothesis="H", uid="u"
    )


def test_a_corpus_holds_one_kind_of_pair(tmp_path):
    one = {"src_lang": "en", "tgt_lang": "de", "src_text": "a", "tgt_text": "b"}
    mixed = write_jsonl(tmp_path / "mixed.jsonl", [one, dict(FIELDS)])
    with pytest.raises(DataError) as info:
        read_parallel_jsonl(mixed)
    assert str(info.value) == f"{mixed}:2: a two-text pair in a one-text corpus (line 1); one file holds one kind"
    both = write_jsonl(tmp_path / "both.jsonl", [dict(one, src_premise="a")])
    with pytest.raises(DataError, match=r"both.jsonl:1: a line holds src_text/tgt_text \(one text\) or premise"):
        read_parallel_jsonl(both)
    half = write_jsonl(tmp_path / "half.jsonl", [{k: v for k, v in one.items() if k != "tgt_text"}])
    with pytest.raises(DataError, match=r"half.jsonl:1: missing field 'tgt_text'; a line holds src_lang, tgt_lang"):
        read_parallel_jsonl(half)
