"""The TSV/JSONL readers and the XNLI loader: correct loads and one-line errors that name file:line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from datafactory import (
    ODD_DEV_IDX,
    ODD_TEST_IDX,
    XNLI_HEADER,
    write_data_dir,
    write_tsv,
    write_xnli,
    xnli_texts,
)

from xlprompt.data import load_xnli, read_jsonl, read_tsv
from xlprompt.data.tsv import Row
from xlprompt.errors import ConfigError, DataError
from xlprompt.languages import LABELS, XNLI_LANGUAGES

HEADER = ("idx", "premise", "hypothesis", "label", "genre")
REQUIRED = ("idx", "premise", "hypothesis", "label")


def write_bytes(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def data_error(func, *args, **kwargs) -> DataError:
    with pytest.raises(DataError) as info:
        func(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message, "error messages are one line"
    return info.value


# -- read_tsv ---------------------------------------------------------------------------------------


def test_read_tsv_keeps_control_characters_inside_fields(tmp_path):
    text = "idx\tpremise\thypothesis\tlabel\tgenre\n0\ta\x1cb\tc\x1dd\u2028e\tneutral\tx\n1\tf\tg\tentailment\ty\n"
    path = write_bytes(tmp_path / "t.tsv", text.encode("utf-8"))
    rows = read_tsv(path, REQUIRED)
    assert len(rows) == 2
    assert rows[0]["premise"] == "a\x1cb"
    assert rows[0]["hypothesis"] == "c\x1dd\u2028e"
    assert rows[1] == {"idx": "1", "premise": "f", "hypothesis": "g", "label": "entailment", "genre": "y"}
    assert (rows[0].line, rows[1].line) == (2, 3)
    assert rows[0].path == str(path)


def test_read_tsv_crlf_bom_extra_columns_and_any_column_order(tmp_path):
    data = "\ufeffextra\tlabel\tidx\tpremise\thypothesis\r\nE\tneutral\t0\tp\r\tq\r\n".encode("utf-8")
    rows = read_tsv(write_bytes(tmp_path / "t.tsv", data), REQUIRED)
    # the \r inside a field is text; only the one at the line end is dropped
    assert rows == [{"extra": "E", "label": "neutral", "idx": "0", "premise": "p\r", "hypothesis": "q"}]


def test_read_tsv_header_only_gives_no_rows_and_trailing_blank_lines_are_ignored(tmp_path):
    assert read_tsv(write_bytes(tmp_path / "h.tsv", b"idx\tpremise\n"), ("idx",)) == []
    rows = read_tsv(write_bytes(tmp_path / "b.tsv", b"idx\tpremise\n0\tp\n\n\n"), ("idx",))
    assert [r["premise"] for r in rows] == ["p"]


def test_read_tsv_missing_file(tmp_path):
    err = data_error(read_tsv, tmp_path / "nope" / "de.tsv", REQUIRED)
    assert str(tmp_path / "nope" / "de.tsv") in str(err)
    assert "not found" in str(err) and "--data-dir" in str(err)


def test_read_tsv_directory_instead_of_file(tmp_path):
    err = data_error(read_tsv, tmp_path, REQUIRED)
    assert "directory" in str(err)


@pytest.mark.parametrize("content", [b"", b"\n"])
def test_read_tsv_empty_file(tmp_path, content):
    path = write_bytes(tmp_path / "empty.tsv", content)
    err = data_error(read_tsv, path, REQUIRED)
    assert str(err).startswith(f"{path}:1: ")
    assert "empty" in str(err) and "idx, premise, hypothesis, label" in str(err)


def test_read_tsv_missing_required_column_names_it_and_the_header(tmp_path):
    path = write_tsv(tmp_path / "x.tsv", ("idx", "premise", "hypothesis"), [(0, "p", "h")])
    err = data_error(read_tsv, path, REQUIRED)
    assert str(err).startswith(f"{path}:1: ")
    assert "'label'" in str(err)
    assert "header found: idx, premise, hypothesis" in str(err)
    assert (err.path, err.line) == (str(path), 1)


def test_read_tsv_csv_header_gets_a_hint(tmp_path):
    path = write_bytes(tmp_path / "x.tsv", b"idx,premise,hypothesis,label\n0,p,h,neutral\n")
    assert "CSV" in str(data_error(read_tsv, path, REQUIRED))


def test_read_tsv_duplicate_or_empty_column_name(tmp_path):
    dup = write_bytes(tmp_path / "d.tsv", b"idx\tlabel\tlabel\n")
    assert "'label' twice" in str(data_error(read_tsv, dup, ("idx",)))
    empty = write_bytes(tmp_path / "e.tsv", b"idx\t\tlabel\n")
    assert "column 2 has an empty name" in str(data_error(read_tsv, empty, ("idx",)))


def test_read_tsv_wrong_number_of_fields_names_line_and_counts(tmp_path):
    data = b"idx\tpremise\thypothesis\tlabel\tgenre\n0\tp\th\tneutral\tg\n1\tp\th\tneutral\n2\tp\th\tneutral\tg\n"
    path = write_bytes(tmp_path / "x.tsv", data)
    err = data_error(read_tsv, path, REQUIRED)
    assert str(err).startswith(f"{path}:3: ")
    assert "line has 4 tab-separated fields, expected 5" in str(err)
    assert err.line == 3


def test_read_tsv_tab_inside_a_text(tmp_path):
    path = write_bytes(tmp_path / "x.tsv", b"idx\tpremise\n0\tp\tq\n")
    err = data_error(read_tsv, path, ("idx",))
    assert str(err).startswith(f"{path}:2: ") and "3 tab-separated fields, expected 2" in str(err)
    assert "tab character" in str(err)


def test_read_tsv_truncated_last_line(tmp_path):
    path = write_bytes(tmp_path / "x.tsv", b"idx\tpremise\thypothesis\n0\tp\th\n1\tp")
    err = data_error(read_tsv, path, ("idx",))
    assert str(err).startswith(f"{path}:3: ")
    assert "truncated" in str(err)


def test_read_tsv_empty_line_inside_the_file(tmp_path):
    path = write_bytes(tmp_path / "x.tsv", b"idx\tpremise\n0\tp\n\n1\tq\n")
    err = data_error(read_tsv, path, ("idx",))
    assert str(err).startswith(f"{path}:3: ") and "empty line" in str(err)


def test_read_tsv_invalid_utf8_names_line_and_byte_offset(tmp_path):
    data = b"idx\tpremise\n0\tok\n1\tbad \xff here\n"
    path = write_bytes(tmp_path / "x.tsv", data)
    offset = data.index(b"\xff")
    err = data_error(read_tsv, path, ("idx",))
    assert str(err).startswith(f"{path}:3: ")
    assert f"byte offset {offset} of the file" in str(err)
    assert "0xff" in str(err) and "UTF-8" in str(err)


def test_row_pickles_with_its_location(tmp_path):
    import pickle

    row = Row({"a": "1"}, "f.tsv", 7)
    copy = pickle.loads(pickle.dumps(row))
    assert copy == {"a": "1"} and (copy.path, copy.line) == ("f.tsv", 7)


# -- read_jsonl -------------------------------------------------------------------------------------


def test_read_jsonl_loads_objects_and_skips_blank_lines(tmp_path):
    path = write_bytes(tmp_path / "x.jsonl", b'{"a": 1, "b": "x\\u001cy"}\n\n{"a": 2, "b": "z"}\n')
    rows = read_jsonl(path, ("a", "b"))
    assert [(r["a"], r["b"], r.line) for r in rows] == [(1, "x\x1cy", 1), (2, "z", 3)]


def test_read_jsonl_bad_json(tmp_path):
    path = write_bytes(tmp_path / "x.jsonl", b'{"a": 1}\n{"a": 2,, }\n')
    err = data_error(read_jsonl, path, ("a",))
    assert str(err).startswith(f"{path}:2: ") and "invalid JSON" in str(err)


def test_read_jsonl_missing_field_names_it(tmp_path):
    path = write_bytes(tmp_path / "x.jsonl", b'{"a": 1, "b": 2}\n{"a": 1}\n')
    err = data_error(read_jsonl, path, ("a", "b"))
    assert str(err).startswith(f"{path}:2: ")
    assert "missing field 'b'" in str(err) and "fields found: a" in str(err)


@pytest.mark.parametrize("line, kind", [(b"[1, 2]", "JSON array"), (b'"text"', "JSON string"), (b"3", "JSON number")])
def test_read_jsonl_non_object_line(tmp_path, line, kind):
    path = write_bytes(tmp_path / "x.jsonl", b'{"a": 1}\n' + line + b"\n")
    err = data_error(read_jsonl, path, ("a",))
    assert str(err).startswith(f"{path}:2: ") and kind in str(err)


def test_read_jsonl_invalid_utf8(tmp_path):
    path = write_bytes(tmp_path / "x.jsonl", b'{"a": "ok"}\n{"a": "\xc3("}\n')
    err = data_error(read_jsonl, path, ("a",))
    assert str(err).startswith(f"{path}:2: ") and "byte offset 19 of the file, byte 8 of the line" in str(err)


# -- load_xnli (local) ------------------------------------------------------------------------------


def test_load_xnli_all_languages_aligned_by_idx(tmp_path):
    write_data_dir(tmp_path, n_dev=12, n_test=15)
    english = load_xnli("dev", "en", tmp_path)
    assert len(english) == 12
    assert [e.uid for e in english] == [f"xnli-dev-{i}" for i in range(12)]
    assert [e.label for e in english] == [i % 3 for i in range(12)]
    for lang in XNLI_LANGUAGES:
        for split, n in (("dev", 12), ("test", 15)):
            examples = load_xnli(split, lang, tmp_path)
            assert len(examples) == n
            assert all(e.lang == lang for e in examples)
            assert [e.uid for e in examples] == [f"xnli-{split}-{i}" for i in range(n)]
            assert [e.label for e in examples] == [i % 3 for i in range(n)]
            assert examples[3].premise == f"[{lang}] {split} premise 3"


def test_load_xnli_keeps_x1c_and_x1d_in_texts(tmp_path):
    write_xnli(tmp_path, ["el"], n_dev=4, n_test=5, odd_chars=True)
    dev = load_xnli("dev", "el", tmp_path)
    test = load_xnli("test", "el", tmp_path)
    assert (len(dev), len(test)) == (4, 5)
    assert dev[ODD_DEV_IDX].premise == xnli_texts("el", "dev", ODD_DEV_IDX, True)[0]
    assert "\x1c" in dev[ODD_DEV_IDX].premise
    assert test[ODD_TEST_IDX].hypothesis == "[el] test hypothesis\x1d2"
    assert test[ODD_TEST_IDX].label == LABELS.index("contradiction")


def test_load_xnli_validation_alias_limit_and_idx_order(tmp_path):
    rows = [(idx, f"p{idx}", f"h{idx}", LABELS[idx % 3], "g") for idx in (2, 0, 3, 1)]
    write_tsv(tmp_path / "xnli" / "dev" / "de.tsv", HEADER, rows)
    examples = load_xnli("validation", "de", tmp_path, limit=2)
    assert [(e.uid, e.premise, e.label) for e in examples] == [("xnli-dev-0", "p0", 0), ("xnli-dev-1", "p1", 1)]
    assert len(load_xnli("dev", "de", tmp_path)) == 4


def test_load_xnli_numeric_labels_are_accepted(tmp_path):
    write_tsv(tmp_path / "xnli" / "test" / "fr.tsv", REQUIRED, [(0, "p", "h", "2"), (1, "p", "h", "0")])
    assert [e.label for e in load_xnli("test", "fr", tmp_path)] == [2, 0]


def test_load_xnli_unknown_label(tmp_path):
    path = write_tsv(
        tmp_path / "xnli" / "dev" / "en.tsv",
        HEADER,
        [(0, "p", "h", "neutral", "g"), (1, "p", "h", "contradicton", "g")],
    )
    err = data_error(load_xnli, "dev", "en", tmp_path)
    assert str(err).startswith(f"{path}:3: ")
    assert "'contradicton'" in str(err) and "entailment, neutral, contradiction" in str(err)


def test_load_xnli_duplicate_idx(tmp_path):
    path = write_tsv(
        tmp_path / "xnli" / "dev" / "en.tsv",
        HEADER,
        [(0, "p", "h", "neutral", "g"), (1, "p", "h", "neutral", "g"), (0, "q", "r", "neutral", "g")],
    )
    err = data_error(load_xnli, "dev", "en", tmp_path)
    assert str(err).startswith(f"{path}:4: ")
    assert "idx 0 occurs twice (first on line 2)" in str(err)


@pytest.mark.parametrize("bad_idx", ["-1", "1.0", "x", ""])
def test_load_xnli_bad_idx(tmp_path, bad_idx):
    path = write_tsv(tmp_path / "xnli" / "dev" / "en.tsv", HEADER, [(bad_idx, "p", "h", "neutral", "g")])
    err = data_error(load_xnli, "dev", "en", tmp_path)
    assert str(err).startswith(f"{path}:2: ") and "idx must be a non-negative integer" in str(err)


def test_load_xnli_empty_text(tmp_path):
    rows = [(0, "p", "h", "neutral", "g"), (1, " ", "h", "neutral", "g")]
    path = write_tsv(tmp_path / "xnli" / "dev" / "en.tsv", HEADER, rows)
    err = data_error(load_xnli, "dev", "en", tmp_path)
    assert str(err).startswith(f"{path}:3: ") and "premise is empty" in str(err)


def test_load_xnli_file_without_rows(tmp_path):
    path = write_tsv(tmp_path / "xnli" / "dev" / "en.tsv", HEADER, [])
    err = data_error(load_xnli, "dev", "en", tmp_path)
    assert str(path) in str(err) and "no rows" in str(err)


def test_load_xnli_missing_language_file(tmp_path):
    write_xnli(tmp_path, ["en"], n_dev=3, n_test=3)
    err = data_error(load_xnli, "test", "sw", tmp_path)
    assert str(tmp_path / "xnli" / "test" / "sw.tsv") in str(err) and "not found" in str(err)


def test_load_xnli_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown language code 'xx'"):
        load_xnli("dev", "xx", tmp_path)
    with pytest.raises(ConfigError, match="Did you mean 'de'"):
        load_xnli("dev", "DE", tmp_path)
    with pytest.raises(ConfigError, match="unknown XNLI split 'train'.*dev.*test"):
        load_xnli("train", "en", tmp_path)
    for limit in (0, -3, 2.5, True):
        with pytest.raises(ConfigError, match="limit"):
            load_xnli("dev", "en", tmp_path, limit=limit)


# -- load_xnli without data_dir: the default data folder, never the hub ---------------------


def test_load_xnli_without_data_dir_reads_the_default_folder(tmp_path, monkeypatch):
    folder = tmp_path / "home"
    write_tsv(
        folder / "xnli" / "dev" / "fr.tsv",
        XNLI_HEADER,
        [(0, "p0", "h0", "contradiction", "g"), (1, "p1", "h1", "entailment", "g")],
    )
    monkeypatch.setenv("XLPROMPT_DATA", str(folder))
    examples = load_xnli("dev", "fr", limit=2)
    assert [(e.premise, e.label, e.lang, e.uid) for e in examples] == [
        ("p0", 2, "fr", "xnli-dev-0"),
        ("p1", 0, "fr", "xnli-dev-1"),
    ]
    err = data_error(load_xnli, "test", "de")  # absent: names the file in that folder, not the hub
    assert str(err).startswith(f"{folder / 'xnli' / 'test' / 'de.tsv'}: TSV file not found")
    assert "xlprompt data fetch" in str(err)


def test_load_xnli_never_imports_datasets(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # importing it would raise ImportError
    monkeypatch.setenv("XLPROMPT_DATA", str(tmp_path))
    with pytest.raises(DataError, match="TSV file not found"):
        load_xnli("dev", "sw")
