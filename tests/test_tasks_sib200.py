"""SIB-200 and AmericasNLI: fetched from a local HTTP mirror that serves files built here in the sources'
published formats (SIB-200: pandas-quoted ``index_id, category, text`` TSVs per language and split; AmericasNLI:
the combined ``dev.tsv``/``test.tsv``; LASER Tatoeba: one sentence per line), then run end to end through the CLI
on random:tiny with the real XLM-R tokenizer; the leak guard refuses Flores sentences that SIB-200 evaluates."""

from __future__ import annotations

import csv
import dataclasses
import functools
import hashlib
import http.server
import io
import json
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import XLMR_TOKENIZER_DIR
from datafactory import write_xnli

from xlprompt.data import americasnli as anli
from xlprompt.data import sib200 as sib
from xlprompt.data.fetch import TATOEBA_BASE, Fetcher, FetchError, TatoebaFiles, apply_mirror
from xlprompt.errors import ConfigError, DataError

TRAIN = dict(zip(sib.SIB200_CATEGORIES, (176, 138, 102, 85, 77, 65, 58)))  # the release's English counts
DEV = dict(zip(sib.SIB200_CATEGORIES, (25, 20, 14, 12, 11, 9, 8)))
TEST = dict(zip(sib.SIB200_CATEGORIES, (51, 40, 30, 25, 22, 19, 17)))
LANGS = ("eng_Latn", "deu_Latn", "swh_Latn", "yor_Latn")
ANLI_LANGS = ("aym", "quy")
ANLI_ROWS = {"dev": {"aym": 9, "quy": 6}, "test": {"aym": 12, "quy": 9}}

needs_tokenizer = pytest.mark.skipif(not XLMR_TOKENIZER_DIR.is_dir(), reason="../shared/tokenizers/xlm-roberta absent")


def flores_sentence(lang: str, idx: int) -> str:
    """A sentence of its own for every language and idx: three of its 15 tokens depend on idx (no two of the
    release's ids share both numbers), so that two sentences are not near-copies to the leak guard (token
    similarity 12/18)."""
    return f"{lang} sentence number {idx} of the Flores set, on topic {idx * 7919 % 997} and item {idx * 104729 % 991}."


def release_rows(lang: str, split: str) -> list[tuple[int, str, str]]:
    """``(index_id, category, text)`` of a fake release file: the release's category counts, every 50th text
    with a quote (which pandas quotes)."""
    counts = {"train": TRAIN, "dev": DEV, "test": TEST}[split]
    idx = {"train": 0, "dev": 1000, "test": 2000}[split]
    rows = []
    for category, n in counts.items():
        for _ in range(n):
            rows.append((idx, category, flores_sentence(lang, idx) + (' He said "yes".' if idx % 50 == 0 else "")))
            idx += 1
    return rows


def release_tsv(lang: str, split: str) -> bytes:
    """A file as the release writes it (pandas to_csv, sep='\\t'): a text with a quote is quoted, '""' escaped."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
    writer.writerow(["index_id", "category", "text"])
    writer.writerows(release_rows(lang, split))
    return buffer.getvalue().encode("utf-8")


def converted_tsv(lang: str, split: str) -> bytes:
    """The converted file, written out here by hand: a plain header, the texts unquoted, tab-separated."""
    lines = ["idx\tcategory\ttext"] + [f"{i}\t{c}\t{t}" for i, c, t in release_rows(lang, split)]
    return ("\n".join(lines) + "\n").encode("utf-8")


def sib_converted_pins(langs=None) -> dict[str, str]:
    code = {"eng_Latn": "en"}
    return {
        f"sib200/{split}/{code.get(lang, lang)}.tsv": hashlib.sha256(converted_tsv(lang, split)).hexdigest()
        for lang in (langs or LANGS)
        for split in ("train", "dev", "test")
    }


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    """Serve a folder of files at their source URLs' paths on 127.0.0.1; yields (base URL, folder)."""
    root = tmp_path_factory.mktemp("mirror")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()


def _put(root: Path, url: str, data: bytes) -> None:
    path = root / apply_mirror(url, "http://x").split("//x/", 1)[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def sib_release(langs=LANGS) -> dict[str, bytes]:
    """``{"<Flores code>/<split>.tsv": bytes}`` of the fake release (train, dev and test of every language; the
    ``sib200`` source fetches English's train, ``sib200-train`` the others')."""
    return {f"{lang}/{split}.tsv": release_tsv(lang, split) for lang in langs for split in ("train", "dev", "test")}


def _sib_source(root: Path) -> sib.Sib200Files:
    pins = {}
    for rel, data in sib_release().items():
        _put(root, f"{sib.SIB200_BASE}/{rel}", data)
        pins[rel] = (hashlib.sha256(data).hexdigest(), len(data))
    return sib.Sib200Files("sib200", "SIB-200", languages=LANGS, pins=pins, converted=sib_converted_pins())


def tatoeba_sides(rows: int) -> dict[str, bytes]:
    """The LASER file names and bytes of a fake Tatoeba for every SIB-200 language it covers."""
    sides = {}
    for flores, (code, _) in sib.SIB200_TATOEBA.items():
        sides[f"tatoeba.{code}-eng.{code}"] = "".join(f"{flores} tatoeba line {i}\n" for i in range(rows)).encode()
        sides[f"tatoeba.{code}-eng.eng"] = "".join(
            f"English tatoeba line {i} for {code}\n" for i in range(rows)
        ).encode()
    return sides


def tatoeba_converted(flores: str, rows: int) -> bytes:
    code = sib.SIB200_TATOEBA[flores][0]
    lines = [f"idx\t{flores}\ten"]
    lines += [f"{i}\t{flores} tatoeba line {i}\tEnglish tatoeba line {i} for {code}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def _tatoeba_source(root: Path, rows: int = 20, langs=None) -> TatoebaFiles:
    langs = list(sib.SIB200_TATOEBA) if langs is None else langs
    for name, data in tatoeba_sides(rows).items():
        _put(root, f"{TATOEBA_BASE}/{name}", data)
    return TatoebaFiles(
        "tatoeba-sib200",
        "Tatoeba",
        rows=dict.fromkeys(langs, rows),
        codes={lang: sib.SIB200_TATOEBA[lang][0] for lang in langs},
        sha256={lang: hashlib.sha256(tatoeba_converted(lang, rows)).hexdigest() for lang in langs},
    )


def _anli_source(root: Path) -> anli.AmericasNliFiles:
    pins = {}
    labels = ("entailment", "neutral", "contradiction")
    for split, per_lang in ANLI_ROWS.items():
        lines = ["language\tpremise\thypothesis\tlabel"]
        for lang, n in per_lang.items():
            lines += [
                f"{lang}\t{lang} {split} premise {i}\t{lang} {split} hypothesis {i}\t{labels[i % 3]}" for i in range(n)
            ]
        data = ("\n".join(lines) + "\n").encode()
        _put(root, f"{anli.AMERICASNLI_BASE}/{split}.tsv", data)
        pins[f"{split}.tsv"] = (hashlib.sha256(data).hexdigest(), len(data))
    converted = {}  # the converted files, written out here by hand
    for split, per_lang in ANLI_ROWS.items():
        for lang, n in per_lang.items():
            lines = ["idx\tpremise\thypothesis\tlabel"]
            lines += [
                f"{i}\t{lang} {split} premise {i}\t{lang} {split} hypothesis {i}\t{labels[i % 3]}" for i in range(n)
            ]
            converted[f"americasnli/{split}/{lang}.tsv"] = hashlib.sha256(
                ("\n".join(lines) + "\n").encode()
            ).hexdigest()
    return anli.AmericasNliFiles("americasnli", "AmericasNLI", rows=ANLI_ROWS, pins=pins, converted=converted)


@pytest.fixture(scope="module")
def data_dir(mirror, tmp_path_factory):
    """A data folder filled by the sources' fetch functions through the local mirror."""
    url, root = mirror
    out = tmp_path_factory.mktemp("data")
    fetcher = Fetcher(out, mirror=url, progress=False)
    sources = (_sib_source(root), _tatoeba_source(root), _anli_source(root))
    for source in (*sources, dataclasses.replace(sources[0], name="sib200-train", other_train=True)):
        source.fetch(fetcher)  # sib200-train: the other languages' train files (several source languages)
        assert source.check(out) is None
    write_xnli(out, ("en",), n_dev=30, n_test=9, odd_chars=False)  # AmericasNLI trains on English XNLI
    return out


def test_fetch_converts_the_published_formats(data_dir, mirror):
    rows = sib.read_sib200(data_dir, "test", "deu_Latn")
    assert len(rows) == 204 and rows[0].hypothesis == "" and rows[0].uid == "sib200-2000"
    quoted = [r for r in sib.read_sib200(data_dir, "train", "en") if r.uid == "sib200-0"][0]
    assert quoted.premise == flores_sentence("eng_Latn", 0) + ' He said "yes".'  # csv unquoting
    assert (data_dir / "sib200/test/en.tsv").is_file() and (data_dir / "sib200/train/deu_Latn.tsv").is_file()
    # sib200 fetches English's train split only; sib200-train the other languages' (several source languages)
    source = _sib_source(mirror[1])
    assert ("deu_Latn", "train") not in source.files() and ("eng_Latn", "train") in source.files()
    assert dataclasses.replace(source, other_train=True).files() == [
        (lang, "train") for lang in LANGS if lang != "eng_Latn"
    ]
    sums = sib.read_sums(data_dir)
    assert len(sums) == 2 * len(sib.SIB200_FEWSHOT_KS) * len(sib.SIB200_FEWSHOT_SEEDS)
    path = data_dir / sib.FEWSHOT_DIR / "train_k4_seed1.tsv"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sums["train_k4_seed1.tsv"]
    assert len(sib.read_sib200(data_dir, "train", "en", path=path)) == 4 * 7
    assert len(anli.read_americasnli(data_dir, "test", "quy")) == 9
    tatoeba = (data_dir / "tatoeba/deu_Latn-en.tsv").read_text("utf-8").splitlines()
    assert tatoeba[1] == "0\tdeu_Latn tatoeba line 0\tEnglish tatoeba line 0 for deu"


def test_fetch_refuses_a_corrupt_file_and_a_wrong_row_count(mirror, tmp_path):
    url, root = mirror
    source = _sib_source(root)
    lang = LANGS[1]
    sha, size = source.pins[f"{lang}/dev.tsv"]
    source.pins[f"{lang}/dev.tsv"] = ("0" * 64, size)
    with pytest.raises(FetchError, match="SHA-256"):
        source.fetch(Fetcher(tmp_path / "a", mirror=url, progress=False))
    source.pins[f"{lang}/dev.tsv"] = (sha, size)
    bad = sib.Sib200Files("sib200", "x", languages=LANGS, pins=source.pins, rows={"train": 701, "dev": 98, "test": 204})
    bad.fetch(Fetcher(tmp_path / "b", mirror=url, progress=False))
    assert "99 rows, expected 98" in bad.check(tmp_path / "b")


def test_fixed_splits_of_the_real_release_are_pinned():
    """The shipped SHA-256 of the real release's few-shot splits and of its 615 files."""
    pins = sib.sib200_pins()
    assert len(pins) == 3 * 205 and len(sib.sib200_flores_languages()) == 205
    assert {rel.split("/")[1] for rel in pins} == {"train.tsv", "dev.tsv", "test.tsv"}
    fewshot = sib._pins("sib200_fewshot_sha256.txt")
    assert sorted(fewshot) == sorted(
        sib.fewshot_name(s, k, seed)
        for s in ("train", "dev")
        for k in sib.SIB200_FEWSHOT_KS
        for seed in sib.SIB200_FEWSHOT_SEEDS
    )


def test_edited_fixed_split_is_refused(data_dir, tmp_path):
    import shutil

    from xlprompt.tasks.sib200 import read_fixed_split

    copy = tmp_path / "d"
    shutil.copytree(data_dir / "sib200", copy / "sib200")
    path = copy / sib.FEWSHOT_DIR / "train_k2_seed3.tsv"
    path.write_text(path.read_text("utf-8").replace("sentence", "Sentence", 1), "utf-8")
    with pytest.raises(DataError, match="SHA-256 differs"):
        read_fixed_split(copy, "train", 2, 3)


@needs_tokenizer
def test_label_words_are_one_xlmr_token_each():
    from transformers import AutoTokenizer

    from xlprompt.tasks import get_task

    tok = AutoTokenizer.from_pretrained(str(XLMR_TOKENIZER_DIR))
    for name in ("sib200", "americasnli"):
        for word in get_task(name).label_words:
            pieces = tok.tokenize(word)
            assert len(pieces) == 1 and pieces[0].startswith("\u2581"), (name, word, pieces)


def test_tasks_registered_and_methods_refuse_in_one_line():
    from xlprompt.config import RunConfig
    from xlprompt.recipes import methods_for_task
    from xlprompt.tasks import get_task

    s, a = get_task("sib200"), get_task("americasnli")
    assert len(s.languages) == 205 and s.languages[0] == "en" and "swh_Latn" in s.languages and s.single_text
    assert a.languages == ("en", *anli.AMERICASNLI_LANGUAGES)
    for task in (s, a):
        assert methods_for_task(task) == ("mpt", "sp", "ft", "dp", "xpe", "dual")
    for method, why in (("pct", "templates"), ("dpa", "label words"), ("softmv", "verbalizer")):
        with pytest.raises(ConfigError, match=why) as err:
            RunConfig(task="sib200", method=method, model="random:tiny").validate()
        assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="Flores-200 codes"):
        RunConfig(task="sib200", method="mpt", parallel_source="pawsx").validate()
    from xlprompt.tasks.sib200 import sib200_required_files

    with pytest.raises(ConfigError, match="k in 1, 2, 4, 8, 16"):
        sib200_required_files(s, RunConfig(task="sib200", method="sp", shots=32), Path("."))


def test_tatoeba_covers_82_sib200_languages():
    from xlprompt.tasks import get_task

    task = get_task("sib200")
    assert len(sib.SIB200_TATOEBA) == 82 and set(sib.SIB200_TATOEBA) <= set(task.target_languages)
    assert "srp_Cyrl" not in sib.SIB200_TATOEBA  # Tatoeba's Serbian is in Latin script


def _run(args, data_dir, out):
    from xlprompt.cli import cli

    base = [
        "run",
        "--model",
        "random:tiny",
        "--tokenizer",
        str(XLMR_TOKENIZER_DIR),
        "--data-dir",
        str(data_dir),
        "--out",
        str(out),
        "--quiet",
        "--shots",
        "2",
        "--set",
        "epochs=1",
        "--set",
        "eval_max_per_language=6",
        "--set",
        "max_length=64",
        "--set",
        "device=cpu",
        "--set",
        "parallel_size=24",
    ]
    return CliRunner().invoke(cli, base + list(args))


@needs_tokenizer
def test_cli_runs_sib200_mpt_end_to_end(data_dir, tmp_path):
    out = tmp_path / "run"
    result = _run(
        [
            "--task",
            "sib200",
            "--method",
            "mpt",
            "--set",
            "eval_languages=en,deu_Latn,swh_Latn,yor_Latn",
            "--set",
            "translator_conditioning=language",
        ],
        data_dir,
        out,
    )
    assert result.exit_code == 0, result.output[-3000:]
    results = json.loads((out / "results.json").read_text("utf-8"))
    assert list(results["accuracy"]) == ["en", "deu_Latn", "swh_Latn", "yor_Latn", "avg"]
    assert results["train_examples"] == 14 and results["parallel_pairs"] == 24
    # every data file the run read, with the digest of its bytes (what `data cite` prints)
    files = {item["path"]: item for item in results["data_files"]}
    swh = data_dir / "sib200/test/swh_Latn.tsv"
    assert files["sib200/test/swh_Latn.tsv"] == {
        "path": "sib200/test/swh_Latn.tsv",
        "source": "sib200",
        "sha256": "sha256:" + hashlib.sha256(swh.read_bytes()).hexdigest(),
    }
    assert "sib200/fewshot/train_k2_seed1.tsv" in files and "sib200/test/yor_Latn.tsv" in files
    assert (
        "alignment data:" in result.output
        and "yor_Latn" not in result.output.split("alignment data:")[1].split("\n")[0]
    )


@needs_tokenizer
def test_cli_runs_americasnli_mpt_end_to_end(data_dir, tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(
        "".join(
            json.dumps(
                {
                    "src_lang": "en",
                    "tgt_lang": lang,
                    "src_premise": f"An English premise {i}",
                    "src_hypothesis": f"An English hypothesis {i}",
                    "tgt_premise": f"{lang} p {i}",
                    "tgt_hypothesis": f"{lang} h {i}",
                }
            )
            + "\n"
            for i in range(12)
            for lang in ANLI_LANGS
        ),
        "utf-8",
    )
    out = tmp_path / "run"
    result = _run(
        [
            "--task",
            "americasnli",
            "--method",
            "mpt",
            "--set",
            "eval_languages=en,aym,quy",
            "--set",
            "train_source=sample",
            "--set",
            "parallel_source=file",
            "--set",
            f"parallel_file={pairs}",
        ],
        data_dir,
        out,
    )
    assert result.exit_code == 0, result.output[-3000:]
    results = json.loads((out / "results.json").read_text("utf-8"))
    assert list(results["accuracy"]) == ["en", "aym", "quy", "avg"] and results["train_examples"] == 6
    refused = _run(
        ["--task", "americasnli", "--method", "mpt", "--set", "eval_languages=en,aym", "--set", "train_source=sample"],
        data_dir,
        tmp_path / "r2",
    )
    assert refused.exit_code != 0 and "none of its target languages" in refused.output
    assert "Traceback" not in refused.output


def test_leak_guard_refuses_flores_sentences_that_sib200_evaluates(data_dir, tmp_path):
    """A parallel corpus built from Flores-200 (SIB-200's texts are Flores sentences) must be refused."""
    from xlprompt.config import RunConfig
    from xlprompt.run_data import load_run_data

    evaluated = sib.read_sib200(data_dir, "test", "swh_Latn")[3]
    english = sib.read_sib200(data_dir, "test", "en")[3]
    pairs = tmp_path / "flores.jsonl"
    rows = [
        {
            "src_lang": "en",
            "tgt_lang": "swh_Latn",
            "src_premise": f"Unrelated English {i}.",
            "src_hypothesis": f"Another English {i}.",
            "tgt_premise": f"Kiswahili {i}.",
            "tgt_hypothesis": f"Pili {i}.",
        }
        for i in range(30)
    ]
    rows[7] = {**rows[7], "tgt_hypothesis": evaluated.premise, "src_hypothesis": english.premise}
    pairs.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    config = RunConfig(
        task="sib200",
        method="mpt",
        model="random:tiny",
        data_dir=str(data_dir),
        shots=2,
        eval_languages="en,swh_Latn",
        parallel_source="file",
        parallel_file=str(pairs),
        parallel_size=30,
    )
    with pytest.raises(DataError, match="evaluated sib200 test text") as err:
        load_run_data(config)
    assert "; pair 8 of the corpus)" in str(err.value) and "\n" not in str(err.value)  # the 8th pair of the file
    # the same corpus without the Flores sentence is accepted
    rows[7] = {**rows[7], "tgt_hypothesis": "Pili 7.", "src_hypothesis": "Another English 7."}
    pairs.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    assert len(load_run_data(config).parallel) == 30


#: gold rows per class of the fake test sets below (204 rows, as SIB-200's test; the largest class 51)
FAKE_GOLD = [51, 40, 30, 25, 24, 17, 17]


def _fake_sib200_store(path, languages):
    from xlprompt.config import RunConfig
    from xlprompt.store import ResultStore

    with ResultStore(path) as store:
        for method in ("mpt", "sp"):
            for seed in (1, 2):
                config = RunConfig(task="sib200", method=method, model="random:tiny", seed=seed, shots=2)
                h = config.resolved_hash()
                store.add([(h, config.to_dict(), "g", "")], sweep="g")
                assert store.claim(h).ok
                acc = {lang: (60.0 if lang.endswith("_Latn") or lang == "en" else 30.0) + seed for lang in languages}
                counts = [{"gold": g, "predicted": g, "correct": 0} for g in FAKE_GOLD]
                store.finish(
                    h,
                    {
                        "accuracy": {**acc, "avg": 50.0},
                        "macro_f1": {**{k: v - 10.0 for k, v in acc.items()}, "avg": 40.0},
                        "counts": dict.fromkeys(languages, counts),
                        "random_weights": True,
                        "method": method,
                        "shots": 2,
                        "seed": seed,
                        "model": "random:tiny",
                        "task": "sib200",
                        "eval_split": "test",
                    },
                )


def _table_rows(page, prefix):
    return [[c.strip() for c in line.strip("|").split("|")] for line in page.splitlines() if line.startswith(prefix)]


def test_report_groups_205_languages_by_region_family_coverage_script_and_plots_them(tmp_path):
    from xlprompt.report import build_report
    from xlprompt.tasks import get_task

    languages = get_task("sib200").languages
    _fake_sib200_store(tmp_path / "s.sqlite", languages)
    report = build_report(tmp_path / "s.sqlite", tmp_path / "rep")
    page = (tmp_path / "rep" / "report.md").read_text("utf-8")
    assert "accuracy and macro-F1 by group" in page
    mpt = {(r[1], r[2]): r for r in _table_rows(page, "| MPT k=2") if len(r) == 8}
    # by hand: Latin-script languages score 61.5 (mean of 61, 62), the others 31.5, and macro-F1 10 less; the
    # SIB-200 paper's Table 7 puts Fijian, Maori, Samoan and Tok Pisin (all Latin script) in Oceania, Kannada,
    # Malayalam, Tamil and Telugu (none Latin) in the Dravidian family; majority class 51 of 204 rows = 25.0,
    # its macro-F1 2·51/(51 + 204)/7 = 5.7
    f1_majority = f"{100 * (2 * 51 / (51 + 204)) / 7:.1f}"
    assert mpt[("region", "Oceania")][3:] == ["4", "61.5", "25.0", "51.5", f1_majority]
    assert mpt[("family", "Dravidian")][3:] == ["4", "31.5", "25.0", "21.5", f1_majority]
    assert mpt[("script", "Latn")][3:] == ["127", "61.5", "25.0", "51.5", f1_majority]
    table = {}
    for line in (Path(__file__).parents[1] / "src/xlprompt/resources/sib200_languages.tsv").read_text().splitlines():
        if line and not line.startswith(("#", "code")):
            code, _, _, _, xlmr, _ = line.split("\t")
            table["en" if code == "eng_Latn" else code] = xlmr
    seen = [lang for lang, x in table.items() if x == "yes"]
    expected = sum(61.5 if lang.endswith("_Latn") or lang == "en" else 31.5 for lang in seen) / len(seen)
    assert mpt[("XLM-R pre-training", "seen")][3:5] == [str(len(seen)), f"{expected:.1f}"]
    # Glot500-m: 25 unseen, 8 of them Latin script (arb_Latn bug dik fuv knc_Latn ltg nus taq_Latn): by hand
    # (8·61.5 + 17·31.5) / 25 = 41.1
    assert mpt[("Glot500-m pre-training", "unseen")][3:5] == ["25", "41.1"]
    # the averages say what they cover; chance and the majority class stand beside them
    assert "Paper avg: SIB-200 paper (Adelani et al., EACL 2024) Table 7" in page
    assert "over 205 languages" in page and "Avg: the mean over every evaluated language (205)" in page
    assert any(r[:2] == ["*majority class*", "25.0"] for r in _table_rows(page, "| *majority class* |"))
    assert any(r[:2] == ["*chance*", f"{100 / 7:.1f}"] for r in _table_rows(page, "| *chance* |"))
    assert (tmp_path / "rep" / "task_sib200_groups.png").stat().st_size > 5000
    rows = list(csv.DictReader(io.StringIO((tmp_path / "rep" / "task_sib200_languages.csv").read_text("utf-8"))))
    assert len(rows) == 2 * 205
    swh = [r for r in rows if r["language"] == "swh_Latn"][0]
    yor = [r for r in rows if r["language"] == "yor_Latn"][0]
    assert swh["aligned"] == "yes" and yor["aligned"] == "no" and swh["script"] == "Latn"
    assert swh["region"] == "Africa" and swh["family"] == "Atlantic-Congo" and swh["XLM-R pre-training"] == "seen"
    assert yor["XLM-R pre-training"] == "unseen" and float(swh["majority_class"]) == pytest.approx(25.0)
    assert yor["Glot500-m pre-training"] == "seen" and swh["Glot500-m pre-training"] == "seen"
    assert len((tmp_path / "rep" / "task_sib200.csv").read_text("utf-8").splitlines()[0].split(",")) == 205 + 6
    assert report.files


def test_report_metric_macro_f1_shows_macro_f1_and_its_baselines(tmp_path):
    from xlprompt.config import RunConfig
    from xlprompt.errors import ConfigError
    from xlprompt.report import build_report
    from xlprompt.store import ResultStore

    languages = ("en", "swh_Latn", "yor_Latn", "fij_Latn", "kan_Knda")
    _fake_sib200_store(tmp_path / "s.sqlite", languages)
    # a run recorded before macro-F1 existed (accuracy only): still read, left out of a macro-F1 report by name
    old = RunConfig(task="sib200", method="sp", model="random:tiny", seed=9, shots=2)
    with ResultStore(tmp_path / "s.sqlite") as store:
        store.add([(old.resolved_hash(), old.to_dict(), "g", "")])
        assert store.claim(old.resolved_hash()).ok
        store.finish(old.resolved_hash(), {"accuracy": {"en": 1.0, "avg": 1.0}})
    with pytest.warns(UserWarning, match=f"run {old.resolved_hash()} left out of the report: it has no macro_f1"):
        build_report(tmp_path / "s.sqlite", tmp_path / "rep", metric="macro_f1")
    page = (tmp_path / "rep" / "task_sib200.md").read_text("utf-8")
    assert "Macro-F1 (%) per language" in page
    mpt = _table_rows(page, "| MPT k=2")[0]
    # columns in the task's order (en fij_Latn kan_Knda swh_Latn yor_Latn); macro-F1 = accuracy - 10: 51.5 for
    # the Latin-script languages, 21.5 for Kannada
    assert mpt[1:6] == ["51.5±0.7", "51.5±0.7", "21.5±0.7", "51.5±0.7", "51.5±0.7"]
    # majority class in macro-F1: F1 = 2*51/(51+204) for its class, 0 for the other 6, averaged over 7
    majority = _table_rows(page, "| *majority class* |")[0]
    assert majority[1] == f"{100 * (2 * 51 / (51 + 204)) / 7:.1f}"
    # chance: uniform guessing's expected counts, F1 = 2(g/7)/(g + 204/7) per class
    chance = sum(2 * (g / 7) / (g + 204 / 7) for g in FAKE_GOLD) / 7
    assert _table_rows(page, "| *chance* |")[0][1] == f"{100 * chance:.1f}"
    # the command line: --metric and --average (the task table's named average over the languages asked for)
    from xlprompt.cli import cli

    out = CliRunner().invoke(
        cli,
        ["report", "--store", str(tmp_path / "s.sqlite"), "--out", str(tmp_path / "cli"), "--metric", "macro_f1"]
        + ["--average", "swh_Latn,kan_Knda"],
    )
    assert out.exit_code == 0, out.output
    page = (tmp_path / "cli" / "task_sib200.md").read_text("utf-8")
    assert "- Paper avg: the languages asked for (2); over 2 languages." in page
    assert _table_rows(page, "| MPT k=2")[0][7] == "36.5±0.7"  # (51.5 + 21.5) / 2
    with pytest.raises(ConfigError, match="^--metric must be one of accuracy, macro_f1, not 'f1'$"):
        build_report(tmp_path / "s.sqlite", tmp_path / "rep2", metric="f1")
    with pytest.raises(ConfigError, match="paper reports accuracy only"):
        build_report(tmp_path / "s.sqlite", tmp_path / "rep2", metric="macro_f1", compare="paper")


def test_shots_all_trains_on_the_full_english_train_split_and_selects_on_its_dev(data_dir):
    from xlprompt.config import RunConfig, coerce
    from xlprompt.run_data import load_run_data

    assert coerce("shots", "all") == 0 and coerce("shots", "ALL ") == 0
    base = dict(task="sib200", method="sp", model="random:tiny", data_dir=str(data_dir))
    config = RunConfig(**base, shots=coerce("shots", "all"), eval_languages="en,swh_Latn")
    data = load_run_data(config)
    # the release's 701 English train rows and 99 dev rows (TRAIN, DEV above), every one, whatever the seed
    assert len(data.train) == sum(TRAIN.values()) == 701 and len(data.dev) == sum(DEV.values()) == 99
    assert sorted(ex.label for ex in data.train) == sorted(i for i, n in enumerate(TRAIN.values()) for _ in range(n))
    assert {ex.uid for ex in data.train}.isdisjoint(ex.uid for ex in data.dev)
    assert any("shots=all" in note for note in data.notes)
    with pytest.raises(ConfigError, match="^task sib200 with shots=all selects on the English dev split"):
        load_run_data(RunConfig(**base, shots=0, eval_split="dev", eval_languages="en"))
    with pytest.raises(
        ConfigError, match=r"^shots=all \(the full train split\): task xnli does not declare it; it is the setting "
    ):
        RunConfig(method="sp", model="random:tiny", shots=0).validate()


def test_data_cite_prints_each_file_its_digest_source_and_runs(tmp_path):
    from xlprompt.cli import cli
    from xlprompt.config import RunConfig
    from xlprompt.store import ResultStore

    a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    recorded = {
        1: [{"path": "sib200/test/en.tsv", "source": "sib200", "sha256": a}],
        2: [{"path": "sib200/test/en.tsv", "source": "sib200", "sha256": b}],
    }
    with ResultStore(tmp_path / "s.sqlite") as store:
        for seed in (1, 2, 3):
            config = RunConfig(task="sib200", method="sp", model="random:tiny", seed=seed, shots=2)
            h = config.resolved_hash()
            store.add([(h, config.to_dict(), "g", "")])
            assert store.claim(h).ok
            results = {"accuracy": {"en": 1.0, "avg": 1.0}, "inputs": {"data": "sha256:old"}}
            if seed in recorded:
                results["data_files"] = recorded[seed]
            store.finish(h, results)
    result = CliRunner().invoke(cli, ["data", "cite", "--store", str(tmp_path / "s.sqlite")])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Data of the 3 finished runs in s.sqlite"
    assert lines[2] == "task sib200:" and lines[3].startswith("  source sib200: SIB-200 (205 languages)")
    # the file was read with two digests (it changed between runs): both, each with its run
    assert lines[4:6] == [
        f"  sib200/test/en.tsv  {a}  sib200  1 run (CHANGED between runs)",
        f"  sib200/test/en.tsv  {b}  sib200  1 run (CHANGED between runs)",
    ]
    assert lines[-1] == (
        "task sib200: 1 runs recorded before xlprompt kept per-file digests; their data digests (all files "
        "together): sha256:old"
    )
    missing = CliRunner().invoke(cli, ["data", "cite", "--store", str(tmp_path / "none.sqlite")])
    assert missing.exit_code != 0 and "no such results store" in missing.output


@needs_tokenizer
def test_cli_runs_sib200_xpe_end_to_end(data_dir, tmp_path):
    """XPE on SIB-200 with XLM-R's tokenizer: 20 virtual tokens before <s> text </s>, the head's 7 categories;
    trained on two source languages at once (their own few-shot splits) and evaluated on languages held out of
    training too, its results saying which are which (XPE and DUAL, the same code at encoder ratio 0.3, go
    through predict and export in test_matrix.py; the XLM-R tokenizer's load is most of this test's time)."""
    method = "xpe"
    out = tmp_path / "run"
    result = _run(
        [
            "--task",
            "sib200",
            "--method",
            method,
            "--set",
            "source_languages=deu_Latn,en",
            "--set",
            "train_source=sample",
            "--set",
            "eval_languages=en,deu_Latn,swh_Latn,yor_Latn",
        ],
        data_dir,
        out,
    )
    assert result.exit_code == 0, result.output[-3000:]
    results = json.loads((out / "results.json").read_text("utf-8"))
    assert list(results["accuracy"]) == ["en", "deu_Latn", "swh_Latn", "yor_Latn", "avg"]
    # 2 per class of 7 classes in each of the 2 source languages
    assert results["train_examples"] == 2 * 7 * 2 and not results.get("parallel_pairs")  # XPE reads no corpus
    assert results["source_languages"] == ["en", "deu_Latn"]  # in the task's order, however they were given
    assert results["held_out_languages"] == ["swh_Latn", "yor_Latn"]
    held = results["averages"]["held_out"]
    acc, f1 = results["accuracy"], results["macro_f1"]
    assert held["languages"] == ["swh_Latn", "yor_Latn"] and held["sources"] == ["en", "deu_Latn"]
    assert held["accuracy"] == pytest.approx((acc["swh_Latn"] + acc["yor_Latn"]) / 2)
    assert held["macro_f1"] == pytest.approx((f1["swh_Latn"] + f1["yor_Latn"]) / 2)
    assert "Held out (trained on en, deu_Latn)" in result.output
    assert results["labels"][0] == "science/technology" and len(results["labels"]) == 7
    config = json.loads((out / "config.json").read_text("utf-8"))["config"]
    assert (config["prompt_length"], config["freeze_plm"]) == (20, True)
    assert config["xpe_encoder_ratio"] == 1.0 and config["source_languages"] == "en,deu_Latn"
    assert "prompt.safetensors" in {p.name for p in out.iterdir()}  # the prompt and head, not the frozen PLM
    assert "plm.safetensors" not in {p.name for p in out.iterdir()}


def test_data_stats_shows_sib200_its_tatoeba_and_americasnli(data_dir):
    from xlprompt.cli import cli

    result = CliRunner().invoke(cli, ["data", "stats", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    sib200 = result.output.split("[sib200] ", 1)[1].split("\n\n")[0].splitlines()
    assert sib200[2].split() == ["train", "1/1", "701", *map(str, TRAIN.values())]
    assert sib200[3].split() == ["dev", "4/205", "99", *map(str, DEV.values())]
    assert sib200[4].split() == ["test", "4/205", "204", *map(str, TEST.values())]
    assert sib200[5] == "fixed few-shot split files (sib200/fewshot/): 50/50"
    tatoeba = result.output.split("[tatoeba-sib200] ", 1)[1].splitlines()[1]
    assert tatoeba == "82/82 languages, rows per language 20, 820 pairs"  # 20 rows: 10 pairs, in 82 languages
    americas = [line.split() for line in result.output.split("[americasnli] ", 1)[1].splitlines()[2:]]
    assert ["aym", "9", "3", "3", "3", "12", "4", "4", "4"] in americas
    assert ["quy", "6", "2", "2", "2", "9", "3", "3", "3"] in americas
    assert ["gn", "-", "-", "-", "-", "-", "-", "-", "-"] in americas


def _per_language(examples) -> dict[str, list[int]]:
    """Language → how many examples of each class (the task's class order)."""
    out: dict[str, list[int]] = {}
    for ex in examples:
        out.setdefault(ex.lang, [0] * 7)[ex.label] += 1
    return out


def test_source_languages_train_on_the_union_of_each_languages_own_splits(data_dir):
    from xlprompt.config import RunConfig
    from xlprompt.run_data import load_run_data

    base = dict(task="sib200", method="sp", model="random:tiny", data_dir=str(data_dir), eval_languages="yor_Latn")
    config = RunConfig(**base, shots=2, train_source="sample", source_languages="swh_Latn, deu_Latn")
    data = load_run_data(config)
    # by hand: 2 per class of each source language's own train set, and 2 per class of its dev
    assert _per_language(data.train) == {"deu_Latn": [2] * 7, "swh_Latn": [2] * 7}
    assert _per_language(data.dev) == {"deu_Latn": [2] * 7, "swh_Latn": [2] * 7}
    # each example is its language's sentence (the fake release writes the Flores code into every text)
    assert all(ex.premise.startswith(ex.lang) for ex in (*data.train, *data.dev))
    # parallel by idx: no dev sentence is a training sentence (or its translation) of any source language
    assert {ex.uid for ex in data.train}.isdisjoint(ex.uid for ex in data.dev)
    # one set of sources, however spelled or ordered: one config, one hash, one train set
    again = RunConfig(**base, shots=2, train_source="sample", source_languages=["deu_Latn", "swh_Latn"])
    assert again.resolved_hash() == config.resolved_hash() and again.source_languages == "deu_Latn,swh_Latn"
    assert [ex.uid + ex.lang for ex in load_run_data(again).train] == [ex.uid + ex.lang for ex in data.train]
    # one other source language alone: its own splits, not English's
    german = load_run_data(RunConfig(**base, shots=2, train_source="sample", source_languages="deu_Latn"))
    assert _per_language(german.train) == {"deu_Latn": [2] * 7} == _per_language(german.dev)
    # shots=all: every row of each source language's train and dev splits (the release's counts, per language)
    full = load_run_data(RunConfig(**base, shots=0, source_languages="en,deu_Latn"))
    assert _per_language(full.train) == {"en": list(TRAIN.values()), "deu_Latn": list(TRAIN.values())}
    assert _per_language(full.dev) == {"en": list(DEV.values()), "deu_Latn": list(DEV.values())}
    # the fixed split files are English only: another source language needs sampled or full splits
    with pytest.raises(
        ConfigError,
        match=r"^task sib200 with train_source=fixed: the fixed few-shot split files are English only; "
        r"source_languages=en,deu_Latn needs train_source=sample ",
    ):
        load_run_data(RunConfig(**base, shots=2, source_languages="en,deu_Latn"))


def test_source_languages_refused_in_one_line():
    from xlprompt.config import RunConfig

    base = dict(task="sib200", model="random:tiny")
    cases = [
        (
            dict(method="mpt", source_languages="en,deu_Latn,swh_Latn"),
            "method mpt trains on one source language, the task's (en); source_languages=en,deu_Latn,swh_Latn "
            "names 3 (methods that train on other or several: sp, ft, xpe, dual)",
        ),
        (
            dict(method="pct", task="xnli", source_languages="de"),
            "source_languages names 'de', but task xnli has train and dev data in en only (its English few-shot "
            "train and dev: the fixed splits of Zhao & Schütze, or sampled from English XNLI dev or MultiNLI); "
            "train on en or leave source_languages unset",
        ),
        (
            dict(method="xpe", source_languages="en,deu"),
            "source_languages names 'deu', which is not a language of task sib200. Did you mean 'deu_Latn'? Its "
            "205 languages: en, ace_Arab, ace_Latn, acm_Arab, acq_Arab, aeb_Arab, afr_Latn, ajp_Arab, aka_Latn, "
            "als_Latn, amh_Ethi, apc_Arab, arb_Arab, arb_Latn, ars_Arab, ary_Arab ... (run --task sib200 "
            "--help-config lists them)",
        ),
        (dict(method="sp", source_languages="en,deu_Latn,en"), "source_languages names en more than once: "),
    ]
    for changes, message in cases:
        with pytest.raises(ConfigError) as err:
            RunConfig(**{**base, **changes})
        assert str(err.value).startswith(message) and "\n" not in str(err.value), str(err.value)
    # unset, or the task's source language alone: the same config, the same hash as before the key existed
    plain = RunConfig(**base, method="xpe")
    assert plain.source_languages is None and plain.sources() == ("en",)
    assert RunConfig(**base, method="xpe", source_languages="en").resolved_hash() == plain.resolved_hash()
    assert RunConfig(**base, method="xpe", source_languages="en,swh_Latn").resolved_hash() != plain.resolved_hash()
    assert RunConfig(**base, method="mpt", source_languages=["en"]).sources() == ("en",)
    # a sweep file's YAML list, as a config.json records it
    from xlprompt.config import coerce

    assert coerce("source_languages", ["swh_Latn", "en"]) == "swh_Latn,en"
    listed = RunConfig.from_dict({**base, "method": "sp", "source_languages": ["swh_Latn", "en"]})
    assert listed.source_languages == "en,swh_Latn" and listed.to_dict()["source_languages"] == "en,swh_Latn"
