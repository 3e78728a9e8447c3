"""A hub model name on a machine without network fails in about a second, in one line with the fix (not after
the hub client's retries); HF_HUB_OFFLINE is honoured."""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner

from xlprompt.cli import cli
from xlprompt.errors import ModelError
from xlprompt.models.backbone import load_masked_lm, load_tokenizer


@pytest.fixture
def no_hub(tmp_path, monkeypatch):
    """An empty Hugging Face cache and a hub endpoint on a closed port (as offline, here and anywhere)."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


def test_a_hub_name_offline_fails_at_once_in_one_line(no_hub):
    start = time.monotonic()
    with pytest.raises(ModelError) as err:
        load_tokenizer("xlm-roberta-base")
    assert time.monotonic() - start < 5
    assert str(err.value) == (
        "tokenizer 'xlm-roberta-base': the Hugging Face hub (127.0.0.1) cannot be reached and it is not in the local "
        "Hugging Face cache; pass --tokenizer DIR with a local copy (e.g. save it with `save_pretrained` on a machine "
        "with internet), or use random:xlm-roberta-base / random:tiny"
    )
    start = time.monotonic()
    with pytest.raises(ModelError, match=r"^model 'xlm-roberta-base': the Hugging Face hub \(127.0.0.1\) cannot be "):
        load_masked_lm("xlm-roberta-base", tokenizer=None)
    assert time.monotonic() - start < 5


def test_hf_hub_offline_is_honoured(no_hub, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", "https://huggingface.co")  # not even probed
    start = time.monotonic()
    result = CliRunner().invoke(
        cli,
        [
            "run",
            "--method",
            "sp",
            "--shots",
            "1",
            "--model",
            "xlm-roberta-base",
            "--data-dir",
            "builtin:demo",
            "--out",
            str(tmp_path / "run"),
            "--quiet",
            "--set",
            "eval_languages=en,de",
            "--set",
            "device=cpu",
        ],
    )
    assert time.monotonic() - start < 30
    assert result.exit_code == 2, result.output
    assert (
        result.stderr.strip()
        .split("\n")[-1]
        .startswith(
            "error: tokenizer 'xlm-roberta-base': HF_HUB_OFFLINE is set and it is not in the local Hugging Face cache; "
            "pass --tokenizer DIR"
        )
    )
