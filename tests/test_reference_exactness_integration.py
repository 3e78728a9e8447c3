"""DPA and SoftMV against their references on the real data (../shared: XNLI test in 15 languages, the k=256
split, the XLM-R tokenizer): the references' input rules re-implemented here from their code, compared on every
pair; a three-step DPA run against transformers 4.10's AdamW written out. Skipped where ../shared is absent."""

from __future__ import annotations

import math
import random
import string

import pytest
import torch
from conftest import SHARED_DATA, XLMR_TOKENIZER_DIR, needs_shared, needs_xlmr_tokenizer

from xlprompt.batching import TokenCache
from xlprompt.languages import XNLI_LANGUAGES

pytestmark = [needs_shared, needs_xlmr_tokenizer]

#: THU-BPM/SoftMV prompt/pvps/xnli_pvp.py:11-31, entailment / neutral / contradiction
SOFTMV_VERBALIZER = {
    "en": ("right", "maybe", "wrong"),
    "zh": ("是", "也许", "否"),
    "de": ("Ja", "vielleicht", "Nein"),
    "fr": ("oui", "possible", "non"),
    "ar": ("نعم", "يمكن", "لا"),
    "bg": ("да", "можеби", "не"),
    "el": ("Nαί", "μπορεί", "όχι"),
    "es": ("sí", "talvez", "no"),
    "hi": ("सच", "शायद", "झूठ"),
    "ru": ("да", "возможно", "нет"),
    "sw": ("ndio", "labda", "hasi"),
    "th": ("ใช่", "อาจจะ", "ไม่"),
    "tr": ("Evet", "belki", "hiçbir"),
    "ur": ("ہاں", "شاید", "نہیں"),
    "vi": ("dạ", "lẽ", "Không"),
}
#: cs_patternization.py:39
CS_LANGUAGES = ["zh", "de", "fr", "ar", "bg", "el", "es", "hi", "ru", "th", "tr", "vi"]


@pytest.fixture(scope="module")
def xnli_test():
    from xlprompt.data.xnli import load_xnli

    return {lang: load_xnli("test", lang, data_dir=SHARED_DATA) for lang in XNLI_LANGUAGES}


def dpa_reference_prompt(text_a: str, text_b: str, sep: str, mask: str) -> str:
    """DAMO-NLP-SG/DPA prompt_helper.py:325-354, as written there."""
    template = "{} {} {} {} ."
    if text_a[-1] != ".":
        if (
            (text_a[-1] <= "z" and text_a[-1] >= "a")
            or (text_a[-1] <= "Z" and text_a[-1] >= "A")
            or (text_a[-1] <= "9" and text_a[-1] >= "0")
        ):
            text_a += " ."
    if text_b[-1] != "?":
        if text_b[-1] == "!" or text_b[-1] == ".":
            tmp_list = list(text_b)
            tmp_list[-1] = "?"
            text_b = "".join(tmp_list)
        else:
            text_b += " ?"
    return template.format(text_a, sep, text_b, mask)


def test_dpa_ids_equal_the_references_on_every_xnli_test_pair(tiny_components, xlmr_tokenizer, xnli_test):
    from xlprompt.batching import TokenizedExample

    method = tiny_components(method="dpa", tokenizer=str(XLMR_TOKENIZER_DIR), max_length=256).method
    assert method.config.strip_punctuation is False  # DPA's prompt reads the raw texts (no id is read)
    checked = equal = 0
    per_language = {}
    for lang, examples in xnli_test.items():
        prompts = [dpa_reference_prompt(ex.premise, ex.hypothesis, "</s>", "<mask>") for ex in examples]
        reference = xlmr_tokenizer(prompts, truncation=True, max_length=256)["input_ids"]  # run-prompt.py:398-403
        tokenized = [TokenizedExample((), (), ex.label, lang, ex.uid, ex.premise, ex.hypothesis) for ex in examples]
        method.prepare_inputs(tokenized)  # what evaluation does first: the prompts tokenised in one batch
        ours = [method.encode_for_eval(ex, lang) for ex in tokenized]
        same = sum(tuple(r) == e.input_ids and r.index(250001) == e.mask_position for r, e in zip(reference, ours))
        checked, equal = checked + len(examples), equal + same
        per_language[lang] = len(examples) - same
    print(f"DPA: {checked} pairs checked, {equal} equal; differing per language: {per_language}")
    assert checked == 15 * 5010 and equal == checked, per_language


def softmv_reference_ids(tokenizer, text_a: str, text_b: str, encoded: dict | None = None) -> list[int]:
    """THU-BPM/SoftMV xnli_pvp.py:117-126 (get_parts) + pvp.py:149-205 (_encode), pattern 0, no truncation.
    ``encoded``: texts already encoded alone (``tokenizer.encode(x, add_special_tokens=False)``, batched)."""
    text_a = text_a if len(text_a.rstrip(string.punctuation)) == 0 else text_a.rstrip(string.punctuation)
    text_b = text_b if len(text_b.rstrip(string.punctuation)) == 0 else text_b.rstrip(string.punctuation)
    parts = [text_a, ".", text_b, "?", "the", "the", "the", "the", tokenizer.mask_token, "."]
    encoded = {} if encoded is None else encoded
    ids = [
        i
        for part in parts
        if part
        for i in (encoded[part] if part in encoded else tokenizer.encode(part, add_special_tokens=False))
    ]
    return [tokenizer.cls_token_id, *ids, tokenizer.sep_token_id]  # build_inputs_with_special_tokens (RoBERTa)


def softmv_reference_label_id(tokenizer, word: str) -> int:
    """THU-BPM/SoftMV prompt/utils.py:209-221 (force_single_token=True)."""
    ids = tokenizer.encode(word, add_special_tokens=False)
    return ids[0] if len(ids) == 1 else ids[-1]


def test_softmv_ids_and_label_ids_equal_the_references(tiny_components, xlmr_tokenizer, xnli_test):
    method = tiny_components(method="softmv", tokenizer=str(XLMR_TOKENIZER_DIR), max_length=256).method
    for lang, words in SOFTMV_VERBALIZER.items():
        assert method.table_ids[lang] == tuple(softmv_reference_label_id(xlmr_tokenizer, w) for w in words), lang
    cache = TokenCache(xlmr_tokenizer, method.config.strip_punctuation)
    checked = equal = 0
    per_language = {}
    for lang, examples in xnli_test.items():
        ours = [method.encode(ex) for ex in cache.examples(examples)]
        texts = list(
            dict.fromkeys(t.rstrip(string.punctuation) or t for ex in examples for t in (ex.premise, ex.hypothesis))
        )
        encoded = dict(zip(texts, xlmr_tokenizer(texts, add_special_tokens=False)["input_ids"]))  # each alone
        same = 0
        for ex, e in zip(examples, ours):
            ref = softmv_reference_ids(xlmr_tokenizer, ex.premise, ex.hypothesis, encoded)
            if len(ref) > 256:  # beyond max_length the truncation rules differ (documented); none in XNLI test
                continue
            same += tuple(ref) == e.input_ids
        checked, equal = checked + len(examples), equal + same
        per_language[lang] = len(examples) - same
    print(f"SoftMV: {checked} pairs checked, {equal} equal; differing per language: {per_language}")
    assert checked == 15 * 5010 and equal == checked, per_language


def test_softmv_code_switched_copies_equal_the_references_on_k256(tiny_components, xlmr_tokenizer, tmp_path):
    from xlprompt.data.fewshot import load_fewshot_split

    train = load_fewshot_split("train", 256, data_dir=SHARED_DATA)
    # dictionaries (MUSE's layout) over the split's own words, 1-3 translations each, for every language; a word
    # with its sentence-final punctuation ('again.') is in none, as in MUSE
    vocabulary = sorted(
        {w.strip(string.punctuation) for ex in train for t in (ex.premise, ex.hypothesis) for w in t.split()} - {""}
    )
    folder = tmp_path / "muse"
    folder.mkdir()
    dictionaries = {}
    for n, lang in enumerate(CS_LANGUAGES):
        pairs = [(w, f"{w}-{lang}{j}") for i, w in enumerate(vocabulary) if (i + n) % 3 for j in range(1 + i % 3)]
        (folder / f"en-{lang}.txt").write_text("".join(f"{s} {t}\n" for s, t in pairs), "utf-8")
        dictionaries[lang] = {}
        for s, t in pairs:
            dictionaries[lang].setdefault(s, []).append(t)
    method = tiny_components(
        method="softmv",
        tokenizer=str(XLMR_TOKENIZER_DIR),
        max_length=256,
        dictionary_dir=str(folder),
        softmv_cosda_rate=0.55,
    ).method

    def convert_4_1_token(token, rng):  # cs_patternization.py:250-262
        this_lang = rng.choice(CS_LANGUAGES)
        time = 0
        while time < 10 and token not in dictionaries[this_lang]:
            this_lang = rng.choice(CS_LANGUAGES)
            time += 1
        if token in dictionaries[this_lang]:
            return rng.choice(dictionaries[this_lang][token])
        return token

    def positive_sample(text, rng):  # cs_patternization.py:213-232, 265-273
        tokens = [t for t in text.strip().split() if t != ""]
        result = []
        for token in tokens:
            raw_token = token.replace("▁", "")
            result.append(convert_4_1_token(raw_token, rng) if rng.random() <= 0.55 else token)
        return " ".join(result)

    cache = TokenCache(xlmr_tokenizer, method.config.strip_punctuation)
    checked = equal = switched_words = longer = 0
    for ex, tokenized in zip(train, cache.examples(train)):
        rng = random.Random(f"{method.config.seed}:{ex.uid}")  # the same draws, given to both
        aug_a, aug_b = positive_sample(ex.premise, rng), positive_sample(ex.hypothesis, rng)
        reference = softmv_reference_ids(xlmr_tokenizer, aug_a, aug_b)  # trn_get_parts strips, then _encode
        switched = method.switched(tokenized)
        assert (switched.premise_text, switched.hypothesis_text) == tuple(
            t if not t.rstrip(string.punctuation) else t.rstrip(string.punctuation) for t in (aug_a, aug_b)
        )
        checked += 1
        if len(reference) > 256:  # beyond max_length: truncation differs (hypothesis first there; documented)
            longer += 1
            continue
        equal += tuple(reference) == method.encode(switched).input_ids
        switched_words += sum(a != b for a, b in zip(aug_a.split(), ex.premise.split()))
    print(
        f"SoftMV k=256 code-switched copies: {checked} checked (texts equal), ids: {equal} equal of "
        f"{checked - longer} within max_length ({longer} longer; {switched_words} premise words switched)"
    )
    assert checked == 768 and equal == checked - longer and longer < 20 and switched_words > 1000


def test_three_dpa_steps_move_the_weights_as_transformers_4_10_adamw(tiny_components, xlmr_tokenizer):
    from xlprompt.data.fewshot import load_fewshot_split
    from xlprompt.trainer import Trainer

    parts = tiny_components(
        method="dpa",
        tokenizer=str(XLMR_TOKENIZER_DIR),
        max_length=128,
        batch_size=2,
        grad_accumulation_steps=1,
        epochs=1,
    )
    method, config = parts.method, parts.method.config
    assert config.optimizer == "adamw_hf" and config.max_grad_norm == 1.0 and config.weight_decay == 0.0
    train = TokenCache(xlmr_tokenizer).examples(load_fewshot_split("train", 2, data_dir=SHARED_DATA))
    trainer = Trainer(method, config, train, [], None, None, progress=False)
    params = [p for g in trainer.optimizer.param_groups for p in g["params"]]
    start = [p.detach().clone().double() for p in params]
    grads = []
    step = trainer.optimizer.step

    def recording_step(*a, **k):  # the clipped gradients each update sees
        grads.append([None if p.grad is None else p.grad.detach().clone().double() for p in params])
        return step(*a, **k)

    trainer.optimizer.step = recording_step
    trainer.fit()
    assert len(grads) == 3
    lr, b1, b2, eps = config.lr, 0.9, 0.999, 1e-8
    moved, torch_gap = 0, 0.0
    for i, p in enumerate(params):  # transformers 4.10.3 optimization.py AdamW.step, written out
        theta, m, v, t = start[i], torch.zeros_like(start[i]), torch.zeros_like(start[i]), 0
        theta_torch = start[i]  # torch.optim.AdamW's formula on the same gradients, for contrast
        for g in (step_grads[i] for step_grads in grads):
            if g is None:
                continue
            t += 1
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            theta = theta - lr * math.sqrt(1 - b2**t) / (1 - b1**t) * m / (v.sqrt() + eps)
            theta_torch = theta_torch - lr * (m / (1 - b1**t)) / ((v / (1 - b2**t)).sqrt() + eps)
        final = p.detach().double()
        # float32 parameters: a few roundings of θ per step, nothing of the size of lr
        assert ((final - theta).abs() <= 1e-3 * lr + 4e-7 * theta.abs()).all(), i
        torch_gap = max(torch_gap, (final - theta_torch).abs().max().item())
        moved += int(not torch.equal(final, start[i]))
    assert moved == len(params)
    print(
        f"DPA 3 steps: {len(params)} tensors as transformers 4.10 AdamW; torch AdamW would differ by up to "
        f"{torch_gap / lr:.2f} lr"
    )
    assert torch_gap > 0.1 * lr
