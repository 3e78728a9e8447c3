"""The data of one run, as the config names it: the task's few-shot train and dev (source language) and test
per language (:func:`xlprompt.tasks.load_splits`: every task, XNLI included, through one path), and MPT's
parallel corpus: a file or the task's own (from the task's source language), or an external one (from English,
:data:`xlprompt.data.parallel.CORPUS_SOURCE_LANGUAGE`, for a task whose source it is).

Sources (``data_dir``): a folder laid out like :mod:`xlprompt.data` describes; ``builtin:demo`` (the small
XNLI sample that ships with the package, for ``xlprompt demo`` and tests); or, unset, the default data folder
(``$XLPROMPT_DATA``, else the per-user one: :mod:`xlprompt.data.home`). Runs never use the network for data:
``xlprompt data fetch`` is the one step that does. :func:`load_run_data` first checks that every file exists
(:func:`check_run_files`), so a missing file is one line naming the folder and the fetch call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from xlprompt.config import RunConfig
from xlprompt.data.examples import NLIExample, ParallelPair
from xlprompt.errors import ConfigError, DataError
from xlprompt.resources import read_jsonl
from xlprompt.tasks import load_splits
from xlprompt.tasks import required_files as task_required_files
from xlprompt.tasks.xnli import DEMO, DEMO_SPLITS, demo_examples, multinli_pool  # noqa: F401  (re-exported)


@dataclass
class RunData:
    train: list[NLIExample]
    dev: list[NLIExample]
    test: dict[str, list[NLIExample]]
    parallel: list[ParallelPair] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: the split evaluated (task=pawsx without its train file evaluates on dev); None: config.eval_split
    eval_split: str | None = None


def demo_parallel() -> list[ParallelPair]:
    return [ParallelPair(**r) for r in read_jsonl("demo_parallel.jsonl")]


def _corpus_targets(task) -> tuple[str, ...]:
    """The task's target languages that the external corpora have: the task's ``parallel_languages`` (e.g.
    SIB-200's Tatoeba languages), else the corpora's own (XNLI's 14: Tatoeba, XNLI dev, PAWS-X)."""
    from xlprompt.data.parallel import CORPUS_TARGET_LANGUAGES

    have = task.parallel_languages or CORPUS_TARGET_LANGUAGES
    return tuple(lang for lang in task.target_languages if lang in have)


#: what each external corpus is, for the message when it has no pairs for a task
_CORPUS_NAMES = {"pawsx": "PAWS-X", "tatoeba": "Tatoeba", "xnli-dev": "XNLI's dev split", "translate": "translate"}


def check_corpus_languages(config: RunConfig) -> None:
    """An MPT run on an external corpus (``parallel_source`` pawsx, tatoeba, xnli-dev, translate) needs pairs in
    at least one of the task's target languages: a one-line :class:`ConfigError` otherwise, before any file is
    looked for (fetching a corpus that has none of the languages would not help)."""
    from xlprompt.data.parallel import CORPUS_SOURCE_LANGUAGE, CORPUS_TARGET_LANGUAGES, PAWSX_LANGUAGES

    source = config.parallel_source
    if not (config.method == "mpt" and config.alpha < 1.0 and source not in (None, "file", "task")):
        return
    task = config.task_spec()
    targets = _corpus_targets(task)
    have = task.parallel_languages or CORPUS_TARGET_LANGUAGES
    if source == "pawsx":
        targets = tuple(lang for lang in targets if lang in PAWSX_LANGUAGES)
        have = tuple(lang for lang in PAWSX_LANGUAGES if lang != CORPUS_SOURCE_LANGUAGE)
    if targets or not task.target_languages:  # a task of the source language alone aligns nothing
        return
    fixes = ["parallel_source=task (the task's own corpus)"] if task.load_parallel is not None else []
    fixes += ["a corpus of yours with parallel_source=file parallel_file=PATH", "alpha=1"]
    raise ConfigError(
        f"task {task.name}: none of its target languages ({', '.join(task.target_languages)}) has "
        f"{_CORPUS_NAMES.get(source, source)} pairs (they exist for {', '.join(have)}); use "
        f"{', '.join(fixes[:-1])} or {fixes[-1]}"
    )


def required_files(config: RunConfig, folder: Path) -> list[tuple[str, str]]:
    """``(path relative to the data folder, fetch source)`` of every file ``config`` reads from it."""
    from xlprompt.data.parallel import CORPUS_SOURCE_LANGUAGE, PAWSX_LANGUAGES

    task = config.task_spec()
    needed = task_required_files(task, config, folder)
    if config.method == "mpt" and config.alpha < 1.0:
        targets = _corpus_targets(task)
        source = config.parallel_source
        if source == "pawsx":
            for split in ("dev", "test"):
                needed += [
                    (f"pawsx/{split}/{lang}.tsv", "pawsx")
                    for lang in PAWSX_LANGUAGES
                    if lang == CORPUS_SOURCE_LANGUAGE or lang in targets
                ]
        elif source == "tatoeba":
            needed += [(f"tatoeba/{lang}-en.tsv", task.parallel_fetch.get("tatoeba", "tatoeba")) for lang in targets]
        elif source == "xnli-dev":
            needed += [(f"xnli/dev/{lang}.tsv", "xnli") for lang in (CORPUS_SOURCE_LANGUAGE, *targets)]
        elif source == "translate":
            needed.append(("pawsx/train/en.tsv", "pawsx"))
    if (
        config.method == "softmv"
        and config.softmv_cosda_rate > 0
        and not config.dictionary_dir
        and task.load_dictionaries is None  # a task's own dictionaries need no MUSE files
    ):
        from xlprompt.data.muse import DEFAULT_SUBDIR, SOFTMV_LANGUAGES

        needed += [(f"{DEFAULT_SUBDIR}/en-{lang}.txt", "muse") for lang in SOFTMV_LANGUAGES]
    return list(dict.fromkeys(needed))


def check_run_files(config: RunConfig) -> Path | None:
    """Raise a one-line :class:`DataError` unless every file ``config`` reads exists; return the folder.

    ``builtin:demo`` needs no folder (returns ``None``). Files outside the data folder that the config
    names (``parallel_file``) are checked too.
    """
    from xlprompt.data.home import check_files, resolve_data_dir

    check_corpus_languages(config)
    if config.method == "mpt" and config.alpha < 1.0 and config.parallel_source == "file" and config.parallel_file:
        if not Path(config.parallel_file).is_file():
            raise DataError("parallel_file not found; pass an existing file (parallel_file=PATH)", config.parallel_file)
    if config.data_dir == DEMO:
        return None
    return check_files(config.data_dir, required_files(config, resolve_data_dir(config.data_dir)))


def load_run_data(config: RunConfig, progress: bool = False) -> RunData:
    from xlprompt.data import build_parallel_corpus, read_parallel_jsonl
    from xlprompt.data.parallel import CORPUS_TARGET_LANGUAGES

    root = check_run_files(config)  # every file there, before anything is read (None: builtin:demo)
    data_dir = config.data_dir if root is None else root
    languages = config.languages()
    task = config.task_spec()
    splits = load_splits(task, config, root)
    train, dev, test, eval_split, notes = splits.train, splits.dev, splits.test, splits.eval_split, list(splits.notes)
    parallel: list[ParallelPair] = []
    targets = _corpus_targets(task)  # the corpora's target languages are XNLI's; the task's that have them
    if targets != task.target_languages:
        if config.method == "mpt" and config.alpha < 1.0 and config.parallel_source not in ("file", "task"):
            # none at all was refused before any file was read (check_corpus_languages)
            left = [lang for lang in task.target_languages if lang not in targets]
            if left:
                notes.append(
                    f"parallel corpus: no {config.parallel_source} pairs for {', '.join(left)}; they use the shared p_T"
                )
    if config.method == "mpt" and config.alpha < 1.0:
        if config.data_dir == DEMO and config.parallel_source != "file":
            parallel = demo_parallel()
            notes.append(f"parallel corpus: the shipped demo pairs ({len(parallel)})")
        elif config.parallel_source == "file":
            run_targets = [lang for lang in languages if lang != task.source_language] or list(task.target_languages)
            parallel = read_parallel_jsonl(
                config.parallel_file, expected_languages=run_targets, source_language=task.source_language
            )
            if parallel[0].single_text and not task.single_text:
                raise DataError(
                    f"holds one-text pairs (src_text, tgt_text), but task {task.name} has two texts "
                    f"({', '.join(task.text_fields)}); bring pairs with src_premise, src_hypothesis, tgt_premise, "
                    "tgt_hypothesis",
                    config.parallel_file,
                )
            if len(parallel) < config.parallel_size:
                raise DataError(
                    f"holds {len(parallel)} parallel pairs, fewer than parallel_size="
                    f"{config.parallel_size}; set parallel_size={len(parallel)} or bring more pairs",
                    config.parallel_file,
                )
            parallel = parallel[: config.parallel_size]
        elif config.parallel_source == "task":  # the task's own corpus (task=toy)
            parallel = task.load_parallel(task, config, root)
            notes.append(f"parallel corpus: task {task.name}'s own ({len(parallel)} pairs)")
        elif config.parallel_source == "translate":
            from xlprompt.data.translated import translated_corpus

            parallel, path, cached = translated_corpus(
                data_dir,
                config.translate_model,
                config.parallel_size,
                config.parallel_seed,
                target_languages=targets,
                progress=progress,
            )
            notes.append(
                f"parallel corpus: {len(parallel)} English PAWS-X train pairs translated by "
                f"{config.translate_model} ({'cached' if cached else 'translated now, cached'} in {path})"
            )
        else:
            parallel = build_parallel_corpus(
                config.parallel_source,
                config.parallel_size,
                config.parallel_seed,
                data_dir,
                target_languages=targets,
                progress=progress,
                known_targets=task.parallel_languages or None,
            )
        if config.parallel_source == "xnli-dev" and config.data_dir != DEMO:
            notes.append("parallel corpus: unlabelled XNLI dev pairs (ablation 'w/o external data')")
    if (
        config.method == "mpt"
        and config.alpha < 1.0
        and parallel
        and len(task.target_languages) > len(CORPUS_TARGET_LANGUAGES)
    ):
        # many languages: say which evaluated ones had alignment pairs (the report's 'aligned' marks)
        have = {pair.tgt_lang for pair in parallel}
        evaluated = [lang for lang in languages if lang != task.source_language]
        with_pairs = [lang for lang in evaluated if lang in have]
        notes.append(
            f"alignment data: {len(with_pairs)} of the {len(evaluated)} evaluated target languages had "
            f"parallel pairs ({', '.join(with_pairs[:12])}{', ...' if len(with_pairs) > 12 else ''})"
        )
    for lang, examples in test.items():
        if not examples:
            raise DataError(f"no {eval_split} examples for language '{lang}'")
    from xlprompt.leaks import check_data_leaks

    # a parallel task: its ids name one sentence in every language (training examples are compared by id); the
    # evaluated split in all its languages is read only when there are alignment pairs to compare with it
    translations = None
    if task.translations is not None:
        # the evaluated languages are in `test` already: only the others are read
        others = tuple(lang for lang in task.languages if lang not in test)
        translations = task.translations(task, config, root, eval_split, others) if parallel and root else {}
    notes += check_data_leaks(config, train, dev, test, parallel, eval_split, translations)
    return RunData(train, dev, test, parallel, notes, eval_split)
