"""The toy task (``task=toy``): the NLI-like task of the synthetic toy world (:mod:`xlprompt.data.toy`), a testbed in
which learning and cross-lingual transfer are visible on a CPU in minutes. It is not XNLI; its numbers say
nothing about XNLI.

Languages: ``en`` (the source: a fragment of English made by a grammar) and the derived ``qaa``, ``qab``,
``qac``. Labels: entailment, neutral, contradiction (XNLI's order). Label words: ``yes, maybe, no`` for every
language (as SP/MPT use one English verbalizer on XNLI); each language's own words (their translations) are
the task's per-language words (DPA's multilingual verbalizer). PCT's templates ``question:{}? answer:<mask>``
and DP's pattern ``{premise} . question : {hypothesis} ? answer : <mask> .`` are written with the world's own
words for ``question`` and ``answer`` in each language.

Splits: few-shot train is ``k`` per class, dev ``max(k, 64)`` per class (:data:`TOY_DEV_PER_CLASS`: stable model
selection), drawn from the world's training and development pools. ``train_source=fixed`` (the default, the
papers' protocol) draws them once per ``k`` with the world's seed (:data:`TOY_FIXED_SPLIT_SEED`), the same for every
run seed, as Zhao & Schütze's fixed splits are one file per ``k``: a run's seed then varies the prompt's
initialisation and the batch order only. ``train_source=sample`` draws them with the run's seed (dev: ``seed +
10000``), so that the seed also varies the sample. The test set (300 per class, the same items in every language) is
evaluated for ``eval_split`` test and dev alike (the world has one held-out set). MPT's parallel corpus is the
world's own (``parallel_source=task``, the default here: up to 1,544 pairs, balanced over the three targets).
The world is generated in memory from a fixed seed; it needs no data folder and no download. The toy model
(``--model toy:small``, :mod:`xlprompt.models.toy`) is the masked LM pre-trained on it.
"""

from __future__ import annotations

from xlprompt.data.toy import (
    TOY_LABELS,
    TOY_LANGUAGES,
    TOY_SOURCE,
    TOY_TARGETS,
    WORLD_SEED,
    task_words,
    toy_world,
)
from xlprompt.errors import ConfigError
from xlprompt.tasks.base import Task, TaskSplits, register

#: the development set's size per class: ``max(k, TOY_DEV_PER_CLASS)`` (the paper's protocol, ``k`` per class, left
#: model selection on the toy world at the mercy of a handful of items: its dev accuracy jumped by 15 points
#: between epochs at k=16)
TOY_DEV_PER_CLASS = 64
#: the seed that draws the fixed few-shot split of every ``k`` (``train_source=fixed``): the world's own seed, fixed
#: before any run was made, not chosen by a result
TOY_FIXED_SPLIT_SEED = WORLD_SEED


def load_toy_splits(task: Task, config, root) -> TaskSplits:
    from xlprompt.data.fewshot import sample_k_per_class

    world = toy_world()
    n = len(TOY_LABELS)
    dev_k = max(config.shots, TOY_DEV_PER_CLASS)
    for pool, what, k in ((world.train_pool, "training", config.shots), (world.dev_pool, "development", dev_k)):
        most = min(sum(1 for ex in pool if ex.label == c) for c in range(n))
        if k > most:
            raise ConfigError(
                f"task toy: shots={config.shots} needs {k} per class of its {what} pool, which has {most}"
            )
    fixed = config.train_source == "fixed"
    seed = TOY_FIXED_SPLIT_SEED if fixed else config.seed
    train = sample_k_per_class(world.train_pool, config.shots, seed, n_labels=n)
    dev = sample_k_per_class(world.dev_pool, dev_k, seed + 10_000, n_labels=n)
    test = {lang: world.test[lang] for lang in config.languages()}
    cap = config.eval_max_per_language
    if cap:
        test = {lang: examples[:cap] for lang, examples in test.items()}
    split = (
        f"the world's fixed few-shot split (k={config.shots}, drawn with seed {seed} for every run)"
        if fixed
        else f"few-shot train/dev sampled with the run's seed {seed}"
    )
    notes = [
        f"toy: a synthetic world (xlprompt.data.toy), not XNLI; {len(test[next(iter(test))])} test items per language; "
        + split
    ]
    return TaskSplits(train, dev, test, "test", notes)


def load_toy_parallel(task: Task, config, root) -> list:
    """The first ``parallel_size`` pairs of the world's parallel corpus (those of the evaluated languages)."""
    targets = [lang for lang in config.languages() if lang != TOY_SOURCE] or list(TOY_TARGETS)
    pairs = [p for p in toy_world().parallel if p.tgt_lang in targets]
    if len(pairs) < config.parallel_size:
        raise ConfigError(
            f"task toy has {len(pairs)} parallel pairs for {', '.join(targets)}, fewer than "
            f"parallel_size={config.parallel_size}; set parallel_size <= {len(pairs)}"
        )
    return pairs[: config.parallel_size]


def load_toy_dictionaries(task: Task) -> dict[str, dict[str, list[str]]]:
    """The world's dictionaries (source word → its one translation in each target language): SoftMV's
    code-switching."""
    return {lang: {a: [b] for a, b in table.items()} for lang, table in toy_world().dictionaries.items()}


def _pct_options() -> dict:
    templates = {
        lang: "{q}:{{}}? {a}:<mask>".format(q=task_words(lang)["question"], a=task_words(lang)["answer"])
        for lang in TOY_LANGUAGES
    }
    return {"templates": templates, "draw_languages": TOY_TARGETS}


def _dp_options() -> dict:
    words = task_words(TOY_SOURCE)
    return {"template": f"{{premise}} . {words['question']} : {{hypothesis}} ? {words['answer']} : <mask> ."}


TOY = register(
    Task(
        name="toy",
        labels=TOY_LABELS,
        languages=TOY_LANGUAGES,
        label_words=tuple(task_words(TOY_SOURCE)[w] for w in ("yes", "maybe", "no")),
        language_label_words={
            lang: tuple(task_words(lang)[w] for w in ("yes", "maybe", "no")) for lang in TOY_LANGUAGES
        },
        tiny_label_words=("yes", "maybe", "no"),
        text_fields=("premise", "hypothesis"),
        source_language=TOY_SOURCE,
        parallel_default="task",
        origin="built-in: xlprompt.tasks.toy",
        method_options={"pct": _pct_options(), "dp": _dp_options()},
        load_splits=load_toy_splits,
        load_parallel=load_toy_parallel,
        load_dictionaries=load_toy_dictionaries,
    )
)


#: k of ``xlprompt demo`` on the toy world
TOY_DEMO_SHOTS = 16
#: the training settings of the toy world's demo, tests and study (``configs/toy.yaml``): the methods' recipes are
#: sized for XLM-R (lr 1e-5 to 4e-5, 50 epochs, max length 256); the tiny toy model needs a larger step and its
#: sentences are short. Every method gets the same ones (recipe=uniform), as a controlled comparison.
TOY_SETTINGS: dict = {
    "recipe": "uniform",
    # a seed draws its own few-shot sample: the study's mean and spread are over samples and initialisations both
    # (train_source=fixed, the papers' protocol, keeps one split per k; docs/toy.md compares the two)
    "train_source": "sample",
    "lr": 1e-3,
    "epochs": 20,
    "batch_size": 12,
    "max_length": 64,
    "eval_batch_size": 256,
    "parallel_size": 96,
}


def toy_settings(method: str, epochs: int | None = None) -> dict:
    """:data:`TOY_SETTINGS` (``epochs`` if given)."""
    out = dict(TOY_SETTINGS)
    if epochs:
        out["epochs"] = epochs
    return out


def above_chance_line(results: dict) -> str:
    """One line: each language's accuracy minus chance (1/3 here), in points."""
    acc = results["accuracy"]
    chance = 100.0 / len(TOY_LABELS)
    parts = ", ".join(f"{lang} {acc[lang] - chance:+.1f}" for lang in acc if lang != "avg")
    return (
        f"chance is {chance:.1f}%; above chance by (points): {parts}. A synthetic world (xlprompt.data.toy): "
        "these numbers show that the methods learn and transfer, nothing about XNLI."
    )
