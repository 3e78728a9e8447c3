"""Shared fixtures for the xlprompt test suite.

* ``SHARED`` / ``SHARED_DATA`` / ``XLMR_TOKENIZER_DIR``: paths into ``../shared`` (next to the repository);
  ``needs_shared`` skips a test where the shared data are absent (a fresh clone, CI without data).
* ``tiny_tokenizer`` (session): the offline ``builtin:tiny`` BPE tokenizer.
* ``xlmr_tokenizer`` (session): the real XLM-R tokenizer from ``../shared/tokenizers/xlm-roberta``
  (the test is skipped where it is absent).
* ``tiny_plm``: a factory ``tiny_plm(seed=0, tokenizer=None) -> MaskedLM`` for a random-weight
  ``random:tiny`` XLM-R (2 layers, d=32).
* ``tiny_config``: a factory ``tiny_config(**overrides) -> RunConfig`` on ``random:tiny`` + ``builtin:demo``,
  CPU, short sequences.
* ``tiny_components``: a factory ``tiny_components(**overrides) -> Components`` (tokenizer, method, verbalizer)
  built exactly as a run builds them.
* torch runs single-threaded in tests unless ``XLPROMPT_TEST_THREADS`` / ``OMP_NUM_THREADS`` say otherwise.
* every test sees ``$XLPROMPT_DATA`` set to a folder that does not exist (so that no test reads the user's
  default data folder); a test that needs a default folder sets its own.
* ``demo_train`` / ``demo_pairs``: a few tokenised builtin-demo examples / parallel pairs (factories taking
  the tokenizer and a count).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The test models are tiny: one torch thread is faster than several fighting over a small, shared machine.
# Set before torch is imported (conftest loads first); XLPROMPT_TEST_THREADS=N or OMP_NUM_THREADS=N override.
os.environ.setdefault("OMP_NUM_THREADS", os.environ.get("XLPROMPT_TEST_THREADS", "1"))

#: ``../shared`` as seen from the repository root (tests/conftest.py → tests → repo → its parent).
SHARED = Path(__file__).resolve().parents[2] / "shared"
SHARED_DATA = SHARED / "data"
XLMR_TOKENIZER_DIR = SHARED / "tokenizers" / "xlm-roberta"

needs_shared = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"{SHARED_DATA} is absent")
needs_xlmr_tokenizer = pytest.mark.skipif(not XLMR_TOKENIZER_DIR.is_dir(), reason=f"{XLMR_TOKENIZER_DIR} is absent")


@pytest.fixture(autouse=True)
def _no_default_data_folder(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("XLPROMPT_DATA", str(tmp_path_factory.getbasetemp() / "no-default-data-folder"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data folder; skips the test where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_tokenizer():
    from xlprompt.models.backbone import builtin_tokenizer

    return builtin_tokenizer()


@pytest.fixture(scope="session")
def xlmr_tokenizer():
    if not XLMR_TOKENIZER_DIR.is_dir():
        pytest.skip(f"{XLMR_TOKENIZER_DIR} is absent")
    from xlprompt.models.backbone import load_tokenizer

    return load_tokenizer(str(XLMR_TOKENIZER_DIR))


@pytest.fixture
def tiny_plm(tiny_tokenizer):
    """Factory: ``tiny_plm(seed=0, tokenizer=None)`` → a random-weight ``random:tiny`` MaskedLM."""
    from xlprompt.models.backbone import load_masked_lm
    from xlprompt.models.masked_lm import MaskedLM

    def make(seed: int = 0, tokenizer=None, max_length: int = 128):
        hf_model, _ = load_masked_lm("random:tiny", tokenizer or tiny_tokenizer, seed=seed, max_length=max_length)
        return MaskedLM(hf_model)

    return make


@pytest.fixture
def tiny_config():
    """Factory: ``tiny_config(**overrides)`` → a RunConfig on random:tiny and the builtin demo, on CPU."""
    from xlprompt.config import RunConfig

    def make(**overrides):
        values = dict(
            model="random:tiny",
            data_dir="builtin:demo",
            device="cpu",
            shots=2,
            epochs=1,
            batch_size=6,
            eval_batch_size=32,
            max_length=64,
        )
        values.update(overrides)
        return RunConfig(**values)

    return make


@pytest.fixture
def tiny_components(tiny_config):
    """Factory: ``tiny_components(**overrides)`` → Components (tokenizer, backbone_info, method, verbalizer)."""
    from xlprompt.experiment import build_components

    def make(**overrides):
        import torch

        return build_components(tiny_config(**overrides), torch.device("cpu"))

    return make


@pytest.fixture
def demo_train():
    """Factory: ``demo_train(tokenizer, per_class=2)`` → tokenised English demo train examples, classes balanced."""
    from xlprompt.batching import TokenCache
    from xlprompt.run_data import demo_examples

    def make(tokenizer, per_class: int = 2):
        pool = demo_examples("train", "en")
        chosen = []
        for label in range(3):
            chosen += [ex for ex in pool if ex.label == label][:per_class]
        return TokenCache(tokenizer).examples(chosen)

    return make


@pytest.fixture
def demo_pairs():
    """Factory: ``demo_pairs(tokenizer, n=4)`` → the first ``n`` tokenised builtin-demo parallel pairs."""
    from xlprompt.batching import TokenCache
    from xlprompt.run_data import demo_parallel

    def make(tokenizer, n: int = 4):
        return TokenCache(tokenizer).pairs(demo_parallel()[:n])

    return make
