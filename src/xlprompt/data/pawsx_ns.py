"""PAWS-X's "NS" rows: translated dev/test rows whose sentence holds the placeholder ``NS`` instead of a
translation. The PAWS-X README (google-research-datasets/paws, ``pawsx/README.md``) asks users to remove
them; xlprompt never reads them as sentences.

* ``xlprompt data fetch --only pawsx`` drops them while converting ``x-final.tar.gz``, reports how many per
  file, and records them in ``pawsx/ns_rows.tsv`` (``split, lang, idx, id``) so that the content check
  (rows kept + rows dropped = 2,000 per file) and ``data stats`` still see them;
* every reader of ``pawsx/{dev,test}/{lang}.tsv`` (the task ``pawsx``, ``parallel_source=pawsx``) skips an
  NS row still present in a folder made otherwise; a parallel pair is dropped when any of its translations
  is an NS row;
* ``xlprompt data stats`` counts them per file (column ``NS``: rows still in the file plus rows dropped at
  fetch).

A row is an NS row when ``sentence1`` or ``sentence2``, stripped of spaces, is exactly ``NS``.

NS rows per 2,000-row file, beside the row counts of the PAWS-X README's table (counted in the dev/test files
of the PAWS-X human translations; "2,000 - NS" is what a run reads):

====  ==========  ===========  ==========  ===========  ============  ===========
lang  dev NS      2,000 - NS   README dev  test NS      2,000 - NS    README test
====  ==========  ===========  ==========  ===========  ============  ===========
de    68          1,932        1,932       32           1,968         1,967
es    38          1,962        1,962       1            1,999         1,999
fr    8           1,992        1,992       14           1,986         1,985
ja    20          1,980        1,980       54           1,946         1,946
ko    35          1,965        1,965       28           1,972         1,972
zh    16          1,984        1,984       25           1,975         1,975
en    0           2,000        (2,000)     0            2,000         (2,000)
====  ==========  ===========  ==========  ===========  ============  ===========

In de and fr test the README lists one row fewer than 2,000 - NS: one more row of each is missing from the
README's count for a reason it does not give; xlprompt drops only the NS rows.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["NS_PLACEHOLDER", "NS_RECORD", "NS_RECORD_COLUMNS", "is_ns_row", "read_ns_record"]

NS_PLACEHOLDER = "NS"
#: Where ``fetch`` records the rows it dropped, relative to the data folder.
NS_RECORD = "pawsx/ns_rows.tsv"
NS_RECORD_COLUMNS: tuple[str, ...] = ("split", "lang", "idx", "id")


def is_ns_row(sentence1: str, sentence2: str) -> bool:
    """Whether a PAWS-X row holds the untranslated placeholder in either sentence."""
    return sentence1.strip() == NS_PLACEHOLDER or sentence2.strip() == NS_PLACEHOLDER


def read_ns_record(root: str | Path) -> dict[tuple[str, str], int]:
    """``(split, lang) -> rows dropped at fetch`` from ``pawsx/ns_rows.tsv`` ({} when there is none)."""
    from xlprompt.data.tsv import read_tsv

    path = Path(root) / NS_RECORD
    if not path.is_file():
        return {}
    counts: dict[tuple[str, str], int] = {}
    for row in read_tsv(path, NS_RECORD_COLUMNS):
        key = (row["split"], row["lang"])
        counts[key] = counts.get(key, 0) + 1
    return counts
