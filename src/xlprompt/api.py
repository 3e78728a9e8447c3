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
from typing import Any, Callable, Iterable, Mapping, Sequence, cast

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
    """Train ``config``, select on the source language's dev split, evaluate every language; return the
    results (``xlprompt run``).

    :param config: the run's config.
    :param out_dir: the run folder (``config.json``, ``metrics.jsonl``, ``results.json``, ``predictions.jsonl``,
        the trained prompt and, with ``save_weights``, the trained PLM). A finished folder is returned as it is,
        an interrupted one resumes from its last checkpoint, a folder of another config is refused. None
        (default): nothing is written.
    :param progress: show progress bars.
    :param save_weights: also save the trained PLM (``plm.safetensors``) when the method trains it, so that
        :func:`load_run` can predict.
    :param log: called with each line of the run's log (default: the lines are dropped).
    :returns: the results, as ``results.json`` holds them: ``accuracy`` and ``macro_f1`` per language (in %)
        with ``avg``, ``averages`` (what each average covers), ``best_epoch``, ``random_weights``, ...
    :raises ConfigError: a bad config or a folder of another config.
    :raises DataError: missing or bad data files (before any model loads).
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

    Finished runs are skipped, interrupted ones resume, and several processes may share one store. Every run's
    config and data files are checked before the first run starts.

    :param sweep_file: the sweep file (``base``, ``grid``, ``variants``, ``groups``; the guide "Reproduce the
        paper").
    :param store: the results store, created if absent.
    :param runs_dir: where the run folders go (default: ``<store>.runs/``).
    :param overrides: config key → value for every run (``--set``).
    :param workers: local worker processes that claim runs from the store (``--workers``).
    :param max_runs: stop after this many runs (default: all).
    :param save_weights: save each run's trained PLM (default: the sweep file's ``save_weights``, else no).
    :param progress: show progress bars.
    :returns: the :class:`~xlprompt.executors.SweepSummary` (``.ran``, ``.failed``, ``.line()``).
    :raises ConfigError: a bad sweep file or run config.
    :raises DataError: a run's data files are missing.
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
    """The data of ``config``, as its run reads them. Reads the data folder only (``xlprompt data fetch`` fills
    it); never downloads.

    :param config: the run's config (``task``, ``shots``, ``seed``, ``data_dir``, ``parallel_source``, ...).
    :returns: an object with ``.train`` and ``.dev`` (the few-shot examples of the source language), ``.test``
        (language → examples of the evaluated split) and ``.parallel`` (MPT's alignment pairs,
        :class:`~xlprompt.data.examples.ParallelPair`; empty for other methods or ``alpha=1``), the examples as
        :class:`xlprompt.Example`.
    :raises ConfigError: a bad config.
    :raises DataError: missing or bad data files (naming the ``xlprompt data fetch`` call that fills them).
    """
    from xlprompt.run_data import load_run_data

    _check_config(config)
    return load_run_data(config)


def load_run(run_dir: str | Path, device: str | None = None):
    """A trained model ready to predict: ``load_run(dir).predict([(premise, hypothesis)], lang=code)``, ``code``
    one of the run's task's languages.

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
    """A training batch made by :meth:`PromptModel.collate`: the tokenised few-shot examples, for a method
    that trains on the parallel corpus (MPT) the alignment pairs of this step, and ``seed``, the seed of the
    step's own random draws (PCT's ``pct_language_draw=step``), derived from the config's seed and the step."""

    examples: list
    pairs: list | None = None
    seed: int = 0

    def __len__(self) -> int:
        return len(self.examples)


@dataclass(frozen=True)
class TrainingItem:
    """One item of :meth:`PromptModel.train_dataset`: an example with its place in the training stream
    (``epoch``, ``index``) and the positions of the alignment pairs it brings to its batch (MPT)."""

    example: Any
    epoch: int
    index: int
    pair_positions: tuple[int, ...] = ()


class TrainingData(torch.utils.data.Dataset):
    """The training examples as a ``torch`` dataset for the Hugging Face ``Trainer`` or a ``DataLoader``
    (:meth:`PromptModel.train_dataset`). Item ``i`` of epoch ``e`` is a :class:`TrainingItem` carrying its
    example and the positions ``(e·n + i)·q … (e·n + i + 1)·q − 1`` of the model's alignment-pair stream (``q``
    pairs per example, ``n`` examples): every item of an epoch brings other pairs, and epochs continue through
    the corpus. An item depends only on ``(epoch, i)``, so any number of data-loader workers gives the same
    batches. ``set_epoch(e)`` is called by the ``Trainer`` (through ``accelerate``) before each epoch; in your
    own loop call it yourself before iterating (with ``persistent_workers=False``, the default, so that the
    workers see it)."""

    def __init__(self, examples: Sequence, pairs_per_example: int):
        self.examples = list(examples)
        self.pairs_per_example = int(pairs_per_example)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Items from now on belong to epoch ``epoch``.

        :param epoch: the epoch, 0-based.
        """
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> TrainingItem:
        if not -len(self) <= index < len(self):
            raise IndexError(f"item {index} of {len(self)}")
        index %= len(self)
        q = self.pairs_per_example
        first = (self.epoch * len(self) + index) * q
        return TrainingItem(self.examples[index], self.epoch, index, tuple(range(first, first + q)))


def _stream_seed(seed: int, key: str) -> int:
    """A 63-bit seed from the config's seed and a text key (the same in every process)."""
    import hashlib

    return int.from_bytes(hashlib.sha256(f"{seed}:{key}".encode()).digest()[:8], "big") >> 1


class PromptModel(nn.Module):
    """A method (``config.method``) around its masked LM, as one ``nn.Module``.

    Build it with :meth:`from_config` (a new model: the base PLM plus the method's own modules) or
    :meth:`from_pretrained` (one saved by :meth:`save_pretrained`). It carries what training and prediction
    need: ``tokenizer``, ``run_config`` (the resolved :class:`~xlprompt.RunConfig`), ``labels`` (the task's),
    :meth:`collate` (examples → :class:`Batch`), :meth:`training_loss`, :meth:`predict` and :meth:`accuracy`.

    In the Hugging Face ``Trainer``: ``train_dataset=model.train_dataset(examples)``,
    ``data_collator=model.hf_collator``, ``compute_metrics=model.compute_metrics`` and
    ``callbacks=[model.loss_parts_callback()]``; ``forward(batch, labels)`` returns ``{"loss", "logits"}`` (the
    logits in evaluation only), so ``evaluate()`` reports ``eval_loss``. Its ``state_dict()`` holds every tensor
    once (tied weights under their first name), so checkpoints save as safetensors and resume.

    For MPT the parallel corpus (``parallel``, e.g. ``load_data(config).parallel``) feeds Eq. 7's alignment
    task through a stream that cycles through the corpus, reshuffled every cycle (seeded by ``seed`` and the
    cycle), as the run's trainer cycles the shorter of the two streams. Which pairs a batch gets is a function
    of its step (:meth:`collate`'s ``step``) or of its items (:meth:`train_dataset`), never of earlier calls: the
    model holds no data-order state.

    :param method: the method, a :class:`~xlprompt.Method` around its masked LM.
    :param tokenizer: the method's tokenizer.
    :param run_config: the resolved config the method was built from.
    :param random_weights: whether the PLM has random weights (predictions are labelled so).
    :param parallel: MPT's parallel corpus (:meth:`set_parallel`).
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
        self._pairs: list = []
        self._cycles: dict[int, list[int]] = {}  # cycle → its order of the pairs (a pure function of the two)
        self._part_sums: dict[str, float] = {}  # the loss parts since loss_parts_callback last read them
        self._part_steps = 0
        #: the identity of a loaded model (the config hash it was saved with) and the config values it recorded:
        #: saved again, it keeps both
        self._config_hash: str | None = None
        self._saved_config: dict | None = None
        if parallel:
            self.set_parallel(parallel)

    # ------------------------------------------------------------------ building and saving
    @classmethod
    def from_config(
        cls, config: RunConfig, *, device: str | torch.device | None = None, parallel: Sequence | None = None
    ) -> "PromptModel":
        """A new, untrained model for ``config``: its tokenizer, the base PLM of ``config.model`` (``random:…``
        specs: random weights from ``seed``) and the method's own modules, initialised from ``seed``.

        :param config: the run config (:class:`~xlprompt.RunConfig`).
        :param device: where the model is built: ``auto``, ``cpu``, ``cuda``, ``cuda:N``, ``mps`` or a
            ``torch.device``; None (default): ``config.device``.
        :param parallel: MPT's parallel corpus (``load_data(config).parallel``) for the alignment task.
        :returns: the :class:`PromptModel`, in training mode.
        :raises ConfigError: a bad config, or a device this machine lacks.
        """
        from xlprompt.device import resolve_device
        from xlprompt.experiment import build_components

        _check_config(config)
        config.validate()
        parts = build_components(config, resolve_device(config, device))
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
        from xlprompt.artifact import portable_config, verbalizer_record
        from xlprompt.checkpoint import atomic_write_text
        from xlprompt.config import content_digest
        from xlprompt.safety import (
            check_output_dir,
            recover_staged,
            save_safetensors,
            staged_folder,
            verify_safetensors,
        )
        from xlprompt.tasks import task_record
        from xlprompt.version import __version__

        target = Path(save_directory)
        recover_staged(target)  # a save killed while swapping in is finished first: what is there is then whole
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
                "tokenizer_digest": content_digest(staging / TOKENIZER_FOLDER),
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

    # ------------------------------------------------------------------ tied weights
    def _aliases(self) -> dict[str, str]:
        """Every state-dict name whose tensor is a tensor of an earlier name (a tied weight: XLM-R's MLM
        decoder and its word embeddings, the decoder's bias and the head's) → that earlier name."""
        first: dict[tuple, str] = {}
        aliases: dict[str, str] = {}
        for name, tensor in super().state_dict(keep_vars=True).items():
            if tensor.numel() == 0:
                continue
            key = (
                tensor.device,
                tensor.untyped_storage().data_ptr(),
                tensor.storage_offset(),
                tuple(tensor.shape),
                tensor.stride(),
            )
            if key in first:
                aliases[name] = first[key]
            else:
                first[key] = name
        return aliases

    def state_dict(self, *args, destination=None, prefix: str = "", keep_vars: bool = False):
        """``nn.Module.state_dict`` with every tensor once: a tied weight appears under its first name only, so
        that safetensors (and the Hugging Face ``Trainer``'s checkpoints) can store it. :meth:`load_state_dict`
        restores the ties (it copies into the shared tensor).

        :param args: ``nn.Module.state_dict``'s positional arguments.
        :param destination: as ``nn.Module.state_dict``'s.
        :param prefix: a prefix of every name.
        :param keep_vars: keep the parameters themselves (not detached tensors).
        :returns: name → tensor.
        """
        state = super().state_dict(*args, destination=destination, prefix=prefix, keep_vars=keep_vars)
        for name in self._aliases():
            state.pop(prefix + name, None)
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False):
        """``nn.Module.load_state_dict`` that takes :meth:`state_dict`'s output (a tied weight under its first
        name only) as well as a full one.

        :param state_dict: name → tensor.
        :param strict: as ``nn.Module.load_state_dict``'s (every name must match).
        :param assign: as ``nn.Module.load_state_dict``'s.
        :returns: the missing and unexpected keys (``nn.Module.load_state_dict``'s result).
        """
        state = dict(state_dict)
        for alias, name in self._aliases().items():
            if alias not in state and name in state:
                state[alias] = state[name]
        return super().load_state_dict(state, strict=strict, assign=assign)

    # ------------------------------------------------------------------ training
    def set_parallel(self, pairs: Sequence) -> None:
        """Set the parallel corpus of the alignment task (MPT); the pair stream starts again.

        :param pairs: :class:`~xlprompt.data.examples.ParallelPair` rows (``load_data(config).parallel``).
        """
        self._pairs = self._cache.pairs(list(pairs))
        self._cycles = {}

    def _uses_pairs(self) -> bool:
        return bool(self.method.uses_parallel and self._pairs)

    def _pair_at(self, position: int):
        """Position ``position`` of the alignment-pair stream: cycle ``position // N`` of the N pairs is their
        permutation drawn from ``(seed, cycle)``, as the run trainer's epoch order of the pairs."""
        from xlprompt.trainer import epoch_generator

        cycle, offset = divmod(position, len(self._pairs))
        order = self._cycles.get(cycle)
        if order is None:
            order = torch.randperm(len(self._pairs), generator=epoch_generator(self.run_config.seed, cycle)).tolist()
            if len(self._cycles) >= 4:  # a memo of a pure function: keep it small
                self._cycles.clear()
            self._cycles[cycle] = order
        return self._pairs[order[offset]]

    def alignment_pairs(self, step: int) -> list | None:
        """The alignment pairs of training step ``step`` (0-based): positions ``step·A … step·A + A − 1`` of the
        pair stream, ``A`` = ``align_batch_size`` (``batch_size`` when unset; at most the corpus). None for a
        method without the alignment task or a model without a parallel corpus.

        :param step: the step's number, an int >= 0.
        :returns: the step's tokenised pairs, or None.
        :raises DataError: ``step`` is not an int >= 0.
        """
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise DataError(f"step must be an int >= 0, not {step!r}")
        if not self._uses_pairs():
            return None
        batch_size = cast(int, self.run_config.batch_size)  # a recipe key: resolved when the config was built
        size = min(self.run_config.align_batch_size or batch_size, len(self._pairs))
        return [self._pair_at(step * size + i) for i in range(size)]

    def train_dataset(self, examples: Iterable) -> TrainingData:
        """The training examples as a dataset for the Hugging Face ``Trainer`` (``train_dataset=``) or a
        ``DataLoader`` with ``collate_fn=model.hf_collator``: each item carries its example and, for MPT, its
        share of the alignment pairs, ``ceil(align_batch_size / batch_size)`` pairs per example (see
        :class:`TrainingData`). The examples are checked here, as :meth:`collate` checks them.

        :param examples: :class:`xlprompt.Example` rows or mappings with the task's text fields and ``label``
            (optional ``lang``, ``id``/``uid``).
        :returns: a :class:`TrainingData` (a ``torch.utils.data.Dataset`` with ``set_epoch``).
        :raises DataError: no examples, or a bad one (naming its position).
        """
        import math

        rows = self._examples(examples)
        if not rows:
            raise DataError("train_dataset: no examples; give the few-shot training examples")
        config = self.run_config
        batch_size = cast(int, config.batch_size)  # a recipe key: resolved when the config was built
        per_example = math.ceil((config.align_batch_size or batch_size) / batch_size)
        return TrainingData(rows, per_example if self.method.uses_parallel else 0)

    def _examples(self, examples: Iterable) -> list:
        """Examples or mappings → :class:`xlprompt.Example` rows, checked by the rules of :meth:`predict` (the
        task's languages, non-empty texts) and the task's labels; each with its id: the data's (an Example's
        ``uid``, a mapping's ``uid`` or ``id``) or, where the data gives none, one derived from its texts
        (:func:`~xlprompt.data.examples.content_uid`), never its position."""
        from xlprompt.data.examples import NLIExample, content_uid
        from xlprompt.predict import check_input_language, input_fields, input_texts

        task = self.run_config.task_spec()
        fields = input_fields(task)
        rows = []
        texts: Sequence[str] | Mapping[str, Any]
        for i, ex in enumerate(examples):
            if isinstance(ex, NLIExample):
                texts = (ex.premise, ex.hypothesis) if len(fields) == 2 else (ex.premise,)
                label, lang, uid = ex.label, ex.lang, ex.uid
            elif isinstance(ex, Mapping):
                texts = ex
                if "label" not in ex:
                    raise DataError(f"example {i}: needs the text field(s) {', '.join(fields)} and 'label'")
                label, lang = ex["label"], ex.get("lang", task.source_language)
                uid = ex.get("uid", ex.get("id"))
                if uid is not None and (isinstance(uid, bool) or not isinstance(uid, (str, int)) or not str(uid)):
                    raise DataError(f"example {i}: its id must be a non-empty string or an int, not {uid!r}")
            else:
                raise DataError(
                    f"example {i}: expected an xlprompt.Example or a mapping with the text fields "
                    f"({', '.join(fields)}) and 'label', not {type(ex).__name__}"
                )
            premise, hypothesis = input_texts([texts], fields, "example", i)[0]
            try:
                lang = check_input_language(task, lang)
            except ConfigError as err:
                raise DataError(f"example {i}: {err}") from None
            try:
                label = task.parse_label(label)
            except ValueError:
                raise DataError(f"example {i}: unknown label {label!r}; allowed: {', '.join(task.labels)}") from None
            uid = str(uid) if uid not in (None, "") else content_uid(premise, hypothesis)
            rows.append(NLIExample(premise, hypothesis, label, lang, uid))
        return rows

    def collate(self, examples: Iterable, step: int | None = None) -> Batch:
        """A :class:`Batch` for :meth:`training_loss`.

        :param examples: :class:`xlprompt.Example` rows or mappings with the task's text fields and ``label``
            (optional ``lang``, ``id``/``uid``), checked as :meth:`predict` checks its inputs; or items of
            :meth:`train_dataset`, which bring their own alignment pairs.
        :param step: the training step's number (0-based), for examples: picks the step's alignment pairs
            (:meth:`alignment_pairs`) and the seed of its draws. MPT with a parallel corpus needs it (or
            :meth:`train_dataset` items) to train.
        :returns: the tokenised examples, the step's alignment pairs (or None) and the step's seed.
        :raises DataError: no examples, a bad one (naming its position), or items mixed with examples.
        """
        items = list(examples)
        if not items:
            raise DataError("collate: no examples")
        carried = [x for x in items if isinstance(x, TrainingItem)]
        if carried:
            if len(carried) != len(items):
                raise DataError("collate: give either items of model.train_dataset(...) or examples, not both")
            if step is not None:
                raise DataError(
                    "collate: items of model.train_dataset(...) carry their step; pass step= only with examples"
                )
            rows = self._examples([x.example for x in items])
            positions = [p for x in items for p in x.pair_positions]
            pairs = [self._pair_at(p) for p in positions] if self._uses_pairs() and positions else None
            key = "items:" + ",".join(f"{x.epoch}.{x.index}" for x in items)
        else:
            rows = self._examples(items)
            pairs = self.alignment_pairs(step) if step is not None else None
            key = f"step:{step}" if step is not None else "uids:" + ",".join(sorted(r.uid for r in rows))
        return Batch(self._cache.examples(rows), pairs, _stream_seed(self.run_config.seed, key))

    def hf_collator(self, features: list) -> dict[str, Any]:
        """``data_collator`` for the Hugging Face ``Trainer`` (or ``collate_fn`` of a ``DataLoader``):
        ``{"batch": collate(features), "labels": the gold label ids}``. Holds no state: which alignment pairs a
        batch gets comes from its items (:meth:`train_dataset`), so any number of workers gives the same batches.

        :param features: items of :meth:`train_dataset`, or examples (evaluation; MPT trains on the former).
        :returns: the keyword arguments of :meth:`forward`.
        :raises DataError: a mapping without its text fields (the ``Trainer`` removed its columns).
        """
        from xlprompt.predict import input_fields

        fields = input_fields(self.run_config.task_spec())
        for feature in features:
            if isinstance(feature, Mapping) and not (
                all(f in feature for f in fields) or all(f in feature for f in ("premise", "hypothesis"))
            ):
                raise DataError(
                    f"hf_collator: a feature without its text fields ({', '.join(fields)}; it holds "
                    f"{', '.join(map(str, feature)) or 'nothing'}): the Trainer's remove_unused_columns=True drops "
                    "them; pass TrainingArguments(remove_unused_columns=False), or train_dataset=model.train_dataset(examples)"
                )
        batch = self.collate(features)
        labels = torch.tensor([ex.label for ex in batch.examples], dtype=torch.long)
        return {"batch": batch, "labels": labels}

    def training_loss(self, batch: Batch, generator: torch.Generator | None = None) -> torch.Tensor:
        """The method's training loss on ``batch`` (MPT: Eq. 8, α·CE + (1-α)·KL), a scalar to ``backward()``.
        Its named parts (``ce``, ``kl``, ...) are in ``last_loss_parts`` (name → float).

        :param batch: a :class:`Batch` of :meth:`collate`.
        :param generator: the step's random draws (PCT's language draw); None: seeded by the batch's ``seed``.
        :returns: the loss, a 0-d tensor.
        :raises DataError: not a :class:`Batch`, an empty one, or (in training) an MPT batch without alignment
            pairs.
        """
        if not isinstance(batch, Batch):
            raise DataError(f"training_loss takes a Batch from PromptModel.collate, not {type(batch).__name__}")
        if not batch.examples:
            raise DataError("training_loss: the batch is empty")
        if self.training and batch.pairs is None and self._uses_pairs():
            raise DataError(
                f"{self.run_config.method} trains on alignment pairs, and this batch has none: build it with "
                "model.collate(examples, step=step), or train on model.train_dataset(examples) (the Trainer's "
                "train_dataset)"
            )
        if generator is None:
            generator = torch.Generator().manual_seed(batch.seed)
        out = self.method.training_loss(batch.examples, batch.pairs, generator)
        self.last_loss_parts = {k: float(v) for k, v in out.parts.items()}
        return out.loss

    def forward(self, batch: Batch, labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The Hugging Face ``Trainer``'s contract: ``{"loss": training_loss(batch)}`` in training;
        in evaluation also ``"logits"``, the class scores [N, C] of the examples in their own languages (as
        :meth:`scores` before the softmax; with ``predict_over=vocab`` a last column for the best other word),
        so that ``evaluate()`` reports ``eval_loss`` and :meth:`compute_metrics` gets predictions.

        :param batch: a :class:`Batch` (from :meth:`hf_collator`).
        :param labels: the gold label ids that :meth:`hf_collator` passes (the Trainer hands them to
            ``compute_metrics``); the loss reads the batch's own.
        :returns: ``{"loss"}`` or ``{"loss", "logits"}``.
        """
        loss = self.training_loss(batch)
        if self.training:
            self._part_steps += 1
            for name, value in self.last_loss_parts.items():
                self._part_sums[name] = self._part_sums.get(name, 0.0) + value
            return {"loss": loss}
        return {"loss": loss, "logits": self._batch_scores(batch.examples).to(loss.device)}

    def _batch_scores(self, examples: Sequence) -> torch.Tensor:
        """Class scores of tokenised examples, each in its own language, in the given order."""
        from xlprompt.evaluate import predict

        groups: dict[str, list[int]] = {}
        for i, ex in enumerate(examples):
            groups.setdefault(ex.lang, []).append(i)
        out: torch.Tensor | None = None
        for lang, rows in groups.items():
            _, scores = predict(self.method, [examples[i] for i in rows], lang, self.run_config.eval_batch_size)
            if out is None:
                out = torch.zeros(len(examples), scores.shape[-1])
            out[torch.tensor(rows)] = scores
        return out

    def compute_metrics(self, eval_prediction) -> dict[str, float]:
        """``compute_metrics`` for the Hugging Face ``Trainer``: accuracy and macro-F1 in % over the task's
        labels (:func:`xlprompt.evaluate.classification_metrics`; a prediction of ``predict_over=vocab``'s
        extra column counts as wrong).

        :param eval_prediction: the Trainer's ``EvalPrediction`` (``predictions``: the logits of :meth:`forward`,
            ``label_ids``: the gold ids), or a ``(logits, labels)`` pair.
        :returns: ``{"accuracy": ..., "macro_f1": ...}`` (the Trainer logs them as ``eval_accuracy``,
            ``eval_macro_f1``).
        """
        from xlprompt.evaluate import classification_metrics

        logits, gold = eval_prediction[0], eval_prediction[1]
        predicted = torch.as_tensor(logits).argmax(-1).tolist()
        metrics = classification_metrics(torch.as_tensor(gold).tolist(), predicted, len(self.labels))
        return {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"]}

    def pop_loss_parts(self) -> dict[str, float]:
        """The mean of each loss part (``ce``, ``kl``, ...) over the training forwards since the last call, and
        start a new window (what :meth:`loss_parts_callback` logs).

        :returns: part name → mean; empty when no training forward ran.
        """
        steps, sums = self._part_steps, self._part_sums
        self._part_sums, self._part_steps = {}, 0
        return {name: value / steps for name, value in sums.items()} if steps else {}

    def loss_parts_callback(self):
        """A Hugging Face ``TrainerCallback`` that adds the loss parts, averaged since the last log, to every
        training log as ``loss_ce``, ``loss_kl``, ... (in ``trainer.state.log_history`` and the printed logs).
        The ``Trainer`` calls its ``report_to`` trackers before the callbacks it is given; for the trackers to
        record the parts too, put this one first: ``trainer.callback_handler.callbacks.insert(0, callback)``.

        :returns: the callback, for ``Trainer(callbacks=[...])``.
        """
        from transformers import TrainerCallback

        model = self

        class LossPartsCallback(TrainerCallback):
            def on_log(self, args, state, control, logs=None, **kwargs):
                if logs is None or "loss" not in logs:
                    return
                parts = {f"loss_{name}": value for name, value in model.pop_loss_parts().items()}
                logs.update(parts)
                if state.log_history and state.log_history[-1].get("loss") == logs["loss"]:
                    state.log_history[-1].update(parts)

        return LossPartsCallback()

    # ------------------------------------------------------------------ prediction
    def _predictor(self):
        from xlprompt.predict import Predictor

        return Predictor(self.run_config, self.method, self.tokenizer, self.random_weights, "PromptModel")

    def predict(self, inputs: Iterable, lang: str | None = None, batch_size: int | None = None) -> list:
        """One :class:`xlprompt.Prediction` (label, label id, class probabilities) per input.

        :param inputs: pairs ``(premise, hypothesis)`` (a string for a one-text task) or mappings with the task's
            text fields; non-empty strings.
        :param lang: their language, one of the task's (default: the task's source language); it picks MPT's
            prompt and PCT's template.
        :param batch_size: examples per batch (default: the config's ``eval_batch_size``).
        :returns: a list of :class:`xlprompt.Prediction`, in the order of ``inputs``.
        :raises DataError: an empty or malformed input (naming its position).
        :raises ConfigError: a language the task does not have.
        """
        lang = lang or self.run_config.task_spec().source_language
        return self._predictor().predict(list(inputs), lang, batch_size)

    def scores(self, inputs: Iterable, lang: str | None = None, batch_size: int | None = None) -> torch.Tensor:
        """The class probabilities of :meth:`predict`.

        :param inputs: as :meth:`predict`'s.
        :param lang: as :meth:`predict`'s.
        :param batch_size: as :meth:`predict`'s.
        :returns: a float tensor [N, len(labels)], rows in the order of ``inputs``.
        """
        lang = lang or self.run_config.task_spec().source_language
        return self._predictor().scores(list(inputs), lang, batch_size)

    def accuracy(self, examples: Sequence, lang: str | None = None) -> float:
        """The share of ``examples`` predicted right, in [0, 1].

        :param examples: labelled :class:`xlprompt.Example` rows or mappings (as :meth:`collate` takes), at least
            one.
        :param lang: the language to read them in (default: each example's own).
        :returns: correct predictions / examples.
        :raises DataError: no examples, or a bad one.
        """
        from xlprompt.evaluate import predict
        from xlprompt.predict import check_input_language

        rows = self._examples(examples)
        if not rows:
            raise DataError("accuracy: no examples; give at least one labelled example")
        if lang is not None:
            lang = check_input_language(self.run_config.task_spec(), lang)
        groups: dict[str, list] = {}
        for ex in rows:
            groups.setdefault(lang or ex.lang, []).append(ex)
        correct = 0
        for group_lang, group in groups.items():
            tokenized = self._cache.examples(group)
            predicted, _ = predict(self.method, tokenized, group_lang, self.run_config.eval_batch_size)
            correct += sum(int(p == ex.label) for p, ex in zip(predicted, group))
        return correct / len(rows)
