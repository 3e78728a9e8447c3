"""The leak guard across languages and near-copies.

A parallel task (SIB-200: the same Flores-200 sentence, by ``idx``, in 205 languages) is guarded by the data's
own sentence ids: a parallel corpus that holds an evaluated sentence in *any* of the task's languages, evaluated
or not, is refused. Within a language, a near-copy of an evaluated text (a word added or removed) is refused too,
at the token similarity ``leak_similarity``. Every refusal is one line naming the pair and the evaluated sentence.
The data are written here (a small SIB-200 folder in the release's converted layout and LASER Tatoeba files)."""

from __future__ import annotations

import pytest
from datafactory import write_tsv

from xlprompt.config import RunConfig
from xlprompt.data.examples import NLIExample, ParallelPair
from xlprompt.data.sib200 import SIB200_CATEGORIES, SIB200_TATOEBA
from xlprompt.errors import ConfigError, DataError

#: sentence idx -> its text per language (the evaluated test set: 7 sentences, one per category)
WORDS = "the river flooded the old market after three days of heavy rain".split()


def sentence(lang: str, idx: int) -> str:
    """Eleven distinct words per sentence, different in every language and sentence."""
    return " ".join(f"{lang[:3]}{idx}{w}" for w in dict.fromkeys(WORDS)) + "."


TEST_IDS = range(2000, 2007)
LANGS = ("en", "yor_Latn", "hau_Latn", "deu_Latn")


@pytest.fixture
def folder(tmp_path):
    """A SIB-200 data folder: English train, test in four languages, Tatoeba for the 82 languages it covers
    (two pairs each); deu_Latn's first pair is unrelated to the test set."""
    header = ("idx", "category", "text")
    write_tsv(
        tmp_path / "sib200/train/en.tsv",
        header,
        [(i, SIB200_CATEGORIES[i % 7], f"training sentence number {i} about things") for i in range(28)],
    )
    for lang in LANGS:
        write_tsv(
            tmp_path / f"sib200/test/{lang}.tsv",
            header,
            [(i, SIB200_CATEGORIES[i % 7], sentence(lang, i)) for i in TEST_IDS],
        )
    for lang in SIB200_TATOEBA:
        write_tatoeba(tmp_path, lang, [f"{lang} line {i}" for i in range(4)], [f"English line {i}" for i in range(4)])
    return tmp_path


def write_tatoeba(root, lang, texts, english):
    write_tsv(
        root / f"tatoeba/{lang}-en.tsv",
        ("idx", lang, "en"),
        [(i, a, b) for i, (a, b) in enumerate(zip(texts, english))],
    )


def config(folder, **kw) -> RunConfig:
    values = dict(
        task="sib200",
        method="mpt",
        model="random:tiny",
        data_dir=str(folder),
        shots=2,
        train_source="sample",
        eval_languages="yor_Latn",
        parallel_source="tatoeba",
        parallel_size=2 * len(SIB200_TATOEBA),
    )
    return RunConfig(**{**values, **kw})


def refusal(folder, **kw) -> str:
    from xlprompt.run_data import load_run_data

    with pytest.raises(DataError) as err:
        load_run_data(config(folder, **kw))
    line = str(err.value)
    assert "\n" not in line
    return line


def accepted(folder, **kw) -> int:
    from xlprompt.run_data import load_run_data

    return len(load_run_data(config(folder, **kw)).parallel)


def test_a_pair_of_an_evaluated_sentence_in_languages_not_evaluated_is_refused_by_its_id(folder):
    """Only yor_Latn is evaluated; a German-English Tatoeba pair holding sentence 2003 in German and English
    (neither language evaluated, neither text a Yoruba one) is refused, naming the pair and the sentence."""
    assert accepted(folder) == 164
    write_tatoeba(
        folder,
        "deu_Latn",
        ["ein Satz", "noch einer", sentence("deu_Latn", 2003), "und ein letzter"],
        ["a sentence", "one more", sentence("en", 2003), "and a last one"],
    )
    line = refusal(folder)
    assert "the parallel pair 'tatoeba-deu_Latn-1' (en; pair " in line  # its id, language and place in the corpus
    assert "of the corpus) holds a sentence that is an evaluated sib200 test text" in line
    assert "the evaluated sentence 'sib200-2003' (en: " in line and "evaluated in yor_Latn" in line
    # only the German side: the pair is still found, by the German text of the evaluated sentence
    write_tatoeba(
        folder,
        "deu_Latn",
        ["ein Satz", "noch einer", sentence("deu_Latn", 2003), "und ein letzter"],
        ["a sentence", "one more", "an English line of its own", "and a last one"],
    )
    line = refusal(folder)
    assert "'tatoeba-deu_Latn-1' (deu_Latn; pair " in line and "'sib200-2003' (deu_Latn: " in line
    # the evaluated language's own texts compared with the evaluated ones alone would have let it through
    from xlprompt.leaks import check_data_leaks
    from xlprompt.run_data import load_run_data

    pair = ParallelPair("en", "deu_Latn", "x y", "y z", sentence("deu_Latn", 2003), "und", "p")
    test = load_run_data(config(folder, eval_languages="yor_Latn", method="sp")).test
    assert check_data_leaks(config(folder), [], [], test, [pair]) == []


def test_a_near_copy_within_a_language_is_refused_at_the_threshold(folder):
    """A German sentence of 11 distinct words with one word added (similarity 11/12 = 0.917, by hand) or removed
    (10/11 = 0.909) is refused at leak_similarity 0.8 and 0.9, and accepted at 0.95 and 1 (exact copies only)."""
    evaluated = sentence("deu_Latn", 2005).rstrip(".")
    added, removed = evaluated + " heute", " ".join(evaluated.split()[1:])
    for text, score in ((added, 11 / 12), (removed, 10 / 11)):
        write_tatoeba(folder, "deu_Latn", ["ein Satz", "noch einer", text, "ein letzter"], ["a", "b", "c d", "e"])
        line = refusal(folder)
        assert f"; a near-copy: token similarity {score:.2f} >= leak_similarity 0.8)" in line
        assert "'tatoeba-deu_Latn-1' (deu_Latn; pair " in line and "the evaluated sentence 'sib200-2005'" in line
        assert "leak_similarity 0.9)" in refusal(folder, leak_similarity=0.9)
        assert accepted(folder, leak_similarity=1.0) == 164
    assert accepted(folder, leak_similarity=0.95) == 164  # the last text written: 0.909 < 0.95


def test_a_training_example_that_is_a_near_copy_is_reported_and_an_exact_one_refused():
    """The task's own rows can hold near-duplicates by design (PAWS-X builds several pairs from one sentence), so
    a training example that is a near-copy of an evaluated one is a warning naming both; an exact copy, or one
    with an evaluated id, is refused."""
    from xlprompt.leaks import check_data_leaks

    test = {"en": [NLIExample("the cat sat on the warm mat all day long", "", 0, "en", "sib200-9")]}
    train = [NLIExample("the cat sat on the warm mat all day", "", 0, "en", "sib200-1")]
    cfg = RunConfig(task="sib200", method="sp", model="random:tiny", shots=2, train_source="sample")
    with pytest.warns(UserWarning) as caught:
        notes = check_data_leaks(cfg, train, [], test, [])
    # token sets: {the cat sat on warm mat all day long} vs the same without "long": 8 / 9
    assert (
        notes
        == [str(caught[0].message)]
        == [
            "leak warning: 1 of the 1 training examples are near-copies of evaluated sib200 test examples (token "
            "similarity >= leak_similarity 0.8), e.g. 'sib200-1' (0.89) of the evaluated sentence 'sib200-9' (en: 'the "
            "cat sat on the warm mat all day long'), so the accuracy of their language may be optimistic; the task's "
            "own rows are reported, not refused (PAWS-X builds several pairs from one sentence)"
        ]
    )
    assert check_data_leaks(RunConfig(**{**cfg.to_dict(), "leak_similarity": 0.9}), train, [], test, []) == []
    with pytest.raises(DataError, match=r"^1 training examples are also in the evaluated sib200 test split \(en; comp"):
        check_data_leaks(
            cfg, [NLIExample("The cat sat on the warm mat, all day long!", "", 0, "en", "x")], [], test, []
        )
    # by its id (a parallel task): the English training example of an evaluated Yoruba sentence
    by_id = [NLIExample("an English text of its own", "", 0, "en", "sib200-9")]
    with pytest.raises(DataError) as err:
        check_data_leaks(cfg, by_id, [], test, [], translations={})
    assert str(err.value) == (
        "1 training examples are also in the evaluated sib200 test split (en; the same sentence id), e.g. "
        "'sib200-9' is the evaluated sentence 'sib200-9' (en: 'the cat sat on the warm mat all day long'): a leak; "
        "use the other eval_split or other training data"
    )
    assert check_data_leaks(cfg, by_id, [], test, []) == []  # not a parallel task: ids are not compared


def test_texts_without_spaces_compare_by_character_pairs():
    """Chinese with two characters added is a near-copy; two different Thai sentences, which share most of the
    Thai alphabet's letters, are not."""
    from xlprompt.leaks import EvaluatedTexts, similarity, tokens

    assert tokens("我爱北京 ok") == frozenset({"我爱", "爱北", "北京", "ok"})
    index = EvaluatedTexts(0.8)
    evaluated = "今天早上河水淹没了城市的老市场，很多商店都关门了，人们在街上等待救援"
    index.add("zho_Hans", (evaluated,), ref := object())  # type: ignore[arg-type]
    hit = index.find("zho_Hans", (evaluated.replace("河水", "河水突然"),))
    assert hit is not None and hit[0] is ref and not hit[2]
    a = "ครอบครัวที่พาเด็กเล็กไปด้วยอาจต้องมีการเตรียมตัวเพิ่มเติม"
    b = "การเดินทางไปต่างประเทศต้องเตรียมเอกสารหลายอย่างให้พร้อม"
    assert similarity(tokens(a), tokens(b)) < 0.3
    index.add("tha_Thai", (a,), object())  # type: ignore[arg-type]
    assert index.find("tha_Thai", (b,)) is None


def test_near_copies_are_found_without_a_scan_of_every_row(monkeypatch):
    """5,000 evaluated sentences and 500 candidates: the similarity is computed for the rows sharing one of a
    candidate's two rarest tokens (prefix filtering), about 50 per candidate, not for all 5,000."""
    import xlprompt.leaks as leaks

    calls = {"n": 0}
    real = leaks.similarity

    def counted(a, b):
        calls["n"] += 1
        return real(a, b)

    monkeypatch.setattr(leaks, "similarity", counted)
    index = leaks.EvaluatedTexts(0.8)
    for i in range(5000):
        index.add("en", (f"the sentence number s{i} speaks of t{i % 97} and of u{i % 89} today",), object())  # type: ignore[arg-type]
    found = [index.find("en", (f"the sentence number s{i} speaks of t{i % 97} and of u{i % 89}",)) for i in range(500)]
    assert all(hit is not None for hit in found)
    assert calls["n"] < 100 * 500, calls["n"]


def test_leak_similarity_is_a_setting_outside_the_hash():
    base = RunConfig(model="random:tiny")
    assert base.leak_similarity == 0.8
    assert RunConfig(model="random:tiny", leak_similarity=0.95).resolved_hash() == base.resolved_hash()
    for bad in (0.2, 1.5):
        with pytest.raises(ConfigError, match="leak_similarity") as err:
            RunConfig(model="random:tiny", leak_similarity=bad)
        assert "\n" not in str(err.value)
