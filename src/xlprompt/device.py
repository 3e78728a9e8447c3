"""Device, precision, determinism and RNG state of a run (the GPU path).

* :func:`resolve_device`: ``device=auto`` → ``cuda`` where torch sees a CUDA device, else ``cpu``.
* :func:`autocast_dtype`: ``precision=auto`` → bf16 autocast on a CUDA device that supports bf16
  (compute capability ≥ 8.0: A100, H100, L4, RTX 30xx+), fp32 everywhere else. bf16 has fp32's exponent
  range, so no loss scaling is needed and a NaN/inf from overflow is as unlikely as in fp32; its 8-bit
  mantissa costs a little precision in the transformer, while the parts where it would matter are kept in
  fp32 outside autocast: the prompt encoder and translator (``p_S``, ``p_T``: 4 vectors), the MLM output
  head (250k-word logits, their softmax and KL), and the gradient of the tied head. CPU stays fp32 (bf16
  autocast on CPU is slower on most CPUs and changes the numbers), so CPU results are unchanged.
* :func:`apply_determinism`: the opt-in ``deterministic=true`` mode.
* :func:`rng_state` / :func:`set_rng_state`: the CPU generator and the run's CUDA device's (dropout on a GPU draws from
  the CUDA generator of its device), saved in checkpoints so that a resumed run draws what an
  uninterrupted one draws.
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from typing import Any

import torch

from xlprompt.config import RunConfig, check_device_spec
from xlprompt.errors import ConfigError

#: cuBLAS needs a fixed workspace to be deterministic (CUDA ≥ 10.2; see torch.use_deterministic_algorithms)
CUBLAS_WORKSPACE = ":4096:8"


def resolve_device(config: RunConfig | str, override: str | torch.device | None = None) -> torch.device:
    """The torch device of ``config.device`` (or of ``override``: a ``--device`` option, a ``device=`` argument;
    a spec string or a ``torch.device``). Specs: :data:`~xlprompt.config.DEVICE_SPECS`, checked by the one rule
    :func:`~xlprompt.config.check_device_spec`; ``auto`` is ``cuda`` where torch sees a CUDA device, else
    ``cpu``. A device this machine lacks (``cuda`` on a CPU-only build, ``cuda:3`` with two GPUs, ``mps`` off
    Apple silicon) is a one-line :class:`ConfigError`."""
    if isinstance(override, torch.device):
        override = override.type if override.type in ("cpu", "mps") else str(override)
    spec = check_device_spec(
        override if override is not None else (config if isinstance(config, str) else config.device)
    )
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(
                f"device={spec} but no CUDA device is available (none found, or torch was built without CUDA); "
                "use device=cpu or auto"
            )
        index = int(spec.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise ConfigError(
                f"device={spec} but torch sees {torch.cuda.device_count()} CUDA device(s) "
                f"(cuda:0..cuda:{torch.cuda.device_count() - 1}); give one of those"
            )
    if spec == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("device=mps but this machine has no Apple MPS device; use device=cpu or auto")
    return torch.device(spec)


def bf16_supported(device: torch.device) -> bool:
    if device.type != "cuda":
        return False
    try:
        return bool(torch.cuda.is_bf16_supported())
    except (RuntimeError, AssertionError):
        return False


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of ``precision`` on ``device``: bfloat16, or None (fp32, no autocast)."""
    if precision == "bf16":
        return torch.bfloat16
    if precision == "fp32":
        return None
    if precision == "auto":
        return torch.bfloat16 if bf16_supported(device) else None
    raise ConfigError(f"precision must be one of auto, fp32, bf16, not '{precision}'")


def autocast(device: torch.device, dtype: torch.dtype | None):
    """``torch.autocast`` for ``dtype`` on ``device`` (a no-op context for fp32)."""
    if dtype is None:
        return nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def fp32(device: torch.device):
    """A block computed in fp32 even inside autocast (autocast disabled; inputs must be cast by the caller)."""
    return torch.autocast(device.type, enabled=False)


_DEFAULTS: dict[str, Any] | None = None  # torch's settings before a deterministic run changed them


def apply_determinism(config: RunConfig) -> None:
    """``deterministic=true``: deterministic kernels everywhere (an op without one raises, naming itself),
    cuBLAS with a fixed workspace, cuDNN deterministic and without autotuning. Call before the first CUDA
    work (the cuBLAS variable is read when its handle is created). ``false`` leaves torch's settings as they
    are, or puts back the ones an earlier deterministic run of this process changed (sweeps run several
    configs in one process)."""
    global _DEFAULTS
    if not config.deterministic:
        if _DEFAULTS is not None:
            torch.use_deterministic_algorithms(_DEFAULTS["algorithms"])
            torch.backends.cudnn.deterministic = _DEFAULTS["cudnn_deterministic"]
            torch.backends.cudnn.benchmark = _DEFAULTS["cudnn_benchmark"]
            _DEFAULTS = None
        return
    if _DEFAULTS is None:
        _DEFAULTS = {
            "algorithms": torch.are_deterministic_algorithms_enabled(),
            "cudnn_deterministic": torch.backends.cudnn.deterministic,
            "cudnn_benchmark": torch.backends.cudnn.benchmark,
        }
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def rng_state(device: torch.device) -> dict[str, Any]:
    """The CPU generator's state and, for a CUDA ``device``, that device's generator (dropout draws there)."""
    state: dict[str, Any] = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: Any, device: torch.device) -> None:
    """Inverse of :func:`rng_state`; also takes a bare CPU state (the checkpoints of xlprompt 0.1 before the GPU path).
    A CUDA state is restored on the CUDA ``device`` the run resumes on; a run moved between CPU and GPU
    resumes, but its dropout draws differ from an uninterrupted run's."""
    if isinstance(state, torch.Tensor):
        torch.set_rng_state(state)
        return
    torch.set_rng_state(state["cpu"])
    if state.get("cuda") is not None and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)


def pin(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``tensor`` (on the CPU) on ``device``: pinned and copied without blocking the host on CUDA."""
    if device.type != "cuda":
        return tensor if tensor.device == device else tensor.to(device)
    return tensor.pin_memory().to(device, non_blocking=True)
