"""The soft prompt ``p`` (paper §III-A): m learnable vectors reparameterised as in P-tuning (Liu et al., ref. [9]).

``p = MLP(BiLSTM(e_1..e_m))`` in one of two shapes (``prompt_encoder_shape``):

* ``reference`` — a 1-layer bidirectional LSTM with d units each way and a ``Linear(2d, d) → ReLU →
  Linear(d, d)`` MLP: Zhao & Schütze's SP code (mprompting/xlmrprompt@39aed8f ptuning/pet/modules/wrapper.py:59-72;
  11.2M parameters at d = 768), the default of SP and MPT;
* ``ptuning`` — a 2-layer bidirectional LSTM with d/2 units each way and a ``Linear(d, d) → ReLU →
  Linear(d, d)`` MLP, THUDM P-tuning's prompt encoder.

The output is ``p_S``, the source-language prompt that the translator (Eq. 4) turns into ``p_T``. It is
computed in fp32 outside autocast whatever ``precision`` says.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from xlprompt.errors import ConfigError

REPARAMETERISATIONS: tuple[str, ...] = ("lstm", "mlp", "none")
SHAPES: tuple[str, ...] = ("reference", "ptuning")


@dataclass
class PromptEncoderConfig:
    length: int = field(default=4, metadata={"help": "number of prompt vectors m (paper: 4)"})
    hidden_size: int = field(default=768, metadata={"help": "embedding size d of the PLM"})
    reparameterisation: str = field(
        default="lstm",
        metadata={"help": "lstm: P-tuning's BiLSTM+MLP (paper); mlp: MLP only; none: the raw vectors"},
    )

    shape: str = field(default="ptuning", metadata={"help": "lstm shape: reference (xlmrprompt) or ptuning (THUDM)"})

    def __post_init__(self):
        if self.shape not in SHAPES:
            raise ConfigError(f"prompt_encoder_shape must be one of {', '.join(SHAPES)}, not '{self.shape}'")
        if self.length < 1:
            raise ConfigError(f"prompt_length must be >= 1, not {self.length}")
        if self.reparameterisation not in REPARAMETERISATIONS:
            raise ConfigError(
                f"prompt_encoder must be one of {', '.join(REPARAMETERISATIONS)}, not '{self.reparameterisation}'"
            )


class PromptEncoder(nn.Module):
    """Produces the source prompt ``p_S`` ∈ R^{m×d}."""

    def __init__(self, config: PromptEncoderConfig):
        super().__init__()
        self.config = config
        d = config.hidden_size
        self.embedding = nn.Parameter(torch.randn(config.length, d))
        self.lstm = None
        self.mlp = None
        if config.reparameterisation == "lstm" and config.shape == "reference":
            self.lstm = nn.LSTM(d, d, num_layers=1, bidirectional=True, batch_first=True)
            self.mlp = nn.Sequential(nn.Linear(2 * d, d), nn.ReLU(), nn.Linear(d, d))
        elif config.reparameterisation == "lstm":
            self.lstm = nn.LSTM(d, d // 2 if d % 2 == 0 else d, num_layers=2, bidirectional=True, batch_first=True)
            lstm_out = 2 * (d // 2 if d % 2 == 0 else d)
            self.mlp = nn.Sequential(nn.Linear(lstm_out, d), nn.ReLU(), nn.Linear(d, d))
        elif config.reparameterisation == "mlp":
            self.mlp = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, d))

    def forward(self) -> torch.Tensor:
        """``p_S`` [m, d], outside autocast, in the module's own dtype: fp32 unless the model was cast with
        ``.to(dtype)`` (m = 4 vectors: nothing to gain from bf16 autocast, and the LSTM under CPU bf16 autocast
        fails, as it does with some cuDNN versions)."""
        x = self.embedding
        with torch.autocast(x.device.type, enabled=False):
            if self.lstm is not None:
                x = self.lstm(x.unsqueeze(0))[0].squeeze(0)
            if self.mlp is not None:
                x = self.mlp(x)
        return x
