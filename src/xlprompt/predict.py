"""Using a trained run: ``load_run(RUN_DIR).predict(pairs, lang=...)`` → a label and class probabilities per pair.

What is loaded from a finished run directory (see :mod:`xlprompt.experiment`):

* ``config.json`` — the run's config; the tokenizer and base model are rebuilt from it (``random:`` models
  are rebuilt from the run's seed, so exactly the run's initial weights);
* ``prompt.safetensors`` — the method's own modules (prompt encoder, translator, FT head);
* ``plm.safetensors`` — the trained PLM. It is required when the PLM trained (``freeze_plm`` false, the
  paper's setting): without it the predictions would not be the run's. ``xlprompt run`` writes it by
  default; sweeps only with ``save_weights: true``. Both weight files carry the run's config hash, compared
  with ``results.json``'s: another run's weights are refused, as are tensors the method does not have;
* ``task.json`` — the task's definition (a task file's or a registered task's), used in place of the task
  file: a run folder moved or copied elsewhere still predicts; ``label_words.json`` — the label words the
  model was built with (a run with ``label_words_file``), used in place of the file. ``config.json`` records
  their digests; an edited one is refused.

Probabilities: a softmax over the three class scores — for the prompt methods the label words' logits at
``<mask>``, which equals the label words' vocabulary probabilities renormalised over the three words (so
the same argmax as the run's evaluation under either ``scoring``; with ``predict_over=vocab``, PCT's default,
the evaluation also counts a top token that is no label word as wrong, which a 3-way prediction cannot say);
for FT the head's logits.

Device and precision: by default the run's own (``device``: auto → CUDA where there is one;
``precision``: auto → bf16 on a CUDA device with bf16, fp32 on CPU), batches by ``eval_token_budget`` as
the run evaluated; ``load_run(..., device="cpu")`` (CLI ``--device``) moves a GPU run to the CPU, where
``precision=auto`` means fp32.

The language decides the prompt: MPT uses ``p_S`` for the task's source language (``source_prompt=source``) and ``p_T``
for its other languages (with ``translator_conditioning=language`` that language's own ``p_T^l``); PCT uses that language's template; SP and FT ignore it (but it is still checked).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence, cast

import torch

from xlprompt.config import RunConfig, coerce
from xlprompt.data.examples import text_problem
from xlprompt.errors import CheckpointError, ConfigError, DataError
from xlprompt.experiment import LABEL_WORDS_FILE, TASK_FILE, TOY_BASE_MODEL
from xlprompt.languages import check_language
from xlprompt.plugins import import_plugins

PROMPT_FILE = "prompt.safetensors"
PLM_FILE = "plm.safetensors"


@dataclass(frozen=True)
class Prediction:
    """The predicted label of one input (a premise/hypothesis pair, or a text) and the probability of each class.

    :param label: the predicted label's name (one of the task's labels).
    :param label_id: its index in the task's labels.
    :param probabilities: label name → probability (the softmax of the class scores; they sum to 1).
    """

    label: str
    label_id: int
    probabilities: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """The prediction as plain values (what ``xlprompt predict --output`` writes).

        :returns: ``{"label", "label_id", "probabilities"}``.
        """
        return {"label": self.label, "label_id": self.label_id, "probabilities": dict(self.probabilities)}


def check_input_language(task, lang: str) -> str:
    """``lang`` if inputs of ``task`` may be in it (one of its languages), else a one-line :class:`ConfigError`
    listing them: the rule of everything that reads inputs (``predict``, ``PromptModel.collate``)."""
    return (
        check_language(lang) if task.name == "xnli" else check_language(lang, task.languages, f"{task.name} language")
    )


def input_fields(task) -> tuple[str, ...]:
    """The text fields an input of ``task`` has (XNLI: premise and hypothesis)."""
    return tuple(task.text_fields) if task.name != "xnli" else ("premise", "hypothesis")


def input_texts(
    pairs: Iterable, fields: Sequence[str] = ("premise", "hypothesis"), what: str = "pair", first: int = 0
) -> list[tuple[str, str]]:
    """(text, text) rows from pairs; ``fields``: the task's text fields. A two-text task takes
    ``(a, b)`` or a mapping with its field names (or ``premise``/``hypothesis``); a one-text task takes a string,
    a 1-tuple or a mapping with its field name (the second text is then empty). Texts must be non-empty strings;
    a one-line :class:`DataError` names the row: ``what`` and its index (counted from ``first``)."""
    fields = tuple(fields)
    two = len(fields) == 2
    names = " and ".join(f"'{f}'" for f in fields)
    out = []
    for i, pair in enumerate(pairs):
        if isinstance(pair, Mapping):
            keys = fields if all(f in pair for f in fields) else ("premise", "hypothesis") if two else fields
            if not all(k in pair for k in keys):
                raise DataError(f"{what} {first + i}: needs the field{'s' if two else ''} {names}")
            texts = [pair[k] for k in keys]
        elif two and isinstance(pair, (tuple, list)) and len(pair) == 2:
            texts = list(pair)
        elif not two and isinstance(pair, str):
            texts = [pair]
        elif not two and isinstance(pair, (tuple, list)) and len(pair) in (1, 2) and (len(pair) == 1 or not pair[1]):
            texts = [pair[0]]
        else:
            shape = f"({', '.join(fields)})" if two else "a string"
            raise DataError(
                f"{what} {first + i}: expected {shape} or {{{', '.join(repr(f) + ': ...' for f in fields)}}}"
            )
        if not all(isinstance(t, str) for t in texts):
            raise DataError(
                f"{what} {first + i}: {names} must be strings"
                if two
                else f"{what} {first + i}: {names} must be a string"
            )
        if not all(t.strip() for t in texts):
            raise DataError(f"{what} {first + i}: {names} must not be empty")
        for field, text in zip(fields, texts):
            problem = text_problem(text)
            if problem:
                raise DataError(f"{what} {first + i}: '{field}' {problem}")
        out.append((texts[0], texts[1] if two else ""))
    return out


def build_method(
    config: RunConfig,
    device: torch.device | str = "cpu",
    label_words: Mapping[str, Sequence[str]] | None = None,
    model: str | None = None,
):
    """Tokenizer, method (on the base PLM of ``model`` or ``config.model``) and backbone info; no training.

    ``label_words``: per-language label words given directly (an exported adapter carries them), instead of
    reading ``config.label_words_file``.
    """
    from xlprompt.methods import build_method as build
    from xlprompt.models.backbone import default_tokenizer_spec, load_masked_lm, load_tokenizer
    from xlprompt.models.masked_lm import MaskedLM
    from xlprompt.verbalizer import verbalizer_for

    model = model or config.model
    tokenizer = load_tokenizer(config.tokenizer or default_tokenizer_spec(model), data_dir=config.data_dir)
    hf_model, info = load_masked_lm(
        model, tokenizer, seed=config.seed, max_length=cast(int, config.max_length), data_dir=config.data_dir
    )
    plm = MaskedLM(hf_model)
    verbalizer = None
    if config.method != "ft":
        verbalizer = verbalizer_for(config, tokenizer, label_words)
    torch.manual_seed(config.seed)
    method = build(config, plm, tokenizer, verbalizer)
    method.to(torch.device(device))
    method.eval()
    return tokenizer, method, info


def method_has_modules(name: str) -> bool:
    """Whether method ``name`` learns modules beside the PLM (prompt encoder, translator, head) that a run stores
    in ``prompt.safetensors``; PCT, DP and DPA train the PLM alone."""
    from xlprompt.methods import get_method_spec
    from xlprompt.methods.base import Method

    return get_method_spec(name).load().extra_modules is not Method.extra_modules


def load_module_state(
    method, tensors: Mapping[str, torch.Tensor], where: str, exported: Sequence[str] = ("prompt.",)
) -> None:
    """Load ``prompt_encoder.*``, ``translator.*``, ``head.*`` into the method's own modules (strict: a tensor of
    a module the method does not have is refused too). ``exported``: the prefixes of the prompts a file also holds
    as they were used (recomputed from the modules, so not loaded)."""
    modules = method.extra_modules()
    stray = sorted(
        k
        for k in tensors
        if k.partition(".")[0] not in modules and not k.startswith(tuple(exported)) and k not in exported
    )
    if stray:
        raise CheckpointError(
            f"{where}: holds tensors this {method.config.method} model has not ({', '.join(stray[:3])}); it belongs "
            "to another method or config"
        )
    for name, module in modules.items():
        prefix = name + "."
        state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        if not state:
            raise CheckpointError(f"{where}: holds no '{name}' weights; it belongs to another method or config")
        try:
            module.load_state_dict(state, strict=True)
        except RuntimeError as err:
            first = str(err).strip().splitlines()[0]
            raise CheckpointError(f"{where}: the '{name}' weights do not fit this config ({first})") from None


def load_plm_state(method, tensors: Mapping[str, torch.Tensor], where: str) -> None:
    """Copy the trained PLM parameters in place (tied weights stay tied)."""
    params = dict(method.plm.hf_model.named_parameters())
    missing = sorted(set(params) - set(tensors))
    if missing:
        raise CheckpointError(
            f"{where}: lacks PLM parameters ({', '.join(missing[:3])}, ...); it belongs to another base model"
        )
    unexpected = sorted(set(tensors) - set(params))
    if unexpected:
        raise CheckpointError(
            f"{where}: holds tensors the base model has not ({', '.join(unexpected[:3])}); it belongs to another "
            "base model"
        )
    with torch.no_grad():
        for name, param in params.items():
            if tuple(tensors[name].shape) != tuple(param.shape):
                raise CheckpointError(
                    f"{where}: PLM parameter {name} has shape {tuple(tensors[name].shape)}, "
                    f"the base model {tuple(param.shape)}"
                )
            param.copy_(tensors[name].to(param.dtype))


class Predictor:
    """A trained method ready to predict: ``predict(pairs, lang)`` → list of :class:`Prediction`."""

    def __init__(
        self, config: RunConfig, method, tokenizer, random_weights: bool, source: str, results: dict | None = None
    ):
        from xlprompt.device import autocast_dtype

        self.config = config
        #: the autocast dtype of the run's precision on the device the method is on (None: fp32)
        self.autocast_dtype = autocast_dtype(config.precision, method.device)
        self.method = method
        self.tokenizer = tokenizer
        self.random_weights = random_weights
        self.source = source
        self.results = results or {}

    @property
    def note(self) -> str:
        from xlprompt.experiment import RANDOM_WEIGHTS_NOTE

        return RANDOM_WEIGHTS_NOTE if self.random_weights else ""

    def scores(self, pairs: Iterable, lang: str | None = None, batch_size: int | None = None) -> torch.Tensor:
        """Class probabilities [N, C] (the task's labels; XNLI: :data:`xlprompt.languages.LABELS`) of ``pairs`` in
        language ``lang`` (a code of the run's task; None: its source language).

        ``batch_size``: examples per batch, by the rule of the config key ``eval_batch_size`` (a whole number in
        [1, 1000000]); None: the run's ``eval_batch_size`` (or its ``eval_token_budget``)."""
        from xlprompt.batching import TokenCache
        from xlprompt.config import check_value
        from xlprompt.data.examples import NLIExample, content_uid

        if batch_size is not None:
            check_value("eval_batch_size", batch_size, "batch_size")
        from xlprompt.evaluate import predict

        task = self.config.task_spec()
        labels = task.labels
        lang = check_input_language(task, task.source_language if lang is None else lang)
        rows = input_texts(pairs, input_fields(task))
        if not rows:
            return torch.zeros(0, len(labels))
        examples = [NLIExample(p, h, 0, lang, content_uid(p, h, prefix="predict")) for p, h in rows]
        tokenized = TokenCache(self.tokenizer, self.config.strip_punctuation).examples(examples)
        _, scores = predict(
            self.method,
            tokenized,
            lang,
            batch_size or self.config.eval_batch_size,
            self.autocast_dtype,
            token_budget=0 if batch_size else self.config.eval_token_budget,
        )
        return torch.softmax(scores[:, : len(labels)].float(), dim=-1)  # predict_over=vocab: the label words

    def predict(self, pairs: Iterable, lang: str | None = None, batch_size: int | None = None) -> list[Prediction]:
        """One :class:`Prediction` per input of ``pairs`` in language ``lang`` (None: the task's source language);
        labels and their order are the run's task's. ``pairs``: the inputs (see :meth:`scores`; every text must be
        non-empty, valid Unicode); ``batch_size``: examples per batch (a whole number in [1, 1000000]; None: the
        run's setting)."""
        labels = self.config.task_spec().labels
        probs = self.scores(pairs, lang, batch_size)
        out = []
        for row in probs.tolist():
            best = max(range(len(labels)), key=lambda i: row[i])
            out.append(Prediction(labels[best], best, {label: p for label, p in zip(labels, row)}))
        return out


def check_recorded_inputs(
    config: RunConfig, labels: Sequence[str] | None, inputs: Mapping[str, str] | None, where: str
) -> None:
    """Compare what a run (or its adapter) recorded — its task's labels, the digests of its task file and
    label-words file — with what ``config`` names now; a difference is a one-line :class:`CheckpointError`
    (a prediction through an edited task file would silently use other labels or words)."""
    task = config.task_spec()
    if labels is not None and list(labels) != list(task.labels):
        raise CheckpointError(
            f"{where}: trained with the labels {list(labels)}, but the task ({config.task}) now "
            f"gives {list(task.labels)}; restore the task file it was trained with, or train again"
        )
    inputs = inputs if isinstance(inputs, Mapping) else {}
    now = {"task_file": config.task_file_digest(), **config.input_digests()}  # model and tokenizer included
    for key, what in (
        ("task_file", f"the task file {config.task}"),
        ("label_words_file", f"label_words_file {config.label_words_file}"),
    ):
        if inputs.get(key) and now.get(key) and inputs[key] != now[key]:
            raise CheckpointError(
                f"{where}: {what} changed since the run was trained (labels, label words or "
                "templates may differ); restore the file it was trained with, or train again"
            )
    for key in ("model", "tokenizer"):
        if inputs.get(key) and now.get(key) and inputs[key] != now[key]:
            raise CheckpointError(
                f"{where}: the {key} {getattr(config, key)} is not the one the run was trained with (its files "
                f"differ); give the {key} it was trained with (--{'base-model' if key == 'model' else key}), or train again"
            )


def _recorded_cwd(run_dir: Path) -> Path | None:
    """The working directory recorded in the run's ``config.json``: what its relative paths are relative to."""
    try:
        recorded = json.loads((run_dir / "config.json").read_text("utf-8")).get("cwd")
    except (OSError, ValueError, AttributeError):
        return None
    return Path(recorded) if isinstance(recorded, str) and recorded else None


def _is_relative_path(spec: str) -> bool:
    """A relative path, not an absolute one, a ``~`` path or a scheme (``random:``, ``builtin:``, ``hf:``)."""
    return not (Path(spec).is_absolute() or spec.startswith("~") or ":" in spec.split("/")[0])


def resolve_relative(spec: str | None, run_dir: Path) -> str | None:
    """A relative local path of the run's config (``../shared/tokenizers/xlm-roberta``, ``senti/task.yaml``) means
    what it meant where the run was started: from the working directory recorded in the run's ``config.json``
    when it exists there (a file of that name where the reader happens to be is another file), else as given if
    it exists from here, else from the run directory or one of its parents; else as given (the loader then says
    what is missing). A name that is no path there (a hub model's name) stays as given."""
    if not spec or not _is_relative_path(spec):
        return spec
    recorded = _recorded_cwd(run_dir)
    if recorded is not None and (recorded / spec).exists():
        return str((recorded / spec).resolve())
    if not spec.startswith(".") or Path(spec).exists():
        return spec
    for base in (run_dir.resolve(), *run_dir.resolve().parents):
        candidate = base / spec
        if candidate.exists():
            return str(candidate.resolve())
    return spec


def resolve_predict_device(config: RunConfig, device: str | torch.device | None) -> torch.device:
    """``device`` if given, else the run's ``device`` setting (a one-line error if it names a missing GPU)."""
    from xlprompt.device import resolve_device

    try:
        return resolve_device(config, device)
    except ConfigError as err:
        raise ConfigError(f"{err}; predict on the CPU with --device cpu (load_run(..., device='cpu'))") from None


def registered_task_names() -> set[str]:
    """The registered tasks' names (a task that is not one is a task file's path)."""
    from xlprompt.tasks import get_task
    from xlprompt.tasks.base import TASKS

    get_task("xnli")  # the built-in tasks are registered
    return set(TASKS)


def read_saved_record(run_dir: Path, name: str, recorded: Mapping[str, Any] | None) -> Any:
    """A run folder's JSON record ``name`` (:data:`TASK_FILE`, :data:`LABEL_WORDS_FILE`), checked against the digest
    the run recorded of it; None when the folder has none (a run of a built-in task, of an earlier version)."""
    path = run_dir / name
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{path}: unreadable ({err}); restore it from the run") from None
    from xlprompt.checkpoint import json_digest

    expected = (recorded or {}).get(name)
    if expected and json_digest(value) != expected:
        raise CheckpointError(
            f"{path}: not the {'task' if name == TASK_FILE else 'label words'} the run was trained with (edited "
            "since); restore it, or train again"
        )
    return value


def read_run_config(run_dir: Path) -> RunConfig:
    """A run folder's config, ready to rebuild its model here: the task of a task file or a registered task is the
    run's own record (:data:`TASK_FILE`), so a run folder moved or copied elsewhere still predicts."""
    path = run_dir / "config.json"
    try:
        saved = json.loads(path.read_text("utf-8"))
        values = dict(saved["config"])
        import_plugins(coerce("plugins", values.get("plugins")), f"{path}: plugins")  # they may register its task
        task = values.get("task")
        record = read_saved_record(run_dir, TASK_FILE, saved.get("records"))
        if record is not None and isinstance(task, str):
            from xlprompt.tasks import saved_task

            name = record.get("name") if isinstance(record, dict) else None
            if task != name or task not in registered_task_names() or not _builtin(task):
                values["task"] = saved_task(record, str(run_dir / TASK_FILE))
        elif (
            isinstance(task, str)
            and task not in registered_task_names()
            and _is_relative_path(task)
            and isinstance(saved.get("cwd"), str)
            and (Path(saved["cwd"]) / task).is_file()
        ):
            values["task"] = str(Path(saved["cwd"]) / task)  # a task file named relative to where the run started
        return RunConfig.from_dict(values, where=str(path))
    except FileNotFoundError:
        raise CheckpointError(f"{run_dir}: not a run directory (no config.json)") from None
    except (OSError, ValueError, KeyError, TypeError) as err:
        if isinstance(err, ConfigError):
            raise
        raise CheckpointError(f"{path}: unreadable ({err})") from None


def _builtin(name: str) -> bool:
    from xlprompt.tasks import get_task

    return get_task(name).origin.startswith("built-in")


def check_run_weights(run_dir: Path, results: Mapping[str, Any], paths: Sequence[Path]) -> None:
    """Refuse a run folder whose files belong to different runs: ``results.json`` of another config than
    ``config.json``, or weight files (``paths`` that exist: complete, checked here) saved by another run (the config
    hash in their metadata)."""
    from xlprompt.checkpoint import weights_metadata
    from xlprompt.safety import verify_safetensors

    recorded = results.get("config_hash")
    try:
        config_hash = json.loads((run_dir / "config.json").read_text("utf-8")).get("hash")
    except (OSError, ValueError, AttributeError):
        config_hash = None
    if recorded and config_hash and recorded != config_hash:
        raise CheckpointError(
            f"{run_dir}: results.json is of another run (config {recorded}; config.json is config "
            f"{config_hash}); put back the run's own files, or train again"
        )
    for path in paths:
        if path.exists():
            verify_safetensors(path)  # a truncated file: one line, before the model is built
            found = weights_metadata(path).get("config_hash")
            if recorded and found and found != recorded:
                raise CheckpointError(
                    f"{path}: the weights of another run (config {found}; this run is config {recorded}); put "
                    "back the run's own weights, or train again"
                )


def run_records(run_dir: Path) -> dict[str, str]:
    """The digests of the records a run folder holds (:data:`TASK_FILE`, :data:`LABEL_WORDS_FILE`), from its
    ``config.json``."""
    try:
        records = json.loads((run_dir / "config.json").read_text("utf-8")).get("records")
    except (OSError, ValueError, AttributeError):
        return {}
    return records if isinstance(records, dict) else {}


def read_results(run_dir: Path) -> dict[str, Any]:
    """A finished run's ``results.json``, checked for its shape (an object with an accuracy table)."""
    path = run_dir / "results.json"
    if not path.exists():
        raise CheckpointError(
            f"{run_dir}: the run is not finished (no results.json); finish it with the same "
            "`xlprompt run` command first"
        )
    try:
        results = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as err:
        raise CheckpointError(
            f"{path}: unreadable ({err}); delete it and rerun the same command to re-evaluate"
        ) from None
    if not isinstance(results, dict) or not isinstance(results.get("accuracy"), dict):
        raise CheckpointError(
            f"{path}: not the results of a run (a {type(results).__name__}"
            + ("" if not isinstance(results, dict) else " without an accuracy table")
            + "); delete it and rerun the same command to re-evaluate"
        )
    return results


def load_run(
    run_dir: str | Path,
    device: str | torch.device | None = None,
    tokenizer: str | None = None,
    model: str | None = None,
) -> Predictor:
    """Load a finished run directory for prediction (see the module docstring for what it needs).

    ``device``: where to predict (``cpu``, ``cuda``, ``cuda:1``, ``auto``); default: the run's ``device``.

    ``tokenizer`` / ``model``: where the run's tokenizer / base model are now, if its recorded (relative)
    paths do not resolve from here (see :func:`resolve_relative`).
    """
    from xlprompt.safety import load_safetensors

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"{run_dir}: no such run directory")
    config = read_run_config(run_dir)
    words = read_saved_record(run_dir, LABEL_WORDS_FILE, run_records(run_dir))
    if words is not None:  # the words the run was built with, carried by the run folder
        config = config.replace(label_words_file=None)
    carried = run_dir / TOY_BASE_MODEL  # the toy model a run on one carries
    if not model and str(config.model).startswith("toy:") and carried.is_dir():
        model = str(carried)  # never pre-trained again in the data folder the prediction reads
        if not tokenizer and (config.tokenizer is None or str(config.tokenizer).startswith("toy:")):
            tokenizer = str(carried)
    config = config.replace(
        tokenizer=tokenizer or resolve_relative(config.tokenizer, run_dir),
        model=model or resolve_relative(config.model, run_dir),
        label_words_file=resolve_relative(config.label_words_file, run_dir),
        task=config.task if config.task in registered_task_names() else resolve_relative(config.task, run_dir),
    )
    results_path = run_dir / "results.json"
    if not results_path.exists():
        raise CheckpointError(
            f"{run_dir}: the run is not finished (no results.json); finish it with the same "
            "`xlprompt run` command first"
        )
    results = read_results(run_dir)
    check_recorded_inputs(config, results.get("labels"), results.get("inputs"), str(run_dir))
    plm_path = run_dir / PLM_FILE
    if not config.freeze_plm and not plm_path.exists():
        raise CheckpointError(
            f"{run_dir}: the PLM trained in this run (freeze_plm=false) but its weights were not saved "
            f"({PLM_FILE} is missing: a sweep run, or --no-save-weights) and cannot be added afterwards; to "
            "predict, train the same config again into a new --out folder with `xlprompt run` (without "
            "--no-save-weights), or export the adapter alone (`xlprompt export`: it runs on the untrained base)"
        )
    prompt_path = run_dir / PROMPT_FILE
    if not prompt_path.exists() and method_has_modules(config.method):  # checked before loading
        raise CheckpointError(
            f"{run_dir}: {PROMPT_FILE} is missing (the {config.method} run's learned prompt "
            "and modules); restore it or train the run again"
        )
    check_run_weights(run_dir, results, (prompt_path, plm_path))
    if config.label_words_file and not Path(config.label_words_file).is_file():
        raise DataError(
            "label_words_file of the run not found; pass the run's label words file", config.label_words_file
        )
    tokenizer, method, info = build_method(config, resolve_predict_device(config, device), label_words=words)
    if method.extra_modules() and not prompt_path.exists():
        raise CheckpointError(f"{run_dir}: {PROMPT_FILE} is missing")
    if method.extra_modules():
        load_module_state(method, load_safetensors(prompt_path), str(prompt_path))
    if not config.freeze_plm:
        load_plm_state(method, load_safetensors(plm_path), str(plm_path))
    method.eval()
    return Predictor(config, method, tokenizer, info.random_weights, str(run_dir), results)
