"""The published prompts of XPE's authors: a PEFT adapter folder as their Hub repositories hold it
(``mikaberidze/xlmr-large-sib200-peft-{xpe,spt}-{seen,joshi5}``: ``adapter_config.json`` and
``adapter_model.safetensors``), loaded as an XPE, DUAL or standard-soft-prompt method of xlprompt.

The layout, from bmikaberidze/XPE@78b384f: the adapter is PEFT P-tuning for sequence classification
(``peft_type`` ``P_TUNING``, ``task_type`` ``SEQ_CLS``) whose config carries the cross-prompt encoder's fields
(``encoder_ratio``: 0 for a standard soft prompt, 1 for XPE, between for DUAL; ``num_virtual_tokens``,
``encoder_hidden_size``, ``encoder_num_layers``, ``encoder_reparameterization_type``; nlpka/models/
cross_prompt_encoder.py:830-904; nlpka/models/scripts/peft/xpe/upload.py:47-107 sets ``encoder_ratio`` and the base
model). Its weights are what ``xpe_get_peft_model_state_dict`` (cross_prompt_encoder.py:388-488) keeps: the modules
to save, with PEFT's ``modules_to_save`` and adapter name taken out of the keys —

* ``prompt_encoder.embedding.weight`` [m - n, d]: the directly trained soft-prompt vectors;
* ``prompt_encoder.xpe_embedding.weight`` [n, d] and ``prompt_encoder.xpe_head.{0,3,...}.{weight,bias}``: the
  encoder's inputs and its MLP (Linear layers at 0, 3, 6, ...: each followed by ReLU and Dropout);
* ``base_model.classifier.{dense,out_proj}.{weight,bias}``: XLM-R's classification head.

A plain PEFT P-tuning or prompt-tuning adapter, which saves the prompt's output vectors as ``prompt_embeddings``
[m, d], loads as a standard soft prompt of those vectors (the same prompt at inference).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from xlprompt.errors import CheckpointError

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
_HEAD_KEYS = {
    "base_model.classifier.dense.weight": "dense.weight",
    "base_model.classifier.dense.bias": "dense.bias",
    "base_model.classifier.out_proj.weight": "out_proj.weight",
    "base_model.classifier.out_proj.bias": "out_proj.bias",
}


@dataclass
class PeftPrompt:
    """A published prompt loaded into xlprompt.

    Attributes:
        config (RunConfig): the run config it corresponds to (method ``xpe`` at encoder ratio 1, else ``dual``).
        method (CrossPromptEncoding): the method with the adapter's prompt and head, in evaluation mode; its
            ``class_scores(batch, lang)`` gives the task's class logits.
        tokenizer: the tokenizer of the base model.
        adapter_config (dict): the folder's ``adapter_config.json``.
    """

    config: Any
    method: Any
    tokenizer: Any
    adapter_config: dict


def _read_config(folder: Path) -> dict:
    path = folder / ADAPTER_CONFIG
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise CheckpointError(
            f"{folder}: no {ADAPTER_CONFIG}; a PEFT adapter folder holds it beside {ADAPTER_WEIGHTS}"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path}: not a readable JSON file ({str(err).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def _split_weights(tensors: dict[str, torch.Tensor], where: str) -> tuple[dict, dict]:
    """(cross_prompt_encoder state, head state) from the adapter's keys; unknown keys are refused."""
    encoder, head, unknown = {}, {}, []
    for key, value in tensors.items():
        if key in _HEAD_KEYS:
            head[_HEAD_KEYS[key]] = value.float()
        elif key == "prompt_embeddings":
            encoder["spt_embedding.weight"] = value.float()
        elif key == "prompt_encoder.embedding.weight":
            encoder["spt_embedding.weight"] = value.float()
        elif key.startswith(("prompt_encoder.xpe_embedding.", "prompt_encoder.xpe_head.")):
            encoder[key[len("prompt_encoder.") :]] = value.float()
        else:
            unknown.append(key)
    if unknown:
        raise CheckpointError(
            f"{where}: keys {', '.join(sorted(unknown)[:4])} are not those of an XPE, DUAL or soft-prompt adapter "
            "(prompt_encoder.embedding/xpe_embedding/xpe_head.*, base_model.classifier.*, prompt_embeddings)"
        )
    if set(head) != set(_HEAD_KEYS.values()):
        raise CheckpointError(f"{where}: no complete classification head (base_model.classifier.*); task_type SEQ_CLS")
    return encoder, head


def load_peft_prompt(
    folder: str | Path,
    *,
    model: str | None = None,
    tokenizer: str | None = None,
    task: str = "sib200",
    device: str | torch.device = "cpu",
    max_length: int | None = None,
    data_dir: str | None = None,
) -> PeftPrompt:
    """Load a published XPE, DUAL or standard-soft-prompt adapter (the layout of the module docstring) onto its
    base model, ready to predict.

    Args:
        folder (str | Path): the adapter folder (``adapter_config.json``, ``adapter_model.safetensors``).
        model (str | None): the base model (hub name, local folder or ``random:...``); default: the adapter's
            ``base_model_name_or_path``.
        tokenizer (str | None): the tokenizer; default: the model's own.
        task (str): the task whose labels the head's rows are, in order (SIB-200's categories by default).
        device (str | torch.device): where the method goes.
        max_length (int | None): the input's longest token count; default: XPE's recipe (164).
        data_dir (str | None): the data folder, for a task that reads one to build its config.

    Returns:
        PeftPrompt: the config, the method (evaluation mode), the tokenizer and the adapter config.

    Raises:
        CheckpointError: a folder that is not such an adapter, or weights that do not fit it (one line).
    """
    from xlprompt.config import RunConfig
    from xlprompt.methods import build_method
    from xlprompt.methods.xpe.method import encoded_token_count
    from xlprompt.models.backbone import default_tokenizer_spec, load_masked_lm, load_tokenizer
    from xlprompt.models.masked_lm import MaskedLM
    from xlprompt.safety import load_safetensors

    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise CheckpointError(
            f"{folder}: not a folder; give the folder of a PEFT adapter ({ADAPTER_CONFIG} + {ADAPTER_WEIGHTS})"
        )
    cfg = _read_config(folder)
    where = str(folder / ADAPTER_CONFIG)
    if cfg.get("peft_type") not in ("P_TUNING", "PROMPT_TUNING") or cfg.get("task_type") != "SEQ_CLS":
        raise CheckpointError(
            f"{where}: peft_type {cfg.get('peft_type')!r}, task_type {cfg.get('task_type')!r}; xlprompt loads "
            "P_TUNING or PROMPT_TUNING adapters for SEQ_CLS (XPE, DUAL, soft prompts with a classification head)"
        )
    weights_path = folder / ADAPTER_WEIGHTS
    if not weights_path.is_file():
        raise CheckpointError(f"{folder}: no {ADAPTER_WEIGHTS} (xlprompt reads the safetensors weights only)")
    encoder_state, head_state = _split_weights(load_safetensors(weights_path), str(weights_path))
    length = cfg.get("num_virtual_tokens")
    if not isinstance(length, int) or length < 1:
        raise CheckpointError(f"{where}: num_virtual_tokens must be a positive integer, not {length!r}")
    ratio = float(cfg.get("encoder_ratio", 0.0 if "xpe_embedding.weight" not in encoder_state else 1.0))
    if not 0.0 <= ratio <= 1.0:
        raise CheckpointError(f"{where}: encoder_ratio must lie in [0, 1], not {ratio}")
    encoded = encoded_token_count(length, ratio)
    kind = str(cfg.get("encoder_reparameterization_type", "MLP")).upper()
    if encoded and kind != "MLP":
        raise CheckpointError(
            f"{where}: encoder_reparameterization_type {kind}; xlprompt's cross-prompt encoder is the MLP"
        )
    if cfg.get("encoder_input_size") not in (None, cfg.get("token_dim")):
        raise CheckpointError(f"{where}: encoder_input_size {cfg.get('encoder_input_size')} differs from token_dim")
    layers = int(cfg.get("encoder_num_layers", 2)) if encoded else 2
    hidden = int(cfg.get("encoder_hidden_size", 256)) if encoded else 256
    config = RunConfig(
        method="xpe" if ratio == 1.0 else "dual",
        model=model or cfg.get("base_model_name_or_path") or "FacebookAI/xlm-roberta-large",
        tokenizer=tokenizer,
        task=task,
        data_dir=data_dir,
        device=torch.device(device).type,
        prompt_length=length,
        xpe_encoder_ratio=ratio,
        xpe_hidden_size=hidden,
        xpe_layers=layers,
        xpe_dropout=float(cfg.get("encoder_dropout", 0.1)),
        **({"max_length": max_length} if max_length is not None else {}),
    )
    n_labels = head_state["out_proj.weight"].shape[0]
    labels = config.task_spec().labels
    if n_labels != len(labels):
        raise CheckpointError(
            f"{weights_path}: the head has {n_labels} classes, task {config.task} has {len(labels)}; pass its task"
        )
    tok = load_tokenizer(config.tokenizer or default_tokenizer_spec(config.model), data_dir=config.data_dir)
    hf_model, _ = load_masked_lm(config.model, tok, seed=config.seed, max_length=config.max_length, data_dir=data_dir)
    method = build_method(config, MaskedLM(hf_model), tok, None)
    for name, module, state in (
        ("prompt", method.cross_prompt_encoder, encoder_state),
        ("classification head", method.head, head_state),
    ):
        try:
            module.load_state_dict(state, strict=True)
        except RuntimeError as err:
            first = str(err).strip().splitlines()[0]
            raise CheckpointError(
                f"{weights_path}: the {name} does not fit {config.model} with {ADAPTER_CONFIG}'s settings ({first})"
            ) from None
    method.to(torch.device(device))
    method.eval()
    return PeftPrompt(config, method, tok, cfg)
