"""What the chaos check counts and notes while it runs."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field


class Timeline:
    def __init__(self, quiet: bool) -> None:
        self.t0 = time.monotonic()
        self.quiet = quiet
        self.entries: list[tuple[float, str]] = []

    def now(self) -> float:
        return time.monotonic() - self.t0

    def note(self, text: str) -> None:
        at = self.now()
        self.entries.append((at, text))
        if not self.quiet:
            print(f"[{at:7.2f}s] {text}", flush=True)


@dataclass
class Counters:
    emitted: int = 0  # logical chat events created
    sends: int = 0  # frames sent for them, first sends and resends
    resends: int = 0
    acks: int = 0  # ack frames received by clients
    duplicate_acks: int = 0  # of which the gateway answered from an earlier write
    retryable_errors: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    in_doubt: int = 0  # sends whose socket closed before the answer
    confirmed_by_delivery: int = 0  # in-doubt events found in the client's own stream
    resent_after_probe: int = 0  # in-doubt events the probe showed had not landed
    probe_timeouts: int = 0
    reconnects: int = 0
    reconnect_attempts: int = 0
    closes: Counter[int] = field(default_factory=Counter)
    recovered_false: int = 0
    resume_position_mismatch: int = 0
    published: int = 0
    publisher_acks: int = 0
    publisher_resends: int = 0
    publisher_in_doubt: int = 0
    gateway_kills: int = 0
    gateway_drains: int = 0
    broker_kills: int = 0
    restarts: int = 0
    migrations: int = 0
