"""The multilingual prompt translator (paper Eq. 4) and the architectures of its ablation (Fig. 4).

Eq. 4 (``linear-2``, the paper's choice and our default)::

    p_T = Transl(p_S) = W_down ReLU(W_up p_S + b_up) + b_down,   d → 2d → d

Ablation architectures, each mapping ``p_S`` ∈ R^{m×d} to ``p_T`` ∈ R^{m×d}:

* ``linear-1``: ``p_T = W p_S + b`` (one d×d layer);
* ``linear-2``: Eq. 4;
* ``lstm-1`` / ``lstm-2``: a bidirectional LSTM (d/2 units each way) with 1 / 2 layers over the m vectors;
* ``transformer-1`` / ``transformer-2``: a Transformer encoder with 1 / 2 layers (feed-forward 2d,
  the largest head count among 12, 8, 4, 2, 1 that divides d) over the m vectors.

Every translator computes in fp32 outside autocast, whatever ``precision`` says.
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from xlprompt.errors import ConfigError

TRANSLATOR_ARCHITECTURES: tuple[str, ...] = (
    "linear-1",
    "linear-2",
    "lstm-1",
    "lstm-2",
    "transformer-1",
    "transformer-2",
)


def fp32_outside_autocast(forward):
    """``p_T`` outside autocast, in the translator's own dtype (fp32 unless the model was cast with
    ``.to(dtype)``): the translator maps 4 vectors, bf16 autocast would only lose precision, and LSTMs under
    bf16 autocast fail on CPU and with some cuDNN versions."""

    @functools.wraps(forward)
    def wrapped(self, p_source: torch.Tensor) -> torch.Tensor:
        dtype = next(self.parameters()).dtype
        with torch.autocast(p_source.device.type, enabled=False):
            return forward(self, p_source.to(dtype))

    return wrapped


class LinearTranslator(nn.Module):
    """Eq. 4 when ``layers == 2``: ``W_down ReLU(W_up p_S + b_up) + b_down``; one affine map when 1."""

    def __init__(self, d: int, layers: int = 2):
        super().__init__()
        self.layers = layers
        if layers == 2:
            self.up = nn.Linear(d, 2 * d)  # W_up, b_up
            self.down = nn.Linear(2 * d, d)  # W_down, b_down
        else:
            self.linear = nn.Linear(d, d)

    @fp32_outside_autocast
    def forward(self, p_source: torch.Tensor) -> torch.Tensor:
        if self.layers == 2:
            return self.down(torch.relu(self.up(p_source)))
        return self.linear(p_source)


class LSTMTranslator(nn.Module):
    def __init__(self, d: int, layers: int):
        super().__init__()
        if d % 2:
            raise ConfigError(f"lstm translators need an even hidden size, not {d}")
        self.lstm = nn.LSTM(d, d // 2, num_layers=layers, bidirectional=True, batch_first=True)

    @fp32_outside_autocast
    def forward(self, p_source: torch.Tensor) -> torch.Tensor:
        return self.lstm(p_source.unsqueeze(0))[0].squeeze(0)


class TransformerTranslator(nn.Module):
    def __init__(self, d: int, layers: int):
        super().__init__()
        heads = next(h for h in (12, 8, 4, 2, 1) if d % h == 0)
        layer = nn.TransformerEncoderLayer(d, heads, dim_feedforward=2 * d, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=layers, enable_nested_tensor=False)

    @fp32_outside_autocast
    def forward(self, p_source: torch.Tensor) -> torch.Tensor:
        return self.encoder(p_source.unsqueeze(0)).squeeze(0)


def build_translator(architecture: str, d: int) -> nn.Module:
    """The translator ``Transl`` of the given architecture for hidden size ``d``."""
    if architecture not in TRANSLATOR_ARCHITECTURES:
        raise ConfigError(f"translator must be one of {', '.join(TRANSLATOR_ARCHITECTURES)}, not '{architecture}'")
    kind, layers = architecture.rsplit("-", 1)
    if kind == "linear":
        return LinearTranslator(d, int(layers))
    if kind == "lstm":
        return LSTMTranslator(d, int(layers))
    return TransformerTranslator(d, int(layers))
