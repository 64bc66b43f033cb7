"""Per-user rate limits: a token bucket each user of a campaign shares across connections."""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]


class TokenBucket:
    """``rate`` events per second with bursts up to ``burst``."""

    __slots__ = ("_burst", "_clock", "_rate", "_stamp", "_tokens")

    def __init__(self, *, rate: float, burst: int, clock: Clock = time.monotonic) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._clock = clock
        self._stamp = clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def wait_s(self) -> float:
        """Seconds until :meth:`take` would succeed: what a refused client is told to wait."""
        missing = 1.0 - (self._tokens + (self._clock() - self._stamp) * self._rate)
        return max(0.0, missing / self._rate)

    def refilled(self) -> bool:
        """Whether it holds its whole burst again: then it is as good as a new bucket."""
        return self._tokens + (self._clock() - self._stamp) * self._rate >= self._burst


UserKey = tuple[str, str]  # campaign, user


class UserRateLimits:
    """One :class:`TokenBucket` per user of a campaign on this gateway, shared by all of the
    user's connections: opening more connections, or reconnecting for a fresh burst, buys
    no more events. A bucket nobody holds is forgotten once it has refilled (a new one would
    be the same), so memory follows the users connected, not every user ever seen."""

    def __init__(
        self, *, rate: float, burst: int, sweep_every: int = 1024, clock: Clock = time.monotonic
    ) -> None:
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._sweep_every = sweep_every
        self._buckets: dict[UserKey, TokenBucket] = {}
        self._holders: dict[UserKey, int] = {}
        self._acquired = 0

    def acquire(self, key: UserKey) -> TokenBucket:
        """The user's bucket, held until :meth:`release`."""
        self._acquired += 1
        if self._acquired % self._sweep_every == 0:
            self._sweep()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(
                rate=self._rate, burst=self._burst, clock=self._clock
            )
        self._holders[key] = self._holders.get(key, 0) + 1
        return bucket

    def release(self, key: UserKey) -> None:
        left = self._holders.get(key, 0) - 1
        if left > 0:
            self._holders[key] = left
            return
        self._holders.pop(key, None)
        if self._buckets[key].refilled():
            del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)

    def _sweep(self) -> None:
        for key in [k for k, b in self._buckets.items() if k not in self._holders and b.refilled()]:
            del self._buckets[key]
