"""XPE and DUAL compute what bmikaberidze/XPE computes: the cross-prompt encoder's prompt (direct vectors, then the
MLP-encoded ones), PEFT's prompted input to XLMRobertaForSequenceClassification, its loss, and the Trainer's
AdamW steps under transformers' cosine-with-hard-restarts schedule with warm-up. Every expectation is computed
here by hand (the MLP, the schedule, AdamW) or by transformers' own classification model on the same weights,
never by calling xlprompt back."""

from __future__ import annotations

import math

import pytest
import torch

from xlprompt.trainer import Trainer


def _no_dropout(module):
    for m in module.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0


def reference_encoder(method):
    """transformers' XLMRobertaModel (the classification model's body) holding the method's PLM weights, in
    float64, dropout off."""
    from transformers import XLMRobertaModel

    hf = method.plm.hf_model
    body = XLMRobertaModel(hf.config, add_pooling_layer=False)
    body.load_state_dict(hf.roberta.state_dict(), strict=True)
    _no_dropout(body)
    return body.double().train()


def reference_prompt(weights, layers):
    """cross_prompt_encoder.py:1235-1240 and gen_mlp_head (l. 1268-1282), written out: [m, d]."""
    parts = []
    if "spt_embedding.weight" in weights:
        parts.append(weights["spt_embedding.weight"])
    if "xpe_embedding.weight" in weights:
        x = weights["xpe_embedding.weight"]
        for i in range(layers):  # Linear, ReLU, (Dropout 0)
            x = torch.relu(x @ weights[f"xpe_head.{3 * i}.weight"].T + weights[f"xpe_head.{3 * i}.bias"])
        x = x @ weights[f"xpe_head.{3 * layers}.weight"].T + weights[f"xpe_head.{3 * layers}.bias"]
        parts.append(x)
    return torch.cat(parts)


def reference_loss(tok, body, batch, weights, max_length):
    """PEFT 0.14 PeftModelForSequenceClassification.forward on XLMRobertaForSequenceClassification: the prompt
    before the word embeddings of ``<s> P </s></s> H </s>``, ones before the mask, RoBERTa's classification head at
    position 0 (dense, tanh, out_proj), cross-entropy. Returns (loss, logits)."""
    rows = [
        [tok.cls_token_id, *ex.premise, tok.sep_token_id, tok.sep_token_id, *ex.hypothesis, tok.sep_token_id]
        for ex in batch
    ]
    assert max(map(len, rows)) <= max_length  # no truncation to imitate
    longest = max(map(len, rows))
    ids = torch.tensor([r + [tok.pad_token_id] * (longest - len(r)) for r in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (longest - len(r)) for r in rows])
    prompt = reference_prompt(weights, 2)
    n, m = len(batch), prompt.shape[0]
    embeds = torch.cat([prompt.unsqueeze(0).expand(n, -1, -1), body.embeddings.word_embeddings(ids)], 1)
    hidden = body(inputs_embeds=embeds, attention_mask=torch.cat([torch.ones(n, m, dtype=torch.long), mask], 1))
    first = hidden.last_hidden_state[:, 0]
    x = torch.tanh(first @ weights["head.dense.weight"].T + weights["head.dense.bias"])
    logits = x @ weights["head.out_proj.weight"].T + weights["head.out_proj.bias"]
    labels = torch.tensor([ex.label for ex in batch])
    loss = -torch.log_softmax(logits, -1)[torch.arange(n), labels].mean()
    return loss, logits


def hf_cosine_restarts(step, total, warmup, cycles):
    """transformers 4.49 optimization.py _get_cosine_with_hard_restarts_schedule_with_warmup_lr_lambda."""
    if step < warmup:
        return step / max(1, warmup)
    progress = (step - warmup) / max(1, total - warmup)
    if progress >= 1.0:
        return 0.0
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * ((cycles * progress) % 1.0))))


def _trainable(method):
    return {
        **{n: p for n, p in method.cross_prompt_encoder.named_parameters()},
        **{"head." + n: p for n, p in method.head.named_parameters()},
    }


@pytest.mark.parametrize("method_name, n_direct, n_encoded", [("xpe", 0, 20), ("dual", 14, 6)])
def test_forward_loss_and_three_steps_are_the_references(tiny_components, demo_train, method_name, n_direct, n_encoded):
    parts = tiny_components(method=method_name, batch_size=2, epochs=4, lr=0.01, max_length=128)
    method, config = parts.method, parts.method.config
    assert (config.prompt_length, config.xpe_hidden_size, config.xpe_layers, config.freeze_plm) == (20, 256, 2, True)
    encoder = method.cross_prompt_encoder
    assert (encoder.direct, encoder.encoded) == (n_direct, n_encoded)  # int(20 * 0.3) = 6 encoded, after 14 direct
    train = demo_train(parts.tokenizer)  # 6 examples: 3 steps per epoch, 12 steps, ceil(1.2) = 2 warm-up steps
    _no_dropout(method)
    trainer = Trainer(method, config, train, [], None, None, progress=False)
    method.train()
    assert not any(p.requires_grad for p in method.plm.parameters())
    body = reference_encoder(method)
    theta = {n: p.detach().clone().double() for n, p in _trainable(method).items()}
    start = {n: t.clone() for n, t in theta.items()}
    m_state = {n: torch.zeros_like(t) for n, t in theta.items()}
    v_state = {n: torch.zeros_like(t) for n, t in theta.items()}
    lrs = []
    for step, batch in enumerate([train[0:2], train[2:4], train[4:6]]):
        leaves = {n: t.clone().requires_grad_() for n, t in theta.items()}
        loss, logits = reference_loss(parts.tokenizer, body, batch, leaves, config.max_length)
        with torch.no_grad():
            ours = method.class_scores(batch, "en").double()
        assert torch.allclose(ours, logits.detach(), atol=1e-5), (ours, logits)
        logged = trainer.train_step(batch, None, torch.Generator().manual_seed(0), 0, step)
        assert logged["loss"] == pytest.approx(loss.item(), abs=1e-5)
        loss.backward()
        norm = math.sqrt(sum((leaves[n].grad ** 2).sum().item() for n in theta))
        clip = min(1.0, 1.0 / (norm + 1e-6))  # max_grad_norm 1.0, as torch's clip_grad_norm_
        lr = 0.01 * hf_cosine_restarts(step, 12, 2, 2)
        lrs.append(lr)
        t = step + 1
        for n in theta:  # torch AdamW (the Trainer's adamw_torch): θ·(1 − lr·λ), then the bias-corrected step
            g = leaves[n].grad * clip
            decay = 0.0 if n.endswith("bias") else 0.01  # Trainer.get_decay_parameter_names: no decay on biases
            theta[n] = theta[n] * (1 - lr * decay)
            m_state[n] = 0.9 * m_state[n] + 0.1 * g
            v_state[n] = 0.999 * v_state[n] + 0.001 * g * g
            m_hat, v_hat = m_state[n] / (1 - 0.9**t), v_state[n] / (1 - 0.999**t)
            theta[n] = theta[n] - lr * m_hat / (v_hat.sqrt() + 1e-8)
    assert lrs == pytest.approx([0.0, 0.005, 0.01])  # warm-up from 0 over ceil(0.1 * 12) steps, as the Trainer's
    got = {n: p.detach().double() for n, p in _trainable(method).items()}
    assert max((got[n] - theta[n]).abs().max().item() for n in theta) < 1e-5
    assert max((got[n] - start[n]).abs().max().item() for n in theta) > 1e-3  # the steps moved the weights


def test_schedule_values_are_transformers_cosine_with_restarts():
    from xlprompt.trainer import lr_factor, warmup_steps

    total = 25
    warmup = warmup_steps(total, 0.1, "cosine_restarts")
    assert warmup == 3  # ceil(2.5): transformers' TrainingArguments.get_warmup_steps
    got = [lr_factor(s, total, warmup, "cosine_restarts", 0.0, 2) for s in range(total + 1)]
    # by hand: 0, 1/3, 2/3, then two cosine cycles over the 22 steps left, restarting at 1 after 11 of them
    expected = [0.0, 1 / 3, 2 / 3] + [0.5 * (1 + math.cos(math.pi * ((2 * i / 22) % 1))) for i in range(22)] + [0.0]
    assert got == pytest.approx(expected)
    assert got[3] == 1.0 and got[14] == 1.0 and got[13] < 0.03 and got[total] == 0.0


# ------------------------------------------------------------------------------------------- the published prompts
def write_published_adapter(folder, ratio, d=32, m=20, hidden=256, layers=2, labels=7, seed=0):
    """A folder in the layout of mikaberidze/xlmr-large-sib200-peft-*: PEFT's adapter_config.json as the authors'
    upload.py patches it, and the keys xpe_get_peft_model_state_dict keeps (cross_prompt_encoder.py:388-488)."""
    import json

    from safetensors.torch import save_file

    g = torch.Generator().manual_seed(seed)
    n = m if ratio == 1 else 0 if ratio == 0 else max(1, min(m - 1, int(m * ratio)))
    tensors = {}
    if m - n:
        tensors["prompt_encoder.embedding.weight"] = torch.randn(m - n, d, generator=g)
    if n:
        tensors["prompt_encoder.xpe_embedding.weight"] = torch.randn(n, d, generator=g)
        sizes = [(hidden, d)] + [(hidden, hidden)] * (layers - 1) + [(d, hidden)]
        for i, (rows, cols) in enumerate(sizes):
            tensors[f"prompt_encoder.xpe_head.{3 * i}.weight"] = torch.randn(rows, cols, generator=g) / cols**0.5
            tensors[f"prompt_encoder.xpe_head.{3 * i}.bias"] = torch.randn(rows, generator=g) * 0.1
    tensors["base_model.classifier.dense.weight"] = torch.randn(d, d, generator=g) * 0.2
    tensors["base_model.classifier.dense.bias"] = torch.randn(d, generator=g) * 0.1
    tensors["base_model.classifier.out_proj.weight"] = torch.randn(labels, d, generator=g) * 0.5
    tensors["base_model.classifier.out_proj.bias"] = torch.randn(labels, generator=g) * 0.1
    folder.mkdir(parents=True)
    save_file(tensors, str(folder / "adapter_model.safetensors"))
    modules = (["embedding"] if ratio < 1 else []) + (["xpe_embedding", "xpe_head"] if ratio > 0 else [])
    config = {
        "auto_mapping": None,
        "base_model_name_or_path": "FacebookAI/xlm-roberta-large",
        "encoder_dropout": 0.1,
        "encoder_embedding_freeze": False,
        "encoder_embedding_init_type": "hf_default",
        "encoder_embedding_normalize": None,
        "encoder_embedding_normalize_max_norm": None,
        "encoder_freeze": False,
        "encoder_hidden_size": hidden,
        "encoder_init_state_dict_path": None,
        "encoder_input_size": None,
        "encoder_num_heads": 8,
        "encoder_num_layers": layers,
        "encoder_ratio": ratio,
        "encoder_reparameterization_type": "MLP" if ratio > 0 else "NONE",
        "inference_mode": True,
        "modules_to_save": sorted(modules + ["classifier", "score"]),
        "num_attention_heads": 16,
        "num_layers": 24,
        "num_transformer_submodules": 1,
        "num_virtual_tokens": m,
        "peft_type": "P_TUNING",
        "revision": None,
        "task_type": "SEQ_CLS",
        "token_dim": d,
    }
    (folder / "adapter_config.json").write_text(json.dumps(config, indent=2, sort_keys=True), "utf-8")
    return tensors


@pytest.mark.parametrize("ratio, method_name", [(1, "xpe"), (0, "dual"), (0.3, "dual")])
def test_a_published_adapter_loads_and_predicts_as_the_reference(tmp_path, ratio, method_name):
    from xlprompt.methods.xpe import load_peft_prompt
    from xlprompt.predict import Predictor

    tensors = write_published_adapter(tmp_path / "adapter", ratio)
    loaded = load_peft_prompt(tmp_path / "adapter", model="random:tiny", task="sib200")
    assert loaded.config.method == method_name and loaded.config.prompt_length == 20
    assert loaded.config.task_spec().labels[0] == "science/technology"  # the authors' label order (yml:84-91)
    predictor = Predictor(loaded.config, loaded.method, loaded.tokenizer, True, "peft adapter")
    texts = ["The team won the final match.", "A new vaccine was tested in the clinic today."]
    probs = predictor.scores([(t, "") for t in texts], lang="deu_Latn")
    # by hand: the prompt from the raw tensors, <s> text </s> after it, XLM-R, the head at position 0
    body = reference_encoder(loaded.method)
    weights = {k[len("prompt_encoder.") :]: v.double() for k, v in tensors.items() if k.startswith("prompt_encoder.")}
    if "embedding.weight" in weights:
        weights["spt_embedding.weight"] = weights.pop("embedding.weight")
    prompt = reference_prompt(weights, 2)
    tok = loaded.tokenizer
    for text, row in zip(texts, probs):
        ids = torch.tensor([[tok.cls_token_id, *tok(text, add_special_tokens=False)["input_ids"], tok.sep_token_id]])
        embeds = torch.cat([prompt.unsqueeze(0), body.embeddings.word_embeddings(ids)], 1)
        first = body.eval()(inputs_embeds=embeds, attention_mask=torch.ones(embeds.shape[:2])).last_hidden_state[:, 0]
        x = torch.tanh(
            first @ tensors["base_model.classifier.dense.weight"].double().T
            + tensors["base_model.classifier.dense.bias"].double()
        )
        logits = (
            x @ tensors["base_model.classifier.out_proj.weight"].double().T
            + tensors["base_model.classifier.out_proj.bias"].double()
        )
        assert torch.allclose(row.double(), torch.softmax(logits[0], -1), atol=1e-5)
    assert probs.shape == (2, 7) and len(predictor.predict([(texts[0], "")], lang="en")) == 1


def test_a_folder_that_is_not_such_an_adapter_is_refused_in_one_line(tmp_path):
    import json

    from xlprompt.errors import CheckpointError
    from xlprompt.methods.xpe import load_peft_prompt

    with pytest.raises(CheckpointError, match="no adapter_config.json"):
        load_peft_prompt(tmp_path, model="random:tiny")
    write_published_adapter(tmp_path / "lora", 1)
    config = json.loads((tmp_path / "lora" / "adapter_config.json").read_text("utf-8"))
    (tmp_path / "lora" / "adapter_config.json").write_text(json.dumps({**config, "peft_type": "LORA"}), "utf-8")
    with pytest.raises(CheckpointError, match="peft_type 'LORA'") as err:
        load_peft_prompt(tmp_path / "lora", model="random:tiny")
    assert "\n" not in str(err.value)
    write_published_adapter(tmp_path / "two", 1, labels=2)
    with pytest.raises(CheckpointError, match="the head has 2 classes, task sib200 has 7"):
        load_peft_prompt(tmp_path / "two", model="random:tiny")
    write_published_adapter(tmp_path / "wide", 1, d=48)
    with pytest.raises(CheckpointError, match="the prompt does not fit random:tiny"):
        load_peft_prompt(tmp_path / "wide", model="random:tiny")


def test_a_prompted_input_longer_than_the_models_positions_is_refused(tiny_components):
    from xlprompt.errors import ConfigError

    # random:tiny has 514 positions, the first two taken by RoBERTa's padding offset: 500 + 20 > 512
    with pytest.raises(ConfigError, match="max_length=500 plus prompt_length=20 exceeds the model's 512 positions"):
        tiny_components(method="xpe", max_length=500)
    assert tiny_components(method="xpe", max_length=492).method.cross_prompt_encoder.length == 20


def test_schedule_is_the_installed_transformers_own():
    """The same numbers as transformers' get_cosine_with_hard_restarts_schedule_with_warmup, the function the
    reference's Trainer called (lr_scheduler_type cosine_with_restarts)."""
    from transformers import get_cosine_with_hard_restarts_schedule_with_warmup

    from xlprompt.trainer import lr_factor

    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=1.0)
    schedule = get_cosine_with_hard_restarts_schedule_with_warmup(optimizer, 4, 37, num_cycles=2)
    theirs = []
    for _ in range(38):
        theirs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert [lr_factor(s, 37, 4, "cosine_restarts", 0.0, 2) for s in range(38)] == pytest.approx(theirs, abs=1e-12)


def test_from_pretrained_and_predict_take_a_published_adapter_folder(tmp_path):
    """The one loader of xlprompt's artifacts takes the published prompts' layout too (base_model: the model to put
    them on; their own is XLM-R large), and `xlprompt predict --model` predicts with them."""
    from click.testing import CliRunner

    import xlprompt
    from xlprompt.cli import cli
    from xlprompt.methods.xpe import load_peft_prompt
    from xlprompt.predict import Predictor

    write_published_adapter(tmp_path / "adapter", 0.3)
    model = xlprompt.PromptModel.from_pretrained(tmp_path / "adapter", base_model="random:tiny")
    assert model.run_config.method == "dual" and model.labels[0] == "science/technology"
    direct = load_peft_prompt(tmp_path / "adapter", model="random:tiny")
    expected = Predictor(direct.config, direct.method, direct.tokenizer, True, "direct").scores(
        [("Rain is expected tomorrow.", "")], lang="en"
    )
    assert torch.equal(model.scores(["Rain is expected tomorrow."], lang="en"), expected)
    out = CliRunner().invoke(
        cli,
        ["predict", "--model", str(tmp_path / "adapter"), "--base-model", "random:tiny"]
        + ["--lang", "en", "--premise", "Rain is expected tomorrow."],
    )
    assert out.exit_code == 0, out.output
    predicted = out.output.strip().splitlines()[-1].split("\t")[0]
    assert predicted == model.labels[int(expected.argmax())]
