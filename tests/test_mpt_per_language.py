"""MPT with a prompt per target language (translator_conditioning=language): p_T^l = Transl(p_S + e_l)."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from xlprompt.config import RunConfig
from xlprompt.errors import ConfigError
from xlprompt.experiment import run_experiment
from xlprompt.export import ADAPTER_WEIGHTS, export_run, load_adapter
from xlprompt.languages import TARGET_LANGUAGES
from xlprompt.trainer import Trainer


def conditioned(tiny_components, **overrides):
    return tiny_components(method="mpt", translator_conditioning="language", **overrides)


def test_default_is_the_papers_single_translator(tiny_components):
    method = tiny_components(method="mpt").method
    assert not method.conditioned
    assert not any("language_embeddings" in k for k in method.trainable_state())
    with pytest.raises(ConfigError, match="no_translator"):
        RunConfig(method="mpt", translator_conditioning="language", no_translator=True)


def test_pair_prompt_is_transl_of_p_source_plus_its_language_vector(tiny_components, demo_train, demo_pairs):
    parts = conditioned(tiny_components)
    method, tok = parts.method, parts.tokenizer
    method.eval()
    translator = method.translator
    with torch.no_grad():
        translator.language_embeddings.normal_()
    seen = []
    original = method.mask_states

    def spy(encoded, prompts=None):
        seen.append(prompts)
        return original(encoded, prompts)

    method.mask_states = spy
    pairs = demo_pairs(tok, 3)  # ar, bg, de
    batch = demo_train(tok)
    method.training_loss(batch, pairs, torch.Generator().manual_seed(0))
    (prompts,) = seen
    n, k = len(batch), len(pairs)
    with torch.no_grad():
        p_source = method.prompt_encoder()
        up, down = translator.base.up, translator.base.down
        for j, pair in enumerate(pairs):
            e = translator.language_embeddings[TARGET_LANGUAGES.index(pair.target.lang)]
            x = p_source + e  # Eq. 4 on p_S + e_l, written out
            expected = torch.relu(x @ up.weight.T + up.bias) @ down.weight.T + down.bias
            assert torch.allclose(prompts[n + k + j], expected, atol=1e-5)
            assert torch.allclose(prompts[n + j], p_source)  # source side keeps p_S
        assert not torch.allclose(prompts[n + k], prompts[n + k + 1])


def test_each_pairs_gradient_reaches_only_its_own_language(tiny_components, demo_train, demo_pairs):
    parts = conditioned(tiny_components, alpha=0.0)  # KL only: every gradient comes from the pairs
    method, tok = parts.method, parts.tokenizer
    all_pairs = demo_pairs(tok, 14)
    for pair in all_pairs:
        method.zero_grad(set_to_none=True)
        out = method.training_loss(demo_train(tok), [pair], torch.Generator().manual_seed(0))
        out.loss.backward()
        grad = method.translator.language_embeddings.grad
        row = TARGET_LANGUAGES.index(pair.target.lang)
        assert grad[row].abs().sum() > 0, pair.target.lang
        others = torch.cat([grad[:row], grad[row + 1 :]])
        assert torch.count_nonzero(others) == 0, pair.target.lang
        # the shared parts train too
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in method.translator.base.parameters())
        assert method.prompt_encoder.embedding.grad.abs().sum() > 0
        assert method.plm.word_embeddings.weight.grad is not None


def test_fourteen_distinct_target_prompts_after_training(tiny_components, demo_train, demo_pairs):
    parts = conditioned(tiny_components, epochs=2, align_batch_size=14, lr=1e-2, lr_scheduler="constant")
    method, tok = parts.method, parts.tokenizer
    train = demo_train(tok)
    pairs = demo_pairs(tok, 14)
    assert sorted(p.target.lang for p in pairs) == sorted(TARGET_LANGUAGES)
    method.eval()
    with torch.no_grad():  # zero-initialised: at step 0 every language has the paper's p_T
        p_target = method.translator.base(method.prompt_encoder())
        assert all(torch.allclose(method.prompt_for(lang), p_target) for lang in TARGET_LANGUAGES)
    Trainer(method, method.config, train, [], pairs, None, progress=False).fit()
    method.eval()
    with torch.no_grad():
        prompts = {lang: method.prompt_for(lang) for lang in TARGET_LANGUAGES}
        exported = method.prompts_for_export()
    assert bool(method.translator.seen.all())
    for i, a in enumerate(TARGET_LANGUAGES):
        assert torch.equal(exported[f"p_target.{a}"], prompts[a])
        for b in TARGET_LANGUAGES[i + 1 :]:
            assert not torch.allclose(prompts[a], prompts[b]), (a, b)


def test_language_without_pairs_falls_back_to_the_mean_vector(tiny_components):
    method = conditioned(tiny_components).method
    method.eval()
    translator = method.translator
    with torch.no_grad():
        translator.language_embeddings.normal_()
        p_source = method.prompt_encoder()
        # nothing seen: e = 0, the paper's p_T
        assert torch.allclose(method.prompt_for("sw"), translator.base(p_source))
        translator.mark_seen(["de", "fr"])
        e = translator.language_embeddings
        mean = (e[TARGET_LANGUAGES.index("de")] + e[TARGET_LANGUAGES.index("fr")]) / 2
        assert torch.allclose(method.prompt_for("sw"), translator.base(p_source + mean))
        assert torch.allclose(method.prompt_for("de"), translator.base(p_source + e[TARGET_LANGUAGES.index("de")]))
        assert torch.equal(method.prompt_for("en"), p_source)  # source_prompt=source


def test_run_export_and_predict_carry_the_per_language_prompts(tmp_path):
    config = RunConfig(
        model="random:tiny",
        data_dir="builtin:demo",
        method="mpt",
        translator_conditioning="language",
        epochs=1,
        shots=2,
        max_length=64,
        batch_size=6,
        eval_batch_size=32,
        device="cpu",
        eval_languages="en,de,sw",
        freeze_plm=True,
    )
    run_experiment(config, tmp_path / "run", progress=False, log=lambda _m: None)
    saved = load_file(str(tmp_path / "run" / "prompt.safetensors"))
    assert {f"prompt.p_target.{lang}" for lang in TARGET_LANGUAGES} <= set(saved)
    assert "translator.language_embeddings" in saved and "translator.seen" in saved
    export_run(tmp_path / "run", tmp_path / "adapter")
    adapter = load_file(str(tmp_path / "adapter" / ADAPTER_WEIGHTS))
    predictor = load_adapter(tmp_path / "adapter")
    with torch.no_grad():
        for lang in TARGET_LANGUAGES:
            assert torch.allclose(adapter[f"p_target.{lang}"], saved[f"prompt.p_target.{lang}"], atol=1e-6)
            assert torch.allclose(predictor.method.prompt_for(lang), adapter[f"p_target.{lang}"], atol=1e-6)
