"""One run, end to end: data → template → model → loss → trainer → evaluation → run directory.

Run directory::

    config.json        the full resolved config (+ its hash, the working directory its relative paths
                       are relative to, the digests of its inputs and of task.json / label_words.json)
    task.json          the task's definition for a task that is not built in (labels, label words,
                       languages, templates; not its data): the folder predicts wherever it is moved
    label_words.json   the per-language label words the model was built with (a label_words_file's, a task's)
    metrics.jsonl      one line per finished epoch (loss parts, lr, dev accuracy, seconds)
    steps.jsonl        one line per ``logging_steps`` optimiser steps (loss parts and lr, averaged over them)
    run.log            the run's log lines (appended: a resumed run continues it); xlprompt.tracking
    tensorboard/       report_to=tensorboard: the event files (``tensorboard --logdir RUN``)
    checkpoint/        the latest epoch's state (atomic; removed when the run is complete)
    results.json       per language: accuracy, macro-F1 and the per-class counts they come from, with "avg"
                       (every evaluated language) and the task's named averages (what the task's paper
                       averages, its language groups: each saying which languages it covers), the majority
                       class's score and chance; model, "random_weights", best epoch, eval cap
    predictions.jsonl  one line per evaluated example (lang, id, label, prediction, probabilities) from the
                       same evaluation pass: results.json's metrics are recomputed from it exactly
    prompt.safetensors the learned prompt vectors (p_S, p_T) and the method's own modules
                       (prompt encoder, translator, head)
    plm.safetensors    the PLM's trained parameters (each tied tensor once), only when the PLM trained
                       (freeze_plm false) and ``save_weights`` is true; :mod:`xlprompt.predict` needs it

A directory with ``results.json`` is finished and is returned as it is; one with a checkpoint resumes;
one whose ``config.json`` differs from the requested config is refused (results are never mixed).
"""

from __future__ import annotations

import json
import logging
import os
import platform
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from xlprompt.checkpoint import atomic_write_text, json_digest, remove_checkpoints
from xlprompt.config import RunConfig
from xlprompt.device import apply_determinism, autocast_dtype, resolve_device
from xlprompt.errors import CheckpointError, ConfigError
from xlprompt.tracking import (
    NOTE,
    PROGRESS_LOGGER,
    RUN_LOG,
    WANDB_ID_FILE,
    check_tracker_setup,
    open_tracker,
    progress_mode,
    run_log,
)
from xlprompt.version import __version__

logger = logging.getLogger(__name__)

RANDOM_WEIGHTS_NOTE = "random weights: chance-level numbers; this demonstrates the pipeline"
#: a run folder's task definition (the task's record: labels, label words, languages, templates; not its data) and
#: the label words its model was built with (a run with ``label_words_file``): a run folder carries what it
#: predicts with, so that it predicts wherever it is moved or copied
TASK_FILE = "task.json"
LABEL_WORDS_FILE = "label_words.json"


@dataclass
class Components:
    """What a run builds before training: tokenizer, PLM, method and the tokenised data."""

    tokenizer: Any
    backbone_info: Any
    method: Any
    verbalizer: Any


def build_components(config: RunConfig, device: torch.device | None = None) -> Components:
    """Tokenizer, PLM and method for ``config`` (no data, no training)."""
    from xlprompt.methods import build_method
    from xlprompt.models.backbone import (
        check_local_spec,
        default_tokenizer_spec,
        is_random_spec,
        load_masked_lm,
        load_tokenizer,
    )
    from xlprompt.models.masked_lm import MaskedLM
    from xlprompt.verbalizer import verbalizer_for

    if not is_random_spec(config.model):
        check_local_spec(config.model, "model")  # before its tokenizer is looked for in the same place
    tokenizer = load_tokenizer(config.tokenizer or default_tokenizer_spec(config.model), data_dir=config.data_dir)
    hf_model, info = load_masked_lm(
        config.model, tokenizer, seed=config.seed, max_length=config.max_length, data_dir=config.data_dir
    )
    plm = MaskedLM(hf_model)
    verbalizer = None
    if config.method != "ft":
        verbalizer = verbalizer_for(config, tokenizer)
    torch.manual_seed(config.seed)  # the method's own modules are initialised from the run seed
    method = build_method(config, plm, tokenizer, verbalizer)
    method.to(device or torch.device("cpu"))
    return Components(tokenizer, info, method, verbalizer)


def check_inputs(config: RunConfig) -> None:
    """The checks of a run that need no model or tokenizer (fail fast), cheap enough for every run of a
    sweep: the config, every data file it reads (present; one line naming the folder and the ``xlprompt data
    fetch`` call otherwise), the label-words file, and a model spec that can only be a missing local path."""
    from xlprompt.models.backbone import check_local_spec, is_random_spec
    from xlprompt.run_data import check_run_files

    config.validate()
    check_tracker_setup(config.report_to)
    check_run_files(config)
    from xlprompt.verbalizer import check_label_words, read_label_words_file

    per_language = None
    if config.label_words_file:
        per_language = read_label_words_file(
            config.label_words_file, config.task_spec().labels, config.task_spec().languages
        )
    check_label_words(config, per_language)  # token ids (label_words_as=id): whole numbers from 0
    if not is_random_spec(config.model):
        check_local_spec(config.model, "model")
    if config.tokenizer and not config.tokenizer.startswith("builtin:"):
        check_local_spec(config.tokenizer, "tokenizer")


def recorded_inputs(config: RunConfig) -> dict[str, str]:
    """What a run records of its input files: their content digests (:meth:`RunConfig.input_digests`), the
    digest of the task file's own text (``task_file``) and of the data files it reads (``data``), which later
    readers (predict, export, ``run --out``, sweeps) compare with what they see."""
    out = config.input_digests()  # model and tokenizer folders included
    task_file = config.task_file_digest()
    if task_file:
        out["task_file"] = task_file
    data = out.get("data_dir") or config.data_digest()  # computed once when data_dir is set
    if data:
        out["data"] = data
    return out


def recorded_data_files(config: RunConfig) -> list[dict[str, str]]:
    """Each data-folder file a run reads: ``{"path": relative to the data folder, "source": the ``xlprompt data
    fetch`` source that writes it, "sha256": its digest}`` (``xlprompt data cite`` prints them). Empty for
    ``builtin:demo``. A digest is of the bytes the run read: they are checked unchanged before the run."""
    from xlprompt.config import content_digest
    from xlprompt.data.home import resolve_data_dir
    from xlprompt.run_data import DEMO, required_files

    if config.data_dir == DEMO:
        return []
    folder = resolve_data_dir(config.data_dir)
    seen = dict(required_files(config, folder))
    return [
        {"path": rel, "source": seen[rel], "sha256": content_digest(folder / rel)}
        for rel in sorted(seen)
        if (folder / rel).is_file()
    ]


def run_records(config: RunConfig, verbalizer) -> dict[str, Any]:
    """What a run folder holds to predict without its inputs: the task's definition (:data:`TASK_FILE`, the task
    record: labels, label words, languages, templates; not its data) for a task that is not built in, and the
    per-language label words the model was built with (:data:`LABEL_WORDS_FILE`: a ``label_words_file``'s, or a
    task file's own table), which a config read back would not choose again; file name → JSON value. ``config.json`` records their digests, which every reader compares."""
    from xlprompt.tasks import task_record

    records: dict[str, Any] = {}
    task = config.task_spec()
    if not task.origin.startswith("built-in"):
        records[TASK_FILE] = task_record(task)
    if verbalizer is not None and verbalizer.per_language:  # a label-words file's, or a task file's table
        records[LABEL_WORDS_FILE] = {lang: list(words) for lang, words in verbalizer.per_language.items()}
    return records


def _read_json(path: Path, problem: str, fix: str):
    """A run file's JSON, or a one-line :class:`CheckpointError` naming the file, the problem and the fix."""
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{path}: {problem} ({err}); {fix}") from None


#: the folder in which a run on a toy model carries that model (under 1 MB), as an adapter does
TOY_BASE_MODEL = "base_model"


def _carry_toy_model(config: RunConfig, run_path: Path) -> None:
    """A run on a toy model (``toy:small``) keeps a copy of it in its folder (:data:`TOY_BASE_MODEL`): the toy
    model lives in a data folder, and a prediction from the run in another data folder (or on another machine)
    uses the copy instead of pre-training the model there again. Built beside, then renamed into place."""
    import shutil

    from xlprompt.models.toy import ensure_toy_model, is_toy_spec

    if not is_toy_spec(config.model):
        return
    source = ensure_toy_model(config.model, config.data_dir)  # the run's own: built (or found) as it started
    target = run_path / TOY_BASE_MODEL
    staging = run_path / f".{TOY_BASE_MODEL}.tmp{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)


#: one line per evaluated example, written with results.json (before it: a folder with results.json has both)
PREDICTIONS_FILE = "predictions.jsonl"

#: the files of a run folder that xlprompt writes atomically (:mod:`xlprompt.checkpoint`'s too)
_RUN_FILES = (
    "config.json",
    "results.json",
    PREDICTIONS_FILE,
    "metrics.jsonl",
    "steps.jsonl",
    "prompt.safetensors",
    "plm.safetensors",
    WANDB_ID_FILE,
    "latest.json",
    TASK_FILE,
    LABEL_WORDS_FILE,
)
#: the temporary files of xlprompt's atomic writer (``NAME.tmpPID``) for those files: left only by a killed
#: process. A file of another name is never taken for one (nor deleted): xlprompt did not write it
_TMP = re.compile(r"^(?:%s|(?:epoch|best)-\d+\.pt)\.tmp\d+$" % "|".join(re.escape(name) for name in _RUN_FILES))


def _remove_leftovers(run_dir: Path) -> None:
    """Delete temporary files a killed process left (the caller holds the run folder's lock)."""
    for folder in (run_dir, run_dir / "checkpoint"):
        if folder.is_dir():
            for path in folder.iterdir():
                if _TMP.search(path.name) and path.is_file():
                    path.unlink(missing_ok=True)


def _check_run_dir(run_dir: Path, config: RunConfig) -> dict | None:
    """Return finished results if the run is complete; refuse a directory of another config or a corrupt one."""
    if run_dir.exists() and not run_dir.is_dir():
        raise CheckpointError(f"{run_dir} is a file, not a run directory; use a new --out directory")
    config_path = run_dir / "config.json"
    if config_path.exists():
        saved = _read_json(config_path, "unreadable", "use a new --out directory")
        if not isinstance(saved, dict) or not isinstance(saved.get("config", {}), dict):
            raise CheckpointError(
                f"{config_path}: corrupt (not the config of an xlprompt run); use a new --out directory"
            )
        if saved.get("hash") != config.resolved_hash():
            now = config.input_digests()
            recorded = saved.get("inputs") if isinstance(saved.get("inputs"), dict) else {}
            differing = sorted(
                k
                for k, v in config.to_dict().items()
                if saved.get("config", {}).get(k) != v and not (k in now and recorded.get(k) == now[k])
            )  # a path spelled otherwise
            changed = sorted(k for k in now if recorded.get(k) not in (None, now[k]))
            if not differing and changed:
                raise CheckpointError(
                    f"{run_dir} holds a run of other input files: the content of {', '.join(changed)} "
                    f"({', '.join(str(getattr(config, k)) for k in changed)}) changed since it ran; its results are "
                    "of the earlier content: use a new --out directory"
                )
            raise CheckpointError(
                f"{run_dir} holds a run of another config (differs in: {', '.join(differing) or 'format, or the code of its registered method or task'}); "
                "use a new --out directory"
            )
        # (a changed local model or tokenizer folder changed the hash above; the default data folder is not in it)
        recorded = saved.get("inputs") if isinstance(saved.get("inputs"), dict) else {}
        data = config.data_digest()
        if data and recorded.get("data") not in (None, data):
            raise CheckpointError(
                f"{run_dir} holds a run of other data: the files it read from the data folder changed since it ran "
                "(`xlprompt data stats` checks them); its results are of the earlier data: use a new --out directory"
            )
        results_path = run_dir / "results.json"
        if results_path.exists():
            results = _read_json(results_path, "corrupt", "delete it to re-evaluate")
            if not (
                isinstance(results, dict)
                and isinstance(results.get("accuracy"), dict)
                and results.get("config_hash") == config.resolved_hash()
            ):
                raise CheckpointError(
                    f"{results_path}: corrupt or of another run (no accuracy table for config "
                    f"{config.resolved_hash()}); delete it to re-evaluate"
                )
            return results
    elif run_dir.exists() and any(
        p.name not in (".lock", RUN_LOG) and not _TMP.search(p.name) for p in run_dir.iterdir()
    ):
        raise CheckpointError(f"{run_dir} is not empty and holds no xlprompt run; use a new --out directory")
    return None


def run_experiment(
    config: RunConfig,
    run_dir: str | Path | None = None,
    progress: bool | str = True,
    log: Callable[[str], None] | None = None,
    save_weights: bool = True,
    group: str | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """Train, select on the dev split (the task's source language), evaluate every language; write ``run_dir``;
    return results.

    ``save_weights`` (not a config field: it does not change the run's hash) also writes the trained PLM
    to ``plm.safetensors`` when the PLM trains; sweeps turn it off by default to save disk.

    Messages go to this module's logger (and ``run_dir/run.log``); ``log``, if given, receives the run's notes
    too. ``progress``: see :func:`xlprompt.tracking.progress_mode`. ``group`` and ``name`` label the run in
    the trackers of ``report_to`` (a sweep passes its name as the group).
    """
    from xlprompt.safety import RunLock, check_output_dir, check_path_value, check_replaceable

    config.validate()
    run_path = None if run_dir is None else check_path_value(run_dir, "the run folder (out_dir)")
    check_inputs(config)  # fail fast: every config and data check that needs no model, before any is loaded

    def note(message: str) -> None:
        logger.info(message, extra=NOTE)
        if log is not None:
            log(message)

    labels = (group, name or (run_path.name if run_path is not None else None))
    if run_path is None:
        return _run_experiment(config, None, progress, note, save_weights, labels)
    for name in (*_RUN_FILES, RUN_LOG):  # every file the run reads back or writes: absent or regular (a FIFO
        check_replaceable(run_path / name, f"run's {name}")  # would block its reader), before the work
    _check_run_dir(run_path, config)  # refuse a folder of another config before taking its lock
    check_output_dir(run_path, "run folder")
    check_tracker_setup(config.report_to, run_path)  # the trackers' paths in the folder, before the work
    with RunLock(run_path), run_log(run_path):  # one process per run folder
        _remove_leftovers(run_path)
        return _run_experiment(config, run_path, progress, note, save_weights, labels)


def _run_experiment(
    config: RunConfig,
    run_path: Path | None,
    progress: bool | str,
    log: Callable[[str], None],
    save_weights: bool,
    labels: tuple[str | None, str | None],
) -> dict[str, Any]:
    from xlprompt.batching import TokenCache
    from xlprompt.evaluate import evaluate_test
    from xlprompt.run_data import load_run_data
    from xlprompt.safety import save_safetensors
    from xlprompt.trainer import Trainer

    if run_path is not None:
        finished = _check_run_dir(run_path, config)
        if finished is not None:
            log(f"{run_path}: already finished; results.json is reused")
            if save_weights and not config.freeze_plm and not (run_path / "plm.safetensors").exists():
                log(
                    f"{run_path}: note: this finished run did not save its PLM weights (plm.safetensors), and "
                    "they cannot be added afterwards; to predict with it, train it again into a new --out "
                    "folder (without --no-save-weights)"
                )
            return finished
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    started = time.perf_counter()
    device = resolve_device(config)
    apply_determinism(config)  # before the first CUDA work: cuBLAS reads its workspace setting then
    if config.eval_int8 and device.type != "cpu":
        raise ConfigError("eval_int8 is a CPU inference path; on a GPU use precision=bf16 instead")
    mode = progress_mode(progress)
    data = load_run_data(config, progress=mode == "bar")  # all data read and checked before the model loads
    for note in data.notes:
        log(note)
    parts = build_components(config, device)
    if run_path is not None:
        # the folder becomes this run's only once its data and model parts are built: a run refused before
        # (a multi-piece label word, a missing model) leaves nothing that would refuse the corrected command
        records = run_records(config, parts.verbalizer)
        atomic_write_text(
            run_path / "config.json",
            json.dumps(
                {
                    "hash": config.resolved_hash(),
                    "config": config.to_dict(),
                    "xlprompt": __version__,
                    "cwd": str(Path.cwd()),  # what relative paths of the config are relative to
                    "inputs": recorded_inputs(config),
                    # the digests of the task and label words the folder holds
                    "records": {name: json_digest(value) for name, value in records.items()},
                },
                indent=2,
            ),
        )
        for name, value in records.items():  # after config.json: a folder with a config is this run's
            atomic_write_text(run_path / name, json.dumps(value, indent=2, ensure_ascii=False))
    if parts.backbone_info.random_weights:
        log(f"model {config.model}: {RANDOM_WEIGHTS_NOTE}")
    cache = TokenCache(parts.tokenizer, config.strip_punctuation)
    train, dev = cache.examples(data.train), cache.examples(data.dev)
    test = {lang: cache.examples(examples) for lang, examples in data.test.items()}
    parallel = cache.pairs(data.parallel)

    def write_metrics(history: list[dict]) -> None:
        if run_path is not None:
            atomic_write_text(run_path / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in history))

    tracker = open_tracker(
        config.report_to,
        run_path,
        {**config.to_dict(), "hash": config.resolved_hash()},
        group=labels[0],
        name=labels[1],
    )
    try:
        trainer = Trainer(parts.method, config, train, dev, parallel, run_path, mode, write_metrics, tracker)
        trained = trainer.fit()
        autocast = autocast_dtype(config.precision, device)
        task = config.task_spec()
        evaluation = evaluate_test(
            parts.method,
            test,
            len(task.labels),
            config.eval_batch_size,
            autocast,
            mode == "bar",
            int8=config.eval_int8,
            token_budget=config.eval_token_budget,
        )
        accuracies = evaluation.table("accuracy")
        tracker.log(
            {
                **{f"test/{lang}": value for lang, value in accuracies.items()},
                **{f"test_macro_f1/{lang}": value for lang, value in evaluation.table("macro_f1").items()},
            },
            trainer.global_step,
        )
    finally:
        tracker.close()
    # the results table follows on the console: this line is for run.log (and --verbose)
    logging.getLogger(PROGRESS_LOGGER).debug(
        "%s: accuracy %s", config.method, " ".join(f"{k} {v:.1f}" for k, v in accuracies.items())
    )
    results = {
        "method": config.method,
        "recipe": config.recipe,
        "shots": config.shots,
        "seed": config.seed,
        "model": config.model,
        "random_weights": parts.backbone_info.random_weights,
        "note": RANDOM_WEIGHTS_NOTE if parts.backbone_info.random_weights else "",
        "config_hash": config.resolved_hash(),
        "task": config.task,
        "labels": list(config.task_spec().labels),
        "inputs": recorded_inputs(config),
        "data_files": recorded_data_files(config),
        "eval_split": data.eval_split or config.eval_split,
        "eval_max_per_language": config.eval_max_per_language,
        "eval_examples": {lang: len(examples) for lang, examples in test.items()},
        "accuracy": accuracies,
        "source_languages": list(config.sources()),
        "held_out_languages": [lang for lang in test if lang not in config.sources()],
        **evaluation_results(evaluation, task, config.sources()),
        "best_epoch": trained.best_epoch,
        "best_dev_accuracy": trained.best_dev_accuracy,
        "train_examples": len(train),
        "parallel_pairs": len(parallel) if parts.method.uses_parallel else 0,
        "seconds": time.perf_counter() - started,
        "device": str(device),
        "precision": "bf16" if autocast is not None else "fp32",
        "torch": torch.__version__,
        "platform": platform.platform(),
        "xlprompt": __version__,
    }
    if run_path is not None:
        parts.method.eval()  # the saved p_T must not carry a dropout sample (transformer translators)
        with torch.no_grad():
            prompts = parts.method.prompts_for_export()
        # cloned: with no_translator p_T *is* p_S, and safetensors refuses tensors that share memory
        tensors = {f"prompt.{k}": v.float().cpu().contiguous().clone() for k, v in prompts.items()}
        for name, module in parts.method.extra_modules().items():
            tensors.update(
                {f"{name}.{k}": v.detach().float().cpu().contiguous() for k, v in module.state_dict().items()}
            )
        # written by every method, empty for one without learned modules (PCT, DP, DPA): a reader tells a
        # finished run of such a method from a run whose file was lost
        save_safetensors(tensors, run_path / "prompt.safetensors", metadata={"config_hash": config.resolved_hash()})
        if save_weights and not config.freeze_plm:
            plm_state = {
                k[len("plm.") :]: v.detach().float().cpu().contiguous().clone()
                for k, v in parts.method.trainable_state().items()
                if k.startswith("plm.")
            }
            save_safetensors(plm_state, run_path / "plm.safetensors", metadata={"config_hash": config.resolved_hash()})
        _carry_toy_model(config, run_path)
        atomic_write_text(
            run_path / PREDICTIONS_FILE, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in evaluation.rows)
        )
        atomic_write_text(run_path / "results.json", json.dumps(results, indent=2))
        remove_checkpoints(run_path)
    return results


def evaluation_results(evaluation, task, sources: tuple[str, ...] = ()) -> dict[str, Any]:
    """The entries of results.json beyond ``accuracy`` that one evaluation pass gives (see the module's text).

    Args:
        evaluation: the :class:`xlprompt.evaluate.Evaluation` of the run's test sets.
        task: the run's :class:`xlprompt.tasks.Task` (its labels, paper average and language groups).
        sources (tuple[str, ...]): the languages the run trained on (config ``source_languages``); empty: the
            task's source language.

    Returns:
        ``macro_f1`` (per language + ``avg``), ``counts`` (per language, per class: gold, predicted, correct),
        ``majority_class`` (per language: the score of always answering its most frequent gold class),
        ``chance`` (100 / number of classes), ``averages`` (``avg``: what it covers; ``paper``: the task
        paper's average and its source; ``held_out``: the evaluated languages that are not sources, the
        zero-shot transfer; ``groups``: every named group), each with accuracy and macro-F1."""
    from xlprompt.tasks.base import average_entry

    metrics = evaluation.metrics
    tables = {name: evaluation.table(name) for name in ("accuracy", "macro_f1")}
    evaluated = list(metrics)
    sources = tuple(sources) or (task.source_language,)
    held_out = [lang for lang in evaluated if lang not in sources]
    by_metric = {name: task.averages(table) for name, table in tables.items()}
    paper = by_metric["accuracy"]["paper"]
    averages = {
        "avg": {"languages": evaluated, "covers": f"every evaluated language ({len(evaluated)})"},
        "paper": {
            "languages": paper["languages"],
            "missing": paper["missing"],
            "source": task.average_source or "every language of the task",
            **{name: by_metric[name]["paper"]["value"] for name in tables},
        },
        "held_out": {
            "languages": held_out,
            "sources": list(sources),
            "covers": f"the evaluated languages that are not source languages ({len(held_out)})",
            **{name: average_entry(tables[name], held_out)["value"] for name in tables},
        },
        "groups": {
            grouping: {
                group: {
                    "languages": entry["languages"],
                    **{name: by_metric[name]["groups"][grouping][group]["value"] for name in tables},
                }
                for group, entry in groups.items()
                if entry["languages"]
            }
            for grouping, groups in by_metric["accuracy"]["groups"].items()
        },
    }
    return {
        "macro_f1": tables["macro_f1"],
        "counts": {lang: m["counts"] for lang, m in metrics.items()},
        "majority_class": {
            lang: 100.0 * (max((c["gold"] for c in m["counts"]), default=0) / m["n"]) if m["n"] else 0.0
            for lang, m in metrics.items()
        },
        "chance": 100.0 / len(task.labels),
        "averages": averages,
    }


def _other_sources(results: dict[str, Any], sources: list) -> bool:
    """Whether a run trained on other languages than its task's source language alone (``source_languages``)."""
    if len(sources) != 1:
        return bool(sources)
    try:
        from xlprompt.tasks import get_task

        return sources != [get_task(str(results.get("task", "xnli"))).source_language]
    except Exception:  # noqa: BLE001 - a task file no longer there: say it
        return True


def format_results_table(results: dict[str, Any]) -> str:
    """The per-language accuracy table as printed by the CLI."""
    acc = results["accuracy"]
    langs = [k for k in acc if k != "avg"]
    header = " ".join(f"{lang.upper():>5}" for lang in langs) + f" {'Avg':>5}"
    row = " ".join(f"{acc[lang]:5.1f}" for lang in langs) + f" {acc.get('avg', float('nan')):5.1f}"
    lines = [
        f"{results['method'].upper()} k={results['shots'] or 'all'} seed={results['seed']} "
        f"recipe={results.get('recipe', 'reference')} "
        f"model={results['model']}"
        + (" (random weights: chance-level numbers)" if results.get("random_weights") else "")
        + f" ({results['eval_split']}"
        + (f", capped at {results['eval_max_per_language']}/language" if results.get("eval_max_per_language") else "")
        + ")",
        header,
        row,
    ]
    f1 = results.get("macro_f1")
    if isinstance(f1, dict):  # runs recorded before macro-F1 have none
        lines.append(
            " ".join(f"{f1.get(lang, float('nan')):5.1f}" for lang in langs)
            + f" {f1.get('avg', float('nan')):5.1f}  (macro-F1)"
        )
    paper = (results.get("averages") or {}).get("paper")
    if paper and paper.get("accuracy") is not None:
        lines.append(
            f"Avg: every evaluated language; the task paper's average ({paper['source']}): accuracy "
            f"{paper['accuracy']:.1f}, macro-F1 {paper['macro_f1']:.1f} over {len(paper['languages'])} languages"
            + (f" ({len(paper['missing'])} not evaluated)" if paper.get("missing") else "")
        )
    held = (results.get("averages") or {}).get("held_out")
    if held and held.get("accuracy") is not None and _other_sources(results, held.get("sources") or []):
        lines.append(
            f"Held out (trained on {', '.join(held['sources'])}): accuracy {held['accuracy']:.1f}, macro-F1 "
            f"{held['macro_f1']:.1f} over the {len(held['languages'])} evaluated languages that are not sources"
        )
    return "\n".join(lines)
