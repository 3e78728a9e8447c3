"""Losses (paper Eq. 3, 7, 8) and the two scoring modes of Eq. 2."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from xlprompt.errors import ConfigError
from xlprompt.losses import check_alpha, classification_loss, symmetric_kl, total_loss
from xlprompt.scoring import SCORING_MODES, check_scoring, class_log_probs, label_word_logits

P = [0.5, 0.3, 0.2]
Q = [0.2, 0.5, 0.3]
# KL(P||Q) = 0.5 ln(0.5/0.2) + 0.3 ln(0.3/0.5) + 0.2 ln(0.2/0.3) = 0.458145 - 0.153248 - 0.081093 = 0.223805
# KL(Q||P) = 0.2 ln(0.2/0.5) + 0.5 ln(0.5/0.3) + 0.3 ln(0.3/0.2) = -0.183258 + 0.255413 + 0.121640 = 0.193794
KL_PQ = 0.5 * math.log(2.5) + 0.3 * math.log(0.6) + 0.2 * math.log(2 / 3)
KL_QP = 0.2 * math.log(0.4) + 0.5 * math.log(5 / 3) + 0.3 * math.log(1.5)


def _logits(probs, shift=0.0):
    return torch.tensor(probs, dtype=torch.float64).log() + shift


def test_hand_numbers():
    assert KL_PQ == pytest.approx(0.2238047, abs=1e-6)
    assert KL_QP == pytest.approx(0.1937942, abs=1e-6)


def test_symmetric_kl_hand_computed():
    # logits are log-probabilities plus any constant (softmax is shift invariant)
    kl = symmetric_kl(_logits([P]) + 3.0, _logits([Q]) - 1.5)
    assert kl.item() == pytest.approx(KL_PQ + KL_QP, abs=1e-6)
    assert kl.item() == pytest.approx(0.4175989, abs=1e-6)


def test_symmetric_kl_averages_over_pairs():
    # second pair identical → contributes 0; mean over N = 2
    source = torch.stack([_logits(P), _logits([0.25, 0.25, 0.5])])
    target = torch.stack([_logits(Q), _logits([0.25, 0.25, 0.5])])
    assert symmetric_kl(source, target).item() == pytest.approx((KL_PQ + KL_QP) / 2, abs=1e-6)


def test_symmetric_kl_matches_torch_kl_div():
    torch.manual_seed(0)
    s, t = torch.randn(5, 11), torch.randn(5, 11)
    log_s, log_t = s.log_softmax(-1), t.log_softmax(-1)
    # F.kl_div(input=log q, target=log p, log_target=True) = KL(p || q)
    expected = F.kl_div(log_t, log_s, reduction="batchmean", log_target=True) + F.kl_div(
        log_s, log_t, reduction="batchmean", log_target=True
    )
    assert symmetric_kl(s, t).item() == pytest.approx(expected.item(), rel=1e-5)


def test_symmetric_kl_zero_symmetric_nonnegative():
    torch.manual_seed(1)
    for _ in range(20):
        s, t = torch.randn(4, 50) * 3, torch.randn(4, 50) * 3
        st, ts = symmetric_kl(s, t), symmetric_kl(t, s)
        assert st.item() == pytest.approx(ts.item(), rel=1e-6)
        assert st.item() > 0
        assert symmetric_kl(s, s).item() == pytest.approx(0.0, abs=1e-7)
        assert symmetric_kl(s, s + 2.0).item() == pytest.approx(0.0, abs=1e-6)  # same distribution


def test_symmetric_kl_gradient_reaches_both_sides():
    s = torch.randn(2, 6, requires_grad=True)
    t = torch.randn(2, 6, requires_grad=True)
    symmetric_kl(s, t).backward()
    assert s.grad.abs().sum() > 0 and t.grad.abs().sum() > 0


def test_symmetric_kl_float32_from_half_inputs():
    s, t = _logits([P]).to(torch.bfloat16), _logits([Q]).to(torch.bfloat16)
    out = symmetric_kl(s, t)
    assert out.dtype == torch.float32
    assert out.item() == pytest.approx(KL_PQ + KL_QP, abs=2e-2)


def test_classification_loss_hand_example():
    log_probs = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3]]).log()
    labels = torch.tensor([0, 2])
    # -(ln 0.7 + ln 0.3) / 2 = (0.356675 + 1.203973) / 2 = 0.780324
    assert classification_loss(log_probs, labels).item() == pytest.approx(0.7803239, abs=1e-6)
    assert classification_loss(log_probs, torch.tensor([1, 1])).item() == pytest.approx(
        -(math.log(0.2) + math.log(0.6)) / 2, abs=1e-6
    )


def test_classification_loss_equals_cross_entropy_for_labels_softmax():
    torch.manual_seed(0)
    logits, labels = torch.randn(7, 3), torch.tensor([0, 1, 2, 2, 1, 0, 0])
    assert classification_loss(logits.log_softmax(-1), labels).item() == pytest.approx(
        F.cross_entropy(logits, labels).item(), rel=1e-6
    )


def test_total_loss_eq8():
    ce, kl = torch.tensor(2.0), torch.tensor(4.0)
    assert total_loss(ce, kl, 0.25).item() == pytest.approx(0.25 * 2 + 0.75 * 4)  # 3.5
    assert total_loss(ce, kl, 0.5).item() == pytest.approx(3.0)
    assert total_loss(ce, kl, 1.0).item() == pytest.approx(2.0)
    assert total_loss(ce, kl, 0.0).item() == pytest.approx(4.0)
    ce = torch.tensor(2.0, requires_grad=True)
    kl = torch.tensor(4.0, requires_grad=True)
    total_loss(ce, kl, 0.3).backward()
    assert ce.grad.item() == pytest.approx(0.3) and kl.grad.item() == pytest.approx(0.7)


@pytest.mark.parametrize("alpha", [-0.1, 1.01, 2.0, float("nan")])
def test_total_loss_rejects_alpha(alpha):
    with pytest.raises(ConfigError, match="alpha"):
        total_loss(torch.tensor(1.0), torch.tensor(1.0), alpha)
    with pytest.raises(ConfigError):
        check_alpha(alpha)


# ---------------------------------------------------------------------------- scoring (Eq. 2)
@pytest.fixture
def plm(tiny_plm):
    model = tiny_plm(seed=3)
    model.eval()
    return model


def test_masked_lm_pieces_equal_the_hf_forward(plm, tiny_tokenizer):
    """embed → encode → head_transform → vocab_logits is exactly the Hugging Face MLM forward."""
    ids = torch.tensor([tiny_tokenizer("The children are playing football <mask> .")["input_ids"]])
    attention = torch.ones_like(ids)
    mask_at = ids[0].tolist().index(tiny_tokenizer.mask_token_id)
    with torch.no_grad():
        reference = plm.hf_model(input_ids=ids, attention_mask=attention).logits[0, mask_at]
        hidden = plm.encode(plm.embed(ids), attention)
        ours = plm.vocab_logits(plm.head_transform(hidden[0, mask_at : mask_at + 1]))[0]
    assert ours.shape == (len(tiny_tokenizer),)
    assert torch.allclose(ours, reference, atol=1e-5)


def test_vocab_logits_is_w_lh_h(plm):
    torch.manual_seed(0)
    hidden = torch.randn(4, plm.hidden_size)
    expected = hidden @ plm.decoder.weight.T + plm.hf_model.lm_head.bias
    assert torch.allclose(plm.vocab_logits(hidden), expected, atol=1e-5)


def test_vocab_scoring_is_full_vocabulary_log_softmax(plm):
    torch.manual_seed(0)
    hidden = torch.randn(5, plm.hidden_size)
    ids = torch.tensor([17, 250, 999])
    with torch.no_grad():
        log_p = class_log_probs(plm, hidden, ids, "vocab")
        full = torch.log_softmax(plm.vocab_logits(hidden), dim=-1)
    assert log_p.shape == (5, 3)
    assert torch.allclose(log_p, full[:, ids], atol=1e-6)
    # they are probabilities under the full-vocabulary softmax: they do NOT sum to 1 over the classes
    assert (log_p.exp().sum(-1) < 0.5).all()


def test_labels_scoring_sums_to_one(plm):
    torch.manual_seed(0)
    hidden = torch.randn(5, plm.hidden_size)
    ids = torch.tensor([17, 250, 999])
    with torch.no_grad():
        log_p = class_log_probs(plm, hidden, ids, "labels")
        vocab = class_log_probs(plm, hidden, ids, "vocab")
        full_logits = plm.vocab_logits(hidden)
    assert torch.allclose(log_p.exp().sum(-1), torch.ones(5), atol=1e-6)
    assert torch.allclose(log_p, torch.log_softmax(full_logits[:, ids], -1), atol=1e-5)
    # the same prediction under both modes, and labels = vocab renormalised over the label words
    assert torch.equal(log_p.argmax(-1), vocab.argmax(-1))
    assert torch.allclose(log_p, vocab - vocab.logsumexp(-1, keepdim=True), atol=1e-5)


def test_per_row_label_ids(plm):
    torch.manual_seed(0)
    hidden = torch.randn(3, plm.hidden_size)
    ids = torch.tensor([[17, 250, 999], [5, 6, 7], [999, 17, 250]])
    with torch.no_grad():
        full = plm.vocab_logits(hidden)
        assert torch.allclose(plm.word_logits(hidden, ids), full.gather(1, ids), atol=1e-5)
        assert torch.allclose(
            class_log_probs(plm, hidden, ids, "vocab"), full.log_softmax(-1).gather(1, ids), atol=1e-5
        )


def test_word_logits_are_columns_of_vocab_logits(plm):
    torch.manual_seed(0)
    hidden = torch.randn(6, plm.hidden_size)
    ids = torch.tensor([3, 42, 2999, 42])
    with torch.no_grad():
        full = plm.vocab_logits(hidden)
        words = plm.word_logits(hidden, ids)
        assert words.shape == (6, 4)
        assert torch.allclose(words, full[:, ids], atol=1e-5)
        assert torch.allclose(label_word_logits(plm, hidden, ids), full[:, ids], atol=1e-5)


def test_unknown_scoring_mode(plm):
    assert SCORING_MODES == ("vocab", "labels")
    assert check_scoring("labels") == "labels"
    with pytest.raises(ConfigError, match="vocab, labels"):
        check_scoring("softmax")
    with pytest.raises(ConfigError):
        class_log_probs(plm, torch.zeros(1, plm.hidden_size), torch.tensor([1, 2, 3]), "softmax")


def test_symmetric_kl_chunked_matches_autograd_of_the_formula(monkeypatch):
    """Eq. 7's value and gradient, computed in pieces with the closed-form backward, equal autograd of the
    plain formula Σ_v (p − q)(log p − log q) / N written here."""
    import torch

    from xlprompt import losses

    monkeypatch.setattr(losses, "KL_CHUNK_ELEMENTS", 7 * 50)  # pieces of 7 rows of a 50-entry vocabulary
    g = torch.Generator().manual_seed(3)
    s = torch.randn(17, 50, generator=g, dtype=torch.float64, requires_grad=True)
    t = torch.randn(17, 50, generator=g, dtype=torch.float64, requires_grad=True)
    ours = losses.symmetric_kl(s, t)
    (gs, gt) = torch.autograd.grad(ours * 2.5, (s, t))
    ls, lt = torch.log_softmax(s, -1), torch.log_softmax(t, -1)
    ref = ((ls.exp() - lt.exp()) * (ls - lt)).sum(-1).mean()
    (rs, rt) = torch.autograd.grad(ref * 2.5, (s, t))
    assert ours.dtype == torch.float32  # computed in float32, as the plain formula of the paper's code path
    assert torch.allclose(ours.double(), ref, atol=1e-6)
    assert torch.allclose(gs, rs, atol=1e-6) and torch.allclose(gt, rt, atol=1e-6)
    assert not torch.allclose(gs, torch.zeros_like(gs))
