"""Start-up's heap is frozen once per process, so full collections stop scanning it."""

from __future__ import annotations

import gc

import pytest

from shared import heap

pytestmark = pytest.mark.unit


def test_the_first_call_freezes_what_exists_and_later_calls_do_nothing(monkeypatch):
    monkeypatch.setattr(heap, "_frozen", False)
    kept = [object() for _ in range(10)]  # alive now, so frozen rather than collected
    gc.unfreeze()
    assert heap.freeze_startup_heap() is True
    frozen = gc.get_freeze_count()
    assert frozen >= len(kept)
    more = [[] for _ in range(1000)]
    assert heap.freeze_startup_heap() is False
    assert gc.get_freeze_count() == frozen  # a later app's objects stay collectable
    del kept, more
