"""Languages, labels and language families of XNLI."""

from __future__ import annotations

import difflib
import re

from xlprompt.errors import ConfigError

#: The 15 XNLI languages, in the column order of the paper's tables.
XNLI_LANGUAGES: tuple[str, ...] = (
    "ar",
    "bg",
    "de",
    "el",
    "en",
    "es",
    "fr",
    "hi",
    "ru",
    "sw",
    "th",
    "tr",
    "ur",
    "vi",
    "zh",
)
SOURCE_LANGUAGE = "en"
#: The 14 target languages of cross-lingual transfer from English.
TARGET_LANGUAGES: tuple[str, ...] = tuple(lang for lang in XNLI_LANGUAGES if lang != SOURCE_LANGUAGE)

#: NLI labels; a label is stored as its index into this tuple.
LABELS: tuple[str, ...] = ("entailment", "neutral", "contradiction")

#: The 11 language families of the paper's Fig. 3.
LANGUAGE_FAMILIES: dict[str, str] = {
    "ar": "Afro-Asiatic",
    "bg": "Slavic",
    "ru": "Slavic",
    "de": "Germanic",
    "en": "Germanic",
    "el": "Hellenic",
    "es": "Romance",
    "fr": "Romance",
    "hi": "Indo-Aryan",
    "ur": "Indo-Aryan",
    "sw": "Niger-Congo",
    "th": "Kra-Dai",
    "tr": "Turkic",
    "vi": "Austroasiatic",
    "zh": "Chinese",
}

LANGUAGE_NAMES: dict[str, str] = {
    "ar": "Arabic",
    "bg": "Bulgarian",
    "de": "German",
    "el": "Greek",
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "hi": "Hindi",
    "ru": "Russian",
    "sw": "Swahili",
    "th": "Thai",
    "tr": "Turkish",
    "ur": "Urdu",
    "vi": "Vietnamese",
    "zh": "Chinese",
}


def check_language(code: str, allowed: tuple[str, ...] = XNLI_LANGUAGES, what: str = "language") -> str:
    """Return ``code`` if it is allowed, else raise a :class:`ConfigError` that lists the allowed codes."""
    if code in allowed:
        return code
    near = difflib.get_close_matches(str(code).lower(), allowed, n=1)
    hint = f" Did you mean '{near[0]}'?" if near else ""
    raise ConfigError(f"unknown {what} code '{code}'.{hint} Allowed: {', '.join(allowed)}")


#: a language code as tasks name them: ISO 639-1/-3 in lower case, optionally a subtag (zh-Hans, pt_br)
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*")


#: words that mean a set of languages where a language code goes (``eval_languages=all``): never a code
RESERVED_CODES = ("all",)


def check_language_code(code: str, what: str = "language code") -> str:
    """Return ``code`` if it is a well-formed language code (``en``, ``fil``, ``zh-Hans``), else a one-line
    :class:`ConfigError`: codes become file names, table columns and JSON keys, so ``EN`` beside ``en`` or
    ``a|b`` would make two columns or break a Markdown table."""
    if isinstance(code, str) and code.lower() in RESERVED_CODES:
        raise ConfigError(
            f"{what} {code!r} is reserved: eval_languages={code.lower()} means every language of the task; "
            "name the language by another code"
        )
    if isinstance(code, str) and LANGUAGE_CODE.fullmatch(code):
        return code
    hint = (
        f"; did you mean '{code.lower()}'?" if isinstance(code, str) and LANGUAGE_CODE.fullmatch(code.lower()) else ""
    )
    raise ConfigError(
        f"{what} {code!r} is not a language code: use lower-case ISO 639 codes like 'en' or 'de' "
        f"(optionally with a subtag, 'zh-Hans'){hint}"
    )


def parse_label(value: str | int, allowed: tuple[str, ...] = LABELS) -> int:
    """Map a label string (``entailment``) or integer (``0``) to its index; raise ``ValueError`` otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value < len(allowed):
            return value
        raise ValueError(f"label {value} is out of range 0..{len(allowed) - 1}")
    text = str(value).strip()
    if text in allowed:
        return allowed.index(text)
    if text.isdigit() and int(text) < len(allowed):
        return int(text)
    raise ValueError(f"unknown label '{text}' (allowed: {', '.join(allowed)})")
