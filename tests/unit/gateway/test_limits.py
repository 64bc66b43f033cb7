"""Rate limits, as a client of the gateway experiences them."""

from __future__ import annotations

from nexus_gateway.limits import TokenBucket, UserRateLimits


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
