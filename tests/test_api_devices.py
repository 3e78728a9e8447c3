"""PromptModel's inputs, devices and dtypes: the library checks what the CLI checks, by the same rules.

Device specs have one rule (``auto``, ``cpu``, ``cuda``, ``cuda:N``, ``mps``) for the config, the CLI and the API,
and a device this machine lacks is a one-line error; ``.to(torch.bfloat16)`` predicts and trains (the LSTM prompt
encoder and translator compute in the model's dtype); ``collate`` refuses what ``predict`` refuses.
"""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

import xlprompt
from xlprompt.cli import cli
from xlprompt.config import check_device_spec
from xlprompt.device import resolve_device

TINY = dict(
    model="random:tiny",
    data_dir="builtin:demo",
    device="cpu",
    shots=1,
    batch_size=3,
    max_length=64,
    lr=3e-3,
    weight_decay=0.0,
    scoring="labels",
)


@pytest.mark.parametrize("spec", ["auto", "cpu", "cuda", "cuda:0", "cuda:12", "mps"])
def test_device_specs_accepted_everywhere(spec):
    assert check_device_spec(spec) == spec
    xlprompt.RunConfig(method="sp", **{**TINY, "device": spec}).validate()


@pytest.mark.parametrize("spec", ["gpu", "CUDA", "cuda:", "cuda:x", "cuda:-1", "mps:1", "cuda:１"])
def test_device_specs_refused_in_one_line(spec):
    message = f"device must be auto, cpu, cuda, cuda:N or mps, not {spec!r}"
    with pytest.raises(xlprompt.ConfigError) as config_error:
        xlprompt.RunConfig(method="sp", **{**TINY, "device": spec}).validate()
    assert str(config_error.value) == message
    with pytest.raises(xlprompt.ConfigError) as api_error:
        xlprompt.PromptModel.from_config(xlprompt.RunConfig(method="sp", **TINY), device=spec)
    assert str(api_error.value) == message


@pytest.mark.skipif(torch.cuda.is_available(), reason="a machine without CUDA")
def test_a_missing_gpu_is_a_one_line_error_before_anything_loads():
    for spec in ("cuda", "cuda:1"):
        with pytest.raises(xlprompt.ConfigError, match=f"device={spec} but no CUDA device is available"):
            xlprompt.PromptModel.from_config(xlprompt.RunConfig(method="sp", **TINY), device=spec)
    # no device given: the config's own is honoured (here one this machine lacks)
    with pytest.raises(xlprompt.ConfigError, match="device=cuda:1 but no CUDA device"):
        xlprompt.PromptModel.from_config(xlprompt.RunConfig(method="sp", **{**TINY, "device": "cuda:1"}))
    with pytest.raises(xlprompt.ConfigError, match="device=cuda but no CUDA device"):
        resolve_device("cpu", torch.device("cuda"))
    result = CliRunner().invoke(cli, ["data", "build-parallel", "--source", "translate", "--device", "cuda:x"])
    assert result.exit_code != 0 and "device must be auto, cpu, cuda, cuda:N or mps, not 'cuda:x'" in result.output


@pytest.mark.skipif(
    getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available(), reason="Apple silicon"
)
def test_mps_off_apple_silicon_is_a_one_line_error():
    with pytest.raises(xlprompt.ConfigError, match="device=mps but this machine has no Apple MPS device"):
        resolve_device("mps")


def test_the_configs_device_is_used_when_none_is_given():
    model = xlprompt.PromptModel.from_config(xlprompt.RunConfig(method="sp", **{**TINY, "device": "auto"}))
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert {p.device.type for p in model.parameters()} == {expected}


@pytest.mark.parametrize("method, extra", [("mpt", {"translator": "lstm-2"}), ("sp", {})])
def test_bfloat16_predicts_and_trains(method, extra):
    config = xlprompt.RunConfig(method=method, **TINY, **extra)
    data = xlprompt.load_data(config)
    model = xlprompt.PromptModel.from_config(config, parallel=data.parallel).to(torch.bfloat16)
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    probabilities = model.scores([("A man sleeps.", "Someone rests.")], lang="de")
    assert probabilities.shape == (1, 3) and probabilities.sum().item() == pytest.approx(1.0, abs=1e-3)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    encoder = next(iter(model.method.extra_modules().values()))
    before = [p.detach().clone() for p in encoder.parameters()]
    loss = model.training_loss(model.collate(data.train, step=0))
    assert torch.isfinite(loss)
    loss.backward()
    optimizer.step()
    assert any(not torch.equal(a, b) for a, b in zip(before, encoder.parameters()))  # the step reached them
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}


@pytest.fixture(scope="module")
def sp_model():
    return xlprompt.PromptModel.from_config(xlprompt.RunConfig(method="sp", **TINY))


def test_accuracy_of_no_examples_is_an_error(sp_model):
    with pytest.raises(xlprompt.DataError, match="accuracy: no examples; give at least one labelled example"):
        sp_model.accuracy([])


def test_collate_refuses_what_predict_refuses(sp_model):
    row = {"premise": "A man sleeps.", "hypothesis": "Someone rests.", "label": 0}
    with pytest.raises(xlprompt.DataError, match=r"^example 0: unknown language code 'xx'\. .*Allowed: ar, bg"):
        sp_model.collate([{**row, "lang": "xx"}])
    with pytest.raises(xlprompt.ConfigError, match=r"^unknown language code 'xx'\. .*Allowed: ar, bg"):
        sp_model.predict([("A man sleeps.", "Someone rests.")], lang="xx")
    for empty in ({**row, "premise": ""}, {**row, "hypothesis": "  "}):
        with pytest.raises(xlprompt.DataError, match=r"^example 0: 'premise' and 'hypothesis' must not be empty$"):
            sp_model.collate([empty])
        with pytest.raises(xlprompt.DataError, match=r"^pair 0: 'premise' and 'hypothesis' must not be empty$"):
            sp_model.predict([(empty["premise"], empty["hypothesis"])])
    with pytest.raises(xlprompt.DataError, match=r"^example 1: 'premise' and 'hypothesis' must not be empty$"):
        sp_model.collate([row, xlprompt.Example("", "Someone rests.", 0, "en")])
    with pytest.raises(xlprompt.DataError, match=r"^example 0: unknown language code 'xx'"):
        sp_model.collate([xlprompt.Example("A man sleeps.", "Someone rests.", 0, "xx")])
    with pytest.raises(xlprompt.DataError, match=r"^collate: no examples$"):
        sp_model.collate([])
    assert len(sp_model.collate([{**row, "lang": "de"}])) == 1  # a language of the task is fine
