"""PAWS-X (Yang et al., 2019): paraphrase identification, 2 labels, 7 languages (en de es fr ja ko zh).

Labels: 0 = ``not_paraphrase``, 1 = ``paraphrase`` (the PAWS-X files' 0/1).

Label words, English for every language (SP/MPT use one English verbalizer, as for XNLI): ``no``, ``yes``:
DAMO-NLP-SG/DPA@6c57272 prompt_helper.py ``_setup_global_verbalizers``, branch ``dataset == "paws-x"``
(``"en": {"no": 0, "yes": 1}``), and qikunxun/PCT@4b3d675 train_pawsx.py:46 (``label_map = {'1': 63736,
'0': 157}``, the XLM-R pieces ``yes``/``no``). Per language (DPA's multilingual verbalizer, same place): de
Nein/Ja, es no/sí, fr non/Oui, zh 否/是, ja ない/はい, ko 아니/예. Template: DPA feeds PAWS-X through the same
cloze template as XNLI (prompt_helper.py ``convert_examples_to_prmopts``: ``"{} {} {} {} ."`` for both
datasets), so SP/MPT use the paper's soft template (Eq. 1) unchanged with sentence1/sentence2 in the premise/
hypothesis slots. What PCT, DP and DPA need for PAWS-X is theirs, keyed by task in their recipe modules
(:mod:`xlprompt.methods.pct.recipe`, :mod:`xlprompt.methods.discrete_prompt.recipe`,
:mod:`xlprompt.methods.dpa.recipe`). PCT runs PAWS-X with the authors' PAWS-X templates (train_pawsx.py:47-52, e.g.
``Question:{} paraphrase or not? Answer:<mask>``, ``pct_layout=reference`` only), their ``<mask>`` repair
(train_pawsx.py:75-80), their second-template languages fr es de ja ko zh (l. 53) and label ids 157/63736
(l. 46); its training recipe stays the XNLI few-shot one of :mod:`xlprompt.methods.pct`. DPA runs PAWS-X with
its own PAWS-X label-word table (its multilingual CE and test-time words) and its
XNLI recipe (dpa-pawsx.sh is not read here). DP runs PAWS-X with xlprompt's choice of pattern (no reference
has one): xlmrprompt's XNLI pattern 0 ``X_1 . Question: X_2 ? Answer: <mask> .`` and the words no/yes.

Splits (:func:`load_pawsx_data`), from ``<data folder>/pawsx/``:

* with ``pawsx/train/en.tsv`` (``xlprompt data fetch --only pawsx``): English few-shot train and dev are
  sampled (k per class, seeded by ``seed`` and ``seed + 10000``) from the English train set; evaluation on
  ``eval_split`` (test by default);
* with only the dev and test files (``../shared/data/pawsx``: test labels exist only for de), train and dev
  are sampled from English **dev** and evaluation is on **dev**.

PAWS-X is parallel by ``idx`` across the 7 languages (within a split), so every evaluation row, in every
language, whose ``idx`` is that of a training or dev row is dropped (:func:`exclude_shared_ids`), and
:func:`check_no_shared_ids` refuses any that remain. MPT's parallel corpus defaults to Tatoeba (de es fr zh
have Tatoeba files; ja and ko have none, so their prompt is the shared ``p_T`` trained on the others);
``parallel_source=pawsx`` is refused (its pairs are the evaluation rows).
"""

from __future__ import annotations

from pathlib import Path

from xlprompt.data.examples import NLIExample
from xlprompt.errors import DataError
from xlprompt.tasks.base import Task, TaskSplits, register

PAWSX_LANGUAGES: tuple[str, ...] = ("en", "de", "es", "fr", "ja", "ko", "zh")
PAWSX_LABELS: tuple[str, ...] = ("not_paraphrase", "paraphrase")


def load_pawsx_splits(task: Task, config, root: Path) -> TaskSplits:
    """Few-shot train/dev and the evaluated split per language for ``task=pawsx`` (see the module's text)."""
    train, dev, test, split, notes = load_pawsx_data(config, root)
    return TaskSplits(train, dev, test, split, notes)


def pawsx_required_files(task: Task, config, folder: Path) -> list[tuple[str, str]]:
    """Without ``pawsx/train/en.tsv``, train/dev are sampled from dev and dev is evaluated."""
    split = config.eval_split if (Path(folder) / "pawsx/train/en.tsv").is_file() else "dev"
    return [("pawsx/dev/en.tsv", "pawsx")] + [(f"pawsx/{split}/{lang}.tsv", "pawsx") for lang in config.languages()]


def pawsx_translations(task: Task, config, root: Path, split: str, languages) -> dict[str, list]:
    """``split`` in each of ``languages`` whose file is in the data folder (the leak guard's view: the uid
    ``pawsx-{split}-{idx}`` is the same pair in all 7)."""
    return {
        lang: read_pawsx(root, split, lang, labelled=False)
        for lang in languages
        if pawsx_file(root, split, lang).is_file()
    }


PAWSX = register(
    Task(
        name="pawsx",
        labels=PAWSX_LABELS,
        languages=PAWSX_LANGUAGES,
        label_words=("no", "yes"),
        text_fields=("sentence1", "sentence2"),
        source_language="en",
        tiny_label_words=("no", "yes"),
        parallel_default="tatoeba",
        parallel_refused={"pawsx": "its pairs are PAWS-X dev/test rows, the evaluation data of task pawsx"},
        origin="built-in: xlprompt.tasks.pawsx",
        load_splits=load_pawsx_splits,
        required_files=pawsx_required_files,
        average_languages=PAWSX_LANGUAGES,
        average_source="every one of the 7 PAWS-X languages, English included (xlprompt's reading: the PAWS-X "
        "paper's per-language table was not checked against an average of its own)",
        eval_split_help="PAWS-X test (2000 pairs per language) when pawsx/train/en.tsv is there, else dev (train and dev are then sampled from English dev, and evaluation is on dev); rows sharing an idx with a training or dev row are dropped in every language",
        train_data_help="its English few-shot train and dev, sampled from the English PAWS-X train set",
        description="paraphrase identification (sentence pair → not_paraphrase, paraphrase) in the 7 PAWS-X "
        "languages (en de es fr ja ko zh), trained on English",
        translations=pawsx_translations,
    )
)


def pawsx_file(root: Path, split: str, lang: str) -> Path:
    return Path(root) / "pawsx" / split / f"{lang}.tsv"


def read_pawsx(root: Path, split: str, lang: str, labelled: bool = True) -> list[NLIExample]:
    """``pawsx/{split}/{lang}.tsv`` (columns idx, sentence1, sentence2, label) as examples with uid
    ``pawsx-{split}-{idx}`` (the same uid for the same item in every language); ``labelled``: an empty or
    unknown label is a one-line :class:`DataError` naming file and line. Rows holding the placeholder "NS"
    instead of a translation are skipped (:mod:`xlprompt.data.pawsx_ns`)."""
    from xlprompt.data.pawsx_ns import is_ns_row
    from xlprompt.data.tsv import read_tsv

    path = pawsx_file(root, split, lang)
    rows = read_tsv(path, ("idx", "sentence1", "sentence2", "label"))
    out = []
    for row in rows:
        idx = row["idx"]
        if not idx.isascii() or not idx.isdigit():
            raise row.error(f"idx must be a non-negative integer, found {idx!r}")
        value = row["label"].strip()
        if value not in ("0", "1"):
            if labelled or value:
                raise row.error(
                    f"label must be 0 (not paraphrase) or 1 (paraphrase), found {value!r}"
                    + (
                        "; this file has no gold labels (PAWS-X test labels exist only for de here): evaluate on dev"
                        if not value
                        else ""
                    )
                )
            continue
        s1, s2 = row["sentence1"], row["sentence2"]
        if not s1.strip() or not s2.strip() or is_ns_row(s1, s2):
            continue  # a handful of PAWS-X rows lack a translation (empty, or the placeholder "NS")
        out.append(NLIExample(s1, s2, int(value), lang, f"pawsx-{split}-{int(idx)}"))
    if not out:
        raise DataError("no labelled rows", path)
    return out


def exclude_shared_ids(test: dict[str, list[NLIExample]], used: set[str]) -> dict[str, list[NLIExample]]:
    """Drop every evaluation row whose uid (``pawsx-{split}-{idx}``) is that of a training or dev row."""
    return {lang: [ex for ex in examples if ex.uid not in used] for lang, examples in test.items()}


def check_no_shared_ids(train, dev, test: dict[str, list[NLIExample]]) -> None:
    """A one-line :class:`DataError` if an evaluation row in any language shares its uid with a train/dev row."""
    used = {ex.uid for ex in (*train, *dev)}
    for lang, examples in test.items():
        shared = [ex.uid for ex in examples if ex.uid in used]
        if shared:
            raise DataError(
                f"{len(shared)} evaluation rows of '{lang}' share their idx with a training or dev row "
                f"(e.g. {shared[0]}): PAWS-X is parallel by idx, so they would leak the few-shot data"
            )


def load_pawsx_data(config, root: Path):
    """(train, dev, test by language, eval split used, notes) for ``task=pawsx``."""
    from xlprompt.data.fewshot import sample_k_per_class

    notes = []
    train_file = pawsx_file(root, "train", "en")
    if train_file.is_file():
        pool = read_pawsx(root, "train", "en")
        dev_pool = pool
        split = config.eval_split
        notes.append(
            f"pawsx: few-shot train/dev sampled from the English train set ({len(pool)} pairs); evaluation on {split}"
        )
    else:
        pool = read_pawsx(root, "dev", "en")
        dev_pool = pool
        split = "dev"
        notes.append(
            f"pawsx: no {train_file} (xlprompt data fetch --only pawsx): few-shot train/dev sampled from "
            "English dev, evaluation on dev, rows sharing an idx with them excluded in every language"
        )
    n = len(PAWSX_LABELS)
    train = sample_k_per_class(pool, config.shots, config.seed, n_labels=n)
    chosen = {ex.uid for ex in train}
    dev = sample_k_per_class(
        [ex for ex in dev_pool if ex.uid not in chosen], config.shots, config.seed + 10_000, n_labels=n
    )
    used = {ex.uid for ex in (*train, *dev)}
    # PAWS-X repeats some English pairs under another idx: such an evaluation item (and its translations) is
    # the training/dev text again, so its idx is excluded too
    texts = {(ex.premise.strip(), ex.hypothesis.strip()) for ex in (*train, *dev)}
    used |= {ex.uid for ex in read_pawsx(root, split, "en") if (ex.premise.strip(), ex.hypothesis.strip()) in texts}
    test = {lang: read_pawsx(root, split, lang) for lang in config.languages()}
    test = exclude_shared_ids(test, used)
    cap = config.eval_max_per_language
    if cap:
        test = {lang: examples[:cap] for lang, examples in test.items()}
    check_no_shared_ids(train, dev, test)
    return train, dev, test, split, notes
