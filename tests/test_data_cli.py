"""``xlprompt data stats`` / ``build-parallel`` (through click's CliRunner) and :func:`data_stats`."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner
from datafactory import fewshot_rows, write_data_dir, write_jsonl, write_tsv, write_xnli

from xlprompt.cli import cli
from xlprompt.data import data_stats, format_stats, language_counts, read_parallel_jsonl
from xlprompt.data.fewshot import fewshot_path
from xlprompt.data.stats import StatRow
from xlprompt.languages import LANGUAGE_NAMES, TARGET_LANGUAGES, XNLI_LANGUAGES


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_data_dir(tmp_path_factory.mktemp("data"), n_dev=12, n_test=15, ks=(1, 2))


def run(*args):
    result = CliRunner().invoke(cli, list(map(str, args)))
    return result


def cells(text):
    """Every line of a printed table, split into its cells."""
    return [line.split() for line in text.split("\n")]


def assert_one_line_error(result, *fragments):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().split("\n")
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


# -- data_stats -------------------------------------------------------------------------------------


def test_data_stats_counts(data_dir):
    rows = data_stats(data_dir)
    assert StatRow("xnli", "dev", "en", "total", 12) in rows
    assert StatRow("xnli", "test", "el", "contradiction", 5) in rows
    assert StatRow("xnli-fewshot", "train-k2", "sw", "neutral", 2) in rows
    assert StatRow("xnli-fewshot", "dev-k1", "en", "total", 3) in rows
    assert StatRow("pawsx", "test", "de", "paraphrase", 4) in rows
    assert StatRow("pawsx", "test", "fr", "unlabelled", 8) in rows
    assert StatRow("tatoeba", "bitext", "vi", "total", 12) in rows
    xnli_totals = [r for r in rows if r.source == "xnli" and r.label == "total"]
    assert len(xnli_totals) == 2 * len(XNLI_LANGUAGES)


def test_format_stats_table(data_dir):
    text = format_stats(data_stats(data_dir))
    lines = text.split("[xnli] ", 1)[1].split("\n")
    assert lines[0] == "XNLI (xnli/{dev,test}/{lang}.tsv)"
    assert lines[1].split() == [
        "lang",
        "dev",
        "rows",
        "dev",
        "ent",
        "dev",
        "neu",
        "dev",
        "con",
        "test",
        "rows",
        "test",
        "ent",
        "test",
        "neu",
        "test",
        "con",
    ]
    assert lines[2].split() == ["ar", "12", "4", "4", "4", "15", "5", "5", "5"]
    table = cells(text)
    assert ["all", "180", "60", "60", "60", "225", "75", "75", "75"] in table
    assert ["1", "3", "15/15", "3", "3", "15/15", "3"] in table  # few-shot k=1
    assert ["4", "-", "0/15", "-", "-", "0/15", "-"] in table  # few-shot k=4: absent
    assert ["de", "8", "4", "4", "0", "0", "8", "4", "4", "0", "0"] in table  # PAWS-X de: labelled test, no NS
    assert ["fr", "8", "4", "4", "0", "0", "8", "0", "0", "8", "0"] in table
    assert ["sw", "12", "6"] in table  # Tatoeba


def test_stats_of_missing_sources(tmp_path):
    write_xnli(tmp_path, ("en",), n_dev=3, n_test=3)
    text = format_stats(data_stats(tmp_path))
    assert "Few-shot splits (xnli-fewshot/{train,dev}/...; k per class, 3k rows): not found" in text
    assert "Tatoeba (tatoeba/{xx}-en.tsv; a pair = two consecutive rows): not found" in text
    assert ["de", "-", "-", "-", "-", "-", "-", "-", "-"] in cells(text)
    assert ["en", "3", "1", "1", "1", "3", "1", "1", "1"] in cells(text)


# -- xlprompt data stats ----------------------------------------------------------------------------


def test_cli_stats(data_dir):
    result = run("data", "stats", "--data-dir", data_dir)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"data folder: {data_dir}\n\n[fewshot] Few-shot splits")
    assert "\n\n[xnli] XNLI (xnli/{dev,test}/{lang}.tsv)\n" in result.stdout
    for lang in XNLI_LANGUAGES:
        assert [lang, "12", "4", "4", "4", "15", "5", "5", "5"] in cells(result.stdout)
    assert "PAWS-X" in result.stdout and "Tatoeba" in result.stdout


def test_cli_stats_bad_file_is_one_line(tmp_path):
    write_xnli(tmp_path, ("en", "de"), n_dev=3, n_test=3)
    path = write_tsv(
        tmp_path / "xnli" / "dev" / "de.tsv",
        ("idx", "premise", "hypothesis", "label"),
        [(0, "p", "h", "neutral"), (1, "p", "h", "maybe")],
    )
    assert_one_line_error(run("data", "stats", "--data-dir", tmp_path), f"{path}:3: unknown label 'maybe'")


def test_cli_stats_missing_dir(tmp_path):
    assert_one_line_error(run("data", "stats", "--data-dir", tmp_path / "nothing"), "data folder not found")


def test_cli_stats_prints_warnings_as_lines(tmp_path):
    rows = fewshot_rows("train", 1, "ar")
    rows[0]["sentence2"] = ""
    write_jsonl(fewshot_path(tmp_path, "train", 1, "ar"), rows)
    result = run("data", "stats", "--data-dir", tmp_path)
    assert result.exit_code == 0
    assert result.stderr.startswith("warning: ")
    assert "1 example(s) with an empty premise or hypothesis (line 1)" in result.stderr


# -- xlprompt data build-parallel -------------------------------------------------------------------


@pytest.mark.parametrize(
    "source, size, languages", [("pawsx", 12, "de,es,fr,zh"), ("tatoeba", 28, None), ("xnli-dev", 12, None)]
)
def test_cli_build_parallel(data_dir, tmp_path, source, size, languages):
    out = tmp_path / "corpus.jsonl"
    args = [
        "data",
        "build-parallel",
        "--source",
        source,
        "--size",
        size,
        "--seed",
        1,
        "--out",
        out,
        "--data-dir",
        data_dir,
    ]
    if languages:
        args += ["--languages", languages]
    result = run(*args)
    assert result.exit_code == 0, result.output
    pairs = read_parallel_jsonl(out)
    assert len(pairs) == size and len(out.read_text(encoding="utf-8").split("\n")) == size + 1
    assert result.stdout.startswith(f"wrote {size} pairs (source {source}, seed 1, balanced languages) to {out}\n")
    counts = language_counts(pairs)
    table = cells(result.stdout)
    for lang, n in counts.items():
        assert [lang, LANGUAGE_NAMES[lang], str(n), f"{100 * n / size:.1f}%"] in table
    if source == "tatoeba":
        assert counts == dict.fromkeys(TARGET_LANGUAGES, 2)


def test_cli_build_parallel_file_and_translate_need_inputs(data_dir, tmp_path):
    corpus = tmp_path / "c.jsonl"
    built = run("data", "build-parallel", "--source", "tatoeba", "--size", 20, "--out", corpus, "--data-dir", data_dir)
    assert built.exit_code == 0
    out = tmp_path / "subset.jsonl"
    result = run("data", "build-parallel", "--source", "file", "--file", corpus, "--size", 5, "--out", out, "--iid")
    assert result.exit_code == 0, result.output
    assert {p.uid for p in read_parallel_jsonl(out)} <= {p.uid for p in read_parallel_jsonl(corpus)}
    assert "(source file, seed 0, languages as in the file)" in result.stdout
    assert_one_line_error(
        run("data", "build-parallel", "--source", "translate", "--out", out, "--data-dir", data_dir),
        "needs a translation model: pass --model",
    )


def test_cli_build_parallel_errors_are_one_line(data_dir, tmp_path):
    out = tmp_path / "c.jsonl"
    base = ["data", "build-parallel", "--out", out, "--data-dir", data_dir]
    assert_one_line_error(
        run(*base, "--source", "pawsx", "--size", 500),
        "the 'pawsx' source has only 16 English pairs",
        "fewer than the 500 asked for",
    )
    assert_one_line_error(
        run(*base, "--source", "tatoeba", "--languages", "de,xx"), "unknown target language code 'xx'"
    )
    assert_one_line_error(
        run(*base, "--source", "pawsx", "--languages", "ar"), "PAWS-X has none of the target languages ar"
    )
    assert_one_line_error(
        run("data", "build-parallel", "--source", "pawsx", "--out", out),
        "no-default-data-folder/pawsx/dev/en.tsv: TSV file not found",
    )  # the default folder
    assert not out.exists()
    (tmp_path / "a_file").write_text("x")
    assert_one_line_error(
        run(
            *base[:2],
            "--out",
            tmp_path / "a_file" / "c.jsonl",
            "--data-dir",
            data_dir,
            "--source",
            "pawsx",
            "--size",
            2,
        ),
        "Invalid value for '--out'",
        "a_file is a file, not a folder",
    )


def test_cli_build_parallel_bad_file_names_line(tmp_path):
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"src_lang": "en", "tgt_lang": "de"}])
    result = run(
        "data", "build-parallel", "--source", "file", "--file", bad, "--size", 1, "--out", tmp_path / "o.jsonl"
    )
    assert_one_line_error(result, f"{bad}:1: missing fields 'src_premise'")


def test_cli_default_languages_are_the_14_targets(data_dir, tmp_path):
    out = tmp_path / "c.jsonl"
    result = run("data", "build-parallel", "--source", "xnli-dev", "--size", 12, "--out", out, "--data-dir", data_dir)
    assert result.exit_code == 0
    assert {p.tgt_lang for p in read_parallel_jsonl(out)} <= set(TARGET_LANGUAGES)
    assert json.loads(out.read_text(encoding="utf-8").split("\n")[0])["src_lang"] == "en"


def test_cli_copy_of_data_dir_is_not_needed(tmp_path, data_dir):
    """build-parallel reads only what it needs: a folder with just tatoeba/ is enough for --source tatoeba."""
    shutil.copytree(data_dir / "tatoeba", tmp_path / "d" / "tatoeba")
    result = run(
        "data",
        "build-parallel",
        "--source",
        "tatoeba",
        "--size",
        3,
        "--out",
        tmp_path / "o.jsonl",
        "--data-dir",
        tmp_path / "d",
    )
    assert result.exit_code == 0, result.output


def test_data_stats_reports_pawsx_ns_rows_and_no_ns_text_reaches_a_run(tmp_path):
    """PAWS-X rows whose translation is the placeholder "NS" (as in the released dev/test files) are counted by
    `data stats`, not counted as rows, and never read by the task or the parallel corpus."""
    from xlprompt.config import RunConfig
    from xlprompt.data.parallel import build_parallel_corpus
    from xlprompt.run_data import load_run_data

    data = write_data_dir(tmp_path / "d", langs=("en", "de"), ks=(1,), n_dev=12, n_test=15)
    path = data / "pawsx" / "dev" / "de.tsv"
    lines = path.read_text("utf-8").split("\n")
    for i in (1, 3):  # sentence2 of one row, sentence1 of another, as in the release
        cells_ = lines[i].split("\t")
        cells_[3 if i == 1 else 2] = "NS"
        lines[i] = "\t".join(cells_)
    path.write_text("\n".join(lines), "utf-8")
    rows = data_stats(data)
    assert StatRow("pawsx", "dev", "de", "ns_placeholder", 2) in rows
    assert StatRow("pawsx", "dev", "de", "total", 6) in rows  # 8 rows in the file, 2 of them NS
    result = run("data", "stats", "--data-dir", data)
    assert result.exit_code == 0
    assert 'NS: rows holding the placeholder "NS"' in result.output
    pawsx = cells(result.output.split("PAWS-X (", 1)[1])
    de = next(line for line in pawsx if line[:1] == ["de"])
    assert (de[1], sum(map(int, de[2:5])), de[5], de[6], de[10]) == ("6", 6, "2", "8", "0")
    config = RunConfig(
        method="sp",
        shots=1,
        model="random:tiny",
        data_dir=str(data),
        task="pawsx",
        eval_split="dev",
        eval_languages="en,de",
    )
    run_data = load_run_data(config)
    texts = [t for exs in run_data.test.values() for ex in exs for t in (ex.premise, ex.hypothesis)]
    assert texts and "NS" not in texts and len(run_data.test["de"]) < 8
    pairs = build_parallel_corpus("pawsx", 14, seed=0, data_dir=data, target_languages=("de",))
    assert all("NS" not in (p.tgt_premise, p.tgt_hypothesis) for p in pairs)
    assert {p.uid for p in pairs} == {f"pawsx-{s}-{i}" for s, n in (("dev", 8), ("test", 8)) for i in range(n)} - {
        "pawsx-dev-0",
        "pawsx-dev-2",
    }


def test_every_registered_source_has_a_section_in_stats_and_a_row_in_the_docs(tmp_path):
    """``data stats`` and docs/data.md's source table cover every source of ``data fetch``, from its registry:
    a new source cannot be left out of either."""
    import re
    from pathlib import Path

    from xlprompt.data.fetch import default_sources

    names = list(default_sources())
    text = format_stats(data_stats(tmp_path))
    titles = re.findall(r"^\[([a-z0-9-]+)\] ", text, flags=re.M)
    assert titles == names  # in the registry's order, each once
    assert all(f"[{name}] " in text and "not found" in text.split(f"[{name}] ", 1)[1].split("\n")[0] for name in names)
    docs = (Path(__file__).resolve().parents[1] / "docs" / "data.md").read_text("utf-8")
    table = docs.split("## Sources", 1)[1].split("\n\n", 2)[1]
    documented = re.findall(r"^\|[^|]*\| `([a-z0-9-]+)`: ", table, flags=re.M)
    assert sorted(documented) == sorted(names)
    only = re.search(r"`--only` fetches some sources \(([^;]*);", docs).group(1)
    assert re.findall(r"`([a-z0-9-]+)`", only) == names
