"""Property-based tests (hypothesis) of the template builder and the data readers.

* Template builder: for any premise/hypothesis lengths (0..600), prompt position, prompt length (1..16) and
  max_length (24..300), whenever the template can be built, the encoded input is exactly the paper's layout
  (Eq. 1/9) with premise and hypothesis truncated longest-first, and the mask, the prompt slots and the
  punctuation always survive truncation.
* Data readers (``read_tsv``, ``read_jsonl``, ``load_xnli``, ``load_fewshot_split``, ``read_parallel_jsonl``):
  on a file of arbitrary bytes, or a valid file with random damage, they either load it or raise
  :class:`DataError` / :class:`ConfigError`, never another exception; and well-formed files (texts with
  ``\\x1c``, ``\\x1d``, ``\\u2028``, ``\\r`` and other odd characters included) load exactly.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from xlprompt.data.fewshot import load_fewshot_split
from xlprompt.data.parallel import read_parallel_jsonl
from xlprompt.data.tsv import read_jsonl, read_tsv
from xlprompt.data.xnli import REQUIRED_COLUMNS, load_xnli
from xlprompt.errors import ConfigError, DataError
from xlprompt.languages import LABELS
from xlprompt.template import PROMPT_POSITIONS, SpecialTokens, soft_prompt_template, tail_ids

FAST = settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])

# ----------------------------------------------------------------------------------------------- templates


def _reference_truncation(len_p: int, len_h: int, budget: int) -> tuple[int, int]:
    """Hugging Face's ``longest_first`` written as the obvious loop (one token at a time, from the longer
    sequence, the hypothesis on a tie): an independent reference for the template's closed form."""
    while len_p + len_h > budget:
        if len_p > len_h:
            len_p -= 1
        else:
            len_h -= 1
    return len_p, len_h


def _ids(n: int, seed: int, low: int, high: int) -> list[int]:
    """``n`` ordinary (non-special) token ids in ``[low, high)``, varied by ``seed``."""
    return [low + (seed + 7919 * i + (i * i) % 13) % (high - low) for i in range(n)]


@pytest.fixture(scope="module")
def template_tokenizers(request, tiny_tokenizer):
    """The builtin tokenizer, and the real XLM-R tokenizer where ../shared has it (conftest's fixtures)."""
    tokenizers = [tiny_tokenizer]
    try:
        tokenizers.append(request.getfixturevalue("xlmr_tokenizer"))
    except pytest.skip.Exception:
        pass
    out = []
    for tok in tokenizers:
        special = SpecialTokens.from_tokenizer(tok)
        specials = sorted(set(tok.all_special_ids))
        low = max(i for i in specials if i < 1000) + 1  # ordinary ids: between the low and the high specials
        high = min([i for i in specials if i >= low] + [len(tok)])
        out.append((tok, special, tail_ids(tok, "."), tail_ids(tok, "?"), low, high))
    return out


@FAST
@given(
    which=st.integers(0, 1),
    len_p=st.integers(0, 600),
    len_h=st.integers(0, 600),
    seed=st.integers(0, 10_000),
    position=st.sampled_from(PROMPT_POSITIONS),
    prompt_length=st.integers(1, 16),
    max_length=st.integers(24, 300),
)
def test_template_layout_survives_truncation(
    template_tokenizers, which, len_p, len_h, seed, position, prompt_length, max_length
):
    tok, special, dot, qmark, low, high = template_tokenizers[which % len(template_tokenizers)]
    try:
        template = soft_prompt_template(tok, position, prompt_length, max_length, special=special)
    except ConfigError as err:
        # Only allowed when the fixed pieces leave fewer than 2 tokens for the texts.
        fixed = len(special.prefix) + len(special.suffix) + prompt_length + 1 + 2 * len(dot) + len(qmark)
        assert max_length - fixed < 2, err
        assume(False)
    premise, hypothesis = _ids(len_p, seed, low, high), _ids(len_h, seed + 1, low, high)
    encoded = template.encode(premise, hypothesis)
    ids = list(encoded.input_ids)

    # The invariants of the template and the readers.
    assert len(ids) <= max_length
    assert ids.count(special.mask_id) == 1
    assert ids[encoded.mask_position] == special.mask_id
    assert len(encoded.prompt_positions) == prompt_length
    assert list(encoded.prompt_positions) == list(
        range(encoded.prompt_positions[0], encoded.prompt_positions[0] + prompt_length)
    )
    assert all(ids[i] == special.placeholder_id for i in encoded.prompt_positions)
    assert encoded.mask_position not in encoded.prompt_positions

    # The exact layout of Eq. 1/9, with a reference longest-first truncation.
    n_p, n_h = _reference_truncation(len_p, len_h, template.text_budget)
    if len_p + len_h > template.text_budget:
        assert n_p + n_h == template.text_budget
    slot = [special.placeholder_id] * prompt_length
    expected = (
        list(special.prefix)
        + (slot if position == "prefix" else [])
        + premise[:n_p]
        + list(dot)
        + (slot if position == "midfix" else [])
        + hypothesis[:n_h]
        + list(qmark)
        + (slot if position == "suffix" else [])
        + [special.mask_id]
        + (slot if position == "endfix" else [])
        + list(dot)
        + list(special.suffix)
    )
    assert ids == expected
    # Punctuation present, premise/hypothesis prefixes preserved (implied by the equality; spelled out).
    assert ids[: len(special.prefix)] == list(special.prefix)
    assert ids[len(ids) - len(special.suffix) :] == list(special.suffix)
    start_p = len(special.prefix) + (prompt_length if position == "prefix" else 0)
    assert ids[start_p : start_p + n_p] == premise[:n_p]
    assert ids[start_p + n_p : start_p + n_p + len(dot)] == list(dot)


@FAST
@given(prompt_length=st.integers(1, 16), max_length=st.integers(1, 40), position=st.sampled_from(PROMPT_POSITIONS))
def test_template_too_small_is_a_config_error(template_tokenizers, prompt_length, max_length, position):
    """A max_length that cannot hold the fixed pieces is a ConfigError naming max_length, never a crash."""
    tok, special = template_tokenizers[0][:2]
    try:
        template = soft_prompt_template(tok, position, prompt_length, max_length, special=special)
    except ConfigError as err:
        assert "max_length" in str(err)
        return
    assert template.text_budget >= 2
    assert len(template.encode([], []).input_ids) <= max_length


# ----------------------------------------------------------------------------------------------- data readers

ALLOWED = (DataError, ConfigError)
#: Characters that break naive readers: str.splitlines() separators, NUL, BOM, CR, combining marks.
ODD = "\x1c\x1d\x1e\x85\u2028\u2029\x0b\x0c\x00\ufeff\r\u0301\U0001f600\"'\\,;"


def _odd_text(min_size: int = 0):
    alphabet = st.one_of(st.sampled_from(ODD), st.characters(blacklist_characters="\t\n", blacklist_categories=("Cs",)))
    return st.text(alphabet, min_size=min_size, max_size=30)


_ROOT: list[Path] = []


@pytest.fixture(scope="module", autouse=True)
def _scratch_root():
    with tempfile.TemporaryDirectory(prefix="xlprompt-fuzz-") as tmp:
        _ROOT.append(Path(tmp))
        yield
        _ROOT.pop()


def _scratch() -> Path:
    """An empty scratch folder, reused by every example (hypothesis examples run one at a time)."""
    root = _ROOT[-1] / "work"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    return root


def _write(root: Path, relative: str, data: bytes) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _valid_xnli_bytes() -> bytes:
    lines = ["idx\tpremise\thypothesis\tlabel\tgenre"]
    lines += [f"{i}\tpremise {i} \x1c text\thypothesis {i}\x1d\t{LABELS[i % 3]}\tfiction" for i in range(6)]
    return ("\n".join(lines) + "\n").encode()


def _valid_fewshot_bytes() -> bytes:
    rows = [
        {"lang": "en", "sentence1": f"p {c}", "sentence2": f"h {c}", "gold": LABELS[c], "file_idx": c} for c in range(3)
    ]
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def _valid_parallel_bytes() -> bytes:
    rows = [
        {
            "src_lang": "en",
            "tgt_lang": lang,
            "src_premise": "p",
            "src_hypothesis": "h",
            "tgt_premise": "q",
            "tgt_hypothesis": "i",
            "uid": f"u{i}",
        }
        for i, lang in enumerate(("de", "fr"))
    ]
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()


def _run_all_readers(data: bytes) -> None:
    """Feed ``data`` to every reader; each must load it or raise DataError/ConfigError."""
    root = _scratch()
    xnli = _write(root, "xnli/test/en.tsv", data)
    _write(root, "xnli-fewshot/train/en/train_split,1.jsonl", data)
    parallel = _write(root, "parallel.jsonl", data)
    calls = [
        lambda: read_tsv(xnli, REQUIRED_COLUMNS),
        lambda: read_tsv(xnli),
        lambda: read_jsonl(parallel),
        lambda: read_jsonl(parallel, ("src_lang", "tgt_lang")),
        lambda: load_xnli("test", "en", root),
        lambda: load_fewshot_split("train", 1, "en", root),
        lambda: read_parallel_jsonl(parallel, expected_languages=("de", "fr")),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the few-shot loader warns about empty texts; not a failure
        for call in calls:
            try:
                result = call()
            except ALLOWED as err:
                assert str(err) and "\n" not in str(err), repr(str(err))  # one line
                continue
            assert isinstance(result, list)


@settings(deadline=None, max_examples=100)
@given(data=st.binary(max_size=400))
def test_readers_on_arbitrary_bytes(data):
    _run_all_readers(data)


@st.composite
def _damaged(draw):
    """A valid file with random damage: byte flips, cuts, insertions of odd bytes."""
    data = bytearray(draw(st.sampled_from([_valid_xnli_bytes(), _valid_fewshot_bytes(), _valid_parallel_bytes()])))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[at:]
        elif op == "insert":
            data[at:at] = draw(
                st.sampled_from(
                    [
                        b"\t",
                        b"\n",
                        b"\r",
                        b"\xff",
                        b"\xc3",
                        b"\x1c",
                        b"\x00",
                        b"{",
                        b'"',
                        b"\xef\xbb\xbf",
                        b"\xe2\x80\xa8",
                        b"3",
                        b"-1",
                    ]
                )
            )
        elif data:
            del data[at]
    return bytes(data)


@settings(deadline=None, max_examples=100)
@given(data=_damaged())
def test_readers_on_damaged_valid_files(data):
    _run_all_readers(data)


@FAST
@given(
    extra=st.sampled_from([[], ["genre"], ["zzz", "genre"]]),
    rows=st.lists(
        st.tuples(_odd_text(1), _odd_text(1), st.sampled_from(LABELS + ("0", "1", "2"))), min_size=1, max_size=8
    ),
    crlf=st.booleans(),
)
def test_xnli_well_formed_files_load_exactly(extra, rows, crlf):
    """Texts with \\x1c, \\x1d, \\u2028, \\r and the like load verbatim; extra columns are ignored."""
    assume(all(p.strip() and h.strip() for p, h, _ in rows))
    assume(all(not p.startswith("\ufeff") for p, _, _ in rows))
    header = ["idx", "premise", "hypothesis", "label", *extra]
    end = "\r\n" if crlf else "\n"
    lines = ["\t".join(header)]
    for i, (premise, hypothesis, label) in enumerate(rows):
        lines.append("\t".join([str(10 * i), premise, hypothesis, label] + ["x"] * len(extra)))
    root = _scratch()
    _write(root, "xnli/test/en.tsv", (end.join(lines) + end).encode("utf-8"))
    examples = load_xnli("test", "en", root)
    assert [(e.premise, e.hypothesis) for e in examples] == [(p, h) for p, h, _ in rows]
    assert [e.label for e in examples] == [LABELS.index(lab) if lab in LABELS else int(lab) for _, _, lab in rows]
    assert [e.uid for e in examples] == [f"xnli-test-{10 * i}" for i in range(len(rows))]


@FAST
@given(rows=st.lists(st.lists(_odd_text(), min_size=3, max_size=3), min_size=0, max_size=6))
def test_tsv_round_trip(rows):
    """read_tsv returns every field verbatim (no stripping, no splitting on \\x1c/\\x1d/\\u2028)."""
    assume(all(not row[-1].endswith("\r") for row in rows))  # a \r before \n is a Windows line end
    assume(all("\t".join(row) != "" for row in rows))
    text = "a\tb\tc\n" + "".join("\t".join(row) + "\n" for row in rows)
    path = _write(_scratch(), "f.tsv", text.encode("utf-8"))
    loaded = read_tsv(path, ("a", "b", "c"))
    assert [[r["a"], r["b"], r["c"]] for r in loaded] == rows
    assert [r.line for r in loaded] == list(range(2, len(rows) + 2))


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _odd_text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_odd_text(), children, max_size=3),
    max_leaves=8,
)


@settings(deadline=None, max_examples=60)
@given(rows=st.lists(st.dictionaries(_odd_text(), _json_values, max_size=4), max_size=5), ascii_only=st.booleans())
def test_jsonl_round_trip(rows, ascii_only):
    text = "".join(json.dumps(r, ensure_ascii=ascii_only) + "\n" for r in rows)
    path = _write(_scratch(), "f.jsonl", text.encode("utf-8"))
    assert [dict(r) for r in read_jsonl(path)] == rows
