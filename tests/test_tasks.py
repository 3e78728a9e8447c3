"""Tasks beyond XNLI — PAWS-X (splits, the idx guard, the parallel-corpus guard), a user task from
YAML (end to end), bad task files, the task's labels in the verbalizer, FT head and single-text templates."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from conftest import SHARED_DATA, XLMR_TOKENIZER_DIR, needs_shared, needs_xlmr_tokenizer
from datafactory import PAWSX_HEADER, write_pawsx, write_tatoeba, write_tsv

from xlprompt.config import RunConfig
from xlprompt.errors import ConfigError, DataError

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "sentiment-mini" / "task.yaml"


def pawsx_config(data_dir, **overrides):
    values = dict(
        task="pawsx",
        method="sp",
        model="random:tiny",
        data_dir=str(data_dir),
        device="cpu",
        shots=2,
        epochs=1,
        batch_size=4,
        eval_batch_size=32,
        max_length=64,
    )
    values.update(overrides)
    return RunConfig(**values)


# ---------------------------------------------------------------- PAWS-X splits and the idx guard
def test_pawsx_without_train_samples_from_dev_and_drops_shared_idx_in_every_language(tmp_path):
    from xlprompt.run_data import load_run_data

    write_pawsx(tmp_path, n_dev=12, n_test=4, n_train=0)
    data = load_run_data(pawsx_config(tmp_path))
    assert data.eval_split == "dev"
    assert len(data.train) == 4 and len(data.dev) == 4  # k=2 per class, 2 classes
    assert sorted(ex.label for ex in data.train) == [0, 0, 1, 1]
    used = {ex.uid for ex in data.train + data.dev}
    assert len(used) == 8 and all(uid.startswith("pawsx-dev-") for uid in used)
    assert set(data.test) == {"en", "de", "es", "fr", "ja", "ko", "zh"}
    for lang, examples in data.test.items():
        assert len(examples) == 12 - 8, lang  # every idx used by train or dev is gone, in every language
        assert not {ex.uid for ex in examples} & used
        idx = {int(ex.uid.rsplit("-", 1)[1]) for ex in examples}
        assert all(
            ex.premise == f"[{lang}] pawsx dev s1 {i}" or "\x1c" in ex.premise for ex, i in zip(examples, sorted(idx))
        )


def test_pawsx_with_train_file_samples_from_train_and_evaluates_on_test(tmp_path):
    from xlprompt.run_data import load_run_data

    write_pawsx(tmp_path, n_dev=4, n_test=6, n_train=10)
    for lang in ("en", "de", "es", "fr", "ja", "ko", "zh"):  # test labels for every language here
        write_tsv(
            tmp_path / "pawsx" / "test" / f"{lang}.tsv",
            PAWSX_HEADER,
            [(i, 500 + i, f"[{lang}] t1 {i}", f"[{lang}] t2 {i}", str(i % 2)) for i in range(6)],
        )
    data = load_run_data(pawsx_config(tmp_path))
    assert data.eval_split == "test"
    assert all(ex.uid.startswith("pawsx-train-") for ex in data.train + data.dev)
    assert {lang: len(v) for lang, v in data.test.items()} == dict.fromkeys(data.test, 6)


def test_the_guard_refuses_an_evaluation_row_that_shares_an_idx():
    from xlprompt.data.examples import NLIExample
    from xlprompt.tasks.pawsx import check_no_shared_ids

    train = [NLIExample("a", "b", 0, "en", "pawsx-dev-3")]
    test = {
        "en": [NLIExample("c", "d", 1, "en", "pawsx-dev-4")],
        "ja": [NLIExample("x", "y", 0, "ja", "pawsx-dev-3")],
    }  # the Japanese translation of a training row
    with pytest.raises(DataError, match="'ja' share their idx .*pawsx-dev-3"):
        check_no_shared_ids(train, [], test)
    check_no_shared_ids(train, [], {"en": test["en"]})


def test_pawsx_test_without_labels_is_one_line(tmp_path):
    from xlprompt.run_data import load_run_data

    write_pawsx(tmp_path, n_dev=8, n_test=4, n_train=8)  # test labels only for de, as in PAWS-X
    with pytest.raises(DataError, match=r"en\.tsv:2: .*no gold labels"):
        load_run_data(pawsx_config(tmp_path))


def test_mpt_on_pawsx_defaults_to_tatoeba_and_refuses_pawsx_pairs(tmp_path):
    assert pawsx_config(tmp_path, method="mpt").parallel_source == "tatoeba"
    assert RunConfig(method="mpt").parallel_source == "pawsx"  # XNLI: the paper's corpus, unchanged
    with pytest.raises(ConfigError, match="task pawsx with parallel_source=pawsx: .*evaluation data"):
        pawsx_config(tmp_path, method="mpt", parallel_source="pawsx")
    # replace() re-derives the task's default
    assert RunConfig(method="mpt").replace(task="pawsx").parallel_source == "tatoeba"


def test_mpt_parallel_corpus_covers_the_task_targets_that_tatoeba_has(tmp_path):
    from xlprompt.run_data import load_run_data

    write_pawsx(tmp_path, n_dev=12, n_test=4, n_train=0)
    write_tatoeba(tmp_path, ("de", "es", "fr", "zh"), n_rows=40)
    data = load_run_data(pawsx_config(tmp_path, method="mpt", parallel_size=40))
    assert {p.tgt_lang for p in data.parallel} == {"de", "es", "fr", "zh"}
    assert any("ja, ko" in note for note in data.notes)


def test_softmv_refuses_pawsx_in_one_line(tmp_path):
    with pytest.raises(ConfigError, match="method softmv cannot run task pawsx: .*XNLI's") as info:
        pawsx_config(tmp_path, method="softmv")
    assert "\n" not in str(info.value)


def _bare_task(tmp_path) -> str:
    """The example task without the fields that enable pct, dp and dpa."""
    folder = _task_dir(tmp_path)
    path = folder / "task.yaml"
    text = path.read_text("utf-8")
    text = text[: text.index("# PCT's cross-lingual templates")].replace("  en: [bad, good]", "", 1)
    path.write_text(text, "utf-8")
    return str(path)


@pytest.mark.parametrize(
    "method,field",
    [
        ("pct", "'pct_templates'"),
        ("dp", "'dp_template'"),
        ("dpa", "'label_words.en'"),
        ("softmv", "'dictionaries'"),
    ],
)
def test_a_user_task_without_a_method_resource_refuses_naming_the_enabling_field(tmp_path, method, field):
    path = _bare_task(tmp_path)
    with pytest.raises(ConfigError, match=f"method {method} cannot run task sentiment-mini: .*{field}") as info:
        RunConfig(task=path, method=method, model="random:tiny")
    assert "\n" not in str(info.value)
    RunConfig(task=path, method="sp", model="random:tiny")


@needs_xlmr_tokenizer
def test_dpa_on_pawsx_uses_its_pawsx_label_word_table(xlmr_tokenizer, tmp_path):
    from xlprompt.experiment import build_components

    config = pawsx_config(tmp_path, method="dpa", tokenizer=str(XLMR_TOKENIZER_DIR), max_length=128)
    method = build_components(config, torch.device("cpu")).method
    # DAMO-NLP-SG/DPA prompt_helper.py (paws-x): the words' tokenizer.encode(verb)[-2], class order 0, 1
    table = {
        "de": ("Nein", "Ja"),
        "en": ("no", "yes"),
        "es": ("no", "sí"),
        "fr": ("non", "Oui"),
        "zh": ("否", "是"),
        "ja": ("ない", "はい"),
        "ko": ("아니", "예"),
    }
    want = {lang: tuple(xlmr_tokenizer(w)["input_ids"][-2] for w in words) for lang, words in table.items()}
    assert method.table_ids == want
    assert tuple(method._optim_ids.shape) == (7, 2)


@needs_xlmr_tokenizer
def test_pct_on_pawsx_uses_the_authors_pawsx_template_repair_and_label_ids(xlmr_tokenizer, tmp_path):
    from xlprompt.batching import TokenizedExample
    from xlprompt.experiment import build_components

    config = pawsx_config(tmp_path, method="pct", tokenizer=str(XLMR_TOKENIZER_DIR), max_length=128)
    assert (config.label_words, config.label_words_as) == ("157,63736", "id")  # train_pawsx.py:46
    method = build_components(config, torch.device("cpu")).method
    s1, s2 = "The cat sat on the mat .", "A cat was sitting on the mat ."
    ex = TokenizedExample((), (), 1, "en", "pawsx-dev-1", s1, s2)
    # train_pawsx.py:70-73: tokenizer.encode(premise, template['en'].format(sentence2))
    want = xlmr_tokenizer(s1, f"Question:{s2} paraphrase or not? Answer:<mask>")["input_ids"]
    assert list(method.encode_in(ex, "en").input_ids) == want
    want_ja = xlmr_tokenizer(s1, f"質問：{s2}言い換えるかどうか?回答：<mask>")["input_ids"]
    assert list(method.encode_in(ex, "ja").input_ids) == want_ja
    # a cut-off <mask>: drop len(encode(tail)) - 1 tokens, append tail without <s> (train_pawsx.py:75-80)
    short = build_components(config.replace(max_length=20), torch.device("cpu")).method
    long = " ".join(["word"] * 40)
    out = short.encode_in(TokenizedExample((), (), 0, "en", "u", long, long), "en").input_ids
    full = xlmr_tokenizer(
        long, f"Question:{long} paraphrase or not? Answer:<mask>", truncation="longest_first", max_length=20
    )["input_ids"]
    tail = xlmr_tokenizer(" paraphrase or not? Answer:<mask>")["input_ids"]
    assert list(out) == full[: -(len(tail) - 1)] + tail[1:] and len(out) == 20
    assert xlmr_tokenizer.mask_token_id in out
    draws = set(
        method.other_languages(
            [TokenizedExample((), (), 0, "en", f"u{i}", "a", "b") for i in range(200)], torch.Generator().manual_seed(0)
        )
    )
    assert draws == {"fr", "es", "de", "ja", "ko", "zh"}  # train_pawsx.py:53
    with pytest.raises(ConfigError, match="pct_layout=cloze"):
        build_components(config.replace(pct_layout="cloze"), torch.device("cpu"))


def test_pawsx_languages_and_hash(tmp_path):
    config = pawsx_config(tmp_path)
    assert config.languages() == ("en", "de", "es", "fr", "ja", "ko", "zh")
    assert config.label_words == "no,yes"
    with pytest.raises(ConfigError, match="unknown pawsx language code 'ar'"):
        pawsx_config(tmp_path, eval_languages="en,ar")
    xnli = RunConfig()
    assert "task" in xnli.to_dict() and xnli.task == "xnli"
    assert RunConfig(task="pawsx").resolved_hash() != xnli.replace(parallel_source="tatoeba").resolved_hash()


# ---------------------------------------------------------------- labels beyond 3
def test_verbalizer_ft_head_and_scores_follow_the_task_labels(tiny_tokenizer, tmp_path):
    from xlprompt.experiment import build_components
    from xlprompt.verbalizer import Verbalizer

    verbalizer = Verbalizer(tiny_tokenizer, ["no", "yes"], labels=("not_paraphrase", "paraphrase"))
    assert len(verbalizer.ids_for("ja")) == 2
    with pytest.raises(ConfigError, match="need 2 words"):
        Verbalizer(tiny_tokenizer, ["no", "maybe", "yes"], labels=("a", "b"))
    parts = build_components(pawsx_config(tmp_path, method="ft"), torch.device("cpu"))
    assert parts.method.head.out_proj.out_features == 2
    from xlprompt.batching import TokenizedExample

    ex = TokenizedExample((5, 6), (7,), 1, "en", "u")
    assert parts.method.class_scores([ex, ex], "en").shape == (2, 2)
    sp = build_components(pawsx_config(tmp_path, method="sp"), torch.device("cpu")).method
    assert sp.class_scores([ex], "ja").shape == (1, 2)


def test_single_text_templates_drop_the_hypothesis_pieces(tiny_tokenizer):
    from xlprompt.template import SpecialTokens, pair_template, soft_prompt_template, word_ids

    special = SpecialTokens.from_tokenizer(tiny_tokenizer)
    template = soft_prompt_template(tiny_tokenizer, "suffix", 2, 64, special, "separate", single_text=True)
    dot = word_ids(tiny_tokenizer, ".")
    out = template.encode((11, 12, 13), ())
    p = special.prefix
    the = word_ids(tiny_tokenizer, "the")
    placeholder = the[0] if len(the) == 1 else special.placeholder_id
    want = (*p, 11, 12, 13, *dot, placeholder, placeholder, special.mask_id, *dot, *special.suffix)
    assert out.input_ids == want
    assert out.prompt_positions == (len(p) + 3 + len(dot), len(p) + 4 + len(dot))
    assert out.mask_position == len(p) + 5 + len(dot)
    assert pair_template(tiny_tokenizer, 64, special, single_text=True).encode((11, 12), ()).input_ids == (
        *p,
        11,
        12,
        *special.suffix,
    )


# ---------------------------------------------------------------- user tasks from YAML
@pytest.mark.parametrize("method", ["sp", "ft", "mpt", "pct", "dp", "dpa"])
def test_user_task_from_yaml_runs_end_to_end(tmp_path, method):
    from xlprompt.data.examples import ParallelPair
    from xlprompt.data.parallel import write_parallel_jsonl
    from xlprompt.experiment import run_experiment

    extra = {}
    if method == "mpt":
        pairs = [
            ParallelPair(
                "en", "de", f"The dog {i} sleeps.", "It is late.", f"Der Hund {i} schläft.", "Es ist spät.", f"p{i}"
            )
            for i in range(6)
        ]
        extra = dict(
            parallel_source="file",
            parallel_file=str(write_parallel_jsonl(pairs, tmp_path / "par.jsonl")),
            parallel_size=6,
        )
    config = RunConfig(
        task=str(EXAMPLE),
        method=method,
        model="random:tiny",
        device="cpu",
        shots=2,
        epochs=2,
        batch_size=4,
        max_length=64,
        **extra,
    )
    assert config.languages() == ("en", "de") and config.label_words == "no,yes"
    results = run_experiment(config, tmp_path / "run", progress=False, log=lambda _: None)
    assert list(results["accuracy"]) == ["en", "de", "avg"]
    assert results["eval_examples"] == {"en": 6, "de": 6}
    assert results["task"] == str(EXAMPLE) and results["labels"] == ["negative", "positive"]
    # 6 test rows per language: accuracy is a multiple of 100/6
    for lang in ("en", "de"):
        assert round(results["accuracy"][lang] * 6 / 100, 9).is_integer()
    saved = json.loads((tmp_path / "run" / "results.json").read_text("utf-8"))
    assert saved["accuracy"] == results["accuracy"]


def test_user_task_reads_tsv_csv_and_jsonl_rows():
    from xlprompt.tasks import get_task
    from xlprompt.tasks.user import read_split

    task = get_task(str(EXAMPLE))
    assert task.single_text and task.labels == ("negative", "positive")
    de = read_split(task, "test", "de")  # CSV, labels as names and as indices
    assert [ex.label for ex in de] == [0, 0, 0, 1, 1, 1]
    assert de[0].premise == "Die Pizza kam spät und war verbrannt." and de[0].hypothesis == ""
    en = read_split(task, "test", "en")  # JSONL
    assert [ex.label for ex in en] == [0, 0, 0, 1, 1, 1]
    train = read_split(task, "train", "en")  # TSV
    assert len(train) == 12 and sum(ex.label for ex in train) == 6


def _task_dir(tmp_path) -> Path:
    folder = tmp_path / "task"
    shutil.copytree(EXAMPLE.parent, folder)
    return folder


def _edit(folder: Path, old: str, new: str) -> str:
    path = folder / "task.yaml"
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new), "utf-8")
    return str(path)


@pytest.mark.parametrize(
    "old,new,message",
    [
        (
            "label_column: label",
            "label_colum: label",
            r"field 'label_colum': unknown field; did you mean 'label_column'",
        ),
        ("default: [bad, good]", "default: [bad]", r"field 'label_words.default': label 'positive' has no label word"),
        ("de: [schlecht, gut]", "fr: [mal, bon]", r"field 'label_words.fr': 'fr' is not one of languages"),
        (", de: data/test.de.csv}", "}", r"field 'splits.test.de': language 'de' has no test data"),
        ("data/test.de.csv", "data/nope.csv", r"field 'splits.test.de': file not found: .*nope.csv"),
        ("data/test.de.csv", "data/test.de.xlsx", r"field 'splits.test.de': data/test.de.xlsx: unknown format"),
        ("text_fields: [text]", "text_fields: [a, b, c]", r"field 'text_fields': needs 1 or 2 entries, got 3"),
        ("source_language: en", "source_language: fr", r"field 'source_language': 'fr' is not one of languages"),
        ("name: sentiment-mini\n", "", r"field 'name': missing \(required\)"),
        ("name: sentiment-mini\n", "name: xnli\n", r"field 'name': 'xnli' is a built-in task"),
        ('tiny_label_words: ["no", "yes"]', "tiny_label_words: [no, yes]", r"field 'tiny_label_words': .*booleans"),
    ],
)
def test_bad_task_files_are_one_line_naming_file_and_field(tmp_path, old, new, message):
    path = _edit(_task_dir(tmp_path), old, new)
    with pytest.raises(ConfigError, match=message) as info:
        RunConfig(task=path, method="sp", model="random:tiny")
    assert str(info.value).startswith(str(Path(path).resolve())) and "\n" not in str(info.value)


def test_bad_rows_of_a_task_file_name_file_and_line(tmp_path):
    from xlprompt.run_data import load_run_data

    folder = _task_dir(tmp_path)
    csv = folder / "data" / "test.de.csv"
    csv.write_text(csv.read_text("utf-8").replace("negative\n", "negativ\n", 1), "utf-8")
    config = RunConfig(task=str(folder / "task.yaml"), method="sp", model="random:tiny", shots=2)
    with pytest.raises(DataError, match=r"test\.de\.csv:2: unknown label 'negativ'; allowed: negative, positive"):
        load_run_data(config)


def test_unknown_task_and_cli_exit_2(tmp_path):
    with pytest.raises(ConfigError, match="unknown task 'paws'. Did you mean 'pawsx'"):
        RunConfig(task="paws")
    with pytest.raises(ConfigError, match="task file not found"):
        RunConfig(task=str(tmp_path / "none.yaml"))
    from xlprompt.cli import cli

    result = CliRunner().invoke(
        cli, ["run", "--task", "pawsx", "--method", "softmv", "--model", "random:tiny", "--out", str(tmp_path / "r")]
    )
    assert result.exit_code == 2
    assert "method softmv cannot run task pawsx" in result.output and "Traceback" not in result.output


# ---------------------------------------------------------------- PAWS-X on the real files (../shared/data)


@needs_shared
def test_real_pawsx_evaluation_rows_share_no_idx_with_train_or_dev():
    import warnings

    from xlprompt.run_data import load_run_data

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = load_run_data(pawsx_config(SHARED_DATA, shots=16, seed=2))
    assert not [w for w in caught if "leak" in str(w.message)]
    assert data.eval_split == "dev"  # the shared folder has no pawsx/train/en.tsv
    used = {int(ex.uid.rsplit("-", 1)[1]) for ex in data.train + data.dev}
    assert len(used) == 64

    def rows(lang):  # independent of xlprompt's reader
        lines = (SHARED_DATA / "pawsx" / "dev" / f"{lang}.tsv").read_text("utf-8").split("\n")[1:]
        return [line.split("\t") for line in lines if line]

    english = {int(r[0]): (r[2].strip(), r[3].strip()) for r in rows("en")}
    # PAWS-X repeats some English pairs under another idx: those are excluded too
    repeated = {i for i, text in english.items() if text in {english[j] for j in used}} - used
    for lang, examples in data.test.items():
        expected = {
            int(r[0])
            for r in rows(lang)
            if r[2].strip() and r[3].strip() and r[4] in ("0", "1") and "NS" not in (r[2].strip(), r[3].strip())
        }  # PAWS-X's untranslated placeholder rows
        assert {int(ex.uid.rsplit("-", 1)[1]) for ex in examples} == expected - used - repeated, lang


@needs_shared
@needs_xlmr_tokenizer
def test_real_pawsx_mpt_end_to_end(tmp_path):
    from xlprompt.experiment import run_experiment

    config = RunConfig(
        task="pawsx",
        method="mpt",
        model="random:tiny",
        tokenizer=str(XLMR_TOKENIZER_DIR),
        data_dir=str(SHARED_DATA),
        device="cpu",
        shots=2,
        epochs=1,
        batch_size=4,
        parallel_size=16,
        eval_max_per_language=12,
        max_length=64,
    )
    results = run_experiment(config, tmp_path / "run", progress=False, log=lambda _: None)
    assert list(results["accuracy"]) == ["en", "de", "es", "fr", "ja", "ko", "zh", "avg"]
    assert results["eval_examples"] == dict.fromkeys(("en", "de", "es", "fr", "ja", "ko", "zh"), 12)
    assert results["eval_split"] == "dev" and results["task"] == "pawsx"
    assert results["parallel_pairs"] == 16


@needs_xlmr_tokenizer
def test_a_user_task_uses_its_per_language_label_words(xlmr_tokenizer):
    from xlprompt.verbalizer import verbalizer_for

    config = RunConfig(task=str(EXAMPLE), method="sp", model="random:tiny", tokenizer=str(XLMR_TOKENIZER_DIR))
    assert config.label_words == "bad,good"
    verbalizer = verbalizer_for(config, xlmr_tokenizer)

    def word(w):
        pieces = xlmr_tokenizer(w, add_special_tokens=False)["input_ids"]
        assert len(pieces) == 1, (w, pieces)  # single-piece words: the id is the word's only piece
        return pieces[0]

    assert verbalizer.ids_for("en") == (word("bad"), word("good"))
    assert verbalizer.ids_for("de") == (word("schlecht"), word("gut"))
    # a word set by the user wins over the task's table
    assert verbalizer_for(config.replace(label_words="poor,great"), xlmr_tokenizer).ids_for("de") == (
        word("poor"),
        word("great"),
    )


def test_a_split_from_a_hugging_face_dataset(tmp_path, monkeypatch):
    import datasets

    from xlprompt.tasks.user import load_task_file, read_split

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True, raising=False)
    folder = _task_dir(tmp_path)
    path = _edit(folder, "en: data/test.en.jsonl", "en: {dataset: json, data_files: data/test.en.jsonl, split: train}")
    task = load_task_file(path)
    rows = read_split(task, "test", "en")  # the generic json builder: no download
    assert [ex.premise for ex in rows][:2] == [
        "The pizza arrived late and burnt.",
        "Nobody answered the phone for an hour.",
    ]
    assert [ex.label for ex in rows] == [0, 0, 0, 1, 1, 1]
    bad = _edit(folder, "split: train}", "split: nosuchsplit}")
    with pytest.raises(ConfigError, match=r"task\.yaml:splits\.test\.en: the dataset 'json' .*could not be loaded"):
        read_split(load_task_file(bad), "test", "en")
    with pytest.raises(ConfigError, match=r"field 'splits.test.en.revision': unknown field"):
        load_task_file(_edit(folder, "split: nosuchsplit}", "split: train, revision: main}"))


def test_a_two_text_user_task_with_three_labels_and_column_names(tmp_path):
    from xlprompt.experiment import run_experiment

    rows = [
        (f"question {i} about item {i % 5}", f"answer {i} for item {i % 5}", ("no", "partly", "yes")[i % 3])
        for i in range(24)
    ]
    (tmp_path / "train.tsv").write_text("q\ta\tgold\n" + "".join(f"{q}\t{a}\t{g}\n" for q, a, g in rows[:15]), "utf-8")
    for lang in ("en", "fr"):
        (tmp_path / f"test.{lang}.jsonl").write_text(
            "".join(json.dumps({"q": f"[{lang}] {q}", "a": a, "gold": g}) + "\n" for q, a, g in rows[15:]), "utf-8"
        )
    (tmp_path / "qa.yaml").write_text(
        """name: qa-match
text_fields: [question, answer]
columns: {question: q, answer: a}
label_column: gold
labels: ["no", partly, "yes"]
label_words: {default: ["no", maybe, "yes"]}
languages: [en, fr]
pct_templates: {en: "Answer: {} ok? <mask>", fr: "Réponse: {} ok? <mask>"}
dp_template: "{question} ? {answer} . <mask> ."
splits:
  train: {en: train.tsv}
  test: {en: test.en.jsonl, fr: test.fr.jsonl}
""",
        "utf-8",
    )
    for method in ("sp", "pct", "dp"):
        config = RunConfig(
            task=str(tmp_path / "qa.yaml"),
            method=method,
            model="random:tiny",
            device="cpu",
            shots=2,
            epochs=1,
            batch_size=6,
            max_length=64,
        )
        results = run_experiment(config, tmp_path / f"run-{method}", progress=False, log=lambda _: None)
        assert results["eval_examples"] == {"en": 9, "fr": 9} and results["labels"] == ["no", "partly", "yes"]
        assert results["train_examples"] == 6
    from xlprompt.batching import TokenizedExample
    from xlprompt.experiment import build_components
    from xlprompt.models.backbone import load_tokenizer

    tok = load_tokenizer("builtin:tiny")
    word = lambda w: tok(w, add_special_tokens=False)["input_ids"]  # noqa: E731
    q, a = "question 1 about item", "answer 1 for item"
    ex = TokenizedExample(tuple(word(q)), tuple(word(a)), 0, "fr", "u", q, a)
    pct = build_components(config.replace(method="pct"), torch.device("cpu")).method
    # the pair: tokenizer.encode(text_1, template.format(text_2)) (PCT train_pawsx.py:70-73)
    assert list(pct.encode_in(ex, "fr").input_ids) == tok(q, f"Réponse: {a} ok? <mask>")["input_ids"]
    dp = build_components(config.replace(method="dp"), torch.device("cpu")).method
    s = tok("a")["input_ids"]
    assert list(dp.encode_for_eval(ex, "fr").input_ids) == [
        s[0],
        *word(q),
        *word("?"),
        *word(a),
        *word("."),
        tok.mask_token_id,
        *word("."),
        s[-1],
    ]


# ---------------------------------------------------------------- a task file's PCT templates, DP pattern, DPA words
def test_user_task_pct_dp_dpa_inputs_follow_the_task_file(tiny_tokenizer):
    from xlprompt.batching import TokenizedExample
    from xlprompt.experiment import build_components

    tok = tiny_tokenizer
    text = "the food was good"
    ids = tuple(tok(text, add_special_tokens=False)["input_ids"])
    ex = TokenizedExample(ids, (), 1, "de", "u1", text, "")
    pct = build_components(
        RunConfig(task=str(EXAMPLE), method="pct", model="random:tiny", max_length=64), torch.device("cpu")
    ).method
    # one text: tokenizer.encode(template.format(text)), the language's own template
    assert list(pct.encode_in(ex, "en").input_ids) == tok(f"Review: {text} Sentiment: <mask>")["input_ids"]
    assert list(pct.encode_in(ex, "de").input_ids) == tok(f"Rezension: {text} Stimmung: <mask>")["input_ids"]
    assert pct.draw_languages == ("de",)
    # a cut-off <mask>: cut from the end, then the template's tail after {} replaces the last tokens
    short = build_components(
        RunConfig(task=str(EXAMPLE), method="pct", model="random:tiny", max_length=16), torch.device("cpu")
    ).method
    long = " ".join(["food"] * 30)
    out = list(short.encode_in(TokenizedExample((), (), 0, "en", "u2", long, ""), "en").input_ids)
    tail = tok(" Sentiment: <mask>")["input_ids"]
    full = tok(f"Review: {long} Sentiment: <mask>")["input_ids"]
    cut = full[:15] + full[-1:]  # <s> and 14 tokens of the filled template, </s>: <mask> is gone
    assert tok.mask_token_id not in cut
    assert out == cut[: -(len(tail) - 1)] + tail[1:] and len(out) == 16 and tok.mask_token_id in out

    dp = build_components(
        RunConfig(task=str(EXAMPLE), method="dp", model="random:tiny", max_length=64), torch.device("cpu")
    ).method
    word = lambda w: tok(w, add_special_tokens=False)["input_ids"]  # noqa: E731
    want = tok("a")["input_ids"]
    prefix, suffix = want[:1], want[-1:]
    assert list(dp.encode_for_eval(ex, "de").input_ids) == [
        *prefix,
        *ids,
        *word("."),
        *word("Sentiment:"),
        tok.mask_token_id,
        *word("."),
        *suffix,
    ]
    dpa = build_components(
        RunConfig(task=str(EXAMPLE), method="dpa", model="random:tiny", max_length=64), torch.device("cpu")
    ).method
    last = lambda w: tok(w, add_special_tokens=False)["input_ids"][-1]  # noqa: E731  (DPA: encode(verb)[-2])
    assert dpa.table_ids == {"en": (last("bad"), last("good")), "de": (last("schlecht"), last("gut"))}
    assert tuple(dpa._optim_ids.shape) == (2, 2)


def test_dp_runs_pawsx_with_the_xnli_pattern_in_its_slots(tmp_path, tiny_tokenizer):
    from xlprompt.batching import TokenizedExample
    from xlprompt.experiment import build_components

    tok = tiny_tokenizer
    config = pawsx_config(tmp_path, method="dp")
    assert config.label_words == "no,yes"
    dp = build_components(config, torch.device("cpu")).method
    word = lambda w: tok(w, add_special_tokens=False)["input_ids"]  # noqa: E731
    s1, s2 = word("the cat sat"), word("a cat was sitting")
    out = dp.encode_for_eval(TokenizedExample(tuple(s1), tuple(s2), 1, "de", "u", "", ""), "de").input_ids
    want = tok("a")["input_ids"]
    # xlmrprompt pet/pet/pvps/xnli_pvp.py pattern 0: X_1 . Question: X_2 ? Answer: <mask> .
    assert list(out) == [
        want[0],
        *s1,
        *word("."),
        *word("Question:"),
        *s2,
        *word("?"),
        *word("Answer:"),
        tok.mask_token_id,
        *word("."),
        want[-1],
    ]


@needs_xlmr_tokenizer
def test_pct_label_words_of_a_task_file():
    config = RunConfig(task=str(EXAMPLE), method="pct", model="random:tiny", tokenizer=str(XLMR_TOKENIZER_DIR))
    assert (config.label_words, config.label_words_as) == ("bad,good", "word")
    path_words = RunConfig(task=str(EXAMPLE), method="sp", model="random:tiny", tokenizer=str(XLMR_TOKENIZER_DIR))
    assert path_words.label_words == "bad,good"


@pytest.mark.parametrize(
    "old,new,message",
    [
        ('  en: "Review: {} Sentiment: <mask>"\n', "", r"field 'pct_templates.en': language 'en' has no PCT template"),
        ('"Review: {} Sentiment: <mask>"', '"Review: Sentiment: <mask>"', r"field 'pct_templates.en': needs \{\} "),
        ('"Review: {} Sentiment: <mask>"', '"<mask> Review: {}"', r"field 'pct_templates.en': <mask> must come after"),
        ('"Review: {} Sentiment: <mask>"', '"Review: {} {x} <mask>"', r"field 'pct_templates.en': has a brace"),
        ('  de: "Rezension', '  fr: "Rezension', r"field 'pct_templates.fr': 'fr' is not one of languages"),
        (
            'pct_templates:\n  en: "Review: {} Sentiment: <mask>"\n  de: "Rezension: {} Stimmung: <mask>"\n',
            "pct_templates: [a]\n",
            r"field 'pct_templates': maps every language",
        ),
        ("pct_draw_languages: [de]", "pct_draw_languages: [fr]", r"field 'pct_draw_languages': 'fr' is not one"),
        ("pct_label_words: [bad, good]", "pct_label_words: [bad]", r"field 'pct_label_words': needs 2 entries"),
        (
            'dp_template: "{text} . Sentiment: <mask> ."',
            'dp_template: "{txt} <mask>"',
            r"field 'dp_template': unknown placeholder \{txt\}; the text fields are text",
        ),
        (
            'dp_template: "{text} . Sentiment: <mask> ."',
            'dp_template: "{text} . Sentiment: ."',
            r"field 'dp_template': needs <mask> exactly once",
        ),
        (
            'dp_template: "{text} . Sentiment: <mask> ."',
            'dp_template: "{text} {text} <mask>"',
            r"field 'dp_template': needs \{text\} exactly once \(found 2\)",
        ),
        ('dp_template: "{text} . Sentiment: <mask> ."', "dp_template: [a]", r"field 'dp_template': needs a string"),
    ],
)
def test_bad_pct_and_dp_fields_are_one_line_naming_file_and_field(tmp_path, old, new, message):
    path = _edit(_task_dir(tmp_path), old, new)
    with pytest.raises(ConfigError, match=message) as info:
        RunConfig(task=path, method="sp", model="random:tiny")
    assert str(info.value).startswith(str(Path(path).resolve())) and "\n" not in str(info.value)


def test_pct_fields_without_templates_are_refused(tmp_path):
    folder = _task_dir(tmp_path)
    path = folder / "task.yaml"
    text = path.read_text("utf-8")
    start = text.index("pct_templates:")
    path.write_text(text[:start] + text[text.index("pct_draw_languages") :], "utf-8")
    with pytest.raises(ConfigError, match="field 'pct_draw_languages': needs the field 'pct_templates'"):
        RunConfig(task=str(path), method="sp", model="random:tiny")
