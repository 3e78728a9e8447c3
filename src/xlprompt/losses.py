"""The training losses of the paper: Eq. 3 (CE), Eq. 7 (symmetric KL) and Eq. 8 (their weighted sum)."""

from __future__ import annotations

import torch

from xlprompt.errors import ConfigError


def classification_loss(class_log_probs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Eq. 3: ``L_CE = -g_y log P^CLS`` averaged over the batch. ``class_log_probs`` is [N, n]."""
    return -class_log_probs.gather(1, labels.unsqueeze(1)).squeeze(1).mean()


def symmetric_kl(source_logits: torch.Tensor, target_logits: torch.Tensor, clip: float = 0.0) -> torch.Tensor:
    """Eq. 7: ``KL(P^S ‖ P^T) + KL(P^T ‖ P^S)`` between the MLM distributions at ``<mask>``.

    Both arguments are logits [N, V] over the same vocabulary; the KL is summed over the vocabulary and
    averaged over the N parallel pairs. Gradients flow into both sides. The sum of the two directions
    equals ``Σ_v (P^S_v − P^T_v)(log P^S_v − log P^T_v)``, computed in float32 from log-softmaxes.

    ``clip`` > 0: both distributions are first clipped to ``[clip, 1]`` (no gradient where clipped), as Keras's
    ``kld`` does with its epsilon 1e-7 (``kld(a, b) + kld(b, a)`` with ``kld(a, b) = Σ a_c log(a_c / b_c)``);
    PCT's authors' loss (qikunxun/PCT train_xnli.py:208).

    Memory (:class:`_SymmetricKL`): only the two logit tensors are kept for the backward pass, and the
    softmaxes, their difference and the gradient terms are computed a few rows at a time
    (:data:`KL_CHUNK_ELEMENTS` per piece), so no full-vocabulary temporary beyond the logits and their
    gradient exists: with XLM-V's 901,629 entries that is 3.6 MB per row and tensor instead of the five or six
    [N, |V|] tensors plain autograd would keep. The gradient is the closed form
    ``∂/∂s = P^S ⊙ (a − E_{P^S}[a]) + P^S − P^T`` and ``∂/∂t = −P^T ⊙ (a − E_{P^T}[a]) + P^T − P^S`` with
    ``a = log P^S − log P^T`` (tests/test_losses.py compares it with autograd of the formula above).
    """
    if clip > 0:  # Keras's clipped kld: plain autograd (PCT's vocabulary is that of XLM-R)
        log_s = torch.log_softmax(source_logits.float(), dim=-1)
        log_t = torch.log_softmax(target_logits.float(), dim=-1)
        p_s, p_t = log_s.exp().clamp(clip, 1.0), log_t.exp().clamp(clip, 1.0)
        return ((p_s - p_t) * (p_s.log() - p_t.log())).sum(-1).mean()
    return _SymmetricKL.apply(source_logits, target_logits)


#: elements of one piece of :func:`symmetric_kl` (rows × |V|): 4M float32 = 16 MB per temporary
KL_CHUNK_ELEMENTS = 1 << 22


def _kl_rows(n_rows: int, vocab: int):
    step = max(1, KL_CHUNK_ELEMENTS // max(1, vocab))
    return [(i, min(n_rows, i + step)) for i in range(0, n_rows, step)]


class _SymmetricKL(torch.autograd.Function):
    @staticmethod
    def forward(ctx, source, target):
        s, t = source.float(), target.float()
        total = s.new_zeros(())
        for a, b in _kl_rows(s.shape[0], s.shape[-1]):
            log_s, log_t = torch.log_softmax(s[a:b], -1), torch.log_softmax(t[a:b], -1)
            total += ((log_s.exp() - log_t.exp()) * (log_s - log_t)).sum()
        ctx.save_for_backward(source, target)
        return total / max(1, s.shape[0])

    @staticmethod
    def backward(ctx, grad):
        source, target = ctx.saved_tensors
        s, t = source.float(), target.float()
        grad_s, grad_t = torch.empty_like(s), torch.empty_like(t)
        scale = grad / max(1, s.shape[0])
        for a, b in _kl_rows(s.shape[0], s.shape[-1]):
            log_s, log_t = torch.log_softmax(s[a:b], -1), torch.log_softmax(t[a:b], -1)
            p, q = log_s.exp(), log_t.exp()
            diff = log_s - log_t
            grad_s[a:b] = (p * (diff - (p * diff).sum(-1, keepdim=True)) + p - q) * scale
            grad_t[a:b] = (q * ((q * diff).sum(-1, keepdim=True) - diff) + q - p) * scale
        return grad_s.to(source.dtype), grad_t.to(target.dtype)


def total_loss(ce: torch.Tensor, kl: torch.Tensor, alpha: float) -> torch.Tensor:
    """Eq. 8: ``L_total = α L_CE + (1 − α) L_KLD``."""
    check_alpha(alpha)
    return alpha * ce + (1.0 - alpha) * kl


def check_alpha(alpha: float) -> float:
    if not 0.0 <= alpha <= 1.0:
        raise ConfigError(f"alpha must lie in [0, 1] (paper: 0.5), not {alpha}")
    return alpha
