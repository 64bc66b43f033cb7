"""Rate limits and the idempotency window, as a client of the gateway experiences them."""

from __future__ import annotations

import asyncio
import gc

import pytest

from nexus_gateway.limits import AckRecord, IdempotencyWindow, TokenBucket, UserRateLimits
from nexus_mesh.errors import KafkaUnavailableError


def test_bucket_allows_the_burst_then_refuses() -> None:
    bucket = TokenBucket(rate=0.001, burst=5)
    assert [bucket.take() for _ in range(7)] == [True] * 5 + [False, False]


def test_a_refused_take_says_how_long_until_the_next_one() -> None:
    bucket = TokenBucket(rate=2.0, burst=1)
    assert bucket.wait_s() == 0.0
    assert bucket.take()
    assert not bucket.take()
    wait = bucket.wait_s()
    # At most half a second (less by however long the machine took since the take).
    assert 0 < wait <= 0.5, "one token at 2 per second is half a second away"


def test_a_user_s_connections_share_one_bucket() -> None:
    """More connections, or a reconnect, buy a user no more events; other users keep theirs."""
    limits = UserRateLimits(rate=0.001, burst=3)
    alice = ("camp", "alice")
    first = limits.acquire(alice)
    second = limits.acquire(alice)
    assert [first.take(), second.take(), first.take()] == [True, True, True]
    assert not second.take(), "the burst is the user's, not each connection's"
    limits.release(alice)
    limits.release(alice)
    again = limits.acquire(alice)  # reconnected: the spent bucket was kept
    assert not again.take()
    assert limits.acquire(("camp", "bob")).take()
    assert limits.acquire(("other", "alice")).take(), "a user is scoped to the campaign"


def test_refilled_buckets_nobody_holds_are_forgotten() -> None:
    """Memory follows the users connected, not every user ever seen."""
    refills_at_once = UserRateLimits(rate=1e12, burst=3, sweep_every=4)
    for n in range(100):
        key = ("camp", f"user-{n}")
        refills_at_once.acquire(key).take()
        refills_at_once.release(key)
    assert len(refills_at_once) == 0
    never_refills = UserRateLimits(rate=1e-9, burst=3, sweep_every=4)
    held = ("camp", "holder")
    never_refills.acquire(held)
    for n in range(10):
        key = ("camp", f"user-{n}")
        never_refills.acquire(key).take()
        never_refills.release(key)
    assert len(never_refills) == 11, "a spent bucket is kept, so reconnecting cannot reset it"


async def test_resend_gets_the_original_ack() -> None:
    window = IdempotencyWindow(window_s=60, max_entries=10)
    key = ("camp", "alice", "e1")
    assert window.lookup(key) is None
    future = window.begin(key)
    future.set_result(AckRecord(topic="t", partition=1, offset=7))
    earlier = window.lookup(key)
    assert earlier is not None
    assert await earlier == AckRecord(topic="t", partition=1, offset=7)
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
        window.begin(("c", "u", f"e{index}"))
    assert len(window) == 3
    assert window.lookup(("c", "u", "e0")) is None
    assert window.lookup(("c", "u", "e4")) is not None
    assert len(evicted) == 2, "two entries left within their window"


async def test_entries_expire_after_the_window() -> None:
    window = IdempotencyWindow(window_s=0.05, max_entries=10)
    window.begin(("c", "u", "e1"))
    deadline = asyncio.get_running_loop().time() + 5
    while window.lookup(("c", "u", "e1")) is not None:
        assert asyncio.get_running_loop().time() < deadline, "entry never expired"
        await asyncio.sleep(0.01)


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
            key = ("camp", "alice", f"event-{index}")
            window.settle(key, window.begin(key), AckRecord(topic="t", partition=0, offset=index))
        # One young collection must be enough: what survives it moves to older generations,
        # where a still-tracked entry would be walked by every full collection.
        gc.collect(0)
    finally:
        gc.enable()
    assert len(window) == 20_000
    assert len(gc.get_objects()) - before < 1_000
