"""What one chaos check found, and whether every guarantee held."""

from __future__ import annotations

from dataclasses import dataclass

from bench.chaos.checker import Verdict
from bench.chaos.config import ChaosConfig, Schedule
from bench.chaos.counters import Counters
from bench.chaos.pause import Pause


@dataclass
class ChaosResult:
    config: ChaosConfig
    schedule: Schedule
    counters: Counters
    verdict: Verdict
    pause: Pause
    timeline: list[tuple[float, str]]
    failures: list[str]
    kafka_version: str
    traffic_s: float
    wall_s: float
    traffic_at: float  # when the traffic started, on the timeline's clock

    @property
    def lost(self) -> int:
        return self.verdict.lost + self.verdict.lost_acked + self.verdict.missing_emitted

    @property
    def duplicated(self) -> int:
        return self.verdict.duplicated

    @property
    def out_of_order(self) -> int:
        return self.verdict.out_of_order

    @property
    def kills(self) -> int:
        c = self.counters
        return c.gateway_kills + c.gateway_drains + c.broker_kills

    @property
    def ok(self) -> bool:
        v = self.verdict
        return not (
            self.lost
            or self.duplicated
            or self.out_of_order
            or v.unexpected
            or v.offset_mismatch
            or v.ack_mismatch
            or v.kafka_duplicates
            or self.counters.recovered_false
            or self.counters.resume_position_mismatch
            or self.failures
        )
