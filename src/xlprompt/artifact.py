"""One artifact, three folder kinds, one loader: :func:`load_artifact` reads a finished run folder (``xlprompt
run --out``), a saved model (``PromptModel.save_pretrained``) or an exported adapter (``xlprompt export``), given
as a local folder or a Hugging Face Hub repository name; :meth:`xlprompt.PromptModel.from_pretrained` and
``xlprompt predict`` use it.

Which kind a folder is, its marker file decides: ``xlprompt_model.json`` (a saved model), ``config.json`` with
``results.json`` (a run folder), ``xlprompt_adapter.json`` (an adapter; ``adapter_config.json`` in exports of
earlier versions).

Every loader compares what the artifact says about itself with what it loads, and refuses a difference in one
line (:class:`~xlprompt.errors.CheckpointError`): the weights carry the config hash of the model they were saved
from; the state holds exactly the tensors the config's method has (none missing, none unexpected); the labels and
the task are the recorded ones; the label words map to the recorded token ids with the folder's tokenizer; a
local model or tokenizer has the recorded digest. An artifact's task is its own (the record it holds), private to
the loaded model: loading never registers or replaces a task of the process.

A Hub name (``user/name``, optionally ``user/name@revision``) is fetched with ``huggingface_hub.snapshot_download``
into its cache (``HF_HUB_CACHE``); with ``HF_HUB_OFFLINE=1`` only the cache is read.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch

from xlprompt.config import RunConfig, content_digest
from xlprompt.errors import CheckpointError, ConfigError

# the label words a model was built with, per language, and a run folder's (an adapter's) task definition
from xlprompt.experiment import LABEL_WORDS_FILE, TASK_FILE  # noqa: F401 (re-exported)
from xlprompt.export import TOKENIZER_FOLDER  # a copy of the tokenizer inside the folder

#: the files of a saved model (``PromptModel.save_pretrained``)
MODEL_CONFIG = "xlprompt_model.json"
MODEL_WEIGHTS = "model.safetensors"
MODEL_FORMAT = 2
#: the formats a loader reads: 1 (earlier versions: no token ids or tokenizer digest recorded) and 2
MODEL_FORMATS = (1, 2)


@dataclass
class Loaded:
    """A loaded artifact: the :class:`~xlprompt.predict.Predictor` (config, method, tokenizer), its ``kind``
    (model, run, adapter), ``config_hash`` (the identity it recorded: a model saved again keeps it) and
    ``saved_config`` (the config values it recorded)."""

    predictor: Any
    kind: str
    config_hash: str
    saved_config: dict


def check_weights_hash(path: Path, expected: str | None, where: str) -> None:
    """Refuse weights saved from another model than the one ``expected`` (a config hash) names."""
    from xlprompt.checkpoint import weights_metadata

    found = weights_metadata(path).get("config_hash")
    if expected and found != expected:
        raise CheckpointError(
            f"{path}: the weights of another model (saved with config {found or 'unknown'}, {where} is config "
            f"{expected}); put back the folder's own weights, or save the model again"
        )


def check_state_keys(expected: set[str], found: set[str], where: str) -> None:
    """Refuse a state that lacks tensors the model has, or holds tensors it has not (another method's)."""
    missing, unexpected = sorted(expected - found), sorted(found - expected)
    if missing or unexpected:
        parts = ([f"lacks {', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}"] if missing else []) + (
            [f"holds unexpected {', '.join(unexpected[:3])}{', ...' if len(unexpected) > 3 else ''}"]
            if unexpected
            else []
        )
        raise CheckpointError(
            f"{where}: does not fit the saved config ({'; '.join(parts)}): the weights of another method or "
            "config; save the model again"
        )


def verbalizer_record(method) -> tuple[dict | None, dict | None]:
    """(the label words per language the method's verbalizer was built with, the token ids of every language's
    words); (None, None) for a method without label words (FT)."""
    verbalizer = getattr(method, "verbalizer", None)
    if verbalizer is None:
        return None, None
    words = {lang: list(ws) for lang, ws in verbalizer.per_language.items()}
    ids = {"default": list(verbalizer.default_ids), **{k: list(v) for k, v in verbalizer.language_ids.items()}}
    return words, ids


def check_verbalizer(method, recorded_ids: Any, where: str) -> None:
    """Refuse label words that map to other tokens than the recorded ones (another tokenizer, other words)."""
    if recorded_ids is None:
        return
    _, ids = verbalizer_record(method)
    if ids != recorded_ids:
        raise CheckpointError(
            f"{where}: the label words map to other tokens than when the model was saved (another tokenizer or "
            "other words); restore the folder's tokenizer and label words, or save the model again"
        )


def task_for(record: Any, name: str, where: str) -> str:
    """The config key ``task`` for an artifact's task record: a built-in task by its name (its labels compared),
    else the record as a private task (:func:`xlprompt.tasks.saved_task`)."""
    from xlprompt.tasks import get_task, saved_task, task_record

    builtin = None
    try:
        builtin = get_task(name) if isinstance(name, str) and not name.startswith("saved:") else None
    except ConfigError:
        pass
    if builtin is not None and builtin.origin.startswith("built-in"):
        if isinstance(record, dict) and record.get("labels") not in (None, list(builtin.labels)):
            raise CheckpointError(
                f"{where}: trained with the labels {record.get('labels')}, but the built-in task {name} has "
                f"{list(task_record(builtin)['labels'])}; load it with the xlprompt version that saved it"
            )
        return name
    return saved_task(record, where)


def portable_config(values: Mapping[str, Any], task_name: str, label_words: bool, model: str) -> tuple[dict, bool]:
    """``values`` as a saved model records them, naming nothing outside its folder: the task by its name (the
    folder holds its record), the tokenizer as the folder's copy, the label words as the folder's file, no data
    paths (prediction reads no data); the base model ``model`` (the one it was built on here) by its Hub name where
    it is a local folder that has one, else by the folder's name (then the second value is true and a loader needs
    ``base_model``)."""
    from xlprompt.export import _DATA_PATH_KEYS, _looks_local, _portable_model

    out = dict(values)
    model, local = _portable_model(model)  # the base model the model was built on here
    out.update(
        task=task_name,
        model=model,
        tokenizer=TOKENIZER_FOLDER,
        label_words_file=LABEL_WORDS_FILE if label_words else None,
    )
    for key in _DATA_PATH_KEYS:
        if key in out and key != "label_words_file":
            out[key] = None
    if isinstance(out.get("translate_model"), str) and _looks_local(out["translate_model"]):
        out["translate_model"] = None
    return out, local


def _read_meta(path: Path) -> dict:
    try:
        meta = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{path}: unreadable ({err}); save the model again") from None
    if not isinstance(meta, dict) or meta.get("format") not in MODEL_FORMATS:
        raise CheckpointError(
            f"{path}: not a saved model of this xlprompt version (format "
            f"{meta.get('format') if isinstance(meta, dict) else '?'}, expected one of "
            f"{', '.join(map(str, MODEL_FORMATS))})"
        )
    for key, kind in (("config", dict), ("task", dict), ("config_hash", str), ("labels", list)):
        if key not in meta:
            raise CheckpointError(
                f"{path}: no '{key}' entry, so not a complete saved model; save it again with "
                "PromptModel.save_pretrained"
            )
        if not isinstance(meta[key], kind):
            raise CheckpointError(f"{path}: '{key}' is a {type(meta[key]).__name__}, not a {kind.__name__}")
    return meta


def load_saved_model(folder: Path, device: str | torch.device | None = None, base_model: str | None = None) -> Loaded:
    """A folder written by ``PromptModel.save_pretrained``, checked against its own record (see the module)."""
    from xlprompt.predict import Predictor, build_method, resolve_predict_device
    from xlprompt.safety import load_safetensors, verify_safetensors

    meta_path = folder / MODEL_CONFIG
    meta = _read_meta(meta_path)
    values = dict(meta["config"])
    record = meta["task"]
    if meta["labels"] != record.get("labels"):
        raise CheckpointError(
            f"{meta_path}: its labels {meta['labels']} are not its task's {record.get('labels')}; save the model again"
        )
    weights = folder / MODEL_WEIGHTS
    if not weights.is_file():
        raise CheckpointError(f"{folder}: no {MODEL_WEIGHTS}; save the model again")
    verify_safetensors(weights)
    check_weights_hash(weights, meta["config_hash"], MODEL_CONFIG)
    from xlprompt.checkpoint import weights_metadata

    saved_method = weights_metadata(weights).get("method")
    if saved_method and saved_method != values.get("method"):
        raise CheckpointError(
            f"{weights}: {saved_method} weights, but {MODEL_CONFIG} is a {values.get('method')} model; put back "
            "the folder's own weights"
        )
    values["task"] = task_for(record, str(record.get("name")), str(meta_path))
    tokenizer = folder / TOKENIZER_FOLDER
    if not tokenizer.is_dir():
        raise CheckpointError(f"{folder}: no {TOKENIZER_FOLDER}/ folder (the model's tokenizer); save the model again")
    if meta.get("tokenizer_digest") and content_digest(tokenizer) != meta["tokenizer_digest"]:
        raise CheckpointError(
            f"{tokenizer}: not the tokenizer the model was saved with (its files differ); restore it, or save the "
            "model again"
        )
    values["tokenizer"] = str(tokenizer)
    if base_model:
        values["model"] = base_model
    elif meta.get("base_model_local"):
        raise CheckpointError(
            f"{folder}: the model was saved on a local base model folder '{values.get('model')}'; pass "
            "base_model= (CLI: --base-model DIR) with that model"
        )
    words = meta.get("label_words", meta.get("label_words_file"))
    values["label_words_file"] = None  # the words travel in the record
    words_file = folder / LABEL_WORDS_FILE
    if words_file.is_file():
        try:
            on_disk = json.loads(words_file.read_text("utf-8"))
        except (OSError, ValueError):
            on_disk = None
        if on_disk != words:
            raise CheckpointError(
                f"{words_file}: not the label words the model was saved with (edited since); restore it, or "
                "save the model again"
            )
    config = RunConfig.from_dict(values, where=str(meta_path))
    tok, method, info = build_method(config, resolve_predict_device(config, device), label_words=words)
    check_verbalizer(method, meta.get("label_word_ids"), str(folder))
    state = load_safetensors(weights)
    check_state_keys(set(method.trainable_state()), set(state), str(weights))
    try:
        method.load_trainable_state(state)
    except (KeyError, RuntimeError) as err:
        raise CheckpointError(f"{weights}: does not fit the saved config ({str(err).splitlines()[0]})") from None
    method.eval()
    predictor = Predictor(config, method, tok, bool(meta.get("random_weights")), str(folder))
    return Loaded(predictor, "model", meta["config_hash"], dict(meta["config"]))


def _recovered(folder: Path) -> Path:
    """``folder``, after a save or export into it that a dead process left half swapped in was finished (or undone)
    and its leftovers removed (:func:`xlprompt.safety.recover_staged`): a reader sees a whole artifact. Where the
    folder cannot be written (read-only), it is read as it is."""
    from xlprompt.safety import recover_staged

    with contextlib.suppress(OSError):
        recover_staged(folder)
    return folder


def _is_peft_config(path: Path) -> bool:
    """Whether ``adapter_config.json`` is PEFT's (a published XPE, DUAL or soft-prompt adapter: ``peft_type``), not
    the file of an xlprompt export of an earlier version (same name)."""
    try:
        return "peft_type" in json.loads(path.read_text("utf-8"))
    except (OSError, ValueError, TypeError):
        return False


def artifact_kind(folder: Path) -> str:
    """``model``, ``run``, ``adapter`` or ``peft`` (a PEFT prompt adapter in the layout of the published XPE, DUAL
    and soft prompts, :func:`xlprompt.methods.xpe.load_peft_prompt`): which artifact ``folder`` is; a one-line
    error otherwise."""
    from xlprompt.export import ADAPTER_CONFIG, LEGACY_ADAPTER_CONFIG

    if folder.exists() and not folder.is_dir():
        raise CheckpointError(f"{folder}: a file, not a model folder; give a run folder, a saved model or an adapter")
    if not folder.is_dir():
        raise CheckpointError(
            f"{folder}: no such folder; give a run folder, a saved model, an exported adapter or a Hub name (user/name)"
        )
    if (folder / MODEL_CONFIG).is_file():
        return "model"
    if (folder / ADAPTER_CONFIG).is_file():
        return "adapter"
    if (folder / LEGACY_ADAPTER_CONFIG).is_file():
        return "peft" if _is_peft_config(folder / LEGACY_ADAPTER_CONFIG) else "adapter"
    if (folder / "config.json").is_file():
        return "run"  # an unfinished one too: its loader says what is missing
    raise CheckpointError(
        f"{folder}: not a run directory, a saved model or an adapter (no config.json, no {MODEL_CONFIG}, no "
        f"{ADAPTER_CONFIG}); give a run folder, a folder of PromptModel.save_pretrained or an `xlprompt export` folder"
    )


def _is_hub_name(source: str) -> bool:
    parts = source.split("@")[0].split("/")
    return (
        len(parts) == 2
        and all(parts)
        and not source.startswith((".", "/", "~"))
        and all(p not in (".", "..") for p in parts)
    )


def resolve_source(source: str | os.PathLike) -> Path:
    """A local folder as it is; else a Hub name ``user/name[@revision]`` (a string that names no local path),
    fetched into the Hugging Face cache (``HF_HUB_CACHE``; ``HF_HUB_OFFLINE=1``: the cache only)."""
    path = Path(source).expanduser()
    if path.exists() or not isinstance(source, str) or not _is_hub_name(source):  # a Path is never a Hub name
        return path
    from huggingface_hub import snapshot_download
    from huggingface_hub.utils import HfHubHTTPError, LocalEntryNotFoundError

    repo_id, _, revision = str(source).partition("@")
    offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "on", "yes", "true")
    try:
        return Path(
            snapshot_download(
                repo_id,
                revision=revision or None,
                cache_dir=os.environ.get("HF_HUB_CACHE") or None,
                local_files_only=offline,
            )
        )
    except LocalEntryNotFoundError:
        raise CheckpointError(
            f"{source}: no such folder here, and the Hub repository is not in the cache"
            + (" (HF_HUB_OFFLINE is set: only the cache is read)" if offline else " and cannot be downloaded")
            + "; give a local folder, or fetch it online once"
        ) from None
    except (HfHubHTTPError, OSError, ValueError) as err:
        raise CheckpointError(
            f"{source}: no such folder here, and the Hub does not serve it ({str(err).splitlines()[0]}); give a "
            "local folder or a Hub repository user/name you can read"
        ) from None


def load_artifact(
    source: str | os.PathLike,
    device: str | torch.device | None = None,
    base_model: str | None = None,
    tokenizer: str | None = None,
) -> Loaded:
    """Load any xlprompt artifact (run folder, saved model, adapter; a local folder or a Hub name) for prediction.

    ``base_model`` / ``tokenizer``: where the base model / tokenizer are now, where the recorded ones do not load
    from here (a run's relative paths, an adapter of a local base model)."""
    from xlprompt.export import load_adapter, read_adapter_config
    from xlprompt.models.backbone import is_random_spec
    from xlprompt.predict import load_run

    folder = _recovered(resolve_source(source))
    kind = artifact_kind(folder)
    if kind == "model":
        if tokenizer:
            raise ConfigError(f"{folder}: a saved model carries its tokenizer; drop the tokenizer option")
        return load_saved_model(folder, device, base_model)
    if kind == "peft":  # a published XPE / DUAL / soft prompt (PEFT's layout), for the task it was trained on
        from xlprompt.methods.xpe.peft_prompts import load_peft_prompt
        from xlprompt.predict import Predictor

        found = load_peft_prompt(folder, model=base_model, tokenizer=tokenizer, device=device or "cpu")
        predictor = Predictor(
            found.config, found.method, found.tokenizer, is_random_spec(found.config.model), str(folder)
        )
        return Loaded(predictor, kind, found.config.resolved_hash(), found.config.to_dict())
    if kind == "adapter":
        spec = read_adapter_config(folder)
        predictor = load_adapter(folder, base_model=base_model, tokenizer=tokenizer, device=device)
        return Loaded(predictor, kind, str(spec.get("config_hash")), dict(spec.get("config") or {}))
    predictor = load_run(folder, device=device, tokenizer=tokenizer, model=base_model)
    saved = json.loads((folder / "config.json").read_text("utf-8"))
    return Loaded(predictor, kind, str(predictor.results.get("config_hash")), dict(saved.get("config") or {}))


def artifact_task(source: str | os.PathLike):
    """The :class:`~xlprompt.tasks.Task` of an artifact (any kind, a folder or a Hub name), read without loading
    its model: what a prediction's inputs are checked against (text fields, languages) before the model loads."""
    from xlprompt.export import read_adapter_config
    from xlprompt.predict import read_run_config, read_saved_record
    from xlprompt.tasks import get_task, saved_task

    folder = _recovered(resolve_source(source))
    kind = artifact_kind(folder)
    if kind == "model":
        meta = _read_meta(folder / MODEL_CONFIG)
        return get_task(task_for(meta["task"], str(meta["task"].get("name")), str(folder / MODEL_CONFIG)))
    if kind == "peft":  # the published prompts are SIB-200's (their head's rows are its categories)
        return get_task("sib200")
    if kind == "adapter":
        spec = read_adapter_config(folder)
        record = read_saved_record(folder, TASK_FILE, spec.get("records"))
        if record is not None:
            return get_task(saved_task(record, str(folder / TASK_FILE)))
        return get_task(str((spec.get("config") or {}).get("task", "xnli")))
    return read_run_config(folder).task_spec()
