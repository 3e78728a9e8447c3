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

# the files of a saved PromptModel (see xlprompt.artifact)
from xlprompt.artifact import LABEL_WORDS_FILE, MODEL_CONFIG, MODEL_FORMAT, MODEL_WEIGHTS, TOKENIZER_FOLDER
from xlprompt.config import RunConfig
from xlprompt.errors import CheckpointError, ConfigError, DataError

__all__ = ["run", "run_sweep", "load_data", "PromptModel", "Batch", "load_run"]


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
    """A trained model ready to predict: ``load_run(dir).predict([(premise, hypothesis)], lang="de")``.

    Args:
        run_dir (str | Path): a finished run folder, a folder written by :meth:`PromptModel.save_pretrained`, an
            ``xlprompt export`` adapter, or a Hugging Face Hub name ``user/name[@revision]``.
        device (str | None): where to predict (``cpu``, ``cuda``, ``cuda:1``, ``auto``); None: the run's
            ``device`` setting.

    Returns:
        xlprompt.predict.Predictor: ``predict(pairs, lang)``, ``scores(pairs, lang)``, ``config``.
    """
    from xlprompt.artifact import load_artifact

    return load_artifact(run_dir, device=device).predictor


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
        #: the identity of a loaded model (the config hash it was saved with) and the config values it recorded:
        #: saved again, it keeps both
        self._config_hash: str | None = None
        self._saved_config: dict | None = None
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

    @property
    def config_hash(self) -> str:
        """The model's identity: its config's hash (for a loaded model, the one it was saved with)."""
        return self._config_hash or self.run_config.resolved_hash()

    def save_pretrained(self, save_directory: str | Path) -> Path:
        """Save everything this model needs to predict into a self-contained folder.

        The folder holds ``xlprompt_model.json`` (the config, naming nothing outside the folder, and its hash; the
        task's record; the labels; the label words the model was built with and their token ids; the tokenizer's
        digest), ``model.safetensors`` (every trained tensor: the method's own modules, the PLM when it trains;
        its metadata carries the config hash and method), ``tokenizer/`` and, for a model with
        ``label_words_file``, ``label_words.json``. It is written into a new folder next to ``save_directory`` and
        swapped in, so an existing model there is replaced only by a complete one; other files there stay.

        Args:
            save_directory (str | Path): the folder (created; an earlier saved model there is replaced).

        Returns:
            Path: the folder.
        """
        from xlprompt.artifact import folder_digest, portable_config, verbalizer_record
        from xlprompt.checkpoint import atomic_write_text
        from xlprompt.safety import check_output_dir, save_safetensors, staged_folder, verify_safetensors
        from xlprompt.tasks import task_record
        from xlprompt.version import __version__

        target = Path(save_directory)
        if target.exists() and not target.is_dir():
            raise CheckpointError(f"{target} is a file; give a folder to save the model in")
        check_output_dir(target, "model folder")  # FILE/sub, a read-only place: one line, before the work
        if target.is_dir() and any(target.iterdir()) and not (target / MODEL_CONFIG).is_file():
            raise CheckpointError(f"{target} is not empty and holds no saved xlprompt model; give a new folder")
        config = self.run_config
        task = config.task_spec()
        words, ids = verbalizer_record(self.method)  # what the model was built with, not what a file says now
        recorded = self._saved_config if self._saved_config is not None else config.to_dict()
        values, base_local = portable_config(
            recorded, task.name, bool(recorded.get("label_words_file")) and bool(words), config.model
        )
        identity = self.config_hash
        # built in a new folder, verified, then its entries replace the saved model's (only those: other files
        # in the folder stay)
        with staged_folder(target, (TOKENIZER_FOLDER, MODEL_WEIGHTS, LABEL_WORDS_FILE, MODEL_CONFIG)) as staging:
            self.tokenizer.save_pretrained(str(staging / TOKENIZER_FOLDER))
            if values.get("label_words_file"):
                atomic_write_text(staging / LABEL_WORDS_FILE, json.dumps(words, ensure_ascii=False))
            state = {k: v.detach().float().cpu().contiguous().clone() for k, v in self.method.trainable_state().items()}
            save_safetensors(
                state, staging / MODEL_WEIGHTS, metadata={"config_hash": identity, "method": config.method}
            )
            verify_safetensors(staging / MODEL_WEIGHTS)
            meta = {
                "format": MODEL_FORMAT,
                "config": values,
                "config_hash": identity,
                "method": config.method,
                "random_weights": self.random_weights,
                "labels": list(self.labels),
                "task": task_record(task),
                "label_words": words,
                "label_word_ids": ids,
                "tokenizer_digest": folder_digest(staging / TOKENIZER_FOLDER),
                "base_model_local": base_local,
                "xlprompt": __version__,
            }
            atomic_write_text(staging / MODEL_CONFIG, json.dumps(meta, indent=2, ensure_ascii=False))
        return target

    def push_to_hub(
        self,
        repo_id: str,
        *,
        token: str | None = None,
        private: bool | None = None,
        revision: str | None = None,
        commit_message: str = "Upload xlprompt model",
    ):
        """Upload the folder :meth:`save_pretrained` writes to the Hugging Face Hub repository ``repo_id``
        (created if missing), through ``huggingface_hub``; :meth:`from_pretrained` loads it back by that name.

        Args:
            repo_id (str): ``user/name`` (or ``org/name``).
            token (str | None): a Hub token; None: the one of ``huggingface-cli login`` / ``HF_TOKEN``.
            private (bool | None): create the repository private (None: the Hub's default).
            revision (str | None): the branch to commit to (None: ``main``).
            commit_message (str): the commit's message.

        Returns:
            huggingface_hub.CommitInfo: the commit (``.commit_url``).
        """
        import tempfile

        from huggingface_hub import HfApi

        api = HfApi(token=token)
        with tempfile.TemporaryDirectory(prefix="xlprompt-push-") as tmp:  # unpredictable, removed
            folder = self.save_pretrained(Path(tmp) / "model")
            api.create_repo(repo_id, private=private, exist_ok=True)
            return api.upload_folder(
                folder_path=str(folder), repo_id=repo_id, revision=revision, commit_message=commit_message
            )

    @classmethod
    def from_pretrained(
        cls,
        source: str | Path,
        *,
        device: str | torch.device = "cpu",
        base_model: str | None = None,
        tokenizer: str | None = None,
    ) -> "PromptModel":
        """A trained model, from any of xlprompt's artifacts: a finished run folder (``xlprompt run --out``), a
        folder written by :meth:`save_pretrained`, an ``xlprompt export`` adapter, or a Hugging Face Hub name
        ``user/name[@revision]`` of one (fetched into the Hub cache; ``HF_HUB_OFFLINE=1`` reads the cache only).
        Its predictions are the saved model's.

        What the artifact says about itself is compared with what is loaded, and a difference is refused in one
        line (:class:`~xlprompt.CheckpointError`): weights of another model (their config hash), another method's
        tensors (missing or unexpected keys), other labels, label words that map to other tokens, an edited
        tokenizer, task or label-words record. The artifact's task is used for this model only: a task registered
        in the process is neither replaced nor changed.

        Args:
            source (str | Path): the folder, or a Hub name.
            device (str | torch.device): where the model goes (default ``cpu``).
            base_model (str | None): the base model, where the recorded one does not load from here (a local
                base model folder; an adapter's base).
            tokenizer (str | None): a run's or adapter's tokenizer, where the recorded one does not load from here.

        Returns:
            PromptModel: the model, in eval mode; saved again, it keeps its config hash.
        """
        from xlprompt.artifact import load_artifact

        loaded = load_artifact(source, device=device, base_model=base_model, tokenizer=tokenizer)
        found = loaded.predictor
        model = cls(found.method, found.tokenizer, found.config, found.random_weights)
        model._config_hash = loaded.config_hash
        model._saved_config = loaded.saved_config
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
