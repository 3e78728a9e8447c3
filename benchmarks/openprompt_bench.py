#!/usr/bin/env python
"""OpenPrompt on the same random XLM-R base, tokenizer and text as bench_speed.py.

Runs in its own environment, never the project's (OpenPrompt 1.0.1 pins sentencepiece==0.1.96, which has no
wheel for Python 3.11 and cannot be built offline, and it predates transformers 5):

    python3 -m venv .venv-openprompt
    .venv-openprompt/bin/pip install torch==2.13.0 "transformers==4.30.2" sentencepiece tqdm tensorboardX \\
        nltk yacs dill "datasets<3" "rouge==1.0.0" "pyarrow<16" scipy "numpy<2" scikit-learn
    .venv-openprompt/bin/pip install --no-deps openprompt
    .venv-openprompt/bin/python benchmarks/openprompt_bench.py [--quick] [--out FILE.json]

What it times, the way OpenPrompt's tutorials use it: ``PtuningTemplate`` (4 soft tokens, LSTM prompt encoder,
at the suffix position like xlprompt's default) + ``ManualVerbalizer`` (yes / maybe / no) +
``PromptForClassification`` over ``XLMRobertaForMaskedLM`` with random weights; ``PromptDataLoader`` pads to
``max_seq_length=256``; evaluation under ``torch.no_grad``; a training step = CE over a batch, backward,
AdamW (PLM and prompt encoder train). Transformers 4.30 has no SDPA path for XLM-R: eager attention.
Prints one JSON object (and writes it with --out).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
TOKENIZER = SHARED / "tokenizers" / "xlm-roberta"
DATA = SHARED / "data"
LABELS = ("entailment", "neutral", "contradiction")


def read_tsv(path: Path) -> list[dict[str, str]]:
    lines = path.read_text("utf-8").split("\n")
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[1:] if line.strip()]


def load_tokenizer(transformers):
    """The shared XLM-R tokenizer. Its tokenizer.json uses the Metaspace fields of tokenizers >= 0.14
    (``prepend_scheme``, ``split``); transformers 4.30 needs tokenizers 0.13, so an equivalent copy in the old
    format (``add_prefix_space: true``) is written to a temporary folder when the file does not load."""
    try:
        return _fast_tokenizer_class().from_pretrained(str(TOKENIZER))
    except Exception:
        import tempfile

        spec = json.loads((TOKENIZER / "tokenizer.json").read_text("utf-8"))

        def old(part):
            if isinstance(part, dict) and part.get("type") == "Metaspace":
                return {
                    "type": "Metaspace",
                    "replacement": part.get("replacement", "\u2581"),
                    "add_prefix_space": part.get("prepend_scheme", "always") != "never",
                }
            if isinstance(part, dict):
                return {k: old(v) for k, v in part.items()}
            if isinstance(part, list):
                return [old(v) for v in part]
            return part

        spec["pre_tokenizer"], spec["decoder"] = old(spec.get("pre_tokenizer")), old(spec.get("decoder"))
        folder = Path(tempfile.mkdtemp(prefix="xlmr-tok-"))
        (folder / "tokenizer.json").write_text(json.dumps(spec), "utf-8")
        (folder / "tokenizer_config.json").write_bytes((TOKENIZER / "tokenizer_config.json").read_bytes())
        return _OpenPromptTokenizer(tokenizer_file=str(folder / "tokenizer.json"))


def _fast_tokenizer_class():
    import transformers

    class Tokenizer(transformers.XLMRobertaTokenizerFast):
        """OpenPrompt calls ``get_special_tokens_mask(ids)`` as on the slow (sentencepiece) tokenizer, whose
        model file is not in shared/; this is the slow XLM-R tokenizer's method: <s> A </s> (</s> B </s>)."""

        def get_special_tokens_mask(self, token_ids_0, token_ids_1=None, already_has_special_tokens=False):
            if already_has_special_tokens:
                return super().get_special_tokens_mask(token_ids_0, token_ids_1, True)
            if token_ids_1 is None:
                return [1] + [0] * len(token_ids_0) + [1]
            return [1] + [0] * len(token_ids_0) + [1, 1] + [0] * len(token_ids_1) + [1]

    return Tokenizer


def _OpenPromptTokenizer(**kwargs):
    return _fast_tokenizer_class()(**kwargs)


def peak_rss_gib() -> float:
    """VmHWM (this process's own peak; ru_maxrss of an exec'd child also counts its parent's RSS at the fork)."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description="OpenPrompt speed on random XLM-R base")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=None)
    parser.add_argument("--eval-rows", type=int, default=None)
    parser.add_argument("--train-rows", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=4, help="rows per forward (memory: 256 x 250002 logits)")
    args = parser.parse_args()
    if not (TOKENIZER / "tokenizer.json").exists() or not (DATA / "xnli" / "test").exists():
        print(f"error: needs ../shared (tokenizer and data) beside {REPO}", file=sys.stderr)
        sys.exit(2)
    warnings.filterwarnings("ignore")
    try:
        import torch
        import transformers
        from openprompt import PromptDataLoader, PromptForClassification
        from openprompt.data_utils import InputExample
        from openprompt.plms import MLMTokenizerWrapper
        from openprompt.prompts import ManualVerbalizer, PtuningTemplate
    except ImportError as err:
        print(json.dumps({"error": f"OpenPrompt is not importable here: {err}"}))
        sys.exit(3)

    eval_rows = args.eval_rows or (8 if args.quick else 24)
    train_rows = args.train_rows or (4 if args.quick else 8)
    started = time.perf_counter()
    tokenizer = load_tokenizer(transformers)
    config = transformers.XLMRobertaConfig(
        vocab_size=len(tokenizer),
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        max_position_embeddings=514,
        type_vocab_size=1,
        layer_norm_eps=1e-5,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.cls_token_id,
        eos_token_id=tokenizer.sep_token_id,
    )
    torch.manual_seed(0)
    plm = transformers.XLMRobertaForMaskedLM(config)
    template = PtuningTemplate(
        model=plm,
        tokenizer=tokenizer,
        prompt_encoder_type="lstm",
        text='{"placeholder":"text_a"} . {"placeholder":"text_b"} ? {"soft"} {"soft"} {"soft"} {"soft"} {"mask"} .',
    )
    verbalizer = ManualVerbalizer(tokenizer, classes=list(LABELS), label_words=[["yes"], ["maybe"], ["no"]])
    model = PromptForClassification(plm=plm, template=template, verbalizer=verbalizer)
    build_seconds = time.perf_counter() - started

    test = read_tsv(DATA / "xnli" / "test" / "de.tsv")[:eval_rows]
    fewshot = DATA / "xnli-fewshot" / "train" / "en" / "train_split,16.jsonl"
    train = [json.loads(line) for line in fewshot.read_text("utf-8").split("\n") if line.strip()][:train_rows]
    eval_examples = [
        InputExample(guid=i, text_a=r["premise"], text_b=r["hypothesis"], label=LABELS.index(r["label"]))
        for i, r in enumerate(test)
    ]
    train_examples = [
        InputExample(guid=i, text_a=r["sentence1"], text_b=r["sentence2"], label=LABELS.index(r["gold"]))
        for i, r in enumerate(train)
    ]

    def loader(examples):
        return PromptDataLoader(
            dataset=examples,
            template=template,
            tokenizer=tokenizer,
            tokenizer_wrapper_class=MLMTokenizerWrapper,
            max_seq_length=256,
            batch_size=args.batch_size,
            shuffle=False,
            truncate_method="head",
        )

    t = time.perf_counter()
    eval_loader, train_loader = loader(eval_examples), loader(train_examples)
    tokenise_seconds = time.perf_counter() - t

    model.eval()
    t = time.perf_counter()
    predictions = []
    with torch.no_grad():
        for batch in eval_loader:
            predictions += model(batch).argmax(-1).tolist()
    eval_seconds = time.perf_counter() - t
    eval_peak = peak_rss_gib()

    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=4e-5, weight_decay=0.01)
    loss_fn = torch.nn.CrossEntropyLoss()
    t = time.perf_counter()
    for batch in train_loader:  # one step over train_rows rows, accumulated over chunks of batch_size
        loss = loss_fn(model(batch), batch["label"]) * len(batch["label"]) / len(train_examples)
        loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    train_seconds = time.perf_counter() - t
    padded = {int(batch["input_ids"].shape[1]) for batch in eval_loader}
    result = {
        "openprompt": __import__("openprompt").__version__
        if hasattr(__import__("openprompt"), "__version__")
        else "1.0.1",
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "build_seconds": build_seconds,
        "tokenise_seconds": tokenise_seconds,
        "padded_length": sorted(padded),
        "eval": {"rows": len(eval_examples), "seconds": eval_seconds, "rows_per_s": len(eval_examples) / eval_seconds},
        "train_step": {
            "rows": len(train_examples),
            "seconds": train_seconds,
            "rows_per_s": len(train_examples) / train_seconds,
            "note": "CE-only step (OpenPrompt has no MPT alignment task); includes AdamW",
        },
        "peak_rss_gib": peak_rss_gib(),
        "eval_peak_rss_gib": eval_peak,
    }
    print(json.dumps(result))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n", "utf-8")


if __name__ == "__main__":
    main()
