"""Pieces the field's methods (DPA, SoftMV) share: how their multilingual label-word tables are chosen and how a
label word becomes one token id. The tables themselves are task resources: each method's ``recipe.py`` keeps them
keyed by task (``TASK_LABEL_WORDS``); a task file gives its own per-language label words.

The references' text rules (``text.rstrip(string.punctuation)``, DPA's " ." and "?") are applied to the text, before
tokenising (``strip_punctuation`` in :class:`xlprompt.batching.TokenCache`; DPA's prompt string in
:mod:`xlprompt.methods.dpa`), never imitated on token ids.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from xlprompt.errors import ConfigError, ModelError
from xlprompt.verbalizer import BARE_WORD_STARTS


def word_token_id(tokenizer, word: str, what: str, rule: str = "first") -> int:
    """The token id of a label word. ``first``: the first piece after a bare word-start piece (the project's
    verbalizer rule; XLM-R gives ``▁`` ``是`` for Chinese). ``last``: the last piece, DPA's
    ``tokenizer.encode(verb)[-2]`` (prompt_helper.py:317) and SoftMV's ``get_verbalization_ids`` (THU-BPM/SoftMV
    prompt/utils.py:209-221: ``ids[-1]`` of a word of several pieces; XLM-R's ``Nαί`` is ``▁N`` ``αί`` → ``αί``)."""
    pieces = tokenizer(word, add_special_tokens=False)["input_ids"]
    if not pieces:
        raise ConfigError(f"{what}: the label word '{word}' is empty")
    if rule == "last":
        token = pieces[-1]
    else:
        if len(pieces) > 1 and tokenizer.convert_ids_to_tokens(pieces[0]) in BARE_WORD_STARTS:
            pieces = pieces[1:]
        token = pieces[0]
    if token == tokenizer.unk_token_id:
        raise ModelError(
            f"{what}: label word '{word}' is unknown to the tokenizer; give words it knows with label_words_file=JSON"
        )
    return token


def label_table(
    tokenizer,
    table: Mapping[str, Sequence[str]],
    what: str,
    rule: str,
    labels: Sequence[str],
    languages: Sequence[str],
) -> dict[str, tuple[int, ...]]:
    """The token ids of a multilingual label-word table.

    Args:
        tokenizer: the run's tokenizer.
        table (Mapping[str, Sequence[str]]): language → one word per label.
        what (str): what the table is, for the errors (``DPA label words``).
        rule (str): how a word becomes one token (:func:`word_token_id`: ``first`` or ``last``).
        labels (Sequence[str]): the task's labels (one word each).
        languages (Sequence[str]): the task's languages (the table's keys must be among them).

    Returns:
        dict[str, tuple[int, ...]]: language → one token id per label, in the table's order.
    """
    out = {}
    for lang, words in table.items():
        if lang not in languages:
            raise ConfigError(f"{what}: unknown language '{lang}'")
        if len(words) != len(labels):
            raise ConfigError(f"{what} of '{lang}': need {len(labels)} words, got {list(words)}")
        ids = tuple(word_token_id(tokenizer, w, f"{what} of '{lang}'", rule) for w in words)
        if len(set(ids)) != len(ids):
            raise ModelError(
                f"{what} of '{lang}': two classes share a token ({list(words)}); give distinct "
                "words with label_words_file=JSON"
            )
        out[lang] = ids
    return out


def table_from_config(config, task_table: Mapping[str, Sequence[str]] | None = None) -> dict[str, Sequence[str]]:
    """The method's multilingual label-word table for the run.

    Args:
        config (RunConfig): the run's config.
        task_table (Mapping[str, Sequence[str]] | None): the method's own table for the run's task (its recipe's
            ``TASK_LABEL_WORDS`` entry, e.g. its authors' XNLI words), or None.

    Returns:
        dict[str, Sequence[str]]: ``label_words_file`` (JSON {lang: [one word per label]}) if given; else
        ``task_table``; else the task's own per-language words (a task file's). With the builtin tiny tokenizer
        (tests, demo) and ``task_table``, the run's own label words stand in for every language of the table.
    """
    task = config.task_spec()
    if config.label_words_file:
        from xlprompt.verbalizer import read_label_words_file

        return read_label_words_file(config.label_words_file, task.labels, task.languages)
    if task_table is None:  # a task file's own per-language words
        return {lang: list(words) for lang, words in task.language_label_words.items()}
    if config._tiny_tokenizer() and config.label_words_as == "word":
        # the builtin tiny tokenizer (tests, demo) has none of the references' words in most languages: the
        # run's own label words (the tiny tokenizer's, or the user's) stand in for every language of the table
        words = tuple(w.strip() for w in config.label_words.split(","))
        return {lang: words for lang in task_table}
    return {lang: list(words) for lang, words in task_table.items()}
