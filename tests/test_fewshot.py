"""Fixed few-shot splits and the seeded k-per-class sampler."""

from __future__ import annotations

import hashlib
import warnings
from collections import Counter
from dataclasses import replace

import pytest
from datafactory import fewshot_rows, make_pool, write_fewshot, write_jsonl
from hypothesis import given, settings
from hypothesis import strategies as st

from xlprompt.data import NO_LABEL, NLIExample, load_fewshot_split, sample_k_per_class
from xlprompt.data.fewshot import FEWSHOT_KS, fewshot_path, stable_digest
from xlprompt.errors import ConfigError, DataError
from xlprompt.languages import LABELS

# -- load_fewshot_split ------------------------------------------------------------------------------


def test_load_train_and_dev_splits_in_every_language(tmp_path):
    write_fewshot(tmp_path, ("en", "de", "sw"), ks=(1, 4))
    train = load_fewshot_split("train", 4, "en", tmp_path)
    assert len(train) == 12
    assert [e.uid for e in train[:3]] == ["mnli-train-4000", "mnli-train-4001", "mnli-train-4002"]
    assert Counter(e.label for e in train) == {0: 4, 1: 4, 2: 4}
    assert train[0].premise == "[en] train k4 premise 0" and train[0].lang == "en"
    german = load_fewshot_split("train", 4, "de", tmp_path)
    assert [e.uid for e in german] == [e.uid for e in train]  # same items, translated
    assert german[5].hypothesis == "[de] train k4 hypothesis 5"
    dev = load_fewshot_split("dev", 1, "sw", tmp_path)
    assert [(e.uid, e.label, e.lang) for e in dev] == [
        ("xnli-dev-pair500", 0, "sw"),
        ("xnli-dev-pair501", 1, "sw"),
        ("xnli-dev-pair502", 2, "sw"),
    ]


def test_paths_follow_the_published_layout(tmp_path):
    assert fewshot_path(tmp_path, "train", 8) == tmp_path / "xnli-fewshot/train/en/train_split,8.jsonl"
    assert fewshot_path(tmp_path, "dev", 2, "de") == tmp_path / "xnli-fewshot/dev/rest/dev_split,de,2.jsonl"


@pytest.mark.parametrize("k", [0, 3, 512, "8", True])
def test_unknown_k_lists_the_allowed_values(tmp_path, k):
    with pytest.raises(ConfigError) as info:
        load_fewshot_split("train", k, "en", tmp_path)
    assert "Allowed k: 1, 2, 4, 8, 16, 32, 64, 128, 256" in str(info.value)


def test_unknown_split_and_language(tmp_path):
    with pytest.raises(ConfigError, match="unknown few-shot split 'test'. Allowed: train, dev"):
        load_fewshot_split("test", 8, "en", tmp_path)
    with pytest.raises(ConfigError, match="unknown language code 'jp'"):
        load_fewshot_split("train", 8, "jp", tmp_path)


def test_without_data_dir_reads_the_default_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XLPROMPT_DATA", str(tmp_path / "home"))
    with pytest.raises(DataError) as info:
        load_fewshot_split("train", 16)
    assert str(info.value).startswith(f"{tmp_path / 'home' / 'xnli-fewshot/train/en/train_split,16.jsonl'}: ")
    assert "xlprompt data fetch" in str(info.value)


def test_missing_file_names_it(tmp_path):
    write_fewshot(tmp_path, ("en",), ks=(1,))
    with pytest.raises(DataError) as info:
        load_fewshot_split("dev", 1, "th", tmp_path)
    assert str(fewshot_path(tmp_path, "dev", 1, "th")) in str(info.value) and "not found" in str(info.value)


def _write_split(tmp_path, rows, split="train", k=1, lang="en"):
    return write_jsonl(fewshot_path(tmp_path, split, k, lang), rows)


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"gold": "entail"}, "unknown gold label 'entail'; allowed: entailment, neutral, contradiction"),
        ({"lang": "de"}, "lang is 'de' but this is the 'en' file; fix the field or the file name"),
        ({"sentence1": 7}, "sentence1 must be a string, found 7"),
        ({"file_idx": None}, "file_idx must be a non-empty string or integer, found None"),
        ({"file_idx": 1000}, "file_idx 1000 occurs twice (first on line 1)"),
    ],
)
def test_bad_rows_name_file_line_and_value(tmp_path, change, expected):
    rows = fewshot_rows("train", 1, "en")
    rows[1].update(change)
    path = _write_split(tmp_path, rows)
    with pytest.raises(DataError) as info:
        load_fewshot_split("train", 1, "en", tmp_path)
    assert str(info.value) == f"{path}:2: {expected}"


def test_missing_field_names_it(tmp_path):
    rows = fewshot_rows("dev", 1, "en")
    del rows[2]["pairID"]
    path = _write_split(tmp_path, rows, split="dev")
    with pytest.raises(DataError) as info:
        load_fewshot_split("dev", 1, "en", tmp_path)
    assert str(info.value).startswith(f"{path}:3: missing field 'pairID'")


def test_class_counts_must_match_k(tmp_path):
    rows = fewshot_rows("train", 2, "en")
    rows[0]["gold"] = "neutral"
    path = _write_split(tmp_path, rows, k=2)
    with pytest.raises(DataError) as info:
        load_fewshot_split("train", 2, "en", tmp_path)
    assert str(path) in str(info.value)
    assert "found entailment=1, neutral=3, contradiction=2" in str(info.value)


def test_empty_text_is_kept_with_a_warning(tmp_path):
    rows = fewshot_rows("train", 1, "ar")
    rows[2]["sentence2"] = ""
    path = _write_split(tmp_path, rows, lang="ar")
    with pytest.warns(UserWarning) as record:
        examples = load_fewshot_split("train", 1, "ar", tmp_path)
    assert examples[2].hypothesis == "" and len(examples) == 3
    assert str(record[0].message).startswith(f"{path}: 1 example(s) with an empty premise or hypothesis (line 3)")


# -- sample_k_per_class --------------------------------------------------------------------------


def test_stable_digest_is_plain_sha256():
    assert stable_digest(7, "a", "b") == hashlib.sha256(b"7\x00a\x00b").digest()


def test_sampler_output_is_pinned():
    """The exact sample for a seed is fixed: a change of algorithm must fail this test."""
    pool = make_pool(10)
    assert [e.uid for e in sample_k_per_class(pool, 2, 0)] == [
        "pool-7",
        "pool-6",
        "pool-8",
        "pool-1",
        "pool-27",
        "pool-23",
    ]
    assert [e.uid for e in sample_k_per_class(pool, 2, 1)] == [
        "pool-3",
        "pool-16",
        "pool-10",
        "pool-17",
        "pool-26",
        "pool-18",
    ]
    assert [e.uid for e in sample_k_per_class(pool, 2, 42)] == [
        "pool-7",
        "pool-3",
        "pool-12",
        "pool-16",
        "pool-29",
        "pool-20",
    ]


def test_sampler_is_class_balanced_and_seeds_differ():
    pool = make_pool(40)
    samples = {seed: sample_k_per_class(pool, 8, seed) for seed in range(5)}
    for sample in samples.values():
        assert Counter(e.label for e in sample) == {0: 8, 1: 8, 2: 8}
        assert len({e.uid for e in sample}) == 24
    assert len({frozenset(e.uid for e in s) for s in samples.values()}) == 5


def test_sampler_ignores_pool_order_and_larger_k_is_a_superset():
    pool = make_pool(20)
    forward = sample_k_per_class(pool, 4, 3)
    assert sample_k_per_class(list(reversed(pool)), 4, 3) == forward
    assert {e.uid for e in forward} <= {e.uid for e in sample_k_per_class(pool, 8, 3)}


def test_sampler_rejects_unlabelled_examples():
    pool = make_pool(5) + [NLIExample("p", "h", NO_LABEL, "en", "u-1")]
    with pytest.raises(DataError) as info:
        sample_k_per_class(pool, 2, 0)
    assert "1 of 16 pool examples have no valid label (e.g. uid 'u-1': unlabelled)" in str(info.value)


def test_sampler_k_larger_than_a_class_names_the_class():
    pool = [e for e in make_pool(10) if not (e.label == 1 and int(e.uid.split("-")[1]) > 13)]
    assert Counter(e.label for e in pool)[1] == 5
    with pytest.raises(ConfigError) as info:
        sample_k_per_class(pool, 6, 0)
    assert "class 'neutral' has only 5 distinct example(s) in the pool of 25" in str(info.value)
    assert "lower k to at most 5" in str(info.value)


def test_sampler_drops_duplicates_with_a_warning_and_never_returns_fewer():
    pool = make_pool(4)
    duplicates = [replace(pool[0], uid="dup-a"), replace(pool[0], uid="dup-b", lang="de"), replace(pool[4])]
    with pytest.warns(UserWarning, match=r"dropped 3 duplicate example\(s\) .* from a pool of 15"):
        sample = sample_k_per_class(pool + duplicates, 4, 0)
    assert len(sample) == 12 and len({(e.premise, e.hypothesis) for e in sample}) == 12
    # the kept copy is the one with the smallest (uid, lang), whatever the pool order
    assert [e.uid for e in sample if e.premise == pool[0].premise] == ["dup-a"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ConfigError, match=r"only 4 distinct example\(s\).*\(3 duplicates dropped\)"):
            sample_k_per_class(pool + duplicates, 5, 0)


@pytest.mark.parametrize("k, seed", [(0, 0), (-1, 0), (2.0, 0), (True, 0), (2, "0"), (2, 1.5)])
def test_sampler_rejects_bad_k_and_seed(k, seed):
    with pytest.raises(ConfigError):
        sample_k_per_class(make_pool(3), k, seed)


def test_fewshot_ks_are_the_published_ones():
    assert FEWSHOT_KS == (1, 2, 4, 8, 16, 32, 64, 128, 256)


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.tuples(*(st.integers(min_value=3, max_value=12) for _ in LABELS)),
    k=st.integers(min_value=1, max_value=3),
    seed=st.integers(min_value=-(2**40), max_value=2**40),
    permutation_seed=st.randoms(use_true_random=False),
)
def test_sampler_properties(sizes, k, seed, permutation_seed):
    pool = [
        NLIExample(f"p{label}-{i}", f"h{label}-{i}", label, "en", f"u{label}-{i}")
        for label, n in enumerate(sizes)
        for i in range(n)
    ]
    sample = sample_k_per_class(pool, k, seed)
    assert Counter(e.label for e in sample) == {label: k for label in range(len(LABELS))}
    assert len(set(sample)) == len(sample)
    shuffled = list(pool)
    permutation_seed.shuffle(shuffled)
    assert sample_k_per_class(shuffled, k, seed) == sample
