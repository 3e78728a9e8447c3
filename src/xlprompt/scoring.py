"""Classification scores from the MLM prediction at ``<mask>`` (paper Eq. 2).

Two documented ways to turn the MLM head's output into class probabilities ``P^CLS``:

* ``vocab`` — Eq. 2–3 as written: ``P^CLS = W_Z softmax(W_lh h)``, the label words' probabilities under
  the softmax over the whole vocabulary (they do not sum to 1 over the classes; the CE of Eq. 3 uses them).
* ``labels`` — a softmax over the label words' logits only, as in PET and the SP reference code
  (only the label-word rows of ``W_lh`` are computed).

Prediction (argmax) is the same under both; only the training signal differs. Test time (``predict_over``):
``labels`` — the argmax over the label words (xlmrprompt); ``vocab`` — the argmax over the whole vocabulary,
where a top token that is no label word counts as wrong (PCT's predict_xnli.py): :func:`prediction_scores`.
"""

from __future__ import annotations

import torch

from xlprompt.errors import ConfigError
from xlprompt.models.masked_lm import MaskedLM

SCORING_MODES: tuple[str, ...] = ("vocab", "labels")


def check_scoring(mode: str) -> str:
    if mode not in SCORING_MODES:
        raise ConfigError(f"scoring must be one of {', '.join(SCORING_MODES)}, not '{mode}'")
    return mode


def class_log_probs(plm: MaskedLM, mask_hidden: torch.Tensor, label_word_ids: torch.Tensor, mode: str) -> torch.Tensor:
    """log P^CLS [N, n] from the transformed mask representations [N, d] (``head_transform`` applied)."""
    if mode == "vocab":
        log_p = torch.log_softmax(plm.vocab_logits(mask_hidden).float(), dim=-1)
        index = label_word_ids if label_word_ids.dim() == 2 else label_word_ids.expand(log_p.shape[0], -1)
        return log_p.gather(1, index)
    if mode == "labels":
        return torch.log_softmax(plm.word_logits(mask_hidden, label_word_ids).float(), dim=-1)
    raise ConfigError(f"scoring must be one of {', '.join(SCORING_MODES)}, not '{mode}'")


def label_word_logits(plm: MaskedLM, mask_hidden: torch.Tensor, label_word_ids: torch.Tensor) -> torch.Tensor:
    """Logits of the label words only [N, n]: all that prediction needs."""
    return plm.word_logits(mask_hidden, label_word_ids).float()


PREDICT_OVER: tuple[str, ...] = ("labels", "vocab")


def prediction_scores(
    plm: MaskedLM, mask_hidden: torch.Tensor, label_word_ids: torch.Tensor, over: str = "labels"
) -> torch.Tensor:
    """Scores whose argmax is the prediction. ``labels``: the label-word logits [N, n]. ``vocab``: [N, n + 1],
    the label-word logits and, last, the largest logit of every other token, so that the argmax is the
    full-vocabulary argmax and a top token that is no label word gives class n — never a gold label (PCT:
    qikunxun/PCT@4b3d675 predict_xnli.py, ``y_pred.argmax(axis=-1)`` compared with the label ids)."""
    if over == "labels":
        return label_word_logits(plm, mask_hidden, label_word_ids)
    if over != "vocab":
        raise ConfigError(f"predict_over must be one of {', '.join(PREDICT_OVER)}, not '{over}'")
    logits = plm.vocab_logits(mask_hidden).float()
    index = label_word_ids if label_word_ids.dim() == 2 else label_word_ids.expand(logits.shape[0], -1)
    words = logits.gather(1, index)
    if logits.requires_grad:
        others = logits.scatter(1, index, float("-inf")).max(dim=1, keepdim=True).values
    else:  # prediction: mask the label words in place, no second [N, |V|] tensor
        others = logits.scatter_(1, index, float("-inf")).max(dim=1, keepdim=True).values
    return torch.cat([words, others], dim=1)
