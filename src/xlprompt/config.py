"""The configuration of one run: a typed dataclass whose fields carry their help text.

Defaults are the paper's (§IV-B): xlm-roberta-base, AdamW, lr 4e-5, batch 24, 50 epochs, max length 256,
prompt length 4 at the suffix position, α = 0.5, a linear-2 translator, 500 parallel pairs.
Where the paper is silent, the choice is documented on the field.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
import typing
from dataclasses import dataclass, field
from typing import Any, Optional

from xlprompt.errors import ConfigError

METHODS: tuple[str, ...] = ("mpt", "sp", "ft", "pct")
FEWSHOT_KS: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128, 256)
PARALLEL_SOURCES: tuple[str, ...] = ("pawsx", "tatoeba", "xnli-dev", "file", "translate")
#: config keys that do not change a run's result and so are not part of its hash (issue 9)
HASH_EXCLUDED: frozenset[str] = frozenset({"checkpoint_every_s"})


def _f(default, help: str, choices: tuple | None = None):
    meta = {"help": help}
    if choices:
        meta["choices"] = choices
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class RunConfig:
    """Everything that determines a run's result (the run directory and the store are not part of it)."""

    # --- what to run
    method: str = _f("mpt", "method: mpt (the paper's), sp (soft prompting), ft (fine-tuning), pct", METHODS)
    shots: int = _f(16, "k: training examples per class (3k in total)")
    seed: int = _f(1, "random seed (paper: 1..5)")
    model: str = _f("xlm-roberta-base", "HF hub name or local path of a masked LM, or random:xlm-roberta-base / "
                    "random:tiny (random weights)")
    tokenizer: Optional[str] = _f(None, "tokenizer hub name or path; default: the model's own (random:tiny: "
                                  "builtin:tiny; random:X: the hub tokenizer of X)")
    data_dir: Optional[str] = _f(None, "folder laid out like shared/data; 'builtin:demo' for the shipped sample; "
                                 "unset: the Hugging Face hub")
    train_source: str = _f("fixed", "fixed: the fixed few-shot splits of Zhao & Schütze (needs data_dir); "
                           "sample: k per class sampled with `seed` from MultiNLI train (hub) or the data's pool",
                           ("fixed", "sample"))

    # --- template and prompt (Eq. 1, 9)
    max_length: int = _f(256, "maximum sequence length; only premise and hypothesis are truncated")
    prompt_length: int = _f(4, "m: number of soft-prompt vectors (paper: 4; Fig. 5 sweeps it)")
    prompt_position: str = _f("suffix", "where the soft prompt goes (Eq. 9); suffix is the paper's best",
                              ("prefix", "midfix", "suffix", "endfix"))
    prompt_encoder: str = _f("lstm", "reparameterisation of the prompt: lstm (P-tuning BiLSTM+MLP, paper), mlp, "
                             "none", ("lstm", "mlp", "none"))

    # --- verbalizer and scoring (Eq. 2-3)
    label_words: str = _f("yes,maybe,no", "label words for entailment,neutral,contradiction (all languages)")
    label_words_file: Optional[str] = _f(None, "JSON {lang: [w_ent, w_neu, w_con]} of per-language label words")
    multi_token_label_words: str = _f("error", "a label word of several tokens: error, or score its first token",
                                      ("error", "first"))
    scoring: str = _f("vocab", "vocab: Eq. 2-3 as written (label-word probability under the full-vocabulary "
                      "softmax); labels: softmax over the label-word logits (SP reference code)", ("vocab", "labels"))

    # --- MPT (Eq. 4-8)
    translator: str = _f("linear-2", "translator architecture (Eq. 4 is linear-2; Fig. 4 ablation)",
                         ("linear-1", "linear-2", "lstm-1", "lstm-2", "transformer-1", "transformer-2"))
    no_translator: bool = _f(False, "ablation 'w/o prompt translator': p_T = p_S")
    alpha: float = _f(0.5, "α of Eq. 8: α·CE + (1-α)·KL; 1.0 = ablation 'w/o consistency loss'")
    english_prompt: str = _f("source", "prompt used for English at test time: source (p_S) or target (p_T)",
                             ("source", "target"))
    parallel_source: str = _f("pawsx", "external parallel corpus: pawsx (PAWS-X human translations), tatoeba, "
                              "xnli-dev (ablation 'w/o external data'), file, translate", PARALLEL_SOURCES)
    parallel_file: Optional[str] = _f(None, "JSONL parallel corpus (parallel_source=file)")
    parallel_size: int = _f(500, "number of parallel pairs (paper: 500; Fig. 5 goes to 8,000)")
    parallel_seed: int = _f(0, "seed that builds the parallel corpus (fixed across run seeds, like PAWS-15)")
    translate_model: Optional[str] = _f(None, "seq2seq translation model for parallel_source=translate")

    # --- PCT (Qi et al., 2022)
    pct_kl_space: str = _f("labels", "PCT consistency KL over the label words' distribution or the full "
                           "vocabulary", ("labels", "vocab"))
    pct_kl_weight: float = _f(1.0, "weight of PCT's symmetric KL next to its two CE terms")

    # --- optimisation
    freeze_plm: bool = _f(False, "train only prompt (+translator/head), not the PLM (paper: PLM trains)")
    epochs: int = _f(50, "training epochs (paper: 50). An epoch is max(#classification batches, "
                     "#alignment batches) steps; the shorter stream is cycled")
    batch_size: int = _f(24, "few-shot classification examples per step (paper: 24)")
    align_batch_size: Optional[int] = _f(None, "parallel pairs per step; default: batch_size")
    eval_batch_size: int = _f(64, "examples per evaluation batch")
    lr: float = _f(4e-5, "AdamW learning rate (paper: 4e-5)")
    prompt_lr: Optional[float] = _f(None, "learning rate of prompt encoder, translator and head; default: lr")
    weight_decay: float = _f(0.01, "AdamW weight decay (torch's default; the paper does not say)")
    lr_scheduler: str = _f("linear", "learning-rate schedule over all steps (paper silent)", ("linear", "constant"))
    warmup_ratio: float = _f(0.0, "fraction of steps with linear warm-up")
    max_grad_norm: float = _f(1.0, "gradient clipping norm (0 disables)")
    dev_every: int = _f(1, "evaluate on the English few-shot dev split every N epochs (model selection)")

    # --- evaluation
    eval_split: str = _f("test", "XNLI split to report", ("test", "dev"))
    eval_languages: str = _f("all", "comma-separated language codes, or all (the 15 XNLI languages)")
    eval_int8: bool = _f(False, "evaluate with int8 dynamic-quantised transformer layers (CPU only; faster, "
                         "predictions agree with fp32 on ~99% of rows: see benchmarks/)")
    eval_max_per_language: Optional[int] = _f(None, "cap on evaluation examples per language (quick looks; "
                                              "recorded in results)")

    # --- hardware
    device: str = _f("auto", "auto (cuda if available), cpu or cuda", ("auto", "cpu", "cuda"))
    precision: str = _f("auto", "auto (bf16 autocast on a CUDA device that supports bf16, else fp32; see README "
                        "'GPU'), fp32, or bf16 autocast", ("auto", "fp32", "bf16"))
    num_threads: Optional[int] = _f(None, "torch CPU threads; default: torch's choice")

    # --- issue 9: the GPU path (README 'GPU'); checkpoint_every_s is left out of the hash (HASH_EXCLUDED)
    step_token_budget: int = _f(1024, "MPT: padded tokens (rows x longest row) per micro-batch of a training "
                                "step; 0: the whole step in one forward. 1024 is sized for CPU memory (XLM-R "
                                "base peaks at about 5.7 GiB); on a GPU 8192 (or 0 with 40+ GiB) is faster. "
                                "Changes the numbers slightly (summation order), so it is part of the config")
    eval_token_budget: int = _f(0, "evaluation batches of length-sorted rows holding at most this many padded "
                                "tokens (rows x longest row); 0: eval_batch_size rows per batch (the CPU "
                                "default, as before issue 9). On a GPU 16384 or more")
    checkpoint_every_s: float = _f(600.0, "write a checkpoint at most every N seconds of training (and after the "
                                   "last epoch); 0: after every epoch. A killed run loses at most N seconds. "
                                   "600 s: an XLM-R-base checkpoint (4.45 GB) took 32-44 s on our CPU machine's "
                                   "disk, an epoch takes seconds on a GPU (benchmarks/README.md). Not part of "
                                   "the config hash (it does not change results)")
    deterministic: bool = _f(False, "CUDA: torch.use_deterministic_algorithms(True), CUBLAS_WORKSPACE_CONFIG="
                             ":4096:8, cuDNN deterministic, no cuDNN benchmark: bitwise-repeatable runs on one "
                             "GPU model and software stack, somewhat slower (README 'GPU')")

    def __post_init__(self):
        self.validate()

    # ---------------------------------------------------------------- validation
    def validate(self) -> "RunConfig":
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            choices = f.metadata.get("choices")
            if choices and value not in choices:
                raise ConfigError(f"{f.name} must be one of {', '.join(map(str, choices))}, not '{value}'")
        if self.shots < 1:
            raise ConfigError(f"shots must be >= 1, not {self.shots}")
        if self.train_source == "fixed" and self.data_dir not in (None, "builtin:demo") and self.shots not in FEWSHOT_KS:
            raise ConfigError(f"shots={self.shots}: the fixed few-shot splits exist for k in "
                              f"{', '.join(map(str, FEWSHOT_KS))}; use one of these or set train_source=sample")
        for f in dataclasses.fields(self):  # nan/inf would pass every range check below
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"{f.name} must be a finite number, not {value}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ConfigError(f"alpha must lie in [0, 1] (paper: 0.5), not {self.alpha}")
        if self.max_length < 16:
            raise ConfigError(f"max_length must be >= 16, not {self.max_length}")
        if self.prompt_length < 1:
            raise ConfigError(f"prompt_length must be >= 1 (paper: 4), not {self.prompt_length}")
        if self.prompt_length > self.max_length - 8:
            raise ConfigError(f"prompt_length={self.prompt_length} leaves no room in max_length={self.max_length}; "
                              f"use prompt_length <= {self.max_length - 8} or raise max_length")
        zero_means = {"step_token_budget": "one forward per step", "eval_token_budget": "eval_batch_size rows",
                      "checkpoint_every_s": "after every epoch"}
        for name, meaning in zero_means.items():
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0 (0: {meaning}), not {getattr(self, name)}")
        for name in ("epochs", "batch_size", "eval_batch_size", "parallel_size", "dev_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, not {getattr(self, name)}")
        if self.align_batch_size is not None and self.align_batch_size < 1:
            raise ConfigError(f"align_batch_size must be >= 1, not {self.align_batch_size}")
        if self.lr <= 0 or (self.prompt_lr is not None and self.prompt_lr <= 0):
            raise ConfigError("learning rates must be > 0")
        for name in ("weight_decay", "max_grad_norm", "pct_kl_weight"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, not {getattr(self, name)}")
        if self.num_threads is not None and self.num_threads < 1:
            raise ConfigError(f"num_threads must be >= 1 (or none: torch's choice), not {self.num_threads}")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ConfigError(f"warmup_ratio must lie in [0, 1), not {self.warmup_ratio}")
        if self.eval_max_per_language is not None and self.eval_max_per_language < 1:
            raise ConfigError("eval_max_per_language must be >= 1")
        if self.parallel_source == "file" and self.method == "mpt" and not self.parallel_file:
            raise ConfigError("parallel_source=file needs parallel_file=PATH")
        if self.parallel_source == "translate" and self.method == "mpt" and not self.translate_model:
            raise ConfigError("parallel_source=translate needs translate_model=NAME_OR_PATH")
        self.languages()  # validates eval_languages
        return self

    def languages(self) -> tuple[str, ...]:
        from xlprompt.languages import XNLI_LANGUAGES, check_language

        if self.eval_languages == "all":
            return XNLI_LANGUAGES
        langs = tuple(x.strip() for x in self.eval_languages.split(",") if x.strip())
        if not langs:
            raise ConfigError("eval_languages is empty; give codes like en,de or 'all'")
        return tuple(check_language(lang) for lang in langs)

    # ---------------------------------------------------------------- (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def resolved_hash(self) -> str:
        """A stable hash of the full config: the key of a run in the results store. The keys of
        :data:`HASH_EXCLUDED` (how often to checkpoint: they never change a result) are left out."""
        payload = json.dumps({k: v for k, v in self.to_dict().items() if k not in HASH_EXCLUDED},
                             sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "config") -> "RunConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        for key in data:
            if key not in known:
                raise ConfigError(f"{where}: unknown config key '{key}'.{suggest(key, known)}")
        return cls(**{k: coerce(k, v) for k, v in data.items()})

    def replace(self, **changes) -> "RunConfig":
        return RunConfig.from_dict({**self.to_dict(), **changes})


def suggest(key: str, known) -> str:
    near = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.5)
    return f" Did you mean '{near[0]}'?" if near else " Run `xlprompt run --help-config` for the list."


def _field_type(name: str):
    hints = typing.get_type_hints(RunConfig)
    tp = hints[name]
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    return (args[0] if args else tp), type(None) in typing.get_args(tp)


def coerce(name: str, value: Any) -> Any:
    """Convert ``value`` (often a string from ``--set key=value``) to the type of field ``name``."""
    tp, optional = _field_type(name)
    if value is None:
        return None
    if optional and isinstance(value, str) and value.lower() in ("none", "null", ""):
        return None
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
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if tp is float:
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"config key '{name}' needs a value of type {tp.__name__}, not '{value}'") from None


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["alpha=0.7", "translator=lstm-1"]`` → ``{"alpha": 0.7, "translator": "lstm-1"}`` (typed, checked)."""
    known = {f.name for f in dataclasses.fields(RunConfig)}
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set '{item}': expected key=value")
        key, value = item.split("=", 1)
        key = key.strip().replace("-", "_")
        if key not in known:
            raise ConfigError(f"--set: unknown config key '{key}'.{suggest(key, known)}")
        out[key] = coerce(key, value.strip())
    return out


def describe_fields() -> str:
    """A help table of every config key, its default and its meaning."""
    lines = []
    for f in dataclasses.fields(RunConfig):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        choices = f.metadata.get("choices")
        extra = f" [{'|'.join(map(str, choices))}]" if choices else ""
        lines.append(f"  {f.name} (default {default!r}){extra}\n      {f.metadata.get('help', '')}")
    return "\n".join(lines)
