"""The verbalizer ``f: Z → Y`` (paper Eq. 2): one label word per NLI class, per language if wanted.

Default label words (all languages): ``yes`` (entailment), ``maybe`` (neutral), ``no`` (contradiction),
the words of PET / Zhao & Schütze's XNLI prompts. Each word must be a single token of the tokenizer
(as a separate word, i.e. with its word-start marker; a bare marker piece in front, as XLM-R gives for
Chinese or Thai words, is dropped); a word that is several tokens is an error unless ``multi_token="first"``
is chosen, which scores the word by its first token.
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
#: word-start markers that a tokenizer may emit as a piece of their own (SentencePiece, byte-level BPE)
BARE_WORD_STARTS: tuple[str, ...] = ("▁", "Ġ")


class Verbalizer:
    """Maps each class to the token id of its label word, per language."""

    def __init__(self, tokenizer, words: Sequence[str] = DEFAULT_LABEL_WORDS,
                 per_language: Mapping[str, Sequence[str]] | None = None, multi_token: str = "error"):
        if multi_token not in MULTI_TOKEN_OPTIONS:
            raise ConfigError(f"multi_token_label_words must be one of {', '.join(MULTI_TOKEN_OPTIONS)}, "
                              f"not '{multi_token}'")
        self.multi_token = multi_token
        self.tokenizer = tokenizer
        self.default_ids = self._ids(words, "label_words")
        self.language_ids: dict[str, tuple[int, ...]] = {}
        for lang, lang_words in (per_language or {}).items():
            check_language(lang)
            self.language_ids[lang] = self._ids(lang_words, f"label words of '{lang}'")

    def _ids(self, words: Sequence[str], what: str) -> tuple[int, ...]:
        words = [w.strip() for w in words]
        if len(words) != len(LABELS):
            raise ConfigError(f"{what}: need {len(LABELS)} words ({', '.join(LABELS)}), got {len(words)}: {words}")
        ids = []
        for label, word in zip(LABELS, words):
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

    def ids_for(self, lang: str) -> tuple[int, ...]:
        """Token ids of the label words (in the order of LABELS) used for language ``lang``."""
        return self.language_ids.get(lang, self.default_ids)

    def tensor_for(self, lang: str, device=None) -> torch.Tensor:
        return torch.tensor(self.ids_for(lang), dtype=torch.long, device=device)


def read_label_words_file(path: str | Path) -> dict[str, list[str]]:
    """Per-language label words from JSON: ``{"de": ["ja", "vielleicht", "nein"], ...}``."""
    path = Path(path)
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise DataError("label-words file not found", path) from None
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
