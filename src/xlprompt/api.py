"""The public Python API (re-exported by :mod:`xlprompt`): run experiments, or use a method as a module.

* :func:`run` — one run, as ``xlprompt run``: train, select on dev, evaluate every language, write a run folder;
* :func:`run_sweep` — a YAML sweep into a results store, as ``xlprompt sweep``;
* :func:`load_data` — a config's task data: few-shot train and dev, test per language, MPT's parallel pairs;
* :class:`PromptModel` — a method (MPT, SP, ...) around its masked LM as an ``nn.Module`` for your own training
  loop or the Hugging Face ``Trainer``: tokenizer, :meth:`~PromptModel.collate`,
  :meth:`~PromptModel.training_loss`, :meth:`~PromptModel.predict`, and :meth:`~PromptModel.save_pretrained` /
  :meth:`~PromptModel.from_pretrained` of the whole trained module;
* :func:`load_run` — a finished run folder, ready to predict.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import torch
from torch import nn

from xlprompt.config import RunConfig
from xlprompt.errors import CheckpointError, ConfigError, DataError

__all__ = ["run", "run_sweep", "load_data", "PromptModel", "Batch", "load_run"]

#: the files of a saved :class:`PromptModel`
MODEL_CONFIG = "xlprompt_model.json"
MODEL_WEIGHTS = "model.safetensors"
MODEL_FORMAT = 1
#: the label words of a model saved with ``label_words_file`` (the words are also in :data:`MODEL_CONFIG`)
LABEL_WORDS_FILE = "label_words.json"


def _label_words_path(folder: Path, words: Any) -> Path:
    """A file holding the saved model's label words ``words`` (as recorded in its config): the folder's own
    :data:`LABEL_WORDS_FILE` when it holds exactly those words, else a private copy. A reader never writes into
    the model's folder (it may be read-only), and never takes a file there that holds other words."""
    import hashlib
    import tempfile

    from xlprompt.checkpoint import atomic_write_text

    path = folder / LABEL_WORDS_FILE
    try:
        if json.loads(path.read_text("utf-8")) == words:
            return path
    except (OSError, ValueError):
        pass
    text = json.dumps(words, ensure_ascii=False, sort_keys=True)
    copy = Path(tempfile.gettempdir()) / f"xlprompt-label-words-{hashlib.sha256(text.encode()).hexdigest()[:16]}.json"
    if not copy.is_file() or copy.read_text("utf-8") != text:  # one copy per set of words, reused
        atomic_write_text(copy, text)
    return copy


def run(
    config: RunConfig,
    out_dir: str | Path | None = None,
    *,
    progress: bool = False,
    save_weights: bool = True,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train ``config``, select on the English dev split, evaluate every language; return the results.

    ``out_dir``: the run folder (``config.json``, ``metrics.jsonl``, ``results.json``, the trained prompt and,
    with ``save_weights``, the trained PLM). A finished folder is returned as it is, an interrupted one resumes,
    a folder of another config is refused. None: nothing is written. The results are those of
    ``results.json``: ``accuracy`` per language (in %) and ``avg``, the best epoch, the random-weights flag.
    """
    from xlprompt.experiment import run_experiment

    _check_config(config)
    return run_experiment(
        config, out_dir, progress=progress, log=log or (lambda _line: None), save_weights=save_weights
    )


def run_sweep(
    sweep_file: str | Path,
    store: str | Path,
    *,
    runs_dir: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    workers: int = 1,
    max_runs: int | None = None,
    save_weights: bool | None = None,
    progress: bool = False,
):
    """Run every config of the YAML sweep file into the results store ``store`` (SQLite), as ``xlprompt sweep``.

    Finished runs are skipped, interrupted ones resume, and several processes may share one store. Returns the
    :class:`~xlprompt.executors.SweepSummary` (``.ran``, ``.failed``, ``.line()``).
    """
    from xlprompt.executors import default_runs_dir, get_executor
    from xlprompt.experiment import check_inputs
    from xlprompt.sweep import load_sweep

    sweep = load_sweep(sweep_file, overrides=dict(overrides or {}))
    for item in sweep.runs:  # every run's config and data checks before any model loads
        check_inputs(item.config)
    executor = get_executor("local", progress=progress, max_runs=max_runs, workers=workers)
    return executor.run(sweep, store, Path(runs_dir) if runs_dir else default_runs_dir(store), save_weights)


def load_data(config: RunConfig):
    """The data of ``config``: ``.train`` and ``.dev`` (few-shot, source language), ``.test`` (language → examples)
    and ``.parallel`` (MPT's alignment pairs; empty for other methods or ``alpha=1``), all as
    :class:`xlprompt.Example` / parallel pairs. Reads the data folder only (``xlprompt data fetch`` fills it)."""
    from xlprompt.run_data import load_run_data

    _check_config(config)
    return load_run_data(config)


def load_run(run_dir: str | Path, device: str | None = None):
    """A finished run folder, ready to predict: ``load_run(dir).predict([(premise, hypothesis)], lang="de")``."""
    from xlprompt.predict import load_run as _load_run

    return _load_run(run_dir, device=device)


def _check_config(config) -> None:
    if not isinstance(config, RunConfig):
        raise ConfigError(
            f"expected an xlprompt.RunConfig, not {type(config).__name__}; build one with "
            "xlprompt.RunConfig(method=..., ...)"
        )


@dataclass
class Batch:
    """A training batch made by :meth:`PromptModel.collate`: the tokenised few-shot examples and, for a method
    that trains on the parallel corpus (MPT), the alignment pairs of this step."""

    examples: list
    pairs: list | None = None

    def __len__(self) -> int:
        return len(self.examples)


class PromptModel(nn.Module):
    """A method (``config.method``) around its masked LM, as one ``nn.Module``.

    Build it with :meth:`from_config` (a new model: the base PLM plus the method's own modules) or
    :meth:`from_pretrained` (one saved by :meth:`save_pretrained`). It carries what training and prediction
    need: ``tokenizer``, ``run_config`` (the resolved :class:`~xlprompt.RunConfig`), ``labels`` (the task's),
    :meth:`collate` (examples → :class:`Batch`), :meth:`training_loss`, :meth:`predict` and :meth:`accuracy`.

    ``forward(batch=...)`` returns ``{"loss": ...}``, so the model trains in the Hugging Face ``Trainer`` with
    ``data_collator=model.hf_collator`` and ``TrainingArguments(remove_unused_columns=False)``.

    For MPT the parallel corpus (``parallel``, e.g. ``load_data(config).parallel``) feeds Eq. 7's alignment
    task: each :meth:`collate` adds the next ``align_batch_size`` pairs of a shuffled cycle through it (seeded
    by ``seed``), as the run's trainer cycles the shorter of the two streams.
    """

    def __init__(
        self, method, tokenizer, run_config: RunConfig, random_weights: bool = False, parallel: Sequence | None = None
    ):
        super().__init__()
        from xlprompt.batching import TokenCache

        self.method = method
        self.tokenizer = tokenizer
        self.run_config = run_config
        self.random_weights = random_weights
        self.labels: tuple[str, ...] = tuple(run_config.task_spec().labels)
        self._cache = TokenCache(tokenizer, run_config.strip_punctuation)
        self._generator = torch.Generator().manual_seed(run_config.seed)
        self._pairs: list = []
        self._pair_order: list[int] = []
        if parallel:
            self.set_parallel(parallel)

    # ------------------------------------------------------------------ building and saving
    @classmethod
    def from_config(
        cls, config: RunConfig, *, device: str | torch.device = "cpu", parallel: Sequence | None = None
    ) -> "PromptModel":
        """A new, untrained model for ``config``: its tokenizer, the base PLM of ``config.model`` (``random:…``
        specs: random weights from ``seed``) and the method's own modules, initialised from ``seed``."""
        from xlprompt.experiment import build_components

        _check_config(config)
        config.validate()
        parts = build_components(config, torch.device(device))
        return cls(parts.method, parts.tokenizer, config, parts.backbone_info.random_weights, parallel)

    def save_pretrained(self, save_directory: str | Path) -> Path:
        """Save everything this model needs to predict: the resolved config, the task's labels and label
        words, the tokenizer (copied, so the folder is portable) and every trained tensor (the method's own
        modules: prompt encoder, translator and per-language prompts, head; the PLM when it trains). Written
        into a new folder next to ``save_directory`` and swapped in, so an existing model there is replaced only
        by a complete one."""
        from xlprompt.checkpoint import atomic_write_text
        from xlprompt.safety import recover_staged, save_safetensors, verify_safetensors

        target = Path(save_directory)
        recover_staged(target)  # a save killed while swapping in is finished first: what is there is then whole
        if target.exists() and not target.is_dir():
            raise CheckpointError(f"{target} is a file; give a folder to save the model in")
        if target.is_dir() and any(target.iterdir()) and not (target / MODEL_CONFIG).is_file():
            raise CheckpointError(f"{target} is not empty and holds no saved xlprompt model; give a new folder")
        from xlprompt.safety import staged_folder

        config = self.run_config
        task = config.task_spec()
        label_words = None
        if config.label_words_file:
            label_words = json.loads(Path(config.label_words_file).read_text("utf-8"))
        # built in a new folder, verified, then its entries replace the saved model's (only those: other files
        # in the folder stay)
        with staged_folder(target, ("tokenizer", MODEL_WEIGHTS, LABEL_WORDS_FILE, MODEL_CONFIG)) as staging:
            self.tokenizer.save_pretrained(str(staging / "tokenizer"))
            if label_words is not None:  # the words this model was built with (an earlier model's never stay)
                atomic_write_text(staging / LABEL_WORDS_FILE, json.dumps(label_words, ensure_ascii=False))
            state = {k: v.detach().float().cpu().contiguous().clone() for k, v in self.method.trainable_state().items()}
            save_safetensors(state, staging / MODEL_WEIGHTS, metadata={"config_hash": config.resolved_hash()})
            verify_safetensors(staging / MODEL_WEIGHTS)
            meta = {
                "format": MODEL_FORMAT,
                "config": config.to_dict(),
                "config_hash": config.resolved_hash(),
                "random_weights": self.random_weights,
                "labels": list(self.labels),
                "task": _task_record(task),
                "label_words_file": label_words,
            }
            atomic_write_text(staging / MODEL_CONFIG, json.dumps(meta, indent=2, ensure_ascii=False))
        return target

    @classmethod
    def from_pretrained(cls, directory: str | Path, *, device: str | torch.device = "cpu") -> "PromptModel":
        """A model saved by :meth:`save_pretrained`, with its trained weights: its predictions are the saved
        model's."""
        from xlprompt.experiment import build_components
        from xlprompt.safety import load_safetensors, verify_safetensors
        from xlprompt.tasks import Task, get_task, register_task

        folder = Path(directory)
        meta_path = folder / MODEL_CONFIG
        if not meta_path.is_file():
            raise CheckpointError(f"{folder}: no {MODEL_CONFIG}; give a folder written by PromptModel.save_pretrained")
        try:
            meta = json.loads(meta_path.read_text("utf-8"))
        except (OSError, ValueError) as err:
            raise CheckpointError(f"{meta_path}: unreadable ({err}); save the model again") from None
        if not isinstance(meta, dict) or meta.get("format") != MODEL_FORMAT:
            raise CheckpointError(
                f"{meta_path}: not a saved model of this xlprompt version (format "
                f"{meta.get('format') if isinstance(meta, dict) else '?'}, expected {MODEL_FORMAT})"
            )
        values = dict(meta["config"])
        values["tokenizer"] = str(folder / "tokenizer")
        record = meta["task"]
        try:
            builtin = get_task(record["name"]).origin.startswith("built-in")
        except ConfigError:
            builtin = False
        if not builtin:
            task = Task(
                **{
                    k: tuple(v) if isinstance(v, list) else v
                    for k, v in record.items()
                    if k not in ("language_label_words", "method_options")
                },
                language_label_words={k: tuple(v) for k, v in record["language_label_words"].items()},
                method_options=record["method_options"],
                origin=f"saved model {folder}",
            )
            register_task(task, replace=True)
        values["task"] = record["name"]
        if meta.get("label_words_file") is not None:
            values["label_words_file"] = str(_label_words_path(folder, meta["label_words_file"]))
        config = RunConfig.from_dict(values, where=str(meta_path))
        weights = folder / MODEL_WEIGHTS
        verify_safetensors(weights)
        parts = build_components(config, torch.device(device))
        try:
            parts.method.load_trainable_state(load_safetensors(weights))
        except (KeyError, RuntimeError) as err:
            raise CheckpointError(f"{weights}: does not fit the saved config ({str(err).splitlines()[0]})") from None
        model = cls(parts.method, parts.tokenizer, config, bool(meta.get("random_weights")))
        model.eval()
        return model

    # ------------------------------------------------------------------ training
    def set_parallel(self, pairs: Sequence) -> None:
        """The parallel corpus of the alignment task (:class:`~xlprompt.data.examples.ParallelPair` rows)."""
        self._pairs = self._cache.pairs(list(pairs))
        self._pair_order = []

    def _next_pairs(self) -> list | None:
        if not (self.method.uses_parallel and self._pairs):
            return None
        size = self.run_config.align_batch_size or self.run_config.batch_size
        out = []
        while len(out) < min(size, len(self._pairs)):
            if not self._pair_order:
                self._pair_order = torch.randperm(len(self._pairs), generator=self._generator).tolist()
            out.append(self._pairs[self._pair_order.pop(0)])
        return out

    def _examples(self, examples: Iterable) -> list:
        from xlprompt.data.examples import NLIExample

        task = self.run_config.task_spec()
        rows = []
        for i, ex in enumerate(examples):
            if isinstance(ex, NLIExample):
                rows.append(ex)
                continue
            if not isinstance(ex, Mapping):
                raise DataError(
                    f"example {i}: expected an xlprompt.Example or a mapping with the text fields "
                    f"({', '.join(task.text_fields)}) and 'label', not {type(ex).__name__}"
                )
            fields = task.text_fields if all(f in ex for f in task.text_fields) else ("premise", "hypothesis")
            texts = [ex.get(f) for f in fields] + [""] * (2 - len(fields))
            if not all(isinstance(t, str) for t in texts) or "label" not in ex:
                raise DataError(f"example {i}: needs the text field(s) {', '.join(task.text_fields)} and 'label'")
            try:
                label = task.parse_label(ex["label"])
            except ValueError:
                raise DataError(
                    f"example {i}: unknown label {ex['label']!r}; allowed: {', '.join(task.labels)}"
                ) from None
            rows.append(NLIExample(texts[0], texts[1], label, ex.get("lang", task.source_language), f"ex-{i}"))
        return rows

    def collate(self, examples: Iterable) -> Batch:
        """Examples (:class:`xlprompt.Example`, or mappings with the task's text fields and ``label``) → a
        :class:`Batch` for :meth:`training_loss`, with this step's alignment pairs for MPT."""
        return Batch(self._cache.examples(self._examples(examples)), self._next_pairs())

    def hf_collator(self, features: list) -> dict[str, Batch]:
        """``data_collator`` for the Hugging Face ``Trainer``: ``{"batch": collate(features)}``."""
        return {"batch": self.collate(features)}

    def training_loss(self, batch: Batch, generator: torch.Generator | None = None) -> torch.Tensor:
        """The method's training loss on ``batch`` (MPT: Eq. 8, α·CE + (1-α)·KL), a scalar to ``backward()``.
        Its named parts (``ce``, ``kl``, ...) are in :attr:`last_loss_parts`."""
        if not isinstance(batch, Batch):
            raise DataError(f"training_loss takes a Batch from PromptModel.collate, not {type(batch).__name__}")
        if not batch.examples:
            raise DataError("training_loss: the batch is empty")
        out = self.method.training_loss(batch.examples, batch.pairs, generator or self._generator)
        self.last_loss_parts = {k: float(v) for k, v in out.parts.items()}
        return out.loss

    def forward(self, batch: Batch) -> dict[str, torch.Tensor]:
        """``{"loss": training_loss(batch)}`` (the Hugging Face ``Trainer``'s contract)."""
        return {"loss": self.training_loss(batch)}

    # ------------------------------------------------------------------ prediction
    def _predictor(self):
        from xlprompt.predict import Predictor

        return Predictor(self.run_config, self.method, self.tokenizer, self.random_weights, "PromptModel")

    def predict(self, inputs: Iterable, lang: str | None = None, batch_size: int | None = None) -> list:
        """One :class:`xlprompt.Prediction` (label, label id, class probabilities) per input: a pair
        ``(premise, hypothesis)`` (a string for a one-text task) or a mapping with the task's text fields, in
        language ``lang`` (default: the task's source language; it picks MPT's prompt and PCT's template)."""
        lang = lang or self.run_config.task_spec().source_language
        return self._predictor().predict(list(inputs), lang, batch_size)

    def scores(self, inputs: Iterable, lang: str | None = None, batch_size: int | None = None) -> torch.Tensor:
        """Class probabilities [N, len(labels)] of :meth:`predict`."""
        lang = lang or self.run_config.task_spec().source_language
        return self._predictor().scores(list(inputs), lang, batch_size)

    def accuracy(self, examples: Sequence, lang: str | None = None) -> float:
        """The share of ``examples`` (with labels) predicted right, in ``lang`` (default: each example's)."""
        from xlprompt.evaluate import predict

        rows = self._examples(examples)
        if not rows:
            return 0.0
        groups: dict[str, list] = {}
        for ex in rows:
            groups.setdefault(lang or ex.lang, []).append(ex)
        correct = 0
        for group_lang, group in groups.items():
            tokenized = self._cache.examples(group)
            predicted, _ = predict(self.method, tokenized, group_lang, self.run_config.eval_batch_size)
            correct += sum(int(p == ex.label) for p, ex in zip(predicted, group))
        return correct / len(rows)


def _task_record(task) -> dict[str, Any]:
    return {
        "name": task.name,
        "labels": list(task.labels),
        "languages": list(task.languages),
        "label_words": list(task.label_words),
        "text_fields": list(task.text_fields),
        "source_language": task.source_language,
        "language_label_words": {k: list(v) for k, v in task.language_label_words.items()},
        "tiny_label_words": list(task.tiny_label_words),
        "parallel_default": task.parallel_default,
        "method_options": json.loads(json.dumps(task.method_options, default=list)),
    }
