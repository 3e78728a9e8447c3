"""Models made for many languages: random architectures with the real vocabulary sizes, their tokenizers,
and the one-line refusal of a model without a usable MLM head (mDeBERTa-v3)."""

from __future__ import annotations

import json

import pytest

from xlprompt.errors import ModelError
from xlprompt.models.backbone import builtin_tokenizer, default_tokenizer_spec, load_masked_lm, random_config


@pytest.mark.parametrize("arch,vocab", [("glot500-base", 401145), ("xlm-v-base", 901629)])
def test_random_architectures_have_the_real_vocabulary(arch, vocab):
    config = random_config(arch, builtin_tokenizer())
    assert config.vocab_size == vocab
    assert (config.hidden_size, config.num_hidden_layers, config.intermediate_size) == (768, 12, 3072)
    assert (
        default_tokenizer_spec(f"random:{arch}")
        == {"glot500-base": "cis-lmu/glot500-base", "xlm-v-base": "facebook/xlm-v-base"}[arch]
    )


def test_random_large_and_tiny_take_the_tokenizers_size():
    tok = builtin_tokenizer()
    assert random_config("xlm-roberta-large", tok).vocab_size == len(tok)
    assert random_config("xlm-roberta-large", tok).hidden_size == 1024


def test_mdeberta_is_refused_in_one_line(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "deberta-v2", "vocab_size": 251000}))
    for spec in (str(tmp_path), "random:mdeberta-v3-base"):
        with pytest.raises(ModelError, match="replaced-token-detection") as err:
            load_masked_lm(spec, builtin_tokenizer())
        assert "22790" in str(err.value) and "\n" not in str(err.value)
