"""The public Python API, used as a user would: only names of ``xlprompt.__all__`` (plus torch, transformers).

MPT trains to 100% train accuracy on the shipped demo sample in a plain PyTorch loop and in the Hugging Face
``Trainer``; a saved model predicts exactly as the one it was saved from; a method defined here, registered
with ``register_method``, runs through ``run`` and ``run_sweep``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile

import pytest
import torch
import torch.nn.functional as F

import xlprompt

DEMO = dict(
    model="random:tiny",
    data_dir="builtin:demo",
    device="cpu",
    shots=2,
    batch_size=6,
    max_length=64,
    lr=3e-3,
    weight_decay=0.0,
    scoring="labels",
    eval_batch_size=32,
)


def test_public_names_are_documented_and_resolve():
    assert len(xlprompt.__all__) == len(set(xlprompt.__all__))
    for name in xlprompt.__all__:
        value = getattr(xlprompt, name)
        if name != "__version__":
            assert (value.__doc__ or "").strip(), f"xlprompt.{name} has no docstring"
    assert set(xlprompt.__all__) <= set(dir(xlprompt))
    with pytest.raises(AttributeError):
        xlprompt.no_such_name  # noqa: B018


def test_import_xlprompt_loads_neither_torch_nor_transformers():
    code = (
        "import sys, xlprompt; c = xlprompt.RunConfig(method='sp'); "
        "bad = [m for m in ('torch', 'transformers') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_mpt_in_a_plain_pytorch_loop_reaches_100_percent_train_accuracy():
    config = xlprompt.RunConfig(method="mpt", **DEMO)
    data = xlprompt.load_data(config)
    model = xlprompt.PromptModel.from_config(config, parallel=data.parallel)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.0)
    before = model.accuracy(data.train)
    model.train()
    for step in range(40):
        loss = model.training_loss(model.collate(data.train, step=step))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    assert model.last_loss_parts["kl"] > 0  # Eq. 7's alignment task ran on the parallel pairs
    assert before < 1.0
    assert model.accuracy(data.train) == 1.0


def test_mpt_in_the_hugging_face_trainer_reaches_100_percent_train_accuracy():
    from transformers import Trainer, TrainingArguments

    config = xlprompt.RunConfig(method="mpt", **DEMO)
    data = xlprompt.load_data(config)
    model = xlprompt.PromptModel.from_config(config, parallel=data.parallel)
    assert model.accuracy(data.train) < 1.0
    args = TrainingArguments(
        output_dir=tempfile.mkdtemp(),
        num_train_epochs=40,
        per_device_train_batch_size=6,
        learning_rate=3e-3,
        weight_decay=0.0,
        lr_scheduler_type="constant",
        report_to=[],
        save_strategy="no",
        logging_strategy="no",
        remove_unused_columns=False,
        use_cpu=True,
        disable_tqdm=True,
        seed=1,
    )
    trainer = Trainer(
        model=model, args=args, train_dataset=model.train_dataset(data.train), data_collator=model.hf_collator
    )
    trainer.train()
    assert model.accuracy(data.train) == 1.0


@pytest.mark.parametrize("method", ["mpt", "sp", "ft", "pct"])
def test_save_pretrained_round_trips_predictions_exactly(tmp_path, method):
    config = xlprompt.RunConfig(method=method, **DEMO)
    data = xlprompt.load_data(config)
    model = xlprompt.PromptModel.from_config(config, parallel=data.parallel)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr)
    model.train()
    for step in range(3):  # trained weights, not the initial ones, must come back
        model.training_loss(model.collate(data.train, step=step)).backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    model.save_pretrained(tmp_path / "model")
    loaded = xlprompt.PromptModel.from_pretrained(tmp_path / "model")
    fresh = xlprompt.PromptModel.from_config(config)
    for lang in ("en", "de", "sw"):
        pairs = [(ex.premise, ex.hypothesis) for ex in data.test[lang]]
        assert torch.equal(model.scores(pairs, lang), loaded.scores(pairs, lang))
        assert [p.label for p in model.predict(pairs, lang)] == [p.label for p in loaded.predict(pairs, lang)]
    assert not torch.equal(fresh.scores(pairs, "sw"), loaded.scores(pairs, "sw"))  # the training was saved
    assert (tmp_path / "model" / "tokenizer").is_dir()  # portable: the tokenizer travels with the model


def test_save_pretrained_refuses_a_foreign_folder(tmp_path):
    config = xlprompt.RunConfig(method="sp", **DEMO)
    model = xlprompt.PromptModel.from_config(config)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(xlprompt.CheckpointError, match="not empty and holds no saved xlprompt model"):
        model.save_pretrained(tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    with pytest.raises(xlprompt.CheckpointError, match="no xlprompt_model.json"):
        xlprompt.PromptModel.from_pretrained(tmp_path / "mine")


class BagOfEmbeddings(xlprompt.Method):
    """A toy method: the mean of the PLM's input embeddings of both texts, then a linear head."""

    name = "bag"

    def __init__(self, config, plm, tokenizer, verbalizer):
        super().__init__(config, plm, tokenizer, verbalizer)
        width = plm.word_embeddings.weight.shape[1]
        self.head = torch.nn.Linear(width, len(config.task_spec().labels))

    def extra_modules(self):
        return {"head": self.head}

    def _features(self, batch):
        rows = [torch.tensor(ex.premise + ex.hypothesis, device=self.device) for ex in batch]
        return torch.stack([self.plm.word_embeddings(ids).mean(0) for ids in rows])

    def training_loss(self, batch, parallel, generator):
        ce = F.cross_entropy(self.head(self._features(batch)), self.labels_tensor(batch))
        return xlprompt.LossOutput(ce, {"ce": ce.item()})

    def class_scores(self, batch, lang):
        return self.head(self._features(batch))


@pytest.fixture
def bag_method():
    xlprompt.register_method(
        "bag",
        BagOfEmbeddings,
        recipe={"lr": 5e-3, "epochs": 30, "batch_size": 6},
        recipe_sources={"lr": "this test"},
        replace=True,
    )
    yield "bag"
    from xlprompt.methods import unregister_method

    unregister_method("bag")


def test_a_registered_method_runs_through_run(tmp_path, bag_method):
    config = xlprompt.RunConfig(
        method=bag_method,
        model="random:tiny",
        data_dir="builtin:demo",
        device="cpu",
        shots=2,
        max_length=64,
        freeze_plm=True,
    )
    assert config.lr == 5e-3 and config.epochs == 30  # its recipe is resolved like a built-in method's
    assert config.recipe_sources()["lr"] == "bag: this test"
    results = xlprompt.run(config, tmp_path / "run")
    assert results["method"] == "bag"
    assert set(results["accuracy"]) == {*("ar bg de el en es fr hi ru sw th tr ur vi zh".split()), "avg"}
    assert (tmp_path / "run" / "prompt.safetensors").is_file()  # its head, saved with the run
    predictor = xlprompt.load_run(tmp_path / "run")
    assert len(predictor.predict([("A man plays.", "Someone plays.")], lang="de")) == 1


def test_a_registered_method_runs_through_a_sweep(tmp_path, bag_method):
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(
        "name: toy\nbase: {method: bag, model: 'random:tiny', data_dir: 'builtin:demo', device: cpu,"
        " max_length: 64, freeze_plm: true, epochs: 2}\n"
        "groups:\n  toy:\n    grid: {shots: [2], seed: [1, 2]}\n",
        "utf-8",
    )
    summary = xlprompt.run_sweep(sweep, tmp_path / "store.db")
    assert summary.ran == 2 and not summary.failed
    again = xlprompt.run_sweep(sweep, tmp_path / "store.db")
    assert again.ran == 0 and again.finished_before == 2  # finished runs are never done twice


def test_register_method_refuses_bad_input(bag_method):
    with pytest.raises(xlprompt.ConfigError, match="already registered"):
        xlprompt.register_method("bag", BagOfEmbeddings)
    with pytest.raises(xlprompt.ConfigError, match="not recipe keys"):
        xlprompt.register_method("bag2", BagOfEmbeddings, recipe={"learning_rate": 1.0})
    with pytest.raises(xlprompt.ConfigError, match="method must be one of .*bag"):
        xlprompt.RunConfig(method="bagg")


def test_register_task_runs_a_task_defined_in_python(tmp_path):
    train = tmp_path / "train.tsv"
    rows = ["idx\ttext\tlabel"] + [f"{i}\t{'good fine great'.split()[i % 3]} thing {i}\t{i % 2}" for i in range(12)]
    train.write_text("\n".join(rows) + "\n", "utf-8")
    task = xlprompt.Task(
        name="toy-sentiment",
        labels=("negative", "positive"),
        languages=("en",),
        label_words=("no", "yes"),
        text_fields=("text",),
        tiny_label_words=("no", "yes"),
        files={"train": {"en": str(train)}, "test": {"en": str(train)}},
    )
    xlprompt.register_task(task, replace=True)
    config = xlprompt.RunConfig(
        method="sp", task="toy-sentiment", model="random:tiny", device="cpu", shots=2, epochs=1, max_length=32
    )
    assert config.label_words == "no,yes"
    with pytest.raises(xlprompt.ConfigError, match="method softmv cannot run task toy-sentiment"):
        xlprompt.RunConfig(method="softmv", task="toy-sentiment", model="random:tiny")
    with pytest.raises(xlprompt.ConfigError, match="already registered"):
        xlprompt.register_task(task)
    from xlprompt.tasks.base import unregister_task

    unregister_task("toy-sentiment")
