"""The field's methods: DP, DPA and SoftMV — templates, losses recomputed by hand on a tiny model,
gradients reaching what each trains, DPA's mixup against its formula with a fixed draw, SoftMV's code-switching
and dictionaries, gradient accumulation, and a tiny task memorised."""

from __future__ import annotations

import json
import math
import random

import pytest
import torch
import torch.nn.functional as F
from conftest import needs_xlmr_tokenizer
from test_methods_learn import train_tiny

from xlprompt.batching import TokenCache
from xlprompt.data.examples import NLIExample
from xlprompt.data.muse import SOFTMV_LANGUAGES, SOURCE, load_dictionaries, read_dictionary
from xlprompt.errors import ConfigError, DataError
from xlprompt.evaluate import accuracy
from xlprompt.methods.softmv import code_switch
from xlprompt.trainer import Trainer

#: label words the builtin tiny tokenizer knows as single tokens (the references' tables are for XLM-R)
TINY_WORDS = {"en": ["yes", "maybe", "no"], "de": ["der", "die", "das"], "fr": ["la", "le", "et"]}


@pytest.fixture
def words_file(tmp_path):
    path = tmp_path / "words.json"
    path.write_text(json.dumps(TINY_WORDS), "utf-8")
    return str(path)


@pytest.fixture
def muse_dir(tmp_path):
    """MUSE-layout dictionaries for SoftMV's 12 languages, tiny and written here."""
    folder = tmp_path / "muse"
    folder.mkdir()
    for lang in SOFTMV_LANGUAGES:
        words = ["library", "rain", "the", "The", "is", "a", "in", "of", "to", "will", "are"]
        text = "".join(f"{w} {lang}-{w}\n" for w in words) + "coast coast\n"
        (folder / f"en-{lang}.txt").write_text(text, "utf-8")
    return str(folder)


def hf_mask_logits(plm, encoded):
    """Independent recomputation: the Hugging Face model's own MLM forward, logits at each row's <mask>."""
    rows = []
    for e in encoded:
        ids = torch.tensor([e.input_ids])
        rows.append(plm.hf_model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[0, e.mask_position])
    return torch.stack(rows)


def grad_sum(params):
    return sum(p.grad.abs().sum().item() for p in params if p.grad is not None)


# ----------------------------------------------------------------------------------------------- DP
@needs_xlmr_tokenizer
def test_dp_template_is_xlmrprompt_pattern_0(tiny_components, xlmr_tokenizer):
    from conftest import XLMR_TOKENIZER_DIR

    parts = tiny_components(method="dp", tokenizer=str(XLMR_TOKENIZER_DIR), label_words="right,maybe,wrong")
    assert parts.method.config.strip_punctuation  # the texts are stripped before tokenising (get_parts)
    ex = TokenCache(xlmr_tokenizer, True).examples([NLIExample("He left again.", "He is gone!", 0, "en", "u")])[0]
    encoded = parts.method.encode_for_eval(ex, "de")
    pieces = xlmr_tokenizer.convert_ids_to_tokens(list(encoded.input_ids))
    # X_P . Question: X_H ? Answer: <mask> .  (punctuation stripped, each part tokenised on its own)
    assert pieces == [
        "<s>",
        "▁He",
        "▁left",
        "▁again",
        "▁",
        ".",
        "▁Question",
        ":",
        "▁He",
        "▁is",
        "▁gone",
        "▁?",
        "▁Answer",
        ":",
        "<mask>",
        "▁",
        ".",
        "</s>",
    ]
    assert encoded.mask_position == 14 and encoded.prompt_positions == ()
    assert xlmr_tokenizer.convert_ids_to_tokens(parts.method.label_ids("de").tolist()) == ["▁right", "▁maybe", "▁wrong"]


def test_dp_loss_is_ce_over_label_word_logits(tiny_components, demo_train):
    parts = tiny_components(method="dp", scoring="labels")
    method, tok = parts.method, parts.tokenizer
    method.eval()
    batch = demo_train(tok)
    out = method.training_loss(batch, None, torch.Generator())
    with torch.no_grad():
        logits = hf_mask_logits(method.plm, [method.encode_for_eval(ex, "en") for ex in batch])
        words = logits[:, method.label_ids("en")]
        expected = -sum(torch.log_softmax(words[i], -1)[ex.label] for i, ex in enumerate(batch)) / len(batch)
    assert out.loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert method.extra_modules() == {}
    out.loss.backward()
    assert method.plm.word_embeddings.weight.grad.abs().sum() > 0
    assert all(grad_sum(layer.parameters()) > 0 for layer in method.plm.hf_model.roberta.encoder.layer)


# ----------------------------------------------------------------------------------------------- DPA
@needs_xlmr_tokenizer
def test_dpa_template_equals_the_references_whole_string_tokenisation(tiny_components, xlmr_tokenizer):
    from conftest import XLMR_TOKENIZER_DIR

    method = tiny_components(method="dpa", tokenizer=str(XLMR_TOKENIZER_DIR)).method
    cache = TokenCache(xlmr_tokenizer)
    cases = [  # (premise, hypothesis, the reference's pieces after <s>, written out)
        ("He left again", "He is gone.", ["▁He", "▁left", "▁again", "▁", ".", "</s>", "▁He", "▁is", "▁gone", "?"]),
        ("Er ging.", "Er ist weg", ["▁Er", "▁ging", ".", "</s>", "▁Er", "▁ist", "▁weg", "▁?"]),
        ("Is it?", "It is?", ["▁Is", "▁it", "?", "</s>", "▁It", "▁is", "?"]),
    ]
    for premise, hypothesis, expected in cases:
        ex = cache.examples([NLIExample(premise, hypothesis, 0, "en", premise)])[0]
        pieces = xlmr_tokenizer.convert_ids_to_tokens(list(method.encode_for_eval(ex, "en").input_ids))
        assert pieces == ["<s>", *expected, "<mask>", "▁", ".", "</s>"], premise
    # the label words: last piece of each (encode(verb)[-2]); Chinese 是 is '▁' '是' -> '是'
    zh = xlmr_tokenizer.convert_ids_to_tokens(list(method.table_ids["zh"]))
    assert zh == ["是", "也许", "否"]
    assert xlmr_tokenizer.convert_ids_to_tokens(list(method.table_ids["en"])) == ["▁yes", "▁maybe", "▁no"]
    assert len(method.table_ids) == 15 and method.optim_langs == tuple(method.table_ids)


def dpa_by_hand(method, batch, lambdas):
    """DPA's loss written out (modeling_xlmr.py mixup_input + mixup_loss_multilingual), from the HF modules."""
    hf = method.plm.hf_model
    hidden = []
    for ex in batch:
        e = method.encode_for_eval(ex, "en")
        ids = torch.tensor([e.input_ids])
        hidden.append(
            hf.roberta(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state[0, e.mask_position]
        )
    rows = list(hidden)
    for j, lam in enumerate(lambdas):
        rows.append(lam * hidden[2 * j] + (1 - lam) * hidden[2 * j + 1])
    log_p = torch.log_softmax(hf.lm_head(torch.stack(rows)), -1)
    langs = list(method.table_ids.values())
    b, p = len(batch), len(lambdas)
    normal = sum(-log_p[i, ids[ex.label]] for ids in langs for i, ex in enumerate(batch)) / (len(langs) * b)
    fake = 0.0
    for j, lam in enumerate(lambdas):
        y0, y1 = batch[2 * j].label, batch[2 * j + 1].label
        fake = fake + sum(lam * -log_p[b + j, ids[y0]] + (1 - lam) * -log_p[b + j, ids[y1]] for ids in langs) / len(
            langs
        )
    fake = fake / p
    return normal * b / (b + p) + fake * p / (b + p), normal


@pytest.mark.parametrize("size", [2, 3, 6])
def test_dpa_mixup_loss_against_its_formula_with_a_fixed_draw(tiny_components, demo_train, words_file, size):
    method = tiny_components(method="dpa", label_words_file=words_file).method
    method.eval()  # no dropout: the hand computation sees the same hidden states
    rows = demo_train(method.tokenizer)  # labels 0 0 1 1 2 2: interleave so that pairs mix two classes
    batch = [rows[i] for i in (0, 2, 4, 1, 3, 5)][:size]
    assert batch[0].label != batch[1].label
    fixed = torch.tensor([0.3, 0.8, 0.55])[: size // 2]
    method.draw_lambdas = lambda n: fixed[:n]
    out = method.training_loss(batch, None, torch.Generator())
    with torch.no_grad():
        expected, normal = dpa_by_hand(method, batch, fixed.tolist())
    assert out.loss.item() == pytest.approx(float(expected), rel=1e-5)
    assert out.parts["ce"] == pytest.approx(float(normal), rel=1e-5)
    if size == 2:  # the reference's 2/3 and 1/3
        assert out.loss.item() == pytest.approx(2 / 3 * out.parts["ce"] + 1 / 3 * out.parts["mixup_ce"], rel=1e-6)


def test_dpa_mixes_the_hidden_state_at_mask_before_the_head(tiny_components, demo_train, words_file):
    method = tiny_components(method="dpa", label_words_file=words_file).method
    method.eval()
    batch = demo_train(method.tokenizer)[:2]
    method.draw_lambdas = lambda n: torch.tensor([0.25])
    seen = []
    original = method.plm.head_transform
    method.plm.head_transform = lambda h: (seen.append(h.detach().clone()), original(h))[1]
    method.training_loss(batch, None, torch.Generator())
    (rows,) = seen
    assert rows.shape == (3, method.plm.hidden_size)
    assert torch.allclose(rows[2], 0.25 * rows[0] + 0.75 * rows[1], atol=1e-6)


def test_dpa_options(tiny_components, demo_train, words_file):
    mono = tiny_components(method="dpa", label_words_file=words_file, dpa_multilingual_optim=False).method
    assert mono.optim_langs == ("en",)
    none = tiny_components(method="dpa", label_words_file=words_file, dpa_mixup_strategy="none").method
    none.eval()
    calls = []
    none.draw_lambdas = lambda n: calls.append(n)
    out = none.training_loss(demo_train(none.tokenizer), None, torch.Generator())
    assert calls == [] and out.loss.item() == pytest.approx(out.parts["ce"])
    for mode in ("source", "language", "max"):
        m = tiny_components(method="dpa", label_words_file=words_file, dpa_test_label_words=mode).method
        m.eval()
        batch = demo_train(m.tokenizer)
        with torch.no_grad():
            scores = m.class_scores(batch, "de")
            full = hf_mask_logits(m.plm, [m.encode_for_eval(ex, "de") for ex in batch])
        if mode == "source":  # the source language's words (XNLI: English) for every language
            expected = full[:, list(m.table_ids["en"])]
        elif mode == "language":
            expected = full[:, list(m.table_ids["de"])]
        else:
            expected = torch.stack([full[:, list(ids)] for ids in m.table_ids.values()]).max(0).values.clamp_min(0)
        assert torch.allclose(scores, expected, atol=1e-5), mode


def test_dpa_trains_the_whole_lm(tiny_components, demo_train, words_file):
    method = tiny_components(method="dpa", label_words_file=words_file).method
    out = method.training_loss(demo_train(method.tokenizer), None, torch.Generator())
    out.loss.backward()
    assert method.extra_modules() == {}
    assert method.plm.word_embeddings.weight.grad.abs().sum() > 0
    assert all(grad_sum(layer.parameters()) > 0 for layer in method.plm.hf_model.roberta.encoder.layer)
    assert grad_sum(method.plm.hf_model.lm_head.dense.parameters()) > 0


def test_grad_accumulation_adds_scaled_micro_batch_gradients(tiny_components, demo_train):
    parts = tiny_components(method="dp", grad_accumulation_steps=2, batch_size=2)
    method = parts.method
    method.eval()
    batch = demo_train(parts.tokenizer)[:4]
    trainer = Trainer(method, method.config, batch, [], None, None, progress=False)
    assert trainer.steps_per_epoch == 2 and trainer.updates_per_epoch == 1
    trainer.train_step(batch[:2], None, torch.Generator(), update=False, scale=0.5)
    trainer.train_step(batch[2:], None, torch.Generator(), update=False, scale=0.5)
    accumulated = method.plm.word_embeddings.weight.grad.clone()
    method.zero_grad(set_to_none=True)
    method.training_loss(batch, None, torch.Generator()).loss.backward()
    assert torch.allclose(accumulated, method.plm.word_embeddings.weight.grad, atol=1e-6)
    # in fit: an optimiser step every 2 micro-batches, and one at the end of an odd epoch
    odd = tiny_components(method="dp", grad_accumulation_steps=2, batch_size=2, epochs=1)
    trainer = Trainer(odd.method, odd.method.config, demo_train(odd.tokenizer), [], None, None, progress=False)
    trainer.fit()
    first = trainer.optimizer.param_groups[0]["params"][0]
    assert trainer.steps_per_epoch == 3 and int(trainer.optimizer.state[first]["step"]) == 2


# ----------------------------------------------------------------------------------------------- SoftMV
def test_muse_reader_and_source(tmp_path):
    path = tmp_path / "en-de.txt"
    path.write_text("house haus\nhouse heim\nTV TV\n\nrain\tregen\n", "utf-8")
    assert read_dictionary(path) == {"house": ["haus", "heim"], "rain": ["regen"]}
    path.write_text("house haus\nbroken line here\n", "utf-8")
    with pytest.raises(DataError, match=r"en-de.txt:2: expected 'source target'"):
        read_dictionary(path)
    with pytest.raises(DataError, match="data fetch --only muse"):
        load_dictionaries(tmp_path / "nowhere")
    assert SOURCE["name"] == "muse" and len(SOURCE["files"]) == 12
    assert SOURCE["files"][0] == {
        "url": "https://dl.fbaipublicfiles.com/arrival/dictionaries/en-zh.txt",
        "path": "muse/en-zh.txt",
    }


def test_code_switch_replaces_dictionary_words():
    dictionaries = {"de": {"house": ["haus"]}, "fr": {"house": ["maison"], "rain": ["pluie"]}}
    # rate 1: every word is tried; a word no dictionary knows stays
    out = code_switch(["the", "house", "rain"], dictionaries, 1.0, random.Random(0))
    assert out[0] == "the" and out[1] in ("haus", "maison") and out[2] == "pluie"
    assert code_switch(["the", "house"], dictionaries, 0.0, random.Random(0)) == ["the", "house"]
    # the draws as the reference makes them: random() <= rate, then a language, then a translation
    rng, words = random.Random(5), ["house"] * 20
    got = code_switch(words, dictionaries, 0.5, random.Random(5))
    expected = []
    for w in words:
        if rng.random() <= 0.5:
            lang = rng.choice(["de", "fr"])
            expected.append(rng.choice(dictionaries[lang][w]))
        else:
            expected.append(w)
    assert got == expected and "house" in got and set(got) - {"house"}


def test_softmv_needs_a_dictionary_folder(tiny_components, words_file):
    with pytest.raises(ConfigError, match="dictionary_dir"):
        tiny_components(method="softmv", label_words_file=words_file, softmv_cosda_rate=0.55)
    tiny_components(method="softmv", label_words_file=words_file, softmv_cosda_rate=0.0)  # no code-switching


def test_softmv_switched_copy_and_template(tiny_components, words_file, muse_dir):
    parts = tiny_components(
        method="softmv", label_words_file=words_file, dictionary_dir=muse_dir, softmv_cosda_rate=1.0
    )
    method, tok = parts.method, parts.tokenizer
    ex = TokenCache(tok).examples([NLIExample("The library is near the coast.", "Rain falls.", 0, "en", "x")])[0]
    switched = method.switched(ex)
    text = tok.decode(list(switched.premise))
    assert "-library" in text and "coast" in text and "library" != text.split()[1]
    assert method.switched(ex) is switched  # built once
    encoded = method.encode(ex)
    assert len(encoded.prompt_positions) == 4 and encoded.prompt_positions[-1] + 1 == encoded.mask_position
    with torch.no_grad():  # --init_from_vocab
        assert torch.equal(method.prompt_encoder.embedding, method.plm.word_embeddings.weight[:4])


def test_softmv_loss_by_hand(tiny_components, demo_train, words_file, muse_dir):
    parts = tiny_components(
        method="softmv", label_words_file=words_file, dictionary_dir=muse_dir, softmv_cosda_rate=0.55
    )
    method, tok = parts.method, parts.tokenizer
    method.eval()
    batch = demo_train(tok)
    seen = []
    original = method.mask_states
    method.mask_states = lambda enc, prompts=None: (seen.append(original(enc, prompts)), seen[-1])[1]
    out = method.training_loss(batch, None, torch.Generator())
    n = len(batch)
    with torch.no_grad():
        hidden = seen[0]
        w, bias = method.plm.decoder.weight, method.plm.hf_model.lm_head.bias
        langs = list(TINY_WORDS)
        ids = [method.tokenizer(words, add_special_tokens=False)["input_ids"] for words in TINY_WORDS.values()]
        ids = [[row[0] for row in lang] for lang in ids]
        scores = sum(hidden @ w[i].T + bias[i] for i in ids) / len(langs)  # mean over the languages' words
        s, s_cs = scores[:n], scores[n:]
        y = torch.tensor([ex.label for ex in batch])
        ce = F.cross_entropy(s, y)
        ce_cs = F.cross_entropy(s_cs, y)
        p1, p2 = torch.softmax(s, -1), torch.softmax(s_cs, -1)
        kl = (p2 * (p2.log() - p1.log())).sum() / n  # KLDivLoss(batchmean)(log p1, p2) = KL(p2 || p1)
    assert out.loss.item() == pytest.approx((ce + ce_cs + 0.3 * kl).item(), rel=1e-5)
    assert out.parts["kl"] == pytest.approx(kl.item(), rel=1e-4, abs=1e-7)
    assert ce.item() != pytest.approx(ce_cs.item())  # the copy differs from the original
    method.mask_states = original
    method.train()
    method.zero_grad()
    method.training_loss(batch, None, torch.Generator()).loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in method.prompt_encoder.parameters())
    assert method.plm.word_embeddings.weight.grad.abs().sum() > 0
    with torch.no_grad():  # test time: the multilingual verbalizer for every language
        method.eval()
        enc = [method.encode(ex) for ex in batch]
        h = original(enc, method.prompt_encoder().expand(n, -1, -1))
        assert torch.allclose(method.class_scores(batch, "sw"), sum(h @ w[i].T + bias[i] for i in ids) / 3, atol=1e-5)


# ----------------------------------------------------------------------------------------------- learning
@pytest.mark.parametrize("method_name", ["dp", "dpa", "softmv"])
def test_field_method_memorises_six_examples(
    tiny_components, demo_train, demo_pairs, words_file, muse_dir, method_name
):
    # DPA's CE is over the full vocabulary (it starts near ln|V|), like MPT's vocab scoring: a larger lr
    extra = {
        "dp": {},
        "dpa": {"label_words_file": words_file, "lr": 1e-2},
        "softmv": {"label_words_file": words_file, "dictionary_dir": muse_dir},
    }[method_name]
    parts, train, history, before = train_tiny(tiny_components, demo_train, demo_pairs, method=method_name, **extra)
    first, last = history[0]["ce"], history[-1]["ce"]
    assert last < 0.5 * first, [round(h["ce"], 3) for h in history]
    assert accuracy(parts.method, train, "en", 32) == 1.0
    assert math.isfinite(history[-1]["loss"])


def test_recipes_name_config_keys_and_cite_sources(tiny_components):
    import dataclasses

    from xlprompt.config import RunConfig
    from xlprompt.methods import discrete_prompt, dpa, softmv

    keys = {f.name for f in dataclasses.fields(RunConfig)}
    for module in (discrete_prompt, dpa, softmv):
        assert set(module.RECIPE) <= keys, module.__name__
        assert set(module.RECIPE) == set(module.RECIPE_SOURCES), module.__name__
        RunConfig(method=module.__name__.rsplit(".", 1)[1].replace("discrete_prompt", "dp"), **module.RECIPE)
    assert dpa.RECIPE["grad_accumulation_steps"] == 4 and dpa.RECIPE["batch_size"] == 2
    assert "dpa-xnli.sh:26" in dpa.RECIPE_SOURCES["grad_accumulation_steps"]
    for name in ("dp", "dpa"):
        with pytest.raises(ConfigError, match="nothing to train"):
            tiny_components(method=name, freeze_plm=True)
