"""The training loop: AdamW, Adam+L2, transformers 4.10's AdamW or keras_bert's AdamWarmup (``optimizer``) under a
learning-rate schedule (``lr_scheduler``: :func:`lr_factor`), per-epoch model selection on the dev split (the task's
source language), atomic checkpoints, resume.

Within an epoch (for methods that use the parallel corpus):

* the few-shot examples and the parallel pairs are each shuffled by a generator seeded with
  ``(seed, epoch)`` (``train_order=sequential``: the few-shot examples keep their order), then cut into batches
  (``batch_size`` and ``align_batch_size``);
* the epoch has ``max(#classification batches, #alignment batches)`` steps; step ``i`` takes
  classification batch ``i mod #cls`` and alignment batch ``i mod #align`` (the shorter stream is cycled),
  so with 500 pairs in batches of 24 every epoch sees all pairs once, and k=1..8 few-shot sets are
  repeated at every step, as in the paper where an epoch runs over the external corpus.

Because the data order of an epoch depends only on ``(seed, epoch)`` and the checkpoint holds the model,
optimiser, scheduler, RNG state (CPU and CUDA) and the best state so far, a run killed at any moment and
resumed ends with the same metrics as an uninterrupted one (on CPU bitwise; on a GPU see README 'GPU').

Checkpoints are written after an epoch when ``checkpoint_every_s`` seconds have passed since the
last one (0: after every epoch), and after the last epoch; a killed run redoes at most that much training.
The best-epoch state is a file of its own, written only when the best epoch changes.

What a run reports while it trains (:mod:`xlprompt.tracking`): every ``logging_steps`` optimiser steps a record
of the loss, its parts and the learning rate, each averaged over the steps since the last record, goes to
``steps.jsonl`` in the run folder, to the trackers of ``report_to`` and to the ``xlprompt.progress`` logger (with
the rate and the time left); after each epoch a line of its record goes to this module's logger. A resumed run
keeps the records of the epochs its checkpoint holds and redoes the rest.

One step synchronises the host with the device once (the losses of all its pieces are gathered on the
device and read together), so that a GPU step of many micro-batches is not stalled per piece.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch
from tqdm.auto import tqdm

from xlprompt.batching import TokenizedExample, TokenizedPair
from xlprompt.checkpoint import load_checkpoint, save_checkpoint
from xlprompt.config import RunConfig
from xlprompt.device import autocast, autocast_dtype, rng_state, set_rng_state
from xlprompt.errors import CheckpointError, NumericalError
from xlprompt.evaluate import accuracy
from xlprompt.methods.base import Method
from xlprompt.tracking import PROGRESS_LOGGER, Tracker, format_duration, format_metrics, progress_mode, read_json_lines

logger = logging.getLogger(__name__)
progress_logger = logging.getLogger(PROGRESS_LOGGER)

FORMAT_VERSION = 1
#: the step records of a run folder (one JSON line per ``logging_steps`` optimiser steps)
STEPS_FILE = "steps.jsonl"


@dataclass
class TrainResult:
    history: list[dict] = field(default_factory=list)
    best_epoch: int = -1
    best_dev_accuracy: float = -1.0
    resumed_from_epoch: int | None = None


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


def make_adamw(groups: list[dict], lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW with its fused kernel where torch has one for the parameters (CPU, CUDA): the same update in
    one pass over each tensor, without the for-loop version's temporaries (an XLM-R-sized step needs one
    of 768 MB for the embedding matrix). Falls back to the default implementation elsewhere."""
    try:
        return torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, ValueError, TypeError):
        return torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay)


class _Adam(torch.optim.Optimizer):
    """The moment estimates that the Adam variants below share; a subclass's :meth:`_update` moves a parameter
    given them (``t``: the parameter's 1-based step)."""

    def __init__(self, params, lr: float, betas: tuple[float, float], eps: float, weight_decay: float):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})

    def _update(self, p, exp_avg, exp_avg_sq, t: int, group: dict) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    @torch.no_grad()
    def step(self, closure=None):
        loss = None if closure is None else closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                state["step"] += 1
                exp_avg.mul_(beta1).add_(p.grad, alpha=1.0 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(p.grad, p.grad, value=1.0 - beta2)
                self._update(p, exp_avg, exp_avg_sq, state["step"], group)
        return loss


class AdamWHF410(_Adam):
    """transformers 4.10's own ``AdamW`` (``transformers.optimization.AdamW.step`` of v4.10.3, with
    ``correct_bias=True``), which Trainer-based references ran (DAMO-NLP-SG/DPA README pins
    ``transformers==4.10.3``; Trainer builds it with ``TrainingArguments`` betas (0.9, 0.999), eps 1e-8). Per
    parameter with a gradient, at step t::

        m = β1 m + (1 − β1) g;   v = β2 v + (1 − β2) g²
        θ ← θ − lr · sqrt(1 − β2^t) / (1 − β1^t) · m / (sqrt(v) + ε)
        θ ← θ − lr · λ · θ                              (decay after the update, on the updated θ)

    torch's AdamW divides by ``sqrt(v / (1 − β2^t)) + ε`` instead (ε after the bias correction) and decays before
    the update; the two differ most where gradients are small (most rows of a tied embedding matrix)."""

    def __init__(
        self, params, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0
    ):
        super().__init__(params, lr, betas, eps, weight_decay)

    def _update(self, p, exp_avg, exp_avg_sq, t: int, group: dict) -> None:
        beta1, beta2 = group["betas"]
        denom = exp_avg_sq.sqrt().add_(group["eps"])
        p.addcdiv_(exp_avg, denom, value=-group["lr"] * math.sqrt(1.0 - beta2**t) / (1.0 - beta1**t))
        if group["weight_decay"] > 0.0:
            p.add_(p, alpha=-group["lr"] * group["weight_decay"])


class AdamKeras(_Adam):
    """keras_bert's ``AdamWarmup`` update (CyberZHG/keras-bert@2d3590d keras_bert/optimizers/warmup_v2.py:13-24,
    76-113), which PCT's authors ran (qikunxun/PCT@4b3d675 train_xnli_fewshot.py:13, 193-200). Per parameter with a
    gradient, at step t (1-based), with the scheduled ``lr`` of this step::

        m = β1 m + (1 − β1) g;   v = β2 v + (1 − β2) g²
        θ ← θ − lr · sqrt(1 − β2^t) / (1 − β1^t) · (m / (sqrt(v) + ε) + λ θ)

    ε = 1e-7 (the Keras default) is added to ``sqrt(v)`` before the bias correction, and the weight decay λ
    (applied only when it is > 0) is scaled by the bias-corrected step. torch's AdamW adds ε = 1e-8 after the
    bias correction and decays by ``lr · λ``. The warm-up and decay of ``lr`` are the scheduler's
    (``lr_scheduler=keras_warmup``)."""

    def __init__(
        self, params, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-7, weight_decay: float = 0.0
    ):
        super().__init__(params, lr, betas, eps, weight_decay)

    def _update(self, p, exp_avg, exp_avg_sq, t: int, group: dict) -> None:
        beta1, beta2 = group["betas"]
        update = exp_avg / exp_avg_sq.sqrt().add_(group["eps"])
        if group["weight_decay"] > 0.0:
            update.add_(p, alpha=group["weight_decay"])
        p.sub_(update, alpha=group["lr"] * math.sqrt(1.0 - beta2**t) / (1.0 - beta1**t))


def make_optimizer(name: str, groups: list[dict], lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """The optimiser ``name`` (the config's ``optimizer``: adamw, adam_l2, adamw_hf or adam_keras) over ``groups``
    (each with its ``lr`` and ``weight_decay``; :func:`decay_groups`); ``lr`` and ``weight_decay`` are the
    defaults of a group that gives none. Returns the optimiser."""
    if name == "adam_l2":
        return make_adam_l2(groups, lr)
    if name == "adamw_hf":
        return AdamWHF410(groups, lr, weight_decay=weight_decay)
    if name == "adam_keras":
        return AdamKeras(groups, lr, weight_decay=weight_decay)
    return make_adamw(groups, lr, weight_decay)


def make_adam_l2(groups: list[dict], lr: float) -> torch.optim.Adam:
    """torch Adam, each group's ``weight_decay`` added to its gradient as L2 (``g + λθ``) before the moments:
    the optimiser of the SP and FT references (mprompting/xlmrprompt@39aed8f ptuning/pet/modules/wrapper.py:231-233,
    finetuning/future/baseline_trainer.py:23). Fused where torch has the kernel."""
    try:
        return torch.optim.Adam(groups, lr=lr, fused=True)
    except (RuntimeError, ValueError, TypeError):
        return torch.optim.Adam(groups, lr=lr)


def decay_groups(
    named: list[tuple[str, torch.nn.Parameter]], lr: float, weight_decay: float, exempt: str
) -> list[dict]:
    """Parameter groups with ``weight_decay``, and without it for names containing one of ``exempt``'s
    comma-separated substrings (``-``: none). ``bias,LayerNorm.weight`` is the references' list
    (mprompting/xlmrprompt@39aed8f ptuning/pet/modules/wrapper.py:211-229)."""
    keys = [k.strip() for k in exempt.split(",") if k.strip() and k.strip() != "-"]
    decay = [p for n, p in named if not any(k in n for k in keys)]
    no_decay = [p for n, p in named if any(k in n for k in keys)]
    return [
        g
        for g in (
            {"params": decay, "lr": lr, "weight_decay": weight_decay},
            {"params": no_decay, "lr": lr, "weight_decay": 0.0},
        )
        if g["params"]
    ]


def lr_factor(step: int, total: int, warmup: int, scheduler: str, min_ratio: float = 0.0, cycles: int = 1) -> float:
    """The learning-rate multiplier of the optimiser step ``step`` (0-based) of ``total``, with ``warmup`` warm-up
    steps (:func:`warmup_steps`).

    * ``constant`` / ``linear``: warm-up ``(step + 1) / warmup``, then constant, or linear from 1 at the end of
      the warm-up to ``min_ratio`` at the last step;
    * ``keras_warmup``: keras_bert's ``AdamWarmup`` (CyberZHG/keras-bert@2d3590d keras_bert/optimizers/warmup_v2.py:81,
      87-92; PCT's optimiser): with ``t = step + 1``, ``t / warmup`` while ``t <= warmup``, else
      ``min_ratio + (1 - min_ratio) · (1 - min(t, total) / total)``: the decay runs from step 0, not from the end
      of the warm-up;
    * ``cosine_restarts``: transformers' ``get_cosine_with_hard_restarts_schedule_with_warmup`` (v4.49.0,
      optimization.py ``_get_cosine_with_hard_restarts_schedule_with_warmup_lr_lambda``; XPE's): ``step / warmup``
      while ``step < warmup`` (the first step at 0), then ``0.5 · (1 + cos(π · ((cycles · p) mod 1)))`` with
      ``p = (step - warmup) / (total - warmup)``, 0 from ``p >= 1``.
    """
    if scheduler == "cosine_restarts":
        if step < warmup:
            return step / max(1, warmup)
        progress = (step - warmup) / max(1, total - warmup)
        if progress >= 1.0:
            return 0.0
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * ((cycles * progress) % 1.0))))
    if scheduler == "keras_warmup":
        t = step + 1
        if t <= warmup:
            return t / warmup
        return min_ratio + (1.0 - min_ratio) * (1.0 - min(t, total) / max(1, total))
    if warmup and step < warmup:
        return (step + 1) / warmup
    if scheduler == "constant":
        return 1.0
    return min_ratio + (1.0 - min_ratio) * max(0.0, (total - step) / max(1, total - warmup))


def warmup_steps(total: int, ratio: float, scheduler: str) -> int:
    """The warm-up steps of a schedule of ``total`` optimiser steps: ``ceil(ratio · total)`` for
    ``cosine_restarts`` (transformers 4.49 ``TrainingArguments.get_warmup_steps``), else ``int(ratio · total)``
    (keras_bert's ``calc_train_steps``: CyberZHG/keras-bert@2d3590d keras_bert/optimizers/util.py:18-20)."""
    if scheduler == "cosine_restarts":
        return math.ceil(total * ratio)
    return int(ratio * total)


def epoch_schedule(
    n_train: int,
    n_parallel: int,
    batch_size: int,
    align_batch_size: int,
    generator: torch.Generator,
    shuffle: bool = True,
) -> list[tuple[list[int], list[int]]]:
    """The (classification indices, alignment indices) of every step of one epoch; ``shuffle=False``: the
    training examples in their given order (``train_order=sequential``)."""
    train_order = torch.randperm(n_train, generator=generator).tolist() if shuffle else list(range(n_train))
    cls_batches = [train_order[i : i + batch_size] for i in range(0, n_train, batch_size)]
    align_batches: list[list[int]] = []
    if n_parallel:
        par_order = torch.randperm(n_parallel, generator=generator).tolist()
        align_batches = [par_order[i : i + align_batch_size] for i in range(0, n_parallel, align_batch_size)]
    steps = max(len(cls_batches), len(align_batches))
    return [
        (cls_batches[i % len(cls_batches)], align_batches[i % len(align_batches)] if align_batches else [])
        for i in range(steps)
    ]


class Trainer:
    def __init__(
        self,
        method: Method,
        config: RunConfig,
        train: Sequence[TokenizedExample],
        dev: Sequence[TokenizedExample],
        parallel: Sequence[TokenizedPair] | None = None,
        run_dir: Path | None = None,
        progress: bool | str = True,
        on_epoch_end: Callable[[list[dict]], None] | None = None,
        tracker: Tracker | None = None,
    ):
        """``progress``: True (a bar on a terminal, plain lines elsewhere), False, or ``bar`` / ``lines`` /
        ``off`` (:func:`xlprompt.tracking.progress_mode`); ``tracker``: where the step and epoch scalars go."""
        if not train:
            raise ValueError("no training examples")
        self.method = method
        self.config = config
        self.train = list(train)
        self.dev = list(dev)
        self.parallel = list(parallel or []) if method.uses_parallel else []
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.progress = progress_mode(progress)
        self.on_epoch_end = on_epoch_end
        self.tracker = tracker or Tracker()
        #: optimiser steps taken so far (the x axis of every tracked scalar)
        self.global_step = 0
        self.align_batch_size = config.align_batch_size or config.batch_size
        self.steps_per_epoch = max(
            math.ceil(len(self.train) / config.batch_size),
            math.ceil(len(self.parallel) / self.align_batch_size) if self.parallel else 0,
        )
        plm_params, own_params = method.named_parameter_groups()
        groups = decay_groups(plm_params, config.lr, config.weight_decay, config.weight_decay_exempt)
        groups += decay_groups(
            own_params, config.prompt_lr or config.lr, config.weight_decay, config.weight_decay_exempt
        )
        self.optimizer = make_optimizer(config.optimizer, groups, config.lr, config.weight_decay)
        #: grad_accumulation_steps (DPA): an optimiser step every N micro-batches of an epoch; each micro-batch's
        #: loss is divided by N (Hugging Face Trainer's convention). The epoch's leftover micro-batches:
        #: grad_accumulation_leftover=step steps on them; carry is transformers 4.10 Trainer.train's rule (a step
        #: at the epoch's end only when the epoch has at most N micro-batches, else the gradients stay for the
        #: next epoch's first step; its schedule counts max(micro-batches // N, 1) updates per epoch)
        self.accumulation = config.grad_accumulation_steps
        self.carry = config.grad_accumulation_leftover == "carry" and self.accumulation > 1
        self.updates_per_epoch = (
            max(self.steps_per_epoch // self.accumulation, 1)
            if self.carry
            else math.ceil(self.steps_per_epoch / self.accumulation)
        )
        total = self.updates_per_epoch * config.epochs
        warmup = warmup_steps(total, config.warmup_ratio, config.lr_scheduler)

        def schedule(step: int) -> float:
            return lr_factor(step, total, warmup, config.lr_scheduler, config.min_lr_ratio, config.lr_cycles)

        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, schedule)
        self.autocast_dtype = autocast_dtype(config.precision, method.device)

    # ------------------------------------------------------------------ checkpoint state
    def _state(self, epoch: int, result: TrainResult, best_state: dict | None) -> dict:
        return {
            "format": FORMAT_VERSION,
            "config_hash": self.config.resolved_hash(),
            "epoch": epoch,
            # no clone: torch.save writes the tensors before training touches them again
            "trainable": {k: v.detach().cpu() for k, v in self.method.trainable_state().items()},
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": rng_state(self.method.device),
            "history": list(result.history),
            "best_epoch": result.best_epoch,
            "best_dev_accuracy": result.best_dev_accuracy,
            "best_state": best_state,
            # gradients carried into the next epoch (grad_accumulation_leftover=carry), in parameter order
            "carried_grads": self._carried_grads(),
            # the steps since the last step record: a resumed run's records are those of an uninterrupted one
            "log_window": {"sums": dict(self._window), "steps": self._window_steps},
        }

    def _params(self) -> list[torch.nn.Parameter]:
        return [p for g in self.optimizer.param_groups for p in g["params"]]

    def _carried_grads(self) -> list | None:
        if not self.carry or all(p.grad is None for p in self._params()):
            return None
        return [None if p.grad is None else p.grad.detach().cpu() for p in self._params()]

    def _restore(self, state: dict, result: TrainResult) -> tuple[int, dict | None]:
        if state.get("format") != FORMAT_VERSION or state.get("config_hash") != self.config.resolved_hash():
            raise CheckpointError(
                f"{self.run_dir}: the checkpoint belongs to another config (or format); use a new --out "
                "directory, or delete its checkpoint/ folder to restart"
            )
        self.method.load_trainable_state(state["trainable"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        set_rng_state(state["rng"], self.method.device)
        result.history = list(state["history"])
        result.best_epoch = state["best_epoch"]
        result.best_dev_accuracy = state["best_dev_accuracy"]
        result.resumed_from_epoch = state["epoch"]
        for p, grad in zip(self._params(), state.get("carried_grads") or []):
            p.grad = None if grad is None else grad.to(p.device)
        window = state.get("log_window") or {}
        self._window, self._window_steps = dict(window.get("sums", {})), int(window.get("steps", 0))
        return state["epoch"] + 1, state.get("best_state")

    # ------------------------------------------------------------------ one step
    def train_step(
        self,
        batch: Sequence[TokenizedExample],
        pairs: Sequence[TokenizedPair] | None,
        generator: torch.Generator,
        epoch: int = 0,
        step: int = 0,
        update: bool = True,
        scale: float = 1.0,
    ) -> dict[str, float]:
        """One optimisation step: backward on each of the method's loss pieces (micro-batches whose gradients
        add up to the step's loss), clipping, AdamW, schedule. Returns the loss and its parts (floats).

        A non-finite piece raises :class:`NumericalError` before any optimiser step (the step's losses are read
        once, after the last piece's backward; the gradients of the bad step are dropped).
        ``update=False`` only accumulates the gradients (of the loss times ``scale``): gradient accumulation.
        """
        method, config = self.method, self.config
        pieces = method.gradient_pieces(batch, pairs, generator)
        losses: list[torch.Tensor] = []  # detached, on the device: read once, after the last piece
        device_parts: dict[str, list[torch.Tensor]] = {}
        host_parts: dict[str, float] = {}
        order: dict[str, None] = {}  # the parts' names, in the order the pieces give them
        while True:
            with autocast(method.device, self.autocast_dtype):
                out = next(pieces, None)  # the piece's forward runs here, under autocast
            if out is None:
                break
            losses.append(out.loss.detach().float().reshape(()))
            for key, value in out.parts.items():
                order[key] = None
                if isinstance(value, torch.Tensor):
                    device_parts.setdefault(key, []).append(value.detach().float().reshape(()))
                else:
                    host_parts[key] = host_parts.get(key, 0.0) + value
            (out.loss * scale if scale != 1.0 else out.loss).backward()
        names = list(device_parts)
        read = torch.cat([torch.stack(losses)] + [torch.stack(device_parts[k]) for k in names])
        values = read.cpu().tolist()  # the step's one host-device synchronisation; summed here in float64
        piece_losses, at = values[: len(losses)], len(losses)
        sums = dict(host_parts)
        for key in names:
            sums[key] = sums.get(key, 0.0) + sum(values[at : at + len(device_parts[key])])
            at += len(device_parts[key])
        logged: dict[str, float] = {"loss": 0.0, **{key: sums[key] for key in order}}
        bad = next((v for v in piece_losses if not math.isfinite(v)), None)
        if bad is not None:  # nothing stepped on: the optimiser has not run, the gradients are dropped
            self.optimizer.zero_grad(set_to_none=True)
            uids = [ex.uid for ex in batch][:8]
            raise NumericalError(
                f"loss is {bad} at epoch {epoch + 1}, step {step + 1} "
                f"(parts { ({k: v for k, v in logged.items() if k != 'loss'}) }); classification batch uids {uids}"
                + (f", alignment pair uids {[p.source.uid for p in pairs][:8]}" if pairs else "")
                + ". Lower lr, check the data of that batch, or use precision=fp32"
            )
        logged["loss"] = sum(piece_losses)
        if not update:
            return logged
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        for p in params:
            if p.grad is not None and p.grad.is_sparse:  # AdamW needs dense gradients
                p.grad = p.grad.to_dense()
        if config.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return logged

    # ------------------------------------------------------------------ loop
    def fit(self) -> TrainResult:
        config, method = self.config, self.method
        result = TrainResult()
        start_epoch, best_state = 0, None
        self._window: dict[str, float] = {}  # the sums of the steps since the last step record
        self._window_steps = 0
        torch.manual_seed(config.seed)
        if self.run_dir is not None:
            state = load_checkpoint(self.run_dir)
            if state is not None:
                start_epoch, best_state = self._restore(state, result)
        self.global_step = start_epoch * self.updates_per_epoch
        self._keep_step_records()
        self.tracker.begin(self.global_step + 1)
        if result.resumed_from_epoch is not None:
            logger.info("train %s: resumed after epoch %d of %d", config.method, start_epoch, config.epochs)
        method.train()
        last_saved = time.monotonic()
        self._clock = (time.perf_counter(), self.global_step)  # the progress rate (monotonic: checkpoints)
        bar = tqdm(
            total=config.epochs * self.steps_per_epoch,
            initial=start_epoch * self.steps_per_epoch,
            desc=f"train {config.method}",
            unit="step",
            disable=self.progress != "bar",
        )
        # the dev split is in the source language; several sources: the union of their dev splits, each example
        # scored in its own language
        sources = config.sources()
        dev_lang = sources[0] if len(sources) == 1 else None
        for epoch in range(start_epoch, config.epochs):
            started = time.perf_counter()
            generator = epoch_generator(config.seed, epoch)
            sums: dict[str, float] = {}
            schedule = epoch_schedule(
                len(self.train),
                len(self.parallel),
                config.batch_size,
                self.align_batch_size,
                generator,
                config.train_order == "shuffle",
            )
            for step, (cls_idx, par_idx) in enumerate(schedule):
                batch = [self.train[i] for i in cls_idx]
                pairs = [self.parallel[i] for i in par_idx] if par_idx else None
                n, last_step = self.accumulation, step == len(schedule) - 1
                update = n == 1 or (step + 1) % n == 0 or (last_step and (not self.carry or len(schedule) <= n))
                logged = self.train_step(batch, pairs, generator, epoch, step, update, 1.0 / n if n > 1 else 1.0)
                for key, value in logged.items():
                    sums[key] = sums.get(key, 0.0) + value
                    self._window[key] = self._window.get(key, 0.0) + value
                self._window_steps += 1
                if update:
                    self.global_step += 1
                    if config.logging_steps and self.global_step % config.logging_steps == 0:
                        self._log_steps(epoch, step, len(schedule))
                bar.update(1)
                bar.set_postfix(epoch=epoch + 1, loss=f"{logged['loss']:.4f}")
            record = {
                "epoch": epoch + 1,
                **{k: v / len(schedule) for k, v in sums.items()},
                "lr": self.scheduler.get_last_lr()[0],
                "seconds": time.perf_counter() - started,
            }
            last = epoch == config.epochs - 1
            if self.dev and ((epoch + 1) % config.dev_every == 0 or last):
                record["dev_accuracy"] = 100.0 * accuracy(
                    method,
                    self.dev,
                    dev_lang,
                    config.eval_batch_size,
                    self.autocast_dtype,
                    token_budget=config.eval_token_budget,
                )
                if record["dev_accuracy"] > result.best_dev_accuracy:
                    result.best_dev_accuracy = record["dev_accuracy"]
                    result.best_epoch = epoch + 1
                    if config.test_weights == "best_dev":  # test_weights=last never reloads it: no copy
                        best_state = {k: v.detach().cpu().clone() for k, v in method.trainable_state().items()}
            result.history.append(record)
            self._log_epoch(record, result)
            if self.on_epoch_end is not None:
                self.on_epoch_end(result.history)
            due = last or time.monotonic() - last_saved >= config.checkpoint_every_s
            if self.run_dir is not None and due:
                save_checkpoint(self.run_dir, epoch, self._state(epoch, result, best_state))
                last_saved = time.monotonic()
        bar.close()
        if best_state is not None:
            method.load_trainable_state(best_state)
        elif not self.dev:
            result.best_epoch = config.epochs
        return result

    # ------------------------------------------------------------------ what the run reports
    def _keep_step_records(self) -> None:
        """``steps.jsonl`` keeps the records up to the step the run (re)starts from: a resumed run redoes the
        steps after its checkpoint, and records them again."""
        if self.run_dir is None:
            return
        path = self.run_dir / STEPS_FILE
        if not path.exists():
            return
        kept = [r for r in read_json_lines(path) if isinstance(r.get("step"), int) and r["step"] <= self.global_step]
        from xlprompt.safety import atomic_write_bytes

        atomic_write_bytes(path, "".join(json.dumps(r) + "\n" for r in kept).encode())

    def _log_steps(self, epoch: int, step: int, steps_in_epoch: int) -> None:
        """The record of the last ``logging_steps`` optimiser steps: steps.jsonl, trackers, a progress line."""
        config = self.config
        count = max(1, self._window_steps)
        metrics = {k: v / count for k, v in self._window.items()}
        metrics["lr"] = self.scheduler.get_last_lr()[0]
        self._window, self._window_steps = {}, 0
        fraction = epoch + (step + 1) / steps_in_epoch
        record = {"step": self.global_step, "epoch": round(fraction, 4), **metrics}
        if self.run_dir is not None:
            from xlprompt.safety import open_no_follow

            fd = open_no_follow(self.run_dir / STEPS_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, "step log")
            with os.fdopen(fd, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")
        self.tracker.log({**{f"train/{k}": v for k, v in metrics.items()}, "train/epoch": fraction}, self.global_step)
        total = self.updates_per_epoch * config.epochs
        since, at = self._clock
        elapsed = time.perf_counter() - since
        rate = (self.global_step - at) / elapsed if elapsed > 0 else 0.0
        left = f", {format_duration((total - self.global_step) / rate)} left" if rate > 0 else ""
        level = logging.DEBUG if self.progress == "bar" else logging.INFO  # beside a bar: run.log, --verbose
        progress_logger.log(
            level,
            "train %s: step %d/%d (%d%%), epoch %d/%d: %s | %.2f step/s%s",
            config.method,
            self.global_step,
            total,
            100 * self.global_step // max(1, total),
            epoch + 1,
            config.epochs,
            format_metrics(metrics),
            rate,
            left,
        )

    def _log_epoch(self, record: dict, result: TrainResult) -> None:
        config = self.config
        scalars = {k: v for k, v in record.items() if k not in ("epoch", "seconds") and isinstance(v, (int, float))}
        self.tracker.log(
            {**{f"epoch/{k}": v for k, v in scalars.items()}, "epoch/epoch": record["epoch"]}, self.global_step
        )
        metrics = format_metrics({k: v for k, v in scalars.items() if k != "dev_accuracy"})
        dev = ""
        if "dev_accuracy" in record:
            dev = (
                f", dev {record['dev_accuracy']:.1f} (best {result.best_dev_accuracy:.1f} at epoch {result.best_epoch})"
            )
        progress_logger.info(
            "train %s: epoch %d/%d: %s%s, %s",
            config.method,
            record["epoch"],
            config.epochs,
            metrics,
            dev,
            format_duration(record["seconds"]),
        )
