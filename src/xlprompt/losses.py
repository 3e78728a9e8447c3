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
    """
    log_s = torch.log_softmax(source_logits.float(), dim=-1)
    log_t = torch.log_softmax(target_logits.float(), dim=-1)
    if clip > 0:
        p_s, p_t = log_s.exp().clamp(clip, 1.0), log_t.exp().clamp(clip, 1.0)
        return ((p_s - p_t) * (p_s.log() - p_t.log())).sum(-1).mean()
    return ((log_s.exp() - log_t.exp()) * (log_s - log_t)).sum(-1).mean()


def total_loss(ce: torch.Tensor, kl: torch.Tensor, alpha: float) -> torch.Tensor:
    """Eq. 8: ``L_total = α L_CE + (1 − α) L_KLD``."""
    check_alpha(alpha)
    return alpha * ce + (1.0 - alpha) * kl


def check_alpha(alpha: float) -> float:
    if not 0.0 <= alpha <= 1.0:
        raise ConfigError(f"alpha must lie in [0, 1] (paper: 0.5), not {alpha}")
    return alpha
