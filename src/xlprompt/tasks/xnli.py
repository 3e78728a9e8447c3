"""XNLI (Conneau et al., 2018): the paper's task. Premise and hypothesis, three NLI labels, 15 languages.

Splits (:func:`load_xnli_splits`): the few-shot English train and dev of ``train_source`` (the fixed splits of
Zhao & Schütze, or k per class sampled with the seed from ``sample_pool``), and XNLI ``eval_split`` per
language; ``data_dir=builtin:demo`` reads the shipped sample instead. Its label words are each method's recipe
key ``label_words``. The numbers are guarded by tests/test_tasks_xnli_golden.py.
"""

from __future__ import annotations

from pathlib import Path

from xlprompt.data.examples import NLIExample
from xlprompt.errors import ConfigError
from xlprompt.languages import LABELS, SOURCE_LANGUAGE, XNLI_LANGUAGES
from xlprompt.resources import read_jsonl
from xlprompt.tasks.base import Task, TaskSplits, register

#: PCT's cloze template words ("Question", "Answer") in the 15 XNLI languages (xlprompt's translations; read by
#: PCT with ``pct_layout=cloze``, :mod:`xlprompt.methods.pct.recipe`, and by the builtin tiny tokenizer's vocabulary)
PCT_TEMPLATE_WORDS: dict[str, tuple[str, str]] = {
    "ar": ("سؤال", "جواب"),
    "bg": ("Въпрос", "Отговор"),
    "de": ("Frage", "Antwort"),
    "el": ("Ερώτηση", "Απάντηση"),
    "en": ("Question", "Answer"),
    "es": ("Pregunta", "Respuesta"),
    "fr": ("Question", "Réponse"),
    "hi": ("प्रश्न", "उत्तर"),
    "ru": ("Вопрос", "Ответ"),
    "sw": ("Swali", "Jibu"),
    "th": ("คำถาม", "คำตอบ"),
    "tr": ("Soru", "Cevap"),
    "ur": ("سوال", "جواب"),
    "vi": ("Câu hỏi", "Trả lời"),
    "zh": ("问题", "答案"),
}

#: the shipped demo sample (``data_dir=builtin:demo``)
DEMO = "builtin:demo"
#: The demo sample has 10 premises with 3 hypotheses each: premises 0-3 train, 4-5 dev, 6-9 test.
DEMO_SPLITS = {"train": range(0, 4), "dev": range(4, 6), "test": range(6, 10)}


def demo_examples(split: str, lang: str) -> list[NLIExample]:
    """The shipped demo sample (sentences written for xlprompt), split by premise."""
    rows = [r for r in read_jsonl("demo_nli.jsonl") if r["lang"] == lang]
    premises = list(dict.fromkeys(r["premise"] for r in rows))
    keep = {premises[i] for i in DEMO_SPLITS[split] if i < len(premises)}
    return [
        NLIExample(r["premise"], r["hypothesis"], LABELS.index(r["label"]), lang, r["uid"])
        for r in rows
        if r["premise"] in keep
    ]


def multinli_pool(data_dir) -> list[NLIExample]:
    """MultiNLI train from ``data_dir/multinli/train.tsv`` (``xlprompt data fetch --only multinli``); uid
    ``mnli-train-{idx}``, the ``file_idx`` of the fixed few-shot splits."""
    from xlprompt.data.tsv import read_tsv
    from xlprompt.languages import parse_label

    examples = []
    for row in read_tsv(Path(data_dir) / "multinli" / "train.tsv", ("idx", "premise", "hypothesis", "label")):
        try:
            label = parse_label(row["label"])
        except ValueError:
            raise row.error(f"unknown label {row['label']!r}; allowed: {', '.join(LABELS)}") from None
        examples.append(
            NLIExample(row["premise"], row["hypothesis"], label, SOURCE_LANGUAGE, f"mnli-train-{row['idx']}")
        )
    return examples


def load_xnli_splits(task: Task, config, root: Path | None) -> TaskSplits:
    """Few-shot train and dev (English) and the evaluated split per language of ``config``."""
    from xlprompt.data import load_fewshot_split, load_xnli, sample_k_per_class

    languages = config.languages()
    cap = config.eval_max_per_language
    notes: list[str] = []
    if config.data_dir == DEMO:
        pool = demo_examples("train", SOURCE_LANGUAGE)
        train = sample_k_per_class(pool, config.shots, config.seed)
        dev = demo_examples("dev", SOURCE_LANGUAGE)
        test = {lang: demo_examples("test", lang)[:cap] for lang in languages}
        notes.append("data: the shipped demo sample (builtin:demo)")
        return TaskSplits(train, dev, test, config.eval_split, notes)
    if config.data_dir is None:
        notes.append(f"data: {root} (the default data folder)")
    if config.train_source == "fixed":
        train = load_fewshot_split("train", config.shots, SOURCE_LANGUAGE, root)
        dev = load_fewshot_split("dev", config.shots, SOURCE_LANGUAGE, root)
    else:
        dev_pool = load_xnli("dev", SOURCE_LANGUAGE, root)
        if config.sample_pool == "multinli":
            pool = multinli_pool(root)
        else:
            if config.eval_split == "dev":
                raise ConfigError(
                    "train_source=sample with sample_pool=xnli-dev samples train/dev from XNLI "
                    "dev (en); evaluating on eval_split=dev would then leak: use eval_split=test "
                    "or sample_pool=multinli"
                )
            # The English XNLI dev set is then the labelled English pool: train and dev are disjoint samples of it.
            pool = dev_pool
        train = sample_k_per_class(pool, config.shots, config.seed)
        chosen = {ex.uid for ex in train}
        dev = sample_k_per_class([ex for ex in dev_pool if ex.uid not in chosen], config.shots, config.seed + 10_000)
    test = {lang: load_xnli(config.eval_split, lang, root, limit=cap) for lang in languages}
    return TaskSplits(train, dev, test, config.eval_split, notes)


def xnli_required_files(task: Task, config, folder: Path) -> list[tuple[str, str]]:
    """``(path relative to the data folder, fetch source)`` of the task files ``config`` reads."""
    from xlprompt.data.fewshot import fewshot_path

    needed: list[tuple[str, str]] = []
    if config.train_source == "fixed":
        for split in ("train", "dev"):
            needed.append((fewshot_path("", split, config.shots).as_posix(), "fewshot"))
    else:
        if config.sample_pool == "multinli":
            needed.append(("multinli/train.tsv", "multinli"))
        needed.append(("xnli/dev/en.tsv", "xnli"))
    needed += [(f"xnli/{config.eval_split}/{lang}.tsv", "xnli") for lang in config.languages()]
    return needed


def xnli_translations(task: Task, config, root: Path, split: str, languages) -> dict[str, list]:
    """``split`` in each of ``languages`` whose file is in the data folder (the leak guard's view: the uid
    ``xnli-{split}-{idx}`` is the same item in all 15)."""
    from xlprompt.data.xnli import load_xnli, xnli_path

    return {lang: load_xnli(split, lang, root) for lang in languages if xnli_path(root, split, lang).is_file()}


XNLI = register(
    Task(
        name="xnli",
        labels=LABELS,
        languages=XNLI_LANGUAGES,
        label_words=("right", "maybe", "wrong"),  # SP/MPT's; each method's recipe key label_words decides
        text_fields=("premise", "hypothesis"),
        source_language=SOURCE_LANGUAGE,
        tiny_label_words=("yes", "maybe", "no"),
        parallel_default="pawsx",
        parallel_refused={},
        origin="built-in: xlprompt.tasks.xnli",
        load_splits=load_xnli_splits,
        required_files=xnli_required_files,
        translations=xnli_translations,
        uses_demo=True,
        average_languages=XNLI_LANGUAGES,
        average_source="MPT paper (Qiu et al. 2024, arXiv 2403.12407) Table I: Avg over the 15 XNLI languages, "
        "English included",
        eval_split_help="XNLI 1.0 test (5010 pairs per language) or dev (2490); selection on the English few-shot dev split",
        train_data_help="its English few-shot train and dev: the fixed splits of Zhao & Schütze, or sampled from English XNLI dev or MultiNLI",
        description="natural language inference (premise, hypothesis → entailment, neutral, contradiction) in "
        "the 15 XNLI languages, trained on English",
    )
)
