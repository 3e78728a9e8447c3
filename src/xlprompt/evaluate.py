"""Evaluation per language: length-sorted batches, inference mode, the label-word rows of the MLM head only.

:func:`evaluate_test` makes one pass over a run's test sets and gives, per language, accuracy and macro-F1 with
the per-class counts they come from (:func:`classification_metrics`), and the rows of ``predictions.jsonl`` (the
same predictions and their class probabilities). :func:`accuracy` is the dev accuracy of model selection.

Batches hold ``batch_size`` rows, or, with ``token_budget`` > 0 (config ``eval_token_budget``, for GPUs), as
many length-sorted rows as fit in that many padded tokens (rows × longest row): short rows then go in large
batches and long ones in small batches. Scores stay on the device until the language is done (one copy).

``int8=True`` evaluates with the transformer layers dynamically quantised to int8 (CPU; see
:meth:`xlprompt.models.masked_lm.MaskedLM.int8_encoder`): faster, predictions agree with fp32 on nearly
all examples (the benchmark in ``benchmarks/`` reports the agreement).
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import Mapping, Sequence

import torch
from tqdm.auto import tqdm

from xlprompt.batching import TokenizedExample, length_sorted_batches, token_budget_batches
from xlprompt.device import autocast
from xlprompt.methods.base import Method


def classification_metrics(gold: Sequence[int], predicted: Sequence[int], n_labels: int) -> dict:
    """Accuracy and macro-F1 (both in %, as the papers report them) of ``predicted`` against ``gold``, with the
    counts they come from: ``counts[c] = {"gold", "predicted", "correct"}`` for every class ``c < n_labels``.

    Macro-F1 is the unweighted mean over the ``n_labels`` classes of F1 = 2·correct / (gold + predicted), the
    definition of scikit-learn's ``f1_score(average="macro", labels=range(n_labels), zero_division=0)``: a class
    absent from both gold and predictions scores 0. A prediction outside ``range(n_labels)`` (``predict_over=
    vocab``'s extra column) counts as wrong for every class. No examples: both metrics are 0.0.
    """
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold labels but {len(predicted)} predictions")
    counts = [{"gold": 0, "predicted": 0, "correct": 0} for _ in range(n_labels)]
    for g, p in zip(gold, predicted):
        if 0 <= g < n_labels:
            counts[g]["gold"] += 1
        if 0 <= p < n_labels:
            counts[p]["predicted"] += 1
            if p == g:
                counts[p]["correct"] += 1
    total = len(gold)
    correct = sum(c["correct"] for c in counts)
    f1 = [2 * c["correct"] / (c["gold"] + c["predicted"]) if c["gold"] + c["predicted"] else 0.0 for c in counts]
    return {  # 100 × (fraction): the accuracy xlprompt always recorded, to the last bit
        "accuracy": 100.0 * (correct / total) if total else 0.0,
        "macro_f1": 100.0 * (sum(f1) / n_labels) if n_labels else 0.0,
        "n": total,
        "counts": counts,
    }


def _int8(method: Method, int8: bool):
    return method.plm.int8_encoder() if int8 else nullcontext()


def predict(
    method: Method,
    examples: Sequence[TokenizedExample],
    lang: str,
    batch_size: int,
    autocast_dtype: torch.dtype | None = None,
    int8: bool = False,
    token_budget: int = 0,
) -> tuple[list[int], torch.Tensor]:
    """Predicted class and class scores [N, 3] for each example, in the input order. With
    ``predict_over=vocab`` the scores have a 4th column (the best token that is no label word); a prediction
    of 3 is then always wrong."""
    if not examples:
        return [], torch.zeros(0, 3)
    method.prepare_inputs(examples)
    lengths = [method.eval_length(ex, lang) for ex in examples]
    batches = (
        token_budget_batches(lengths, token_budget) if token_budget > 0 else length_sorted_batches(lengths, batch_size)
    )
    outs = []
    was_training = method.training
    method.eval()
    try:
        with torch.inference_mode(), _int8(method, int8):
            for idx in batches:
                with autocast(method.device, autocast_dtype):
                    outs.append(method.class_scores([examples[i] for i in idx], lang).float())
            order = torch.tensor([i for idx in batches for i in idx])
            scores = torch.zeros(len(examples), outs[0].shape[-1])
            scores[order] = torch.cat(outs).cpu()
    finally:
        method.train(was_training)
    return scores.argmax(-1).tolist(), scores


def accuracy(
    method: Method,
    examples: Sequence[TokenizedExample],
    lang: str | None,
    batch_size: int,
    autocast_dtype: torch.dtype | None = None,
    int8: bool = False,
    token_budget: int = 0,
) -> float:
    """The fraction (0-1) of ``examples`` whose predicted class is their label (dev selection).

    :param method: the method.
    :param examples: tokenised examples with labels.
    :param lang: their language; None: each example's own ``lang`` (the union of several source languages' dev
        splits: each language's examples are scored as that language's, and the fraction is over all of them).
    :param batch_size: the evaluation batch size.
    :param autocast_dtype: the autocast dtype, or None.
    :param int8: evaluate with int8 transformer layers.
    :param token_budget: batches by tokens instead of rows when > 0.
    :returns: the fraction of correct predictions (0 for no examples).
    """
    groups = {lang: list(examples)} if lang is not None else {}
    if lang is None:
        for ex in examples:
            groups.setdefault(ex.lang, []).append(ex)
    correct = 0
    for group_lang, group in groups.items():
        predictions, _ = predict(method, group, group_lang, batch_size, autocast_dtype, int8, token_budget)
        correct += sum(int(p == ex.label) for p, ex in zip(predictions, group))
    return correct / max(1, len(examples))


@dataclass
class Evaluation:
    """What one evaluation pass gives: ``metrics[lang]`` (:func:`classification_metrics`: accuracy, macro-F1,
    n and the per-class counts) and ``rows``, one per evaluated example in input order (``lang``, ``id``,
    ``label``, ``prediction``, ``probabilities``: a softmax over the task's class scores, as
    :mod:`xlprompt.predict` gives them)."""

    metrics: dict[str, dict]
    rows: list[dict]

    def table(self, metric: str = "accuracy") -> dict[str, float]:
        """``{lang: metric}`` plus ``avg``, the unweighted mean over every evaluated language."""
        out = {lang: m[metric] for lang, m in self.metrics.items()}
        if out:
            out["avg"] = sum(out.values()) / len(out)
        return out


def evaluate_test(
    method: Method,
    data: Mapping[str, Sequence[TokenizedExample]],
    n_labels: int,
    batch_size: int,
    autocast_dtype: torch.dtype | None = None,
    progress: bool = True,
    int8: bool = False,
    token_budget: int = 0,
) -> Evaluation:
    """One pass over every language of ``data``: the metrics of :func:`classification_metrics` per language and
    the prediction rows they come from (``predictions.jsonl``). ``n_labels``: the task's number of classes (a
    prediction of ``n_labels``, ``predict_over=vocab``'s "no label word", is wrong). ``int8``: quantised once."""
    metrics: dict[str, dict] = {}
    rows: list[dict] = []
    bar = tqdm(list(data.items()), desc="evaluate", unit="lang", disable=not progress, leave=False)
    with _int8(method, int8):
        for lang, examples in bar:
            bar.set_postfix(lang=lang, n=len(examples))
            predictions, scores = predict(method, examples, lang, batch_size, autocast_dtype, int8, token_budget)
            gold = [ex.label for ex in examples]
            metrics[lang] = classification_metrics(gold, predictions, n_labels)
            probabilities = torch.softmax(scores[:, :n_labels].float(), dim=-1).tolist() if len(examples) else []
            rows += [
                {"lang": lang, "id": ex.uid, "label": ex.label, "prediction": p, "probabilities": probs}
                for ex, p, probs in zip(examples, predictions, probabilities)
            ]
    return Evaluation(metrics, rows)
