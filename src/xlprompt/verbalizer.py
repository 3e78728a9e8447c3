"""The verbalizer ``f: Z → Y`` (paper Eq. 2): one label word per NLI class, per language if wanted.

The label words are a recipe key (``label_words``, see :mod:`xlprompt.config`): SP and MPT use ``right``
(entailment), ``maybe`` (neutral), ``wrong`` (contradiction), English for every language, as Zhao &
Schütze's code does (mprompting/xlmrprompt@39aed8f ptuning/pet/pvps/xnli_pvp.py:11); PCT uses the XLM-R
pieces ``yes``, ``may``, ``no`` *without* the word-start marker, given as ids 63736, 11354, 157
(qikunxun/PCT@4b3d675 train_xnli.py:44). ``yes, maybe, no`` (:data:`DEFAULT_LABEL_WORDS`) is what the builtin
tiny tokenizer has; it is not the words of either reference.

``mode`` (``label_words_as``) says how the three entries name tokens:

* ``word`` — tokenised as a separate word (with its word-start marker; a bare marker piece in front, as
  XLM-R gives for Chinese or Thai words, is dropped); a word of several tokens is an error unless
  ``multi_token="first"``, which scores the word by its first token;
* ``piece`` — an exact vocabulary piece (``convert_tokens_to_ids``), e.g. ``yes`` without ``▁``;
* ``id`` — a token id.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Sequence

import torch

from xlprompt.errors import ConfigError, DataError, ModelError
from xlprompt.languages import LABELS, XNLI_LANGUAGES, check_language

DEFAULT_LABEL_WORDS: tuple[str, ...] = ("yes", "maybe", "no")
MULTI_TOKEN_OPTIONS: tuple[str, ...] = ("error", "first")
LABEL_WORD_MODES: tuple[str, ...] = ("word", "piece", "id")
#: word-start markers that a tokenizer may emit as a piece of their own (SentencePiece, byte-level BPE)
BARE_WORD_STARTS: tuple[str, ...] = ("▁", "Ġ")


class Verbalizer:
    """Maps each class to the token id of its label word, per language.

    Args:
        tokenizer: the run's tokenizer.
        words (Sequence[str]): the default label words, one per label (every language without its own).
        per_language (Mapping[str, Sequence[str]] | None): language → its own words (one per label).
        multi_token (str): a word of several tokens: ``error``, or ``first`` (score its first token).
        mode (str): how ``words`` name tokens: ``word``, ``piece`` or ``id`` (see the module's text).
        labels (Sequence[str]): the task's labels (default: XNLI's, for standalone use).
        languages (Sequence[str]): the task's language codes, which the keys of ``per_language`` must be among
            (default: XNLI's, for standalone use); a run passes its task's (:func:`verbalizer_for`).
    """

    def __init__(
        self,
        tokenizer,
        words: Sequence[str] = DEFAULT_LABEL_WORDS,
        per_language: Mapping[str, Sequence[str]] | None = None,
        multi_token: str = "error",
        mode: str = "word",
        labels: Sequence[str] = LABELS,
        languages: Sequence[str] = XNLI_LANGUAGES,
    ):
        if multi_token not in MULTI_TOKEN_OPTIONS:
            raise ConfigError(
                f"multi_token_label_words must be one of {', '.join(MULTI_TOKEN_OPTIONS)}, not '{multi_token}'"
            )
        if mode not in LABEL_WORD_MODES:
            raise ConfigError(f"label_words_as must be one of {', '.join(LABEL_WORD_MODES)}, not '{mode}'")
        self.multi_token = multi_token
        self.mode = mode
        self.labels = tuple(labels)  # the task's labels; XNLI's by default
        self.languages = tuple(languages)  # the task's languages; XNLI's by default
        self.tokenizer = tokenizer
        self.per_language: dict[str, tuple[str, ...]] = {
            lang: tuple(w.strip() for w in lang_words) for lang, lang_words in (per_language or {}).items()
        }
        self.default_ids = self._ids(words, "label_words")
        self.language_ids: dict[str, tuple[int, ...]] = {}
        for lang, lang_words in (per_language or {}).items():
            check_language(lang, self.languages)
            self.language_ids[lang] = self._ids(lang_words, f"label words of '{lang}'")

    def _ids(self, words: Sequence[str], what: str) -> tuple[int, ...]:
        words = [w.strip() for w in words]
        labels = self.labels
        if len(words) != len(labels):
            raise ConfigError(f"{what}: need {len(labels)} words ({', '.join(labels)}), got {len(words)}: {words}")
        if self.mode != "word":
            ids = [self._exact(label, word, what) for label, word in zip(labels, words)]
            if len(set(ids)) != len(ids):
                raise ConfigError(f"{what}: two classes share a label word token: {words}")
            return tuple(ids)
        ids = []
        for label, word in zip(labels, words):
            pieces = self.tokenizer(word, add_special_tokens=False)["input_ids"]
            if len(pieces) > 1 and self.tokenizer.convert_ids_to_tokens(pieces[0]) in BARE_WORD_STARTS:
                # XLM-R splits e.g. Chinese "是" into a bare "▁" and "是": the word is its second piece
                pieces = pieces[1:]
            if not pieces:
                raise ConfigError(f"{what}: the word for '{label}' is empty")
            if len(pieces) > 1 and self.multi_token == "error":
                tokens = self.tokenizer.convert_ids_to_tokens(pieces)
                raise ModelError(
                    f"{what}: label word '{word}' ({label}) is {len(pieces)} tokens {tokens}, not one; "
                    "choose a single-token word or set multi_token_label_words=first"
                )
            if pieces[0] == self.tokenizer.unk_token_id:
                raise ModelError(f"{what}: label word '{word}' ({label}) is unknown to the tokenizer")
            ids.append(pieces[0])
        if len(set(ids)) != len(ids):
            raise ConfigError(f"{what}: two classes share a label word token: {words}")
        return tuple(ids)

    def _exact(self, label: str, word: str, what: str) -> int:
        """The token of ``word`` as a piece or an id (modes ``piece``, ``id``)."""
        size = len(self.tokenizer)
        if self.mode == "id":
            token = token_id(word, label, what)
            if not 0 <= token < size:
                raise ModelError(
                    f"{what}: token id {token} ({label}) is outside the tokenizer's vocabulary of {size}; "
                    "these ids belong to another tokenizer (use label_words_as=word with words)"
                )
            return token
        token = self.tokenizer.convert_tokens_to_ids(word)
        if token is None or token == self.tokenizer.unk_token_id or self.tokenizer.convert_ids_to_tokens(token) != word:
            raise ModelError(
                f"{what}: '{word}' ({label}) is not a piece of the tokenizer's vocabulary; "
                "use label_words_as=word to tokenise words"
            )
        return int(token)

    def ids_for(self, lang: str) -> tuple[int, ...]:
        """Token ids of the label words (in the order of the task's labels) used for language ``lang``."""
        return self.language_ids.get(lang, self.default_ids)

    def tensor_for(self, lang: str, device=None) -> torch.Tensor:
        return torch.tensor(self.ids_for(lang), dtype=torch.long, device=device)


def read_label_words_file(
    path: str | Path, labels: Sequence[str] = LABELS, languages: Sequence[str] = XNLI_LANGUAGES
) -> dict[str, list[str]]:
    """Per-language label words from JSON: ``{code: [word, ...], ...}``, a language code of the task (``languages``)
    → one word per label of the task (``labels``)."""
    from xlprompt.data.tsv import DuplicateKeyError, unique_object

    LABELS, XNLI_LANGUAGES = tuple(labels), tuple(languages)  # noqa: N806 (the task's)
    path = Path(path)
    try:
        data = json.loads(path.read_text("utf-8"), object_pairs_hook=unique_object)
    except FileNotFoundError:
        raise DataError("label-words file not found", path) from None
    except DuplicateKeyError as err:
        raise DataError(f"{err}; keep one", path) from None
    except OSError as err:
        raise DataError(f"cannot read the label-words file ({err.strerror or err})", path) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"not valid UTF-8 JSON: {err}", path) from None
    if not isinstance(data, dict):
        raise DataError('expected an object {"lang": [word, word, word], ...}', path)
    for lang, words in data.items():
        if lang not in XNLI_LANGUAGES:
            raise DataError(f"unknown language code '{lang}' (allowed: {', '.join(XNLI_LANGUAGES)})", path)
        if not (isinstance(words, list) and len(words) == len(LABELS) and all(isinstance(w, str) for w in words)):
            raise DataError(f"'{lang}': expected a list of {len(LABELS)} words ({', '.join(LABELS)})", path)
    return data


def token_id(word: str, label: str, what: str) -> int:
    """A label word given as a token id (``label_words_as=id``): a whole number of 0 or more, else a one-line
    :class:`ConfigError` naming ``what`` (the option or file) and ``label``. The vocabulary's size is checked
    once the tokenizer is loaded."""
    try:
        token = int(str(word).strip())
    except ValueError:
        raise ConfigError(f"{what}: label_words_as=id needs integer token ids, not '{word}' ({label})") from None
    if token < 0:
        raise ConfigError(f"{what}: token id {token} ({label}) is negative; token ids are whole numbers from 0")
    return token


def check_label_words(config, per_language: Mapping[str, Sequence[str]] | None = None) -> None:
    """The checks of a run's label words that need no tokenizer (before any model loads): with
    ``label_words_as=id``, every id of ``label_words`` and of ``per_language`` (a label-words file's) is a whole
    number of 0 or more (:func:`token_id`)."""
    if config.label_words_as != "id":
        return
    labels = config.task_spec().labels
    for lang, words in [(None, config.label_words.split(","))] + list((per_language or {}).items()):
        what = "label_words" if lang is None else f"label words of '{lang}' ({config.label_words_file})"
        for label, word in zip(labels, words):
            token_id(word, label, what)


def verbalizer_for(config, tokenizer, per_language: Mapping[str, Sequence[str]] | None = None) -> Verbalizer:
    """The verbalizer a run's config asks for (``label_words``, ``label_words_as``, ``label_words_file``)."""
    task = config.task_spec()
    if per_language is None and config.label_words_file:
        per_language = read_label_words_file(config.label_words_file, task.labels, task.languages)
    elif (
        per_language is None
        and not task.origin.startswith("built-in")
        and task.language_label_words
        and "label_words" in getattr(config, "_recipe_filled", ())
        and not config._tiny_tokenizer()
    ):
        # a user task's per-language label words are its test-time words in those languages
        per_language = task.language_label_words
    return Verbalizer(
        tokenizer,
        config.label_words.split(","),
        per_language,
        config.multi_token_label_words,
        config.label_words_as,
        task.labels,
        task.languages,
    )
