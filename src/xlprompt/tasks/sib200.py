"""SIB-200 (Adelani et al., EACL 2024): topic classification in 205 languages and dialects, one text per example.

The texts are Flores-200 sentences (the same sentence, by ``idx``, in every language); 7 topics. Data:
``xlprompt data fetch --only sib200`` (:mod:`xlprompt.data.sib200`: pinned release, CC BY-SA 4.0).

Language codes: ``en`` for English (the source language: Flores ``eng_Latn``) and the Flores-200 code
(``swh_Latn``, ``yor_Latn``, ``zho_Hans`` ...) for the other 204.

Labels: the release's categories in its order (``labels.txt``): science/technology, travel, politics, sports,
health, entertainment, geography. Label words (every language, SP/MPT/FT/DP use one English verbalizer as for
XNLI), by this rule: the category's name when it is one token of XLM-R's vocabulary, else the one-token English
word nearest to it: ``science`` (science/technology), ``travel``, ``political`` (politics: ``▁politic`` +
``s``), ``sports``, ``health``, ``entertainment``, ``geo`` (geography: ``▁ge`` + ``ography``). Each is one
word-start piece of the XLM-R tokenizer (tests/test_tasks_sib200.py checks it with the real tokenizer).

Splits (:func:`load_sib200_splits`): few-shot train and dev in English, k per class:

* ``train_source=fixed`` (default): the files ``sib200/fewshot/{train,dev}_k{k}_seed{seed}.tsv`` written by the
  fetch, k in 1, 2, 4, 8, 16 and seeds 1-5, each checked against ``SHA256SUMS`` (and at fetch against the
  SHA-256 shipped in ``resources/sib200_fewshot_sha256.txt``);
* ``train_source=sample``: the same algorithm for any k and seed (train: k per class of the English train set
  with ``seed``; dev: k per class of the rest with ``seed + 10000``);
* ``shots=all`` (either source): the full English train split (701) with selection on the full English dev split
  (99), the SIB-200 paper's setting; ``eval_split=dev`` is then refused.

Several source languages (config ``source_languages``, :func:`_source_splits`): each its own k per class of its
train set (``train_source=sample``; the fixed files are English only) or its full train split (``shots=all``),
and its own dev split; the run trains on their union and selects on the union of their dev splits. The other
languages' train files come from ``xlprompt data fetch --only sib200-train``.

Averages and groups: the paper's average is over every language (its Table 7 "Average", English included);
languages are grouped by region, family and XLM-R pre-training coverage as the SIB-200 paper's Table 7 gives them
(``resources/sib200_languages.tsv``; ``nqo_Nkoo`` is not a row of it), by Glot500-m pre-training coverage (the
Glot500 authors' training-data selection, ``resources/sib200_glot500.tsv``: all 205) and by script
(:func:`sib200_groups`).

Evaluation on ``eval_split`` (test: 204 sentences per language; dev: 99). SIB-200's train, dev and test are
disjoint sets of Flores sentences, and :func:`check_disjoint` refuses an evaluated ``idx`` that is a training
or dev one. Methods: MPT, SP, FT and DP (pattern ``{text} . Topic: <mask> .``, xlprompt's choice: no reference
has one) run it; PCT, DPA and SoftMV refuse it (they need per-language templates or label words that do not
exist for these languages). MPT's alignment corpus: LASER Tatoeba for the 82 SIB-200 languages it covers
(``xlprompt data fetch --only tatoeba-sib200``); the other 122 target languages have no pairs and use the
shared ``p_T`` (or, with ``translator_conditioning=language``, the mean language vector). A parallel file made
of Flores-200 sentences is refused by the leak guard when a sentence is an evaluated SIB-200 text.
"""

from __future__ import annotations

from pathlib import Path

from xlprompt.config import SHOTS_ALL
from xlprompt.data.sib200 import (
    FEWSHOT_DIR,
    SIB200_CATEGORIES,
    SIB200_FEWSHOT_KS,
    SIB200_FEWSHOT_SEEDS,
    SIB200_TATOEBA,
    SUMS,
    fewshot_name,
    read_sib200,
    read_sums,
    sample_fewshot,
    sib200_flores_languages,
    task_code,
)
from xlprompt.errors import ConfigError, DataError
from xlprompt.tasks.base import Task, TaskSplits, register

SIB200_LANGUAGES: tuple[str, ...] = ("en", *(task_code(c) for c in sib200_flores_languages() if c != "eng_Latn"))
SIB200_LABEL_WORDS: tuple[str, ...] = ("science", "travel", "political", "sports", "health", "entertainment", "geo")

#: where each grouping of SIB-200's languages comes from
LANGUAGE_TABLE = "sib200_languages.tsv"
_TABLE_SOURCE = (
    "SIB-200 paper (Adelani et al., EACL 2024) Table 7, read from dadelani/sib-200@5aadf8f SIB-200_paper.pdf "
    "(resources/sib200_languages.tsv); nqo_Nkoo is not a row of that table"
)
SIB200_GROUPING_SOURCES = {
    "region": _TABLE_SOURCE,
    "family": _TABLE_SOURCE,
    "XLM-R pre-training": _TABLE_SOURCE + " (its 'in XLM-R?' column)",
    "Glot500-m pre-training": "the Glot500 authors' training-data selection, cisnlp/Glot500@d5eb3d3 "
    "preprocessing/merge_files.py lines 34-36 over miscellaneous/languages_stats.csv (every row marked XLM-R, and "
    "every other one with 30,000 sentences or more), matched to Flores-200 codes by ISO 639-3 code and script, "
    "Hani for Hans/Hant and five listed macrolanguages (resources/sib200_glot500.tsv, where the rule is given)",
    "script": "the Flores-200 code's script suffix (swh_Latn → Latn; en → Latn)",
}
GLOT500_TABLE = "sib200_glot500.tsv"


def _read_table(name: str) -> dict[str, dict[str, str]]:
    """A shipped tab-separated table (``#`` lines are its provenance), keyed by this task's code for its ``code``
    column.

    Args:
        name (str): the file's name in ``xlprompt/resources``.

    Returns:
        dict[str, dict[str, str]]: ``{task code: {column: value}}`` for every other column.
    """
    from importlib import resources

    text = resources.files("xlprompt.resources").joinpath(name).read_text("utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    header = lines[0].split("\t")
    table = {}
    for line in lines[1:]:
        row = dict(zip(header, line.split("\t")))
        table[task_code(row.pop("code"))] = row
    return table


def sib200_language_table() -> dict[str, dict[str, str]]:
    """The SIB-200 paper's table of its languages (``resources/sib200_languages.tsv``), keyed by this task's
    language codes: ``{code: {"name", "family", "region", "xlmr" ("yes"/"no"), "joshi"}}``."""
    return _read_table(LANGUAGE_TABLE)


def sib200_glot500_table() -> dict[str, dict[str, str]]:
    """Glot500-m's pre-training coverage of SIB-200's 205 languages (``resources/sib200_glot500.tsv``, whose header
    gives the source and the matching rule), keyed by this task's language codes.

    Returns:
        dict[str, dict[str, str]]: ``{code: {"glot500" ("yes"/"no"), "glot500_code", "glot500_sentences",
        "rule" ("exact"/"script"/"macrolanguage"/"")}}``.
    """
    return _read_table(GLOT500_TABLE)


def script_of(lang: str) -> str:
    """The script of a SIB-200 code (its Flores-200 suffix; ``en``: Latn)."""
    return lang.rsplit("_", 1)[1] if "_" in lang else "Latn"


def sib200_groups(languages: tuple[str, ...] = ()) -> dict[str, dict[str, tuple[str, ...]]]:
    """SIB-200's languages by region, family, XLM-R pre-training (seen/unseen), Glot500-m pre-training
    (seen/unseen) and script (see :data:`SIB200_GROUPING_SOURCES`); groups in order of size, largest first."""
    languages = languages or SIB200_LANGUAGES
    table = sib200_language_table()
    glot500 = sib200_glot500_table()
    out: dict[str, dict[str, list[str]]] = {
        "region": {},
        "family": {},
        "XLM-R pre-training": {},
        "Glot500-m pre-training": {},
        "script": {},
    }
    for lang in languages:
        out["script"].setdefault(script_of(lang), []).append(lang)
        if lang in glot500:
            seen = glot500[lang]["glot500"] == "yes"
            out["Glot500-m pre-training"].setdefault("seen" if seen else "unseen", []).append(lang)
        row = table.get(lang)
        if row is None:
            continue
        out["region"].setdefault(row["region"], []).append(lang)
        out["family"].setdefault(row["family"], []).append(lang)
        out["XLM-R pre-training"].setdefault("seen" if row["xlmr"] == "yes" else "unseen", []).append(lang)
    return {
        grouping: {name: tuple(langs) for name, langs in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))}
        for grouping, groups in out.items()
    }


def _fixed(config) -> tuple[int, int]:
    if config.shots not in SIB200_FEWSHOT_KS or config.seed not in SIB200_FEWSHOT_SEEDS:
        raise ConfigError(
            f"task sib200 with train_source=fixed: the fixed splits exist for k in "
            f"{', '.join(map(str, SIB200_FEWSHOT_KS))} and seeds {', '.join(map(str, SIB200_FEWSHOT_SEEDS))} "
            f"(not k={config.shots}, seed={config.seed}); set train_source=sample for others"
        )
    return config.shots, config.seed


def read_fixed_split(root: Path, split: str, k: int, seed: int) -> list:
    """A fixed split file, checked against ``SHA256SUMS`` (a changed file is a one-line DataError)."""
    from xlprompt.safety import sha256_file

    path = Path(root) / FEWSHOT_DIR / fewshot_name(split, k, seed)
    expected = read_sums(root).get(path.name)
    if expected is None or sha256_file(path) != expected:
        raise DataError(
            f"SHA-256 differs from {FEWSHOT_DIR}/{SUMS}: the fixed split was changed; run "
            "`xlprompt data fetch --only sib200 --force`",
            path,
        )
    return read_sib200(root, split, "en", path=path)


def check_disjoint(train, dev, test: dict) -> None:
    used = {ex.uid for ex in (*train, *dev)}
    for lang, examples in test.items():
        shared = [ex.uid for ex in examples if ex.uid in used]
        if shared:
            raise DataError(
                f"{len(shared)} evaluated sentences of '{lang}' are training or dev sentences (e.g. "
                f"{shared[0]}): SIB-200 is parallel by idx, so they would leak"
            )


def _source_splits(root: Path, config, sources: tuple[str, ...]) -> tuple[list, list, list[str]]:
    """Train and dev of several source languages (config ``source_languages``), each its own: ``shots=all`` its full
    train and dev splits; else k per class of its own train set drawn with ``seed`` (the digest-ranked draw:
    another language's sentences rank differently) and dev k per class, ``seed + 10000``, from its train rows
    that no source's training draw took (SIB-200 is parallel by ``idx``: no dev sentence is the translation of a
    training one). The fixed split files are English only: ``train_source=fixed`` reads them for ``en`` and
    refuses another source language. Returns (train, dev, notes), in the order of ``sources``."""
    if config.shots == SHOTS_ALL:
        train = [ex for lang in sources for ex in read_sib200(root, "train", lang)]
        dev = [ex for lang in sources for ex in read_sib200(root, "dev", lang)]
        return (
            train,
            dev,
            [
                f"sib200: shots=all in {len(sources)} source languages ({', '.join(sources)}): the union of their full "
                f"train splits ({len(train)} rows), selection on the union of their full dev splits ({len(dev)} rows)"
            ],
        )
    from xlprompt.data.fewshot import sample_k_per_class

    n = len(SIB200_CATEGORIES)
    pools = {lang: read_sib200(root, "train", lang) for lang in sources}
    trains = {
        lang: sample_k_per_class(pool, config.shots, config.seed, n_labels=n, label_names=SIB200_CATEGORIES)
        for lang, pool in pools.items()
    }
    taken = {ex.uid for examples in trains.values() for ex in examples}
    devs = {
        lang: sample_k_per_class(
            [ex for ex in pool if ex.uid not in taken],
            config.shots,
            config.seed + 10_000,
            n_labels=n,
            label_names=SIB200_CATEGORIES,
        )
        for lang, pool in pools.items()
    }
    train = [ex for lang in sources for ex in trains[lang]]
    dev = [ex for lang in sources for ex in devs[lang]]
    return (
        train,
        dev,
        [
            f"sib200: few-shot train/dev sampled from the train sets of {len(sources)} source languages "
            f"({', '.join(sources)}; k={config.shots} per class each, seed={config.seed}): {len(train)} training and "
            f"{len(dev)} dev examples (selection on their union)"
        ],
    )


def _fixed_sources(config) -> None:
    sources = config.sources()
    if config.shots != SHOTS_ALL and config.train_source == "fixed":
        raise ConfigError(
            f"task sib200 with train_source=fixed: the fixed few-shot split files are English only; "
            f"source_languages={','.join(sources)} needs train_source=sample (k per class drawn from each "
            "language's train set) or shots=all"
        )


def load_sib200_splits(task: Task, config, root: Path) -> TaskSplits:
    notes = []
    sources = config.sources()
    if sources != (task.source_language,):  # source_languages: each its own train and dev split
        _fixed_sources(config)
        train, dev, notes = _source_splits(root, config, sources)
    elif config.shots == SHOTS_ALL:  # the SIB-200 paper's setting: all 701 English train rows, its 99 dev rows
        train, dev = read_sib200(root, "train", "en"), read_sib200(root, "dev", "en")
        notes.append(
            f"sib200: shots=all: the full English train split ({len(train)} rows), selection on the full English "
            f"dev split ({len(dev)} rows), the SIB-200 paper's setting (train_source is not used)"
        )
    elif config.train_source == "fixed":
        k, seed = _fixed(config)
        train, dev = read_fixed_split(root, "train", k, seed), read_fixed_split(root, "dev", k, seed)
        notes.append(f"sib200: fixed few-shot splits k={k} seed={seed} ({FEWSHOT_DIR}, SHA-256 checked)")
    else:
        train, dev = sample_fewshot(read_sib200(root, "train", "en"), config.shots, config.seed)
        notes.append(
            f"sib200: few-shot train/dev sampled from the English train set (k={config.shots}, seed={config.seed})"
        )
    cap = config.eval_max_per_language
    test = {lang: read_sib200(root, config.eval_split, lang)[:cap] for lang in config.languages()}
    check_disjoint(train, dev, test)
    return TaskSplits(train, dev, test, config.eval_split, notes)


def _fetch(lang: str, split: str) -> str:
    """The ``xlprompt data fetch`` source of a SIB-200 file: ``sib200-train`` for another language's train split."""
    return "sib200-train" if split == "train" and lang != "en" else "sib200"


def sib200_required_files(task: Task, config, folder: Path) -> list[tuple[str, str]]:
    sources = config.sources()
    if config.shots == SHOTS_ALL:
        if config.eval_split == "dev":
            raise ConfigError(
                f"task sib200 with shots=all selects on the "
                f"{'English dev split' if sources == ('en',) else 'dev splits of ' + ','.join(sources)}, so "
                "eval_split=dev would evaluate the selection data; use eval_split=test"
            )
        needed = [(f"sib200/{split}/{lang}.tsv", _fetch(lang, split)) for lang in sources for split in ("train", "dev")]
    elif sources != (task.source_language,):
        _fixed_sources(config)
        needed = [(f"sib200/train/{lang}.tsv", _fetch(lang, "train")) for lang in sources]
    elif config.train_source == "fixed":
        k, seed = _fixed(config)
        needed = [(f"{FEWSHOT_DIR}/{fewshot_name(s, k, seed)}", "sib200") for s in ("train", "dev")]
        needed.append((f"{FEWSHOT_DIR}/{SUMS}", "sib200"))
    else:
        needed = [("sib200/train/en.tsv", "sib200")]
    return needed + [(f"sib200/{config.eval_split}/{lang}.tsv", "sib200") for lang in config.languages()]


def sib200_translations(task: Task, config, root: Path, split: str, languages) -> dict[str, list]:
    """``split`` in each of ``languages`` whose file is in the data folder (the leak guard's view: the uid
    ``sib200-{idx}`` is the Flores sentence, the same in every language)."""
    from xlprompt.data.sib200 import sib200_file

    return {lang: read_sib200(root, split, lang) for lang in languages if sib200_file(root, split, lang).is_file()}


_NOT_SIB = "its pairs are XNLI-language pairs under XNLI's codes; SIB-200's languages carry Flores-200 codes"

SIB200 = register(
    Task(
        name="sib200",
        labels=SIB200_CATEGORIES,
        languages=SIB200_LANGUAGES,
        label_words=SIB200_LABEL_WORDS,
        text_fields=("text",),
        source_language="en",
        parallel_default="tatoeba",
        parallel_refused={"pawsx": _NOT_SIB, "xnli-dev": _NOT_SIB, "translate": _NOT_SIB},
        parallel_languages=tuple(SIB200_TATOEBA),
        parallel_fetch={"tatoeba": "tatoeba-sib200"},
        origin="built-in: xlprompt.tasks.sib200",
        load_splits=load_sib200_splits,
        required_files=sib200_required_files,
        average_languages=SIB200_LANGUAGES,
        average_source="SIB-200 paper (Adelani et al., EACL 2024) Table 7: Average over every language of the "
        "table, English included",
        language_groups=sib200_groups(),
        grouping_sources=SIB200_GROUPING_SOURCES,
        full_train=True,
        train_languages=SIB200_LANGUAGES,
        train_data_help="train, dev and test in every language",
        eval_split_help="SIB-200 test (204 sentences per language) or dev (99); selection on the English few-shot dev split (shots=all: the full English dev, so eval_split=dev is refused)",
        description="topic classification (one sentence → science/technology, travel, politics, sports, health, "
        "entertainment, geography) in SIB-200's 205 languages (Flores-200 codes), trained on English",
        translations=sib200_translations,
    )
)
