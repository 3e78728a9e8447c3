"""Pieces the field's methods (DP, DPA, SoftMV) share: their label-word tables and how a label word becomes one
token id.

The references' text rules (``text.rstrip(string.punctuation)``, DPA's " ." and "?") are applied to the text, before
tokenising (``strip_punctuation`` in :class:`xlprompt.batching.TokenCache`; DPA's prompt string in
:mod:`xlprompt.methods.dpa`), never imitated on token ids.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from xlprompt.errors import ConfigError, ModelError
from xlprompt.languages import LABELS, XNLI_LANGUAGES
from xlprompt.verbalizer import BARE_WORD_STARTS

#: xlmrprompt pet/pet/pvps/xnli_pvp.py ``XNLIVerbalizer`` (identical in THU-BPM/SoftMV prompt/pvps/xnli_pvp.py):
#: label words (entailment, neutral, contradiction) per language. DP uses the English row (pattern_lang en);
#: SoftMV's multilingual verbalizer averages all 15 rows.
XNLI_VERBALIZER: dict[str, tuple[str, str, str]] = {
    "en": ("right", "maybe", "wrong"),
    "zh": ("是", "也许", "否"),
    "de": ("Ja", "vielleicht", "Nein"),
    "fr": ("oui", "possible", "non"),
    "ar": ("نعم", "يمكن", "لا"),
    "bg": ("да", "можеби", "не"),
    "el": ("Nαί", "μπορεί", "όχι"),
    "es": ("sí", "talvez", "no"),
    "hi": ("सच", "शायद", "झूठ"),
    "ru": ("да", "возможно", "нет"),
    "sw": ("ndio", "labda", "hasi"),
    "th": ("ใช่", "อาจจะ", "ไม่"),
    "tr": ("Evet", "belki", "hiçbir"),
    "ur": ("ہاں", "شاید", "نہیں"),
    "vi": ("dạ", "lẽ", "Không"),
}

#: DAMO-NLP-SG/DPA prompt_helper.py ``Prompt_Helper._setup_global_verbalizers`` (xnli; AR_* and UR_* from
#: special_tokens.py): the translated label words (entailment, neutral, contradiction) of multi_lingual_optim.
DPA_LABEL_WORDS: dict[str, tuple[str, str, str]] = {
    "ar": ("نعم", "ربما", "لا"),
    "bg": ("да", "може", "не"),
    "de": ("Ja", "möglicherweise", "Nein"),
    "el": ("Μάλιστα", "μπορεί", "όχι"),
    "en": ("yes", "maybe", "no"),
    "es": ("sí", "talvez", "no"),
    "fr": ("Oui", "possible", "non"),
    "hi": ("हां", "शायद", "न"),
    "ru": ("да", "може", "нет"),
    "sw": ("ndio", "labda", "sio"),
    "th": ("ใช่", "อาจจะ", "ไม่"),
    "tr": ("Evet", "belki", "hiçbir"),
    "ur": ("جی", "شاید", "نہیں"),
    "vi": ("dạ", "lẽ", "không"),
    "zh": ("是", "也许", "否"),
}


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
    rule: str = "first",
    labels: Sequence[str] = LABELS,
    languages: Sequence[str] = XNLI_LANGUAGES,
) -> dict[str, tuple[int, ...]]:
    """{lang: (id_entailment, id_neutral, id_contradiction)} for the languages of ``table`` (or one id per label of
    another task: ``labels``, ``languages``)."""
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


def table_from_config(
    config, default: Mapping[str, Sequence[str]], task_table: Mapping[str, Sequence[str]] | None = None
) -> dict[str, Sequence[str]]:
    """The method's multilingual label-word table: ``label_words_file`` (JSON {lang: [3 words]}) if given,
    else, on XNLI, the reference's own table ``default``; on another task the method's table for it
    (``task_table``), else the task file's per-language words."""
    task = config.task_spec()
    if config.label_words_file:
        from xlprompt.verbalizer import read_label_words_file

        return read_label_words_file(config.label_words_file, task.labels, task.languages)
    if task.name != "xnli" and task_table is None:  # a task file's own per-language words
        return {lang: list(words) for lang, words in task.language_label_words.items()}
    table = task_table if task.name != "xnli" else default
    if config._tiny_tokenizer() and config.label_words_as == "word":
        # the builtin tiny tokenizer (tests, demo) has none of the references' words in most languages: the
        # run's own label words (the tiny tokenizer's, or the user's) stand in for every language of the table
        words = tuple(w.strip() for w in config.label_words.split(","))
        return {lang: words for lang in table}
    return {lang: list(words) for lang, words in table.items()}
