"""The toy world's data (labels from the sentences, disjoint splits, translations by the dictionary), its task and
model specs, and the toy model's pre-training being a function of its seed."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from xlprompt.data.toy import ATTRIBUTES, TOY_LANGUAGES, TOY_TARGETS, pretraining_corpus, toy_world

VALUE_ATTRIBUTE = {v: a for a, vs in ATTRIBUTES.items() for v in vs}


def english_label(premise: str, hypothesis: str) -> int:
    """The label read off the English text by hand: the hypothesis's value, its attribute, whether it is denied
    ("not"), and what the premise says of that attribute."""
    value = [w for w in hypothesis.split() if w in VALUE_ATTRIBUTE][-1]
    given = [w for w in premise.split() if VALUE_ATTRIBUTE.get(w) == VALUE_ATTRIBUTE[value]]
    if not given:
        return 1
    stated = given == [value]
    return 0 if stated != ("not" in hypothesis.split()) else 2


def test_labels_follow_from_the_english_sentences():
    world = toy_world()
    for ex in [*world.train_pool[:500], *world.test["en"]]:
        assert ex.label == english_label(ex.premise, ex.hypothesis), ex
        assert re.fullmatch(r"[a-z0-9 .]+", ex.premise + ex.hypothesis)


def test_splits_are_disjoint_balanced_and_parallel():
    world = toy_world()
    test_premises = {ex.premise for ex in world.test["en"]}
    assert not test_premises & {ex.premise for ex in (*world.train_pool, *world.dev_pool)}
    assert not test_premises & {p.src_premise for p in world.parallel}
    assert Counter(ex.label for ex in world.test["en"]) == {0: 300, 1: 300, 2: 300}
    for lang in TOY_LANGUAGES:  # the same items, in the same order, with the same labels, in every language
        assert [(ex.uid, ex.label) for ex in world.test[lang]] == [(ex.uid, ex.label) for ex in world.test["en"]]
    assert Counter(p.tgt_lang for p in world.parallel).keys() == set(TOY_TARGETS)


def test_targets_use_their_dictionary_and_share_names():
    world = toy_world()
    for lang in TOY_TARGETS:
        table = world.dictionaries[lang]
        for en, tgt in zip(world.test["en"][:60], world.test[lang][:60]):
            for en_text, text in ((en.premise, tgt.premise), (en.hypothesis, tgt.hypothesis)):
                words = [table.get(w, w) for w in en_text.split()]
                if lang == "qaa":  # word for word, in the same order
                    assert text.split() == words
                else:  # word for word, reordered (verb-final in qab, verb-first in qac)
                    assert sorted(text.split()) == sorted(words) and text.split() != words
            name = en.premise.split()[0]
            assert name in tgt.premise.split() and name not in table  # names are shared
        if lang != "qaa":
            last, first = (world.test[lang][0].premise.split()[i] for i in (-2, 0))
            assert (last if lang == "qab" else first) == table["has"]
    assert "3" not in world.dictionaries["qaa"] and "3" in world.dictionaries["qac"]  # qac has its own numbers
    assert len(set(world.dictionaries["qaa"].values()) & set(world.dictionaries["qab"].values())) == 0


def test_pretraining_corpus_has_no_test_premise_and_no_target_question_answer_text():
    world = toy_world()
    corpus = pretraining_corpus(3000, seed=0)
    assert corpus == pretraining_corpus(3000, seed=0) and corpus != pretraining_corpus(3000, seed=1)
    texts = [t for pair in corpus for t in pair if t]
    for premise in list(world.test_premises)[:200]:
        # nothing follows a test premise (a document, question-answer text, a translation pair); a count-only
        # premise may stand alone as a sentence, since it is also a hypothesis (``ana has 3 cat .``)
        assert not any(t.startswith(premise + " ") for t in texts)
    qa = [t for t in texts if " answer : " in t]
    assert qa and all(t.split(" question : ")[0] + " ." not in world.test_premises for t in qa)
    assert all(re.search(r"answer : (yes|maybe|no) \.$", t) for t in qa)


def test_task_and_specs_resolve():
    import xlprompt  # noqa: F401  (installs the config hooks)
    from xlprompt.config import RunConfig
    from xlprompt.errors import ConfigError

    config = RunConfig(task="toy", model="toy:small", method="mpt", shots=4)
    assert config.parallel_source == "task" and config.label_words == "yes,maybe,no"
    assert config.languages() == TOY_LANGUAGES
    # SoftMV runs the toy task: its per-language words are the multilingual verbalizer, and its code-switching
    # draws from the world's own dictionary
    RunConfig(task="toy", model="toy:small", method="softmv")
    assert RunConfig(task="toy", model="toy:small", method="softmv", softmv_cosda_rate=0.2).softmv_cosda_rate == 0.2
    with pytest.raises(ConfigError, match="builtin:demo is an XNLI sample"):
        RunConfig(task="toy", data_dir="builtin:demo")
    with pytest.raises(ConfigError, match="has no parallel corpus of its own"):
        RunConfig(task="pawsx", parallel_source="task")


def test_fixed_split_is_one_per_k_and_a_sample_follows_the_seed():
    """train_source=fixed: one split per k whatever the run's seed (the papers' protocol); sample: the seed's own."""
    import xlprompt  # noqa: F401  (installs the config hooks)
    from xlprompt.config import RunConfig
    from xlprompt.tasks.toy import TOY, TOY_FIXED_SPLIT_SEED, load_toy_splits

    def split(seed, source, shots=4):
        config = RunConfig(task="toy", model="toy:small", method="sp", shots=shots, seed=seed, train_source=source)
        splits = load_toy_splits(TOY, config, None)
        return [ex.uid for ex in splits.train], [ex.uid for ex in splits.dev], splits.notes

    fixed = {seed: split(seed, "fixed") for seed in (1, 2, 5)}
    assert fixed[1][:2] == fixed[2][:2] == fixed[5][:2]
    assert split(TOY_FIXED_SPLIT_SEED, "sample")[:2] == fixed[1][:2]  # the split is the world seed's sample
    sampled = {seed: split(seed, "sample") for seed in (1, 2)}
    assert sampled[1][0] != sampled[2][0] and sampled[1][1] != sampled[2][1]
    assert sampled[1][:2] == split(1, "sample")[:2]
    assert split(1, "fixed", 8)[0] != fixed[1][0]  # one split per k
    pool = {ex.uid: ex.label for ex in toy_world().train_pool}
    assert Counter(pool[uid] for uid in fixed[1][0]) == {0: 4, 1: 4, 2: 4}
    assert "fixed few-shot split" in fixed[1][2][0] and "run's seed 1" in sampled[1][2][0]


def test_pretraining_is_a_function_of_its_seed(monkeypatch, tmp_path):
    """A few steps of the real pre-training, twice with one seed and once with another."""
    import dataclasses

    import torch
    from safetensors.torch import load_file

    from xlprompt.models import toy

    monkeypatch.setitem(toy.TOY_MODELS, "small", dataclasses.replace(toy.TOY_MODELS["small"], steps=4, corpus_size=300))
    reports = [toy.pretrain_toy_model("small", seed, tmp_path / str(i)) for i, seed in enumerate((3, 3, 4))]
    weights = [load_file(str(tmp_path / str(i) / "model.safetensors")) for i in range(3)]
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert not all(torch.equal(weights[0][k], weights[2][k]) for k in weights[0])
    assert reports[0]["loss_last"] == reports[1]["loss_last"]
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "0")
    for lang in TOY_LANGUAGES:  # every word of the world is one token, no <unk>
        for word in toy_world().test[lang][0].premise.split():
            assert len(tokenizer.tokenize(word)) == 1, (lang, word)


def test_the_study_sweep_files_expand():
    from pathlib import Path

    from xlprompt.sweep import load_sweep

    configs = Path(__file__).resolve().parents[1] / "configs"
    study = load_sweep(configs / "toy_study.yaml")
    assert len(study.runs) == 9 * 3 * 5
    assert {r.config.task for r in study.runs} == {"toy"} and {r.config.model for r in study.runs} == {"toy:small"}
    assert {r.config.method for r in study.runs} == {"mpt", "sp", "ft", "pct", "dp", "dpa", "softmv"}
    assert {r.config.shots for r in study.runs} == {4, 16, 64} and {r.config.seed for r in study.runs} == {
        1,
        2,
        3,
        4,
        5,
    }
    assert {(r.config.alpha, r.config.no_translator) for r in study.runs if r.config.method == "mpt"} == {
        (0.5, False),
        (1.0, False),
        (0.5, True),
    }
    assert {r.config.train_source for r in study.runs} == {"sample"}
    spread = load_sweep(configs / "toy_spread.yaml")
    assert len(spread.runs) == 2 * 2 * 10 and {r.config.shots for r in spread.runs} == {16}
    assert {(r.config.method, r.config.train_source) for r in spread.runs} == {
        (m, s) for m in ("mpt", "sp") for s in ("sample", "fixed")
    }
    quick = load_sweep(configs / "toy.yaml")
    assert {(r.config.method, r.config.shots) for r in quick.runs} == {("mpt", 16), ("sp", 16)}
    assert len(quick.runs) == 10
    # the sweep files state TOY_SETTINGS in their base: a copy that must not drift from it (the spread file's
    # fixed-split variants change train_source alone)
    from xlprompt.tasks.toy import TOY_SETTINGS

    for run in (*study.runs, *spread.runs, *quick.runs):
        stated = {**TOY_SETTINGS, "train_source": run.config.train_source}
        assert {key: getattr(run.config, key) for key in TOY_SETTINGS} == stated, run.labels


def test_language_distance_grows_with_what_a_language_does_not_share():
    """The distance is the word-level edit distance to the English text: checked by hand on one item, and
    ordered as the languages were built (qaa keeps the order, qab reorders, qac reorders and has its own numbers)."""
    from xlprompt.data.toy import _edit_distance, language_distance

    assert _edit_distance("a b c".split(), "a c".split()) == 1
    assert _edit_distance("a b c".split(), "c b a".split()) == 2
    assert _edit_distance([], "x y".split()) == 2
    assert language_distance("en") == 0.0
    assert 0 < language_distance("qaa") < language_distance("qab") < language_distance("qac") <= 1


def test_a_task_dictionary_enables_softmv_and_is_checked(tmp_path):
    """A task file's ``dictionaries`` field (MUSE's format) enables SoftMV; a wrong language or a missing file
    is one line naming the field. The toy task's dictionaries are the world's."""
    import shutil
    from pathlib import Path

    import xlprompt  # noqa: F401  (installs the config hooks)
    from xlprompt.config import RunConfig
    from xlprompt.errors import ConfigError
    from xlprompt.tasks import get_task
    from xlprompt.tasks.user import load_task_file

    example = Path(__file__).resolve().parents[1] / "docs" / "examples" / "sentiment-mini"
    folder = tmp_path / "task"
    shutil.copytree(example, folder)
    (folder / "data" / "en-de.txt").write_text("good gut\nbad schlecht\nbad übel\nfilm film\n", "utf-8")
    path = folder / "task.yaml"
    text = path.read_text("utf-8")
    path.write_text(text + "dictionaries: {de: data/en-de.txt}\n", "utf-8")
    task = load_task_file(path)
    assert task.load_dictionaries(task) == {"de": {"good": ["gut"], "bad": ["schlecht", "übel"]}}
    RunConfig(task=str(path), method="softmv", model="random:tiny")
    for entry, message in (
        ("{en: data/en-de.txt}", "field 'dictionaries.en': 'en' is not a target language (de)"),
        ("{de: data/nope.txt}", "field 'dictionaries.de': file not found: "),
    ):
        path.write_text(text + f"dictionaries: {entry}\n", "utf-8")
        with pytest.raises(ConfigError, match=re.escape(message)) as info:
            load_task_file(path)
        assert "\n" not in str(info.value)
    toy = get_task("toy")
    world = toy_world()
    assert toy.load_dictionaries(toy) == {
        lang: {a: [b] for a, b in world.dictionaries[lang].items()} for lang in TOY_TARGETS
    }


def test_study_page_pairs_runs_by_seed_against_sp(tmp_path):
    """The report's toy study: Δ of the targets' mean against SP and the paired t-test's p-value, checked against
    a hand computation (differences 1, 2, 3 points: t = 2 / (1 / sqrt 3) = 3.464 with 2 degrees of freedom,
    two-tailed p = 0.0742); the figure is written."""
    from xlprompt.report.tables import RunRow
    from xlprompt.report.toy_study import collect, figure, to_markdown

    def row(method, label, seed, targets):
        acc = {"en": 60.0, **{lang: targets for lang in TOY_TARGETS}}
        config = {"task": "toy", "method": method, "shots": 16, "seed": seed}
        return RunRow(f"{method}{seed}", config, acc, False, [("toy-study", label)])

    rows = [row("sp", "SP", s, 40.0) for s in (1, 2, 3)] + [row("mpt", "MPT", s, 40.0 + s) for s in (1, 2, 3)]
    rows.append(row("mpt", "MPT", 4, 90.0))  # no SP run with seed 4: not paired
    data = collect(rows)
    line = next(x for x in to_markdown(data).splitlines() if "| MPT |" in x)
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[-3:] == ["+2.0", "0.074", "4"]
    assert figure(data, tmp_path) == [tmp_path / "toy_transfer.png", tmp_path / "toy_transfer.pdf"]
    assert (tmp_path / "toy_transfer.png").stat().st_size > 0
