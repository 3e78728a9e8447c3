"""``xlprompt data fetch``: build a data folder, in the layout ``--data-dir`` reads, from public sources.

Every source is a plain HTTP(S) download read with the standard library (:mod:`urllib`); none uses
the Hugging Face hub, so ``fetch`` needs no extra package, works behind ``--mirror`` and resumes.

==========  ==============================================================  ==================================
source      where from (pinned)                                             verified by
==========  ==============================================================  ==================================
fewshot     mprompting/xlmrprompt @ 39aed8fa, ``common_datasets/{train,dev}``  SHA-256 and size of all 270 files
            (raw.githubusercontent.com), written verbatim to ``xnli-fewshot/``  (``resources/xlmrprompt_fewshot_sha256.txt``)
xnli        the official XNLI 1.0 archive, dl.fbaipublicfiles.com/XNLI/      rows per split, language and label:
            XNLI-1.0.zip (``xnli.{dev,test}.tsv``) → ``xnli/{dev,test}/``     2,490 (830 each) / 5,010 (1,670 each)
pawsx       the official PAWS-X archive, storage.googleapis.com/paws/pawsx/  rows: dev 2,000 and test 2,000 per
            x-final.tar.gz → ``pawsx/{dev,test}/{lang}.tsv`` and              language (7), English train 49,401
            ``pawsx/train/en.tsv`` (the English train set the paper samples)
tatoeba     facebookresearch/LASER @ 74bc6ae7, ``data/tatoeba/v1/``          rows per language (ar ... 1,000,
            ``tatoeba.{xxx}-eng.{xxx,eng}`` → ``tatoeba/{xx}-en.tsv``          sw 390, th 548), both sides equal
multinli    the official MultiNLI 1.0 archive, cims.nyu.edu/~sbowman/         392,702 rows, all labelled
(optional)  multinli/multinli_1.0.zip → ``multinli/train.tsv``               (for ``sample_pool=multinli``)
muse        MUSE bilingual dictionaries, dl.fbaipublicfiles.com/arrival/      UTF-8, ``source target`` per line,
(optional)  dictionaries/en-XX.txt → ``muse/en-XX.txt`` (SoftMV's 12 langs)  at least one pair (method softmv)
sib200      dadelani/sib-200 @ 593cea88, ``data/annotated/`` →              SHA-256 + size of the 411 release
            ``sib200/`` (:mod:`xlprompt.data.sib200`)                         files, SHA-256 of every converted
                                                                            file and few-shot split
tatoeba-    facebookresearch/LASER @ 74bc6ae7, the 82 SIB-200 languages      rows and SHA-256 per converted file
sib200      → ``tatoeba/{Flores code}-en.tsv`` (:class:`TatoebaFiles`)
americasnli nala-cub/AmericasNLI @ be3c351b, ``{dev,test}.tsv`` →           SHA-256 + size of both files,
            ``americasnli/`` (:mod:`xlprompt.data.americasnli`)               SHA-256 of every converted file
==========  ==============================================================  ==================================

Why the official archives for XNLI and PAWS-X rather than the hub datasets ``facebook/xnli`` and
``google-research-datasets/paws-x``: they are the releases the papers cite, they hold every column the
layout needs (the XNLI genre, the PAWS-X ids), they are single files that resume with HTTP ``Range``
and can be mirrored like any other URL, and reading them needs neither ``datasets`` nor the hub cache.

Requests: each pinned GitHub source is one repository archive at its pinned commit
(``codeload.github.com/{owner}/{repo}/tar.gz/{commit}``), every file in it checked against its pin
(fewshot: the SHA-256 and size of each of the 270 files; tatoeba and tatoeba-sib200: the SHA-256 of each
converted file; sib200: the SHA-256 and size of each release file and of each converted one), so the four
default sources take 4 requests and ``--only sib200,tatoeba-sib200`` 2. A mirror that serves single files (it answers 404 for the
archive) is read one file per request. XNLI-1.0.zip and multinli_1.0.zip are pinned by their published
size and SHA-256, x-final.tar.gz by its size and content facts. A file that is not the pinned one is a
one-line error with the expected and actual values; to proceed, fetch the original through ``--mirror``,
or accept the changed upstream file with ``--unpinned SOURCE`` (its content facts are still checked).

Converters: one rule for every TSV of an archive: fields split on tabs only (quote characters are text),
and a row whose field count differs from the header's is an error naming the line (nothing padded or
skipped); an XNLI label other than entailment/neutral/contradiction is an error. macOS ``__MACOSX/`` and
``._`` entries are ignored; members are found by their exact names. PAWS-X's "NS" placeholder rows are
dropped, counted in the report and recorded (:mod:`xlprompt.data.pawsx_ns`).

Rate limits: an HTTP 429 or 503 is waited out and retried (at most 5 retries per request): ``Retry-After``
(seconds or a date) is honoured up to 60 s, a longer one fails at once; without it the wait doubles from
2 s. A failure leaves what was fetched in place, and ``fetch`` prints the command that resumes it.

Downloads (:class:`Fetcher`):

* streamed with a tqdm bar into ``OUT/.partial/<host>/<path>``; a file there is never used until it
  has its full size and its SHA-256 (where pinned) or its content facts check out;
* resumable: a second call sends ``Range: bytes=N-`` for a partial file of N bytes and appends (a
  server that ignores ``Range`` answers 200 and the file restarts);
* idempotent: each source first checks the files already in ``OUT`` (SHA-256 or content facts) and
  downloads nothing when they are complete (``--force`` downloads again);
* a failure is one line naming the URL and the fix: offline / unreachable, HTTP error, a download that
  broke off (run again to resume), wrong size, SHA-256 mismatch or unreadable archive (the partial file
  is deleted). The other sources are still tried; ``fetch`` reports every failure.
* ``--mirror URL`` replaces the scheme and host of every download and keeps its path (prefixed by the
  mirror's own path, if any): ``https://raw.githubusercontent.com/mprompting/...`` becomes
  ``URL/mprompting/...``.
* ``--timeout S`` (or ``$XLPROMPT_FETCH_TIMEOUT``; default 30 s, finite, at most 10**6) bounds the time without
  progress: connecting and the response headers (redirects included) take at most S seconds in all (a watchdog
  closes the connection), and a download fails when any S seconds bring less than :data:`MIN_RATE` bytes/s on
  average. A redirect loop, or a redirect off http(s), is one line.
* bounded: archive members are streamed row by row (:class:`TsvFiles`, :func:`tsv_rows`); a line over
  :data:`MAX_LINE`, a file read whole over :data:`MAX_MEMBER`, and a download without a pinned size over that,
  are refused. Every download stops at its pinned size, else at its limit (:data:`MAX_DOWNLOAD` by default); a
  member that unpacks past :data:`MAX_UNPACKED` is refused from its declared size before it is read; a converter
  stops at the first row past the release's count.

Writing (:func:`fetch_data`): build into a new place, verify, then swap in.

* each source writes into ``OUT/.staging/<source>/``, seeded with hard links to its files already in ``OUT``
  (:meth:`Source.outputs` lists them); its check runs there; only then is each file moved into place (one
  rename per file, so a file of ``OUT`` is at every moment the old verified one or the new verified one). A
  failed check changes nothing. The staging folder is marked verified before the moves, and a call that finds
  one left by a killed call finishes them; an unverified one is deleted.
* sources whose every file is verified on its own before it is written (:meth:`Source.writes_verified_files`:
  the few-shot splits, pinned Tatoeba, SIB-200, AmericasNLI) keep what they wrote when they fail part way.
* every output path is checked before any download: a folder in the place of a file (or a file in the place of
  a folder) is a one-line error; fetch never deletes what it did not write. So are fetch's own names
  (``.staging/``, whose folders fetch marks with ``.xlprompt-stage``, ``.partial/``, ``.fetch.lock``): what a user
  put there is a one-line error, never deleted or written over.
* one call at a time per data folder (``OUT/.fetch.lock``, ``flock``): a second one logs the owner, waits, and
  then finds its sources complete.
* a whole download (``.partial/<host>/<path>.complete``) stays until its source succeeds, so a call killed
  while it converts an archive is followed by one that converts it without downloading it
  (:meth:`Fetcher.complete`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shlex
import shutil
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from xlprompt.data.download import (  # noqa: F401  (re-exported: the sources below and their users)
    _CHUNK,
    BACKOFF,
    DEFAULT_TIMEOUT,
    MAX_LINE,
    MAX_MEMBER,
    MAX_UNPACKED,
    MAX_WAIT,
    MIN_RATE,
    PARTIAL,
    RETRIES,
    RETRY_STATUSES,
    TIMEOUT_ENV,
    Fetcher,
    FetchError,
    Source,
    TsvFiles,
    _changed,
    _clean,
    _columns,
    _is_macos_entry,
    _reason,
    _sha256,
    _split_tsv,
    _write_tsv,
    _writing,
    apply_mirror,
    check_unpacked,
    github_archive_url,
    github_members,
    iter_lines,
    read_bounded,
    staged_names,
    too_many_rows,
    tsv_rows,
)
from xlprompt.data.tsv import read_tsv
from xlprompt.errors import ConfigError, DataError
from xlprompt.languages import LABELS, SOURCE_LANGUAGE, TARGET_LANGUAGES, XNLI_LANGUAGES

__all__ = [
    "FetchError",
    "Fetcher",
    "Source",
    "SOURCES",
    "DEFAULT_SOURCES",
    "DEFAULT_TIMEOUT",
    "TIMEOUT_ENV",
    "fetch_data",
    "apply_mirror",
    "fewshot_pins",
    "FetchReport",
    "github_archive_url",
    "RETRY_STATUSES",
]

XLMRPROMPT_COMMIT = "39aed8fa0bbb934a2ef60569c016f25bcb66c387"
FEWSHOT_BASE = f"https://raw.githubusercontent.com/mprompting/xlmrprompt/{XLMRPROMPT_COMMIT}/common_datasets"
LASER_COMMIT = "74bc6ae7ffb7cba670fe0f428d0ede9f666fb821"
TATOEBA_BASE = f"https://raw.githubusercontent.com/facebookresearch/LASER/{LASER_COMMIT}/data/tatoeba/v1"
XNLI_URL = "https://dl.fbaipublicfiles.com/XNLI/XNLI-1.0.zip"
PAWSX_URL = "https://storage.googleapis.com/paws/pawsx/x-final.tar.gz"
MULTINLI_URL = "https://cims.nyu.edu/~sbowman/multinli/multinli_1.0.zip"

#: Published sizes and SHA-256 of the archives (the same values in several independent download scripts);
#: x-final.tar.gz has no published hash: its size (the Hugging Face dataset card) and its content facts.
XNLI_SIZE, XNLI_SHA256 = 17_865_352, "4ba1d5e1afdb7161f0f23c66dc787802ccfa8a25a3ddd3b165a35e50df346ab1"
MULTINLI_SIZE, MULTINLI_SHA256 = 226_850_426, "049f507b9e36b1fcb756cfd5aeb3b7a0cfcb84bf023793652987f7e7e0957822"
PAWSX_SIZE = 30_282_057
#: The longest ``--timeout`` (seconds): a finite bound, as every numeric option has.
MAX_TIMEOUT = 10.0**6


FEWSHOT_ARCHIVE = github_archive_url("mprompting/xlmrprompt", XLMRPROMPT_COMMIT)
TATOEBA_ARCHIVE = github_archive_url("facebookresearch/LASER", LASER_COMMIT)

#: LASER's Tatoeba file codes (ISO 639-3) of the 14 non-English XNLI languages (zh: Mandarin, cmn).
TATOEBA_CODES: dict[str, str] = {
    "ar": "ara",
    "bg": "bul",
    "de": "deu",
    "el": "ell",
    "es": "spa",
    "fr": "fra",
    "hi": "hin",
    "ru": "rus",
    "sw": "swh",
    "th": "tha",
    "tr": "tur",
    "ur": "urd",
    "vi": "vie",
    "zh": "cmn",
}
#: Rows of each LASER Tatoeba v1 test file (the LASER README; ../shared/data/tatoeba/README.md).
TATOEBA_ROWS: dict[str, int] = {**dict.fromkeys(TARGET_LANGUAGES, 1000), "sw": 390, "th": 548}
PAWSX_LANGS: tuple[str, ...] = ("en", "de", "es", "fr", "ja", "ko", "zh")
#: SHA-256 of each ``tatoeba/{xx}-en.tsv`` as converted from the LASER files at the pinned commit.
TATOEBA_SHA256: dict[str, str] = {
    "ar": "33e9ee35563e23a8a886f4bc17c645c9b4ebb8788ee302a87197ebba869bd7c5",
    "bg": "93ceb3c721424cf82a5ca87028df287d573179c2b7c9c78400613e54b4edbe4b",
    "de": "00052290bc8dfa84eb13eeaa685c6832e84146c0ceeccfa2b3ad75f4db537350",
    "el": "c8253b6e6d55ea8f78500abb1b3fe10bd4586f713ed78fcfcb79dbbd7cae5476",
    "es": "c15b3d9f572b62afebe5b711253489eb506b17d32e4467143418eb2fffbfebd6",
    "fr": "a2a23ae1754dc1cbc0d62b9f18908a0e23cf0d08556587cd1fd123f2d25fd082",
    "hi": "aa16a5fc6239aeffe3269c9615773f6df95e6ed494d71715d6eb670dfe324228",
    "ru": "c3b3ea414c8ef32589ec2a479966780733559926aebe4533e8a81c71f0a18bc8",
    "sw": "e067c4f97ec742556dc08d2b0d9e08e91f7e19194224870078208c0e8af609e2",
    "th": "eaa6633bdbaf0f5c024b6c025aca41a4b876a7b4f5e39cbf6221b72b4e848478",
    "tr": "3efeccb84ceba56b499762513fbde7243f0e7e4fad6c17ba1761ce0d09ebb8d7",
    "ur": "8bb3fced59237e5a41e1643f8e65821d59ae1f0feea4b568e458a72ae227b465",
    "vi": "4fdb3ef26ed03dcc490401cbb602b2666f1f05f861681542fe1c4b026811568e",
    "zh": "2a3c1ed427a626c6a8d78b61ad53d1d259dae25afd085b1044c522ff1d5312ba",
}


def fewshot_pins() -> list[tuple[str, int, str]]:
    """``(sha256, size, path under common_datasets/)`` of every pinned few-shot file."""
    from importlib import resources

    text = resources.files("xlprompt.resources").joinpath("xlmrprompt_fewshot_sha256.txt").read_text("utf-8")
    pins = []
    for line in text.split("\n"):
        if line.strip():
            sha, size, path = line.split(" ", 2)
            pins.append((sha, int(size), path))
    return pins


@dataclass
class PinnedFiles(Source):
    """Files downloaded verbatim and checked by SHA-256 and size (the few-shot splits)."""

    base_url: str = FEWSHOT_BASE
    folder: str = "xnli-fewshot"
    pins: list[tuple[str, int, str]] = field(default_factory=list)
    #: the repository archive at the pinned commit (one request); None: one request per file
    archive_url: str | None = FEWSHOT_ARCHIVE
    archive_prefix: str = "common_datasets"

    def file_url(self, rel: str) -> str:
        return f"{self.base_url}/{quote(rel, safe='/,')}"

    def urls(self) -> list[str]:
        return [self.file_url(rel) for _, _, rel in self.pins]

    def _bad(self, out: Path, pinned: bool = True) -> list[tuple[str, int, str]]:
        bad = []
        for sha, size, rel in self.pins:
            path = out / self.folder / rel
            if not path.is_file() or (pinned and (path.stat().st_size != size or _sha256(path) != sha)):
                bad.append((sha, size, rel))
        return bad

    def check(self, out: Path, pinned: bool = True) -> str | None:
        bad = self._bad(out, pinned)
        return None if not bad else f"{len(bad)} of {len(self.pins)} files missing or changed ({bad[0][2]}, ...)"

    def fetch(self, fetcher: Fetcher) -> None:
        todo = list(self.pins) if fetcher.force else self._bad(fetcher.out, self.name not in fetcher.unpinned)
        if not todo:
            return
        archive = self._github(fetcher, self.archive_url)
        if archive is not None:
            self._from_archive(fetcher, archive, todo)
            return
        bar = None
        if fetcher.progress:
            from tqdm.auto import tqdm

            bar = tqdm(
                total=sum(size for _, size, _ in todo),
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=f"{self.name} ({len(todo)} files)",
            )
        try:
            for sha, size, rel in todo:
                if self.name in fetcher.unpinned:
                    sha, size = None, None
                fetcher.download(self.file_url(rel), fetcher.out / self.folder / rel, sha, size, bar, self.name)
        finally:
            if bar is not None:
                bar.close()

    def _from_archive(self, fetcher: Fetcher, archive: Path, todo: list[tuple[str, int, str]]) -> None:
        """Every file of ``todo`` from the repository archive, checked against its pin, then written verbatim,
        one member at a time (the verified ones are kept when another fails, so a second call fetches only what
        is left)."""
        from xlprompt.safety import atomic_write_bytes

        real = fetcher.url(self.archive_url or "")
        pins = {rel: (sha, size) for sha, size, rel in todo}
        problems: dict[str, str] = {}

        def each(rel: str, data: bytes) -> None:
            sha, size = pins[rel]
            if self.name not in fetcher.unpinned:
                actual = hashlib.sha256(data).hexdigest()
                if len(data) != size or actual != sha:
                    problems[rel] = (
                        f"{real}: {self.archive_prefix}/{rel}: SHA-256 {actual} ({len(data):,} bytes), expected the "
                        f"pinned {sha} ({size:,} bytes)"
                    )
                    return
            path = fetcher.out / self.folder / rel
            with _writing(path):
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_bytes(path, data)

        found = github_members(fetcher, self.archive_url or "", archive, self.archive_prefix, set(pins), each)
        for rel in pins:
            if rel not in found:
                problems[rel] = f"{real}: {self.archive_prefix}/{rel}: not in the archive"
        archive.unlink(missing_ok=True)
        if problems:
            first = next(problems[rel] for rel in pins if rel in problems)
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise FetchError(
                f"{first}{more}; the {len(todo) - len(problems)} other files are written. The "
                "archive is not the pinned release: fetch it through --mirror URL, or accept the "
                f"changed files with --unpinned {self.name}"
            )

    def outputs(self, out: Path) -> list[Path]:
        return [out / self.folder / rel for _, _, rel in self.pins]

    def writes_verified_files(self, pinned: bool) -> bool:
        return pinned


def _once(zf: zipfile.ZipFile, name: str, real: str) -> None:
    """A member the converter reads must appear once (with two, which one is read would be the archiver's choice)."""
    if zf.namelist().count(name) > 1:
        raise FetchError(f"{real}: {name} appears twice in the archive; not the release: check --mirror")


@dataclass
class XnliArchive(Source):
    """XNLI 1.0 (``XNLI-1.0/xnli.{dev,test}.tsv`` in the official zip) → ``xnli/{dev,test}/{lang}.tsv``.

    ``idx`` is the row number within the language, in file order (as XTREME's conversion numbers
    them), so the files are 15-way parallel by ``idx``. ``gold_label`` gives the label (XNLI 1.0 dev and
    test spell it ``entailment``, ``neutral``, ``contradiction``; any other value is an error),
    ``sentence1``/``sentence2`` the texts. The archive is checked against its published size and SHA-256.
    """

    url: str = XNLI_URL
    sha256: str | None = XNLI_SHA256
    size: int | None = XNLI_SIZE
    rows: dict[str, int] = field(default_factory=lambda: {"dev": 2490, "test": 5010})
    languages: tuple[str, ...] = XNLI_LANGUAGES

    def urls(self) -> list[str]:
        return [self.url]

    def check(self, out: Path, pinned: bool = True) -> str | None:
        from xlprompt.data.xnli import load_xnli

        for split, n in self.rows.items():
            for lang in self.languages:
                path = out / "xnli" / split / f"{lang}.tsv"
                if not path.is_file():
                    return f"{path} is missing"
                try:
                    labels = [e.label for e in load_xnli(split, lang, out)]
                except DataError as err:
                    return str(err)
                expected = [n // 3] * 3
                found = [labels.count(i) for i in range(3)]
                if len(labels) != n or found != expected:
                    return f"{path}: {len(labels)} rows with labels {found}, expected {n} rows, {expected}"
        return None

    def outputs(self, out: Path) -> list[Path]:
        return [out / "xnli" / split / f"{lang}.tsv" for split in self.rows for lang in self.languages]

    def fetch(self, fetcher: Fetcher) -> None:
        archive = self._archive(fetcher, self.url, self.sha256, self.size)
        real = fetcher.url(self.url)
        columns = ("idx", "premise", "hypothesis", "label", "genre")
        wanted = set(self.languages)
        try:
            with zipfile.ZipFile(archive) as zf, TsvFiles() as files:
                members = {n for n in zf.namelist() if not _is_macos_entry(n)}
                for split in self.rows:
                    name = f"XNLI-1.0/xnli.{split}.tsv"
                    if name not in members:
                        raise FetchError(f"{real}: the archive has no {name}; not the XNLI 1.0 release: check --mirror")
                    _once(zf, name, real)
                    where = f"{real}: {name}"
                    for lang in self.languages:  # a language without rows gets a file with no row (the check says so)
                        files.touch(fetcher.out / "xnli" / split / f"{lang}.tsv", columns)
                    counts: dict[str, int] = {}
                    check_unpacked(zf.getinfo(name).file_size, where)
                    with zf.open(name) as handle:  # streamed: one row in memory at a time
                        header, rows = tsv_rows(handle, where)
                        lang_i, label_i, s1_i, s2_i, genre_i = _columns(
                            header, ("language", "gold_label", "sentence1", "sentence2", "genre"), where
                        )
                        for number, fields in rows:
                            label = fields[label_i]
                            if label not in LABELS:
                                raise FetchError(
                                    f"{where} line {number} has gold_label {label!r}, expected one of "
                                    f"{', '.join(LABELS)}; not the XNLI 1.0 release: check --mirror"
                                )
                            lang = fields[lang_i]
                            if lang not in wanted:
                                continue
                            idx = counts.get(lang, 0)
                            if idx == self.rows[split]:
                                raise too_many_rows(f"{where}: language {lang}", self.rows[split])
                            counts[lang] = idx + 1
                            files.write(
                                fetcher.out / "xnli" / split / f"{lang}.tsv",
                                columns,
                                (idx, fields[s1_i].strip(), fields[s2_i].strip(), label, fields[genre_i]),
                            )
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as err:
            archive.unlink(missing_ok=True)
            raise FetchError(
                f"{real}: corrupt archive ({_reason(err)}); it was deleted: run the same command again"
            ) from None
        self._converted(fetcher, real, archive)


@dataclass
class PawsxArchive(Source):
    """PAWS-X (``x-final/{lang}/{dev_2k,test_2k}.tsv`` and ``x-final/en/train.tsv``) → ``pawsx/``.

    ``idx`` is the row number in the file, so that rows with the same ``idx`` are the same pair in
    every language (the release's files are aligned row by row); ``id`` is kept. Rows holding the
    placeholder "NS" instead of a translation are dropped, counted, and recorded in ``pawsx/ns_rows.tsv``
    (:mod:`xlprompt.data.pawsx_ns`). The archive is checked by its size (no hash is published) and the
    rows: kept + dropped = 2,000 per dev/test file, 49,401 English train rows.
    """

    url: str = PAWSX_URL
    size: int | None = PAWSX_SIZE
    rows: dict[str, int] = field(default_factory=lambda: {"dev": 2000, "test": 2000})
    train_rows: int = 49401
    languages: tuple[str, ...] = PAWSX_LANGS

    _FILES = {"dev": "dev_2k.tsv", "test": "test_2k.tsv", "train": "train.tsv"}

    def urls(self) -> list[str]:
        return [self.url]

    def _expected(self) -> list[tuple[str, str, int]]:
        items = [(split, lang, n) for split, n in self.rows.items() for lang in self.languages]
        return items + [("train", SOURCE_LANGUAGE, self.train_rows)]

    def check(self, out: Path, pinned: bool = True) -> str | None:
        from xlprompt.data.pawsx_ns import NS_RECORD, is_ns_row, read_ns_record

        try:
            dropped = read_ns_record(out)
        except DataError as err:
            return str(err)
        for split, lang, n in self._expected():
            path = out / "pawsx" / split / f"{lang}.tsv"
            if not path.is_file():
                return f"{path} is missing"
            try:
                rows = read_tsv(path, ("idx", "id", "sentence1", "sentence2", "label"))
            except DataError as err:
                return str(err)
            found = len(rows)
            ns = dropped.get((split, lang), 0)
            if found + ns != n:
                return f"{path}: {found} rows and {ns} NS rows dropped (in {NS_RECORD}), expected {n} in all"
            kept_ns = sum(is_ns_row(r["sentence1"], r["sentence2"]) for r in rows)
            if kept_ns and ns:
                return f"{path}: {kept_ns} NS rows although {NS_RECORD} lists {ns} dropped ones"
        return None

    #: the NS rows dropped by the last :meth:`fetch`, per (split, lang) (reported by ``fetch``)
    dropped: dict[tuple[str, str], int] = field(default_factory=dict)

    def outputs(self, out: Path) -> list[Path]:
        from xlprompt.data.pawsx_ns import NS_RECORD

        return [out / "pawsx" / split / f"{lang}.tsv" for split, lang, _ in self._expected()] + [out / NS_RECORD]

    def fetch(self, fetcher: Fetcher) -> None:
        from xlprompt.data.pawsx_ns import NS_RECORD, NS_RECORD_COLUMNS, is_ns_row

        archive = self._archive(fetcher, self.url, None, self.size)
        real = fetcher.url(self.url)
        wanted = {f"x-final/{lang}/{self._FILES[split]}": (split, lang) for split, lang, _ in self._expected()}
        columns = ("idx", "id", "sentence1", "sentence2", "label")
        seen: set[str] = set()
        self.dropped = {}
        try:
            with tarfile.open(archive, "r:*") as tar, TsvFiles() as files:
                files.touch(fetcher.out / NS_RECORD, NS_RECORD_COLUMNS)
                for member in tar:  # streamed: one member, and one row of it, at a time
                    check_unpacked(member.offset_data + member.size, f"{real}: {member.name}")
                    if not member.isfile() or _is_macos_entry(member.name) or member.name not in wanted:
                        continue
                    if member.name in seen:
                        raise FetchError(
                            f"{real}: {member.name} appears twice in the archive; not the PAWS-X release: check --mirror"
                        )
                    seen.add(member.name)
                    split, lang = wanted[member.name]
                    expected = self.train_rows if split == "train" else self.rows[split]
                    where = f"{real}: {member.name}"
                    path = fetcher.out / "pawsx" / split / f"{lang}.tsv"
                    files.touch(path, columns)
                    header, rows = tsv_rows(tar.extractfile(member), where)  # type: ignore[arg-type]
                    id_i, s1_i, s2_i, label_i = _columns(header, ("id", "sentence1", "sentence2", "label"), where)
                    for idx, (_, fields) in enumerate(rows):
                        if idx == expected:
                            raise too_many_rows(where, expected)
                        if split != "train" and is_ns_row(fields[s1_i], fields[s2_i]):
                            files.write(fetcher.out / NS_RECORD, NS_RECORD_COLUMNS, (split, lang, idx, fields[id_i]))
                            self.dropped[(split, lang)] = self.dropped.get((split, lang), 0) + 1
                            continue
                        files.write(path, columns, (idx, fields[id_i], fields[s1_i], fields[s2_i], fields[label_i]))
                for name in wanted:
                    if name not in seen:
                        raise FetchError(f"{real}: the archive has no {name}; not the PAWS-X release: check --mirror")
        except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
            archive.unlink(missing_ok=True)
            raise FetchError(
                f"{real}: corrupt archive ({_reason(err)}); it was deleted: run the same command again"
            ) from None
        self._converted(fetcher, real, archive)

    def summary(self) -> str:
        """What ``fetch`` reports about the NS rows it dropped."""
        if not self.dropped:
            return "no NS rows"
        parts = [f"{split}/{lang} {n}" for (split, lang), n in sorted(self.dropped.items(), key=lambda kv: -kv[1])]
        return f"{sum(self.dropped.values())} NS rows dropped ({', '.join(parts)})"


@dataclass
class TatoebaFiles(Source):
    """LASER's Tatoeba v1 test files ``tatoeba.{xxx}-eng.{xxx,eng}`` → ``tatoeba/{xx}-en.tsv`` (idx, xx, en).

    All the files come from one archive of the LASER repository at the pinned commit (with a mirror that
    answers 404 for it: one request per file); each written file is checked by its row count and, where
    pinned (``sha256``: :data:`TATOEBA_SHA256`), its SHA-256. ``codes`` maps each language of ``rows`` (the
    task's code, which names the written file) to LASER's file code: the XNLI languages by default, the
    SIB-200 languages for ``tatoeba-sib200`` (:data:`xlprompt.data.sib200.SIB200_TATOEBA`).
    """

    base_url: str = TATOEBA_BASE
    rows: dict[str, int] = field(default_factory=lambda: dict(TATOEBA_ROWS))
    sha256: dict[str, str] = field(default_factory=dict)
    archive_url: str | None = TATOEBA_ARCHIVE
    archive_prefix: str = "data/tatoeba/v1"
    codes: dict[str, str] = field(default_factory=lambda: dict(TATOEBA_CODES))

    def _names(self, lang: str) -> tuple[str, str]:
        code = self.codes[lang]
        return (f"tatoeba.{code}-eng.{code}", f"tatoeba.{code}-eng.eng")

    def _pair_urls(self, lang: str) -> tuple[str, str]:
        a, b = self._names(lang)
        return (f"{self.base_url}/{a}", f"{self.base_url}/{b}")

    def urls(self) -> list[str]:
        return [url for lang in self.rows for url in self._pair_urls(lang)]

    def _problem(self, out: Path, lang: str, n: int, pinned: bool = True) -> str | None:
        path = out / "tatoeba" / f"{lang}-en.tsv"
        if not path.is_file():
            return f"{path} is missing"
        try:
            found = len(read_tsv(path, ("idx", lang, SOURCE_LANGUAGE)))
        except DataError as err:
            return str(err)
        if found != n:
            return f"{path}: {found} rows, expected {n}"
        if pinned and lang in self.sha256 and _sha256(path) != self.sha256[lang]:
            return f"{path}: SHA-256 {_sha256(path)}, expected the pinned {self.sha256[lang]}"
        return None

    def check(self, out: Path, pinned: bool = True) -> str | None:
        for lang, n in self.rows.items():
            problem = self._problem(out, lang, n, pinned)
            if problem is not None:
                return problem
        return None

    def outputs(self, out: Path) -> list[Path]:
        return [out / "tatoeba" / f"{lang}-en.tsv" for lang in self.rows]

    def writes_verified_files(self, pinned: bool) -> bool:
        return pinned and all(lang in self.sha256 for lang in self.rows)

    def fetch(self, fetcher: Fetcher) -> None:
        todo = {
            lang: n
            for lang, n in self.rows.items()
            if fetcher.force or self._problem(fetcher.out, lang, n, self.name not in fetcher.unpinned) is not None
        }
        if not todo:
            return
        archive = self._github(fetcher, self.archive_url)
        if archive is not None:
            real = fetcher.url(self.archive_url or "")
            side_of = {name: (lang, i) for lang in todo for i, name in enumerate(self._names(lang))}
            sides: dict[str, dict[int, list[str]]] = {}

            def each(name: str, data: bytes) -> None:  # a language is written once both its sides are read
                lang, i = side_of[name]
                sides.setdefault(lang, {})[i] = self._lines(data, f"{real}: {self.archive_prefix}/{name}", todo[lang])
                if len(sides[lang]) == 2:
                    self._write(fetcher, lang, [sides[lang][0], sides[lang][1]], real)
                    del sides[lang]

            found = github_members(fetcher, self.archive_url or "", archive, self.archive_prefix, set(side_of), each)
            archive.unlink(missing_ok=True)
            for name in side_of:
                if name not in found:
                    raise FetchError(
                        f"{real}: the archive has no {self.archive_prefix}/{name}; not the pinned "
                        "LASER commit: check --mirror"
                    )
            return
        for lang, n in todo.items():
            pair: list[list[str]] = []
            paths = []
            for url in self._pair_urls(lang):
                path = self._archive(fetcher, url, limit=MAX_MEMBER)
                try:
                    pair.append(self._lines(path.read_bytes(), fetcher.url(url), n))
                except FetchError:
                    path.unlink(missing_ok=True)
                    raise
                paths.append(path)
            self._write(fetcher, lang, pair, fetcher.url(self._pair_urls(lang)[0]))
            for path in paths:
                path.unlink(missing_ok=True)

    @staticmethod
    def _lines(data: bytes, where: str, n: int) -> list[str]:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise FetchError(
                f"{where}: corrupt, not UTF-8 (byte {err.start}); it was deleted: run the same command again"
            ) from None
        lines = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
        if lines and lines[-1] == "":
            lines.pop()
        if len(lines) != n:
            raise FetchError(
                f"{where}: {len(lines)} lines, expected {n}; it was deleted: run the same command again, "
                "or check --mirror"
            )
        return lines

    def _write(self, fetcher: Fetcher, lang: str, sides: list[list[str]], real: str) -> None:
        from xlprompt.safety import atomic_write_bytes

        text = "".join(f"{i}\t{_clean(a)}\t{_clean(b)}\n" for i, (a, b) in enumerate(zip(*sides)))
        data = f"idx\t{lang}\t{SOURCE_LANGUAGE}\n{text}".encode("utf-8")
        pinned = self.sha256.get(lang) if self.name not in fetcher.unpinned else None
        if pinned is not None and hashlib.sha256(data).hexdigest() != pinned:
            raise FetchError(
                f"{real}: tatoeba/{lang}-en.tsv converted from it has SHA-256 "
                f"{hashlib.sha256(data).hexdigest()}, expected the pinned {pinned}; nothing was written. "
                "The server sends other files than the pinned LASER commit: fetch them through --mirror "
                f"URL, or accept them with --unpinned {self.name}"
            )
        path = fetcher.out / "tatoeba" / f"{lang}-en.tsv"
        with _writing(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, data)


@dataclass
class MultinliArchive(Source):
    """MultiNLI 1.0 train (``multinli_1.0/multinli_1.0_train.jsonl``) → ``multinli/train.tsv``.

    ``idx`` is the row number of the release file, the ``file_idx`` of the fixed few-shot splits. The
    member is found by its exact name (macOS ``__MACOSX/`` and ``._`` entries are ignored); the archive is
    checked against its published size and SHA-256.
    """

    url: str = MULTINLI_URL
    sha256: str | None = MULTINLI_SHA256
    size: int | None = MULTINLI_SIZE
    member: str = "multinli_1.0/multinli_1.0_train.jsonl"
    train_rows: int = 392702

    def urls(self) -> list[str]:
        return [self.url]

    def check(self, out: Path, pinned: bool = True) -> str | None:
        path = out / "multinli" / "train.tsv"
        if not path.is_file():
            return f"{path} is missing"
        try:
            found = len(read_tsv(path, ("idx", "premise", "hypothesis", "label")))
        except DataError as err:
            return str(err)
        return None if found == self.train_rows else f"{path}: {found} rows, expected {self.train_rows}"

    def outputs(self, out: Path) -> list[Path]:
        return [out / "multinli" / "train.tsv"]

    def fetch(self, fetcher: Fetcher) -> None:
        archive = self._archive(fetcher, self.url, self.sha256, self.size)
        real = fetcher.url(self.url)
        columns = ("idx", "premise", "hypothesis", "label", "genre", "pairID")
        path = fetcher.out / "multinli" / "train.tsv"
        where = f"{real}: {self.member}"
        try:
            with zipfile.ZipFile(archive) as zf, TsvFiles() as files:
                if self.member not in zf.namelist():
                    raise FetchError(
                        f"{real}: the archive has no {self.member}; not the MultiNLI 1.0 release: check --mirror"
                    )
                _once(zf, self.member, real)
                files.touch(path, columns)
                idx = 0
                check_unpacked(zf.getinfo(self.member).file_size, where)
                with zf.open(self.member) as handle:  # streamed: one row in memory at a time
                    for number, line in iter_lines(handle, where):
                        if not line.strip():
                            continue
                        try:
                            item = json.loads(line)
                            row = (
                                idx,
                                item["sentence1"],
                                item["sentence2"],
                                item["gold_label"],
                                item.get("genre", ""),
                                item.get("pairID", ""),
                            )
                        except (ValueError, KeyError, TypeError, AttributeError):
                            raise FetchError(
                                f"{where} line {number} is not a MultiNLI row; the archive is corrupt: run again "
                                "with --force"
                            ) from None
                        if row[3] not in LABELS:
                            raise FetchError(f"{where} line {number} has label {row[3]!r}")
                        if idx == self.train_rows:
                            raise too_many_rows(where, self.train_rows)
                        files.write(path, columns, row)
                        idx += 1
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as err:
            archive.unlink(missing_ok=True)
            raise FetchError(
                f"{real}: corrupt archive ({_reason(err)}); it was deleted: run the same command again"
            ) from None
        self._converted(fetcher, real, archive)


@dataclass
class MuseDictionaries(Source):
    """MUSE's bilingual dictionaries ``en-XX.txt`` (SoftMV's code-switching source) → ``muse/en-XX.txt``.

    The files are written verbatim; not pinned (MUSE publishes no checksums), so they are checked by content:
    UTF-8, every line ``source target`` (:func:`xlprompt.data.muse.read_dictionary`), at least one pair.
    """

    languages: tuple[str, ...] = ()

    def _url(self, lang: str) -> str:
        from xlprompt.data.muse import MUSE_URL

        return MUSE_URL.format(lang=lang)

    def _langs(self) -> tuple[str, ...]:
        from xlprompt.data.muse import SOFTMV_LANGUAGES

        return self.languages or SOFTMV_LANGUAGES

    def urls(self) -> list[str]:
        return [self._url(lang) for lang in self._langs()]

    @staticmethod
    def _problem(path: Path) -> str | None:
        from xlprompt.data.muse import read_dictionary

        try:
            return None if read_dictionary(path) else f"{path}: no word pair"
        except DataError as err:
            return str(err)

    def check(self, out: Path, pinned: bool = True) -> str | None:
        for lang in self._langs():
            path = out / "muse" / f"en-{lang}.txt"
            if not path.is_file():
                return f"{path} is missing"
            problem = self._problem(path)
            if problem is not None:
                return problem
        return None

    def outputs(self, out: Path) -> list[Path]:
        return [out / "muse" / f"en-{lang}.txt" for lang in self._langs()]

    def fetch(self, fetcher: Fetcher) -> None:
        for lang in self._langs():
            dest = fetcher.out / "muse" / f"en-{lang}.txt"
            if dest.is_file() and self._problem(dest) is None and not fetcher.force:
                continue
            path = self._archive(fetcher, self._url(lang), limit=MAX_MEMBER)
            problem = self._problem(path)
            if problem is not None:
                path.unlink(missing_ok=True)
                raise FetchError(
                    f"{fetcher.url(self._url(lang))}: not a MUSE dictionary ({problem.split(': ', 1)[-1]});"
                    " it was deleted: run the same command again, or check --mirror"
                )
            with _writing(dest):
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, dest)


def default_sources() -> dict[str, Source]:
    # the SIB-200 and AmericasNLI sources build on this module's Source and Fetcher: imported here
    from xlprompt.data.americasnli import AmericasNliFiles
    from xlprompt.data.sib200 import SIB200_TATOEBA, Sib200Files, tatoeba_sib200_pins

    return {
        "fewshot": PinnedFiles("fewshot", "Zhao & Schütze's fixed few-shot splits (xlmrprompt)", pins=fewshot_pins()),
        "xnli": XnliArchive("xnli", "XNLI 1.0 dev and test, 15 languages"),
        "pawsx": PawsxArchive("pawsx", "PAWS-X dev, test (7 languages) and English train"),
        "tatoeba": TatoebaFiles("tatoeba", "LASER Tatoeba v1, 14 languages with English", sha256=dict(TATOEBA_SHA256)),
        "multinli": MultinliArchive("multinli", "MultiNLI 1.0 train (optional: sample_pool=multinli)"),
        "muse": MuseDictionaries("muse", "MUSE bilingual dictionaries en-XX (optional: SoftMV's code-switching)"),
        "sib200": Sib200Files(
            "sib200", "SIB-200 (205 languages): English train, dev and test per language, fixed few-shot splits"
        ),
        "sib200-train": Sib200Files(
            "sib200-train",
            "SIB-200 train splits of the 204 languages besides English (other or several source languages: "
            "config source_languages)",
            other_train=True,
        ),
        "tatoeba-sib200": TatoebaFiles(
            "tatoeba-sib200",
            "LASER Tatoeba v1 for the 82 SIB-200 languages it covers",
            rows={lang: n for lang, (_, n) in SIB200_TATOEBA.items()},
            codes={lang: code for lang, (code, _) in SIB200_TATOEBA.items()},
            sha256=tatoeba_sib200_pins(),
        ),
        "americasnli": AmericasNliFiles("americasnli", "AmericasNLI dev and test, 10 languages"),
    }


SOURCES: tuple[str, ...] = (
    "fewshot",
    "xnli",
    "pawsx",
    "tatoeba",
    "multinli",
    "muse",
    "sib200",
    "sib200-train",
    "tatoeba-sib200",
    "americasnli",
)
#: What ``fetch`` gets without ``--only`` (MultiNLI, 227 MB, only for ``sample_pool=multinli``).
DEFAULT_SOURCES: tuple[str, ...] = ("fewshot", "xnli", "pawsx", "tatoeba")


@dataclass
class FetchReport:
    present: list[str] = field(default_factory=list)
    fetched: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    requests: int = 0
    downloaded: int = 0
    waits: list[float] = field(default_factory=list)  # seconds waited after each 429/503
    rerun: str | None = None  # the command that resumes what failed


def parse_only(only: str | Sequence[str] | None, known: Sequence[str] = SOURCES, option: str = "--only") -> list[str]:
    """The source names of ``--only`` (or of ``option``: ``--unpinned``), checked against ``known``."""
    if only is None:
        return list(DEFAULT_SOURCES)
    names = [p.strip() for p in only.split(",")] if isinstance(only, str) else list(only)
    names = [n for n in names if n]
    bad = [n for n in names if n not in known]
    if bad or not names:
        raise ConfigError(
            f"{option}: unknown source{'s' if len(bad) > 1 else ''} {', '.join(n if n.isprintable() else repr(n) for n in bad) or '(none given)'}; "
            f"allowed: {', '.join(known)} (comma-separated)"
        )
    return list(dict.fromkeys(names))


STAGING = ".staging"
LOCK = ".fetch.lock"
VERIFIED = ".verified"  # in a staging folder: its files passed the check; the swap may be finished by a later call
#: in a staging folder: fetch made it (what fetch did not make is never deleted, whatever its name)
STAGE_MARK = ".xlprompt-stage"


def _own_stage(stage: Path) -> bool:
    return stage.is_dir() and not stage.is_symlink() and (stage / STAGE_MARK).is_file()


def _check_own_names(out: Path) -> None:
    """The names fetch keeps for itself in ``out`` (``.staging/``, ``.partial/``, ``.fetch.lock``) must be free
    or fetch's own: what a user put there is never deleted, moved or written over; it is a one-line error."""
    for name in (STAGING, PARTIAL):
        path = out / name
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            raise DataError(
                f"{path} is not a folder of `data fetch` (a file or a link where fetch keeps its {name} folder); "
                "move it away (fetch never deletes what it did not write), or pass another --out"
            )
    stages = out / STAGING
    if stages.is_dir():
        for stage in stages.iterdir():
            if not _own_stage(stage) and not (stage.is_dir() and not any(stage.iterdir())):  # empty: just made
                raise DataError(
                    f"{stage} was not made by `data fetch` (no {STAGE_MARK} in it), in the folder where fetch "
                    "builds each source; move it away (fetch never deletes what it did not write), or pass another "
                    "--out"
                )
    lock = out / LOCK
    if lock.is_symlink() or (lock.exists() and not lock.is_file()):
        raise DataError(f"{lock} is not fetch's lock file (a folder or a link); move it away, or pass another --out")
    if lock.is_file():
        try:
            text = lock.read_text("utf-8").strip()
            ours = not text or set(json.loads(text)) == {"pid", "host"}
        except (OSError, ValueError, TypeError):
            ours = False
        if not ours:
            raise DataError(
                f"{lock} is not fetch's lock file (it holds something else); move it away (fetch never writes "
                "over what it did not write), or pass another --out"
            )


def _check_outputs(name: str, source: Source, out: Path) -> None:
    """Every file the source writes must be a file or nothing, under folders or nothing: checked before any
    download (fetch never deletes or moves away what it did not write)."""
    for path in source.outputs(out):
        if path.exists() and not path.is_file():
            raise DataError(
                f"{path} is a folder (or not a plain file) where `data fetch` writes {name}'s file; move it away "
                "(fetch never deletes what it did not write), or pass another --out"
            )
        for parent in path.relative_to(out).parents:
            folder = out / parent
            if folder != out and folder.exists() and not folder.is_dir():
                raise DataError(
                    f"{folder} is a file where `data fetch` needs the folder of {name}'s files; move it away, or "
                    "pass another --out"
                )


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _stage(source: Source, out: Path, stage: Path) -> None:
    """A fresh staging folder holding (hard links to) the source's files already in ``out``: the source works
    there as in ``out`` (what is complete is checked and skipped), and writers replace links, never write
    through them (every writer writes a temporary file and renames it)."""
    if _own_stage(stage):
        shutil.rmtree(stage)
    stage.mkdir(parents=True)  # a folder of the same name that fetch did not make: an error, never deleted
    (stage / STAGE_MARK).write_bytes(b"")
    for path in source.outputs(out):
        if path.is_file():
            _link_or_copy(path, stage / path.relative_to(out))


def _swap_in(stage: Path, out: Path) -> int:
    """Move every file of the staging folder that differs from ``out``'s into place (one rename each, so that
    each file of ``out`` is at every moment the old verified one or the new verified one); the staging folder is
    then removed. Returns the number of files moved."""
    moved = 0
    for src in sorted(p for p in stage.rglob("*") if p.is_file() and p.name not in (VERIFIED, STAGE_MARK)):
        dst = out / src.relative_to(stage)
        if dst.is_file() and os.path.samefile(src, dst):
            continue
        with _writing(dst):
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
        moved += 1
    shutil.rmtree(stage, ignore_errors=True)
    return moved


def _finish_or_clear(out: Path, log: Callable[[str], None]) -> None:
    """Staging folders left by a call that was stopped: one whose files were verified is swapped in (its swap was
    interrupted), any other is removed (it was never verified)."""
    root = out / STAGING
    if not root.is_dir():
        return
    for stage in sorted(p for p in root.iterdir() if _own_stage(p)):
        if (stage / VERIFIED).is_file():
            moved = _swap_in(stage, out)
            log(f"{stage.name}: finished swapping in the verified files of an interrupted fetch ({moved} files)")
        else:
            shutil.rmtree(stage, ignore_errors=True)
    for stage in root.iterdir():  # one made by a call killed before it marked it: empty, so nobody's data
        with contextlib.suppress(OSError):
            stage.rmdir()
    with contextlib.suppress(OSError):
        root.rmdir()  # when empty


def _clear_downloads(fetcher: Fetcher, source: Source, succeeded: bool) -> None:
    """After a source: on success every download of it is deleted; on failure the ones not verified by a pinned
    SHA-256 are (they are fetched afresh next time), the verified ones kept (nothing is downloaded twice)."""
    for path, verified in fetcher.completed.items():
        if succeeded or not verified:
            path.unlink(missing_ok=True)
    if succeeded:
        for url in source.urls():
            part = fetcher.partial_path(url)
            part.with_name(part.name + ".complete").unlink(missing_ok=True)
    fetcher.completed = {}


def fetch_data(
    out: str | Path,
    only: str | Sequence[str] | None = None,
    mirror: str | None = None,
    force: bool = False,
    timeout: float | None = None,
    progress: bool = True,
    sources: dict[str, Source] | None = None,
    log: Callable[[str], None] = print,
    unpinned: str | Sequence[str] | None = None,
) -> FetchReport:
    """Fill ``out`` with the ``only`` sources (default :data:`DEFAULT_SOURCES`); see the module docstring.

    Every source is tried; failures are collected in the report (one line each), not raised, and
    ``report.rerun`` is the command that resumes them. ``unpinned``: sources whose changed upstream files
    are accepted (their content facts are still checked).

    Each source builds its files in ``out/.staging/<source>/``; they are checked there and only then moved into
    place, so a failed or wrong download never breaks files that were complete. One call at a time works on a
    data folder (``out/.fetch.lock``); a second waits for the first, then finds its sources complete.
    """
    sources = default_sources() if sources is None else sources
    names = parse_only(only, list(sources))
    accepted = frozenset(parse_only(unpinned, list(sources), "--unpinned")) if unpinned else frozenset()
    given = "--timeout"
    if timeout is None:
        env = os.environ.get(TIMEOUT_ENV, "").strip()
        given = f"${TIMEOUT_ENV}={env!r}"
        try:
            timeout = float(env) if env else DEFAULT_TIMEOUT
        except ValueError:
            raise ConfigError(f"{given} is not a number of seconds; unset it or pass --timeout SECONDS") from None
    if not (math.isfinite(timeout) and 0 < timeout <= MAX_TIMEOUT):
        raise ConfigError(f"{given} must be a number of seconds in (0, {MAX_TIMEOUT:,.0f}], not {timeout}")
    apply_mirror("http://x/", mirror)  # validates the mirror before anything is written
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; pass a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise DataError(
            f"cannot write to the data folder ({err.strerror or err}); pass --out DIR you can write", out
        ) from None
    _check_own_names(out)
    for name in names:  # every output path, before any download
        _check_outputs(name, sources[name], out)
    from xlprompt.safety import RunLock

    def busy(owner: str) -> None:
        log(f"{out}: another `xlprompt data fetch` ({owner}) is filling this folder; waiting for it to finish")

    with RunLock(out, LOCK, on_busy=busy):
        return _fetch_locked(out, names, sources, mirror, force, timeout, progress, log, accepted)


def _fetch_locked(
    out: Path,
    names: list[str],
    sources: dict[str, Source],
    mirror: str | None,
    force: bool,
    timeout: float,
    progress: bool,
    log: Callable[[str], None],
    accepted: frozenset[str],
) -> FetchReport:
    _finish_or_clear(out, log)
    fetcher = Fetcher(out, mirror, timeout, progress, force, unpinned=accepted, cache=out)
    report = FetchReport()
    for name in names:
        source = sources[name]
        pinned = name not in accepted
        if not force and source.check(out, pinned) is None:
            report.present.append(name)
            _clear_downloads(fetcher, source, succeeded=True)  # what an earlier, failed call kept is not needed
            log(f"{name}: already complete in {out} (checked), nothing downloaded")
            continue
        stage = out / STAGING / name
        fetcher.out = stage
        try:
            _stage(source, out, stage)
            source.fetch(fetcher)
            problem = source.check(stage, pinned)
        except FetchError as err:
            report.failed[name] = str(err)
            if source.writes_verified_files(pinned):
                with contextlib.suppress(FetchError):  # each file it wrote was verified on its own
                    _swap_in(stage, out)
            _clear_downloads(fetcher, source, succeeded=False)
            continue
        except OSError as err:  # outside a writer that names its file (the staging folder itself, say)
            report.failed[name] = (
                f"{name}: cannot write {err.filename or stage} ({err.strerror or type(err).__name__}); free space "
                "or pass another --out"
            )
            _clear_downloads(fetcher, source, succeeded=False)
            continue
        finally:
            fetcher.out = out
        if problem is not None:
            report.failed[name] = (
                f"{name}: the fetched files fail the check ({staged_names(problem, stage)}); nothing was replaced"
            )
            _clear_downloads(fetcher, source, succeeded=False)
            continue
        try:
            with _writing(stage / VERIFIED):
                (stage / VERIFIED).write_bytes(b"")
            _swap_in(stage, out)
        except FetchError as err:  # verified: the next call finishes the swap (its downloads are kept till then)
            report.failed[name] = f"{err}; the verified files are moved into place by the next call"
            fetcher.completed = {}
            continue
        _clear_downloads(fetcher, source, succeeded=True)
        report.fetched.append(name)
        extra = f"; {source.summary()}" if isinstance(source, PawsxArchive) else ""
        log(f"{name}: fetched and verified ({source.description}){extra}")
    if (out / STAGING).is_dir():
        for stage in (out / STAGING).iterdir():
            if _own_stage(stage) and not (stage / VERIFIED).is_file():
                shutil.rmtree(stage, ignore_errors=True)
        with contextlib.suppress(OSError):
            (out / STAGING).rmdir()  # when empty
    partial = out / PARTIAL
    if partial.is_dir() and not any(p.is_file() for p in partial.rglob("*")):
        shutil.rmtree(partial, ignore_errors=True)
    report.requests, report.downloaded, report.waits = fetcher.requests, fetcher.downloaded, list(fetcher.waits)
    if report.failed:
        options = ["--out", str(out), "--only", ",".join(report.failed)]
        options += ["--mirror", mirror] if mirror else []
        options += ["--unpinned", ",".join(sorted(accepted))] if accepted else []
        report.rerun = "xlprompt data fetch " + " ".join(shlex.quote(option) for option in options)
    return report
