"""Gradients reach exactly what each method trains; MPT's step computes what Eq. 5-8 say."""

from __future__ import annotations

import pytest
import torch

from xlprompt.losses import classification_loss, symmetric_kl
from xlprompt.scoring import class_log_probs


def grad_total(module: torch.nn.Module) -> float:
    """Sum of |grad| over the module's parameters (None counts as 0)."""
    return sum(p.grad.abs().sum().item() for p in module.parameters() if p.grad is not None)


def all_params_have_grad(module: torch.nn.Module) -> bool:
    return all(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())


def plm_parts_have_grad(plm) -> None:
    """Word embeddings, every encoder layer and the MLM head's transform all get a gradient."""
    hf = plm.hf_model
    assert plm.word_embeddings.weight.grad is not None and plm.word_embeddings.weight.grad.abs().sum() > 0
    for layer in hf.roberta.encoder.layer:
        assert grad_total(layer) > 0
    assert grad_total(hf.lm_head.dense) > 0


def step(components, tokenizer_batch, pairs=None, seed=0):
    method = components.method
    out = method.training_loss(tokenizer_batch, pairs, torch.Generator().manual_seed(seed))
    assert torch.isfinite(out.loss) and out.loss.item() > 0
    out.loss.backward()
    return out


@pytest.fixture
def spy():
    """Wraps ``method.mask_states`` to record how many rows each forward pass has and its prompts."""

    def install(method):
        calls = []
        original = method.mask_states

        def wrapped(encoded, prompts=None):
            hidden = original(encoded, prompts)
            calls.append({"rows": len(encoded), "encoded": list(encoded), "prompts": prompts, "hidden": hidden})
            return hidden

        method.mask_states = wrapped
        return calls

    return install


def test_mpt_alpha_half_trains_prompt_translator_and_plm(tiny_components, demo_train, demo_pairs, spy):
    parts = tiny_components(method="mpt", alpha=0.5)
    method, tok = parts.method, parts.tokenizer
    calls = spy(method)
    batch, pairs = demo_train(tok), demo_pairs(tok, 4)
    out = step(parts, batch, pairs)
    assert out.parts["ce"] > 0 and out.parts["kl"] > 0
    assert all_params_have_grad(method.prompt_encoder)
    assert all_params_have_grad(method.translator)
    plm_parts_have_grad(method.plm)
    # one forward pass: 6 classification rows + 4 source + 4 target alignment rows
    assert [c["rows"] for c in calls] == [6 + 4 + 4]
    plm_ids, own = method.parameter_groups()
    assert len(plm_ids) == len([p for p in method.plm.parameters()])
    assert {id(p) for p in own} == {
        id(p) for p in [*method.prompt_encoder.parameters(), *method.translator.parameters()]
    }


def test_mpt_step_is_eq5_to_eq8(tiny_components, demo_train, demo_pairs, spy):
    """Classification and source rows get p_S, target rows p_T = Transl(p_S); loss = α CE + (1-α) KL."""
    alpha = 0.3
    parts = tiny_components(method="mpt", alpha=alpha)
    method, tok = parts.method, parts.tokenizer
    method.eval()  # no dropout, so the pieces can be recomputed
    calls = spy(method)
    batch, pairs = demo_train(tok), demo_pairs(tok, 3)
    out = method.training_loss(batch, pairs, torch.Generator().manual_seed(0))
    (call,) = calls
    n, k = len(batch), len(pairs)
    with torch.no_grad():
        p_source = method.prompt_encoder()
        p_target = method.translator(p_source)
        prompts = call["prompts"]
        assert prompts.shape == (n + 2 * k, 4, method.plm.hidden_size)
        assert torch.allclose(prompts[: n + k], p_source.expand(n + k, -1, -1))
        assert torch.allclose(prompts[n + k :], p_target.expand(k, -1, -1))
        assert not torch.allclose(p_source, p_target)
        # rows: the classification batch, then the source sides, then the target sides (Eq. 5)
        expected_rows = (
            [method.encode(ex) for ex in batch]
            + [method.encode(p.source) for p in pairs]
            + [method.encode(p.target) for p in pairs]
        )
        assert call["encoded"] == expected_rows
        hidden = call["hidden"]
        ce = classification_loss(
            class_log_probs(method.plm, hidden[:n], method.label_ids("en"), "vocab"),
            torch.tensor([ex.label for ex in batch]),
        )
        logits = method.plm.vocab_logits(hidden[n:])
        kl = symmetric_kl(logits[:k], logits[k:])
    assert out.parts["ce"] == pytest.approx(ce.item(), rel=1e-5)
    assert out.parts["kl"] == pytest.approx(kl.item(), rel=1e-5)
    assert out.loss.item() == pytest.approx(alpha * ce.item() + (1 - alpha) * kl.item(), rel=1e-5)


def test_mpt_alpha_one_translator_gets_no_gradient(tiny_components, demo_train, demo_pairs, spy):
    parts = tiny_components(method="mpt", alpha=1.0)
    method, tok = parts.method, parts.tokenizer
    assert method.uses_parallel is False
    calls = spy(method)
    translator_calls = []
    method.translator.register_forward_hook(lambda *args: translator_calls.append(1))
    batch = demo_train(tok)
    out = step(parts, batch, demo_pairs(tok, 4))  # pairs given, yet ignored
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in method.translator.parameters())
    assert translator_calls == []
    assert [c["rows"] for c in calls] == [len(batch)]  # no alignment rows computed
    assert out.parts["kl"] == 0.0
    assert out.loss.item() == pytest.approx(out.parts["ce"], rel=1e-6)
    assert all_params_have_grad(method.prompt_encoder)
    plm_parts_have_grad(method.plm)


def test_mpt_alpha_zero_skips_classification(tiny_components, demo_train, demo_pairs, spy):
    parts = tiny_components(method="mpt", alpha=0.0)
    method, tok = parts.method, parts.tokenizer
    calls = spy(method)
    out = step(parts, demo_train(tok), demo_pairs(tok, 4))
    assert [c["rows"] for c in calls] == [8]
    assert out.parts["ce"] == 0.0 and out.loss.item() == pytest.approx(out.parts["kl"], rel=1e-6)
    assert all_params_have_grad(method.translator)
    assert grad_total(method.prompt_encoder) > 0


def test_sp_has_no_translator(tiny_components, demo_train, spy):
    parts = tiny_components(method="sp")
    method, tok = parts.method, parts.tokenizer
    assert not hasattr(method, "translator")
    assert set(method.extra_modules()) == {"prompt_encoder"}
    assert method.uses_parallel is False
    calls = spy(method)
    batch = demo_train(tok)
    step(parts, batch)
    assert [c["rows"] for c in calls] == [len(batch)]
    assert all_params_have_grad(method.prompt_encoder)
    plm_parts_have_grad(method.plm)
    with torch.no_grad():  # the same prompt for every language
        assert torch.equal(method.prompt_for("de"), method.prompt_for("en"))
    assert set(method.prompts_for_export()) == {"p_source"}


@pytest.mark.parametrize("method_name", ["mpt", "sp"])
def test_freeze_plm(tiny_components, demo_train, demo_pairs, method_name):
    parts = tiny_components(method=method_name, freeze_plm=True)
    method, tok = parts.method, parts.tokenizer
    step(parts, demo_train(tok), demo_pairs(tok, 4))
    assert all(p.grad is None for p in method.plm.parameters())
    assert all(not p.requires_grad for p in method.plm.parameters())
    assert all_params_have_grad(method.prompt_encoder)
    if method_name == "mpt":
        assert all_params_have_grad(method.translator)
    plm_params, own = method.parameter_groups()
    assert plm_params == [] and len(own) > 0
    assert not any(k.startswith("plm.") for k in method.trainable_state())


def test_no_translator_uses_p_source_everywhere(tiny_components, demo_train, demo_pairs, spy):
    parts = tiny_components(method="mpt", no_translator=True)
    method, tok = parts.method, parts.tokenizer
    assert method.translator is None
    assert set(method.extra_modules()) == {"prompt_encoder"}
    calls = spy(method)
    batch, pairs = demo_train(tok), demo_pairs(tok, 4)
    out = step(parts, batch, pairs)
    assert out.parts["kl"] > 0  # the alignment task still runs
    with torch.no_grad():
        p_source = method.prompt_encoder()
        assert torch.equal(method.translate(p_source), p_source)
        assert torch.equal(method.prompt_for("de"), method.prompt_for("en"))
        exported = method.prompts_for_export()
        assert torch.equal(exported["p_source"], exported["p_target"])
        assert torch.allclose(calls[0]["prompts"], p_source.expand(len(batch) + 2 * len(pairs), -1, -1))
    assert all_params_have_grad(method.prompt_encoder)


def test_mpt_prompts_per_language(tiny_components):
    parts = tiny_components(method="mpt")
    method = parts.method
    with torch.no_grad():
        p_source = method.prompt_encoder()
        p_target = method.translator(p_source)
        assert torch.equal(method.prompt_for("en"), p_source)  # source_prompt=source (default)
        assert torch.equal(method.prompt_for("de"), p_target)
        assert not torch.equal(p_source, p_target)
    target_parts = tiny_components(method="mpt", source_prompt="target")
    with torch.no_grad():
        m = target_parts.method
        assert torch.equal(m.prompt_for("en"), m.translator(m.prompt_encoder()))


def test_ft_trains_head_and_plm(tiny_components, demo_train, spy):
    parts = tiny_components(method="ft")
    method, tok = parts.method, parts.tokenizer
    assert parts.verbalizer is None
    assert set(method.extra_modules()) == {"head"}
    step(parts, demo_train(tok))
    assert all_params_have_grad(method.head)
    hf = method.plm.hf_model
    assert method.plm.word_embeddings.weight.grad.abs().sum() > 0
    for layer in hf.roberta.encoder.layer:
        assert grad_total(layer) > 0
    # FT reads the first token, not the MLM head: the head's transform gets nothing
    assert grad_total(hf.lm_head.dense) == 0


def test_pct_trains_plm_only(tiny_components, demo_train, spy):
    parts = tiny_components(method="pct")
    method, tok = parts.method, parts.tokenizer
    assert method.extra_modules() == {}
    assert method.parameter_groups()[1] == []
    calls = spy(method)
    batch = demo_train(tok)
    out = step(parts, batch)
    plm_parts_have_grad(method.plm)
    assert set(out.parts) == {"ce", "kl"} and out.parts["kl"] > 0
    # English template rows, then the same examples in other languages' templates
    (call,) = calls
    assert call["rows"] == 2 * len(batch)
    english = [method.encode_in(ex, "en") for ex in batch]  # pct_layout=reference tokenises the texts
    assert call["encoded"][: len(batch)] == english
    assert all(a != b for a, b in zip(call["encoded"][len(batch) :], english))


@pytest.mark.parametrize("kl_space, kl_weight", [("labels", 1.0), ("vocab", 0.5)])
def test_pct_loss_is_two_ce_plus_weighted_kl(tiny_components, demo_train, spy, kl_space, kl_weight):
    """PCT: CE(English template) + CE(other-language template) + w · symmetric KL between the two."""
    parts = tiny_components(method="pct", pct_kl_space=kl_space, pct_kl_weight=kl_weight)
    method, tok = parts.method, parts.tokenizer
    method.eval()
    calls = spy(method)
    batch = demo_train(tok)
    n = len(batch)
    out = method.training_loss(batch, None, torch.Generator().manual_seed(0))
    hidden = calls[0]["hidden"]
    labels = torch.tensor([ex.label for ex in batch])
    ids = method.label_ids("en")
    with torch.no_grad():
        log_probs = class_log_probs(method.plm, hidden, ids, "vocab")
        ce_en = classification_loss(log_probs[:n], labels)
        ce_other = classification_loss(log_probs[n:], labels)
        full = method.plm.vocab_logits(hidden)
        logits = full if kl_space == "vocab" else full[:, ids]
        kl = symmetric_kl(logits[:n], logits[n:])
    assert ce_other.item() > 1.0  # so leaving a term out shows
    assert out.loss.item() == pytest.approx(ce_en.item() + ce_other.item() + kl_weight * kl.item(), rel=1e-5)
    assert out.parts["ce"] == pytest.approx((ce_en.item() + ce_other.item()) / 2, rel=1e-5)
    assert out.parts["kl"] == pytest.approx(kl.item(), rel=1e-5)
