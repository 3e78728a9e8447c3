"""The data layer: XNLI, the few-shot splits, the external parallel corpus, and their file formats.

A data folder (``--data-dir DIR``; without it ``$XLPROMPT_DATA`` or the per-user data folder, see
:mod:`xlprompt.data.home`; ``xlprompt data fetch`` fills it, see :mod:`xlprompt.data.fetch`) has this layout; every file is UTF-8
(TSV: one header line, no quoting, rows split on ``\\n`` only; see :mod:`xlprompt.data.tsv`)::

    xnli/{dev,test}/{lang}.tsv                          idx, premise, hypothesis, label, genre
    xnli-fewshot/train/en/train_split,{k}.jsonl         lang, sentence1, sentence2, gold, file_idx
    xnli-fewshot/train/rest/train_split,{lang},{k}.jsonl
    xnli-fewshot/dev/en/dev_split,{k}.jsonl             lang, sentence1, sentence2, gold, pairID
    xnli-fewshot/dev/rest/dev_split,{lang},{k}.jsonl
    pawsx/{dev,test}/{lang}.tsv                         idx, id, sentence1, sentence2, label
    pawsx/train/en.tsv                                  idx, id, sentence1, sentence2, label (English train)
    tatoeba/{xx}-en.tsv                                 idx, {xx}, en
    multinli/train.tsv                                  idx, premise, hypothesis, label, genre, pairID (optional)
    parallel/translate-{key}.jsonl                      cached machine-translated corpora (xlprompt.data.translated)

uids: ``xnli-{dev|test}-{idx}`` (XNLI), ``mnli-train-{file_idx}`` and ``xnli-dev-pair{pairID}``
(few-shot train/dev): the same item has the same uid in every language.

Importing this package does not import torch, transformers or datasets.
"""

from xlprompt.data.examples import NO_LABEL, NLIExample, ParallelPair
from xlprompt.data.fewshot import FEWSHOT_KS, load_fewshot_split, sample_k_per_class
from xlprompt.data.parallel import (
    PARALLEL_SOURCES,
    build_parallel_corpus,
    language_counts,
    read_parallel_jsonl,
    write_parallel_jsonl,
)
from xlprompt.data.stats import StatRow, data_stats, format_stats
from xlprompt.data.tsv import read_jsonl, read_tsv
from xlprompt.data.xnli import load_xnli

__all__ = [
    "NO_LABEL",
    "NLIExample",
    "ParallelPair",
    "FEWSHOT_KS",
    "PARALLEL_SOURCES",
    "load_xnli",
    "load_fewshot_split",
    "sample_k_per_class",
    "build_parallel_corpus",
    "language_counts",
    "read_parallel_jsonl",
    "write_parallel_jsonl",
    "data_stats",
    "format_stats",
    "StatRow",
    "read_tsv",
    "read_jsonl",
]
