"""Loading the pre-trained masked LM (the PLM ``M`` of the paper) and its tokenizer.

Model specs:

* a Hugging Face hub name (``xlm-roberta-base``, the paper's backbone) or a local directory;
* ``random:xlm-roberta-base`` / ``random:xlm-roberta-large`` — the true architecture with random weights
  (the real compute cost, no pre-trained knowledge: accuracy is chance level);
* ``random:glot500-base`` / ``random:xlm-v-base`` — the XLM-R base body with the vocabulary of Glot500-m
  (``cis-lmu/glot500-base``: 401,145 entries) or XLM-V (``facebook/xlm-v-base``: 901,629, its config.json), for
  tests and benchmarks of the cost that grows with |V| (the tokenizer given must not be larger);
* ``random:tiny`` — a 2-layer, 32-dim model of the same family for fast tests and the demo;
* ``toy:small`` — a tiny masked LM pre-trained on the synthetic toy world (:mod:`xlprompt.models.toy`), with its
  own tokenizer; built on first use (about a minute) and cached in the data folder.

The pre-trained encoders made for many languages load by hub name like XLM-R (all are ``xlm-roberta`` models
with a trained MLM head, so cloze prompts work): ``cis-lmu/glot500-base``, ``facebook/xlm-v-base``,
``xlm-roberta-large``. A model whose MLM head is not usable is refused in one line (:data:`UNUSABLE_MLM`):
mDeBERTa-v3 / DeBERTa-v3 (``deberta-v2`` model type) are replaced-token-detection discriminators whose
released checkpoints carry no trained MLM head, so their fill-mask output is noise (transformers #22790).

Tokenizer specs: a hub name or local directory (e.g. ``../shared/tokenizers/xlm-roberta``), or
``builtin:tiny`` — a small BPE tokenizer trained on the package's own multilingual demo sample, so
that the demo and the tests run on a fresh machine with no network.
"""

from __future__ import annotations

import functools
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from xlprompt.errors import ModelError

RANDOM_PREFIX = "random:"
BUILTIN_TOKENIZER = "builtin:tiny"

#: Shapes of the random-weight architectures (XLM-R family).
RANDOM_ARCHITECTURES: dict[str, dict] = {
    "xlm-roberta-base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
    "xlm-roberta-large": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096),
    "glot500-base": dict(
        hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072, vocab_size=401145
    ),
    "xlm-v-base": dict(
        hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072, vocab_size=901629
    ),
    "tiny": dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64),
}
#: the hub tokenizer of each random architecture (``random:tiny``: the builtin one)
RANDOM_TOKENIZERS: dict[str, str] = {"glot500-base": "cis-lmu/glot500-base", "xlm-v-base": "facebook/xlm-v-base"}
#: model types whose released checkpoints have no usable MLM head, and why
UNUSABLE_MLM: dict[str, str] = {
    "deberta-v2": "DeBERTa-v3 / mDeBERTa-v3 checkpoints are replaced-token-detection discriminators: their MLM "
    "head is untrained and fill-mask output is noise (transformers #22790); use an encoder with a "
    "trained MLM head (xlm-roberta-base/large, cis-lmu/glot500-base, facebook/xlm-v-base)",
}


@dataclass(frozen=True)
class BackboneInfo:
    """What was loaded: the spec, whether the weights are random, and the hidden size ``d``."""

    spec: str
    random_weights: bool
    hidden_size: int
    num_parameters: int


def is_random_spec(spec: str) -> bool:
    return spec.startswith(RANDOM_PREFIX)


def default_tokenizer_spec(model_spec: str) -> str:
    """The tokenizer used when none is given: the model's own (``toy:X``: the toy model's), or for ``random:X``
    the hub tokenizer of X."""
    if is_random_spec(model_spec):
        arch = model_spec[len(RANDOM_PREFIX) :]
        return BUILTIN_TOKENIZER if arch == "tiny" else RANDOM_TOKENIZERS.get(arch, arch)
    return model_spec


def _toy_folder(spec: str, data_dir, log) -> str:
    from xlprompt.models.toy import ensure_toy_model

    return str(ensure_toy_model(spec, data_dir, log=log or _stderr))


def _stderr(line: str) -> None:
    import sys

    print(line, file=sys.stderr, flush=True)


def load_tokenizer(spec: str, data_dir=None, log=None):
    """Load a tokenizer by hub name, local path, ``builtin:tiny`` or ``toy:X`` (the toy model's, from the data
    folder ``data_dir``: built there on first use, ``log`` says so); raise :class:`ModelError` on failure."""
    if spec == BUILTIN_TOKENIZER:
        return builtin_tokenizer()
    if spec.startswith("toy:"):
        spec = _toy_folder(spec, data_dir, log)
    from transformers import AutoTokenizer

    check_local_spec(spec, "tokenizer")
    hub = hub_options(spec)
    try:
        tokenizer = AutoTokenizer.from_pretrained(spec, **hub)
    except Exception as err:  # OSError (missing/offline), ValueError (not a tokenizer), ...
        if hub:
            raise ModelError(_offline_message(spec, "tokenizer", "--tokenizer DIR")) from None
        raise ModelError(
            f"could not load tokenizer '{spec}': {_first_line(err)}. Offline? Pass --tokenizer DIR with a local "
            "copy (e.g. ../shared/tokenizers/xlm-roberta), or use --model random:tiny (builtin tokenizer)"
        ) from None
    if tokenizer.mask_token_id is None:
        raise ModelError(f"tokenizer '{spec}' has no mask token; xlprompt needs a masked-LM tokenizer")
    return tokenizer


HUB_OFFLINE_VARIABLES: tuple[str, ...] = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
HUB_PROBE_TIMEOUT = 1.5  # seconds: how long a hub name waits for the hub before trying the local cache only


def hub_offline_requested(environ=None) -> bool:
    """Whether ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) asks for no network at all."""
    env = os.environ if environ is None else environ
    return any(env.get(name, "").strip().lower() in ("1", "true", "yes", "on") for name in HUB_OFFLINE_VARIABLES)


def hub_endpoint(environ=None) -> tuple[str, int]:
    """(host, port) the hub is reached through: the https proxy if one is set, else ``HF_ENDPOINT``."""
    env = os.environ if environ is None else environ
    proxy = env.get("HTTPS_PROXY") or env.get("https_proxy")
    parts = urlsplit(proxy or env.get("HF_ENDPOINT") or "https://huggingface.co")
    return parts.hostname or "huggingface.co", parts.port or (443 if parts.scheme == "https" else 80)


def hub_reachable(timeout: float = HUB_PROBE_TIMEOUT) -> bool:
    """A TCP connection to the hub (or the proxy) opens within ``timeout`` seconds."""
    try:
        socket.create_connection(hub_endpoint(), timeout=timeout).close()
        return True
    except OSError:
        return False


def hub_options(spec: str) -> dict:
    """``from_pretrained`` options for ``spec``: ``{}`` for a local folder or a reachable hub; with
    ``HF_HUB_OFFLINE`` set, or a hub that does not answer within :data:`HUB_PROBE_TIMEOUT`, the local cache only
    (``local_files_only``), so that an offline machine fails in about a second instead of retrying for 40 s."""
    if Path(spec).expanduser().is_dir():
        return {}
    if hub_offline_requested() or not hub_reachable():
        return {"local_files_only": True}
    return {}


def _offline_message(spec: str, what: str, option: str) -> str:
    why = (
        "HF_HUB_OFFLINE is set"
        if hub_offline_requested()
        else f"the Hugging Face hub ({hub_endpoint()[0]}) cannot be reached"
    )
    return (
        f"{what} '{spec}': {why} and it is not in the local Hugging Face cache; pass {option} with a local copy "
        f"(e.g. save it with `save_pretrained` on a machine with internet), or use random:xlm-roberta-base / "
        "random:tiny"
    )


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0].rstrip(".") if text else type(err).__name__


def _looks_like_path(spec: str) -> bool:
    """A spec that can only be a local path (hub names are ``name`` or ``owner/name``)."""
    return spec.startswith(("/", "./", "../", "~")) or "\\" in spec or spec.count("/") > 1


def check_local_spec(spec: str, what: str) -> None:
    """ModelError if ``spec`` can only be a local path and does not exist (before transformers guesses a hub id)."""
    if _looks_like_path(spec) and not Path(spec).expanduser().exists():
        raise ModelError(f"{what} '{spec}': no such directory; pass an existing local directory or a hub name")


@functools.lru_cache(maxsize=1)
def _builtin_tokenizer_json() -> str:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    from xlprompt.resources import read_jsonl

    texts: list[str] = []
    for row in read_jsonl("demo_nli.jsonl"):
        texts += [row["premise"], row["hypothesis"]]
    for row in read_jsonl("demo_parallel.jsonl"):
        texts += [row["src_premise"], row["src_hypothesis"], row["tgt_premise"], row["tgt_hypothesis"]]
    # The default label words and PCT's template words become whole tokens; the templates' punctuation
    # ("?" does not occur in the sample) must be a known token, not <unk>.
    from xlprompt.tasks.xnli import PCT_TEMPLATE_WORDS

    texts += ["yes maybe no"] * 50 + [f"{q}: {a}:" for q, a in PCT_TEMPLATE_WORDS.values()] * 20
    texts += ["?"]
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(vocab_size=3000, special_tokens=specials, show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))],
    )
    return tok.to_str()


def builtin_tokenizer():
    """A small BPE tokenizer (about 3,000 entries) trained on the shipped demo sample; no download."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(_builtin_tokenizer_json()),
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
    )


def check_mlm_head(spec: str, model_type: str) -> None:
    """One-line ModelError for a model type whose checkpoints have no usable MLM head (:data:`UNUSABLE_MLM`)."""
    if model_type in UNUSABLE_MLM:
        raise ModelError(
            f"model '{spec}' ({model_type}) has no usable MLM head for cloze prompts: {UNUSABLE_MLM[model_type]}"
        )


def random_config(arch: str, tokenizer, max_length: int = 256):
    """The XLM-R config of ``random:<arch>``: its shape, and its real vocabulary size (Glot500, XLM-V) or the
    tokenizer's; a tokenizer larger than the architecture's vocabulary is refused."""
    from transformers import XLMRobertaConfig

    if arch.startswith("mdeberta") or arch.startswith("deberta"):
        check_mlm_head(RANDOM_PREFIX + arch, "deberta-v2")
    if arch not in RANDOM_ARCHITECTURES:
        raise ModelError(
            f"unknown random architecture '{arch}'; allowed: "
            + ", ".join(RANDOM_PREFIX + a for a in RANDOM_ARCHITECTURES)
        )
    shape = dict(RANDOM_ARCHITECTURES[arch])
    vocab = shape.pop("vocab_size", len(tokenizer))
    if len(tokenizer) > vocab:
        raise ModelError(
            f"the tokenizer has {len(tokenizer)} entries, more than the {vocab} of random:{arch}; pass "
            f"its own tokenizer ({RANDOM_TOKENIZERS.get(arch, arch)}) or a smaller one"
        )
    return XLMRobertaConfig(
        vocab_size=vocab,
        max_position_embeddings=max(514, max_length + 4),
        type_vocab_size=1,
        layer_norm_eps=1e-5,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.cls_token_id,
        eos_token_id=tokenizer.sep_token_id,
        **shape,
    )


def load_masked_lm(spec: str, tokenizer, seed: int = 0, max_length: int = 256, data_dir=None, log=None):
    """Return ``(model, info)``: a Hugging Face masked LM and a :class:`BackboneInfo`.

    ``random:`` specs are built from a config with the tokenizer's vocabulary, initialised with ``seed``;
    ``toy:`` specs load the toy model from the data folder ``data_dir`` (built there on first use).
    """
    import torch
    from transformers import AutoConfig, AutoModelForMaskedLM, XLMRobertaForMaskedLM

    if is_random_spec(spec):
        arch = spec[len(RANDOM_PREFIX) :]
        config = random_config(arch, tokenizer, max_length)
        config._attn_implementation = "sdpa"
        state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        model = XLMRobertaForMaskedLM(config)
        torch.random.set_rng_state(state)
        random_weights = True
    else:
        given = spec
        if spec.startswith("toy:"):
            spec = _toy_folder(spec, data_dir, log)
        check_local_spec(spec, "model")
        hub = hub_options(spec)
        try:
            config = AutoConfig.from_pretrained(spec, **hub)
        except Exception as err:
            if hub:
                raise ModelError(_offline_message(spec, "model", "--model DIR")) from None
            raise ModelError(
                f"could not load model '{spec}': {_first_line(err)}. Offline? Pass a local directory, "
                "or random:xlm-roberta-base / random:tiny for the architecture with random weights"
            ) from None
        check_mlm_head(spec, config.model_type)
        try:
            model = AutoModelForMaskedLM.from_pretrained(spec, attn_implementation="sdpa", **hub)
        except ValueError as err:
            raise ModelError(
                f"model '{spec}' ({config.model_type}) is not a masked language model: {_first_line(err)}. "
                "Use an encoder with an MLM head, e.g. xlm-roberta-base"
            ) from None
        except Exception as err:
            raise ModelError(f"could not load model '{spec}': {_first_line(err)}") from None
        random_weights = False
    if model.get_input_embeddings().num_embeddings < len(tokenizer):
        raise ModelError(
            f"the tokenizer has {len(tokenizer)} entries but model '{spec}' only "
            f"{model.get_input_embeddings().num_embeddings} embeddings: they do not belong together"
        )
    embeddings = getattr(model.base_model, "embeddings", None)
    positions = getattr(embeddings, "position_embeddings", None)
    if isinstance(positions, torch.nn.Embedding):
        # RoBERTa-style position ids start after the padding index.
        padding_idx = getattr(embeddings, "padding_idx", None)
        usable = positions.num_embeddings - (padding_idx + 1 if padding_idx is not None else 0)
        if max_length > usable:
            raise ModelError(
                f"max_length={max_length} is longer than model '{spec}' can take ({usable} "
                f"positions); set max_length <= {usable}"
            )
    spec = spec if random_weights else given
    info = BackboneInfo(spec, random_weights, model.config.hidden_size, sum(p.numel() for p in model.parameters()))
    return model, info
