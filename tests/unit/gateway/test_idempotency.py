"""The idempotency window, as clients resending an ``event_id`` experience it."""

from __future__ import annotations

import asyncio
import gc

import pytest

from nexus_gateway.idempotency import (
    AckRecord,
    IdempotencyKey,
    IdempotencyWindow,
    default_per_user,
)
from nexus_mesh.errors import KafkaUnavailableError
from nexus_testkit import ManualClock


def confirm(window: IdempotencyWindow, key: IdempotencyKey, offset: int = 0) -> None:
    window.settle(key, window.begin(key), AckRecord(topic="t", partition=0, offset=offset))


async def test_resend_gets_the_original_ack() -> None:
    window = IdempotencyWindow(window_s=60, max_entries=10)
    key = ("camp", "alice", "e1")
    assert window.lookup(key) is None
    confirm(window, key, offset=7)
    earlier = window.lookup(key)
    assert earlier is not None
    assert await earlier == AckRecord(topic="t", partition=0, offset=7)
    assert window.lookup(("camp", "bob", "e1")) is None, "ids are scoped to the user"


async def test_failed_write_is_forgotten_so_a_retry_writes() -> None:
    window = IdempotencyWindow(window_s=60, max_entries=10)
    key = ("camp", "alice", "e1")
    future = window.begin(key)
    window.fail(key, future, KafkaUnavailableError("down"))
    assert window.lookup(key) is None
    with pytest.raises(KafkaUnavailableError):
        await future


async def test_window_is_bounded_and_says_when_it_forgets_early() -> None:
    evicted: list[None] = []
    window = IdempotencyWindow(
        window_s=60, max_entries=3, on_early_eviction=lambda: evicted.append(None)
    )
    for index in range(5):
        confirm(window, ("c", f"user-{index}", "e"))
    assert len(window) == 3
    assert window.lookup(("c", "user-0", "e")) is None
    assert window.lookup(("c", "user-4", "e")) is not None
    assert len(evicted) == 2, "two entries left within their window"


async def test_one_user_s_fresh_ids_cannot_push_out_another_s() -> None:
    """Mallory sends fresh ids as fast as she likes: her own oldest leave, Alice's stay, and
    so do Mallory's in another campaign (each has a rate limit of its own)."""
    evicted: list[None] = []
    window = IdempotencyWindow(
        window_s=60, max_entries=100, per_user=10, on_early_eviction=lambda: evicted.append(None)
    )
    alice = [("camp", "alice", f"a{n}") for n in range(5)]
    elsewhere = [("other", "mallory", f"o{n}") for n in range(5)]
    for key in alice + elsewhere:
        confirm(window, key)
    for n in range(1_000):
        confirm(window, ("camp", "mallory", f"m{n}"))
    assert all(window.lookup(key) is not None for key in alice + elsewhere)
    assert window.lookup(("camp", "mallory", "m999")) is not None
    assert window.lookup(("camp", "mallory", "m0")) is None
    assert len(window) == 20
    assert len(evicted) == 990, "mallory's own early departures are reported too"


def test_the_default_bound_is_what_the_rate_limit_lets_through() -> None:
    # 50/s over a 300 s window and a 10 s produce timeout, plus the burst of 100.
    assert default_per_user(rate_per_s=50, burst=100, window_s=300, produce_timeout_s=10) == (
        15_600
    )


async def test_a_write_in_doubt_stays_past_the_window_and_the_bound() -> None:
    """Answered ``unconfirmed``, it may still land: the resend it asks for must find it,
    however long the outage and however many others confirm meanwhile."""
    clock = ManualClock()
    window = IdempotencyWindow(window_s=60, max_entries=3, clock=clock)
    key = ("camp", "alice", "in-doubt")
    future = window.begin(key)
    for n in range(10):
        confirm(window, ("camp", f"user-{n}", "e"))
    clock.now += 3_600
    assert window.lookup(key) is future
    window.settle(key, future, AckRecord(topic="t", partition=1, offset=5))
    later = window.lookup(key)
    assert later is not None and await later == AckRecord(topic="t", partition=1, offset=5)
    assert window.pending == 0


async def test_entries_expire_a_window_after_their_confirmation() -> None:
    clock = ManualClock()
    window = IdempotencyWindow(window_s=60, max_entries=10, clock=clock)
    key = ("c", "u", "e1")
    future = window.begin(key)
    clock.now += 30  # the write took its time: the window starts at the ack
    window.settle(key, future, AckRecord(topic="t", partition=0, offset=1))
    clock.now += 59.9
    assert window.lookup(key) is not None
    clock.now += 0.2
    assert window.lookup(key) is None
    assert len(window) == 0


async def test_a_confirmed_write_is_answered_after_it_settles() -> None:
    window = IdempotencyWindow(window_s=60, max_entries=10)
    key = ("camp", "alice", "e1")
    future = window.begin(key)
    waiting = asyncio.ensure_future(asyncio.shield(future))  # a resend racing the first
    window.settle(key, future, AckRecord(topic="t", partition=2, offset=9))
    assert await waiting == AckRecord(topic="t", partition=2, offset=9)
    earlier = window.lookup(key)
    assert earlier is not None
    assert await earlier == AckRecord(topic="t", partition=2, offset=9)


async def test_a_full_window_gives_the_garbage_collector_nothing_to_walk() -> None:
    """Full collections pause the whole gateway for as long as they walk tracked objects:
    confirmed entries must not add to them (docs/benchmarks.md, idempotency window)."""
    window = IdempotencyWindow(window_s=60, max_entries=20_000)
    gc.collect()
    before = len(gc.get_objects())
    gc.disable()
    try:
        for index in range(20_000):
            confirm(window, ("camp", "alice", f"event-{index}"), offset=index)
        # One young collection must be enough: what survives it moves to older generations,
        # where a still-tracked entry would be walked by every full collection.
        gc.collect(0)
    finally:
        gc.enable()
    assert len(window) == 20_000
    assert len(gc.get_objects()) - before < 1_000


async def test_a_write_found_in_the_log_answers_a_resend_but_never_replaces_what_is_known() -> None:
    """A resume's replay reports the user's own events it reads back: a resend of one gets
    that ack. A write of the same id this gateway has in flight, or confirmed, stays the
    answer (it is what this gateway told, or will tell, the client)."""
    clock = ManualClock()
    window = IdempotencyWindow(window_s=60, max_entries=10, clock=clock)
    found = AckRecord(topic="t", partition=3, offset=40)
    window.remember(("camp", "alice", "e1"), found)
    earlier = window.lookup(("camp", "alice", "e1"))
    assert earlier is not None and await earlier == found

    in_flight = window.begin(("camp", "alice", "e2"))
    window.remember(("camp", "alice", "e2"), found)
    assert window.lookup(("camp", "alice", "e2")) is in_flight

    confirm(window, ("camp", "alice", "e3"), offset=7)
    window.remember(("camp", "alice", "e3"), found)
    known = window.lookup(("camp", "alice", "e3"))
    assert known is not None and (await known).offset == 7

    clock.now += 61  # remembered entries leave with the window, as confirmed ones do
    assert window.lookup(("camp", "alice", "e1")) is None


async def test_a_write_in_doubt_whose_delivery_is_cancelled_is_freed_for_a_retry() -> None:
    """A producer stopped with the write still queued cancels its delivery: the entry must
    not stay in doubt forever (every resend answered ``unconfirmed``, a drain waiting)."""
    window = IdempotencyWindow(window_s=60, max_entries=10)
    key = ("camp", "alice", "e1")
    future = window.begin(key)
    delivery: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    window.settle_later(key, future, delivery)  # type: ignore[arg-type]
    delivery.cancel()
    with pytest.raises(KafkaUnavailableError, match="cancelled"):
        await asyncio.wait_for(future, 5)
    assert window.lookup(key) is None and window.pending == 0
