"""The prompt translator (paper Eq. 4, Fig. 4 ablation) and the prompt encoder (§III-A)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xlprompt.errors import ConfigError
from xlprompt.models.prompt_encoder import REPARAMETERISATIONS, PromptEncoder, PromptEncoderConfig
from xlprompt.models.translator import TRANSLATOR_ARCHITECTURES, LinearTranslator, build_translator


def test_linear2_shapes_are_eq4():
    translator = LinearTranslator(3, layers=2)
    # W_up: d → 2d, W_down: 2d → d (torch stores weights as [out, in])
    assert translator.up.weight.shape == (6, 3) and translator.up.bias.shape == (6,)
    assert translator.down.weight.shape == (3, 6) and translator.down.bias.shape == (3,)
    assert sum(p.numel() for p in translator.parameters()) == 3 * 6 + 6 + 6 * 3 + 3


def test_linear2_reproduces_eq4_by_hand():
    """p_T = W_down ReLU(W_up p_S + b_up) + b_down with d = 2, written out number by number."""
    translator = LinearTranslator(2, layers=2)
    w_up = [[1.0, 0.0], [0.0, 1.0], [1.0, -1.0], [-2.0, 1.0]]  # [2d, d]
    b_up = [0.0, -1.0, 0.5, 0.0]
    w_down = [[1.0, 2.0, 0.0, -1.0], [0.5, 0.0, 1.0, 1.0]]  # [d, 2d]
    b_down = [0.1, -0.2]
    with torch.no_grad():
        translator.up.weight.copy_(torch.tensor(w_up))
        translator.up.bias.copy_(torch.tensor(b_up))
        translator.down.weight.copy_(torch.tensor(w_down))
        translator.down.bias.copy_(torch.tensor(b_down))
    p_source = torch.tensor([[1.0, 2.0], [3.0, -1.0]])  # m = 2 prompt vectors
    # row 1, p = (1, 2):  W_up p + b_up = (1, 1, -1+0.5, -2+2) = (1, 1, -0.5, 0) → ReLU (1, 1, 0, 0)
    #                     W_down h + b_down = (1+2, 0.5) + (0.1, -0.2) = (3.1, 0.3)
    # row 2, p = (3, -1): W_up p + b_up = (3, -2, 4.5, -7) → ReLU (3, 0, 4.5, 0)
    #                     W_down h + b_down = (3, 1.5+4.5) + (0.1, -0.2) = (3.1, 5.8)
    expected = torch.tensor([[3.1, 0.3], [3.1, 5.8]])
    out = translator(p_source)
    assert out.shape == (2, 2)
    assert torch.allclose(out, expected, atol=1e-6)
    # and the same with numpy, as the equation is written (column vectors)
    for row in range(2):
        p = p_source[row].numpy().astype(np.float64)
        hidden = np.maximum(np.array(w_up) @ p + np.array(b_up), 0.0)
        assert np.allclose(np.array(w_down) @ hidden + np.array(b_down), out[row].detach().numpy(), atol=1e-6)


def test_linear2_random_weights_match_numpy():
    torch.manual_seed(0)
    translator = build_translator("linear-2", 8)
    p = torch.randn(4, 8)
    up_w, up_b = translator.up.weight.detach().numpy(), translator.up.bias.detach().numpy()
    down_w, down_b = translator.down.weight.detach().numpy(), translator.down.bias.detach().numpy()
    expected = (np.maximum(p.numpy() @ up_w.T + up_b, 0) @ down_w.T) + down_b
    assert np.allclose(translator(p).detach().numpy(), expected, atol=1e-5)


def test_linear1_is_one_affine_map():
    translator = build_translator("linear-1", 3)
    with torch.no_grad():
        translator.linear.weight.copy_(torch.tensor([[1.0, 0, 0], [0, 2.0, 0], [1.0, 1.0, 1.0]]))
        translator.linear.bias.copy_(torch.tensor([0.0, 1.0, -1.0]))
    out = translator(torch.tensor([[1.0, -2.0, 3.0]]))
    # (1, -4+1, 1-2+3-1) — a negative entry survives: no ReLU in linear-1
    assert torch.allclose(out, torch.tensor([[1.0, -3.0, 1.0]]))


@pytest.mark.parametrize("architecture", TRANSLATOR_ARCHITECTURES)
@pytest.mark.parametrize("m, d", [(4, 32), (1, 16), (7, 24)])
def test_every_architecture_maps_m_by_d(architecture, m, d):
    torch.manual_seed(0)
    translator = build_translator(architecture, d)
    translator.eval()
    p_source = torch.randn(m, d, requires_grad=True)
    p_target = translator(p_source)
    assert p_target.shape == (m, d)
    assert torch.isfinite(p_target).all()
    assert not torch.allclose(p_target, p_source)  # it does transform
    # (a random projection: the sum of a LayerNorm output is constant, so .sum() would give no gradient)
    (p_target * torch.randn(m, d)).sum().backward()
    assert p_source.grad is not None and p_source.grad.abs().sum() > 0
    assert all(p.grad is not None for p in translator.parameters() if p.requires_grad)


def test_architecture_depths():
    assert build_translator("lstm-1", 8).lstm.num_layers == 1
    assert build_translator("lstm-2", 8).lstm.num_layers == 2
    assert len(build_translator("transformer-1", 8).encoder.layers) == 1
    assert len(build_translator("transformer-2", 8).encoder.layers) == 2
    assert build_translator("linear-2", 8).layers == 2


def test_unknown_architecture_lists_allowed():
    with pytest.raises(ConfigError) as err:
        build_translator("mlp-3", 8)
    assert "mlp-3" in str(err.value)
    for name in TRANSLATOR_ARCHITECTURES:
        assert name in str(err.value)


def test_lstm_translator_needs_even_size():
    with pytest.raises(ConfigError, match="even"):
        build_translator("lstm-1", 7)


# ---------------------------------------------------------------------------- prompt encoder
@pytest.mark.parametrize("reparameterisation", REPARAMETERISATIONS)
@pytest.mark.parametrize("m, d", [(4, 32), (1, 8), (3, 15)])
def test_prompt_encoder_shape(reparameterisation, m, d):
    torch.manual_seed(0)
    encoder = PromptEncoder(PromptEncoderConfig(m, d, reparameterisation))
    p = encoder()
    assert p.shape == (m, d)
    assert torch.isfinite(p).all()
    p.pow(2).sum().backward()
    assert encoder.embedding.grad is not None and encoder.embedding.grad.abs().sum() > 0


def test_prompt_encoder_reparameterisations():
    torch.manual_seed(0)
    none = PromptEncoder(PromptEncoderConfig(4, 8, "none"))
    assert torch.equal(none(), none.embedding)  # the raw vectors
    mlp = PromptEncoder(PromptEncoderConfig(4, 8, "mlp"))
    assert mlp.lstm is None and mlp.mlp is not None
    lstm = PromptEncoder(PromptEncoderConfig(4, 8, "lstm"))
    assert lstm.lstm.bidirectional and lstm.lstm.num_layers == 2 and lstm.lstm.hidden_size == 4
    # the BiLSTM mixes the m positions: changing one input vector changes every output vector
    lstm.eval()
    before = lstm().detach().clone()
    with torch.no_grad():
        lstm.embedding[0] += 1.0
    after = lstm().detach()
    assert all(not torch.allclose(before[i], after[i]) for i in range(4))


def test_prompt_encoder_bad_config():
    with pytest.raises(ConfigError, match="prompt_encoder"):
        PromptEncoderConfig(4, 8, "gru")
    with pytest.raises(ConfigError, match="prompt_length"):
        PromptEncoderConfig(0, 8, "lstm")
