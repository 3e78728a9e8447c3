"""`xlprompt run` of the field's methods on ../shared/data with random:tiny and the real XLM-R tokenizer
(skipped without ../shared): DP, DPA, SoftMV (with a small MUSE-format dictionary the test writes) and MPT with
a prompt per target language, each cut down to 1 epoch and 20 test examples per language."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from conftest import SHARED_DATA, XLMR_TOKENIZER_DIR
from safetensors.torch import load_file
from test_run_integration import xlprompt_command

from xlprompt.data.muse import SOFTMV_LANGUAGES
from xlprompt.languages import TARGET_LANGUAGES, XNLI_LANGUAGES

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not (SHARED_DATA.is_dir() and XLMR_TOKENIZER_DIR.is_dir()),
        reason="../shared/data or ../shared/tokenizers/xlm-roberta is absent",
    ),
]

CAP = 20


@pytest.mark.parametrize("variant", ["dp", "dpa", "softmv", "mpt-language"])
def test_field_method_runs_end_to_end(tmp_path, variant):
    muse = tmp_path / "muse"
    muse.mkdir()
    for lang in SOFTMV_LANGUAGES:
        (muse / f"en-{lang}.txt").write_text(f"the {lang}the\nman {lang}man\npeople {lang}people\n", "utf-8")
    extra = {
        "dp": ["--method", "dp", "--set", "label_words=right,maybe,wrong", "--set", "scoring=labels"],
        "dpa": ["--method", "dpa", "--set", "batch_size=2", "--set", "grad_accumulation_steps=4"],
        "softmv": ["--method", "softmv", "--set", f"dictionary_dir={muse}"],
        "mpt-language": [
            "--method",
            "mpt",
            "--set",
            "translator_conditioning=language",
            "--set",
            "parallel_source=tatoeba",
            "--set",
            "parallel_size=28",
        ],
    }[variant]
    out = tmp_path / "run"
    cmd = xlprompt_command() + [
        "run",
        *extra,
        "--shots",
        "2",
        "--seed",
        "1",
        "--model",
        "random:tiny",
        "--tokenizer",
        str(XLMR_TOKENIZER_DIR),
        "--data-dir",
        str(SHARED_DATA),
        "--out",
        str(out),
        "--quiet",
        "--set",
        "epochs=1",
        "--set",
        f"eval_max_per_language={CAP}",
        "--set",
        "max_length=128",
        "--set",
        "device=cpu",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    results = json.loads((out / "results.json").read_text("utf-8"))
    assert list(results["accuracy"]) == [*XNLI_LANGUAGES, "avg"]
    assert results["eval_examples"] == {lang: CAP for lang in XNLI_LANGUAGES}
    assert results["method"] == variant.split("-")[0]
    if variant == "mpt-language":
        prompts = load_file(str(out / "prompt.safetensors"))
        targets = [prompts[f"prompt.p_target.{lang}"] for lang in TARGET_LANGUAGES]
        assert len(targets) == 14
