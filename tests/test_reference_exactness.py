"""DPA, SoftMV and PCT compute what their authors' code computes by default: text rules on text, the references'
label pieces, transformers 4.10's AdamW and accumulation rule, SoftMV's data order, test weights and rate, Keras's
clipped KL. Every expectation is written out or recomputed here by hand (pieces, update formulas), never by
calling xlprompt back. The checks over the real XNLI data are in test_reference_exactness_integration.py."""

from __future__ import annotations

import math
import random

import pytest
import torch
from conftest import XLMR_TOKENIZER_DIR, needs_xlmr_tokenizer

from xlprompt.batching import TokenCache
from xlprompt.config import INPUT_KEYS, RunConfig
from xlprompt.data.examples import NLIExample
from xlprompt.data.muse import SOFTMV_LANGUAGES
from xlprompt.losses import symmetric_kl
from xlprompt.recipes import method_recipe
from xlprompt.trainer import AdamWHF410, Trainer


@pytest.fixture
def words_file(tmp_path):
    """Label words the builtin tiny tokenizer knows (the references' tables are XLM-R's)."""
    import json

    path = tmp_path / "words.json"
    path.write_text(json.dumps({"en": ["yes", "maybe", "no"], "de": ["der", "die", "das"]}), "utf-8")
    return str(path)


def pieces_of(tokenizer, ids):
    return tokenizer.convert_ids_to_tokens(list(ids))


# ------------------------------------------------------------------------------------------- recipes
def test_every_recipe_states_the_keys_that_shape_its_inputs():
    from xlprompt.methods import METHOD_CLASSES

    assert {"strip_punctuation", "template_punctuation", "max_length"} <= set(INPUT_KEYS)
    for name in METHOD_CLASSES:
        recipe, sources = method_recipe(name)
        missing = [k for k in INPUT_KEYS if k not in recipe]
        assert not missing, f"{name}'s RECIPE leaves {missing} to the generic default"
        assert all(sources.get(k) for k in INPUT_KEYS), name


def test_defaults_are_the_authors_runs():
    dpa = RunConfig(method="dpa")
    assert (dpa.optimizer, dpa.grad_accumulation_leftover, dpa.strip_punctuation) == ("adamw_hf", "carry", False)
    softmv = RunConfig(method="softmv")
    assert (softmv.softmv_cosda_rate, softmv.train_order, softmv.test_weights, softmv.strip_punctuation) == (
        0.0,
        "sequential",
        "last",
        True,
    )
    assert "ptuning.sh:9,34" in method_recipe("softmv")[1]["softmv_cosda_rate"]
    assert RunConfig(method="pct").pct_kl_clip == 1e-7
    for name in ("mpt", "sp", "ft", "dp"):  # the others keep what they ran before these settings existed
        c = RunConfig(method=name)
        assert (
            c.optimizer != "adamw_hf",
            c.grad_accumulation_leftover,
            c.train_order,
            c.test_weights,
            c.pct_kl_clip,
            c.softmv_cosda_rate,
        ) == (True, "step", "shuffle", "best_dev", 0.0, 0.55), name


# ------------------------------------------------------------------------------------------- DPA's template
@needs_xlmr_tokenizer
def test_dpa_punctuation_rules_act_on_the_string(tiny_components, xlmr_tokenizer):
    method = tiny_components(method="dpa", tokenizer=str(XLMR_TOKENIZER_DIR)).method
    cache = TokenCache(xlmr_tokenizer, method.config.strip_punctuation)
    cases = [  # (premise, hypothesis, the reference's pieces: prompt_helper.py:325-354, tokenised whole)
        # "gone ." -> "gone ?": the piece '▁?' (an edit of the last id gave '▁' '?')
        ("He left again", "He is gone .", ["▁He", "▁left", "▁again", "▁", ".", "</s>", "▁He", "▁is", "▁gone", "▁?"]),
        # full-width ！ and ？ are no ASCII '!' / '?': the string gets " ?" (NFKC shows them as '!' '?' pieces)
        ("他走了", "他走了！", ["▁他", "走了", "</s>", "▁他", "走了", "!", "▁?"]),
        ("他走了？", "他不在？", ["▁他", "走了", "?", "</s>", "▁他", "不在", "?", "▁?"]),
        ("Er ging.", "Er ist weg!", ["▁Er", "▁ging", ".", "</s>", "▁Er", "▁ist", "▁weg", "?"]),
        ("Is it 4", "It is?", ["▁Is", "▁it", "▁4", "▁", ".", "</s>", "▁It", "▁is", "?"]),
    ]
    for premise, hypothesis, expected in cases:
        ex = cache.examples([NLIExample(premise, hypothesis, 0, "en", premise + hypothesis)])[0]
        encoded = method.encode_for_eval(ex, "en")
        assert pieces_of(xlmr_tokenizer, encoded.input_ids) == ["<s>", *expected, "<mask>", "▁", ".", "</s>"], (
            premise,
            hypothesis,
        )
        assert encoded.mask_position == len(expected) + 1


@needs_xlmr_tokenizer
def test_dpa_truncation_keeps_the_mask(tiny_components, xlmr_tokenizer):
    method = tiny_components(method="dpa", tokenizer=str(XLMR_TOKENIZER_DIR), max_length=16).method
    ex = TokenCache(xlmr_tokenizer).examples([NLIExample("a " * 30 + "end", "b " * 4 + "end.", 0, "en", "t")])[0]
    encoded = method.encode_for_eval(ex, "en")
    pieces = pieces_of(xlmr_tokenizer, encoded.input_ids)
    assert len(pieces) == 16 and pieces[encoded.mask_position] == "<mask>" and pieces[-3:] == ["▁", ".", "</s>"]
    # longest first: the premise is cut down to the hypothesis's 6 pieces (▁b ×4 ▁end ?), then the hypothesis
    assert pieces.count("</s>") == 2 and pieces[1:6] == ["▁a"] * 5


# ------------------------------------------------------------------------------------------- SoftMV
@needs_xlmr_tokenizer
def test_softmv_label_words_take_the_last_piece(tiny_components, xlmr_tokenizer):
    method = tiny_components(method="softmv", tokenizer=str(XLMR_TOKENIZER_DIR)).method
    # prompt/utils.py:212-221: ids[-1] when a word is several pieces; 'Nαί' is '▁N' 'αί', '是' is '▁' '是'
    assert pieces_of(xlmr_tokenizer, method.table_ids["el"]) == ["αί", "▁μπορεί", "▁όχι"]
    assert pieces_of(xlmr_tokenizer, method.table_ids["zh"]) == ["是", "也许", "否"]
    assert pieces_of(xlmr_tokenizer, method.table_ids["en"]) == ["▁right", "▁maybe", "▁wrong"]


@needs_xlmr_tokenizer
def test_softmv_strips_the_text_once(tiny_components, xlmr_tokenizer):
    method = tiny_components(method="softmv", tokenizer=str(XLMR_TOKENIZER_DIR)).method
    cache = TokenCache(xlmr_tokenizer, method.config.strip_punctuation)
    # rstrip(string.punctuation) on the text keeps the full-width ！ (an id-level second strip removed it)
    ex = cache.examples([NLIExample("他走了！", "He is gone...", 0, "zh", "z")])[0]
    assert pieces_of(xlmr_tokenizer, method.encode(ex).input_ids) == [
        "<s>",
        "▁他",
        "走了",
        "!",
        "▁",
        ".",
        "▁He",
        "▁is",
        "▁gone",
        "▁?",
        "▁the",
        "▁the",
        "▁the",
        "▁the",
        "<mask>",
        "▁",
        ".",
        "</s>",
    ]


def test_softmv_switches_the_raw_text(tiny_components, tmp_path, words_file):
    folder = tmp_path / "muse"
    folder.mkdir()
    for lang in SOFTMV_LANGUAGES:
        (folder / f"en-{lang}.txt").write_text(f"coast {lang}coast\nrain {lang}rain\n", "utf-8")
    method = tiny_components(
        method="softmv", dictionary_dir=str(folder), softmv_cosda_rate=1.0, label_words_file=words_file
    ).method
    tok = method.tokenizer
    ex = TokenCache(tok, True).examples([NLIExample("rain on the coast.", "rain!", 0, "en", "x")])[0]
    switched = method.switched(ex)
    # 'coast.' keeps its full stop when it is switched (no dictionary has it), then the pattern strips it;
    # 'rain!' likewise; 'rain' alone is switched (rate 1)
    words = switched.premise_text.split()
    assert words[0].endswith("rain") and words[0] != "rain" and words[1:] == ["on", "the", "coast"]
    assert switched.hypothesis_text == "rain"
    assert switched.premise == tuple(tok(switched.premise_text, add_special_tokens=False)["input_ids"])
    # the draws as cs_patternization.py:265-273 makes them, on the raw words
    rng = random.Random(f"{method.config.seed}:x")
    expected = []
    for word in ["rain", "on", "the", "coast."]:
        if rng.random() <= 1.0:
            lang = rng.choice(list(SOFTMV_LANGUAGES))
            tries = 0
            while tries < 10 and word not in {"coast", "rain"}:
                lang, tries = rng.choice(list(SOFTMV_LANGUAGES)), tries + 1
            expected.append(f"{lang}{word}" if word in {"coast", "rain"} else word)
    assert " ".join(expected).rstrip(".") == switched.premise_text


def test_softmv_rate_zero_trains_on_the_example_twice(tiny_components, demo_train, words_file):
    method = tiny_components(
        method="softmv", label_words_file=words_file
    ).method  # default: ptuning.sh's rate 0, no dictionaries needed
    ex = demo_train(method.tokenizer)[0]
    assert method.config.softmv_cosda_rate == 0.0 and method.switched(ex) is ex


# ------------------------------------------------------------------------------------------- data order, weights
def _record_batches(trainer):
    seen = []
    original = trainer.train_step

    def step(batch, pairs, generator, epoch=0, step=0, update=True, scale=1.0):
        seen.append((epoch, step, update, [ex.uid for ex in batch]))
        return original(batch, pairs, generator, epoch, step, update, scale)

    trainer.train_step = step
    return seen


def test_train_order_sequential_keeps_the_file_order(tiny_components, demo_train):
    parts = tiny_components(method="sp", batch_size=2, epochs=2, train_order="sequential")
    train = demo_train(parts.tokenizer)
    trainer = Trainer(parts.method, parts.method.config, train, [], None, None, progress=False)
    seen = _record_batches(trainer)
    trainer.fit()
    uids = [ex.uid for ex in train]
    assert [s[3] for s in seen] == [uids[0:2], uids[2:4], uids[4:6]] * 2
    shuffled = tiny_components(method="sp", batch_size=2, epochs=2)
    trainer = Trainer(shuffled.method, shuffled.method.config, train, [], None, None, progress=False)
    seen = _record_batches(trainer)
    trainer.fit()
    assert [u for s in seen for u in s[3]] != uids * 2


@pytest.mark.parametrize("weights", ["last", "best_dev"])
def test_test_weights(tiny_components, demo_train, weights):
    parts = tiny_components(method="sp", batch_size=6, epochs=3, lr=0.05, test_weights=weights)
    method = parts.method
    train = demo_train(parts.tokenizer)
    snapshots = []
    trainer = Trainer(
        method,
        method.config,
        train,
        train[:3],
        None,
        None,
        progress=False,
        on_epoch_end=lambda h: snapshots.append({k: v.detach().clone() for k, v in method.trainable_state().items()}),
    )
    dev_scores = iter([50.0, 90.0, 70.0])  # the dev accuracies of the three epochs: the best is epoch 2
    import xlprompt.trainer as trainer_module

    original = trainer_module.accuracy
    trainer_module.accuracy = lambda *a, **k: next(dev_scores) / 100.0
    try:
        result = trainer.fit()
    finally:
        trainer_module.accuracy = original
    assert result.best_epoch == 2
    tested = {k: v.detach() for k, v in method.trainable_state().items()}
    want = snapshots[2] if weights == "last" else snapshots[1]
    other = snapshots[1] if weights == "last" else snapshots[2]
    assert all(torch.equal(tested[k], want[k]) for k in want)
    assert not all(torch.equal(tested[k], other[k]) for k in other)


# ------------------------------------------------------------------------------------------- gradient accumulation
@pytest.mark.parametrize(
    "rule, micro, expected",
    [
        # 6 micro-batches per epoch, N = 4, 2 epochs
        ("carry", 6, [(0, 3), (1, 3)]),  # HF 4.10: 6 > 4, no step at the epoch's end; 4, 5 carried into epoch 2
        ("step", 6, [(0, 3), (0, 5), (1, 3), (1, 5)]),
        # 3 micro-batches <= N: HF 4.10 steps at the epoch's last micro-batch
        ("carry", 3, [(0, 2), (1, 2)]),
    ],
)
def test_grad_accumulation_leftover_rule(tiny_components, demo_train, rule, micro, expected):
    parts = tiny_components(
        method="dp", batch_size=1, epochs=2, grad_accumulation_steps=4, grad_accumulation_leftover=rule
    )
    train = demo_train(parts.tokenizer)[:micro]
    trainer = Trainer(parts.method, parts.method.config, train, [], None, None, progress=False)
    seen = _record_batches(trainer)
    trainer.fit()
    updates = [(s[0], s[1]) for s in seen if s[2]]
    assert updates == expected
    assert trainer.updates_per_epoch == (max(micro // 4, 1) if rule == "carry" else math.ceil(micro / 4))
    if rule == "carry" and micro == 6:  # epoch 2's step sums 6 micro-batches: no zeroing between epochs
        first = trainer.optimizer.param_groups[0]["params"][0]
        assert int(trainer.optimizer.state[first]["step"]) == 2


def test_carried_gradients_survive_a_checkpoint(tiny_components, demo_train, tmp_path):
    parts = tiny_components(
        method="dp",
        batch_size=1,
        epochs=1,
        grad_accumulation_steps=4,
        grad_accumulation_leftover="carry",
        checkpoint_every_s=0,
    )
    train = demo_train(parts.tokenizer)  # 6 micro-batches: 2 left over at the end of the epoch
    trainer = Trainer(parts.method, parts.method.config, train, [], None, tmp_path, progress=False)
    trainer.fit()
    from xlprompt.checkpoint import load_checkpoint

    state = load_checkpoint(tmp_path)
    params = [p for g in trainer.optimizer.param_groups for p in g["params"]]
    assert state["carried_grads"] is not None
    assert all(torch.equal(g, p.grad) for g, p in zip(state["carried_grads"], params) if g is not None)


# ------------------------------------------------------------------------------------------- AdamW of transformers 4.10
def hf410_adamw_by_hand(theta, grads, lr, eps=1e-8, wd=0.0, b1=0.9, b2=0.999):
    """transformers 4.10.3 optimization.py AdamW.step, element by element in float64."""
    theta, m, v = list(theta), [0.0] * len(theta), [0.0] * len(theta)
    for t, g in enumerate(grads, 1):
        for i, gi in enumerate(g):
            m[i] = b1 * m[i] + (1 - b1) * gi
            v[i] = b2 * v[i] + (1 - b2) * gi * gi
            step = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
            theta[i] = theta[i] - step * m[i] / (math.sqrt(v[i]) + eps)
            theta[i] = theta[i] - lr * wd * theta[i]
    return theta


@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_adamw_hf_is_transformers_4_10s_update(wd):
    theta0 = [0.5, -0.25, 1.0, 0.0]
    grads = [[1e-9, -2e-8, 0.3, 0.0], [3e-9, 1e-8, -0.2, 1e-7], [-1e-9, 5e-9, 0.1, 0.0]]  # small entries matter
    lr = 1e-3
    p = torch.nn.Parameter(torch.tensor(theta0, dtype=torch.float64))
    opt = AdamWHF410([{"params": [p], "weight_decay": wd}], lr)
    for g in grads:
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
    expected = hf410_adamw_by_hand(theta0, grads, lr, wd=wd)
    assert p.detach().tolist() == pytest.approx(expected, rel=1e-12, abs=1e-15)
    # torch's AdamW (eps after the bias correction) moves the small-gradient entries differently
    q = torch.nn.Parameter(torch.tensor(theta0, dtype=torch.float64))
    torch_opt = torch.optim.AdamW([q], lr=lr, eps=1e-8, weight_decay=wd)
    for g in grads:
        q.grad = torch.tensor(g, dtype=torch.float64)
        torch_opt.step()
    assert abs(q[0].item() - expected[0]) > 0.1 * lr and abs(q[1].item() - expected[1]) > 0.1 * lr


def test_optimizer_adamw_hf_builds_transformers_adamw(tiny_components):
    parts = tiny_components(method="dp", optimizer="adamw_hf")
    trainer = Trainer(parts.method, parts.method.config, [object()], [], None, None, progress=False)
    assert isinstance(trainer.optimizer, AdamWHF410)
    assert all(g["eps"] == 1e-8 and g["betas"] == (0.9, 0.999) for g in trainer.optimizer.param_groups)


# ------------------------------------------------------------------------------------------- PCT's Keras KL
def test_pct_kl_clip_is_keras_kld():
    logits_a = torch.tensor([[12.0, 0.0, -9.0, 3.0, -20.0], [1.0, 2.0, 3.0, 4.0, 5.0]], requires_grad=True)
    logits_b = torch.tensor([[10.0, 1.0, -15.0, 2.0, -1.0], [5.0, 4.0, 3.0, 2.0, -30.0]], requires_grad=True)
    eps = 1e-7

    def keras_kld(y_true, y_pred):  # tf.keras.losses.kld: clip both to [epsilon, 1], sum y log(y / y_pred)
        total = 0.0
        for t, p in zip(y_true, y_pred):
            t, p = min(max(t, eps), 1.0), min(max(p, eps), 1.0)
            total += t * math.log(t / p)
        return total

    pa = torch.softmax(logits_a.double(), -1).tolist()
    pb = torch.softmax(logits_b.double(), -1).tolist()
    expected = sum(keras_kld(a, b) + keras_kld(b, a) for a, b in zip(pa, pb)) / 2  # K.mean over the batch
    got = symmetric_kl(logits_a, logits_b, eps)
    assert got.item() == pytest.approx(expected, rel=1e-5)
    assert symmetric_kl(logits_a, logits_b).item() != pytest.approx(expected, rel=1e-3)  # the exact KL differs
    got.backward()
    # the gradient: the same formula in float64 (clamp passes no gradient below epsilon, as tf.clip_by_value)
    a64 = logits_a.detach().double().requires_grad_()
    qa, qb = torch.softmax(a64, -1).clamp(eps, 1), torch.softmax(logits_b.detach().double(), -1).clamp(eps, 1)
    ((qa * (qa / qb).log()).sum(-1) + (qb * (qb / qa).log()).sum(-1)).mean().backward()
    assert torch.allclose(logits_a.grad.double(), a64.grad, rtol=1e-4, atol=1e-7)
    assert torch.softmax(logits_a, -1)[0, 4] < eps  # this row has a clipped entry


# ------------------------------------------------------------------------------------------- PCT's keras_bert AdamWarmup
def keras_adamwarmup_by_hand(theta, grads, lr, total, warmup, min_lr, eps=1e-7, wd=0.0, b1=0.9, b2=0.999):
    """keras_bert's AdamWarmup (CyberZHG/keras-bert@2d3590d keras_bert/optimizers/warmup_v2.py:76-113), element by
    element in float64: the scheduled lr of the 1-based step t, its bias correction, eps inside the root's sum."""
    theta, m, v = list(theta), [0.0] * len(theta), [0.0] * len(theta)
    for t, g in enumerate(grads, 1):
        scheduled = lr * t / warmup if t <= warmup else min_lr + (lr - min_lr) * (1.0 - min(t, total) / total)
        lr_t = scheduled * math.sqrt(1 - b2**t) / (1 - b1**t)
        for i, gi in enumerate(g):
            m[i] = b1 * m[i] + (1 - b1) * gi
            v[i] = b2 * v[i] + (1 - b2) * gi * gi
            update = m[i] / (math.sqrt(v[i]) + eps)
            if wd > 0:
                update += wd * theta[i]
            theta[i] = theta[i] - lr_t * update
    return theta


@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_adam_keras_is_keras_berts_adamwarmup(wd):
    from xlprompt.trainer import AdamKeras, lr_factor

    theta0 = [0.5, -0.25, 1.0, 0.0, 2.0]
    grads = [[1e-9, -2e-8, 0.3, 0.0, 1e-6], [3e-9, 1e-8, -0.2, 1e-7, -1e-6], [-1e-9, 5e-9, 0.1, 0.0, 2e-6]]
    lr, total, warmup = 1e-3, 10, 1  # steps 2 and 3 already decay
    p = torch.nn.Parameter(torch.tensor(theta0, dtype=torch.float64))
    opt = AdamKeras([{"params": [p], "weight_decay": wd}], lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, total, warmup, "keras_warmup", 0.1))
    for g in grads:
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        schedule.step()
    expected = keras_adamwarmup_by_hand(theta0, grads, lr, total, warmup, 0.1 * lr, wd=wd)
    assert p.detach().tolist() == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert max(abs(a - b) for a, b in zip(p.detach().tolist(), expected)) < 1e-5 * lr
    # torch's AdamW (eps 1e-8 after the bias correction, xlprompt's linear schedule from the warm-up's end)
    q = torch.nn.Parameter(torch.tensor(theta0, dtype=torch.float64))
    torch_opt = torch.optim.AdamW([q], lr=lr, eps=1e-8, weight_decay=wd)
    torch_schedule = torch.optim.lr_scheduler.LambdaLR(torch_opt, lambda s: lr_factor(s, total, warmup, "linear", 0.1))
    for g in grads:
        q.grad = torch.tensor(g, dtype=torch.float64)
        torch_opt.step()
        torch_schedule.step()
    apart = [abs(a - b) > 0.01 * lr for a, b in zip(q.detach().tolist(), expected)]
    assert apart[0] and apart[1]  # the small-gradient entries


def test_keras_warmup_schedule_decays_from_step_zero():
    from xlprompt.trainer import lr_factor, warmup_steps

    # k=16 on XNLI: 48 examples, batch 32 -> 2 steps an epoch, 50 epochs: 100 steps, int(10.0) = 10 warm-up steps
    total = 100
    warmup = warmup_steps(total, 0.1, "keras_warmup")
    assert warmup == 10
    got = [lr_factor(s, total, warmup, "keras_warmup", 0.1) for s in range(total)]
    for s, value in enumerate(got):
        t = s + 1  # keras_bert's t = iterations + 1 (warmup_v2.py:81, 87-92)
        want = t / 10 if t <= 10 else 0.1 + 0.9 * (1 - t / 100)
        assert value == pytest.approx(want)
    assert got[9] == 1.0 and got[10] == pytest.approx(0.1 + 0.9 * 0.89) and got[99] == pytest.approx(0.1)
    # the linear schedule of the other recipes decays from the warm-up's end: higher after it
    linear = [lr_factor(s, total, warmup, "linear", 0.1) for s in range(total)]
    assert linear[10] == pytest.approx(0.1 + 0.9 * 90 / 90) and linear[10] > got[10]


def test_pct_reference_builds_keras_berts_optimizer(tiny_components):
    from xlprompt.trainer import AdamKeras

    parts = tiny_components(method="pct")
    assert (parts.method.config.optimizer, parts.method.config.lr_scheduler) == ("adam_keras", "keras_warmup")
    trainer = Trainer(parts.method, parts.method.config, [object()], [], None, None, progress=False)
    assert isinstance(trainer.optimizer, AdamKeras)
    assert all(g["eps"] == 1e-7 and g["betas"] == (0.9, 0.999) for g in trainer.optimizer.param_groups)
    named = tiny_components(method="pct", optimizer="adamw", lr_scheduler="linear")
    trainer = Trainer(named.method, named.method.config, [object()], [], None, None, progress=False)
    assert isinstance(trainer.optimizer, torch.optim.AdamW)
