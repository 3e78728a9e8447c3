"""Run hashes of unchanged configs stay the same, so existing results stores stay valid.

Each hash below was recorded with xlprompt 0.1.0. A change to a config's fields, their defaults, a recipe or
the hash function that alters one of these is a change users see: their stores would run everything again.
A new config key keeps these hashes by entering ``xlprompt.config.HASH_OMITTED_AT`` with the value that
reproduces the behaviour before it existed. A deliberate change to one method's recipe (to match its authors'
code) changes that method's hashes only, and updates its rows here.
"""

from __future__ import annotations

import pytest

from xlprompt import RunConfig

RECORDED = [
    ({'method': 'mpt'}, 'baf5474ea09e835c'),
    ({'method': 'sp'}, '21d720205864a164'),
    ({'method': 'ft'}, '3eb2819d663564df'),
    ({'method': 'pct'}, 'e1dd76b72ab83660'),
    ({'method': 'dp'}, '45df89d779482c83'),
    ({'method': 'dpa'}, '4b000f8228fa40f4'),
    ({'method': 'softmv'}, '47dc1793b7f7e303'),
    ({'method': 'mpt', 'task': 'pawsx'}, '3fbc1d1459efd34e'),
    ({'method': 'sp', 'task': 'pawsx'}, 'f24c676855aa9c0e'),
    ({'method': 'ft', 'task': 'pawsx'}, '57682b0fb16c0d11'),
    ({'method': 'pct', 'task': 'pawsx'}, '6bb9c118d022795d'),
    ({'method': 'dp', 'task': 'pawsx'}, 'f4109b8d224a5893'),
    ({'method': 'dpa', 'task': 'pawsx'}, '8ce9d60c326ff98f'),
    ({'method': 'mpt', 'recipe': 'uniform', 'shots': 4, 'seed': 3}, '0da540d1c7b6d1c0'),
    ({'method': 'pct', 'recipe': 'uniform'}, 'f3b0f3a93a354081'),
    ({'method': 'mpt', 'model': 'random:tiny', 'alpha': 1.0, 'translator': 'lstm-2'}, '11e11a0fe81b8fa2'),
    ({'method': 'mpt', 'translator_conditioning': 'language', 'parallel_source': 'tatoeba'}, '0a445e21d2714eee'),
    ({'method': 'softmv', 'softmv_cosda_rate': 0.2}, '54307475e9e79cdc'),
]


@pytest.mark.parametrize("values,expected", RECORDED, ids=[str(v) for v, _ in RECORDED])
def test_recorded_run_hashes_are_unchanged(values, expected):
    assert RunConfig(**values).resolved_hash() == expected
