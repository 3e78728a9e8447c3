"""The data of one run, as the config names it: few-shot train and dev (English), test per language, and
the external parallel corpus (MPT only).

Sources (``data_dir``): a folder laid out like ``shared/data``; ``builtin:demo`` (the small sample that
ships with the package, for ``xlprompt demo`` and tests); or, unset, the default data folder
(``$XLPROMPT_DATA``, else the per-user one: :mod:`xlprompt.data.home`). Runs never use the network for
data: ``xlprompt data fetch`` is the one step that does. :func:`load_run_data` first checks that every
file exists (:func:`xlprompt.data.home.check_run_files`), so a missing file is one line naming the folder
and the fetch call.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xlprompt.config import RunConfig
from xlprompt.data.examples import NLIExample, ParallelPair
from xlprompt.errors import ConfigError, DataError
from xlprompt.languages import LABELS, SOURCE_LANGUAGE, TARGET_LANGUAGES
from xlprompt.resources import read_jsonl

DEMO = "builtin:demo"
#: The demo sample has 10 premises with 3 hypotheses each: premises 0-3 train, 4-5 dev, 6-9 test.
DEMO_SPLITS = {"train": range(0, 4), "dev": range(4, 6), "test": range(6, 10)}


@dataclass
class RunData:
    train: list[NLIExample]
    dev: list[NLIExample]
    test: dict[str, list[NLIExample]]
    parallel: list[ParallelPair] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: the split evaluated (issue 13: task=pawsx without its train file evaluates on dev); None: config.eval_split
    eval_split: str | None = None


def demo_examples(split: str, lang: str) -> list[NLIExample]:
    """The shipped demo sample (sentences written for xlprompt), split by premise."""
    rows = [r for r in read_jsonl("demo_nli.jsonl") if r["lang"] == lang]
    premises = list(dict.fromkeys(r["premise"] for r in rows))
    keep = {premises[i] for i in DEMO_SPLITS[split] if i < len(premises)}
    return [NLIExample(r["premise"], r["hypothesis"], LABELS.index(r["label"]), lang, r["uid"])
            for r in rows if r["premise"] in keep]


def demo_parallel() -> list[ParallelPair]:
    return [ParallelPair(**r) for r in read_jsonl("demo_parallel.jsonl")]


def multinli_pool(data_dir) -> list[NLIExample]:
    """MultiNLI train from ``data_dir/multinli/train.tsv`` (``xlprompt data fetch --only multinli``); uid
    ``mnli-train-{idx}``, the ``file_idx`` of the fixed few-shot splits."""
    from pathlib import Path

    from xlprompt.data.tsv import read_tsv
    from xlprompt.languages import parse_label

    examples = []
    for row in read_tsv(Path(data_dir) / "multinli" / "train.tsv", ("idx", "premise", "hypothesis", "label")):
        try:
            label = parse_label(row["label"])
        except ValueError:
            raise row.error(f"unknown label {row['label']!r}; allowed: {', '.join(LABELS)}") from None
        examples.append(NLIExample(row["premise"], row["hypothesis"], label, SOURCE_LANGUAGE, f"mnli-train-{row['idx']}"))
    return examples


def _check_source_language(pairs: list[ParallelPair], path: str) -> None:
    """Every pair of a parallel file must go from the run's source language (English) to a target."""
    from xlprompt.data.tsv import read_jsonl

    for i, pair in enumerate(pairs):
        if pair.src_lang != SOURCE_LANGUAGE:
            line = read_jsonl(path)[i].line  # pairs and non-blank lines correspond one to one
            raise DataError(f"src_lang is '{pair.src_lang}' but the run transfers from '{SOURCE_LANGUAGE}': every "
                            f"pair needs src_lang '{SOURCE_LANGUAGE}' (English) and a target language in tgt_lang",
                            path, line)


def load_run_data(config: RunConfig, progress: bool = False) -> RunData:
    from xlprompt.data import (
        build_parallel_corpus, load_fewshot_split, load_xnli, read_parallel_jsonl, sample_k_per_class,
    )

    from xlprompt.data.home import check_run_files

    root = check_run_files(config)  # every file there, before anything is read (None: builtin:demo)
    data_dir = config.data_dir if root is None else root
    languages = config.languages()
    notes: list[str] = []
    cap = config.eval_max_per_language
    task = config.task_spec()
    eval_split = None
    if task.name != "xnli":  # issue 13: the task's own splits (xlprompt.tasks); XNLI keeps the path below
        if task.name == "pawsx":
            from xlprompt.tasks.pawsx import load_pawsx_data

            train, dev, test, eval_split, task_notes = load_pawsx_data(config, root)
        else:
            from xlprompt.tasks.user import load_user_data

            train, dev, test, eval_split, task_notes = load_user_data(task, config)
        notes += task_notes
        if config.train_source == "fixed":
            notes.append(f"train_source=fixed names XNLI's fixed splits; task {task.name}: k per class sampled "
                         f"with seed {config.seed}")
    elif config.data_dir == DEMO:
        pool = demo_examples("train", SOURCE_LANGUAGE)
        train = sample_k_per_class(pool, config.shots, config.seed)
        dev = demo_examples("dev", SOURCE_LANGUAGE)
        test = {lang: demo_examples("test", lang)[:cap] for lang in languages}
        notes.append("data: the shipped demo sample (builtin:demo)")
    else:
        if config.data_dir is None:
            notes.append(f"data: {root} (the default data folder)")
        if config.train_source == "fixed":
            train = load_fewshot_split("train", config.shots, SOURCE_LANGUAGE, data_dir)
            dev = load_fewshot_split("dev", config.shots, SOURCE_LANGUAGE, data_dir)
        else:
            dev_pool = load_xnli("dev", SOURCE_LANGUAGE, data_dir)
            if config.sample_pool == "multinli":
                pool = multinli_pool(data_dir)
            else:
                if config.eval_split == "dev":
                    raise ConfigError("train_source=sample with sample_pool=xnli-dev samples train/dev from XNLI "
                                      "dev (en); evaluating on eval_split=dev would then leak: use eval_split=test "
                                      "or sample_pool=multinli")
                # The English XNLI dev set is then the labelled English pool: train and dev are disjoint
                # samples of it.
                pool = dev_pool
            train = sample_k_per_class(pool, config.shots, config.seed)
            chosen = {ex.uid for ex in train}
            dev = sample_k_per_class([ex for ex in dev_pool if ex.uid not in chosen], config.shots,
                                     config.seed + 10_000)
        test = {lang: load_xnli(config.eval_split, lang, data_dir, limit=cap) for lang in languages}
    parallel: list[ParallelPair] = []
    targets = TARGET_LANGUAGES
    if task.name != "xnli":
        # the corpora's target languages are XNLI's (Tatoeba, XNLI dev, PAWS-X); the task's that have them
        targets = tuple(lang for lang in task.target_languages if lang in TARGET_LANGUAGES)
        if config.method == "mpt" and config.alpha < 1.0 and config.parallel_source != "file":
            if not targets:
                raise ConfigError(f"task {task.name}: none of its target languages "
                                  f"({', '.join(task.target_languages)}) has {config.parallel_source} pairs (they "
                                  f"exist for {', '.join(TARGET_LANGUAGES)}); bring a corpus with "
                                  "parallel_source=file parallel_file=PATH, or alpha=1")
            left = [lang for lang in task.target_languages if lang not in targets]
            if left:
                notes.append(f"parallel corpus: no {config.parallel_source} pairs for {', '.join(left)}; they use the "
                             "shared p_T")
    if config.method == "mpt" and config.alpha < 1.0:
        if config.data_dir == DEMO and config.parallel_source != "file":
            parallel = demo_parallel()
            notes.append(f"parallel corpus: the shipped demo pairs ({len(parallel)})")
        elif config.parallel_source == "file":
            run_targets = [lang for lang in languages if lang != SOURCE_LANGUAGE] or list(targets)
            parallel = read_parallel_jsonl(config.parallel_file, expected_languages=run_targets)
            _check_source_language(parallel, config.parallel_file)
            if len(parallel) < config.parallel_size:
                raise DataError(f"holds {len(parallel)} parallel pairs, fewer than parallel_size="
                                f"{config.parallel_size}; set parallel_size={len(parallel)} or bring more pairs",
                                config.parallel_file)
            parallel = parallel[: config.parallel_size]
        elif config.parallel_source == "translate":
            from xlprompt.data.translated import translated_corpus

            parallel, path, cached = translated_corpus(
                data_dir, config.translate_model, config.parallel_size, config.parallel_seed,
                target_languages=targets, progress=progress,
            )
            notes.append(f"parallel corpus: {len(parallel)} English PAWS-X train pairs translated by "
                         f"{config.translate_model} ({'cached' if cached else 'translated now, cached'} in {path})")
        else:
            parallel = build_parallel_corpus(
                config.parallel_source, config.parallel_size, config.parallel_seed, data_dir,
                target_languages=targets, progress=progress,
            )
        if config.parallel_source == "xnli-dev" and config.data_dir != DEMO:
            notes.append("parallel corpus: unlabelled XNLI dev pairs (ablation 'w/o external data')")
    for lang, examples in test.items():
        if not examples:
            raise DataError(f"no {eval_split or config.eval_split} examples for language '{lang}'")
    from xlprompt.leaks import check_data_leaks

    notes += check_data_leaks(config, train, dev, test, parallel, eval_split)
    return RunData(train, dev, test, parallel, notes, eval_split)
