"""The data layer on the real data in ``../shared/data`` (skipped where that folder is absent)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from xlprompt.cli import cli
from xlprompt.data import (
    build_parallel_corpus,
    language_counts,
    load_fewshot_split,
    load_xnli,
    read_parallel_jsonl,
)
from xlprompt.data.fewshot import FEWSHOT_KS
from xlprompt.languages import LABELS, TARGET_LANGUAGES, XNLI_LANGUAGES

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"{SHARED_DATA} is absent"),
]


@pytest.fixture(scope="module")
def xnli() -> dict[tuple[str, str], list]:
    return {(split, lang): load_xnli(split, lang, SHARED_DATA) for split in ("dev", "test") for lang in XNLI_LANGUAGES}


@pytest.mark.parametrize("split, rows", [("dev", 2490), ("test", 5010)])
def test_xnli_sizes_and_label_balance(xnli, split, rows):
    for lang in XNLI_LANGUAGES:
        examples = xnli[(split, lang)]
        assert len(examples) == rows, lang
        assert Counter(LABELS[e.label] for e in examples) == dict.fromkeys(LABELS, rows // 3), lang
        assert [e.uid for e in examples] == [f"xnli-{split}-{i}" for i in range(rows)]


@pytest.mark.parametrize("split", ["dev", "test"])
def test_xnli_same_idx_same_label_in_every_language(xnli, split):
    english = [e.label for e in xnli[(split, "en")]]
    for lang in XNLI_LANGUAGES:
        assert [e.label for e in xnli[(split, lang)]] == english, lang


def test_greek_test_set_keeps_its_x1d_characters(xnli):
    greek = xnli[("test", "el")]
    assert len(greek) == 5010
    assert sum((e.premise + e.hypothesis).count("\x1d") for e in greek) == 5


def test_fixed_fewshot_splits_have_3k_rows():
    for k in FEWSHOT_KS:
        for split in ("train", "dev"):
            examples = load_fewshot_split(split, k, "en", SHARED_DATA)
            assert len(examples) == 3 * k
            assert Counter(e.label for e in examples) == {0: k, 1: k, 2: k}
    german = load_fewshot_split("train", 16, "de", SHARED_DATA)
    assert [e.uid for e in german] == [e.uid for e in load_fewshot_split("train", 16, "en", SHARED_DATA)]


def test_fewshot_dev_items_are_xnli_dev_items(xnli):
    dev = {(e.premise, e.hypothesis): e.label for e in xnli[("dev", "en")]}
    test = {(e.premise, e.hypothesis) for e in xnli[("test", "en")]}
    split = load_fewshot_split("dev", 256, "en", SHARED_DATA)
    assert [dev.get((e.premise, e.hypothesis)) for e in split] == [e.label for e in split]  # all 768, same gold
    assert not any((e.premise, e.hypothesis) in test for e in split)


def test_cli_stats_shows_all_languages():
    result = CliRunner().invoke(cli, ["data", "stats", "--data-dir", str(SHARED_DATA)])
    assert result.exit_code == 0, result.output
    table = [line.split() for line in result.stdout.split("\n")]
    for lang in XNLI_LANGUAGES:
        assert [lang, "2,490", "830", "830", "830", "5,010", "1,670", "1,670", "1,670"] in table
    assert ["256", "768", "15/15", "768", "768", "15/15", "768"] in table
    assert ["sw", "390", "195"] in table


@pytest.mark.parametrize("source", ["pawsx", "tatoeba", "xnli-dev"])
def test_build_parallel_writes_500_pairs(tmp_path, source):
    out = tmp_path / f"{source}.jsonl"
    result = CliRunner().invoke(
        cli,
        [
            "data",
            "build-parallel",
            "--source",
            source,
            "--size",
            "500",
            "--seed",
            "0",
            "--out",
            str(out),
            "--data-dir",
            str(SHARED_DATA),
        ],
    )
    assert result.exit_code == 0, result.output
    pairs = read_parallel_jsonl(out, expected_languages=TARGET_LANGUAGES)
    assert len(pairs) == 500 and len({p.uid for p in pairs}) == 500
    counts = language_counts(pairs)
    if source == "pawsx":
        assert counts == {"de": 125, "es": 125, "fr": 125, "zh": 125}
    else:
        assert set(counts) == set(TARGET_LANGUAGES) and set(counts.values()) == {35, 36}
    if source == "xnli-dev":
        assert all(p.uid.startswith("xnli-dev-") for p in pairs)
    assert pairs == build_parallel_corpus(source, size=500, seed=0, data_dir=SHARED_DATA)


def test_xnli_dev_corpus_pairs_are_translations(xnli):
    pairs = build_parallel_corpus("xnli-dev", size=50, seed=1, data_dir=SHARED_DATA)
    for p in pairs:
        idx = int(p.uid.rsplit("-", 1)[1])
        assert p.src_premise == xnli[("dev", "en")][idx].premise
        assert p.tgt_hypothesis == xnli[("dev", p.tgt_lang)][idx].hypothesis
