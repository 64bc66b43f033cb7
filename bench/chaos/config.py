"""The chaos check's knobs, its deadlines, and when each fault happens."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CHAT = "chat.message"
UPDATED = "campaign.updated"
TRACKED_TYPES = frozenset({CHAT, UPDATED})
EMIT_TIMEOUT_S = 12.0  # > the gateways' produce timeout (5 s), so a live socket answers first
RECONNECT_DEADLINE_S = 120.0
PROBE_DEADLINE_S = 60.0
SETTLE_DEADLINE_S = 90.0
CATCH_UP_DEADLINE_S = 90.0
CLEANUP_DEADLINE_S = 60.0


@dataclass(frozen=True, kw_only=True)
class ChaosConfig:
    duration: float = 90.0
    campaigns: int = 8
    clients_per_campaign: int = 6
    seed: int = 1
    emit_interval_s: float = 0.5  # mean pause between one client's events
    publish_rate: float = 5.0  # campaign.updated events per second, all campaigns together
    clients_partitions: int = 6
    gateway_down_s: float = 5.0
    # Also crash gateway B a few seconds into the broker outage: its clients then resume on A
    # while partitions have no leader, and writes in doubt die with their gateway.
    kill_gateway_in_outage: bool = True
    broker_down_s: float | None = None  # default: max(12 s, a fifth of the duration)
    kafka_heap: str = "384m"
    workdir: Path | None = None  # default: a temporary directory, removed afterwards
    quiet: bool = False
    # The whole run, start to verdict; default: the schedule's end plus 15 minutes of room.
    deadline_s: float | None = None

    def validate(self) -> None:
        if self.duration < 25:
            raise ValueError("--duration must be at least 25 s (the chaos needs the room)")
        if self.campaigns < 1 or self.clients_per_campaign < 2:
            raise ValueError("need at least 1 campaign and 2 clients per campaign")
        if self.emit_interval_s <= 0 or self.publish_rate <= 0:
            raise ValueError("rates must be positive")
        if self.deadline_s is not None and self.deadline_s <= Schedule.for_config(self).end:
            raise ValueError("the deadline must leave room after the schedule's end")

    def deadline(self) -> float:
        return self.deadline_s or Schedule.for_config(self).end + 900


@dataclass(frozen=True, kw_only=True)
class Schedule:
    """When each fault happens, in seconds after the traffic started."""

    gateway_kill: float
    broker_kill: float
    gateway_kill_in_outage: float | None
    broker_restart: float
    gateway_drain: float
    end: float

    @classmethod
    def for_config(cls, config: ChaosConfig) -> Schedule:
        d = config.duration
        broker_down = config.broker_down_s or max(12.0, d / 5)
        gateway_kill = 0.12 * d
        broker_kill = max(0.35 * d, gateway_kill + config.gateway_down_s + 3.0)
        broker_restart = broker_kill + broker_down
        in_outage = (
            broker_kill + min(3.0, broker_down / 3) if config.kill_gateway_in_outage else None
        )
        gateway_drain = max(0.75 * d, broker_restart + 3.0)
        end = max(d, gateway_drain + config.gateway_down_s + 6.0)
        return cls(
            gateway_kill=gateway_kill,
            broker_kill=broker_kill,
            gateway_kill_in_outage=in_outage,
            broker_restart=broker_restart,
            gateway_drain=gateway_drain,
            end=end,
        )
