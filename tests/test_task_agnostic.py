"""The core knows no language: every method runs a task whose codes are renamed (source included) and gives the
same numbers, and runs a task whose source language is not ``en``.

The task is written here: one text field, two labels, a source language and two targets, the few-shot train rows
without ids (content ids), a one-text parallel corpus (MPT) and per-language label words in a label-words file
(SP, DP, PCT and MPT test each language with its own words; DPA and SoftMV average them). Its texts never name a
language code, so the renamed task differs from the original in its codes alone. ``en, de, fr`` become
``qsz, qsa, qsb``: the source moves from the middle of the codes' sort order to its end, so a draw or an order
derived from the codes' spelling would show. The renamed task's source is ``qsz``: every method also runs, end to
end (train, select on dev, evaluate, save, load, predict), a task whose source language is not ``en``; the tests
after the metamorphic one check what that must mean for each method.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from datafactory import write_jsonl
from safetensors.torch import load_file

import xlprompt
from xlprompt.methods import BUILTIN_METHODS

METHODS = ("mpt", "sp", "ft", "pct", "dp", "dpa", "softmv", "xpe", "dual")
#: canonical language (its role) -> its code in the original task
ORIGINAL = {"src": "en", "t1": "de", "t2": "fr"}
#: the same task with every code renamed, the source's included
RENAMED = {"src": "qsz", "t1": "qsa", "t2": "qsb"}
WORDS = ("awful", "great")


def write_task(folder: Path, codes: dict[str, str]) -> Path:
    """The task folder with the language codes ``codes`` (role -> code); everything else is the same bytes."""
    folder.mkdir(parents=True)
    s, t1, t2 = codes["src"], codes["t1"], codes["t2"]
    (folder / "train.tsv").write_text(
        "text\tlabel\n"
        + "".join(f"the {WORDS[i % 2]} film number {i}\t{('negative', 'positive')[i % 2]}\n" for i in range(12)),
        "utf-8",
    )
    for role, code in codes.items():
        write_jsonl(
            folder / f"test.{code}.jsonl",
            [{"text": f"{role} says a {WORDS[i % 2]} show {i}", "label": i % 2} for i in range(6)],
        )
    # a one-text corpus: src_text / tgt_text, no hypothesis, no uid (ids from the texts)
    write_jsonl(
        folder / "parallel.jsonl",
        [
            {"src_lang": s, "tgt_lang": (t1, t2)[i % 2], "src_text": f"a plain line {i}", "tgt_text": f"line {i} again"}
            for i in range(6)
        ],
    )
    (folder / "words.json").write_text(
        json.dumps({s: ["maybe", "no"], t1: ["yes", "no"], t2: ["no", "maybe"]}), "utf-8"
    )
    (folder / "task.yaml").write_text(
        f"""name: agnostic
text_fields: [text]
labels: [negative, positive]
label_words:
  default: [bad, good]
  {s}: [bad, good]
  {t1}: [schlecht, gut]
  {t2}: [mauvais, bon]
languages: [{s}, {t1}, {t2}]
source_language: {s}
tiny_label_words: ["no", "yes"]
splits:
  train: {{{s}: train.tsv}}
  test: {{{s}: test.{s}.jsonl, {t1}: test.{t1}.jsonl, {t2}: test.{t2}.jsonl}}
pct_templates:
  {s}: "Review: {{}} Sentiment: <mask>"
  {t1}: "Rezension: {{}} Stimmung: <mask>"
  {t2}: "Critique: {{}} Avis: <mask>"
dp_template: "{{text}} . Sentiment: <mask> ."
""",
        "utf-8",
    )
    return folder


def config_for(method: str, folder: Path) -> xlprompt.RunConfig:
    extra = {"translator_conditioning": "language"} if method == "mpt" else {}  # a prompt per target language
    return xlprompt.RunConfig(
        method=method,
        task=str(folder / "task.yaml"),
        model="random:tiny",
        device="cpu",
        num_threads=1,
        seed=3,
        shots=2,
        epochs=2,
        batch_size=4,
        max_length=40,
        eval_batch_size=8,
        parallel_source="file",
        parallel_file=str(folder / "parallel.jsonl"),
        parallel_size=6,
        label_words_file=str(folder / "words.json"),
        **extra,
    )


def run_task(method: str, folder: Path, codes: dict[str, str]) -> dict:
    """Train ``method`` on the task in ``folder``; everything it measured, keyed by language role, not code."""
    out = folder / f"run-{method}"
    results = xlprompt.run(config_for(method, folder), out)
    by_code = {code: role for role, code in codes.items()}
    history = [
        {k: v for k, v in json.loads(line).items() if k != "seconds"}
        for line in (out / "metrics.jsonl").read_text("utf-8").splitlines()
    ]
    accuracy = {by_code.get(lang, lang): value for lang, value in results["accuracy"].items()}
    tensors = load_file(str(out / "prompt.safetensors"))
    for code, role in by_code.items():  # p_target.<code> -> p_target.<role>
        tensors = {k[: -len(code)] + role if k.endswith("." + code) else k: v for k, v in tensors.items()}
    if method == "mpt":  # the exported adapter: p_target.<code> for the task's target languages, recomputed
        from xlprompt.export import ADAPTER_WEIGHTS, export_run

        export_run(out, folder / "adapter")
        exported = load_file(str(folder / "adapter" / ADAPTER_WEIGHTS))
        assert {k for k in exported if k.startswith("p_target.")} == {
            f"p_target.{codes['t1']}",
            f"p_target.{codes['t2']}",
        }
        for code in (codes["t1"], codes["t2"]):
            assert torch.equal(exported[f"p_target.{code}"], tensors[f"prompt.p_target.{by_code[code]}"])
    model = xlprompt.load_run(out, device="cpu")
    texts = [f"a {WORDS[i % 2]} evening {i}" for i in range(4)]
    predictions = {role: model.predict(texts, lang=code) for role, code in codes.items()}
    return {"history": history, "accuracy": accuracy, "tensors": tensors, "predictions": predictions}


def test_the_test_names_every_builtin_method():
    assert set(METHODS) == set(BUILTIN_METHODS)


@pytest.mark.parametrize("method", METHODS)
def test_renaming_every_language_code_changes_no_number(method, tmp_path):
    original = run_task(method, write_task(tmp_path / "original", ORIGINAL), ORIGINAL)
    renamed = run_task(method, write_task(tmp_path / "renamed", RENAMED), RENAMED)
    assert len(original["history"]) == 2 and "loss" in original["history"][0]
    assert original["history"] == renamed["history"]  # every loss part, learning rate and dev accuracy, every epoch
    assert original["accuracy"] == renamed["accuracy"] and set(original["accuracy"]) == {"src", "t1", "t2", "avg"}
    assert original["tensors"].keys() == renamed["tensors"].keys()
    for name, value in original["tensors"].items():
        assert torch.equal(value, renamed["tensors"][name]), name
    if method == "mpt":  # one p_T per target language of the task, under the task's codes
        assert {"prompt.p_target.t1", "prompt.p_target.t2"} <= set(original["tensors"])
    assert original["predictions"] == renamed["predictions"]  # labels and probabilities, in every language


# ---------------------------------------------------------------------------- a source language other than en
@pytest.fixture(scope="module")
def qsz_task(tmp_path_factory) -> Path:
    """The task with the source language ``qsz`` (and targets ``qsa``, ``qsb``)."""
    return write_task(tmp_path_factory.mktemp("qsz") / "task", RENAMED)


def components(method: str, folder: Path, **changes):
    from xlprompt.experiment import build_components

    return build_components(config_for(method, folder).replace(**changes), torch.device("cpu"))


def source_batch(tokenizer):
    """The first four training rows (both classes), tokenised, in the source language."""
    from xlprompt.batching import TokenCache
    from xlprompt.data.examples import NLIExample

    rows = [NLIExample(f"the {WORDS[i % 2]} film number {i}", "", i % 2, "qsz", f"row-{i}") for i in range(4)]
    return TokenCache(tokenizer).examples(rows)


def word_id(tokenizer, word: str) -> int:
    """A label word's token, by hand: its one piece (after a bare word-start piece, if the tokenizer emits one)."""
    pieces = tokenizer(word, add_special_tokens=False)["input_ids"]
    if len(pieces) == 2 and tokenizer.convert_ids_to_tokens(pieces[0]) == "▁":
        pieces = pieces[1:]
    assert len(pieces) == 1, (word, pieces)
    return pieces[0]


@pytest.mark.parametrize("method", METHODS)
def test_every_method_builds_for_a_task_whose_source_is_not_en(method, qsz_task):
    parts = components(method, qsz_task)
    assert parts.method.source_language == "qsz"
    assert parts.method.task.target_languages == ("qsa", "qsb")


def test_mpt_gives_the_source_language_its_source_prompt(qsz_task):
    method = components("mpt", qsz_task).method
    method.eval()
    with torch.no_grad():
        p_source = method.prompt_encoder()
        assert torch.equal(method.prompt_for("qsz"), p_source)  # source_prompt=source (default): p_S
        assert torch.equal(method.prompt_for("qsa"), method.translator(p_source, "qsa"))
        assert not torch.equal(method.prompt_for("qsa"), p_source)
        assert method.translator.languages == ("qsa", "qsb")  # one p_T per target language of the task
    target = components("mpt", qsz_task, source_prompt="target").method
    target.eval()
    with torch.no_grad():
        assert torch.equal(target.prompt_for("qsz"), target.translator(target.prompt_encoder(), "qsz"))


def test_sp_trains_with_the_words_it_tests_the_source_language_with(qsz_task):
    parts = components("sp", qsz_task)
    method, tok = parts.method, parts.tokenizer
    source_words = [word_id(tok, w) for w in ("maybe", "no")]  # words.json: the source's words
    default_words = [word_id(tok, w) for w in ("no", "yes")]  # the task's default (tiny) words
    assert source_words != default_words  # so training with the default words would show
    assert method.label_ids("qsz").tolist() == source_words  # the words the source language is tested with
    batch = source_batch(tok)
    method.eval()
    with torch.no_grad():
        hidden = method.mask_states([method.encode(ex) for ex in batch], method.prompt_encoder().expand(4, -1, -1))
        ce = method.classification_ce(batch, hidden)
        # by hand: softmax over the two source words' logits (scoring=labels), CE against the gold class
        logits = method.plm.vocab_logits(hidden).float()[:, source_words]
        expected = torch.nn.functional.cross_entropy(logits, torch.tensor([ex.label for ex in batch]))
    assert ce.item() == pytest.approx(expected.item(), rel=1e-6)


def test_pct_and_dpa_train_in_the_source_language(qsz_task):
    pct = components("pct", qsz_task).method
    assert pct.draw_languages == ("qsa", "qsb")  # the second template: one of the task's targets
    assert pct.templates["qsz"].pattern.startswith("Review: ")
    dpa = components("dpa", qsz_task).method
    assert dpa.optim_langs == ("qsz", "qsa", "qsb")
    mono = components("dpa", qsz_task, dpa_multilingual_optim=False).method
    assert mono.optim_langs == ("qsz",)


def test_a_parallel_pair_from_another_language_than_the_task_source_is_refused(qsz_task, tmp_path):
    from xlprompt.run_data import load_run_data

    bad = write_jsonl(
        tmp_path / "from-en.jsonl",
        [
            {"src_lang": "en", "tgt_lang": "qsa", "src_text": f"a plain line {i}", "tgt_text": f"x {i}"}
            for i in range(6)
        ],
    )
    with pytest.raises(xlprompt.DataError) as info:
        load_run_data(config_for("mpt", qsz_task).replace(parallel_file=str(bad)))
    assert str(info.value) == (
        f"{bad}:1: src_lang is 'en' but the run transfers from 'qsz' (its task's source language): every pair "
        "needs src_lang 'qsz' and a target language in tgt_lang"
    )
    data = load_run_data(config_for("mpt", qsz_task))  # the task's own source: accepted
    assert {p.src_lang for p in data.parallel} == {"qsz"} and all(p.single_text for p in data.parallel)


def test_an_external_corpus_from_english_is_refused_for_another_source(qsz_task):
    with pytest.raises(xlprompt.ConfigError) as info:
        config_for("mpt", qsz_task).replace(parallel_source="tatoeba")
    assert str(info.value) == (
        "parallel_source=tatoeba: its pairs go from 'en', but task agnostic transfers from 'qsz'; bring pairs "
        "from 'qsz' with parallel_source=file parallel_file=PATH, or alpha=1"
    )


def test_a_task_with_xnli_label_names_takes_label_words_for_its_own_codes(tmp_path):
    from xlprompt.models.backbone import load_tokenizer
    from xlprompt.verbalizer import verbalizer_for

    write_jsonl(tmp_path / "train.jsonl", [{"a": f"x {i}", "b": f"y {i}", "label": i % 3} for i in range(9)])
    write_jsonl(tmp_path / "test.jsonl", [{"a": "x", "b": "y", "label": 0}])
    (tmp_path / "task.yaml").write_text(
        """name: nli-qaa
text_fields: [a, b]
labels: [entailment, neutral, contradiction]
label_words: {default: ["yes", maybe, "no"]}
languages: [en, qaa]
splits: {train: {en: train.jsonl}, test: {en: test.jsonl, qaa: test.jsonl}}
""",
        "utf-8",
    )
    (tmp_path / "words.json").write_text(json.dumps({"qaa": ["no", "yes", "maybe"]}), "utf-8")
    config = xlprompt.RunConfig(
        method="sp",
        task=str(tmp_path / "task.yaml"),
        model="random:tiny",
        label_words_file=str(tmp_path / "words.json"),
    )
    tok = load_tokenizer("builtin:tiny")
    verbalizer = verbalizer_for(config, tok)  # XNLI's label names, its own code: no "unknown language code 'qaa'"
    assert verbalizer.ids_for("qaa") == tuple(word_id(tok, w) for w in ("no", "yes", "maybe"))
    assert verbalizer.ids_for("en") == tuple(word_id(tok, w) for w in ("yes", "maybe", "no"))
