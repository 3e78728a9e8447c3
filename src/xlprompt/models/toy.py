"""The toy masked LM: a tiny XLM-R-shaped model pre-trained on the toy world (:mod:`xlprompt.data.toy`).

Model spec ``toy:small`` (``--model toy:small``; its tokenizer is the model's own): built on first use by
:func:`ensure_toy_model` (``xlprompt toy pretrain`` does it explicitly) and cached in the data folder under
``toy/model-small-w<world version>-s<seed>/``, as any local model folder: ``config.json`` and
``model.safetensors`` (``save_pretrained`` of a :class:`transformers.XLMRobertaForMaskedLM`), the tokenizer
(``save_pretrained`` of a :class:`transformers.PreTrainedTokenizerFast`: a BPE with Metaspace pre-tokenisation
trained with the ``tokenizers`` library on the toy world, the recipe of the ``builtin:tiny`` tokenizer; every
word of the world is one token) and ``pretraining.json`` (seed, steps, losses, seconds).

Pre-training: masked-LM (15% of the tokens, 80% ``<mask>``, 10% a random token, 10% kept; the answer word of the
question-answer text is always predicted) on
:func:`xlprompt.data.toy.pretraining_corpus` (monolingual text, translation pairs as in XLM's TLM, and
code-switched text), AdamW with linear warm-up and decay, on one CPU thread. Everything is drawn from ``seed``: the
same seed gives the same weights on the same software (another CPU or library build may differ in the last bits).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from xlprompt.errors import ModelError

TOY_PREFIX = "toy:"


@dataclass(frozen=True)
class ToyModelShape:
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    steps: int
    batch_size: int
    lr: float
    corpus_size: int


#: the toy models (``toy:<name>``): shape and pre-training budget (``small``: about 80 s on one CPU thread)
TOY_MODELS: dict[str, ToyModelShape] = {
    "small": ToyModelShape(
        hidden_size=64,
        num_hidden_layers=3,
        num_attention_heads=4,
        intermediate_size=256,
        steps=1500,
        batch_size=32,
        lr=3e-3,
        corpus_size=48_000,
    ),
}
DEFAULT_SEED = 0


def is_toy_spec(spec: str | None) -> bool:
    return bool(spec) and str(spec).startswith(TOY_PREFIX)


def toy_name(spec: str) -> str:
    name = spec[len(TOY_PREFIX) :]
    if name not in TOY_MODELS:
        raise ModelError(f"unknown toy model '{spec}'; allowed: " + ", ".join(TOY_PREFIX + n for n in TOY_MODELS))
    return name


def toy_model_dir(spec: str, data_dir=None, seed: int = DEFAULT_SEED) -> Path:
    """Where ``spec`` (``toy:small``) pre-trained with ``seed`` is cached in the data folder ``data_dir``
    (None or ``builtin:demo``: the default data folder)."""
    from xlprompt.data.home import DEMO, resolve_data_dir
    from xlprompt.data.toy import WORLD_VERSION

    name = toy_name(spec)
    root = resolve_data_dir(None if data_dir in (None, DEMO) else data_dir)
    return root / "toy" / f"model-{name}-w{WORLD_VERSION}-s{seed}"


def is_built(folder: Path) -> bool:
    return (Path(folder) / "pretraining.json").is_file()


def ensure_toy_model(
    spec: str, data_dir=None, seed: int = DEFAULT_SEED, force: bool = False, log: Callable[[str], None] | None = None
) -> Path:
    """The folder of the pre-trained toy model ``spec``: cached, or pre-trained now (about a minute) and cached.
    ``log`` receives a line before a build starts and one when it ends."""
    folder = toy_model_dir(spec, data_dir, seed)
    if is_built(folder) and not force:
        return folder
    from xlprompt.safety import RunLock

    def busy(owner: str) -> None:
        if log:
            log(f"the toy model {spec} (seed {seed}) is being built by {owner}; waiting to use it")

    # one build of a model at a time: a second caller (another `toy pretrain`, a sweep's worker) waits, then
    # uses the model the first one built
    folder.parent.mkdir(parents=True, exist_ok=True)
    with RunLock(folder.parent, f".{folder.name}.lock", on_busy=busy):
        if is_built(folder) and not force:
            return folder
        for left in folder.parent.iterdir():  # the lock is ours: what a killed build left is garbage
            if left.name.startswith((folder.name + ".tmp", folder.name + ".old")) and left.is_dir():
                shutil.rmtree(left, ignore_errors=True)
        return _build_toy_model(spec, folder, seed, force, log)


def _build_toy_model(spec: str, folder: Path, seed: int, force: bool, log: Callable[[str], None] | None) -> Path:
    """Pre-train ``spec`` into a new folder beside ``folder``, then move it into place (the caller holds the
    model's lock)."""
    if log:
        log(
            f"building the toy model {spec} (seed {seed}): pre-training a tiny masked LM on the toy world, once; "
            f"cached in {folder}"
        )
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=folder.name + ".tmp", dir=folder.parent))
    try:
        report = pretrain_toy_model(toy_name(spec), seed, tmp)
        old = None
        if force and folder.exists():  # moved aside, removed only once the new model is in place
            old = Path(tempfile.mkdtemp(prefix=folder.name + ".old", dir=folder.parent))
            os.replace(folder, old / folder.name)
        try:
            os.replace(tmp, folder)
        except OSError:  # another process built it meanwhile: keep theirs; else put the earlier one back
            if old is not None and not folder.exists():
                os.replace(old / folder.name, folder)
                raise
            if not is_built(folder):
                raise
        finally:
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    if log:
        log(
            f"toy model built in {report['seconds']:.0f} s (masked-LM loss {report['loss_first']:.2f} -> "
            f"{report['loss_last']:.2f})"
        )
    return folder


def build_toy_tokenizer():
    """The toy world's tokenizer: a :class:`transformers.PreTrainedTokenizerFast` around a ``tokenizers`` BPE
    (Metaspace pre-tokenisation, as ``builtin:tiny``) trained on every word of every toy language and the
    templates' punctuation; each word is one token."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    from xlprompt.data.toy import TOY_LANGUAGES, task_words, vocabulary_texts

    texts = vocabulary_texts() * 20
    for lang in TOY_LANGUAGES:  # PCT's glued template words (question:X? answer:<mask>) as pieces
        words = task_words(lang)
        texts += [f"{words['question']}: ? {words['answer']}:"] * 20
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.train_from_iterator(
        texts, trainer=trainers.BpeTrainer(vocab_size=4000, special_tokens=specials, show_progress=False)
    )
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        model_max_length=512,
    )


def pretrain_toy_model(name: str, seed: int, out: Path) -> dict:
    """Pre-train ``toy:<name>`` with ``seed`` and save model and tokenizer to ``out``; return the report."""
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM

    from xlprompt.data.toy import ANSWER_WORDS, WORLD_VERSION, pretraining_corpus

    shape = TOY_MODELS[name]
    start = time.perf_counter()
    tokenizer = build_toy_tokenizer()
    texts = pretraining_corpus(shape.corpus_size, seed)
    # one batched call per kind (single texts, pairs): the same ids as one call per text, many times faster
    single = [i for i, (_, b) in enumerate(texts) if b is None]
    pairs = [i for i, (_, b) in enumerate(texts) if b is not None]
    ids: list[list[int]] = [[] for _ in texts]
    if single:
        for i, row in zip(single, tokenizer([texts[i][0] for i in single])["input_ids"]):
            ids[i] = row
    if pairs:
        encoded = tokenizer([texts[i][0] for i in pairs], [texts[i][1] for i in pairs])["input_ids"]
        for i, row in zip(pairs, encoded):
            ids[i] = row
    config = XLMRobertaConfig(
        vocab_size=len(tokenizer),
        max_position_embeddings=514,
        type_vocab_size=1,
        layer_norm_eps=1e-5,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.cls_token_id,
        eos_token_id=tokenizer.sep_token_id,
        hidden_size=shape.hidden_size,
        num_hidden_layers=shape.num_hidden_layers,
        num_attention_heads=shape.num_attention_heads,
        intermediate_size=shape.intermediate_size,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    state, threads = torch.random.get_rng_state(), torch.get_num_threads()
    torch.manual_seed(seed)
    # one thread: the same float arithmetic on every machine's core count, and faster for matrices this small
    # (two threads on a shared 2-core machine were 4x slower than one)
    torch.set_num_threads(1)
    try:
        model = XLMRobertaForMaskedLM(config)
        generator = torch.Generator().manual_seed(seed)
        optimizer = torch.optim.AdamW(model.parameters(), lr=shape.lr, weight_decay=0.01)
        warmup = max(1, shape.steps // 20)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: min((s + 1) / warmup, max(0.0, (shape.steps - s) / (shape.steps - warmup)))
        )
        special = torch.tensor(sorted(set(tokenizer.all_special_ids)))
        answers = torch.tensor(tokenizer.convert_tokens_to_ids(["▁" + w for w in ANSWER_WORDS]))
        pad, mask_id, vocab = tokenizer.pad_token_id, tokenizer.mask_token_id, len(tokenizer)
        losses = []
        model.train()
        order = torch.randperm(len(ids), generator=generator).tolist()
        pos = 0
        for _ in range(shape.steps):
            if pos + shape.batch_size > len(order):
                order, pos = torch.randperm(len(ids), generator=generator).tolist(), 0
            rows = [ids[i] for i in order[pos : pos + shape.batch_size]]
            pos += shape.batch_size
            width = max(map(len, rows))
            input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
            for i, row in enumerate(rows):
                input_ids[i, : len(row)] = torch.tensor(row)
            attention = (input_ids != pad).long()
            maskable = ~torch.isin(input_ids, special)
            chosen = (torch.rand(input_ids.shape, generator=generator) < 0.15) & maskable
            chosen |= torch.isin(input_ids, answers)  # the question-answer text's answer: always predicted
            labels = torch.where(chosen, input_ids, torch.full_like(input_ids, -100))
            action = torch.rand(input_ids.shape, generator=generator)
            random_ids = torch.randint(5, vocab, input_ids.shape, generator=generator)
            inputs = torch.where(chosen & (action < 0.8), torch.full_like(input_ids, mask_id), input_ids)
            inputs = torch.where(chosen & (action >= 0.8) & (action < 0.9), random_ids, inputs)
            loss = model(input_ids=inputs, attention_mask=attention, labels=labels).loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            losses.append(float(loss.detach()))
    finally:
        torch.random.set_rng_state(state)
        torch.set_num_threads(threads)
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    tail = max(1, len(losses) // 20)
    report = {
        "model": TOY_PREFIX + name,
        "seed": seed,
        "world_version": WORLD_VERSION,
        **asdict(shape),
        "vocab_size": len(tokenizer),
        "parameters": sum(p.numel() for p in model.parameters()),
        "loss_first": sum(losses[:tail]) / tail,
        "loss_last": sum(losses[-tail:]) / tail,
        "seconds": round(time.perf_counter() - start, 1),
        "torch_threads": 1,
    }
    (out / "pretraining.json").write_text(json.dumps(report, indent=1) + "\n", "utf-8")
    return report
