"""The dedupe window forgets by age and by size, never growing without bound."""

from __future__ import annotations

import pytest

from nexus_mesh.service.dedupe import SeenEvents
from nexus_testkit import ManualClock


def test_remembers_within_the_ttl_and_forgets_after() -> None:
    clock = ManualClock()
    seen = SeenEvents(max_entries=10, ttl_s=60, clock=clock)
    seen.add("a")
    clock.now += 59
    assert "a" in seen
    clock.now += 2
    assert "a" not in seen
    assert len(seen) == 0


def test_oldest_go_first_when_full() -> None:
    seen = SeenEvents(max_entries=3, ttl_s=60, clock=ManualClock())
    for event_id in "abcd":
        seen.add(event_id)
    assert "a" not in seen
    assert all(event_id in seen for event_id in "bcd")
    assert len(seen) == 3


def test_adding_again_refreshes_the_entry() -> None:
    clock = ManualClock()
    seen = SeenEvents(max_entries=2, ttl_s=60, clock=clock)
    seen.add("a")
    clock.now += 30
    seen.add("b")
    seen.add("a")
    clock.now += 40  # the first "a" would have expired by now
    assert "a" in seen
    assert "b" in seen
    seen.add("c")
    assert "b" not in seen


def test_rejects_nonsense_bounds() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        SeenEvents(max_entries=0, ttl_s=1)
    with pytest.raises(ValueError, match="ttl_s"):
        SeenEvents(max_entries=1, ttl_s=0)
