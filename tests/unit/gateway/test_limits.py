"""Rate limits, as a client of the gateway experiences them."""

from __future__ import annotations

import pytest

from nexus_gateway.limits import TokenBucket, UserRateLimits
from nexus_testkit import ManualClock


def test_bucket_allows_the_burst_then_refuses() -> None:
    bucket = TokenBucket(rate=0.001, burst=5, clock=ManualClock())
    assert [bucket.take() for _ in range(7)] == [True] * 5 + [False, False]


def test_a_refused_take_says_how_long_until_the_next_one() -> None:
    clock = ManualClock()
    bucket = TokenBucket(rate=2.0, burst=1, clock=clock)
    assert bucket.wait_s() == 0.0
    assert bucket.take()
    assert not bucket.take()
    assert bucket.wait_s() == 0.5, "one token at 2 per second is half a second away"
    clock.now += 0.4
    assert not bucket.take()
    assert bucket.wait_s() == pytest.approx(0.1)
    clock.now += 0.1
    assert bucket.take(), "the client that waited as told is served"


def test_a_user_s_connections_share_one_bucket() -> None:
    """More connections, or a reconnect, buy a user no more events; other users keep theirs."""
    limits = UserRateLimits(rate=0.001, burst=3, clock=ManualClock())
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
    """Memory follows the users connected, not every user ever seen; a spent bucket is kept
    until it has refilled, so reconnecting cannot reset it."""
    clock = ManualClock()
    limits = UserRateLimits(rate=1.0, burst=3, sweep_every=4, clock=clock)
    held = ("camp", "holder")
    limits.acquire(held)
    for n in range(10):
        key = ("camp", f"user-{n}")
        limits.acquire(key).take()
        limits.release(key)
    assert len(limits) == 11, "spent buckets are kept while they refill"
    again = limits.acquire(("camp", "user-0"))
    assert [again.take(), again.take(), again.take()] == [True, True, False]
    limits.release(("camp", "user-0"))
    clock.now += 3.0  # every bucket has its burst back
    for n in range(4):  # enough acquisitions for a sweep
        key = ("camp", f"newcomer-{n}")
        limits.acquire(key)
        limits.release(key)
    assert len(limits) == 1, "only the bucket still held is left"
