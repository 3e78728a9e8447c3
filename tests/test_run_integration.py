"""`xlprompt run` on ../shared/data with random:tiny and the real XLM-R tokenizer (skipped without ../shared).

Each run is cut down (1 epoch, 30 test examples per language, 48 parallel pairs) to finish well under a minute.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SHARED_DATA, XLMR_TOKENIZER_DIR

from xlprompt.languages import XNLI_LANGUAGES

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not (SHARED_DATA.is_dir() and XLMR_TOKENIZER_DIR.is_dir()),
        reason="../shared/data or ../shared/tokenizers/xlm-roberta is absent",
    ),
]

CAP = 30


def xlprompt_command() -> list[str]:
    script = Path(sys.executable).parent / "xlprompt"
    if script.exists():
        return [str(script)]
    found = shutil.which("xlprompt")
    return [found] if found else [sys.executable, "-c", "from xlprompt.cli import main; main()"]


@pytest.mark.parametrize("method_name", ["mpt", "sp", "ft", "pct"])
def test_xlprompt_run_on_shared_data(tmp_path, method_name):
    out = tmp_path / f"{method_name}-run"
    cmd = xlprompt_command() + [
        "run",
        "--method",
        method_name,
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
        "parallel_size=48",
        "--set",
        "max_length=128",
        "--set",
        "device=cpu",
        "--set",
        "eval_batch_size=32",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "random weights" in proc.stdout
    assert f"wrote {out}/results.json" in proc.stdout

    results = json.loads((out / "results.json").read_text("utf-8"))
    assert list(results["accuracy"]) == [*XNLI_LANGUAGES, "avg"]
    assert all(0.0 <= results["accuracy"][lang] <= 100.0 for lang in XNLI_LANGUAGES)
    assert results["random_weights"] is True
    assert results["best_epoch"] == 1
    assert results["method"] == method_name and results["shots"] == 2
    assert results["eval_max_per_language"] == CAP
    assert results["eval_examples"] == {lang: CAP for lang in XNLI_LANGUAGES}
    assert results["train_examples"] == 6  # the fixed split, k = 2 per class
    assert results["parallel_pairs"] == (48 if method_name == "mpt" else 0)
    config = json.loads((out / "config.json").read_text("utf-8"))["config"]
    assert config["tokenizer"] == str(XLMR_TOKENIZER_DIR) and config["data_dir"] == str(SHARED_DATA)
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text("utf-8").splitlines()]
    assert len(metrics) == 1 and "dev_accuracy" in metrics[0]
