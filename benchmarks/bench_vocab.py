"""The cost of MPT's step against the vocabulary size |V|: XLM-R (250,002), Glot500-m (401,145), XLM-V (901,629).

Each size runs in its own process (so that its peak resident memory is its own) on the XLM-R base body with
random weights and that vocabulary (``random:glot500-base`` / ``random:xlm-v-base`` shapes), and times MPT's
training step as :class:`xlprompt.methods.mpt.MultilingualPromptTranslator` computes it with its default
micro-batching: the classification rows (Eq. 2-3, ``scoring=vocab``: log-softmax over V at ``<mask>``) and the
pairs (Eq. 6-7: both sides' full-vocabulary distributions and their symmetric KL), backward with the tied
|V| x d head gradient deferred (:meth:`xlprompt.models.masked_lm.MaskedLM.deferred_head_grad`) and the word
embeddings' gradient sparse, then AdamW over every weight (MPT trains the whole PLM). Short sequences and a
small batch keep a CPU run to a few minutes; what grows with |V| (head projection, softmaxes, KL, the head
gradient, AdamW's moments) does not depend on them. Prints one JSON line per size::

    PYTHONPATH=src python benchmarks/bench_vocab.py --rows 8 --length 32 --steps 2
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

SIZES = {"xlm-roberta-base": 250002, "glot500-base": 401145, "xlm-v-base": 901629}


def one(vocab: int, rows: int, length: int, steps: int) -> dict:
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM

    from xlprompt.losses import symmetric_kl, total_loss
    from xlprompt.models.masked_lm import MaskedLM
    from xlprompt.scoring import class_log_probs

    torch.manual_seed(0)
    config = XLMRobertaConfig(
        vocab_size=vocab,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        max_position_embeddings=514,
        type_vocab_size=1,
        layer_norm_eps=1e-5,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
    )
    config._attn_implementation = "sdpa"
    plm = MaskedLM(XLMRobertaForMaskedLM(config))
    plm.sparse_embedding_grad = True
    plm.train()
    optimizer = torch.optim.AdamW(plm.parameters(), lr=4e-5, weight_decay=0.01)
    built_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    g = torch.Generator().manual_seed(1)
    words = torch.tensor([7108, 51139, 44691])  # right / maybe / wrong
    times, fb_times = [], []
    for _ in range(steps):
        ids = torch.randint(5, 250000, (3 * rows, length), generator=g)
        mask_pos = torch.full((3 * rows,), length - 2)
        attention = torch.ones_like(ids)
        labels = torch.randint(0, 3, (rows,), generator=g)
        start = time.perf_counter()
        with plm.deferred_head_grad():
            # classification rows (Eq. 2-3 with scoring=vocab)
            h = plm.head_transform(plm.encode_at(plm.embed(ids[:rows]), attention[:rows], mask_pos[:rows]))
            ce = -class_log_probs(plm, h, words, "vocab").gather(1, labels[:, None]).mean()
            total_loss(ce, ce.new_zeros(()), 0.5).backward()
            # pairs: source and target rows in one piece (Eq. 6-7)
            h = plm.head_transform(plm.encode_at(plm.embed(ids[rows:]), attention[rows:], mask_pos[rows:]))
            logits = plm.vocab_logits(h)
            kl = symmetric_kl(logits[:rows], logits[rows:])
            total_loss(ce.detach() * 0, kl, 0.5).backward()
        fb = time.perf_counter() - start
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - start)
        fb_times.append(fb)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    params = sum(p.numel() for p in plm.parameters())
    return {
        "vocab": vocab,
        "parameters_M": round(params / 1e6, 1),
        "rows": rows,
        "length": length,
        "step_s": round(min(times[1:] or times), 2),
        "forward_backward_s": round(min(fb_times[1:] or fb_times), 2),
        "peak_rss_GiB": round(peak / 2**20, 2),
        "model_rss_GiB": round(built_rss / 2**20, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=8, help="classification rows and pairs per step")
    parser.add_argument("--length", type=int, default=32)
    parser.add_argument("--steps", type=int, default=2, help="steps per size (the first warms up)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.rows, args.length, args.steps)))
        return
    for name, vocab in SIZES.items():
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--one",
                str(vocab),
                "--rows",
                str(args.rows),
                "--length",
                str(args.length),
                "--steps",
                str(args.steps),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        print(json.dumps({"model": name, **json.loads(out.stdout.strip().splitlines()[-1])}), flush=True)


if __name__ == "__main__":
    main()
