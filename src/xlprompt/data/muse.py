"""MUSE's bilingual dictionaries (Conneau et al., 2018; facebookresearch/MUSE), the code-switching source of SoftMV.

Layout (that of MUSE's downloads): ``<dictionary_dir>/en-XX.txt``, one ``source target`` pair per line,
separated by whitespace (MUSE uses a space or a tab), e.g. ``en-de.txt`` with ``house haus``. Any local
dictionary in this format works. :data:`SOURCE` describes the download for ``xlprompt data fetch --only muse``
(the fetch registry wires it in); :func:`read_dictionary` and :func:`load_dictionaries` read local files.

SoftMV reads ``dict_dir + lang + ".txt"`` for 12 languages (THU-BPM/SoftMV ``prompt/pvps/cs_patternization.py``
``PatternizedIterator.__init__`` and ``get_word_dict``): zh de fr ar bg el es hi ru th tr vi (not sw, ur); a line
whose two words are equal is skipped, and a source word may have several targets.
"""

from __future__ import annotations

from pathlib import Path

from xlprompt.errors import DataError

MUSE_URL = "https://dl.fbaipublicfiles.com/arrival/dictionaries/en-{lang}.txt"
#: SoftMV's code-switching languages (cs_patternization.py ``self.languages``).
SOFTMV_LANGUAGES: tuple[str, ...] = ("zh", "de", "fr", "ar", "bg", "el", "es", "hi", "ru", "th", "tr", "vi")
DEFAULT_SUBDIR = "muse"

#: The download, as the fetch registry describes a source: a name, a description and (url, target path) files,
#: the paths relative to the data folder.
SOURCE: dict = {
    "name": "muse",
    "description": "MUSE bilingual dictionaries en-XX (full train dictionaries), SoftMV's code-switching source",
    "license": "CC-BY-NC 4.0 (facebookresearch/MUSE)",
    "files": [
        {"url": MUSE_URL.format(lang=lang), "path": f"{DEFAULT_SUBDIR}/en-{lang}.txt"} for lang in SOFTMV_LANGUAGES
    ],
}


def dictionary_path(directory: str | Path, lang: str) -> Path:
    return Path(directory) / f"en-{lang}.txt"


def read_dictionary(path: str | Path) -> dict[str, list[str]]:
    """``{source: [target, ...]}`` from a MUSE-format file; identical pairs skipped (as SoftMV does)."""
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise DataError(
            "bilingual dictionary not found; get MUSE's with `xlprompt data fetch --only muse` or "
            "set dictionary_dir=DIR holding en-XX.txt files",
            path,
        ) from None
    except UnicodeDecodeError as err:
        raise DataError(f"not UTF-8 text ({err.reason} at byte {err.start})", path) from None
    words: dict[str, list[str]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 2:
            raise DataError(
                f"expected 'source target' (2 whitespace-separated words), got {len(fields)}: "
                f"{line[:60]!r}; fix or remove the line",
                path,
                line=number,
            )
        source, target = fields
        if source == target:
            continue
        words.setdefault(source, []).append(target)
    if not words:
        raise DataError("holds no word pairs", path)
    return words


def load_dictionaries(directory: str | Path, languages=SOFTMV_LANGUAGES) -> dict[str, dict[str, list[str]]]:
    """Every language's dictionary from ``directory`` (all checked before any is used)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(
            "dictionary folder not found; get MUSE's with `xlprompt data fetch --only muse` or set dictionary_dir=DIR",
            directory,
        )
    return {lang: read_dictionary(dictionary_path(directory, lang)) for lang in languages}
