"""AmericasNLI (Ebrahimi et al., ACL 2022): XNLI's task in 10 Indigenous languages of the Americas.

Source (pinned): GitHub ``nala-cub/AmericasNLI`` at commit :data:`AMERICASNLI_COMMIT`, the release's combined
files ``dev.tsv`` and ``test.tsv`` (headed, unquoted: ``language``, ``premise``, ``hypothesis``, ``label``),
checked by SHA-256 and size before conversion; every converted file has its own pinned SHA-256
(``resources/americasnli_converted_sha256.txt``, computed by this converter from the git blobs of the pinned
commit), checked whenever fetch checks the folder, so an edited file is fetched again. Licence: the repository has no licence file and the Hugging
Face dataset card names none; the texts translate XNLI sentences (XNLI: CC BY-NC 4.0), so use it for research
and ask the authors before redistributing it.

Languages (the release's codes): aym (Aymara), bzd (Bribri), cni (Asháninka), gn (Guaraní), hch (Wixarika),
nah (Nahuatl), oto (Otomí), quy (Quechua), shp (Shipibo-Konibo), tar (Rarámuri). There is no training data:
a run trains on English XNLI (the XNLI task's few-shot splits) and evaluates here.

Layout written: ``americasnli/{dev,test}/{lang}.tsv`` with ``idx`` (row number within the language, in file
order), ``premise``, ``hypothesis``, ``label``. Checked: rows per split and language (:data:`AMERICASNLI_ROWS`;
dev: 743, but cni 658, nah 376, oto 222; test: 750, but nah 738, oto 748), every label one of the three.

BUFFET (Asai et al., 2023; HF ``BuffetFS/BUFFET``, ``americas_nli/<lang>/americas_nli_16_<seed>_{train,dev}.tsv``)
publishes fixed 16-shot splits per seed *in each target language* (in-language few-shot learning). They are not
used here: this task is transfer from English, whose fixed splits are XNLI's (Zhao & Schütze's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from xlprompt.data.download import Fetcher, FetchError, Source, _columns, _split_tsv, _write_tsv
from xlprompt.data.tsv import read_tsv
from xlprompt.errors import DataError
from xlprompt.languages import LABELS
from xlprompt.safety import sha256_file

AMERICASNLI_COMMIT = "be3c351b7e1ae69936c61bfde3e24f30757db9ac"
AMERICASNLI_BASE = f"https://raw.githubusercontent.com/nala-cub/AmericasNLI/{AMERICASNLI_COMMIT}"
AMERICASNLI_LANGUAGES: tuple[str, ...] = ("aym", "bzd", "cni", "gn", "hch", "nah", "oto", "quy", "shp", "tar")
AMERICASNLI_NAMES: dict[str, str] = {
    "aym": "Aymara",
    "bzd": "Bribri",
    "cni": "Asháninka",
    "gn": "Guaraní",
    "hch": "Wixarika",
    "nah": "Nahuatl",
    "oto": "Otomí",
    "quy": "Quechua",
    "shp": "Shipibo-Konibo",
    "tar": "Rarámuri",
}
AMERICASNLI_ROWS: dict[str, dict[str, int]] = {
    "dev": {**dict.fromkeys(AMERICASNLI_LANGUAGES, 743), "cni": 658, "nah": 376, "oto": 222},
    "test": {**dict.fromkeys(AMERICASNLI_LANGUAGES, 750), "nah": 738, "oto": 748},
}
#: SHA-256 and size of the release files at the pinned commit
AMERICASNLI_PINS: dict[str, tuple[str, int]] = {
    "dev.tsv": ("a2678f2820a2008547c5d993118979cc82a25d51a73570571566a1b74d8e8530", 1090405),
    "test.tsv": ("1e16c058de33ddaab4a037b1078a31ecab08afddfdc840140593b6da1439bcf8", 1165688),
}


def americasnli_converted_pins() -> dict[str, str]:
    """``{"americasnli/<split>/<lang>.tsv": sha256}`` of the 20 converted files of the pinned release."""
    from importlib import resources

    text = resources.files("xlprompt.resources").joinpath("americasnli_converted_sha256.txt").read_text("utf-8")
    return {line.split()[1]: line.split()[0] for line in text.split("\n") if line.strip()}


def americasnli_file(root: Path, split: str, lang: str) -> Path:
    return Path(root) / "americasnli" / split / f"{lang}.tsv"


def read_americasnli(root: Path, split: str, lang: str) -> list:
    """``americasnli/{split}/{lang}.tsv`` as examples (uid ``americasnli-{split}-{lang}-{idx}``)."""
    from xlprompt.data.examples import NLIExample

    path = americasnli_file(root, split, lang)
    out = []
    for row in read_tsv(path, ("idx", "premise", "hypothesis", "label")):
        if row["label"] not in LABELS:
            raise row.error(f"unknown label {row['label']!r}; allowed: {', '.join(LABELS)}")
        out.append(
            NLIExample(
                row["premise"],
                row["hypothesis"],
                LABELS.index(row["label"]),
                lang,
                f"americasnli-{split}-{lang}-{row['idx']}",
            )
        )
    if not out:
        raise DataError("no rows", path)
    return out


@dataclass
class AmericasNliFiles(Source):
    """The AmericasNLI release's ``dev.tsv``/``test.tsv`` (pinned) → ``americasnli/{split}/{lang}.tsv``."""

    base_url: str = AMERICASNLI_BASE
    rows: dict[str, dict[str, int]] = field(default_factory=lambda: {s: dict(r) for s, r in AMERICASNLI_ROWS.items()})
    #: ``{file: (sha256, size)}``; None: the release's
    pins: dict[str, tuple[str, int]] | None = None
    #: ``{"americasnli/<split>/<lang>.tsv": sha256}`` of the converted files; None: the shipped ones (with the
    #: shipped ``pins``; with other ``pins`` and no ``converted``, the converted files are checked by content)
    converted: dict[str, str] | None = None

    def _converted_pins(self) -> dict[str, str]:
        if self.converted is not None:
            return self.converted
        return americasnli_converted_pins() if self.pins is None else {}

    def urls(self) -> list[str]:
        return [f"{self.base_url}/{split}.tsv" for split in self.rows]

    def outputs(self, out: Path) -> list[Path]:
        return [americasnli_file(out, split, lang) for split, per_lang in self.rows.items() for lang in per_lang]

    def writes_verified_files(self, pinned: bool) -> bool:
        return True  # each file is converted from a raw file checked by its pinned SHA-256

    def check(self, out: Path, pinned: bool = True) -> str | None:
        for split, per_lang in self.rows.items():
            for lang, n in per_lang.items():
                path = americasnli_file(out, split, lang)
                if not path.is_file():
                    return f"{path} is missing"
                expected = self._converted_pins().get(f"americasnli/{split}/{lang}.tsv") if pinned else None
                if expected is not None and sha256_file(path) != expected:
                    return f"{path}: SHA-256 {sha256_file(path)}, expected the pinned {expected} (edited?)"
                try:
                    found = len(read_americasnli(out, split, lang))
                except DataError as err:
                    return str(err)
                if found != n:
                    return f"{path}: {found} rows, expected {n}"
        return None

    def fetch(self, fetcher: Fetcher) -> None:
        pins = AMERICASNLI_PINS if self.pins is None else self.pins
        for split, per_lang in self.rows.items():
            url = f"{self.base_url}/{split}.tsv"
            sha, size = pins[f"{split}.tsv"]
            raw = fetcher.complete(url, sha256=sha, size=size)
            where = f"{fetcher.url(url)}"
            header, rows = _split_tsv(raw.read_bytes(), where)
            lang_i, p_i, h_i, label_i = _columns(header, ("language", "premise", "hypothesis", "label"), where)
            by_lang: dict[str, list] = {}
            for number, fields in enumerate(rows, start=2):
                if len(fields) != len(header):
                    raise FetchError(f"{where}: line {number} has {len(fields)} fields, expected {len(header)}")
                if fields[label_i] not in LABELS:
                    raise FetchError(f"{where}: line {number} has label {fields[label_i]!r}")
                by_lang.setdefault(fields[lang_i], []).append(
                    (fields[p_i].strip(), fields[h_i].strip(), fields[label_i])
                )
            for lang in per_lang:
                if lang not in by_lang:
                    raise FetchError(f"{where}: no rows of language '{lang}'; not the AmericasNLI release")
                _write_tsv(
                    americasnli_file(fetcher.out, split, lang),
                    ("idx", "premise", "hypothesis", "label"),
                    ((i, *item) for i, item in enumerate(by_lang[lang])),
                )
            raw.unlink(missing_ok=True)
