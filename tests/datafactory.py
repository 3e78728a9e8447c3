"""Tiny synthetic data folders in the layout of ``../shared/data``, for tests.

Import it from a test module (pytest puts ``tests/`` on ``sys.path``)::

    from datafactory import write_data_dir
    data_dir = write_data_dir(tmp_path)          # every source, all 15 languages

Every text names its language, split and index (``[de] dev premise 3``), so a test can check
alignment, and all texts are distinct (no accidental duplicates). Labels depend only on the
index (``LABELS[idx % 3]``), the same in every language, as in XNLI. Options add the characters
that break naive readers (``\\x1c``/``\\x1d`` inside texts).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from xlprompt.data.examples import NLIExample
from xlprompt.languages import LABELS, TARGET_LANGUAGES, XNLI_LANGUAGES

PAWSX_LANGS: tuple[str, ...] = ("en", "de", "es", "fr", "ja", "ko", "zh")
XNLI_HEADER: tuple[str, ...] = ("idx", "premise", "hypothesis", "label", "genre")
PAWSX_HEADER: tuple[str, ...] = ("idx", "id", "sentence1", "sentence2", "label")
#: the run settings of the fast end-to-end tests (a tiny random model on the demo data, one epoch, one thread, the
#: CPU); a test file takes it with its own changes: ``FAST = {**FAST_RUN, "eval_languages": "en,de"}``
FAST_RUN: dict = {
    "model": "random:tiny",
    "data_dir": "builtin:demo",
    "epochs": 1,
    "max_length": 64,
    "batch_size": 6,
    "eval_batch_size": 32,
    "eval_languages": "en",
    "num_threads": 1,
    "device": "cpu",
    "shots": 1,
}
#: uid of the XNLI dev/test row that holds a ``\x1c`` / ``\x1d`` when ``odd_chars`` is on.
ODD_DEV_IDX, ODD_TEST_IDX = 1, 2


def write_tsv(path: str | Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Path:
    """Write a headed TSV exactly as the shared data are written: ``\\t``/``\\n``, no quoting."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["\t".join(header)] + ["\t".join(str(v) for v in row) for row in rows]
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    return path


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> Path:
    """Write one JSON object per line (UTF-8, non-ASCII kept)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def xnli_texts(lang: str, split: str, idx: int, odd_chars: bool = False) -> tuple[str, str]:
    """The premise and hypothesis of row ``idx`` (with ``\\x1c``/``\\x1d`` in the odd rows)."""
    premise = f"[{lang}] {split} premise {idx}"
    hypothesis = f"[{lang}] {split} hypothesis {idx}"
    if odd_chars and split == "dev" and idx == ODD_DEV_IDX:
        premise = f"[{lang}] {split} premise\x1c{idx}"
    if odd_chars and split == "test" and idx == ODD_TEST_IDX:
        hypothesis = f"[{lang}] {split} hypothesis\x1d{idx}"
    return premise, hypothesis


def write_xnli(
    root: str | Path,
    langs: Iterable[str] = XNLI_LANGUAGES,
    n_dev: int = 12,
    n_test: int = 15,
    odd_chars: bool = True,
) -> Path:
    """``root/xnli/{dev,test}/{lang}.tsv``: ``n_dev``/``n_test`` rows, label ``LABELS[idx % 3]``."""
    root = Path(root)
    for split, n in (("dev", n_dev), ("test", n_test)):
        for lang in langs:
            rows = []
            for idx in range(n):
                premise, hypothesis = xnli_texts(lang, split, idx, odd_chars)
                rows.append((idx, premise, hypothesis, LABELS[idx % 3], "fiction"))
            write_tsv(root / "xnli" / split / f"{lang}.tsv", XNLI_HEADER, rows)
    return root


def fewshot_rows(split: str, k: int, lang: str) -> list[dict]:
    """The ``3 * k`` rows of a fixed few-shot file (``k`` per class, classes interleaved)."""
    rows = []
    for j in range(3 * k):
        row = {
            "lang": lang,
            "sentence1": f"[{lang}] {split} k{k} premise {j}",
            "sentence2": f"[{lang}] {split} k{k} hypothesis {j}",
            "gold": LABELS[j % 3],
        }
        if split == "train":
            row["file_idx"] = 1000 * k + j
        else:
            row["pairID"] = str(500 * k + j)
        rows.append(row)
    return rows


def write_fewshot(root: str | Path, langs: Iterable[str] = XNLI_LANGUAGES, ks: Iterable[int] = (1, 2, 4)) -> Path:
    """``root/xnli-fewshot/{train,dev}/{en,rest}/...jsonl`` for each ``k`` in ``ks``."""
    root = Path(root)
    for split in ("train", "dev"):
        for k in ks:
            for lang in langs:
                name = f"{split}_split,{k}.jsonl" if lang == "en" else f"{split}_split,{lang},{k}.jsonl"
                folder = "en" if lang == "en" else "rest"
                write_jsonl(root / "xnli-fewshot" / split / folder / name, fewshot_rows(split, k, lang))
    return root


def write_pawsx(
    root: str | Path,
    langs: Iterable[str] = PAWSX_LANGS,
    n_dev: int = 8,
    n_test: int = 8,
    odd_chars: bool = True,
    n_train: int = 16,
) -> Path:
    """``root/pawsx/{dev,test}/{lang}.tsv``; test labels empty except for de, as in PAWS-X; and, with ``en``
    among ``langs``, the English train set ``pawsx/train/en.tsv`` (``n_train`` rows; 0: none)."""
    root = Path(root)
    langs = tuple(langs)
    if "en" in langs and n_train:
        write_tsv(
            root / "pawsx" / "train" / "en.tsv",
            PAWSX_HEADER,
            [(i, 9000 + i, f"[en] pawsx train s1 {i}", f"[en] pawsx train s2 {i}", str(i % 2)) for i in range(n_train)],
        )
    for split, n in (("dev", n_dev), ("test", n_test)):
        for lang in langs:
            rows = []
            for idx in range(n):
                s1 = f"[{lang}] pawsx {split} s1 {idx}"
                if odd_chars and lang == "ko" and split == "dev" and idx == 0:
                    s1 = f"[{lang}] pawsx {split} s1\x1c{idx}"
                label = str(idx % 2) if split == "dev" or lang == "de" else ""
                rows.append((idx, 100 + idx, s1, f"[{lang}] pawsx {split} s2 {idx}", label))
            write_tsv(root / "pawsx" / split / f"{lang}.tsv", PAWSX_HEADER, rows)
    return root


def write_tatoeba(root: str | Path, langs: Iterable[str] = TARGET_LANGUAGES, n_rows: int | dict[str, int] = 12) -> Path:
    """``root/tatoeba/{xx}-en.tsv`` with ``n_rows`` rows (an int, or a per-language dict)."""
    root = Path(root)
    for lang in langs:
        n = n_rows[lang] if isinstance(n_rows, dict) else n_rows
        rows = [(i, f"[{lang}] tatoeba {i}", f"[en] tatoeba {lang} {i}") for i in range(n)]
        write_tsv(root / "tatoeba" / f"{lang}-en.tsv", ("idx", lang, "en"), rows)
    return root


def write_data_dir(
    root: str | Path,
    langs: Iterable[str] = XNLI_LANGUAGES,
    n_dev: int = 12,
    n_test: int = 15,
    ks: Iterable[int] = (1, 2, 4),
    odd_chars: bool = True,
) -> Path:
    """A complete mini data folder: XNLI, few-shot splits, PAWS-X and Tatoeba. Returns ``root``.

    PAWS-X gets the PAWS-X languages among ``langs`` (plus en, ja, ko); Tatoeba the non-English ones.
    """
    langs = tuple(langs)
    root = Path(root)
    write_xnli(root, langs, n_dev, n_test, odd_chars)
    write_fewshot(root, langs, ks)
    write_pawsx(
        root, tuple(lang for lang in PAWSX_LANGS if lang in langs or lang in ("en", "ja", "ko")), odd_chars=odd_chars
    )
    write_tatoeba(root, tuple(lang for lang in langs if lang != "en"))
    return root


def make_pool(n_per_class: int, lang: str = "en", prefix: str = "pool") -> list[NLIExample]:
    """A labelled pool with ``n_per_class`` distinct examples per class; uids ``{prefix}-{i}``."""
    return [
        NLIExample(f"{prefix} premise {i}", f"{prefix} hypothesis {i}", i % 3, lang, f"{prefix}-{i}")
        for i in range(3 * n_per_class)
    ]


def write_leaky_task(
    folder: str | Path, train_texts: Sequence[str], variant: Callable[[str], str], source: str
) -> Path:
    """A two-language user task (en, de; ``source`` trains) whose German test rows are its train rows written by
    ``variant`` (a spelling the leak guard must see through); English tests on another text. Returns its YAML."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    labels = ("negative", "positive")
    write_tsv(folder / "train.tsv", ("text", "label"), ((t, labels[i % 2]) for i, t in enumerate(train_texts)))
    write_tsv(
        folder / "test.de.tsv", ("text", "label"), ((variant(t), labels[i % 2]) for i, t in enumerate(train_texts))
    )
    write_tsv(folder / "test.en.tsv", ("text", "label"), [("something else entirely", "positive")])
    (folder / "task.yaml").write_text(
        f"""name: leaky
text_fields: [text]
labels: [negative, positive]
label_words: ["no", "yes"]
languages: [en, de]
source_language: {source}
splits:
  train: {{{source}: train.tsv}}
  test: {{en: test.en.tsv, de: test.de.tsv}}
""",
        "utf-8",
    )
    return folder / "task.yaml"
