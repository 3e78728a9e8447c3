"""The GPU path , tested on the CPU; the CUDA tests at the end skip without a GPU.

bf16 autocast works on the CPU too, which is how the bf16 failures of the static review are reproduced here.
"""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from xlprompt.batching import token_budget_batches
from xlprompt.config import RunConfig
from xlprompt.errors import ConfigError
from xlprompt.trainer import Trainer

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _mpt_step(tiny_components, demo_train, demo_pairs, **overrides):
    settings = dict(method="mpt", epochs=1, batch_size=6, precision="bf16")
    settings.update(overrides)
    parts = tiny_components(**settings)
    parts.method.step_token_budget = 40  # several micro-batches, so the deferred head flush has work
    trainer = Trainer(
        parts.method,
        parts.method.config,
        demo_train(parts.tokenizer, per_class=2),
        [],
        demo_pairs(parts.tokenizer, n=5),
        None,
        progress=False,
    )
    return parts, trainer


# ------------------------------------------------------------------------------------------- bf16 failures
@pytest.mark.parametrize("scoring", ["labels", "vocab"])
def test_mpt_bf16_step_with_deferred_head_gradient(scoring, tiny_components, demo_train, demo_pairs):
    """Once failed with scoring=labels: the head-gradient flush ran under autocast and index_add_
    mixed a bf16 product into the fp32 gradient ("index_add_(): self (Float) and source (BFloat16)...")."""
    parts, trainer = _mpt_step(tiny_components, demo_train, demo_pairs, scoring=scoring)
    method = parts.method
    assert trainer.autocast_dtype is torch.bfloat16
    before = method.plm.decoder.weight.detach().clone()
    seen = {}
    original = method.plm.deferred_head_grad

    def spy():
        seen["entered"] = True
        return original()

    method.plm.deferred_head_grad = spy
    gen = torch.Generator().manual_seed(0)
    logged = trainer.train_step(trainer.train, trainer.parallel, gen)
    assert seen, "the micro-batch path (deferred head gradient) was not taken"
    assert all(torch.isfinite(torch.tensor(v)) for v in logged.values())
    assert logged["ce"] > 0 and logged["kl"] > 0
    weight = method.plm.decoder.weight
    assert weight.dtype == torch.float32
    assert not torch.equal(weight.detach(), before)  # the step reached the tied head / embeddings


def test_deferred_head_flush_under_autocast_adds_the_fp32_gradient(tiny_plm):
    """The flush inside an autocast block (as the trainer's last ``next(pieces)``) adds exactly the
    gradient of the label-word logits, computed by hand in fp32."""
    plm = tiny_plm(seed=1)
    weight = plm.decoder.weight
    torch.manual_seed(0)
    hidden = torch.randn(3, plm.hidden_size, requires_grad=True)
    ids = torch.tensor([5, 9, 5])  # a repeated id: its two rows' gradients add up
    upstream = torch.randn(3, 3)

    def pieces():
        with plm.deferred_head_grad():
            (plm.word_logits(hidden, ids) * upstream).sum().backward()
            yield

    gen = pieces()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        next(gen)
        next(gen, None)  # the block exits here, under autocast
    expected = torch.zeros_like(weight)
    for col, word in enumerate(ids.tolist()):  # d(sum(g * h W_ids^T))/dW_word = sum_rows g[:, col] h
        expected[word] += (upstream[:, col : col + 1] * hidden.detach()).sum(0)
    assert weight.grad.dtype == torch.float32
    torch.testing.assert_close(weight.grad, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("encoder", ["lstm", "mlp"])
def test_prompt_encoder_is_fp32_under_bf16_autocast(encoder):
    from xlprompt.models.prompt_encoder import PromptEncoder, PromptEncoderConfig

    torch.manual_seed(0)
    module = PromptEncoder(PromptEncoderConfig(4, 16, encoder))
    reference = module()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inside = module()
    assert inside.dtype == torch.float32
    torch.testing.assert_close(inside, reference, rtol=0, atol=0)


@pytest.mark.parametrize("architecture", ["lstm-1", "lstm-2", "linear-2", "transformer-1"])
def test_translators_are_fp32_under_bf16_autocast(architecture):
    from xlprompt.models.translator import build_translator

    torch.manual_seed(0)
    module = build_translator(architecture, 16).eval()
    p_source = torch.randn(4, 16)
    reference = module(p_source)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inside = module(p_source.bfloat16())  # even a bf16 input is computed in fp32
    assert inside.dtype == torch.float32
    torch.testing.assert_close(inside, module(p_source.bfloat16().float()), rtol=0, atol=0)
    assert (inside - reference).abs().max() < 0.05


def test_output_head_is_computed_in_fp32_under_autocast(tiny_plm):
    plm = tiny_plm(seed=2)
    torch.manual_seed(0)
    hidden = torch.randn(4, plm.hidden_size)
    weight = plm.decoder.weight.detach()
    bias = plm._decoder_bias().detach()
    by_hand = hidden @ weight.T + bias  # fp32, no autocast
    ids = torch.tensor([3, 7, 11])
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        vocab = plm.vocab_logits(hidden)
        words = plm.word_logits(hidden, ids)
        per_row = plm.word_logits(hidden, ids.expand(4, -1))
    for logits in (vocab, words, per_row):
        assert logits.dtype == torch.float32
    torch.testing.assert_close(vocab, by_hand, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(words, by_hand[:, ids], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(per_row, by_hand[:, ids], rtol=1e-5, atol=1e-5)
    # a bf16 product would be off by far more than this
    assert (F.linear(hidden.bfloat16(), weight.bfloat16()).float() + bias - by_hand).abs().max() > 1e-3


# ------------------------------------------------------------------------------------------- host syncs
@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_prepared_4d_mask_gives_the_encoder_output_of_the_2d_mask(tiny_plm, attention):
    """MaskedLM passes the 4D mask itself (no ``mask.all()`` host sync inside transformers); the encoder's
    output is the one transformers computes from the 2D mask."""
    plm = tiny_plm(seed=3).eval()
    plm.hf_model.config._attn_implementation = attention
    torch.manual_seed(0)
    ids = torch.randint(5, 200, (3, 9))
    attention_mask = torch.ones_like(ids)
    attention_mask[1, 5:] = 0
    embeds = plm.embed(ids)
    with torch.no_grad():
        ours = plm.encode(embeds, attention_mask)
        theirs = plm.encoder(inputs_embeds=embeds, attention_mask=attention_mask).last_hidden_state
    keep = attention_mask.bool()
    torch.testing.assert_close(ours[keep], theirs[keep], rtol=1e-5, atol=1e-5)


def test_mpt_step_reads_the_device_once(tiny_components, demo_train, demo_pairs, monkeypatch):
    """No ``.item()``/``bool()``/``float()`` per micro-batch: one ``tolist`` for the whole step."""
    parts, trainer = _mpt_step(tiny_components, demo_train, demo_pairs, precision="fp32")
    calls = {"item": 0, "tolist": 0, "bool": 0, "float": 0}
    for name, attr in (("item", "item"), ("tolist", "tolist"), ("bool", "__bool__"), ("float", "__float__")):
        original = getattr(torch.Tensor, attr)

        def counted(self, *args, _original=original, _name=name, **kwargs):
            calls[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, attr, counted)
    pieces = []
    original_pieces = parts.method.gradient_pieces

    def spy(*args):
        for piece in original_pieces(*args):
            pieces.append(piece)
            yield piece

    parts.method.gradient_pieces = spy
    trainer.train_step(trainer.train, trainer.parallel, torch.Generator().manual_seed(0))
    monkeypatch.undo()
    assert len(pieces) >= 3
    assert calls["item"] == 0 and calls["bool"] == 0 and calls["float"] == 0, calls
    assert calls["tolist"] == 1, calls


def test_step_losses_and_parts_add_up_per_piece(tiny_components, demo_train, demo_pairs):
    parts, trainer = _mpt_step(tiny_components, demo_train, demo_pairs, precision="fp32")
    method = parts.method.eval()  # no dropout: the same function twice
    batch, pairs = trainer.train, trainer.parallel
    expected_loss = expected_ce = expected_kl = 0.0
    for piece in method.gradient_pieces(batch, pairs, torch.Generator().manual_seed(0)):
        expected_loss += float(piece.loss.detach())
        expected_ce += float(piece.parts["ce"])
        expected_kl += float(piece.parts["kl"])
        piece.loss.backward()
    method.zero_grad(set_to_none=True)
    logged = trainer.train_step(batch, pairs, torch.Generator().manual_seed(0))
    assert logged["loss"] == pytest.approx(expected_loss, rel=1e-6)
    assert logged["ce"] == pytest.approx(expected_ce, rel=1e-6)
    assert logged["kl"] == pytest.approx(expected_kl, rel=1e-6)


# ------------------------------------------------------------------------------------------- config keys
def test_step_token_budget_is_a_config_key_in_the_hash(tiny_components):
    base = RunConfig()
    assert base.step_token_budget == 1024
    assert base.replace(step_token_budget=4096).resolved_hash() != base.resolved_hash()
    assert tiny_components(method="mpt", step_token_budget=0).method.step_token_budget is None
    assert tiny_components(method="mpt", step_token_budget=333).method.step_token_budget == 333
    with pytest.raises(ConfigError, match="step_token_budget must be >= 0"):
        RunConfig(step_token_budget=-1)


def test_checkpoint_interval_is_not_in_the_hash():
    base = RunConfig()
    assert base.checkpoint_every_s == 600.0
    assert base.replace(checkpoint_every_s=0).resolved_hash() == base.resolved_hash()
    assert base.replace(eval_token_budget=8192).resolved_hash() != base.resolved_hash()
    with pytest.raises(ConfigError, match="checkpoint_every_s must be >= 0"):
        RunConfig(checkpoint_every_s=-5)


def test_precision_auto_is_fp32_on_cpu():
    from xlprompt.device import autocast_dtype

    assert RunConfig().precision == "auto"
    assert autocast_dtype("auto", torch.device("cpu")) is None
    assert autocast_dtype("bf16", torch.device("cpu")) is torch.bfloat16
    assert autocast_dtype("fp32", torch.device("cuda")) is None


def test_deterministic_mode_sets_torch_and_cublas_and_is_undone(monkeypatch, tiny_config, tmp_path):
    import os

    from xlprompt.device import apply_determinism
    from xlprompt.experiment import run_experiment

    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    flags = (
        torch.are_deterministic_algorithms_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
    )
    try:
        apply_determinism(RunConfig(deterministic=False))
        assert torch.are_deterministic_algorithms_enabled() == flags[0]
        # a whole (tiny) MPT run in deterministic mode: no op of the CPU path lacks a deterministic kernel
        results = run_experiment(
            tiny_config(method="mpt", deterministic=True, eval_languages="en"),
            tmp_path / "det",
            progress=False,
            log=lambda _: None,
        )
        assert set(results["accuracy"]) == {"en", "avg"}
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
        apply_determinism(RunConfig(deterministic=False))  # the next run of a sweep in this process
        assert (
            torch.are_deterministic_algorithms_enabled(),
            torch.backends.cudnn.deterministic,
            torch.backends.cudnn.benchmark,
        ) == flags
    finally:
        torch.use_deterministic_algorithms(flags[0])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = flags[1], flags[2]


# ------------------------------------------------------------------------------------------- evaluation
def test_token_budget_batches_by_hand():
    lengths = [10, 30, 20, 5, 30, 12]
    # sorted longest first: 1 (30), 4 (30), 2 (20), 5 (12), 0 (10), 3 (5); budget 60
    # [1, 4]: 2 x 30 = 60 ok, + 2 → 90 no; [2, 5, 0]: 3 x 20 = 60 ok, + 3 → 80 no; [3]
    assert token_budget_batches(lengths, 60) == [[1, 4], [2, 5, 0], [3]]
    assert token_budget_batches([100, 3], 50) == [[0], [1]]  # over the budget: a batch of its own
    with pytest.raises(ValueError):
        token_budget_batches([1], 0)


def test_evaluation_by_token_budget_gives_the_same_predictions(tiny_components, demo_train):
    from xlprompt.evaluate import predict

    parts = tiny_components(method="sp")
    examples = demo_train(parts.tokenizer, per_class=4)
    by_rows, rows_scores = predict(parts.method, examples, "en", 5)
    by_tokens, token_scores = predict(parts.method, examples, "en", 5, token_budget=200)
    assert by_rows == by_tokens
    torch.testing.assert_close(token_scores, rows_scores, rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------------------------------- checkpoints
def _fit(tiny_components, tiny_config, demo_train, run_dir, monkeypatch, **overrides):
    import xlprompt.checkpoint as checkpoint_module
    import xlprompt.trainer as trainer_module

    settings = dict(method="sp", epochs=4, batch_size=6)
    settings.update(overrides)
    parts = tiny_components(**settings)
    saves, writes = [], []
    real_save, real_write = trainer_module.save_checkpoint, checkpoint_module._write_state

    def save(run_dir_, epoch, state):
        saves.append(epoch)
        return real_save(run_dir_, epoch, state)

    def write(path, state):
        writes.append(path.name)
        return real_write(path, state)

    monkeypatch.setattr(trainer_module, "save_checkpoint", save)
    monkeypatch.setattr(checkpoint_module, "_write_state", write)
    train = demo_train(parts.tokenizer, per_class=2)
    dev = demo_train(parts.tokenizer, per_class=3)[-3:]
    trainer = Trainer(parts.method, tiny_config(**settings), train, dev, None, run_dir, progress=False)
    return trainer, saves, writes


def test_checkpoints_every_epoch_with_interval_zero_and_best_copy_written_once(
    tiny_components, tiny_config, demo_train, tmp_path, monkeypatch
):
    trainer, saves, writes = _fit(
        tiny_components, tiny_config, demo_train, tmp_path, monkeypatch, checkpoint_every_s=0, lr=1e-12
    )  # lr ~0: dev accuracy never improves
    result = trainer.fit()
    assert saves == [0, 1, 2, 3]
    assert result.best_epoch == 1
    assert writes.count("best-0001.pt") == 1  # not rewritten while the best epoch stays the same
    assert [w for w in writes if w.startswith("epoch")] == [
        "epoch-0000.pt",
        "epoch-0001.pt",
        "epoch-0002.pt",
        "epoch-0003.pt",
    ]
    pointer = json.loads((tmp_path / "checkpoint" / "latest.json").read_text())
    assert pointer["best"]["file"] == "best-0001.pt" and pointer["epoch"] == 3
    assert sorted(p.name for p in (tmp_path / "checkpoint").iterdir()) == [
        "best-0001.pt",
        "epoch-0003.pt",
        "latest.json",
    ]


def test_checkpoint_interval_writes_only_at_the_end(tiny_components, tiny_config, demo_train, tmp_path, monkeypatch):
    trainer, saves, _ = _fit(tiny_components, tiny_config, demo_train, tmp_path, monkeypatch, checkpoint_every_s=3600)
    trainer.fit()
    assert saves == [3]  # an hour between checkpoints: only the one after the last epoch


def test_resume_from_an_interval_checkpoint_matches(tiny_components, tiny_config, demo_train, tmp_path, monkeypatch):
    """A run killed two epochs after its last checkpoint redoes those epochs and ends like an uninterrupted
    run (the clock is faked so that only epoch 1 is checkpointed before the kill)."""
    import xlprompt.trainer as trainer_module

    reference, _, _ = _fit(
        tiny_components, tiny_config, demo_train, tmp_path / "ref", monkeypatch, checkpoint_every_s=100, epochs=4
    )
    expected = reference.fit()
    clock = iter([0.0, 150.0, 160.0, 170.0] + [1000.0] * 100)  # start, after epochs 1, 2, 3 ...
    monkeypatch.setattr(trainer_module.time, "monotonic", lambda: next(clock))
    victim, saves, _ = _fit(
        tiny_components, tiny_config, demo_train, tmp_path / "run", monkeypatch, checkpoint_every_s=100, epochs=4
    )

    class Killed(Exception):
        pass

    def die(history):
        if len(history) == 3:
            raise Killed

    victim.on_epoch_end = die
    with pytest.raises(Killed):
        victim.fit()
    assert saves == [0]  # epoch 1 only: epochs 2 and 3 are lost
    monkeypatch.setattr(trainer_module.time, "monotonic", lambda: 0.0)
    resumed, _, _ = _fit(
        tiny_components, tiny_config, demo_train, tmp_path / "run", monkeypatch, checkpoint_every_s=100, epochs=4
    )
    got = resumed.fit()
    assert got.resumed_from_epoch == 0
    strip = lambda history: [{k: v for k, v in r.items() if k != "seconds"} for r in history]  # noqa: E731
    assert strip(got.history) == strip(expected.history)
    assert got.best_epoch == expected.best_epoch
    for key, value in reference.method.trainable_state().items():
        torch.testing.assert_close(resumed.method.trainable_state()[key], value, rtol=0, atol=0)


def test_rng_state_round_trip_on_cpu():
    from xlprompt.device import rng_state, set_rng_state

    state = rng_state(torch.device("cpu"))
    assert set(state) == {"cpu"}
    first = torch.rand(3)
    set_rng_state(state, torch.device("cpu"))
    assert torch.equal(torch.rand(3), first)
    set_rng_state(state["cpu"], torch.device("cpu"))  # the bare state of older checkpoints
    assert torch.equal(torch.rand(3), first)


# ------------------------------------------------------------------------------------------- CUDA
@needs_cuda
def test_cuda_bf16_train_evaluate_resume(tiny_config, tmp_path):
    """On a GPU in bf16: a 3-epoch MPT run killed after epoch 1 resumes (CPU and CUDA RNG restored) to the
    metrics of an uninterrupted run; evaluation runs under the token budget."""
    import xlprompt.trainer as trainer_module
    from xlprompt.experiment import run_experiment

    settings = dict(
        method="mpt",
        device="cuda",
        precision="bf16",
        epochs=3,
        checkpoint_every_s=0,
        eval_token_budget=4096,
        step_token_budget=256,
        eval_languages="en,de",
        scoring="labels",
        deterministic=True,
    )  # atomics would otherwise make two GPU runs differ in the last bits
    config = tiny_config(**settings)
    reference = run_experiment(config, tmp_path / "ref", progress=False, log=lambda _: None)
    assert reference["device"].startswith("cuda") and reference["precision"] == "bf16"
    real_save = trainer_module.save_checkpoint

    class Killed(Exception):
        pass

    def save_then_die(run_dir, epoch, state):
        real_save(run_dir, epoch, state)
        raise Killed

    trainer_module.save_checkpoint = save_then_die
    try:
        with pytest.raises(Killed):
            run_experiment(config, tmp_path / "run", progress=False, log=lambda _: None)
    finally:
        trainer_module.save_checkpoint = real_save
    state = torch.load(tmp_path / "run" / "checkpoint" / "epoch-0000.pt", weights_only=True)
    assert "cuda" in state["rng"]
    resumed = run_experiment(config, tmp_path / "run", progress=False, log=lambda _: None)

    def history(d):
        return [
            {k: v for k, v in json.loads(line).items() if k != "seconds"}
            for line in (d / "metrics.jsonl").read_text().splitlines()
        ]

    try:
        assert history(tmp_path / "run") == history(tmp_path / "ref")
        assert resumed["accuracy"] == reference["accuracy"]
    finally:
        from xlprompt.device import apply_determinism

        apply_determinism(RunConfig())  # the deterministic flags back to what they were


@needs_cuda
def test_cuda_step_has_one_host_sync(demo_train, demo_pairs):
    from xlprompt.experiment import build_components

    config = RunConfig(
        model="random:tiny",
        data_dir="builtin:demo",
        device="cuda",
        precision="bf16",
        method="mpt",
        shots=2,
        epochs=1,
        batch_size=6,
        max_length=64,
        step_token_budget=40,
        freeze_plm=True,
    )  # a frozen PLM: no sparse embedding gradient (its coalesce syncs)
    parts = build_components(config, torch.device("cuda"))
    trainer = Trainer(
        parts.method,
        config,
        demo_train(parts.tokenizer, per_class=2),
        [],
        demo_pairs(parts.tokenizer, n=5),
        None,
        progress=False,
    )
    gen = torch.Generator().manual_seed(0)
    trainer.train_step(trainer.train, trainer.parallel, gen)  # warm-up (allocations, cuBLAS handles)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with pytest.warns(UserWarning) as record:
            trainer.train_step(trainer.train, trainer.parallel, gen)
    finally:
        torch.cuda.set_sync_debug_mode(0)
    syncs = [w for w in record if "synchroniz" in str(w.message)]
    assert 1 <= len(syncs) <= 3, [str(w.message) for w in syncs]


# ------------------------------------------------------------------------------------------- predict
@pytest.fixture(scope="module")
def bf16_run(tmp_path_factory):
    from xlprompt.experiment import run_experiment

    config = RunConfig(
        model="random:tiny",
        data_dir="builtin:demo",
        device="cpu",
        method="mpt",
        shots=2,
        epochs=1,
        batch_size=6,
        max_length=64,
        eval_languages="en,de",
        precision="bf16",
        freeze_plm=True,
        eval_token_budget=512,
    )
    run_dir = tmp_path_factory.mktemp("bf16") / "run"
    results = run_experiment(config, run_dir, progress=False, log=lambda _: None)
    return run_dir, results


def test_predict_uses_the_runs_precision_and_device(bf16_run, monkeypatch):
    import xlprompt.evaluate as evaluate_module
    from xlprompt.predict import load_run

    run_dir, results = bf16_run
    assert results["precision"] == "bf16"
    seen = []
    original = evaluate_module.predict

    def spy(method, examples, lang, batch_size, autocast_dtype=None, int8=False, token_budget=0):
        seen.append((autocast_dtype, token_budget, method.device.type))
        return original(method, examples, lang, batch_size, autocast_dtype, int8, token_budget)

    monkeypatch.setattr(evaluate_module, "predict", spy)
    predictor = load_run(run_dir)
    predictor.predict([("A man sleeps.", "A person rests.")], lang="de")
    assert seen == [(torch.bfloat16, 512, "cpu")]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message where there is no GPU")
def test_predict_on_a_missing_gpu_is_one_line(bf16_run):
    from click.testing import CliRunner

    from xlprompt.cli import cli

    run_dir, _ = bf16_run
    args = ["predict", "--run", str(run_dir), "--premise", "A man sleeps.", "--hypothesis", "A person rests."]
    result = CliRunner().invoke(cli, args + ["--device", "cuda"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "no CUDA device is available" in result.output and "--device cpu" in result.output
    ok = CliRunner().invoke(cli, args + ["--device", "cpu"])
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.split("\t")[0].strip() in ("entailment", "neutral", "contradiction")


def test_label_ids_cached_during_evaluation_serve_training(tiny_components, demo_train):
    """The label-word ids are made once per language; made first under inference mode (evaluation), they must
    still work in a training step's autograd graph."""
    parts = tiny_components(method="sp")
    method = parts.method
    with torch.inference_mode():
        first = method.label_ids("en")
    assert method.label_ids("en") is first and not first.is_inference()
    out = method.training_loss(demo_train(parts.tokenizer, per_class=1), None, torch.Generator())
    out.loss.backward()
    assert method.prompt_encoder.embedding.grad is not None


@needs_cuda
def test_cuda_predict_of_a_cpu_run(bf16_run):
    """A run trained on the CPU predicts on the GPU (--device cuda) in its precision; its probabilities are
    close to the CPU's (bf16 on both: only the device differs)."""
    from xlprompt.predict import load_run

    run_dir, _ = bf16_run
    pairs = [("A man sleeps.", "A person rests."), ("Two dogs run.", "Nobody is outside.")]
    on_gpu, on_cpu = load_run(run_dir, device="cuda"), load_run(run_dir, device="cpu")
    assert on_gpu.method.device.type == "cuda" and on_gpu.autocast_dtype is torch.bfloat16
    torch.testing.assert_close(on_gpu.scores(pairs, "de"), on_cpu.scores(pairs, "de"), rtol=0.05, atol=0.05)
