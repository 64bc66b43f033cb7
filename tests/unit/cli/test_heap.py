"""The command-line entry points freeze what they imported before serving."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from nexus_mesh.cli.heap import freeze_startup_heap


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_frozen_objects_leave_the_collections(unfrozen: None) -> None:
    """What was imported is no longer walked by a full collection; garbage made before is
    collected first rather than frozen for ever."""

    class Node:
        pass

    garbage = Node()
    garbage.itself = garbage  # type: ignore[attr-defined]  # a cycle only a collection frees
    gone = weakref.ref(garbage)
    del garbage
    walked_before = len(gc.get_objects())
    freeze_startup_heap()
    assert gc.get_freeze_count() > 0
    assert len(gc.get_objects()) < walked_before / 10
    assert gone() is None
