"""The configuration of one run: a typed dataclass whose fields carry their help text.

Defaults are the paper's (§IV-B): xlm-roberta-base, prompt length 4 at the suffix position, α = 0.5, a
linear-2 translator, 500 parallel pairs. Where the paper is silent, the choice is documented on the field.

Recipe keys (:data:`RECIPE_KEYS`: optimiser, lr, schedule, batch, epochs, template, label words, ...) default
to ``None`` = "take it from the recipe": under ``recipe=reference`` the method module's ``RECIPE`` (each
method as its authors ran it, cited in ``RECIPE_SOURCES``), under ``recipe=uniform`` MPT's values for the
training settings (:data:`UNIFORM_KEYS`). A value the user gives always wins. After construction every key
holds a concrete value: that is what config.json, results.json, the store and the hash record.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import hashlib
import json
import math
import typing
import warnings
from dataclasses import InitVar, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

from xlprompt.errors import ConfigError, XlpromptError
from xlprompt.plugins import import_plugins, plugin_names

if typing.TYPE_CHECKING:  # pragma: no cover
    from xlprompt.tasks.base import Task

RECIPES: tuple[str, ...] = ("reference", "uniform")
FEWSHOT_KS: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128, 256)
#: ``shots=all`` (stored as this number): the task's full train split, selection on its own dev split
SHOTS_ALL = 0
PARALLEL_SOURCES: tuple[str, ...] = ("pawsx", "tatoeba", "xnli-dev", "file", "translate", "task")
#: config keys that do not change a run's result and so are not part of its hash
#: (``plugins`` names where code comes from: what it registers enters the hash by itself, a method by its
#: implementation's identity and a registered task by its definition; ``leak_similarity`` only refuses a run)
HASH_EXCLUDED: frozenset[str] = frozenset(
    {"checkpoint_every_s", "logging_steps", "report_to", "plugins", "leak_similarity"}
)
#: the experiment trackers of ``report_to`` (besides ``none``)
TRACKERS: tuple[str, ...] = ("tensorboard", "wandb")
#: config keys that name input files whose content shapes a result: they enter a run's hash by content
#: (:meth:`RunConfig.input_digests`); the task first (a task YAML file and its data files)
INPUT_FILES: tuple[str, ...] = ("task", "parallel_file", "label_words_file", "dictionary_dir")
#: keys added after stores existed: left out of the hash while they hold the value that reproduces the runs made
#: before they existed, so those runs keep their hashes (a new key must be entered here with that value)
HASH_OMITTED_AT: dict[str, Any] = {
    "task": "xnli",
    "grad_accumulation_leftover": "step",
    "train_order": "shuffle",
    "test_weights": "best_dev",
    "pct_kl_clip": 0.0,
    "lr_cycles": 1,
    "xpe_encoder_ratio": 1.0,
    "xpe_hidden_size": 256,
    "xpe_layers": 2,
    "xpe_dropout": 0.1,
    "source_languages": None,
}

#: keys renamed after stores existed: a run's hash holds them under their first name, so renaming changed no hash
HASH_FIRST_NAMES: dict[str, str] = {"source_prompt": "english_prompt"}
#: deprecated config keys → their names now: accepted everywhere a config is read (``--set``, sweep files,
#: saved configs, the Python API), with one warning per key and process
DEPRECATED_KEYS: dict[str, str] = {"english_prompt": "source_prompt"}
_WARNED: set[str] = set()


def warn_deprecated(old: str, new: str) -> None:
    """Warn (a :class:`FutureWarning`, once per process and spelling) that ``old`` is deprecated for ``new``.

    Args:
        old (str): the deprecated spelling (a key, or ``key=value``).
        new (str): what to write instead.
    """
    if old in _WARNED:
        return
    _WARNED.add(old)
    warnings.warn(f"config: '{old}' is deprecated; write '{new}'", FutureWarning, stacklevel=3)


def undeprecate(data: dict[str, Any], where: str = "config") -> dict[str, Any]:
    """``data`` with each deprecated key (:data:`DEPRECATED_KEYS`) renamed to its new name (warning once).

    Args:
        data (dict[str, Any]): config values by key.
        where (str): what the values come from, for the error message.

    Returns:
        dict[str, Any]: a new dict; ``data`` itself when no key is deprecated.

    Raises:
        ConfigError: when a deprecated key and its new name are both given, with different values.
    """
    if not any(key in data for key in DEPRECATED_KEYS):
        return data
    out = dict(data)
    for old, new in DEPRECATED_KEYS.items():
        if old not in out:
            continue
        value = out.pop(old)
        if new in out and str(out[new]) != str(value):
            raise ConfigError(
                f"{where}: '{old}' (deprecated) and '{new}' are both given, with different values "
                f"({value!r}, {out[new]!r}); keep '{new}' only"
            )
        warn_deprecated(old, new)
        out.setdefault(new, value)
    return out


def current_key(key: str) -> str:
    """The name of config key ``key`` now: a deprecated key's new name (warning once), else ``key`` itself.

    Args:
        key (str): a config key as written (``english_prompt``).

    Returns:
        str: the key to use (``source_prompt``).
    """
    if key in DEPRECATED_KEYS:
        warn_deprecated(key, DEPRECATED_KEYS[key])
        return DEPRECATED_KEYS[key]
    return key


#: the largest seed (numpy's and every generator's seeds are 32-bit; the dev split is sampled with seed + 10000)
MAX_SEED = 2**32 - 1 - 10_000
#: the most CPU threads a run may ask for (the tokenizers crash far above the cores of any machine)
MAX_THREADS = 1024

#: the device specs every entry point takes (config ``device``, ``--device``, the Python API)
DEVICE_SPECS = "auto, cpu, cuda, cuda:N or mps"


def check_device_spec(spec: Any, what: str = "device") -> str:
    """``spec`` if it names a device kind xlprompt runs on (:data:`DEVICE_SPECS`: ``auto``, ``cpu``, ``cuda``,
    ``cuda:N`` with N a device index, ``mps``), else a one-line :class:`ConfigError`. Whether this machine has
    that device is :func:`xlprompt.device.resolve_device`'s question (it needs torch)."""
    text = spec if isinstance(spec, str) else None
    if text is not None:
        kind, _, index = text.partition(":")
        if (text in ("auto", "cpu", "cuda", "mps")) or (kind == "cuda" and index.isdigit() and index.isascii()):
            return text
    raise ConfigError(f"{what} must be {DEVICE_SPECS}, not {spec!r}")


#: what a ``path`` declaration means: the kind of file system entry the value names when it exists
PATH_KINDS = {"file": "a file", "dir": "a folder"}


def _f(
    default,
    help: str,
    choices: tuple | None = None,
    *,
    min=None,
    max=None,
    min_open: bool = False,
    max_open: bool = False,
    path: str | None = None,
):
    """A config field: its default, help text and its one declaration of what values it takes: ``choices``, a
    range (``min``/``max``, open where ``min_open``/``max_open``; numbers are always finite) and, for a path,
    the kind of entry it names (``path``: file or dir). :meth:`RunConfig.validate` applies them, so every entry
    point (``--set``, sweep files, the Python API) refuses the same values in the same words."""
    meta: dict[str, Any] = {"help": help}
    if choices:
        meta["choices"] = choices
    if min is not None:
        meta["min"], meta["min_open"] = min, min_open
    if max is not None:
        meta["max"], meta["max_open"] = max, max_open
    if path is not None:
        assert path in PATH_KINDS, path
        meta["path"] = path
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a run's result (the run directory and the store are not part of it).

    Every field is a config key: a keyword here, ``--set key=value`` (or its own option) on the command line, a
    key of a sweep file. The [config reference](config.md) lists each with its type, default, allowed values and
    meaning (``xlprompt run --help-config`` prints the same). A recipe key left unset (None) is filled from the
    method's recipe (``recipe=reference``: its authors' code) when the config is built; values you set always
    win. The config is validated when it is built: a bad value is a one-line :class:`~xlprompt.ConfigError`
    naming the key and what it accepts.

    Frozen: a config is built once, checked and its recipe keys resolved (:data:`RECIPE_KEYS`), and never
    changes after, so its values, its ``resolved_hash()`` and what it recorded agree. Derive another with
    :meth:`replace` (or ``dataclasses.replace``, which gives the same config: a recipe key still holding the value
    its recipe gave is resolved again for the new method, task or recipe).
    """

    # --- what to run
    method: str = _f(
        "mpt",
        "method: mpt (the paper's), sp (soft prompting), ft (fine-tuning), pct, dp (discrete "
        "prompting), dpa (dual prompt augmentation), softmv (soft prompt + multilingual verbalizer), xpe "
        "(cross-prompt encoder), dual (cross-prompt encoder + soft prompt), "
        "or a method added with xlprompt.register_method (from the command line: in a plugin module, "
        "--plugin MODULE or the key plugins)",
    )
    shots: int = _f(
        16,
        "k: training examples per class (k × classes in total); 'all' (recorded as 0): the task's full train "
        "split with model selection on its own full dev split, the SIB-200 paper's setting (tasks that declare "
        "it: sib200)",
        min=0,
        max=100_000,
    )
    seed: int = _f(1, "random seed (paper: 1..5)", min=0, max=MAX_SEED)
    model: str = _f(
        "xlm-roberta-base",
        "HF hub name or local path of a masked LM, random:xlm-roberta-base / "
        "random:tiny (random weights), or toy:small (the masked LM pre-trained on the synthetic toy "
        "world, built and cached in the data folder on first use; for task=toy)",
    )
    tokenizer: Optional[str] = _f(
        None,
        "tokenizer hub name or path; default: the model's own (random:tiny: "
        "builtin:tiny; random:X: the hub tokenizer of X)",
    )
    data_dir: Optional[str] = _f(
        None,
        "data folder (layout: xlprompt.data; `xlprompt data fetch` fills it); "
        "'builtin:demo' for the shipped sample; unset: $XLPROMPT_DATA, else the per-user "
        "data folder (~/.local/share/xlprompt on Linux; see xlprompt.data.home)",
        path="dir",
    )
    train_source: str = _f(
        "fixed",
        "fixed: the task's fixed few-shot splits (xnli: Zhao & Schütze's, one per k, xnli-fewshot/; sib200: one "
        "per k and seed; toy: one per k, drawn with the world's seed for every run seed); "
        "sample: k per class sampled with `seed` (xnli: from the pool named by sample_pool; other tasks: their "
        "own train pool)",
        ("fixed", "sample"),
    )

    # --- template and prompt (Eq. 1, 9)
    max_length: Optional[int] = _f(
        None, "maximum sequence length; only premise and hypothesis are truncated (recipe key)", min=16, max=65_536
    )
    prompt_length: Optional[int] = _f(
        None,
        "m: number of soft-prompt vectors (paper: 4; Fig. 5 sweeps it; XPE/DUAL: 20) (recipe key)",
        min=1,
        max=4096,
    )
    prompt_position: str = _f(
        "suffix",
        "where the soft prompt goes (Eq. 9); suffix is the paper's best",
        ("prefix", "midfix", "suffix", "endfix"),
    )
    prompt_encoder: str = _f(
        "lstm",
        "reparameterisation of the prompt: lstm (P-tuning BiLSTM+MLP, paper), mlp, none",
        ("lstm", "mlp", "none"),
    )

    # --- verbalizer and scoring (Eq. 2-3)
    label_words: Optional[str] = _f(
        None,
        "label words, one per label of the task in its order (XNLI: entailment,neutral,contradiction), for all "
        "languages; words, pieces or ids as label_words_as says (recipe key)",
    )
    label_words_file: Optional[str] = _f(
        None, "JSON {lang: [w_ent, w_neu, w_con]} of per-language label words", path="file"
    )
    multi_token_label_words: str = _f(
        "error", "a label word of several tokens: error, or score its first token", ("error", "first")
    )
    scoring: Optional[str] = _f(
        None,
        "vocab: Eq. 2-3 as written (label-word probability under the full-vocabulary "
        "softmax); labels: softmax over the label-word logits (SP reference code) (recipe key)",
        ("vocab", "labels"),
    )

    # --- MPT (Eq. 4-8)
    translator: str = _f(
        "linear-2",
        "translator architecture (Eq. 4 is linear-2; Fig. 4 ablation)",
        ("linear-1", "linear-2", "lstm-1", "lstm-2", "transformer-1", "transformer-2"),
    )
    no_translator: bool = _f(False, "ablation 'w/o prompt translator': p_T = p_S")
    alpha: float = _f(0.5, "α of Eq. 8: α·CE + (1-α)·KL; 1.0 = ablation 'w/o consistency loss'", min=0.0, max=1.0)
    source_prompt: str = _f(
        "source",
        "prompt used for the task's source language at test time: source (p_S) or target (p_T); "
        "formerly english_prompt (still accepted, deprecated)",
        ("source", "target"),
    )
    parallel_source: Optional[str] = _f(
        None,
        "external parallel corpus: pawsx (PAWS-X human translations), "
        "tatoeba, xnli-dev (ablation 'w/o external data'), file, translate, "
        "task (the task's own corpus: task=toy); default: the task's (xnli: "
        "pawsx, the paper's; pawsx and user tasks: tatoeba; toy: task, see "
        "xlprompt.tasks)",
        PARALLEL_SOURCES,
    )
    parallel_file: Optional[str] = _f(None, "JSONL parallel corpus (parallel_source=file)", path="file")
    parallel_size: int = _f(500, "number of parallel pairs (paper: 500; Fig. 5 goes to 8,000)", min=1, max=100_000_000)
    parallel_seed: int = _f(
        0, "seed that builds the parallel corpus (fixed across run seeds, like PAWS-15)", min=0, max=MAX_SEED
    )
    translate_model: Optional[str] = _f(None, "seq2seq translation model for parallel_source=translate")

    # --- PCT (Qi et al., 2022)
    pct_kl_space: Optional[str] = _f(
        None,
        "PCT consistency KL over the label words' distribution or the full vocabulary (recipe key)",
        ("labels", "vocab"),
    )
    pct_kl_weight: float = _f(1.0, "weight of PCT's symmetric KL next to its two CE terms", min=0.0, max=1e6)

    # --- the field's methods (DP, DPA, SoftMV) and MPT with a prompt per target language
    translator_conditioning: str = _f(
        "none",
        "MPT: none = one p_T for all target languages (the paper); "
        "language = p_T^l = Transl(p_S + e_l), a learned vector e_l per target "
        "language (zero-initialised) fed to the shared translator; a language with "
        "no pair in the corpus uses the mean e of the languages that had pairs",
        ("none", "language"),
    )
    grad_accumulation_steps: Optional[int] = _f(
        None,
        "micro-batches of batch_size per optimiser step (DPA: 4, "
        "DAMO-NLP-SG/DPA dpa-xnli.sh --gradient_accumulation_steps 4) "
        "(recipe key)",
        min=1,
        max=100_000,
    )
    grad_accumulation_leftover: Optional[str] = _f(
        None,
        "grad_accumulation_steps > 1, the micro-batches left at "
        "the end of an epoch: step (an optimiser step on them) or carry "
        "(transformers 4.10 Trainer: an epoch ends with a step only when it "
        "has at most grad_accumulation_steps micro-batches; otherwise their "
        "gradients are added to the next epoch's first step, and the last "
        "epoch's are dropped) (recipe key)",
        ("step", "carry"),
    )
    dpa_mixup_strategy: str = _f(
        "hidden",
        "DPA: mix the last hidden states at <mask> of the two rows of each "
        "pair of the batch (hidden; DPA dpa-xnli.sh --mixup_strategy hidden) or no mixup "
        "(none). Their 'input_embedding' raises NotImplementedError in modeling_xlmr.py",
        ("hidden", "none"),
    )
    dpa_mixup_alpha: float = _f(
        1.2,
        "DPA: lambda ~ Beta(alpha, alpha) (DPA dpa-xnli.sh --mixup_alpha 1.2; run-prompt.py's own default is 0.5)",
        min=0.0,
        min_open=True,
        max=1e6,
    )
    dpa_multilingual_optim: bool = _f(
        True,
        "DPA: the CE is averaged over the label words of all the table's languages (XNLI: 15) "
        "(multi_lingual_optim, DPA dpa-xnli.sh); false: the source language's label words only",
    )
    dpa_test_label_words: str = _f(
        "source",
        "DPA test-time label words: source (the source language's words for every language; "
        "run-prompt.py default separate_lan_label_word=False; its former name is still accepted), language (each "
        "language's own words: separate_lan_label_word) or max (maximum logit over the "
        "table's languages' words: multi_lingual_label_word)",
        ("source", "language", "max"),
    )
    softmv_cosda_rate: Optional[float] = _f(
        None,
        "SoftMV: probability that a word of the code-switched copy is "
        "replaced from a bilingual dictionary; 0: no code-switching (the copy "
        "is the example itself). The authors' scripts disagree: few-shot "
        "ptuning.sh:9,34 runs 0 (SoftMV's default here), full-data full.sh:9,34 "
        "0.2, parameters.py:169 defaults to 0.55 (recipe key)",
        min=0.0,
        max=1.0,
    )
    # --- XPE and DUAL (Mikaberidze et al., 2025): the cross-prompt encoder
    xpe_encoder_ratio: Optional[float] = _f(
        None,
        "XPE/DUAL: the encoder ratio r: n = max(1, min(m - 1, int(m·r))) of the m = prompt_length virtual "
        "tokens come from the cross-prompt encoder (an MLP over their own embeddings), the other m - n are "
        "soft-prompt vectors trained directly and come first. 1: XPE (all encoded), 0.3: DUAL (6 of 20 "
        "encoded; the reference's encoder_ratio), 0: a standard soft prompt (recipe key)",
        min=0.0,
        max=1.0,
    )
    xpe_hidden_size: Optional[int] = _f(
        None, "XPE/DUAL: hidden size of the encoder's MLP (reference: 256) (recipe key)", min=1, max=1_000_000
    )
    xpe_layers: Optional[int] = _f(
        None,
        "XPE/DUAL: hidden layers of the encoder's MLP: Linear(d,h)-ReLU-Dropout, (Linear(h,h)-ReLU-Dropout) x "
        "(layers - 1), Linear(h,d) (reference: 2) (recipe key)",
        min=1,
        max=64,
    )
    xpe_dropout: Optional[float] = _f(
        None,
        "XPE/DUAL: dropout after each hidden layer of the encoder's MLP (reference: 0.1) (recipe key)",
        min=0.0,
        max=1.0,
        max_open=True,
    )
    softmv_kl_weight: float = _f(
        0.3,
        "SoftMV: weight of KL(P_switched || P_original) (SoftMV prompt/modules/"
        "wrapper.py mlm_train_step: loss1 + loss2 + 0.3 * loss3)",
        min=0.0,
        max=1e6,
    )
    softmv_init_from_vocab: bool = _f(
        True,
        "SoftMV: initialise the prompt vectors with the first prompt_length "
        "rows of the word embeddings (SoftMV ptuning.sh --init_from_vocab)",
    )
    dictionary_dir: Optional[str] = _f(
        None,
        "SoftMV: folder of MUSE-format bilingual dictionaries en-XX.txt "
        "(one 'source target' pair per line); default: <data_dir>/muse",
        path="dir",
    )

    # --- optimisation
    freeze_plm: Optional[bool] = _f(
        None, "train only prompt (+translator/head), not the PLM (paper: PLM trains; XPE/DUAL: frozen) (recipe key)"
    )
    epochs: Optional[int] = _f(
        None,
        "training epochs (paper: 50). An epoch is max(#classification batches, "
        "#alignment batches) steps; the shorter stream is cycled (recipe key)",
        min=1,
        max=100_000,
    )
    batch_size: Optional[int] = _f(
        None, "few-shot classification examples per step (paper: 24) (recipe key)", min=1, max=1_000_000
    )
    align_batch_size: Optional[int] = _f(None, "parallel pairs per step; default: batch_size", min=1, max=1_000_000)
    eval_batch_size: int = _f(64, "examples per evaluation batch", min=1, max=1_000_000)
    lr: Optional[float] = _f(
        None, "learning rate (paper: 4e-5 with AdamW) (recipe key)", min=0.0, min_open=True, max=1e20
    )  # a diverging lr: the NaN guard
    prompt_lr: Optional[float] = _f(
        None, "learning rate of prompt encoder, translator and head; default: lr", min=0.0, min_open=True, max=1e20
    )
    weight_decay: Optional[float] = _f(
        None,
        "weight decay: decoupled (optimizer=adamw), L2 added to the gradient (optimizer=adam_l2), or added to the "
        "update inside the bias-corrected step (optimizer=adam_keras) (recipe key)",
        min=0.0,
        max=1e6,
    )
    lr_scheduler: Optional[str] = _f(
        None,
        "learning-rate schedule over all steps: linear (to min_lr_ratio·lr) or constant, both after the warm-up; "
        "keras_warmup: keras_bert's AdamWarmup schedule (warm-up t/W at 1-based step t <= W, then linear from lr "
        "at step 0 to min_lr_ratio·lr at the last step); cosine_restarts: transformers' "
        "get_cosine_with_hard_restarts_schedule_with_warmup (warm-up t/W from 0 at 0-based step t over "
        "ceil(warmup_ratio·steps) steps, then lr_cycles cosine cycles down to 0) (recipe key)",
        ("linear", "constant", "keras_warmup", "cosine_restarts"),
    )
    lr_cycles: Optional[int] = _f(
        None, "lr_scheduler=cosine_restarts: number of hard-restart cosine cycles (recipe key)", min=1, max=1_000_000
    )
    warmup_ratio: Optional[float] = _f(
        None, "fraction of steps with linear warm-up (recipe key)", min=0.0, max=1.0, max_open=True
    )
    max_grad_norm: Optional[float] = _f(None, "gradient clipping norm (0 disables) (recipe key)", min=0.0, max=1e12)
    dev_every: int = _f(
        1,
        "evaluate on the few-shot dev split (the task's source language) every N epochs (model selection)",
        min=1,
        max=100_000,
    )

    # --- evaluation
    eval_split: str = _f(
        "test",
        "the task's split to evaluate and report (xnli: XNLI's; sib200: SIB-200's; americasnli: AmericasNLI's, "
        "whose dev translates XNLI dev, on which English selection runs: test is the clean choice; pawsx: "
        "evaluated when pawsx/train/en.tsv is there, else dev; a user task: its test files); `run --task T "
        "--help-config` says it for task T",
        ("test", "dev"),
    )
    eval_languages: str = _f(
        "all", "comma-separated language codes of the task, or all (every language of the task; xnli: its 15)"
    )
    eval_int8: bool = _f(
        False,
        "evaluate with int8 dynamic-quantised transformer layers (CPU only; faster, "
        "predictions agree with fp32 on ~99% of rows: see benchmarks/)",
    )
    eval_max_per_language: Optional[int] = _f(
        None, "cap on evaluation examples per language (quick looks; recorded in results)", min=1, max=100_000_000
    )

    # --- hardware
    device: str = _f("auto", "auto (cuda if available, else cpu), cpu, cuda, cuda:N (the N-th GPU) or mps (Apple)")
    precision: str = _f(
        "auto",
        "auto (bf16 autocast on a CUDA device that supports bf16, else fp32; see the "
        "documentation's 'GPUs and clusters'), fp32, or bf16 autocast",
        ("auto", "fp32", "bf16"),
    )
    num_threads: Optional[int] = _f(None, "torch CPU threads; default: torch's choice", min=1, max=MAX_THREADS)

    # --- data from the data folder only (xlprompt data fetch)
    sample_pool: str = _f(
        "xnli-dev",
        "train_source=sample: the labelled English pool: xnli-dev (XNLI dev en; "
        "train and dev are disjoint samples of it; our default, it needs no extra download) or "
        "multinli (MultiNLI train, multinli/train.tsv from `xlprompt data fetch --only "
        "multinli`; dev from XNLI dev en)",
        ("xnli-dev", "multinli"),
    )

    # --- recipes (each method's defaults are its authors' code) and the settings they need
    recipe: str = _f(
        "reference",
        "defaults of the recipe keys: reference (each method as its authors ran it; "
        "see `--help-config --method M`) or uniform (MPT's stated training settings, paper §IV-B, "
        "for every method)",
        RECIPES,
    )
    optimizer: Optional[str] = _f(
        None,
        "adamw (torch AdamW, decoupled weight decay), adam_l2 (torch Adam, "
        "weight decay added to the gradient as L2) or adamw_hf (transformers 4.10's own "
        "AdamW: eps added to sqrt(v) before the bias correction, decay applied after the "
        "update; what Trainer-based references ran) or adam_keras (keras_bert's AdamWarmup update: eps 1e-7 "
        "added to sqrt(v) before the bias correction, weight decay inside the bias-corrected step; what PCT "
        "ran) (recipe key)",
        ("adamw", "adam_l2", "adamw_hf", "adam_keras"),
    )
    weight_decay_exempt: Optional[str] = _f(
        None, "comma-separated substrings of parameter names without weight decay ('-': none) (recipe key)"
    )
    min_lr_ratio: Optional[float] = _f(
        None, "lr_scheduler=linear decays to min_lr_ratio·lr (recipe key)", min=0.0, max=1.0
    )
    strip_punctuation: Optional[bool] = _f(
        None,
        "strip trailing ASCII punctuation from premise and hypothesis "
        "before tokenising, as xlmrprompt's XNLI pattern does (recipe key)",
    )
    template_punctuation: Optional[str] = _f(
        None,
        "soft template's '.' and '?': separate (each part tokenised on "
        "its own, the reference: '▁' '.' and '▁?' for XLM-R) or glued "
        "(in-word pieces, as in 'word.') (recipe key)",
        ("separate", "glued"),
    )
    prompt_encoder_shape: Optional[str] = _f(
        None,
        "prompt_encoder=lstm shape: reference (1-layer BiLSTM, d units "
        "each way, MLP 2d→d→d; xlmrprompt) or ptuning (2 layers of d/2, MLP "
        "d→d→d; THUDM P-tuning) (recipe key)",
        ("reference", "ptuning"),
    )
    label_words_as: Optional[str] = _f(
        None,
        "how label_words name tokens: word (tokenised as a separate word), "
        "piece (exact vocabulary pieces) or id (token ids) (recipe key)",
        ("word", "piece", "id"),
    )
    predict_over: Optional[str] = _f(
        None,
        "test-time argmax over the label words, or over the full vocabulary "
        "(a top token that is no label word counts as wrong) (recipe key)",
        ("labels", "vocab"),
    )
    pct_language_draw: Optional[str] = _f(
        None,
        "PCT's second template language: drawn once per training example "
        "(seeded, kept for all epochs) or at every step (recipe key)",
        ("example", "step"),
    )
    pct_layout: Optional[str] = _f(
        None,
        "PCT input: reference (pair encoding <s> P </s></s> question:H? "
        "Answer:<mask></s>, the authors' strings) or cloze (<s> P . Question: H ? "
        "Answer: <mask> . </s>) (recipe key)",
        ("reference", "cloze"),
    )
    head_init: Optional[str] = _f(
        None,
        "FT head initialisation: normal (N(0, 0.02), zero bias: transformers' "
        "_init_weights) or torch (nn.Linear's default) (recipe key)",
        ("normal", "torch"),
    )
    train_order: Optional[str] = _f(
        None,
        "order of the few-shot training examples in each epoch: shuffle (a new "
        "seeded permutation every epoch) or sequential (the order of the split file, "
        "every epoch; SoftMV's SequentialSampler) (recipe key)",
        ("shuffle", "sequential"),
    )
    test_weights: Optional[str] = _f(
        None,
        "weights evaluated on the test sets: best_dev (the first epoch with the "
        "best dev accuracy, source language) or last (the last epoch's; dev accuracy is still "
        "recorded every epoch) (recipe key)",
        ("best_dev", "last"),
    )
    pct_kl_clip: Optional[float] = _f(
        None,
        "PCT: clip both distributions of the symmetric KL to [c, 1] before it "
        "is computed (Keras's kld clips at its epsilon 1e-7: qikunxun/PCT "
        "train_xnli.py:208); 0: the exact KL (recipe key)",
        min=0.0,
        max=0.5,
        max_open=True,
    )

    # --- the GPU path; checkpoint_every_s is left out of the hash (HASH_EXCLUDED)
    step_token_budget: int = _f(
        1024,
        "MPT: padded tokens (rows x longest row) per micro-batch of a training "
        "step; 0: the whole step in one forward. 1024 is sized for CPU memory (XLM-R "
        "base peaks at about 5.7 GiB); on a GPU 8192 (or 0 with 40+ GiB) is faster. "
        "Changes the numbers slightly (summation order), so it is part of the config",
        min=0,
        max=2**31 - 1,
    )
    eval_token_budget: int = _f(
        0,
        "evaluation batches of length-sorted rows holding at most this many padded "
        "tokens (rows x longest row); 0: eval_batch_size rows per batch (the CPU "
        "default). On a GPU 16384 or more",
        min=0,
        max=2**31 - 1,
    )
    checkpoint_every_s: float = _f(
        600.0,
        "write a checkpoint at most every N seconds of training (and after the "
        "last epoch); 0: after every epoch. A killed run loses at most N seconds. "
        "600 s: an XLM-R-base checkpoint (4.45 GB) took 32-44 s on a disk writing "
        "about 110 MB/s, an epoch takes seconds on a GPU (see the documentation's "
        "'Benchmarks'). Not part of "
        "the config hash (it does not change results)",
        min=0.0,
        max=1e9,
    )
    deterministic: bool = _f(
        False,
        "CUDA: torch.use_deterministic_algorithms(True), CUBLAS_WORKSPACE_CONFIG="
        ":4096:8, cuDNN deterministic, no cuDNN benchmark: bitwise-repeatable runs on one "
        "GPU model and software stack, somewhat slower (see the documentation's 'GPUs and "
        "clusters')",
    )

    # --- tasks beyond XNLI (xlprompt.tasks); task=xnli leaves an XNLI run's hash unchanged
    task: str = _f(
        "xnli",
        "the task: xnli (the paper's), pawsx (PAWS-X paraphrase, 7 languages), sib200 (SIB-200 "
        "topics, 205 languages), americasnli (NLI in 10 languages of the Americas), toy (the synthetic "
        "toy world's NLI-like task: a testbed, not XNLI; see xlprompt.data.toy), a task registered with "
        "xlprompt.register_task, or the path of a task YAML file (see the documentation's 'Tasks and "
        "your own task'). Its labels, label "
        "words, languages and data come from it",
    )
    leak_similarity: float = _f(
        0.8,
        "the leak guard: a training, model-selection or alignment text whose token-set (Jaccard) similarity to an "
        "evaluated text of the same language reaches this is a near-copy of it (a leak): 0.8 catches a word added "
        "to or removed from a sentence of 5 words or more; in [0.5, 1], 1: exact copies only (after normalising case, "
        "punctuation and spaces). Refuses or accepts a run, never changes a result: not part of the config hash",
        min=0.5,
        max=1.0,
    )
    source_languages: Optional[str] = _f(
        None,
        "the languages the run trains on: comma-separated codes of the task (a YAML list too), each with its own "
        "few-shot (k per class) or full (shots=all) train split and its own dev split; the train set is their "
        "union and selection runs on the union of their dev splits; results average the evaluated languages that "
        "are not sources (held_out); unset: the task's source language alone (tasks with train data in several "
        "languages: sib200, whose 205 languages all have train/dev/test; methods that train on one language "
        "only refuse several)",
    )

    # --- what a run reports while it trains: left out of the hash (HASH_EXCLUDED), it never changes a result
    logging_steps: int = _f(
        10,
        "record the training loss, its parts and the learning rate (each averaged over "
        "the steps since the last record) every N optimiser steps: in steps.jsonl, run.log "
        "and report_to's trackers, and as the console's progress lines when it is not a "
        "terminal; 0: per epoch only. As the HF Trainer's logging_steps (its default, 500, "
        "would be less than one record per run here: an epoch has 4-21 steps)",
        min=0,
        max=10**9,
    )
    report_to: str = _f(
        "none",
        "experiment tracking, as the HF Trainer's report_to: none, tensorboard (event "
        "files in RUN/tensorboard/; pip install 'xlprompt[tensorboard]'), wandb (project "
        "$WANDB_PROJECT, else xlprompt; pip install 'xlprompt[wandb]') or both, comma-separated. "
        "A sweep groups its runs: W&B group = the sweep's name, and RUNS_DIR/tensorboard/SWEEP/",
    )

    # --- code the run needs: left out of the hash (HASH_EXCLUDED); what it registers enters by itself
    plugins: tuple[str, ...] = _f(
        (),
        "plugin modules imported before the method and task are looked up: each registers methods or tasks "
        "(xlprompt.register_method, xlprompt.register_task) as it is imported; comma-separated, or a YAML list. "
        "Recorded with the run, so that predict, export, load_run and a sweep's workers import them again "
        "(command line: --plugin MODULE; installed packages' entry points in the group xlprompt.plugins load by "
        "themselves; see the documentation's 'Plugins')",
    )
    #: deprecated spelling of :attr:`source_prompt` (accepted on input, with a warning; never stored)
    english_prompt: InitVar[Optional[str]] = None
    #: ``{recipe key: value}`` of the keys this config took from its recipe (``dataclasses.replace`` passes it on,
    #: so that those keys are resolved again for the new config); not a config key
    _recipe_filled: InitVar[Optional[Mapping[str, Any]]] = None

    def __post_init__(self, english_prompt: Optional[str] = None, _recipe_filled: Optional[Mapping[str, Any]] = None):
        object.__setattr__(self, "plugins", plugin_names(self.plugins))  # "a,b" or a list: a tuple of names
        if isinstance(self.source_languages, (list, tuple)):  # a YAML or Python list: one comma-separated text
            object.__setattr__(self, "source_languages", ",".join(map(str, self.source_languages)))
        if english_prompt is not None:
            given = {"english_prompt": english_prompt}
            if self.source_prompt != type(self).__dataclass_fields__["source_prompt"].default:
                given["source_prompt"] = self.source_prompt
            object.__setattr__(self, "source_prompt", undeprecate(given, "RunConfig")["source_prompt"])
        for key, old, new in _hooks().renamed_choices():  # a method's renamed choice: read as its new name
            if getattr(self, key) == old:
                warn_deprecated(f"{key}={old}", f"{key}={new}")
                object.__setattr__(self, key, new)
        for f in dataclasses.fields(self):  # types first: the recipes and tasks read these values
            check_field(f, getattr(self, f.name), type_only=True)
        import_plugins(self.plugins)  # before the method and task names are looked up: they may register them
        for key, value in (_recipe_filled or {}).items():
            # dataclasses.replace passes every value on: one its recipe gave (unchanged) is the recipe's again
            if key in _RESOLVED_KEYS and type(getattr(self, key)) is type(value) and getattr(self, key) == value:
                object.__setattr__(self, key, None)
        filled = _hooks().resolve(self)
        for key, value in filled.items():
            object.__setattr__(self, key, value)
        object.__setattr__(self, "_recipe_filled", dict(filled))
        if self.source_languages is not None:  # one spelling per set of sources (the task's order; its own: unset)
            sources = _hooks().source_languages(self)
            alone = sources == (self.task_spec().source_language,)
            object.__setattr__(self, "source_languages", None if alone else ",".join(sources))
        self.validate()

    def task_spec(self) -> Task:
        """The task this config runs (``task``: a registered name or a task file).

        :returns: the :class:`~xlprompt.Task`.
        :raises ConfigError: no such task, or a task file that does not load.
        """
        return _hooks().task(self.task)

    # ---------------------------------------------------------------- validation
    def validate(self) -> RunConfig:
        """Check every key's type and range and the rules across keys (called when the config is built; call it
        again after setting an attribute).

        :returns: the config itself.
        :raises ConfigError: the first bad value, in one line naming the key and what it accepts.
        """
        for f in dataclasses.fields(self):
            check_field(f, getattr(self, f.name))
        check_device_spec(self.device)
        trackers = [t.strip() for t in self.report_to.split(",") if t.strip()]
        if self.report_to.strip() != "none" and (not trackers or any(t not in TRACKERS for t in trackers)):
            raise ConfigError(
                f"report_to must be none, {', '.join(TRACKERS)} or both comma-separated, not '{self.report_to}'"
            )
        max_length = typing.cast(int, self.max_length)  # recipe keys: resolved (never None) before validate
        prompt_length = typing.cast(int, self.prompt_length)
        if prompt_length > max_length - 8:
            raise ConfigError(
                f"prompt_length={prompt_length} leaves no room in max_length={max_length}; "
                f"use prompt_length <= {max_length - 8} or raise max_length"
            )
        if self.translator_conditioning == "language" and self.no_translator:
            raise ConfigError(
                "translator_conditioning=language needs a translator; it cannot be combined with no_translator=true"
            )
        if self.parallel_source == "file" and self.method == "mpt" and not self.parallel_file:
            raise ConfigError("parallel_source=file needs parallel_file=PATH")
        if self.parallel_source == "translate" and self.method == "mpt" and not self.translate_model:
            raise ConfigError("parallel_source=translate needs translate_model=NAME_OR_PATH")
        _hooks().validate(self)  # what needs the method and the task: xlprompt.recipes
        return self

    def sources(self) -> tuple[str, ...]:
        """The languages the run trains on: ``source_languages``, checked against the task's (in the task's
        order), else the task's source language alone.

        :returns: the language codes.
        :raises ConfigError: a code the task does not have, a code named twice, or a language without train data
            in the task.
        """
        return _hooks().source_languages(self)

    def held_out_languages(self) -> tuple[str, ...]:
        """The evaluated languages that are not sources (:meth:`languages` less :meth:`sources`).

        :returns: the language codes, in the task's order.
        """
        sources = set(self.sources())
        return tuple(lang for lang in self.languages() if lang not in sources)

    def languages(self) -> tuple[str, ...]:
        """The evaluated languages: ``eval_languages``, checked against the task's.

        :returns: the language codes, in the task's order (``all``: every language of the task).
        :raises ConfigError: a code the task does not have.
        """
        return _hooks().languages(self)

    # ---------------------------------------------------------------- (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        """Every key and its value (recipe keys resolved), as ``config.json`` holds them (``plugins`` as a list).

        :returns: key → value; :meth:`from_dict` builds an equal config back.
        """
        values = dataclasses.asdict(self)
        values["plugins"] = list(self.plugins)
        return values

    def resolved_hash(self) -> str:
        """A stable hash of the full config: the key of a run in the results store. The keys of
        :data:`HASH_EXCLUDED` (how often to checkpoint: they never change a result) are left out. A key that names
        an input file (:data:`INPUT_FILES`) enters by the file's content, not its spelling
        (:meth:`input_digests`): one task file under three spellings is one run, and an edited one a new run.

        :returns: 16 hexadecimal digits.
        """
        excluded = HASH_EXCLUDED | {k for k, v in HASH_OMITTED_AT.items() if getattr(self, k) == v}
        digests = self.input_digests()
        values = {k: digests.get(k, v) for k, v in self.to_dict().items() if k not in excluded}
        for key, first in HASH_FIRST_NAMES.items():  # a renamed key or value enters under its first spelling
            if key in values:
                values[first] = values.pop(key)
        for key, first, value in _hooks().renamed_choices():
            if values.get(key) == value:
                values[key] = first
        values.update(_hooks().hash_fields(self))  # a method's revision, once its computation has changed
        payload = json.dumps(values, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def input_digests(self) -> dict[str, str]:
        """``{key: "sha256:..."}`` for every key of :data:`INPUT_FILES` that names an existing file or folder: a
        task file by its YAML and the content of each of its splits' files, a file by its bytes, a folder
        (``dictionary_dir``) by the names and bytes of its files; ``data_dir`` (when set) by :meth:`data_digest`;
        ``model`` and ``tokenizer`` given as local folders by :meth:`model_digests`. Keys naming no file are absent
        (so the hashes of configs without input files are what they always were).

        :returns: key → ``"sha256:<hex>"``.
        """
        out = {}
        task = _hooks().task(self.task)
        origin = getattr(task, "origin", "")
        if isinstance(origin, str) and not origin.startswith(("built-in", "registered")) and Path(origin).is_file():
            parts = [("task file", _content_digest(origin))]
            for split, files in sorted(task.files.items()):
                for lang, file in sorted(files.items()):
                    # a Hugging Face split: its spec (dataset, config, split, files), not where the YAML lies
                    parts.append(
                        (
                            f"{split}.{lang}",
                            file.rpartition("@")[0] if file.startswith("hf:") else _content_digest(file),
                        )
                    )
            out["task"] = "sha256:" + hashlib.sha256(json.dumps(parts).encode()).hexdigest()
        for key in INPUT_FILES[1:]:
            value = getattr(self, key)
            if value and Path(value).expanduser().exists():
                out[key] = "sha256:" + _content_digest(str(Path(value).expanduser()))
        if self.data_dir and not self.data_dir.startswith("builtin:"):
            data = self.data_digest()
            if data is not None:
                out["data_dir"] = data
        out.update(self.model_digests())  # a model or tokenizer given as a local folder: by its files
        return out

    def data_digest(self) -> str | None:
        """The digest of the files this run reads from its data folder (``data_dir``, else the default one): their
        paths relative to the folder and their bytes (a missing one as missing), so that a folder under another
        spelling or at another place is the same data. None without a folder (``builtin:demo``, none there yet).
        With ``data_dir`` set it stands for the folder in the hash; a run records it either way, and ``run --out``
        of a finished run refuses data that changed since.

        :returns: ``"sha256:<hex>"``, or None.
        """
        try:
            found = _hooks().data_files(self)
        except XlpromptError:
            return None
        if found is None or not found[0].is_dir():
            return None
        folder, files = found
        parts = [
            (rel, _content_digest(str(folder / rel)) if (folder / rel).is_file() else "missing")
            for rel in sorted(set(files))
        ]
        return "sha256:" + hashlib.sha256(json.dumps(parts).encode()).hexdigest()

    def model_digests(self) -> dict[str, str]:
        """``{key: "sha256:..."}`` for ``model`` and ``tokenizer`` when they name a local file or folder (a folder by
        the names and bytes of its files): in the hash in place of their spelling (one folder under two spellings
        is one run; an edited one a new run), recorded by a run and compared by later readers, which must see the
        model and tokenizer it was trained with. Hub names and ``random:``/``builtin:`` specs stay as spelled.

        :returns: key → ``"sha256:<hex>"`` (empty when neither is local).
        """
        out = {}
        for key in ("model", "tokenizer"):
            value = getattr(self, key)
            if value and ":" not in value.split("/")[0] and Path(value).expanduser().exists():
                out[key] = "sha256:" + _content_digest(str(Path(value).expanduser()))
        return out

    def task_file_digest(self) -> str | None:
        """The digest of the task file's own text (labels, label words, templates: what a prediction depends on),
        or None for a task that is no file.

        :returns: ``"sha256:<hex>"``, or None.
        """
        origin = getattr(_hooks().task(self.task), "origin", "")
        if isinstance(origin, str) and not origin.startswith(("built-in", "registered")) and Path(origin).is_file():
            return "sha256:" + _content_digest(origin)
        return None

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "config") -> RunConfig:
        """A config from a mapping of keys (``config.json``, a sweep's run); string values are converted to the
        key's type (``"16"`` → 16, ``"true"`` → True); a deprecated key (:data:`DEPRECATED_KEYS`) is read as its
        new name, with a warning.

        :param data: key → value; keys left out take their defaults.
        :param where: what the mapping came from, named in the error messages (a file's path).
        :returns: the validated config.
        :raises ConfigError: an unknown key (with the closest known one), or a bad value.
        """
        data = undeprecate(data, where)
        known = {f.name for f in dataclasses.fields(cls)}
        for key in data:
            if key not in known:
                raise ConfigError(f"{where}: unknown config key '{key}'.{suggest(key, known)}")
        return cls(**{k: coerce(k, v) for k, v in data.items()})

    def replace(self, **changes) -> RunConfig:
        """A new config with ``changes`` (this one never changes: it is frozen).

        Recipe keys that this config took from its recipe (not set by the user) are resolved again for the new
        config, so ``replace(method="sp")`` gets SP's defaults, not MPT's; a key given in ``changes`` is kept as
        given; a deprecated key (``english_prompt``) replaces the value under its new name. ``dataclasses.replace
        (config, **changes)`` gives the same config, except for a recipe key passed with exactly the value the old
        recipe gave it, which it cannot tell from an unchanged one.

        :param changes: key → new value (converted as ``--set`` converts them).
        :returns: a new, validated config.
        :raises ConfigError: an unknown key or a bad value.
        """
        filled = self.__dict__.get("_recipe_filled") or {}
        changes = undeprecate(changes, "replace")  # a deprecated key replaces the value under its new name
        kept = {k: v for k, v in self.to_dict().items() if k not in filled}
        return RunConfig.from_dict({**kept, **changes})

    def recipe_sources(self) -> dict[str, str]:
        """Where each recipe key's value comes from.

        :returns: recipe key → ``"set"`` (by the user) or the recipe's citation (``"repo@commit path:line"``).
        """
        return _hooks().recipe_sources(self)

    def _tiny_tokenizer(self) -> bool:
        return self.tokenizer == "builtin:tiny" or (self.tokenizer is None and self.model == "random:tiny")


# --- recipes ----------------------------------------------------------------------------------------------
#: keys whose default depends on the method (its module's RECIPE) and on ``recipe``
RECIPE_KEYS: tuple[str, ...] = (
    "max_length",
    "epochs",
    "batch_size",
    "lr",
    "optimizer",
    "weight_decay",
    "weight_decay_exempt",
    "lr_scheduler",
    "warmup_ratio",
    "min_lr_ratio",
    "max_grad_norm",
    "strip_punctuation",
    "template_punctuation",
    "prompt_encoder_shape",
    "label_words",
    "label_words_as",
    "scoring",
    "predict_over",
    "pct_kl_space",
    "pct_language_draw",
    "pct_layout",
    "head_init",
    "grad_accumulation_steps",
    "grad_accumulation_leftover",
    "train_order",
    "test_weights",
    "pct_kl_clip",
    "softmv_cosda_rate",
    "prompt_length",
    "freeze_plm",
    "lr_cycles",
    "xpe_encoder_ratio",
    "xpe_hidden_size",
    "xpe_layers",
    "xpe_dropout",
)
#: the keys a config may take from its recipe and task (:meth:`ConfigHooks.resolve`)
_RESOLVED_KEYS: frozenset[str] = frozenset(RECIPE_KEYS) | {"parallel_source"}
#: the training settings that ``recipe=uniform`` takes from MPT's recipe for every method (paper §IV-B: AdamW,
#: lr 4e-5, batch 24, 50 epochs, max length 256; where §IV-B is silent, MPT's own choices)
UNIFORM_KEYS: tuple[str, ...] = (
    "max_length",
    "epochs",
    "batch_size",
    "lr",
    "optimizer",
    "weight_decay",
    "weight_decay_exempt",
    "lr_scheduler",
    "warmup_ratio",
    "min_lr_ratio",
    "max_grad_norm",
    "grad_accumulation_steps",
    "grad_accumulation_leftover",
    "train_order",
    "test_weights",
)
#: a recipe key's value when the method's module declares none (a method without RECIPE): MPT's choices
GENERIC_DEFAULTS: dict[str, Any] = {
    "max_length": 256,
    "epochs": 50,
    "batch_size": 24,
    "lr": 4e-5,
    "optimizer": "adamw",
    "weight_decay": 0.01,
    "weight_decay_exempt": "bias,LayerNorm.weight",
    "lr_scheduler": "constant",
    "warmup_ratio": 0.0,
    "min_lr_ratio": 0.0,
    "max_grad_norm": 1.0,
    "strip_punctuation": True,
    "template_punctuation": "separate",
    "prompt_encoder_shape": "reference",
    "label_words": "right,maybe,wrong",
    "label_words_as": "word",
    "scoring": "vocab",
    "predict_over": "labels",
    "pct_kl_space": "vocab",
    "pct_language_draw": "example",
    "pct_layout": "reference",
    "head_init": "normal",
    "grad_accumulation_steps": 1,
    "grad_accumulation_leftover": "step",
    "train_order": "shuffle",
    "test_weights": "best_dev",
    "pct_kl_clip": 0.0,
    "softmv_cosda_rate": 0.55,
    "prompt_length": 4,
    "freeze_plm": False,
    "lr_cycles": 1,
    "xpe_encoder_ratio": 1.0,
    "xpe_hidden_size": 256,
    "xpe_layers": 2,
    "xpe_dropout": 0.1,
    "source_languages": None,
}
#: the recipe keys that shape a method's inputs (the token ids its template builds): every method's RECIPE states
#: each of them, so that none is left to GENERIC_DEFAULTS by accident (a key a method does not read is stated with
#: the generic value and a source that says so)
INPUT_KEYS: tuple[str, ...] = ("max_length", "strip_punctuation", "template_punctuation")
#: the builtin tiny tokenizer (tests, demo) has none of the references' XLM-R label words or pieces
TINY_LABEL_WORDS: dict[str, Any] = {"label_words": "yes,maybe,no", "label_words_as": "word"}


class ConfigHooks(typing.Protocol):
    """What a config needs from the layers above it (the methods' recipes, the tasks), without importing them:
    :mod:`xlprompt.recipes` implements it and installs itself when ``xlprompt`` is imported."""

    def resolve(self, config: "RunConfig") -> dict[str, Any]: ...

    def validate(self, config: "RunConfig") -> None: ...

    def task(self, spec: str): ...

    def languages(self, config: "RunConfig") -> tuple[str, ...]: ...

    def source_languages(self, config: "RunConfig") -> tuple[str, ...]: ...

    def recipe_sources(self, config: "RunConfig") -> dict[str, str]: ...

    def hash_fields(self, config: "RunConfig") -> dict[str, Any]: ...

    def renamed_choices(self) -> tuple[tuple[str, str, str], ...]: ...

    def data_files(self, config: "RunConfig") -> tuple[Path, list[str]] | None: ...


_HOOKS: list[ConfigHooks] = []


def install_hooks(hooks: ConfigHooks) -> None:
    """Install the resolver of recipe keys and task checks (done once by :mod:`xlprompt.recipes`)."""
    _HOOKS[:] = [hooks]


def _hooks() -> ConfigHooks:
    if not _HOOKS:  # pragma: no cover - importing xlprompt installs them
        raise ConfigError("xlprompt's recipes are not loaded; import xlprompt (not only xlprompt.config)")
    return _HOOKS[0]


def suggest(key: str, known) -> str:
    near = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.5)
    return f" Did you mean '{near[0]}'?" if near else " Run `xlprompt run --help-config` for the list."


@functools.lru_cache(maxsize=None)
def _type_hints() -> dict[str, Any]:
    # once: typing.get_type_hints per key per run was 85% of expanding a 100,000-run sweep
    return typing.get_type_hints(RunConfig)


@functools.lru_cache(maxsize=None)
def _field_type(name: str):
    tp = _type_hints()[name]
    if typing.get_origin(tp) is tuple:  # plugins: a tuple of names
        return tuple, False
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    return (args[0] if args else tp), type(None) in typing.get_args(tp)


def coerce(name: str, value: Any) -> Any:
    """Convert ``value`` (often a string from ``--set key=value``) to the type of field ``name``."""
    tp, optional = _field_type(name)
    if value is None:
        return None
    if tp is tuple:  # names: a comma-separated text or a list (plugins)
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        if isinstance(value, (list, tuple)):
            return tuple(value)
        raise ConfigError(f"config key '{name}' needs a list of names, not the {type(value).__name__} {value!r}")
    if name == "source_languages" and isinstance(value, (list, tuple)):  # a YAML list of codes
        value = ",".join(map(str, value))
    if optional and isinstance(value, str) and value.strip().lower() in ("none", "null", ""):
        return None
    if isinstance(value, (list, tuple, dict, set)) or (isinstance(value, bool) and tp is not bool):
        # a YAML list, or YAML's yes/no/true read as a boolean, is never a scalar's value
        hint = " (write it as one string, e.g. 'yes,maybe,no'; YAML reads yes/no as booleans)" if tp is str else ""
        raise ConfigError(
            f"config key '{name}' needs one value of type {tp.__name__}, not the {type(value).__name__} {value!r}{hint}"
        )
    try:
        if tp is bool:
            if isinstance(value, bool):
                return value
            text = str(value).lower()
            if text in ("true", "1", "yes", "on"):
                return True
            if text in ("false", "0", "no", "off"):
                return False
            raise ValueError
        if tp is int:
            if name == "shots" and isinstance(value, str) and value.strip().lower() == "all":
                return SHOTS_ALL
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if tp is float:
            return float(value)
        return str(value)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"config key '{name}' needs a value of type {tp.__name__}, not '{value}'") from None


def content_digest(path: str | Path) -> str:
    """``"sha256:<hex>"`` of a file's bytes, or of a folder's file names and bytes (cached as
    :meth:`RunConfig.data_digest`'s are).

    Args:
        path: the file.

    Returns:
        The digest, as runs record their data files (results.json ``data_files``)."""
    return "sha256:" + _content_digest(str(path))


def _content_digest(path: str) -> str:
    """SHA-256 of a file's bytes (cached while its size, mtime, change time and inode hold), or of a folder's file
    names and their digests."""
    import os

    if os.path.isdir(path):
        digest = hashlib.sha256()
        for entry in sorted(Path(path).iterdir()):
            if entry.is_file():
                digest.update(entry.name.encode() + b"\0" + _content_digest(str(entry)).encode())
        return digest.hexdigest()
    st = os.stat(path)
    # the change time and inode too: a copy that keeps size and mtime (cp -p) still changes them
    return _file_digest(os.path.realpath(path), st.st_mtime_ns, st.st_size, st.st_ctime_ns, st.st_ino)


@functools.lru_cache(maxsize=1024)
def _file_digest(path: str, _mtime_ns: int, _size: int, _ctime_ns: int, _inode: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _number(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def check_value(key: str, value: Any, label: str | None = None) -> Any:
    """Apply the declaration of config key ``key`` to a value given elsewhere (an argument of the Python API, a
    command-line option of the same kind): the one rule for that kind of value. ``label``: the name the message
    gives the value (default ``key``). Returns ``value``; a one-line :class:`ConfigError` otherwise."""
    check_field(RunConfig.__dataclass_fields__[key], value, label=label)
    return value


def declared_range(key: str) -> tuple[Any, Any]:
    """``(min, max)`` of config key ``key``'s declaration (None where unbounded): for a command-line option of
    the same kind, so that both apply one rule."""
    meta = RunConfig.__dataclass_fields__[key].metadata
    return meta.get("min"), meta.get("max")


def check_field(f: dataclasses.Field, value: Any, type_only: bool = False, label: str | None = None) -> None:
    """Apply field ``f``'s declaration (type, choices, finite, range, path kind: :func:`_f`) to ``value``; a one-line
    :class:`ConfigError` naming the key (or ``label``), the value and what it takes."""
    meta = f.metadata
    tp, optional = _field_type(f.name)
    name = label or f.name
    key = f"config key '{name}'" if label is None else name
    if value is None:
        if optional:
            return
        raise ConfigError(f"{key} needs a value of type {tp.__name__}, not None")
    numeric = tp in (int, float)
    ok = (
        isinstance(value, bool)
        if tp is bool
        else (
            isinstance(value, (int, float)) and not isinstance(value, bool) and (tp is float or isinstance(value, int))
        )
        if numeric
        else isinstance(value, tp) and (tp is not tuple or all(isinstance(v, str) for v in value))
    )
    if not ok:
        raise ConfigError(f"{key} needs a value of type {tp.__name__}, not the {type(value).__name__} {value!r}")
    if type_only:
        return
    choices = meta.get("choices")
    if choices and value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(map(str, choices))}, not '{value}'")
    if numeric:
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{name} must be a finite number, not {value}")
        low, high = meta.get("min"), meta.get("max")
        below = low is not None and (value <= low if meta.get("min_open") else value < low)
        above = high is not None and (value >= high if meta.get("max_open") else value > high)
        if below or above:
            if tp is float and low is not None and high is not None and high <= 1:
                interval = (
                    f"{'(' if meta.get('min_open') else '['}{_number(low)}, {_number(high)}"
                    f"{')' if meta.get('max_open') else ']'}"
                )
                raise ConfigError(f"{name} must lie in {interval}, not {_number(value)}")
            if below:
                raise ConfigError(
                    f"{name} must be {'>' if meta.get('min_open') else '>='} {_number(low)}, not {_number(value)}"
                )
            raise ConfigError(
                f"{name} must be {'<' if meta.get('max_open') else '<='} {_number(high)}, not {_number(value)}"
            )
    if tp is str and not value.strip():
        hint = "leave it unset (None) for its default" if optional else "give a value"
        raise ConfigError(f"{key} is empty; {hint}")
    kind = meta.get("path")
    if kind:
        problem = path_problem(value, kind)
        if problem:
            raise ConfigError(f"{name}={value if chr(0) not in value else repr(value)} {problem}")


def path_problem(value: str, kind: str | None = None) -> str | None:
    """What makes ``value`` unusable as the path of ``kind`` (``file`` or ``dir``: :data:`PATH_KINDS`; None: either),
    or None (a
    phrase that follows the path: ``"is a folder; ..."``). A
    path that does not exist (yet) is fine, unless it never can: one of its folders is a file (``FILE/x``), or its
    name is one the file system refuses (too long, a NUL character). The one check of every path a config key or a
    command-line option names."""
    import errno
    import os

    if "\0" in value:
        return "holds a NUL character, which no path can hold"
    path = os.path.expanduser(value)
    try:
        if kind == "file" and os.path.isdir(path):
            return f"is a folder; it names {PATH_KINDS[kind]}: pass the file's path"
        if kind == "dir" and os.path.exists(path) and not os.path.isdir(path):
            return f"is a file; it names {PATH_KINDS[kind]}: pass a folder"
        os.stat(path)
        return None
    except (OSError, ValueError) as err:
        if getattr(err, "errno", None) == errno.ENAMETOOLONG:
            return "is too long a path for the file system"
        if getattr(err, "errno", None) != errno.ENOTDIR:
            return None  # absent (made later, or on another machine) or unreadable here: its reader says so
    existing = os.path.dirname(os.path.abspath(path))
    while existing and not os.path.exists(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)
    return f"cannot exist: {existing} is a file, not a folder"


def name_problem(value: Any, folder: bool = False) -> str | None:
    """What makes ``value`` unfit as a name that becomes a cell of a Markdown table (a sweep's group or variant, a
    task's name) and, with ``folder``, a file or folder name (a sweep's name, a task's name in ``task_<name>.md``),
    or None: it must be a non-blank text on one line without '|'; a folder name also without '/' or '\\', and not
    '.' or '..'."""
    rule = "a non-empty text on one line without '|'" + (", '/', '\\' and not '.' or '..'" if folder else "")
    if not isinstance(value, str) or not value.strip() or "|" in value or any(ord(c) < 32 for c in value):
        return f"must be {rule}, not {value!r}"
    if folder and ("/" in value or "\\" in value or value.strip() in (".", "..")):
        return f"must be {rule}, not {value!r}"
    return None


def read_yaml(path: str | Path, what: str) -> Any:
    """The YAML document of the file ``path`` (a sweep or task file: ``what``), read strictly: a key given twice
    in one mapping (YAML keeps the last one silently), bytes that are not UTF-8, a file that cannot be read and
    bad YAML are each one :class:`ConfigError` naming the file and line. A UTF-8 byte-order mark is accepted."""
    import yaml

    class _Strict(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            seen: dict = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    hash(key)
                except TypeError:
                    continue  # yaml reports an unhashable key itself
                if key in seen:
                    raise ConfigError(
                        f"{path}:{key_node.start_mark.line + 1}: the key '{key}' is given twice in one mapping "
                        f"(first on line {seen[key]}); keep one"
                    )
                seen[key] = key_node.start_mark.line + 1
            return super().construct_mapping(node, deep=deep)

    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{what} not found: {path}") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the {what} ({err.strerror or err})") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: the {what} is not UTF-8 text (byte {err.start}); save it as UTF-8") from None
    try:
        return yaml.load(text, Loader=_Strict)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError(
            f"{where}: not valid YAML ({getattr(err, 'problem', None) or str(err).splitlines()[0]})"
        ) from None


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["alpha=0.7", "translator=lstm-1"]`` → ``{"alpha": 0.7, "translator": "lstm-1"}`` (typed, checked)."""
    known = {f.name for f in dataclasses.fields(RunConfig)}
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set '{item}': expected key=value")
        key, value = item.split("=", 1)
        key = current_key(key.strip().replace("-", "_"))
        if key not in known:
            raise ConfigError(f"--set: unknown config key '{key}'.{suggest(key, known)}")
        out[key] = coerce(key, value.strip())  # a later --set of a key wins: overrides appended to a command
    return out
