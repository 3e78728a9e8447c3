"""Exporting a trained run as an adapter that loads on top of its base model.

The adapter is xlprompt's own format, not PEFT's (PEFT has no MPT translator and does not load it), so its
files are named after xlprompt; exports of earlier versions (``adapter_config.json``,
``adapter_model.safetensors``) still load. ``export_run(RUN_DIR, OUT_DIR)`` writes::

    xlprompt_adapter.json          what is needed to rebuild the method on the base model: base model and
                                   tokenizer specs, method, prompt length/position/encoder, translator
                                   architecture, hidden size, label words (per language too), scoring,
                                   max length, source prompt, the run's full config and hash, xlprompt
                                   version
    xlprompt_adapter.safetensors   p_source, p_target (the prompts as used at test time, eval mode; with
                                   translator_conditioning=language also p_target.<lang> for the task's targets),
                                   prompt_encoder.*, translator.*, head.* (whatever the method has); its
                                   metadata carries the run's config hash, compared on load
    task.json                      the task's definition (labels, label words, languages, templates), for a task
                                   that is not built in: the adapter names its task by name, not by a path
    plm.safetensors                only with ``with_plm``: the trained PLM (when the PLM trained)
    tokenizer/                     a copy of the tokenizer when the run used a local tokenizer folder

An adapter names no local path of the machine it was exported on: a hub name stays a hub name; a local
tokenizer folder is copied into the adapter (``"tokenizer": "tokenizer"``, read relative to the adapter);
a local base model is recorded by the hub name in its ``config.json`` (``_name_or_path``), else by its
folder name with ``base_model_local: true`` (then loading needs ``base_model=``, the CLI
``--base-model DIR``); the run's data paths are left out of the recorded config (prediction reads no data).

``load_adapter(OUT_DIR, base_model=None)`` rebuilds the method on the base model (``base_model`` overrides
the recorded spec, e.g. a local copy of xlm-roberta-base), loads the adapter and, if present, the PLM weights,
and returns a :class:`xlprompt.predict.Predictor`; ``PromptModel.from_pretrained(OUT_DIR)`` and ``xlprompt
predict --model OUT_DIR`` use it.

The paper's setting trains the PLM too (``freeze_plm`` false): an adapter without ``plm.safetensors`` then
gives predictions of the adapter on the *untrained* base, not the run's — ``export_run`` warns at export
time (naming ``--with-plm``), and ``load_adapter`` again. For the run's exact predictions export a
``freeze_plm`` run, or use ``with_plm`` (the run must have saved its PLM).
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import torch

from xlprompt.checkpoint import atomic_write_text, json_digest, weights_metadata
from xlprompt.config import RunConfig
from xlprompt.errors import CheckpointError
from xlprompt.experiment import TOY_BASE_MODEL
from xlprompt.predict import (
    LABEL_WORDS_FILE,
    PLM_FILE,
    PROMPT_FILE,
    TASK_FILE,
    Predictor,
    build_method,
    check_recorded_inputs,
    check_run_weights,
    load_module_state,
    load_plm_state,
    method_has_modules,
    read_run_config,
    read_saved_record,
    registered_task_names,
    resolve_predict_device,
    resolve_relative,
    run_records,
)
from xlprompt.safety import staged_folder
from xlprompt.tasks.base import SAVED_PREFIX
from xlprompt.version import __version__

#: named after xlprompt, not PEFT: an adapter is xlprompt's own format (a soft prompt, its encoder and MPT's
#: translator), which PEFT does not load; earlier versions wrote PEFT's names, which the loader still reads
ADAPTER_CONFIG = "xlprompt_adapter.json"
ADAPTER_WEIGHTS = "xlprompt_adapter.safetensors"
LEGACY_ADAPTER_CONFIG = "adapter_config.json"
LEGACY_ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_FORMAT = "xlprompt-adapter"
ADAPTER_FORMAT_VERSION = 1


def _prompts(config: RunConfig, modules: dict[str, dict[str, torch.Tensor]], hidden_size: int) -> dict:
    """p_S (and p_T for MPT) recomputed from the prompt encoder and translator alone, in eval mode, on the
    CPU in fp32: the prompt encoder and translator compute in fp32 outside autocast on every device and
    precision, so these are the vectors a bf16 GPU run used, up to the GPU's fp32 rounding."""
    from xlprompt.models.conditioned_translator import LanguageConditionedTranslator, build_mpt_translator
    from xlprompt.models.prompt_encoder import PromptEncoder, PromptEncoderConfig

    if "prompt_encoder" not in modules:
        return {}
    encoder = PromptEncoder(
        PromptEncoderConfig(config.prompt_length, hidden_size, config.prompt_encoder, config.prompt_encoder_shape)
    )
    encoder.load_state_dict(modules["prompt_encoder"])
    encoder.eval()
    with torch.no_grad():
        p_source = encoder()
        out = {"p_source": p_source}
        if config.method == "mpt":
            if config.no_translator:
                out["p_target"] = p_source
            else:
                targets = config.task_spec().target_languages  # the run's task's: one vector each
                translator = build_mpt_translator(
                    config.translator, hidden_size, config.translator_conditioning, targets
                )
                translator.load_state_dict(modules["translator"])
                translator.eval()
                if isinstance(translator, LanguageConditionedTranslator):  # a prompt per language
                    out["p_target"] = translator(p_source, "")  # the fallback of languages without pairs
                    out.update({f"p_target.{lang}": translator(p_source, lang) for lang in targets})
                else:
                    out["p_target"] = translator(p_source)
    return {k: v.float().contiguous().clone() for k, v in out.items()}


def export_run(run_dir: str | Path, out_dir: str | Path, with_plm: bool = False) -> list[Path]:
    """Write the adapter of a finished run to ``out_dir``; returns the files written."""
    from xlprompt.models.backbone import default_tokenizer_spec
    from xlprompt.predict import read_results
    from xlprompt.safety import check_output_dir, load_safetensors, verify_safetensors

    run_dir, out_dir = Path(run_dir), Path(out_dir)
    _check_target(check_output_dir(out_dir, "export folder"), run_dir)  # before the work
    config = read_run_config(run_dir)
    words = read_saved_record(run_dir, LABEL_WORDS_FILE, run_records(run_dir))  # the run's own, if it holds them
    # relative local paths become absolute where they resolve, so the adapter loads from anywhere here
    config = config.replace(
        tokenizer=_absolute(resolve_relative(config.tokenizer, run_dir)),
        model=_absolute(resolve_relative(config.model, run_dir)),
        label_words_file=None if words is not None else resolve_relative(config.label_words_file, run_dir),
        task=config.task
        if config.task in registered_task_names() or config.task.startswith(SAVED_PREFIX)
        else str(Path(resolve_relative(config.task, run_dir)).resolve()),
    )
    if not (run_dir / "results.json").exists():
        raise CheckpointError(f"{run_dir}: the run is not finished (no results.json); nothing to export")
    results = read_results(run_dir)
    check_recorded_inputs(config, results.get("labels"), results.get("inputs"), str(run_dir))
    prompt_path = run_dir / PROMPT_FILE
    # no other run's weights are exported (the PLM's only when it is: else it is neither read nor copied)
    check_run_weights(
        run_dir, results, [prompt_path] + ([run_dir / PLM_FILE] if with_plm and not config.freeze_plm else [])
    )
    tensors = load_safetensors(prompt_path) if prompt_path.exists() else {}
    modules: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        name, _, rest = key.partition(".")
        if name != "prompt":
            modules.setdefault(name, {})[rest] = value
    if not modules and method_has_modules(config.method):
        raise CheckpointError(f"{run_dir}: {PROMPT_FILE} is missing or empty; nothing to export")
    hidden_size = _hidden_size(modules)
    plm_trained = not config.freeze_plm
    if with_plm and not plm_trained:
        with_plm = False  # the base model is the PLM: nothing to add
    if with_plm and not (run_dir / PLM_FILE).exists():
        raise CheckpointError(
            f"{run_dir}: --with-plm needs {PLM_FILE}, which this run did not save (sweep run or --no-save-weights)"
        )
    if with_plm:
        verify_safetensors(run_dir / PLM_FILE)  # a corrupt PLM is never copied
    elif plm_trained:
        fix = (
            "export with --with-plm"
            if (run_dir / PLM_FILE).exists()
            else f"this run did not save {PLM_FILE}: run it again with its weights saved, then export with --with-plm"
        )
        warnings.warn(
            f"{run_dir}: the PLM trained in this run but the export leaves its weights out: predictions from "
            f"this adapter use the untrained base model and differ from the run's; for the run's predictions "
            f"{fix}",
            stacklevel=2,
        )
    original_hash = results.get("config_hash") or config.resolved_hash()
    base_model, base_local = _portable_model(config.model)
    from xlprompt.models.toy import ensure_toy_model, is_toy_spec

    # a toy model lives in the run's data folder: the adapter carries it (under 1 MB), so a prediction from the
    # adapter never pre-trains one again elsewhere; the run folder's own copy first (it carries one too)
    toy_folder = None
    if is_toy_spec(config.model):
        carried = run_dir / TOY_BASE_MODEL
        toy_folder = (
            carried
            if carried.is_dir()
            else ensure_toy_model(config.model, resolve_relative(config.data_dir, run_dir) if config.data_dir else None)
        )
    tokenizer_spec = config.tokenizer or default_tokenizer_spec(config.model)
    tokenizer_dir = Path(tokenizer_spec).expanduser() if not tokenizer_spec.startswith("builtin:") else None
    copy_tokenizer = tokenizer_dir is not None and tokenizer_dir.is_dir()

    label_words_per_language = words
    if config.label_words_file:
        from xlprompt.verbalizer import read_label_words_file

        label_words_per_language = read_label_words_file(
            config.label_words_file, config.task_spec().labels, config.task_spec().languages
        )
    from xlprompt.tasks import task_record

    task = config.task_spec()
    task_file = None if task.origin.startswith("built-in") else task_record(task)
    adapter: dict[str, torch.Tensor] = {}
    if hidden_size is not None:
        adapter.update(_prompts(config, modules, hidden_size))
    for name, state in modules.items():
        adapter.update({f"{name}.{k}": v.contiguous() for k, v in state.items()})
    spec: dict[str, Any] = {
        "format": ADAPTER_FORMAT,
        "format_version": ADAPTER_FORMAT_VERSION,
        "base_model": base_model,
        "base_model_local": base_local,
        "base_model_folder": BASE_MODEL_FOLDER if toy_folder is not None else None,
        "tokenizer": TOKENIZER_FOLDER if copy_tokenizer else tokenizer_spec,
        "method": config.method,
        "prompt_length": config.prompt_length,
        "prompt_position": config.prompt_position,
        "prompt_encoder": config.prompt_encoder,
        "translator": None if (config.method != "mpt" or config.no_translator) else config.translator,
        "hidden_size": hidden_size,
        "task": task.name if task_file else config.task,  # a task that is not built in: its record, task.json
        "labels": list(task.labels),
        "records": {TASK_FILE: json_digest(task_file)} if task_file else {},
        "inputs": results.get("inputs") or {},  # what the run recorded of its input files
        "label_words": config.label_words.split(","),
        "label_words_per_language": label_words_per_language,
        "scoring": config.scoring,
        "source_prompt": config.source_prompt,
        "max_length": config.max_length,
        "plm_trained": plm_trained,
        "plm_weights_included": with_plm,
        "random_weights": bool(results.get("random_weights")),
        "config": {
            **_portable_config(config, base_model, TOKENIZER_FOLDER if copy_tokenizer else tokenizer_spec),
            "task": task.name if task_file else config.task,
        },
        "config_hash": original_hash,
        "accuracy": results.get("accuracy"),
        "xlprompt_version": __version__,
    }
    from safetensors.torch import save_file

    # the adapter is built in a new sibling folder and verified there; only then do its files replace the files
    # of an earlier export (all of them, so none of another run's survives); nothing else in --out is touched
    with staged_folder(out_dir, ADAPTER_FILES) as tmp:
        names = []
        if adapter:
            save_file(
                adapter,
                str(tmp / ADAPTER_WEIGHTS),
                metadata={"format": ADAPTER_FORMAT, "config_hash": original_hash, "method": config.method},
            )
            verify_safetensors(tmp / ADAPTER_WEIGHTS)
            names.append(ADAPTER_WEIGHTS)
        if copy_tokenizer:
            shutil.copytree(tokenizer_dir, tmp / TOKENIZER_FOLDER)
            names.append(TOKENIZER_FOLDER)
        if toy_folder is not None:
            shutil.copytree(toy_folder, tmp / BASE_MODEL_FOLDER)
            names.append(BASE_MODEL_FOLDER)
        if with_plm:
            shutil.copyfile(run_dir / PLM_FILE, tmp / PLM_FILE)
            verify_safetensors(tmp / PLM_FILE)
            names.append(PLM_FILE)
        if task_file is not None:
            atomic_write_text(tmp / TASK_FILE, json.dumps(task_file, indent=2, ensure_ascii=False))
            names.append(TASK_FILE)
        atomic_write_text(tmp / ADAPTER_CONFIG, json.dumps(spec, indent=2, ensure_ascii=False))
        read_adapter_config(tmp)
        names.append(ADAPTER_CONFIG)
    return [out_dir / name for name in names]


TOKENIZER_FOLDER = "tokenizer"
#: a copy of the base model when it lives in a data folder (a toy model): model and tokenizer
BASE_MODEL_FOLDER = "base_model"
#: the files an export writes: the only entries of an adapter folder an export replaces or removes
ADAPTER_FILES = (
    ADAPTER_WEIGHTS,
    PLM_FILE,
    TOKENIZER_FOLDER,
    BASE_MODEL_FOLDER,
    TASK_FILE,
    LEGACY_ADAPTER_WEIGHTS,
    LEGACY_ADAPTER_CONFIG,
    ADAPTER_CONFIG,
)


def _check_target(out_dir: Path, run_dir: Path) -> None:
    """An export goes to a new or empty folder or an earlier export, never into the run it exports."""
    if out_dir.resolve() == run_dir.resolve():
        raise CheckpointError(f"{out_dir}: that is the run folder being exported; pass another --out folder")
    if (
        out_dir.is_dir()
        and any(out_dir.iterdir())
        and not (out_dir / ADAPTER_CONFIG).exists()
        and not (out_dir / LEGACY_ADAPTER_CONFIG).exists()
    ):
        raise CheckpointError(
            f"{out_dir}: not empty and not an xlprompt adapter folder; pass a new or empty --out "
            "folder (or an earlier export)"
        )


#: config keys that name data a run reads and a prediction does not: left out of an adapter's config
_DATA_PATH_KEYS: tuple[str, ...] = ("data_dir", "parallel_file", "dictionary_dir", "label_words_file")


def _looks_local(spec: str) -> bool:
    return spec.startswith(("/", "./", "../", "~")) or "\\" in spec or Path(spec).expanduser().exists()


def _portable_model(spec: str) -> tuple[str, bool]:
    """(what the adapter records for the base model, whether it is only a local folder's name)."""
    path = Path(spec).expanduser()
    if not path.is_dir():
        return spec, False  # a hub name or random:...
    try:
        name = json.loads((path / "config.json").read_text("utf-8")).get("_name_or_path") or ""
    except (OSError, ValueError, AttributeError):
        name = ""
    if isinstance(name, str) and name and not _looks_local(name):
        return name, False
    return path.name, True


def _portable_config(config: RunConfig, base_model: str, tokenizer: str) -> dict:
    values = config.to_dict()
    values.update(model=base_model, tokenizer=tokenizer)
    for key in _DATA_PATH_KEYS:
        if key in values:
            values[key] = None
    translate = values.get("translate_model")
    if isinstance(translate, str) and _looks_local(translate):
        values["translate_model"] = None
    return values


def _absolute(spec: str | None) -> str | None:
    if spec and spec.startswith(".") and Path(spec).exists():
        return str(Path(spec).resolve())
    return spec


def _hidden_size(modules: dict[str, dict[str, torch.Tensor]]) -> int | None:
    """The PLM width the built-in methods' modules were trained for (None for other modules: a registered
    method's own, whose shapes its module loading checks)."""
    embedding = modules.get("prompt_encoder", {}).get("embedding")
    if embedding is not None:
        return int(embedding.shape[-1])
    dense = modules.get("head", {}).get("dense.weight")
    return int(dense.shape[-1]) if dense is not None else None


def adapter_files(adapter_dir: Path) -> tuple[Path, Path]:
    """(config, weights) of an adapter folder: xlprompt's names, or PEFT's names of earlier exports."""
    if not (adapter_dir / ADAPTER_CONFIG).exists() and (adapter_dir / LEGACY_ADAPTER_CONFIG).exists():
        return adapter_dir / LEGACY_ADAPTER_CONFIG, adapter_dir / LEGACY_ADAPTER_WEIGHTS
    return adapter_dir / ADAPTER_CONFIG, adapter_dir / ADAPTER_WEIGHTS


def read_adapter_config(adapter_dir: str | Path) -> dict[str, Any]:
    """The checked ``xlprompt_adapter.json`` of an adapter folder (a one-line error for anything else)."""
    path = adapter_files(Path(adapter_dir))[0]
    if not Path(adapter_dir).is_dir():
        raise CheckpointError(f"{adapter_dir}: no such adapter folder (an `xlprompt export --out` folder)")
    try:
        spec = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{adapter_dir}: not an xlprompt adapter (no {ADAPTER_CONFIG})") from None
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{path}: unreadable ({err})") from None
    if not isinstance(spec, dict) or spec.get("format") != ADAPTER_FORMAT:
        raise CheckpointError(f"{path}: not an xlprompt adapter config (format is not '{ADAPTER_FORMAT}')")
    if spec.get("format_version") != ADAPTER_FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: adapter format {spec.get('format_version')}, this xlprompt reads {ADAPTER_FORMAT_VERSION}"
        )
    from xlprompt.config import coerce
    from xlprompt.plugins import import_plugins

    recorded = spec.get("config") if isinstance(spec.get("config"), dict) else {}
    import_plugins(coerce("plugins", recorded.get("plugins")), f"{path}: plugins")  # they may register its method
    return spec


def load_adapter(
    adapter_dir: str | Path,
    base_model: str | None = None,
    tokenizer: str | None = None,
    device: str | torch.device | None = None,
) -> Predictor:
    """Rebuild the method on the base model and load the adapter (and the PLM weights if exported).
    ``device``: default the run's ``device`` setting; its ``precision`` applies there."""
    from xlprompt.safety import load_safetensors

    adapter_dir = Path(adapter_dir)
    spec = read_adapter_config(adapter_dir)
    config_path, weights = adapter_files(adapter_dir)
    values = dict(spec["config"])
    values["label_words_file"] = None  # the words travel inside the adapter config
    record = read_saved_record(adapter_dir, TASK_FILE, spec.get("records"))
    if record is not None:  # the adapter's own task, private to this model
        from xlprompt.tasks import saved_task

        values["task"] = saved_task(record, str(adapter_dir / TASK_FILE))
    recorded = spec.get("tokenizer")
    if recorded == TOKENIZER_FOLDER and (adapter_dir / TOKENIZER_FOLDER).is_dir():
        recorded = str(adapter_dir / TOKENIZER_FOLDER)  # the copy inside the adapter
    values["tokenizer"] = tokenizer or recorded
    carried = spec.get("base_model_folder")
    if not base_model and carried == BASE_MODEL_FOLDER and (adapter_dir / carried).is_dir():
        values["model"] = str(adapter_dir / carried)  # the toy model the adapter carries (model and tokenizer)
        if not tokenizer and str(recorded or "").startswith("toy:"):
            values["tokenizer"] = str(adapter_dir / carried)
    if base_model:
        values["model"] = base_model
    elif spec.get("base_model_local"):
        raise CheckpointError(
            f"{adapter_dir}: the adapter was exported from a local base model folder "
            f"'{spec.get('base_model')}'; pass base_model= (CLI: --base-model DIR) with that model"
        )
    config = RunConfig.from_dict(values, where=str(config_path))
    inputs = {k: v for k, v in (spec.get("inputs") or {}).items() if k != "label_words_file"}  # words: inside
    check_recorded_inputs(config, spec.get("labels"), inputs, str(adapter_dir))
    tok, method, info = build_method(
        config, resolve_predict_device(config, device), label_words=spec.get("label_words_per_language")
    )
    if spec.get("hidden_size") is not None and method.plm.hidden_size != spec["hidden_size"]:
        raise CheckpointError(
            f"{adapter_dir}: the adapter is for hidden size {spec['hidden_size']}, base model "
            f"'{config.model}' has {method.plm.hidden_size}"
        )
    if method.extra_modules():
        if not weights.exists():
            raise CheckpointError(f"{adapter_dir}: {weights.name} is missing")
        found = weights_metadata(weights).get("config_hash")
        if found and spec.get("config_hash") and found != spec["config_hash"]:
            raise CheckpointError(
                f"{weights}: the weights of another adapter (config {found}; {config_path.name} is config "
                f"{spec['config_hash']}); put back the adapter's own weights, or export again"
            )
        load_module_state(method, load_safetensors(weights), str(weights), exported=("p_source", "p_target"))
    plm_path = adapter_dir / PLM_FILE
    if spec.get("plm_weights_included"):  # the config decides, not whatever file lies in the folder
        if not plm_path.exists():
            raise CheckpointError(
                f"{adapter_dir}: {ADAPTER_CONFIG} says the PLM weights are included, but "
                f"{PLM_FILE} is missing; export the run again with --with-plm"
            )
        found = weights_metadata(plm_path).get("config_hash")
        if found and spec.get("config_hash") and found != spec["config_hash"]:
            raise CheckpointError(
                f"{plm_path}: the PLM of another run (config {found}; {config_path.name} is config "
                f"{spec['config_hash']}); put back the adapter's own weights, or export again"
            )
        load_plm_state(method, load_safetensors(plm_path), str(plm_path))
    elif plm_path.exists():
        warnings.warn(
            f"{plm_path}: ignored; {ADAPTER_CONFIG} says this adapter has no PLM weights (plm_weights_included: false)",
            stacklevel=2,
        )
    if not spec.get("plm_weights_included") and spec.get("plm_trained"):
        warnings.warn(
            f"{adapter_dir}: the PLM trained with this adapter but its weights are not included "
            "(export with --with-plm): predictions use the untrained base model and differ from the "
            "run's",
            stacklevel=2,
        )
    method.eval()
    return Predictor(config, method, tok, info.random_weights, str(adapter_dir), {"accuracy": spec.get("accuracy")})
