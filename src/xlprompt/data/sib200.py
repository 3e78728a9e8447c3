"""SIB-200 (Adelani et al., EACL 2024): topic classification of Flores-200 sentences in 205 languages.

Source (pinned): GitHub ``dadelani/sib-200`` at commit :data:`SIB200_COMMIT`, files
``data/annotated/<Flores code>/{train,dev,test}.tsv`` (columns ``index_id``, ``category``, ``text``; written by
pandas, so a text may be double-quoted with ``""`` escapes). Licence CC BY-SA 4.0. One request: the repository
archive at that commit (:data:`SIB200_ARCHIVE`; a mirror that answers 404 for it is read one file per request).
Every file is checked by its SHA-256 and size (``resources/sib200_sha256.txt``: 615 files, train, dev and test of each language) before it is
converted, and every converted file by its own SHA-256 (``resources/sib200_converted_sha256.txt``, computed by
this converter from the git blobs of the pinned commit) before it is written and whenever fetch checks the folder.

What is fetched: the English train set (the few-shot pool, 701 rows) and dev (99) and test (204) for all 205
languages (``sib200``); the other languages' train files are the same sentences translated, not needed by
transfer from English, and fetched by ``sib200-train`` (the 204 other languages' train sets, for runs that
train on other or several source languages: config ``source_languages``).

Layout written (``--data-dir``):

* ``sib200/{train,dev,test}/{code}.tsv`` — columns ``idx`` (the release's ``index_id``: the Flores-200
  sentence number, the same in every language), ``category``, ``text``; ``code`` is the task's language code:
  ``en`` for English (``eng_Latn``: the run's source language is ``en`` everywhere in xlprompt), the Flores-200
  code (``swh_Latn``, ``yor_Latn``...) for the other 204;
* ``sib200/fewshot/{train,dev}_k{k}_seed{s}.tsv`` for k in :data:`SIB200_FEWSHOT_KS` and seeds
  :data:`SIB200_FEWSHOT_SEEDS` — the fixed few-shot splits (see :func:`write_fewshot_splits`), and
  ``sib200/fewshot/SHA256SUMS`` with their SHA-256. From the pinned release they are byte-identical on every
  machine; ``resources/sib200_fewshot_sha256.txt`` holds their SHA-256 and fetch checks them.

Checks (:meth:`Sib200Files.check`): every converted file's pinned SHA-256 (so a hand-edited sentence is found
and fetched again), rows per split (701 / 99 / 204) in every language, every category one of the 7, every
language's ``idx`` set per split equal to English's (the files are parallel), and the few-shot splits' pins.

``tatoeba-sib200``: LASER's Tatoeba v1 test files for the SIB-200 languages they cover (:data:`SIB200_TATOEBA`:
82 of the 204 target languages) → ``tatoeba/{code}-en.tsv``, from the same LASER archive as the ``tatoeba``
source (:class:`xlprompt.data.fetch.TatoebaFiles`), rows and SHA-256 pinned per language
(``resources/tatoeba_sib200_sha256.txt``); MPT's default alignment corpus for ``task=sib200``.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

from xlprompt.data.download import (
    MAX_MEMBER,
    Fetcher,
    FetchError,
    Source,
    _write_tsv,
    _writing,
    github_archive_url,
    github_members,
    tsv_bytes,
)
from xlprompt.data.tsv import read_tsv
from xlprompt.errors import DataError
from xlprompt.safety import atomic_write_bytes, sha256_file

SIB200_COMMIT = "593cea88519930f776c1a4a1980b6a35b39dca57"
SIB200_BASE = f"https://raw.githubusercontent.com/dadelani/sib-200/{SIB200_COMMIT}/data/annotated"
SIB200_ARCHIVE = github_archive_url("dadelani/sib-200", SIB200_COMMIT)
#: the categories in the release's order (``data/annotated/eng_Latn/labels.txt``); class i = CATEGORIES[i]
SIB200_CATEGORIES: tuple[str, ...] = (
    "science/technology",
    "travel",
    "politics",
    "sports",
    "health",
    "entertainment",
    "geography",
)
SIB200_ROWS: dict[str, int] = {"train": 701, "dev": 99, "test": 204}
ENGLISH_FLORES = "eng_Latn"
#: the fixed few-shot splits: k per class (k = 16 is the most the English train set allows for train and dev
#: together: geography has 58 rows) and the seeds (the paper's 1..5)
SIB200_FEWSHOT_KS: tuple[int, ...] = (1, 2, 4, 8, 16)
SIB200_FEWSHOT_SEEDS: tuple[int, ...] = (1, 2, 3, 4, 5)
FEWSHOT_DIR = "sib200/fewshot"
SUMS = "SHA256SUMS"

#: SIB-200 language (Flores-200 code) → (LASER Tatoeba v1 code, rows of its test files). Same ISO 639-3 code,
#: or the macrolanguage LASER uses (ara→arb_Arab, aze→azj_Latn, cmn→zho_Hans (Tatoeba's Mandarin mixes both
#: scripts), kur→kmr_Latn, mon→khk_Cyrl, sqi→als_Latn, uzb→uzn_Latn, yid→ydd_Hebr). Not srp: Tatoeba's Serbian
#: is in Latin script, SIB-200's (srp_Cyrl) in Cyrillic. 82 of the 204 target languages; rows counted in
#: facebookresearch/LASER@74bc6ae7 data/tatoeba/v1 (both sides equal).
SIB200_TATOEBA: dict[str, tuple[str, int]] = {
    "afr_Latn": ("afr", 1000),
    "als_Latn": ("sqi", 1000),
    "amh_Ethi": ("amh", 168),
    "arb_Arab": ("ara", 1000),
    "arz_Arab": ("arz", 477),
    "ast_Latn": ("ast", 127),
    "awa_Deva": ("awa", 231),
    "azj_Latn": ("aze", 1000),
    "bel_Cyrl": ("bel", 1000),
    "ben_Beng": ("ben", 1000),
    "bos_Latn": ("bos", 354),
    "bul_Cyrl": ("bul", 1000),
    "cat_Latn": ("cat", 1000),
    "ceb_Latn": ("ceb", 600),
    "ces_Latn": ("ces", 1000),
    "cym_Latn": ("cym", 575),
    "dan_Latn": ("dan", 1000),
    "deu_Latn": ("deu", 1000),
    "ell_Grek": ("ell", 1000),
    "epo_Latn": ("epo", 1000),
    "est_Latn": ("est", 1000),
    "eus_Latn": ("eus", 1000),
    "fao_Latn": ("fao", 262),
    "fin_Latn": ("fin", 1000),
    "fra_Latn": ("fra", 1000),
    "gla_Latn": ("gla", 829),
    "gle_Latn": ("gle", 1000),
    "glg_Latn": ("glg", 1000),
    "heb_Hebr": ("heb", 1000),
    "hin_Deva": ("hin", 1000),
    "hrv_Latn": ("hrv", 1000),
    "hun_Latn": ("hun", 1000),
    "hye_Armn": ("hye", 742),
    "ind_Latn": ("ind", 1000),
    "isl_Latn": ("isl", 1000),
    "ita_Latn": ("ita", 1000),
    "jav_Latn": ("jav", 205),
    "jpn_Jpan": ("jpn", 1000),
    "kab_Latn": ("kab", 1000),
    "kat_Geor": ("kat", 746),
    "kaz_Cyrl": ("kaz", 575),
    "khk_Cyrl": ("mon", 440),
    "khm_Khmr": ("khm", 722),
    "kmr_Latn": ("kur", 410),
    "kor_Hang": ("kor", 1000),
    "lit_Latn": ("lit", 1000),
    "lvs_Latn": ("lvs", 1000),
    "mal_Mlym": ("mal", 687),
    "mar_Deva": ("mar", 1000),
    "mkd_Cyrl": ("mkd", 1000),
    "nld_Latn": ("nld", 1000),
    "nno_Latn": ("nno", 1000),
    "nob_Latn": ("nob", 1000),
    "oci_Latn": ("oci", 1000),
    "pes_Arab": ("pes", 1000),
    "pol_Latn": ("pol", 1000),
    "por_Latn": ("por", 1000),
    "ron_Latn": ("ron", 1000),
    "rus_Cyrl": ("rus", 1000),
    "slk_Latn": ("slk", 1000),
    "slv_Latn": ("slv", 823),
    "spa_Latn": ("spa", 1000),
    "swe_Latn": ("swe", 1000),
    "swh_Latn": ("swh", 390),
    "tam_Taml": ("tam", 307),
    "tat_Cyrl": ("tat", 1000),
    "tel_Telu": ("tel", 234),
    "tgl_Latn": ("tgl", 1000),
    "tha_Thai": ("tha", 548),
    "tuk_Latn": ("tuk", 203),
    "tur_Latn": ("tur", 1000),
    "uig_Arab": ("uig", 1000),
    "ukr_Cyrl": ("ukr", 1000),
    "urd_Arab": ("urd", 1000),
    "uzn_Latn": ("uzb", 428),
    "vie_Latn": ("vie", 1000),
    "war_Latn": ("war", 1000),
    "xho_Latn": ("xho", 142),
    "ydd_Hebr": ("yid", 848),
    "yue_Hant": ("yue", 1000),
    "zho_Hans": ("cmn", 1000),
    "zsm_Latn": ("zsm", 1000),
}


def _pins(name: str) -> dict[str, tuple[str, int]]:
    return dict(_read_pins(name))


@functools.lru_cache(maxsize=None)
def _read_pins(name: str) -> tuple[tuple[str, tuple[str, int]], ...]:
    """A shipped ``sha256 size path`` file, parsed once per process (a fetch looks a pin up for every file)."""
    from importlib import resources

    text = resources.files("xlprompt.resources").joinpath(name).read_text("utf-8")
    pins = []
    for line in text.split("\n"):
        if line.strip():
            sha, size, rel = line.split(" ", 2)
            pins.append((rel, (sha, int(size))))
    return tuple(pins)


def sib200_pins() -> dict[str, tuple[str, int]]:
    """``{"<Flores code>/<split>.tsv": (sha256, size)}`` of the 615 pinned release files."""
    return _pins("sib200_sha256.txt")


def sib200_flores_languages() -> tuple[str, ...]:
    """The 205 Flores-200 codes of SIB-200, sorted (from the pins)."""
    return tuple(sorted({rel.split("/")[0] for rel in sib200_pins()}))


def task_code(flores: str) -> str:
    """The task's language code of a Flores-200 code: ``en`` for English, the Flores code otherwise."""
    return "en" if flores == ENGLISH_FLORES else flores


def flores_code(code: str) -> str:
    return ENGLISH_FLORES if code == "en" else code


def parse_release_tsv(data: bytes, where: str) -> list[tuple[str, str, str]]:
    """``(index_id, category, text)`` rows of a release file (pandas TSV: ``"`` quoting, ``""`` escapes)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise FetchError(f"{where}: not UTF-8 (byte {err.start}); check --mirror") from None
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter="\t", quotechar='"'))
    while rows and not rows[-1]:
        rows.pop()
    if not rows or rows[0] != ["index_id", "category", "text"]:
        raise FetchError(
            f"{where}: header {rows[0] if rows else '(empty)'} is not index_id, category, text; "
            "not the SIB-200 release: check --mirror"
        )
    out = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != 3:
            raise FetchError(f"{where}: row {number} has {len(row)} fields, expected 3; the file is corrupt")
        out.append((row[0], row[1], row[2]))
    return out


def sib200_file(root: Path, split: str, code: str) -> Path:
    return Path(root) / "sib200" / split / f"{code}.tsv"


def read_sib200(root: Path, split: str, code: str, path: Path | None = None) -> list:
    """``sib200/{split}/{code}.tsv`` (or ``path``) as single-text examples: ``premise`` = text, ``hypothesis`` =
    ``""``, label = index of the category, uid ``sib200-{idx}`` (the Flores sentence: the same in every
    language and split). An unknown category is a one-line DataError naming file and line."""
    from xlprompt.data.examples import NLIExample

    path = sib200_file(root, split, code) if path is None else path
    out = []
    for row in read_tsv(path, ("idx", "category", "text")):
        if row["category"] not in SIB200_CATEGORIES:
            raise row.error(f"unknown category {row['category']!r}; allowed: {', '.join(SIB200_CATEGORIES)}")
        if not row["text"].strip():
            raise row.error("empty text")
        out.append(NLIExample(row["text"], "", SIB200_CATEGORIES.index(row["category"]), code, f"sib200-{row['idx']}"))
    if not out:
        raise DataError("no rows", path)
    return out


def _problem(
    out: Path, split: str, code: str, n: int, english_ids: set[str] | None, sha256: str | None = None
) -> tuple[str | None, set]:
    """What is wrong with one converted file (``None`` when nothing) and its ``idx`` set: missing, its pinned
    SHA-256 (``sha256``, where given: an edited sentence), rows, categories, ids (``english_ids``: parallel)."""
    path = sib200_file(out, split, code)
    if not path.is_file():
        return f"{path} is missing", set()
    if sha256 is not None:
        actual = sha256_file(path)
        if actual != sha256:
            return f"{path}: SHA-256 {actual}, expected the pinned {sha256} (edited or not the release)", set()
    try:
        rows = read_tsv(path, ("idx", "category", "text"))
    except DataError as err:
        return str(err), set()
    if len(rows) != n:
        return f"{path}: {len(rows)} rows, expected {n}", set()
    bad = [r for r in rows if r["category"] not in SIB200_CATEGORIES]
    if bad:
        return f"{path}:{bad[0].line}: unknown category {bad[0]['category']!r}", set()
    ids = {r["idx"] for r in rows}
    if english_ids is not None and ids != english_ids:
        return f"{path}: its idx set differs from English's ({len(ids ^ english_ids)} ids): not parallel", ids
    return None, ids


def sib200_converted_pins() -> dict[str, str]:
    """``{"sib200/<split>/<code>.tsv": sha256}`` of the 615 converted files of the pinned release (train, dev and test of each language)."""
    return _sums("sib200_converted_sha256.txt")


def tatoeba_sib200_pins() -> dict[str, str]:
    """``{Flores code: sha256}`` of the 82 converted ``tatoeba/{code}-en.tsv`` files of the pinned LASER commit."""
    return {rel.split("/")[-1].removesuffix("-en.tsv"): sha for rel, sha in _sums("tatoeba_sib200_sha256.txt").items()}


def _sums(name: str) -> dict[str, str]:
    return dict(_read_sums(name))


@functools.lru_cache(maxsize=None)
def _read_sums(name: str) -> tuple[tuple[str, str], ...]:
    """A shipped ``sha256 path`` file, parsed once per process (a check looks a pin up for every file)."""
    from importlib import resources

    text = resources.files("xlprompt.resources").joinpath(name).read_text("utf-8")
    return tuple((line.split()[1], line.split()[0]) for line in text.split("\n") if line.strip())


@dataclass
class Sib200Files(Source):
    """The SIB-200 release files → ``sib200/`` (see the module docstring).

    One request: the repository archive at the pinned commit (``archive_url``; a mirror that answers 404 for it
    is read one file per request). Each release file is checked by its pinned SHA-256 and size before it is
    converted, and each converted file by its own pinned SHA-256 before it is written; :meth:`check` compares
    the files in the data folder with those pins too, so an edited sentence is found and fetched again."""

    base_url: str = SIB200_BASE
    #: Flores codes to fetch (empty: all 205)
    languages: tuple[str, ...] = ()
    rows: dict[str, int] = field(default_factory=lambda: dict(SIB200_ROWS))
    #: ``{"<Flores code>/<split>.tsv": (sha256, size)}``; None: the shipped pins of the release
    pins: dict[str, tuple[str, int]] | None = None
    #: SHA-256 of the few-shot split files (``{file name: sha256}``); None: the shipped ones, checked only when
    #: the English train file is the pinned release's
    fewshot_pins: dict[str, str] | None = None
    #: ``{"sib200/<split>/<code>.tsv": sha256}`` of the converted files; None: the shipped ones (with the shipped
    #: ``pins``; with other ``pins`` and no ``converted``, the converted files are checked by content facts)
    converted: dict[str, str] | None = None
    #: the repository archive at the pinned commit; None: one request per file
    archive_url: str | None = SIB200_ARCHIVE
    archive_prefix: str = "data/annotated"
    #: ``sib200-train``: fetch only the train splits of the languages other than English (the ``sib200`` source
    #: has English's, every dev and test and the fixed few-shot splits)
    other_train: bool = False

    def _pins(self) -> dict[str, tuple[str, int]]:
        return sib200_pins() if self.pins is None else self.pins

    def _converted_pins(self) -> dict[str, str]:
        if self.converted is not None:
            return self.converted
        return sib200_converted_pins() if self.pins is None else {}

    def _langs(self) -> tuple[str, ...]:
        langs = self.languages or tuple(sorted({rel.split("/")[0] for rel in self._pins()}))
        return tuple(dict.fromkeys((ENGLISH_FLORES, *langs)))

    def files(self) -> list[tuple[str, str]]:
        """``(Flores code, split)`` of every file fetched."""
        if self.other_train:
            return [(lang, "train") for lang in self._langs() if lang != ENGLISH_FLORES]
        return [
            (lang, split) for lang in self._langs() for split in self.rows if split != "train" or lang == ENGLISH_FLORES
        ]

    def urls(self) -> list[str]:
        return [f"{self.base_url}/{lang}/{split}.tsv" for lang, split in self.files()]

    def outputs(self, out: Path) -> list[Path]:
        files = [sib200_file(out, split, task_code(lang)) for lang, split in self.files()]
        if self.other_train:
            return files
        folder = Path(out) / FEWSHOT_DIR
        splits = [
            folder / fewshot_name(split, k, seed)
            for k in SIB200_FEWSHOT_KS
            for seed in SIB200_FEWSHOT_SEEDS
            for split in ("train", "dev")
        ]
        return files + splits + [folder / SUMS]

    def writes_verified_files(self, pinned: bool) -> bool:
        return True  # each file is converted from a raw file checked by its pinned SHA-256

    def _file_problem(self, out: Path, lang: str, split: str, english: set | None, pinned: bool) -> tuple:
        code = task_code(lang)
        sha = self._converted_pins().get(f"sib200/{split}/{code}.tsv") if pinned else None
        return _problem(out, split, code, self.rows[split], english, sha)

    def check(self, out: Path, pinned: bool = True) -> str | None:
        english: dict[str, set] = {}
        for lang, split in self.files():
            problem, ids = self._file_problem(out, lang, split, english.get(split), pinned)
            if problem is not None:
                return problem
            if lang == ENGLISH_FLORES:
                english[split] = ids
        if self.other_train:
            return None
        return check_fewshot_files(out, self._fewshot_expected() if pinned else None)

    def _fewshot_expected(self) -> dict[str, str] | None:
        if self.fewshot_pins is not None:
            return self.fewshot_pins
        pins = self._pins()
        if pins.get(f"{ENGLISH_FLORES}/train.tsv") != sib200_pins().get(f"{ENGLISH_FLORES}/train.tsv"):
            return None
        return {rel: sha for rel, (sha, _) in _pins("sib200_fewshot_sha256.txt").items()}

    def _convert(self, fetcher: Fetcher, lang: str, split: str, data: bytes, where: str) -> None:
        """Check a release file's bytes against its pin, convert it, check the converted bytes against theirs,
        and only then write it (atomically)."""
        pinned = self.name not in fetcher.unpinned
        rel = f"{lang}/{split}.tsv"
        if pinned:
            sha, size = self._pins()[rel]
            actual = hashlib.sha256(data).hexdigest()
            if actual != sha or len(data) != size:
                raise FetchError(
                    f"{where}: SHA-256 {actual} ({len(data):,} bytes), expected the pinned {sha} ({size:,} bytes); "
                    f"not the pinned release: fetch it through --mirror URL, or accept it with --unpinned {self.name}"
                )
        converted = tsv_bytes(("idx", "category", "text"), parse_release_tsv(data, where))
        target = f"sib200/{split}/{task_code(lang)}.tsv"
        expected = self._converted_pins().get(target) if pinned else None
        actual = hashlib.sha256(converted).hexdigest()
        if expected is not None and actual != expected:
            raise FetchError(
                f"{where}: {target} converted from it has SHA-256 {actual}, expected the pinned {expected}; "
                "nothing was written (the converter differs from the one that made the pins)"
            )
        dest = Path(fetcher.out) / target
        with _writing(dest):
            dest.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(dest, converted)

    def fetch(self, fetcher: Fetcher) -> None:
        pins = self._pins()
        pinned = self.name not in fetcher.unpinned
        for lang, split in self.files():
            if f"{lang}/{split}.tsv" not in pins:
                raise FetchError(
                    f"{lang}/{split}.tsv: no pinned SHA-256 for this file; SIB-200 languages: "
                    f"{', '.join(sorted({r.split('/')[0] for r in pins})[:8])}, ..."
                )
        todo = [
            (lang, split)
            for lang, split in self.files()
            if fetcher.force or self._file_problem(fetcher.out, lang, split, None, pinned)[0] is not None
        ]
        archive = self._github(fetcher, self.archive_url) if todo else None
        if archive is not None:
            self._from_archive(fetcher, archive, todo)
        else:
            for lang, split in todo:
                url = f"{self.base_url}/{lang}/{split}.tsv"
                sha, size = pins[f"{lang}/{split}.tsv"] if pinned else (None, None)
                raw = fetcher.complete(url, sha, size, self.name, None if pinned else MAX_MEMBER)
                try:
                    self._convert(fetcher, lang, split, raw.read_bytes(), fetcher.url(url))
                except FetchError:
                    raw.unlink(missing_ok=True)
                    raise
                raw.unlink(missing_ok=True)
        if self.other_train:  # the few-shot splits are drawn from English's train file: the sib200 source's
            return
        expected = self._fewshot_expected() if pinned else None
        if fetcher.force or (ENGLISH_FLORES, "train") in todo or check_fewshot_files(fetcher.out, expected):
            write_fewshot_splits(fetcher.out, expected)  # drawn from the English train file: written when it is

    def _from_archive(self, fetcher: Fetcher, archive: Path, todo: list[tuple[str, str]]) -> None:
        """Every file of ``todo`` from the repository archive, one member at a time; the ones verified are
        written even when another fails (a second call then fetches only what is left)."""
        real = fetcher.url(self.archive_url or "")
        wanted = {f"{lang}/{split}.tsv": (lang, split) for lang, split in todo}
        problems: dict[str, str] = {}

        def each(rel: str, data: bytes) -> None:
            try:
                self._convert(fetcher, *wanted[rel], data, f"{real}: {self.archive_prefix}/{rel}")
            except FetchError as err:
                problems[rel] = str(err)

        found = github_members(fetcher, self.archive_url or "", archive, self.archive_prefix, set(wanted), each)
        for rel in wanted:
            if rel not in found:
                problems[rel] = f"{real}: {self.archive_prefix}/{rel}: not in the archive; not the pinned commit"
        if problems:
            first = next(problems[rel] for rel in wanted if rel in problems)
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise FetchError(f"{first}{more}; the {len(wanted) - len(problems)} other files are written")


# -- the fixed few-shot splits -----------------------------------------------------------------------


def fewshot_name(split: str, k: int, seed: int) -> str:
    return f"{split}_k{k}_seed{seed}.tsv"


def sample_fewshot(pool: list, k: int, seed: int) -> tuple[list, list]:
    """Train: k per class drawn from the English train set with ``seed``; dev: k per class from the rest with
    ``seed + 10000`` (:func:`xlprompt.data.fewshot.sample_k_per_class`, the digest-ranked algorithm of every
    task). Train and dev are disjoint."""
    from xlprompt.data.fewshot import sample_k_per_class

    n = len(SIB200_CATEGORIES)
    train = sample_k_per_class(pool, k, seed, n_labels=n, label_names=SIB200_CATEGORIES)
    chosen = {ex.uid for ex in train}
    dev = sample_k_per_class(
        [ex for ex in pool if ex.uid not in chosen], k, seed + 10_000, n_labels=n, label_names=SIB200_CATEGORIES
    )
    return train, dev


def write_fewshot_splits(out: Path, expected: dict[str, str] | None = None) -> dict[str, str]:
    """Write every fixed split (``sib200/fewshot/``) and ``SHA256SUMS``; with ``expected`` (file → SHA-256),
    a file whose SHA-256 differs is a one-line :class:`FetchError`. Returns file → SHA-256."""
    pool = read_sib200(out, "train", "en")
    folder = Path(out) / FEWSHOT_DIR
    sums: dict[str, str] = {}
    for k in SIB200_FEWSHOT_KS:
        for seed in SIB200_FEWSHOT_SEEDS:
            for split, examples in zip(("train", "dev"), sample_fewshot(pool, k, seed)):
                name = fewshot_name(split, k, seed)
                path = folder / name
                _write_tsv(
                    path,
                    ("idx", "category", "text"),
                    ((ex.uid.rsplit("-", 1)[-1], SIB200_CATEGORIES[ex.label], ex.premise) for ex in examples),
                )
                sums[name] = sha256_file(path)
                if expected is not None and expected.get(name) != sums[name]:
                    raise FetchError(
                        f"{path}: SHA-256 {sums[name][:16]}... differs from the published split's "
                        f"{str(expected.get(name))[:16]}...; the English train file or the sampling "
                        "differs from the pinned release"
                    )
    atomic_write_bytes(folder / SUMS, "".join(f"{sha}  {name}\n" for name, sha in sums.items()).encode("utf-8"))
    return sums


def read_sums(out: Path) -> dict[str, str]:
    path = Path(out) / FEWSHOT_DIR / SUMS
    if not path.is_file():
        raise DataError(f"{path} is missing; run `xlprompt data fetch --only sib200`", path)
    sums = {}
    for number, line in enumerate(path.read_text("utf-8").split("\n"), start=1):
        if line.strip():
            parts = line.split()
            if len(parts) != 2 or len(parts[0]) != 64:
                raise DataError("not a 'SHA256  name' line", path, number)
            sums[parts[1]] = parts[0]
    return sums


def check_fewshot_files(out: Path, expected: dict[str, str] | None = None) -> str | None:
    """None when every fixed split is there and has the SHA-256 of ``SHA256SUMS`` and, with ``expected`` (file →
    SHA-256: the published splits' pins), that one, else what is wrong."""
    try:
        sums = read_sums(out)
    except DataError as err:
        return str(err)
    for k in SIB200_FEWSHOT_KS:
        for seed in SIB200_FEWSHOT_SEEDS:
            for split in ("train", "dev"):
                name = fewshot_name(split, k, seed)
                path = Path(out) / FEWSHOT_DIR / name
                if not path.is_file():
                    return f"{path} is missing"
                actual = sha256_file(path)
                if sums.get(name) != actual:
                    return f"{path}: SHA-256 differs from {SUMS} (edited?); run `xlprompt data fetch --only sib200 --force`"
                if expected is not None and expected.get(name) != actual:
                    return f"{path}: SHA-256 {actual}, expected the pinned {expected.get(name)} (edited?)"
    return None
