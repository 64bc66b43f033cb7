"""The longest pause in deliveries while the broker was down, per subscriber, next to the
longest pause before any fault."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.chaos.client import ChaosClient
from nexus_mesh.kafka.partitioning import campaign_partition


@dataclass
class Pause:
    broker: int | None = None
    window_s: tuple[float, float] = (0.0, 0.0)
    led_partitions: list[int] = field(default_factory=list)
    longest_ms: float = 0.0
    where: str = ""
    # Subscribers that kept their session through the outage, by whether the killed broker
    # led their campaign's partition; and those that resumed during it (gateway B's).
    steady_led_ms: list[float] = field(default_factory=list)
    steady_other_ms: list[float] = field(default_factory=list)
    resumed_ms: list[float] = field(default_factory=list)
    calm_longest_ms: float = 0.0
    # From the surviving brokers' logs: when the controller fenced the killed broker, and
    # whether the killed broker was the active KRaft controller (a new one was elected).
    fenced_after_s: float | None = None
    controller_moved: bool = False


def measure_pause(
    pause: Pause,
    clients: Sequence[ChaosClient],
    partitions: int,
    broker_window: tuple[float, float],
    calm_window: tuple[float, float],
) -> None:
    """Fill in ``pause`` from the subscribers' delivery times (monotonic windows)."""
    if pause.broker is None:
        return
    lo, hi = broker_window
    calm: list[float] = []
    worst = (0.0, "")
    for client in clients:
        times = [t for _, _, t in client.deliveries]
        gap = longest_gap(times, lo, hi)
        calm.append(longest_gap_within(times, *calm_window))
        if any(w.resumed and lo <= w.mono <= hi for w in client.welcomes):
            pause.resumed_ms.append(gap * 1000)
        elif campaign_partition(client.campaign, partitions) in pause.led_partitions:
            pause.steady_led_ms.append(gap * 1000)
        else:
            pause.steady_other_ms.append(gap * 1000)
        if gap > worst[0]:
            worst = (gap, client.tag)
    pause.longest_ms = worst[0] * 1000
    pause.where = worst[1]
    pause.calm_longest_ms = max(calm, default=0.0) * 1000


def longest_gap(times: Sequence[float], lo: float, hi: float) -> float:
    """The longest time between two consecutive deliveries that overlaps ``[lo, hi]``.

    A window with no delivery at all counts from the last delivery before it to the first
    after it (or to its end)."""
    longest = 0.0
    previous: float | None = None
    for t in times:
        if previous is not None and t > lo and previous < hi:
            longest = max(longest, t - previous)
        previous = t
    if previous is not None and previous < hi:
        longest = max(longest, hi - max(previous, lo))
    return longest


def longest_gap_within(times: Sequence[float], lo: float, hi: float) -> float:
    """The longest time between two consecutive deliveries both within ``[lo, hi]``."""
    inside = [t for t in times if lo <= t <= hi]
    return max((b - a for a, b in itertools.pairwise(inside)), default=0.0)
