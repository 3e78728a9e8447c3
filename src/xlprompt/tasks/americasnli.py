"""AmericasNLI (Ebrahimi et al., ACL 2022): XNLI's task (premise, hypothesis, 3 labels) in 10 Indigenous
languages of the Americas: aym bzd cni gn hch nah oto quy shp tar (:mod:`xlprompt.data.americasnli`).

There is no training data in these languages: a run trains on English XNLI exactly as ``task=xnli`` does (the
XNLI task's loader: ``train_source=fixed`` reads Zhao & Schütze's fixed few-shot splits, ``sample`` samples
from ``sample_pool``) and evaluates on AmericasNLI ``eval_split`` (test: 750 per language, nah 738, oto 748;
dev: 743, cni 658, nah 376, oto 222). English (``en``) is evaluated on XNLI's ``eval_split`` as in ``task=xnli``.
Model selection uses the English few-shot dev split, drawn from XNLI dev, which AmericasNLI dev translates: with
``eval_split=dev`` the evaluated sentences are translations of selection data (the default, test, is clean). The
paper's average is over the 10 target languages (English not included). BUFFET's AmericasNLI splits are
in-language 16-shot samples (public: Hugging Face ``BuffetFS/BUFFET``), not used for transfer from English.

Labels and label words: XNLI's (entailment, neutral, contradiction; ``right``/``maybe``/``wrong``, each
method's XNLI recipe words, one XLM-R token each). Methods: MPT, SP, FT, DP (XNLI's pattern 0) run it; PCT,
DPA and SoftMV refuse it (their per-language templates / label words exist for XNLI's languages only).
MPT's external corpora (Tatoeba, PAWS-X, XNLI dev) hold none of these languages, so MPT runs with
``parallel_source=file`` (pairs English → these languages) or ``alpha=1``; otherwise the run refuses in one
line that says so.
"""

from __future__ import annotations

from pathlib import Path

from xlprompt.data.americasnli import AMERICASNLI_LANGUAGES, read_americasnli
from xlprompt.languages import LABELS, SOURCE_LANGUAGE
from xlprompt.tasks.base import Task, TaskSplits, register


def load_americasnli_splits(task: Task, config, root: Path) -> TaskSplits:
    from xlprompt.data import load_xnli
    from xlprompt.tasks.xnli import XNLI, load_xnli_splits

    langs = config.languages()
    # the English few-shot train/dev: the XNLI task's loader, asked for English only
    xnli = load_xnli_splits(XNLI, _EnglishOnly(config), root)
    cap = config.eval_max_per_language
    test = {}
    for lang in langs:
        if lang == SOURCE_LANGUAGE:
            test[lang] = load_xnli(config.eval_split, lang, root, limit=cap)
        else:
            test[lang] = read_americasnli(root, config.eval_split, lang)[:cap]
    notes = list(xnli.notes) + [
        f"americasnli: trained on English XNLI few-shot data, evaluated on AmericasNLI {config.eval_split}"
    ]
    return TaskSplits(xnli.train, xnli.dev, test, config.eval_split, notes)


class _EnglishOnly:
    """``config`` seen by the XNLI loader: evaluated languages = English only (its test is not used)."""

    def __init__(self, config):
        self._config = config

    def __getattr__(self, name):
        return getattr(self._config, name)

    def languages(self):
        return (SOURCE_LANGUAGE,)


def americasnli_required_files(task: Task, config, folder: Path) -> list[tuple[str, str]]:
    from xlprompt.tasks.xnli import XNLI, xnli_required_files

    needed = [
        item
        for item in xnli_required_files(XNLI, _EnglishOnly(config), folder)
        if not item[0].startswith(f"xnli/{config.eval_split}/") or SOURCE_LANGUAGE in config.languages()
    ]
    return needed + [
        (f"americasnli/{config.eval_split}/{lang}.tsv", "americasnli")
        for lang in config.languages()
        if lang != SOURCE_LANGUAGE
    ]


AMERICASNLI = register(
    Task(
        name="americasnli",
        labels=LABELS,
        languages=(SOURCE_LANGUAGE, *AMERICASNLI_LANGUAGES),
        label_words=("right", "maybe", "wrong"),
        text_fields=("premise", "hypothesis"),
        source_language=SOURCE_LANGUAGE,
        tiny_label_words=("yes", "maybe", "no"),
        parallel_default="tatoeba",
        parallel_refused={},
        parallel_languages=(),
        origin="built-in: xlprompt.tasks.americasnli",
        load_splits=load_americasnli_splits,
        required_files=americasnli_required_files,
        average_languages=AMERICASNLI_LANGUAGES,
        average_source="AmericasNLI paper (Ebrahimi et al., ACL 2022): Avg over its 10 target languages, "
        "English not included",
        eval_split_help="AmericasNLI test (750 per language; nah 738, oto 748) or dev (743; cni 658, nah 376, oto 222); English on XNLI's same split. Selection runs on English rows of XNLI dev, which AmericasNLI dev translates: with eval_split=dev the evaluated sentences are translations of the selection data; test (the default) is clean",
        train_data_help="its English few-shot train and dev, those of XNLI",
        description="natural language inference (XNLI's task and labels) in 10 Indigenous languages of the "
        "Americas (aym bzd cni gn hch nah oto quy shp tar), trained on English XNLI",
    )
)
