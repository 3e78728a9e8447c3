"""PromptModel in the Hugging Face ``Trainer`` and in a ``DataLoader``, as a researcher uses it.

Checkpoints save (no aliased tensors) and resume to the parameters of an uninterrupted run; the collator holds no
state, so two data-loader workers give the batches of none; ``evaluate()`` reports ``eval_loss``; the metrics and
the logged loss parts match hand computations; ids come from the data or its content, never from positions.
"""

from __future__ import annotations

import json
import math

import pytest
import torch

import xlprompt

TINY = dict(
    model="random:tiny",
    data_dir="builtin:demo",
    device="cpu",
    shots=2,
    batch_size=3,
    max_length=64,
    lr=3e-3,
    weight_decay=0.0,
    scoring="labels",
    eval_batch_size=32,
)


def args_for(out, **overrides):
    from transformers import TrainingArguments

    values = dict(
        output_dir=str(out),
        num_train_epochs=2,
        per_device_train_batch_size=3,
        learning_rate=3e-3,
        weight_decay=0.0,
        report_to=[],
        save_strategy="epoch",
        logging_steps=1,
        use_cpu=True,
        disable_tqdm=True,
        seed=1,
    )
    values.update(overrides)
    return TrainingArguments(**values)


def trainer_for(model, data, out, **overrides):
    from transformers import Trainer

    return Trainer(
        model=model,
        args=args_for(out, **overrides),
        train_dataset=model.train_dataset(data.train),
        eval_dataset=data.dev,
        data_collator=model.hf_collator,
        compute_metrics=model.compute_metrics,
        callbacks=[model.loss_parts_callback()],
    )


@pytest.fixture(scope="module")
def mpt_data():
    config = xlprompt.RunConfig(method="mpt", **TINY)
    return config, xlprompt.load_data(config)


def test_the_state_dict_holds_every_tensor_once_and_loads_back_tied(tmp_path, mpt_data):
    from safetensors.torch import load_file, save_file

    config, data = mpt_data
    model = xlprompt.PromptModel.from_config(config, parallel=data.parallel)
    state = model.state_dict()
    storages = [(t.untyped_storage().data_ptr(), t.storage_offset()) for t in state.values() if t.numel()]
    assert len(storages) == len(set(storages))  # no tensor under two names
    plm = model.method.plm
    assert plm.decoder.weight is plm.word_embeddings.weight  # XLM-R's tie, kept in the model
    save_file(state, tmp_path / "w.safetensors")  # what the Trainer does with a model that is no PreTrainedModel
    with torch.no_grad():
        plm.word_embeddings.weight.add_(1.0)
    saved = load_file(tmp_path / "w.safetensors")
    tied = [k for k in saved if k.endswith(("embeddings.word_embeddings.weight", "lm_head.decoder.weight"))]
    assert len(tied) == 1  # the tied matrix once, under one of its two names
    model.load_state_dict(saved, strict=True)  # strict: the other name is restored from it
    assert torch.equal(plm.word_embeddings.weight, saved[tied[0]])
    assert plm.decoder.weight is plm.word_embeddings.weight  # still one tensor


def test_trainer_resumes_from_the_epoch_checkpoint_to_the_uninterrupted_parameters(tmp_path, mpt_data):
    from safetensors.torch import load_file

    config, data = mpt_data
    model = xlprompt.PromptModel.from_config(config, parallel=data.parallel)
    trainer = trainer_for(model, data, tmp_path / "full", eval_strategy="epoch", load_best_model_at_end=True)
    trainer.train()
    steps = math.ceil(len(data.train) / 3)
    assert steps == 2
    assert trainer.train_dataset.epoch == 1  # the Trainer told the dataset its epoch: epoch 2 brought other pairs
    full = tmp_path / "full"
    assert sorted(p.name for p in full.iterdir()) == ["checkpoint-2", "checkpoint-4"]
    epoch1, epoch2 = (load_file(full / f"checkpoint-{s}" / "model.safetensors") for s in (2, 4))
    assert any(not torch.equal(epoch1[k], epoch2[k]) for k in epoch1)  # epoch 2 trained
    # load_best_model_at_end (on eval_loss) left the best checkpoint's parameters in the model
    best = load_file(f"{trainer.state.best_model_checkpoint}/model.safetensors")
    assert all(torch.equal(value, best[name]) for name, value in model.state_dict().items())

    # the loss parts are logged with every loss: MPT's loss is Eq. 8, α·CE + (1-α)·KL, per step (logging_steps=1)
    logged = [h for h in trainer.state.log_history if "loss" in h]
    assert len(logged) == 2 * steps
    alpha = model.run_config.alpha
    for record in logged:
        assert record["loss"] == pytest.approx(alpha * record["loss_ce"] + (1 - alpha) * record["loss_kl"], rel=1e-4)
        assert record["loss_kl"] > 0  # the alignment pairs reached the step
    assert "eval_loss" in trainer.state.log_history[-2]

    trainer.save_model(str(tmp_path / "saved"))  # aliased tensors made this fail
    assert set(load_file(tmp_path / "saved" / "model.safetensors")) == set(model.state_dict())

    # resumed from the end of epoch 1 by new objects: epoch 2 ends with the uninterrupted run's parameters
    model = xlprompt.PromptModel.from_config(config, parallel=data.parallel)
    trainer = trainer_for(model, data, tmp_path / "resumed", eval_strategy="epoch", load_best_model_at_end=True)
    trainer.train(resume_from_checkpoint=str(full / "checkpoint-2"))
    resumed = load_file(tmp_path / "resumed" / "checkpoint-4" / "model.safetensors")
    assert set(resumed) == set(epoch2)
    for name, value in epoch2.items():
        assert torch.equal(resumed[name], value), name


def test_two_data_loader_workers_give_the_batches_of_none(mpt_data):
    from torch.utils.data import DataLoader

    config, data = mpt_data
    model = xlprompt.PromptModel.from_config(config, parallel=data.parallel)
    dataset = model.train_dataset(data.train)

    def batches(workers):
        out = []
        for epoch in range(3):
            dataset.set_epoch(epoch)
            loader = DataLoader(dataset, batch_size=3, collate_fn=model.hf_collator, num_workers=workers)
            for features in loader:
                batch = features["batch"]
                out.append(([ex.uid for ex in batch.examples], [p.source.uid for p in batch.pairs], batch.seed))
        return out

    serial, parallel = batches(0), batches(2)
    assert serial == parallel
    # by hand: item i of epoch e brings stream position e*n + i (one pair per example: align = batch size), and
    # the stream is the corpus in one seeded order per cycle: consecutive batches never repeat a pair until the
    # corpus is used up
    n_pairs = len(data.parallel)
    seen = [uid for _, pairs, _ in serial for uid in pairs]
    assert len(seen) == 3 * len(data.train)
    first_cycle = seen[: min(len(seen), n_pairs)]
    assert len(set(first_cycle)) == len(first_cycle)
    assert len({seed for _, _, seed in serial}) == len(serial)  # every step its own draws


def test_trainer_with_two_workers_trains_the_parameters_of_none(tmp_path, mpt_data):
    config, data = mpt_data
    finals = []
    for workers in (0, 2):
        model = xlprompt.PromptModel.from_config(config, parallel=data.parallel)
        trainer_for(
            model, data, tmp_path / str(workers), save_strategy="no", num_train_epochs=1, dataloader_num_workers=workers
        ).train()
        finals.append(model.state_dict())
    for name, value in finals[0].items():
        assert torch.equal(finals[1][name], value), name


def test_evaluate_reports_eval_loss_and_the_metrics_of_the_scores(tmp_path):
    config = xlprompt.RunConfig(method="sp", **TINY)
    data = xlprompt.load_data(config)
    model = xlprompt.PromptModel.from_config(config)
    trainer = trainer_for(model, data, tmp_path, per_device_eval_batch_size=64)
    metrics = trainer.evaluate()
    # by hand from the model's class probabilities: SP's loss is the cross-entropy of the label words' softmax
    probs = model.scores([(ex.premise, ex.hypothesis) for ex in data.dev])
    gold = [ex.label for ex in data.dev]
    cross_entropy = -sum(math.log(probs[i, g].item()) for i, g in enumerate(gold)) / len(gold)
    assert metrics["eval_loss"] == pytest.approx(cross_entropy, rel=1e-5)
    predicted = probs.argmax(-1).tolist()
    assert metrics["eval_accuracy"] == pytest.approx(100 * sum(p == g for p, g in zip(predicted, gold)) / len(gold))


def test_compute_metrics_against_a_hand_computation():
    config = xlprompt.RunConfig(method="sp", **TINY)
    model = xlprompt.PromptModel.from_config(config)
    logits = torch.tensor([[3.0, 1, 0], [0, 2, 1], [0, 5, 1], [1, 4, 0], [0, 0, 1]])  # predicted 0, 1, 1, 1, 2
    gold = torch.tensor([0, 0, 1, 2, 2])
    # class 0: gold 2, predicted 1, right 1 → F1 2/3; class 1: gold 1, predicted 3, right 1 → 1/2;
    # class 2: gold 2, predicted 1, right 1 → 2/3; accuracy 3/5
    metrics = model.compute_metrics((logits.numpy(), gold.numpy()))
    assert metrics["accuracy"] == pytest.approx(60.0)
    assert metrics["macro_f1"] == pytest.approx(100 * (2 / 3 + 1 / 2 + 2 / 3) / 3)


def test_remove_unused_columns_names_the_fix(tmp_path):
    from transformers import Trainer

    config = xlprompt.RunConfig(method="sp", **TINY)
    model = xlprompt.PromptModel.from_config(config)
    rows = [{"premise": "A man sleeps.", "hypothesis": "Someone rests.", "label": "entailment"}] * 3
    trainer = Trainer(
        model=model,
        args=args_for(tmp_path, save_strategy="no", max_steps=1),  # remove_unused_columns: the default, True
        train_dataset=rows,
        data_collator=model.hf_collator,
    )
    with pytest.raises(xlprompt.DataError, match=r"pass TrainingArguments\(remove_unused_columns=False\)"):
        trainer.train()


def test_mpt_without_pairs_in_a_training_batch_is_refused(mpt_data):
    config, data = mpt_data
    model = xlprompt.PromptModel.from_config(config, parallel=data.parallel)
    model.train()
    with pytest.raises(xlprompt.DataError, match=r"model.collate\(examples, step=step\)"):
        model.training_loss(model.collate(data.train))


def test_dict_examples_get_ids_from_their_content_or_their_data(mpt_data):
    config, data = mpt_data
    model = xlprompt.PromptModel.from_config(config, parallel=data.parallel)
    a = {"premise": "My house is big.", "hypothesis": "The house is large.", "label": 0}
    b = {"premise": "The cat is red.", "hypothesis": "A cat sleeps.", "label": 1}
    first, second = model.collate([a], step=0), model.collate([b], step=1)
    assert first.examples[0].uid != second.examples[0].uid  # both at position 0
    assert model.collate([b, a], step=0).examples[1].uid == first.examples[0].uid  # position does not matter
    assert model.collate([{**a, "id": 17}], step=0).examples[0].uid == "17"
    assert model.collate([xlprompt.Example(a["premise"], a["hypothesis"], 0, "en", "given")]).examples[0].uid == "given"
    unnamed = xlprompt.Example(a["premise"], a["hypothesis"], 0, "en")
    assert model.collate([unnamed]).examples[0].uid == first.examples[0].uid


def test_softmv_trains_each_batch_on_its_own_code_switched_copy(tmp_path):
    from xlprompt.data.muse import SOFTMV_LANGUAGES

    muse = tmp_path / "muse"
    muse.mkdir()
    for lang in SOFTMV_LANGUAGES:
        words = ["house", "big", "cat", "red", "my", "the", "is"]
        (muse / f"en-{lang}.txt").write_text("".join(f"{w} {lang}-{w}\n" for w in words), "utf-8")
    words = tmp_path / "words.json"
    words.write_text(json.dumps({"en": ["yes", "maybe", "no"], "de": ["der", "die", "das"]}), "utf-8")
    config = xlprompt.RunConfig(
        method="softmv", **TINY, dictionary_dir=str(muse), label_words_file=str(words), softmv_cosda_rate=1.0
    )
    model = xlprompt.PromptModel.from_config(config)
    model.train()
    house = {"premise": "my house is big", "hypothesis": "the house is big", "label": 0}
    cat = {"premise": "the cat is red", "hypothesis": "my cat is red", "label": 2}
    for batch in (model.collate([house], step=0), model.collate([cat], step=1)):
        model.training_loss(batch)
        copy = model.method.switched(batch.examples[0])
        original = house if batch.examples[0].premise_raw.startswith("my house") else cat
        assert copy.premise_raw == original["premise"]  # the copy of this batch's own example
        assert copy.premise_text != original["premise"] and "-" in copy.premise_text  # and code-switched


def test_pct_draws_an_examples_language_independently_of_its_position():
    config = xlprompt.RunConfig(method="pct", **TINY)
    model = xlprompt.PromptModel.from_config(config)
    rows = [
        {"premise": f"Sentence number {i} is here.", "hypothesis": f"There is a sentence {i}.", "label": i % 3}
        for i in range(6)
    ]
    generator = torch.Generator().manual_seed(0)
    forward = model.method.other_languages(model.collate(rows).examples, generator)
    backward = model.method.other_languages(model.collate(rows[::-1]).examples, generator)
    assert forward == backward[::-1]
    alone = [model.method.other_languages(model.collate([row]).examples, generator)[0] for row in rows]
    assert alone == forward
    assert len(set(forward)) > 1  # the draws differ between examples (else the test could not fail)
