"""Bad input through the real CLI: each gives exit status 2, exactly one ``error: ...`` line that
names the file / field / value (and the fix), and no traceback.

Most cases run ``xlprompt run`` in-process (click's CliRunner, stderr kept apart); one runs the installed
``xlprompt`` in a subprocess to check the real exit status and stderr. Data folders are written by
``datafactory`` (the layout of ``../shared/data``) into ``tmp_path`` and then damaged.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from datafactory import write_data_dir, write_jsonl

from xlprompt.cli import cli

LANGS = ("en", "de")


# ----------------------------------------------------------------------------------------------- helpers
def run_args(data_dir, out, *extra: str, method: str = "sp", shots: int = 1) -> list[str]:
    return [
        "run",
        "--model",
        "random:tiny",
        "--method",
        method,
        "--shots",
        str(shots),
        "--data-dir",
        str(data_dir),
        "--out",
        str(out),
        "--quiet",
        "--no-save-weights",
        "--set",
        "epochs=1",
        "--set",
        "device=cpu",
        "--set",
        f"eval_languages={','.join(LANGS)}",
        "--set",
        "max_length=64",
        *extra,
    ]


def invoke(args: list[str]):
    return CliRunner().invoke(cli, args)


def error_line(result, *fragments: str) -> str:
    """Assert a one-line user error (exit 2, no traceback) containing every fragment; return the line."""
    output = result.output + (result.stderr if result.stderr not in result.output else "")
    assert "Traceback" not in output, output
    assert result.exit_code == 2, f"exit {result.exit_code}, exception {result.exception!r}\n{output}"
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert "error:" not in result.stdout
    for fragment in fragments:
        assert fragment in errors[0], f"{fragment!r} not in {errors[0]!r}"
    return errors[0]


@pytest.fixture
def data(tmp_path) -> Path:
    """A small, valid data folder (en, de; k=1): 12 dev and 15 test rows per language, \\x1c/\\x1d in texts."""
    return write_data_dir(tmp_path / "data", langs=LANGS, n_dev=12, n_test=6, ks=(1,))


def xnli(data: Path, lang: str = "de", split: str = "test") -> Path:
    return data / "xnli" / split / f"{lang}.tsv"


def train_split(data: Path) -> Path:
    return data / "xnli-fewshot" / "train" / "en" / "train_split,1.jsonl"


def edit_lines(path: Path, change) -> None:
    """Rewrite ``path`` (split on \\n only) with ``change(lines) -> lines``."""
    lines = path.read_bytes().decode("utf-8").split("\n")
    path.write_bytes("\n".join(change(lines)).encode("utf-8"))


# ----------------------------------------------------------------------------------------------- good input
def test_odd_characters_and_extra_columns_load(data, tmp_path):
    """\\x1c/\\x1d inside texts load as text (not line breaks); extra TSV columns and JSONL fields are ignored."""
    edit_lines(xnli(data), lambda lines: [line + ("\textra" if line else "") for line in lines])
    edit_lines(xnli(data), lambda lines: [lines[0].replace("\textra", "\tnote")] + lines[1:])
    rows = [json.loads(line) for line in train_split(data).read_text("utf-8").splitlines()]
    write_jsonl(train_split(data), [{**row, "comment": "extra field"} for row in rows])
    assert "\x1d" in xnli(data).read_text("utf-8") and "\x1c" in xnli(data, "en", "dev").read_text("utf-8")
    result = invoke(run_args(data, tmp_path / "out"))
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["eval_examples"] == {"en": 6, "de": 6}


# ----------------------------------------------------------------------------------------------- data files
def test_tsv_missing_column(data, tmp_path):
    edit_lines(
        xnli(data),
        lambda lines: [
            "\t".join(f for i, f in enumerate(line.split("\t")) if i != 3) if line else line for line in lines
        ],
    )
    error_line(
        invoke(run_args(data, tmp_path / "out")),
        "xnli/test/de.tsv:1",
        "missing required column 'label'",
        "expected (tab-separated, any order): idx, premise, hypothesis, label",
    )


def test_tsv_extra_field_in_a_row(data, tmp_path):
    edit_lines(
        xnli(data),
        lambda lines: lines[:3] + [lines[3].replace("\tcontradiction", "\tstray\tcontradiction")] + lines[4:],
    )
    error_line(
        invoke(run_args(data, tmp_path / "out")),
        "xnli/test/de.tsv:4",
        "line has 6 tab-separated fields, expected 5",
        "replace tabs inside texts with spaces",
    )


def test_tsv_missing_field_in_a_row(data, tmp_path):
    edit_lines(xnli(data), lambda lines: lines[:2] + ["\t".join(lines[2].split("\t")[:4])] + lines[3:])
    error_line(
        invoke(run_args(data, tmp_path / "out")), "xnli/test/de.tsv:3", "line has 4 tab-separated fields, expected 5"
    )


def test_jsonl_missing_field(data, tmp_path):
    edit_lines(train_split(data), lambda lines: [lines[0].replace('"gold"', '"label"')] + lines[1:])
    error_line(
        invoke(run_args(data, tmp_path / "out")),
        "train_split,1.jsonl:1",
        "missing field 'gold'",
        "every line needs: lang, sentence1, sentence2, gold, file_idx",
    )


def test_unknown_label_string(data, tmp_path):
    edit_lines(xnli(data), lambda lines: lines[:2] + [lines[2].replace("\tneutral\t", "\tneutrall\t")] + lines[3:])
    error_line(
        invoke(run_args(data, tmp_path / "out")),
        "xnli/test/de.tsv:3",
        "unknown label 'neutrall'",
        "allowed: entailment, neutral, contradiction",
    )


def test_integer_label_out_of_range_tsv(data, tmp_path):
    edit_lines(xnli(data), lambda lines: lines[:2] + [lines[2].replace("\tneutral\t", "\t3\t")] + lines[3:])
    error_line(invoke(run_args(data, tmp_path / "out")), "xnli/test/de.tsv:3", "label '3'", "0, 1, 2")


def test_integer_label_out_of_range_jsonl(data, tmp_path):
    edit_lines(train_split(data), lambda lines: [lines[0].replace('"gold": "entailment"', '"gold": 7')] + lines[1:])
    error_line(invoke(run_args(data, tmp_path / "out")), "train_split,1.jsonl:1", "unknown gold label 7")


def test_empty_file(data, tmp_path):
    xnli(data).write_bytes(b"")
    error_line(invoke(run_args(data, tmp_path / "out")), "xnli/test/de.tsv", "file is empty")


def test_header_only_file(data, tmp_path):
    edit_lines(xnli(data), lambda lines: lines[:1] + [""])
    error_line(invoke(run_args(data, tmp_path / "out")), "xnli/test/de.tsv", "has a header but no rows")


def test_empty_jsonl_file(data, tmp_path):
    train_split(data).write_bytes(b"")
    error_line(
        invoke(run_args(data, tmp_path / "out")),
        "train_split,1.jsonl",
        "must hold 1 examples of each class, found entailment=0",
    )


def test_truncated_tsv(data, tmp_path):
    xnli(data).write_bytes(xnli(data).read_bytes()[:-12])
    error_line(invoke(run_args(data, tmp_path / "out")), "xnli/test/de.tsv:7", "was it truncated?")


def test_truncated_jsonl(data, tmp_path):
    train_split(data).write_bytes(train_split(data).read_bytes()[:-30])
    error_line(invoke(run_args(data, tmp_path / "out")), "train_split,1.jsonl:3", "invalid JSON")


def test_invalid_utf8(data, tmp_path):
    raw = xnli(data).read_bytes()
    xnli(data).write_bytes(raw.replace(b"premise 4", b"premise \xff4"))
    error_line(
        invoke(run_args(data, tmp_path / "out")),
        "xnli/test/de.tsv:6",
        "invalid UTF-8 (byte 0xff",
        "re-save the file as UTF-8",
    )


def test_duplicate_idx(data, tmp_path):
    edit_lines(xnli(data), lambda lines: lines[:4] + [lines[4].replace("3\t", "2\t", 1)] + lines[5:])
    error_line(invoke(run_args(data, tmp_path / "out")), "xnli/test/de.tsv:5", "idx 2 occurs twice (first on line 4)")


def test_duplicate_fewshot_id(data, tmp_path):
    edit_lines(
        train_split(data),
        lambda lines: lines[:2] + [lines[2].replace('"file_idx": 1002', '"file_idx": 1000')] + lines[3:],
    )
    error_line(invoke(run_args(data, tmp_path / "out")), "train_split,1.jsonl:3", "file_idx 1000 occurs twice")


def test_duplicate_examples_in_sampling_pool_and_k_too_large(data, tmp_path):
    """train_source=sample: duplicates are dropped with a one-line warning; k above a class's pool is an error."""
    edit_lines(xnli(data, "en", "dev"), lambda lines: lines[:-1] + [lines[1].replace("0\t", "12\t", 1), ""])
    result = invoke(run_args(data, tmp_path / "out", "--set", "train_source=sample", shots=5))
    error_line(
        result,
        "k=5 per class",
        "class 'entailment' has only 4 distinct example(s)",
        "(1 duplicates dropped)",
        "lower k to at most 4",
    )
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: sample_k_per_class: dropped 1 duplicate example(s) (same premise, hypothesis "
        "and label) from a pool of 13"
    ]


def test_k_not_a_fixed_split(data, tmp_path):
    error_line(invoke(run_args(data, tmp_path / "out", shots=3)), "shots=3", "train_source=sample")


def test_fewshot_file_of_another_language(data, tmp_path):
    edit_lines(train_split(data), lambda lines: [lines[0].replace('"lang": "en"', '"lang": "xx"')] + lines[1:])
    error_line(invoke(run_args(data, tmp_path / "out")), "train_split,1.jsonl:1", "lang is 'xx'")


def test_missing_data_dir(tmp_path):
    error_line(
        invoke(run_args(tmp_path / "nowhere", tmp_path / "out")),
        "nowhere (from --data-dir / data_dir) does not exist: xnli-fewshot/train/en/train_split,1.jsonl not found",
        "xlprompt data fetch --out ",
    )


# ----------------------------------------------------------------------------------------------- config
@pytest.mark.parametrize(
    "setting, fragments",
    [
        ("alpah=0.3", ("unknown config key 'alpah'", "Did you mean 'alpha'?")),
        ("promt_length=8", ("unknown config key 'promt_length'", "Did you mean 'prompt_length'?")),
        ("prompt_length=0", ("prompt_length must be >= 1", "not 0")),
        ("prompt_length=300", ("prompt_length=300 leaves no room in max_length=64", "prompt_length <= 56")),
        ("alpha=1.5", ("alpha must lie in [0, 1]", "not 1.5")),
        ("alpha=-0.1", ("alpha must lie in [0, 1]", "not -0.1")),
        ("alpha=nan", ("alpha must be a finite number",)),
        ("lr=inf", ("lr must be a finite number",)),
        ("weight_decay=-1", ("weight_decay must be >= 0",)),
        ("num_threads=-3", ("num_threads must be >= 1",)),
        ("max_length=0", ("max_length must be >= 16, not 0",)),
        ("epochs=many", ("config key 'epochs' needs a value of type int, not 'many'",)),
        ("eval_languages=en,xx", ("unknown language code 'xx'", "Allowed: ar, bg")),
        ("eval_languages=en,DE", ("unknown language code 'DE'", "Did you mean 'de'?")),
        ("method=xyz", ("method must be one of mpt, sp, ft, pct, dp, dpa, softmv, xpe, dual, not 'xyz'",)),
        ("softmv_cosda_rate=1.5", ("softmv_cosda_rate must lie in [0, 1]",)),
        ("grad_accumulation_steps=0", ("grad_accumulation_steps must be >= 1",)),
    ],
)
def test_bad_config_values(setting, fragments, tmp_path):
    error_line(invoke(run_args("builtin:demo", tmp_path / "out", "--set", setting, shots=2)), *fragments)
    assert not (tmp_path / "out").exists()  # refused before anything is written


def test_label_word_of_several_tokens(tmp_path):
    error_line(
        invoke(run_args("builtin:demo", tmp_path / "out", "--set", "label_words=yes,perhaps-not-at-all,no")),
        "label word 'perhaps-not-at-all' (neutral) is",
        "tokens",
        "multi_token_label_words=first",
    )


def test_label_words_file_with_unknown_language(tmp_path):
    path = tmp_path / "words.json"
    path.write_text(json.dumps({"de": ["ja", "vielleicht", "nein"], "xx": ["a", "b", "c"]}))
    error_line(
        invoke(run_args("builtin:demo", tmp_path / "out", "--set", f"label_words_file={path}")),
        str(path),
        "unknown language code 'xx'",
    )


# ----------------------------------------------------------------------------------------------- models
@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory):
    """Local model folders: a GPT-2 (not a masked LM), a tokenizer without a mask token, an XLM-R MLM with only
    34 positions (32 usable) — all tiny, random weights, with the builtin tokenizer's vocabulary."""
    from tokenizers import Tokenizer
    from transformers import (
        GPT2Config,
        GPT2LMHeadModel,
        PreTrainedTokenizerFast,
        XLMRobertaConfig,
        XLMRobertaForMaskedLM,
    )

    from xlprompt.models.backbone import _builtin_tokenizer_json, builtin_tokenizer

    root = tmp_path_factory.mktemp("models")
    tok = builtin_tokenizer()
    gpt2 = GPT2LMHeadModel(
        GPT2Config(n_layer=1, n_head=2, n_embd=16, n_positions=64, vocab_size=len(tok), bos_token_id=0, eos_token_id=2)
    )
    gpt2.save_pretrained(root / "gpt2")
    tok.save_pretrained(root / "gpt2")
    PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(_builtin_tokenizer_json()),
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
    ).save_pretrained(root / "nomask")
    short = XLMRobertaForMaskedLM(
        XLMRobertaConfig(
            vocab_size=len(tok),
            hidden_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=32,
            max_position_embeddings=34,
            pad_token_id=1,
        )
    )
    short.save_pretrained(root / "short")
    tok.save_pretrained(root / "short")
    (root / "badconfig").mkdir()
    (root / "badconfig" / "config.json").write_text("{not json")
    return root


def test_model_that_is_not_a_masked_lm(model_dirs, tmp_path):
    error_line(
        invoke(run_args("builtin:demo", tmp_path / "out", shots=2) + ["--model", str(model_dirs / "gpt2")]),
        str(model_dirs / "gpt2"),
        "(gpt2) is not a masked language model",
        "e.g. xlm-roberta-base",
    )


def test_tokenizer_without_mask_token(model_dirs, tmp_path):
    error_line(
        invoke(run_args("builtin:demo", tmp_path / "out", shots=2) + ["--tokenizer", str(model_dirs / "nomask")]),
        str(model_dirs / "nomask"),
        "has no mask token",
        "masked-LM tokenizer",
    )


def test_max_length_beyond_the_models_positions(model_dirs, tmp_path):
    error_line(
        invoke(run_args("builtin:demo", tmp_path / "out", shots=2) + ["--model", str(model_dirs / "short")]),
        "max_length=64 is longer than model",
        "(32 positions)",
        "set max_length <= 32",
    )


def test_model_dir_with_corrupt_config(model_dirs, tmp_path):
    error_line(
        invoke(
            run_args("builtin:demo", tmp_path / "out", shots=2)
            + ["--model", str(model_dirs / "badconfig"), "--tokenizer", "builtin:tiny"]
        ),
        f"could not load model '{model_dirs / 'badconfig'}'",
        "not a valid JSON file",
    )


def test_missing_model_dir(tmp_path):
    missing = tmp_path / "no" / "such-model"
    error_line(
        invoke(run_args("builtin:demo", tmp_path / "out", shots=2) + ["--model", str(missing)]),
        f"model '{missing}': no such directory",
    )


def test_unknown_random_architecture(tmp_path):
    error_line(
        invoke(
            run_args("builtin:demo", tmp_path / "out", shots=2)
            + ["--model", "random:huge", "--tokenizer", "builtin:tiny"]
        ),
        "unknown random architecture 'huge'",
        "random:tiny",
    )


# ----------------------------------------------------------------------------------------------- parallel corpus
def parallel_row(src="en", tgt="de", uid="p0") -> dict:
    return {
        "src_lang": src,
        "tgt_lang": tgt,
        "src_premise": "A man sleeps.",
        "src_hypothesis": "He rests.",
        "tgt_premise": "Ein Mann schläft.",
        "tgt_hypothesis": "Er ruht.",
        "uid": uid,
    }


@pytest.mark.parametrize(
    "bad, fragments",
    [
        (parallel_row(tgt="ja", uid="p1"), (":2", "unknown tgt_lang code 'ja'")),
        (parallel_row(tgt="fr", uid="p1"), (":2", "tgt_lang 'fr' is not among the run's languages (de)")),
        (parallel_row(src="fr", tgt="de", uid="p1"), (":2", "src_lang is 'fr' but the run transfers from 'en'")),
        (parallel_row(tgt="en", src="de", uid="p1"), (":2", "tgt_lang 'en' is not among the run's languages")),
        (parallel_row(tgt="en", uid="p1"), (":2", "src_lang and tgt_lang are both 'en'")),
        (parallel_row(uid="p0"), (":2", "uid 'p0' occurs twice")),
    ],
)
def test_parallel_corpus_languages_do_not_match_the_run(bad, fragments, tmp_path):
    path = write_jsonl(tmp_path / "pairs.jsonl", [parallel_row(), bad])
    args = run_args(
        "builtin:demo",
        tmp_path / "out",
        "--set",
        "parallel_source=file",
        "--set",
        f"parallel_file={path}",
        method="mpt",
        shots=2,
    )
    error_line(invoke(args), str(path), *fragments)


def test_parallel_corpus_smaller_than_parallel_size(tmp_path):
    path = write_jsonl(tmp_path / "pairs.jsonl", [parallel_row(), parallel_row(uid="p1")])
    args = run_args(
        "builtin:demo",
        tmp_path / "out",
        "--set",
        "parallel_source=file",
        "--set",
        f"parallel_file={path}",
        method="mpt",
        shots=2,
    )
    error_line(invoke(args), str(path), "holds 2 parallel pairs, fewer than parallel_size=500", "set parallel_size=2")


# ----------------------------------------------------------------------------------------------- real process
def test_real_process_exit_status_and_stderr(tmp_path):
    """The installed ``xlprompt`` entry point: exit status 2, one ``error:`` line on stderr, no traceback."""
    exe = Path(sys.executable).with_name("xlprompt")
    command = [str(exe)] if exe.exists() else [sys.executable, "-c", "from xlprompt.cli import main; main()"]
    proc = subprocess.run(
        command + run_args("builtin:demo", tmp_path / "out", "--set", "alpah=0.3"),
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stderr.splitlines() == ["error: --set: unknown config key 'alpah'. Did you mean 'alpha'?"]
    assert proc.stdout == ""


def test_a_genuine_bug_keeps_its_traceback(tmp_path, monkeypatch):
    """Only user errors become one-liners: an internal error propagates (exit 1, the exception kept)."""
    import xlprompt.experiment

    def broken(*args, **kwargs):
        raise RuntimeError("internal bug")

    monkeypatch.setattr(xlprompt.experiment, "run_experiment", broken)
    result = invoke(run_args("builtin:demo", tmp_path / "out", shots=2))
    assert result.exit_code == 1
    assert isinstance(result.exception, RuntimeError)
    assert "error:" not in result.stderr
