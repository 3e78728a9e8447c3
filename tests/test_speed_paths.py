"""The fast paths compute the same numbers as the plain ones (they must not change the math)."""

from __future__ import annotations

import random

import pytest
import torch

from xlprompt.batching import collate, token_budget_chunks


def _grads(method) -> dict[str, torch.Tensor]:
    out = {}
    for name, p in method.named_parameters():
        if p.grad is not None:
            g = p.grad.to_dense() if p.grad.is_sparse else p.grad
            out[name] = g.detach().clone()
    return out


def test_encode_at_equals_full_encoder_at_the_positions(tiny_plm):
    plm = tiny_plm(seed=3).eval()
    torch.manual_seed(0)
    ids = torch.randint(5, 200, (4, 11))
    attention = torch.ones_like(ids)
    attention[1, 7:] = 0  # a padded row
    attention[3, 9:] = 0
    positions = torch.tensor([0, 6, 10, 4])
    embeds = plm.embed(ids)
    with torch.no_grad():
        full = plm.encode(embeds, attention)[torch.arange(4), positions]
        fast = plm.encode_at(embeds, attention, positions)
    torch.testing.assert_close(fast, full, rtol=1e-5, atol=1e-5)


def test_encode_at_restores_the_layer_stack(tiny_plm):
    plm = tiny_plm()
    layers_before = list(plm.encoder.encoder.layer)
    plm.encode_at(plm.embed(torch.randint(5, 50, (2, 6))), torch.ones(2, 6, dtype=torch.long), torch.tensor([1, 2]))
    assert list(plm.encoder.encoder.layer) == layers_before


@pytest.mark.parametrize("alpha", [0.5, 0.0, 0.8])
def test_mpt_micro_batches_give_the_gradient_of_eq8(tiny_components, demo_train, demo_pairs, alpha):
    """Backward over the micro-batches (sparse embedding grad, deferred tied-head grad) == one forward of Eq. 8."""
    parts = tiny_components(method="mpt", alpha=alpha)
    method = parts.method.eval()  # no dropout: both paths see the same function
    batch = demo_train(parts.tokenizer, per_class=2)
    pairs = demo_pairs(parts.tokenizer, n=5)
    gen = torch.Generator().manual_seed(0)

    method.step_token_budget = None
    out = method.training_loss(batch, pairs, gen)
    out.loss.backward()
    reference = _grads(method)
    method.zero_grad(set_to_none=True)

    method.step_token_budget = 40  # forces several chunks of classification rows and of pairs
    total = 0.0
    pieces = 0
    for piece in method.gradient_pieces(batch, pairs, gen):
        piece.loss.backward()
        total += piece.loss.item()
        pieces += 1
    assert pieces >= 3
    fast = _grads(method)
    assert total == pytest.approx(out.loss.item(), rel=1e-5)
    assert set(fast) == set(reference)
    for name, grad in reference.items():
        torch.testing.assert_close(fast[name], grad, rtol=1e-4, atol=1e-6, msg=name)
    # the tied embedding/decoder weight got its (dense) gradient exactly once
    assert not method.plm.word_embeddings.weight.grad.is_sparse


def test_token_budget_chunks_cover_every_index_once_within_budget():
    rng = random.Random(0)
    for _ in range(50):
        lengths = [rng.randint(1, 60) for _ in range(rng.randint(1, 40))]
        budget = rng.randint(30, 400)
        chunks = token_budget_chunks(lengths, budget)
        flat = [i for c in chunks for i in c]
        assert sorted(flat) == list(range(len(lengths)))
        for chunk in chunks:
            assert len(chunk) == 1 or len(chunk) * max(lengths[i] for i in chunk) <= budget
        # longest first, so that each chunk is padded to its first member
        assert [lengths[i] for i in flat] == sorted(lengths, reverse=True)


def test_int8_evaluation_mostly_agrees_and_restores_fp32(tiny_components, demo_train):
    from xlprompt.evaluate import predict

    parts = tiny_components(method="sp")
    method = parts.method
    examples = demo_train(parts.tokenizer, per_class=4)
    fp32, scores32 = predict(method, examples, "en", 8)
    int8, _ = predict(method, examples, "en", 8, int8=True)
    agree = sum(a == b for a, b in zip(fp32, int8)) / len(fp32)
    assert agree >= 0.75
    # after the block the fp32 layers are back: same scores as before
    again, scores_again = predict(method, examples, "en", 8)
    assert again == fp32
    torch.testing.assert_close(scores_again, scores32)


def test_collate_pads_to_the_batch_not_to_max_length(tiny_components, demo_train):
    parts = tiny_components(method="sp", max_length=256)
    method = parts.method
    encoded = [method.encode(ex) for ex in demo_train(parts.tokenizer, per_class=1)]
    batch = collate(encoded, method.special.pad_id)
    assert batch.input_ids.shape[1] == max(len(e.input_ids) for e in encoded) < 256


def test_eval_int8_config_key_runs_the_int8_path(tiny_config, tmp_path, monkeypatch):
    from xlprompt.experiment import run_experiment
    from xlprompt.models.masked_lm import MaskedLM

    entered = []
    original = MaskedLM.int8_encoder

    def spy(self):
        entered.append(True)
        return original(self)

    monkeypatch.setattr(MaskedLM, "int8_encoder", spy)
    results = run_experiment(
        tiny_config(method="sp", eval_int8=True, eval_languages="en,de"),
        tmp_path / "r",
        progress=False,
        log=lambda _: None,
    )
    assert entered, "eval_int8=true did not evaluate through the int8 encoder"
    assert set(results["accuracy"]) == {"en", "de", "avg"}
