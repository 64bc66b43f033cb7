"""Chaos check (issue 5): crash, drain and restart gateways and crash a broker under two-way
traffic, then prove that nothing acknowledged was lost and that every subscriber received
every event of its campaign exactly once, in order.

What it runs, all on 127.0.0.1 and all started (and stopped) here:

- a 3-node Apache Kafka cluster (KRaft, ``LocalKafka``) in a temporary directory, and the
  mesh's topics with replication factor 3 and ``min.insync.replicas`` 2;
- two gateways (``python -m nexus_mesh.cli gateway``, ``NEXUS_AUTH=none``), each with its own
  public and admin ports, ``NEXUS_GATEWAY_PRODUCE_TIMEOUT_S=5``;
- ``--campaigns`` x ``--clients-per-campaign`` ``MeshClient`` sessions, each campaign's
  clients spread over both gateways. Every client receives its campaign and emits
  ``chat.message`` events at random intervals: each logical event has one fixed
  ``event_id`` and is resent with that id until it is acknowledged;
- a backend ``Publisher`` (an ``EnvelopeProducer``, idempotent, acks=all) writing
  ``campaign.updated`` to random campaigns.

The chaos, at fixed fractions of ``--duration``: SIGKILL gateway A and restart it on the same
ports a few seconds later; SIGKILL the broker that leads the most of the campaigns'
``<prefix>.clients`` partitions, and restart it later; SIGTERM gateway B (it drains: its
clients get 1001) and restart it. A client whose socket closes resumes with ``since`` = its
last position, on the other gateway first; after a gateway is back, its own clients move home
(a clean close and a resume), so both gateways carry traffic again.

How a client emits so that no event is written twice (the gateway's idempotency window lives
in one gateway's memory, and a crashed gateway takes it along):

- ``unavailable`` (retryable) or no answer in time, on a socket that is still open: resend on
  the same socket; that gateway answers a resend of an in-doubt write from the first write.
- sent on a socket that then closed without an answer: the event is *in doubt* (it may have
  landed). The client does not resend it blindly on the next gateway. Its next event acts as
  a probe: once that probe is acknowledged at offset ``o``, the client waits until its own
  delivered stream has reached ``o`` (it is a subscriber of its campaign, and the stream is
  gap-free and ordered). An in-doubt event that appeared in the stream landed (confirmed
  without an ack); one that did not never landed and is resent. This is safe because the
  in-doubt write was on a gateway that is gone (crashed or drained), so it cannot land after
  the probe.

At the end it stops emitting, settles every in-doubt event, reads ``<prefix>.clients`` back
from Kafka (the source of truth), waits (bounded) until every subscriber has caught up, and
checks: every acknowledged event is in Kafka at the acknowledged offset; each subscriber's
delivered sequence equals its campaign's records in Kafka from its first welcome position on,
with nothing missing (lost), nothing twice (duplicated) and nothing reordered (out of order);
no event id is in Kafka twice (``kafka_duplicates``); no resumed welcome said
``recovered: false``. It prints the counts and the longest pause between two deliveries to a
subscriber while the broker was down, and exits 1 when a guarantee was broken.

    .venv/bin/python -m bench.chaos [--duration 90] [--campaigns 8] [--clients-per-campaign 6]
                                    [--seed N] [--write-docs]

Bounded: every wait has a deadline, the whole run has one, and every process started here is
stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import aiohttp
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from nexus_mesh.client import Ack, Event, MeshClient, MeshClosedError, MeshConnectError, MeshError
from nexus_mesh.codec import Codec
from nexus_mesh.envelope import Envelope
from nexus_mesh.errors import CodecError, KafkaUnavailableError, WriteInDoubtError
from nexus_mesh.kafka.connection import client_kwargs
from nexus_mesh.kafka.partitioning import campaign_partition
from nexus_mesh.kafka.producer import EnvelopeProducer
from nexus_mesh.kafka.topics import TopicNames, ensure_topics
from nexus_mesh.localkafka import LocalKafka
from nexus_mesh.localkafka.cluster import free_port
from nexus_mesh.position import Position
from nexus_mesh.registry import load_registry
from nexus_mesh.service import Publisher
from nexus_mesh.settings import NexusSettings

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
SECTION_TITLE = "## Chaos check (issue 5)"
BEGIN_MARK = "<!-- BEGIN chaos: generated by bench/chaos.py -->"
END_MARK = "<!-- END chaos -->"

CHAT = "chat.message"
UPDATED = "campaign.updated"
TRACKED_TYPES = frozenset({CHAT, UPDATED})
EMIT_TIMEOUT_S = 12.0  # > the gateways' produce timeout (5 s), so a live socket answers first
RECONNECT_DEADLINE_S = 120.0
PROBE_DEADLINE_S = 60.0
SETTLE_DEADLINE_S = 90.0
CATCH_UP_DEADLINE_S = 90.0


# -- configuration ----------------------------------------------------------------------------


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

    def validate(self) -> None:
        if self.duration < 25:
            raise ValueError("--duration must be at least 25 s (the chaos needs the room)")
        if self.campaigns < 1 or self.clients_per_campaign < 2:
            raise ValueError("need at least 1 campaign and 2 clients per campaign")
        if self.emit_interval_s <= 0 or self.publish_rate <= 0:
            raise ValueError("rates must be positive")


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


# -- processes --------------------------------------------------------------------------------


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
class GatewayProcess:
    """One gateway, restartable on the same ports; each generation logs to its own file."""

    name: str
    port: int
    admin_port: int
    env: dict[str, str]
    workdir: Path
    process: subprocess.Popen[bytes] | None = None
    generation: int = 0
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self) -> None:
        self.log_path = self.workdir / f"gateway-{self.name}-{self.generation}.log"
        self.generation += 1
        with self.log_path.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "nexus_mesh.cli", "gateway"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def log_tail(self, chars: int = 3000) -> str:
        if self.log_path is None:
            return ""
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-chars:]
        return ""

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, sig: int, wait_s: float) -> int | None:
        """Send ``sig`` and wait (bounded) for the exit; SIGKILL when it outstays."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=30)

    async def wait_ready(self, session: aiohttp.ClientSession, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive:
                raise RuntimeError(f"gateway {self.name} exited at start:\n{self.log_tail()}")
            with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                async with session.get(
                    self.url + "/readyz", timeout=aiohttp.ClientTimeout(total=2)
                ) as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"gateway {self.name} not ready within {timeout:.0f} s")


# -- counters ---------------------------------------------------------------------------------


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


@dataclass
class Logical:
    """One chat event as its emitter sees it: one id, sent until its fate is known."""

    event_id: str
    text: str
    sent_on: set[int] = field(default_factory=set)  # id() of the sessions it was sent on
    sends: int = 0
    ack: Ack | None = None
    confirmed: bool = False  # landed, known from the stream (its ack was lost)
    rejected: str | None = None


@dataclass(frozen=True)
class Welcome:
    at: float
    mono: float
    gateway: str
    partition: int
    offset: int
    recovered: bool
    resumed: bool


class ClientFailedError(RuntimeError):
    pass


# -- one client: receiver and emitter ---------------------------------------------------------


class ChaosClient:
    def __init__(self, run: ChaosRun, index: int, campaign: str, user: str, home: int) -> None:
        self.run = run
        self.index = index
        self.campaign = campaign
        self.user = user
        self.home = home
        self.tag = f"{campaign}.{user}"
        self.conn: MeshClient | None = None
        self.gateway = home
        self.connected = asyncio.Event()
        self.emit_lock = asyncio.Lock()
        self.progress = asyncio.Event()
        self.migrate_to: int | None = None
        self.failed: str | None = None
        # What this subscriber received: (event_id, Kafka offset, monotonic time).
        self.deliveries: list[tuple[str, int, float]] = []
        self.delivered_ids: set[str] = set()
        self.max_offset = -1
        self.foreign = 0  # events of another campaign (never allowed)
        self.untracked = 0  # events of other types (none are produced here)
        self.welcomes: list[Welcome] = []
        self.events: list[Logical] = []
        self.doubts: list[Logical] = []
        self.resend_queue: deque[Logical] = deque()
        self.seq = 0
        self.rng = random.Random(run.config.seed * 1_000_003 + index)

    @property
    def first_offset(self) -> int | None:
        return self.welcomes[0].offset if self.welcomes else None

    # -- sessions

    async def open(self) -> None:
        gateway = self.run.gateways[self.home]
        conn = await MeshClient.connect(
            gateway.url,
            campaign_id=self.campaign,
            user_id=self.user,
            session=self.run.session,
            connect_timeout=10,
        )
        self._adopt(conn, self.home, since=None)

    def _adopt(self, conn: MeshClient, gateway: int, since: str | None) -> None:
        welcome = conn.welcome
        position = Position.decode(str(welcome.get("position")))
        self.welcomes.append(
            Welcome(
                at=self.run.timeline.now(),
                mono=time.monotonic(),
                gateway=self.run.gateways[gateway].name,
                partition=position.partition,
                offset=position.offset,
                recovered=conn.recovered,
                resumed=since is not None,
            )
        )
        if since is not None:
            if not conn.recovered:
                self.run.counters.recovered_false += 1
                self.run.timeline.note(
                    f"{self.tag}: resumed on {self.run.gateways[gateway].name} with "
                    f"recovered=false (since {since}, welcome {welcome.get('position')})"
                )
            elif Position.decode(since).offset != position.offset:
                self.run.counters.resume_position_mismatch += 1
        self.conn = conn
        self.gateway = gateway
        self.connected.set()

    async def current(self) -> MeshClient:
        try:
            async with asyncio.timeout(RECONNECT_DEADLINE_S + 10):
                await self.connected.wait()
        except TimeoutError:
            raise ClientFailedError(f"{self.tag}: no session for too long") from None
        if self.failed is not None or self.conn is None:
            raise ClientFailedError(self.failed or f"{self.tag}: no session")
        return self.conn

    async def read_loop(self) -> None:
        while True:
            conn = self.conn
            assert conn is not None
            try:
                event = await conn.next_event(timeout=5.0)
            except TimeoutError:
                continue
            except MeshClosedError:
                if self.run.closing:
                    return
                if not await self._reconnect(conn):
                    return
                continue
            self._on_event(event)

    def _on_event(self, event: Event) -> None:
        if event.type not in TRACKED_TYPES:
            self.untracked += 1
            return
        if event.metadata.get("campaign_id") != self.campaign:
            self.foreign += 1
        try:
            offset = Position.decode(event.position or "").offset - 1
        except ValueError:
            offset = -1
        self.deliveries.append((event.event_id or "", offset, time.monotonic()))
        self.delivered_ids.add(event.event_id or "")
        if offset > self.max_offset:
            self.max_offset = offset
        self.progress.set()

    async def _reconnect(self, old: MeshClient) -> bool:
        counters = self.run.counters
        self.connected.clear()
        code = old.close_code or 1006
        counters.closes[code] += 1
        since = old.position
        with contextlib.suppress(Exception):
            await old.close()
        if self.migrate_to is not None:
            order = [self.migrate_to, 1 - self.migrate_to]
            self.migrate_to = None
        else:
            order = [1 - self.gateway, self.gateway]
        deadline = time.monotonic() + RECONNECT_DEADLINE_S
        backoff = 0.05
        last: Exception | None = None
        while time.monotonic() < deadline:
            for index in order:
                counters.reconnect_attempts += 1
                try:
                    conn = await MeshClient.connect(
                        self.run.gateways[index].url,
                        campaign_id=self.campaign,
                        user_id=self.user,
                        since=since,
                        session=self.run.session,
                        connect_timeout=5,
                    )
                except (MeshConnectError, OSError) as exc:
                    last = exc
                    continue
                counters.reconnects += 1
                self._adopt(conn, index, since=since)
                return True
            await asyncio.sleep(backoff)
            backoff = min(1.0, backoff * 2)
        self.failed = f"{self.tag}: could not resume within {RECONNECT_DEADLINE_S:.0f} s: {last}"
        self.run.timeline.note(self.failed)
        self.connected.set()  # wake the emitter so it sees the failure
        return False

    async def migrate_home(self) -> None:
        """Move back to the home gateway: a clean close, then a resume there."""
        if self.gateway == self.home or self.failed is not None:
            return
        async with self.emit_lock:
            conn = self.conn
            if conn is None or conn.closed or self.gateway == self.home:
                return
            self.migrate_to = self.home
            self.connected.clear()
            self.run.counters.migrations += 1
            await conn.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(30):
                    await self.connected.wait()

    # -- emitting

    def _new_event(self, probe: bool = False) -> Logical:
        self.seq += 1
        kind = "probe" if probe else "msg"
        event = Logical(event_id=f"{self.tag}.{self.seq}", text=f"{self.tag}#{self.seq} {kind}")
        self.events.append(event)
        self.run.counters.emitted += 1
        return event

    async def emit_loop(self) -> None:
        stop = self.run.stop_emitting
        try:
            while not stop.is_set():
                if await wait_event(
                    stop, self.rng.expovariate(1 / self.run.config.emit_interval_s)
                ):
                    break
                async with self.emit_lock:
                    await self._step(self.resend_queue.popleft() if self.resend_queue else None)
            # Settle: resend what must be resent, probe until no event is in doubt.
            deadline = time.monotonic() + SETTLE_DEADLINE_S
            while (self.doubts or self.resend_queue) and time.monotonic() < deadline:
                async with self.emit_lock:
                    await self._step(self.resend_queue.popleft() if self.resend_queue else None)
        except ClientFailedError as exc:
            self.failed = self.failed or str(exc)

    async def _step(self, event: Logical | None) -> None:
        event = event or self._new_event(probe=bool(self.doubts))
        outcome = await self._send(event)
        if outcome == "doubt":
            self.run.counters.in_doubt += 1
            self.doubts.append(event)
        elif outcome == "acked" and self.doubts:
            assert event.ack is not None
            await self._resolve_doubts(event.ack.offset)

    async def _send(self, event: Logical) -> str:
        counters = self.run.counters
        backoff = 0.1
        while True:
            conn = await self.current()
            counters.sends += 1
            if event.sends:
                counters.resends += 1
            event.sends += 1
            event.sent_on.add(id(conn))
            try:
                ack = await conn.emit(
                    CHAT, {"text": event.text}, event_id=event.event_id, timeout=EMIT_TIMEOUT_S
                )
            except MeshError as exc:
                if not exc.retryable:
                    counters.rejected[exc.code] += 1
                    event.rejected = exc.code
                    return "rejected"
                counters.retryable_errors[exc.code] += 1
                await asyncio.sleep(backoff)
                backoff = min(2.0, backoff * 2)
                if conn.closed or conn is not self.conn:
                    return "doubt"
                continue
            except (MeshClosedError, TimeoutError):
                if conn.closed or conn is not self.conn:
                    return "doubt"
                continue  # no answer on a live socket: resend there, the gateway dedupes
            counters.acks += 1
            if ack.duplicate:
                counters.duplicate_acks += 1
            event.ack = ack
            self.run.acks.append((event.event_id, ack.partition, ack.offset))
            return "acked"

    async def _resolve_doubts(self, probe_offset: int) -> None:
        """After a probe was acked at ``probe_offset``: which in-doubt events landed?"""
        counters = self.run.counters
        deadline = time.monotonic() + PROBE_DEADLINE_S
        while self.max_offset < probe_offset:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.failed is not None:
                counters.probe_timeouts += 1
                return  # the doubts stay; the next acked event probes again
            self.progress.clear()
            await wait_event(self.progress, min(remaining, 1.0))
        for event in self.doubts:
            if event.event_id in self.delivered_ids:
                event.confirmed = True
                counters.confirmed_by_delivery += 1
            else:
                event.sent_on.clear()
                self.resend_queue.append(event)
                counters.resent_after_probe += 1
        self.doubts.clear()


# -- the backend publisher --------------------------------------------------------------------


class BackendPublisher:
    def __init__(self, run: ChaosRun, publisher: Publisher) -> None:
        self.run = run
        self.publisher = publisher
        self.rng = random.Random(run.config.seed * 7_919 + 17)
        self.unresolved: list[str] = []

    async def run_loop(self) -> None:
        stop = self.run.stop_emitting
        seq = 0
        while not stop.is_set():
            if await wait_event(stop, self.rng.expovariate(self.run.config.publish_rate)):
                break
            seq += 1
            campaign = self.rng.choice(self.run.campaigns)
            envelope = self.publisher.events.envelope(
                UPDATED,
                {
                    "name": None,
                    "status": "live",
                    "changes": {"seq": str(seq)},
                    "updated_at": int(time.time() * 1000),
                },
                campaign_id=campaign,
                event_id=f"pub.{seq}",
            )
            self.run.counters.published += 1
            await self._write(envelope)

    async def _write(self, envelope: Envelope) -> None:
        """Write until Kafka has it; an in-doubt write is awaited, never written again."""
        counters = self.run.counters
        event_id = envelope.metadata.event_id
        deadline = time.monotonic() + 120
        attempt = 0
        while time.monotonic() < deadline:
            if attempt:
                counters.publisher_resends += 1
            attempt += 1
            try:
                published = await self.publisher.send(envelope)
            except WriteInDoubtError as exc:
                counters.publisher_in_doubt += 1
                try:
                    async with asyncio.timeout(max(1.0, deadline - time.monotonic())):
                        meta = await asyncio.shield(exc.delivery)
                except TimeoutError:
                    break
                except Exception:
                    await asyncio.sleep(0.2)
                    continue  # failed for certain: write again
                counters.publisher_acks += 1
                self.run.acks.append((event_id, meta.partition, meta.offset))
                return
            except KafkaUnavailableError:
                await asyncio.sleep(0.2)
                continue
            counters.publisher_acks += 1
            self.run.acks.append((event_id, published.partition, published.offset))
            return
        self.unresolved.append(event_id)


# -- the run ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class KafkaRecord:
    partition: int
    offset: int
    event_id: str
    campaign: str
    type: str


@dataclass
class Verdict:
    events: int = 0  # distinct event ids of the run's campaigns in Kafka
    records: int = 0
    chat_events: int = 0
    updated_events: int = 0
    deliveries: int = 0
    lost: int = 0
    duplicated: int = 0
    out_of_order: int = 0
    unexpected: int = 0  # delivered but not in the subscriber's expected sequence
    offset_mismatch: int = 0  # delivered with a position naming another record
    lost_acked: int = 0
    ack_mismatch: int = 0
    kafka_duplicates: int = 0
    missing_emitted: int = 0  # logical chat events that never reached Kafka
    subscribers_behind: int = 0
    worst: list[str] = field(default_factory=list)


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


class ChaosRun:
    def __init__(self, config: ChaosConfig, workdir: Path) -> None:
        self.config = config
        self.workdir = workdir
        self.schedule = Schedule.for_config(config)
        self.timeline = Timeline(config.quiet)
        self.counters = Counters()
        self.campaigns = [f"chaos-{i}" for i in range(config.campaigns)]
        self.prefix = f"chaos{uuid.uuid4().hex[:8]}"
        self.kafka = LocalKafka(workdir / "kafka", heap=config.kafka_heap)
        self.bootstrap = ""
        self.settings: NexusSettings | None = None
        self.gateways: list[GatewayProcess] = []
        self.session: aiohttp.ClientSession | None = None
        self.clients: list[ChaosClient] = []
        self.acks: list[tuple[str, int, int]] = []  # (event_id, partition, offset)
        self.stop_emitting = asyncio.Event()
        self.closing = False
        self.failures: list[str] = []
        self.traffic_t0 = 0.0
        self.pause = Pause()
        # Monotonic windows: before any fault (the baseline) and while the broker was down.
        self._calm = (0.0, 0.0)
        self._broker_window = (0.0, 0.0)

    # -- set-up

    async def start_mesh(self) -> None:
        began = time.monotonic()
        self.bootstrap = await asyncio.to_thread(self.kafka.start, nodes=3, port=0, timeout=180)
        self.settings = NexusSettings(
            kafka_bootstrap_servers=self.bootstrap,
            topic_prefix=self.prefix,
            topic_replication_factor=3,
            topic_min_insync_replicas=2,
            clients_partitions=self.config.clients_partitions,
            domain_partitions=2,
            dlq_partitions=1,
            auth="none",
        )
        registry = load_registry(self.settings.schemas_dir)
        await ensure_topics(self.settings, registry.domains)
        self.timeline.note(
            f"kafka 3 nodes at {self.bootstrap}, topics {self.prefix}.* (RF 3, min.insync 2) "
            f"in {time.monotonic() - began:.1f} s"
        )
        base = {k: v for k, v in os.environ.items() if not k.startswith("NEXUS_")}
        base.update(
            NEXUS_KAFKA_BOOTSTRAP_SERVERS=self.bootstrap,
            NEXUS_TOPIC_PREFIX=self.prefix,
            NEXUS_TOPIC_REPLICATION_FACTOR="3",
            NEXUS_TOPIC_MIN_INSYNC_REPLICAS="2",
            NEXUS_CLIENTS_PARTITIONS=str(self.config.clients_partitions),
            NEXUS_DOMAIN_PARTITIONS="2",
            NEXUS_DLQ_PARTITIONS="1",
            NEXUS_AUTH="none",
            NEXUS_GATEWAY_HOST="127.0.0.1",
            NEXUS_GATEWAY_PRODUCE_TIMEOUT_S="5",
            NEXUS_GATEWAY_DRAIN_TIMEOUT_S="10",
            NEXUS_LOG_LEVEL="INFO",
            # Tracing is not what this checks; without a collector the OTLP exporter would
            # retry in the background and hold up each gateway's exit by several seconds.
            OTEL_SDK_DISABLED="true",
        )
        for name in ("a", "b"):
            port, admin = free_port(), free_port()
            env = dict(base)
            env.update(
                NEXUS_GATEWAY_PORT=str(port),
                NEXUS_GATEWAY_ADMIN_PORT=str(admin),
                NEXUS_GATEWAY_INSTANCE=f"chaos-{name}",
            )
            self.gateways.append(
                GatewayProcess(
                    name=name, port=port, admin_port=admin, env=env, workdir=self.workdir
                )
            )
        for gateway in self.gateways:
            gateway.spawn()
        assert self.session is not None
        for gateway in self.gateways:
            await gateway.wait_ready(self.session)
        self.timeline.note("gateways up: " + ", ".join(f"{g.name} {g.url}" for g in self.gateways))

    async def connect_clients(self) -> None:
        config = self.config
        index = 0
        for c, campaign in enumerate(self.campaigns):
            for u in range(config.clients_per_campaign):
                # Each campaign has clients on both gateways.
                home = (c + u) % 2
                self.clients.append(ChaosClient(self, index, campaign, f"u{u}", home))
                index += 1
        gate = asyncio.Semaphore(16)

        async def open_one(client: ChaosClient) -> None:
            async with gate:
                await client.open()

        await asyncio.gather(*(open_one(client) for client in self.clients))
        self.timeline.note(
            f"{len(self.clients)} clients in {len(self.campaigns)} campaigns connected"
        )

    # -- chaos

    async def leaders(self) -> dict[int, int]:
        assert self.settings is not None
        admin = AIOKafkaAdminClient(**client_kwargs(self.settings))
        await admin.start()
        try:
            described = await admin.describe_topics([TopicNames(prefix=self.prefix).clients])
        finally:
            await admin.close()
        return {int(p["partition"]): int(p["leader"]) for p in described[0]["partitions"]}

    async def restart_gateway(self, index: int) -> None:
        gateway = self.gateways[index]
        await asyncio.to_thread(gateway.spawn)
        assert self.session is not None
        await gateway.wait_ready(self.session)
        self.counters.restarts += 1
        self.timeline.note(f"gateway {gateway.name} restarted on the same ports")
        await asyncio.sleep(1.0)
        # Its own clients move back, spread over a second or two.
        homecomers = [c for c in self.clients if c.home == index and c.gateway != index]

        async def move(client: ChaosClient, delay: float) -> None:
            await asyncio.sleep(delay)
            await client.migrate_home()

        await asyncio.gather(
            *(move(c, 2.0 * i / max(1, len(homecomers))) for i, c in enumerate(homecomers))
        )
        self.timeline.note(f"{len(homecomers)} clients moved back to gateway {gateway.name}")

    async def kill_gateway(self, index: int) -> None:
        gateway = self.gateways[index]
        pid = gateway.process.pid if gateway.process is not None else None
        await asyncio.to_thread(gateway.signal, signal.SIGKILL, 30)
        self.counters.gateway_kills += 1
        self.timeline.note(f"SIGKILL gateway {gateway.name} (pid {pid})")

    def fencing(self, broker: int, killed: datetime) -> tuple[float | None, bool]:
        """Read the surviving nodes' logs: seconds from the kill until the controller fenced
        ``broker``, and whether a new controller was elected meanwhile."""
        fenced: float | None = None
        moved = False
        for node in self.kafka.status().nodes:
            if node.node_id == broker:
                continue
            with contextlib.suppress(OSError):
                for line in node.log_path.read_text(errors="replace").splitlines():
                    if not line.startswith("[") or len(line) < 25:
                        continue
                    try:
                        at = datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S,%f")
                    except ValueError:
                        continue
                    after = (at - killed).total_seconds()
                    if after < 0:
                        continue
                    if "handleBrokerFenced" in line and fenced is None:
                        fenced = after
                    if "RaftManager" in line and "transition to Leader" in line:
                        moved = True
        return fenced, moved

    async def chaos(self) -> None:
        schedule = self.schedule
        t0 = self.traffic_t0

        async def at(offset: float) -> None:
            await asyncio.sleep(max(0.0, t0 + offset - time.monotonic()))

        # 1. Crash gateway A, restart it on the same ports.
        await at(schedule.gateway_kill)
        await self.kill_gateway(0)
        await asyncio.sleep(self.config.gateway_down_s)
        await self.restart_gateway(0)

        # 2. Crash the broker that leads the most of the campaigns' partitions.
        await at(schedule.broker_kill)
        leaders = await self.leaders()
        wanted = Counter(
            leaders[campaign_partition(c, self.config.clients_partitions)] for c in self.campaigns
        )
        broker = wanted.most_common(1)[0][0]
        led = sorted(p for p, leader in leaders.items() if leader == broker)
        calm_end = time.monotonic()
        kill_wall = datetime.now()  # local time, as the brokers' logs write it
        await asyncio.to_thread(self.kafka.kill_node, broker)
        killed_at = time.monotonic()
        self.counters.broker_kills += 1
        self.timeline.note(
            f"SIGKILL broker {broker} (leader of {self.prefix}.clients partitions {led}; "
            f"leaders were {dict(sorted(leaders.items()))})"
        )
        if schedule.gateway_kill_in_outage is not None:
            await at(schedule.gateway_kill_in_outage)
            await self.kill_gateway(1)
        await at(schedule.broker_restart)
        await asyncio.to_thread(self.kafka.restart_node, broker, timeout=120)
        restarted_at = time.monotonic()
        self.counters.restarts += 1
        self.timeline.note(f"broker {broker} restarted; leaders now {await self.leaders()}")
        if schedule.gateway_kill_in_outage is not None:
            await self.restart_gateway(1)
        fenced_after, controller_moved = self.fencing(broker, kill_wall)
        self.pause = Pause(
            broker=broker,
            window_s=(killed_at - t0, restarted_at - t0),
            led_partitions=led,
            fenced_after_s=fenced_after,
            controller_moved=controller_moved,
        )
        if fenced_after is not None:
            self.timeline.note(
                f"(broker logs: broker {broker} was fenced {fenced_after:.1f} s after the kill"
                + ("; it had been the active controller" if controller_moved else "")
                + ")"
            )
        self._calm = (t0 + 2.0, min(calm_end, t0 + schedule.gateway_kill) - 0.5)
        self._broker_window = (killed_at, restarted_at)

        # 3. Drain gateway B (SIGTERM), restart it once it exited.
        await at(schedule.gateway_drain)
        gateway = self.gateways[1]
        self.counters.gateway_drains += 1
        self.timeline.note(f"SIGTERM gateway {gateway.name}: drain")
        code = await asyncio.to_thread(gateway.signal, signal.SIGTERM, 30)
        self.timeline.note(f"gateway {gateway.name} exited with {code} after draining")
        await asyncio.sleep(max(0.0, self.config.gateway_down_s - 2))
        await self.restart_gateway(1)

    # -- the end

    async def settle(self, emitters: list[asyncio.Task[None]]) -> None:
        self.stop_emitting.set()
        self.timeline.note("stop emitting; settling in-doubt events")
        done, pending = await asyncio.wait(emitters, timeout=SETTLE_DEADLINE_S + 30)
        for task in pending:
            task.cancel()
            self.failures.append(f"an emitter did not settle in time: {task.get_name()}")
        for task in done:
            if task.exception() is not None:
                self.failures.append(f"{task.get_name()} failed: {task.exception()!r}")

    async def read_kafka(self) -> list[KafkaRecord]:
        assert self.settings is not None
        registry = load_registry(self.settings.schemas_dir)
        codec = Codec(registry)
        topic = TopicNames(prefix=self.prefix).clients
        partitions = [TopicPartition(topic, p) for p in range(self.config.clients_partitions)]
        consumer = AIOKafkaConsumer(
            **client_kwargs(self.settings), enable_auto_commit=False, group_id=None
        )
        await consumer.start()
        records: list[KafkaRecord] = []
        try:
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            pending = {tp for tp in partitions if ends[tp] > 0}
            async with asyncio.timeout(120):
                while pending:
                    batches = await consumer.getmany(*pending, timeout_ms=1000)
                    for tp, batch in batches.items():
                        for record in batch:
                            if record.offset >= ends[tp]:
                                break
                            try:
                                envelope = codec.decode(record.value)
                            except CodecError:
                                continue
                            records.append(
                                KafkaRecord(
                                    partition=tp.partition,
                                    offset=record.offset,
                                    event_id=envelope.metadata.event_id,
                                    campaign=envelope.metadata.campaign_id,
                                    type=envelope.type,
                                )
                            )
                    for tp in list(pending):
                        if await consumer.position(tp) >= ends[tp]:
                            pending.discard(tp)
        finally:
            await consumer.stop()
        return records

    async def wait_caught_up(self, records: list[KafkaRecord]) -> int:
        """Wait (bounded) until every subscriber has its campaign's last record; how many
        had not when the deadline passed."""
        last: dict[str, int] = {}
        for record in records:
            last[record.campaign] = max(last.get(record.campaign, -1), record.offset)
        deadline = time.monotonic() + CATCH_UP_DEADLINE_S
        while True:
            behind = [
                c
                for c in self.clients
                if c.failed is None and c.max_offset < last.get(c.campaign, -1)
            ]
            if not behind or time.monotonic() > deadline:
                return len(behind)
            await asyncio.sleep(0.2)

    def verify(self, records: list[KafkaRecord]) -> Verdict:
        verdict = Verdict()
        mine = [r for r in records if r.campaign in set(self.campaigns)]
        verdict.records = len(mine)
        by_id: dict[str, list[KafkaRecord]] = defaultdict(list)
        for record in mine:
            by_id[record.event_id].append(record)
        verdict.events = len(by_id)
        verdict.chat_events = sum(1 for rs in by_id.values() if rs[0].type == CHAT)
        verdict.updated_events = sum(1 for rs in by_id.values() if rs[0].type == UPDATED)
        verdict.kafka_duplicates = sum(len(rs) - 1 for rs in by_id.values())
        at = {(r.partition, r.offset): r for r in mine}
        for event_id, partition, offset in self.acks:
            if event_id not in by_id:
                verdict.lost_acked += 1
                verdict.worst.append(f"acked {event_id} at {partition}@{offset} is not in Kafka")
            elif (found := at.get((partition, offset))) is None or found.event_id != event_id:
                verdict.ack_mismatch += 1
                verdict.worst.append(f"ack of {event_id} names {partition}@{offset}: {found}")
        for client in self.clients:
            for event in client.events:
                if event.rejected is None and event.event_id not in by_id:
                    verdict.missing_emitted += 1
                    verdict.worst.append(
                        f"{event.event_id} never reached Kafka (acked={event.ack is not None})"
                    )
        by_campaign: dict[str, list[KafkaRecord]] = defaultdict(list)
        for record in sorted(mine, key=lambda r: (r.partition, r.offset)):
            by_campaign[record.campaign].append(record)
        for client in self.clients:
            verdict.deliveries += len(client.deliveries)
            first = client.first_offset
            if first is None:
                continue
            expected = [r for r in by_campaign[client.campaign] if r.offset >= first]
            self._compare(client, expected, at, verdict)
        return verdict

    @staticmethod
    def _compare(
        client: ChaosClient,
        expected: list[KafkaRecord],
        at: dict[tuple[int, int], KafkaRecord],
        verdict: Verdict,
    ) -> None:
        index: dict[str, int] = {}
        for i, record in enumerate(expected):
            index.setdefault(record.event_id, i)
        delivered = [event_id for event_id, _, _ in client.deliveries]
        seen: Counter[str] = Counter(delivered)
        lost = [r.event_id for r in expected if r.event_id not in seen]
        duplicated = sum(n - 1 for n in seen.values() if n > 1)
        unexpected = [e for e in seen if e not in index]
        out_of_order = 0
        highest = -1
        firsts: set[str] = set()
        for event_id in delivered:
            if event_id in firsts or event_id not in index:
                continue
            firsts.add(event_id)
            if index[event_id] < highest:
                out_of_order += 1
            highest = max(highest, index[event_id])
        partition = client.welcomes[0].partition
        mismatched = sum(
            1
            for event_id, offset, _ in client.deliveries
            if (found := at.get((partition, offset))) is None or found.event_id != event_id
        )
        verdict.lost += len(lost)
        verdict.duplicated += duplicated
        verdict.unexpected += len(unexpected)
        verdict.out_of_order += out_of_order
        verdict.offset_mismatch += mismatched
        if lost:
            verdict.subscribers_behind += 1
        if lost or duplicated or unexpected or out_of_order or mismatched:
            verdict.worst.append(
                f"{client.tag}: {len(lost)} lost (e.g. {lost[:3]}), {duplicated} duplicated, "
                f"{out_of_order} out of order, {len(unexpected)} unexpected, {mismatched} with "
                f"a wrong position; welcomes {client.welcomes}"
            )

    def measure_pause(self) -> None:
        pause = self.pause
        if pause.broker is None:
            return
        lo, hi = self._broker_window
        partitions = self.config.clients_partitions
        calm: list[float] = []
        worst = (0.0, "")
        for client in self.clients:
            times = [t for _, _, t in client.deliveries]
            gap = longest_gap(times, lo, hi)
            calm.append(longest_gap_within(times, *self._calm))
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

    def dump(self, records: list[KafkaRecord]) -> None:
        """Everything observed, for a post-mortem: ``chaos-data.json`` in the work dir."""
        t0 = self.traffic_t0
        data = {
            "timeline": self.timeline.entries,
            "traffic_t0_timeline": t0 - self.timeline.t0,
            "kafka": [[r.partition, r.offset, r.event_id, r.campaign, r.type] for r in records],
            "acks": self.acks,
            "clients": [
                {
                    "tag": c.tag,
                    "home": c.home,
                    "welcomes": [
                        [w.mono - t0, w.gateway, w.partition, w.offset, w.recovered, w.resumed]
                        for w in c.welcomes
                    ],
                    "deliveries": [[e, o, round(t - t0, 4)] for e, o, t in c.deliveries],
                    "events": [
                        [e.event_id, e.ack is not None, e.confirmed, e.rejected] for e in c.events
                    ],
                }
                for c in self.clients
            ],
        }
        (self.workdir / "chaos-data.json").write_text(json.dumps(data))

    # -- all of it

    async def execute(self) -> ChaosResult:
        began = time.monotonic()
        connector = aiohttp.TCPConnector(limit=0)
        self.session = aiohttp.ClientSession(connector=connector)
        readers: list[asyncio.Task[None]] = []
        workers: list[asyncio.Task[None]] = []
        producer: EnvelopeProducer | None = None
        try:
            await self.start_mesh()
            assert self.settings is not None
            registry = load_registry(self.settings.schemas_dir)
            codec = Codec(registry)
            producer = EnvelopeProducer(
                settings=self.settings, codec=codec, client_id="chaos-publisher", send_timeout_s=5
            )
            await producer.start()
            publisher = BackendPublisher(
                self,
                Publisher(
                    registry=registry,
                    codec=codec,
                    producer=producer,
                    topics=TopicNames(prefix=self.prefix),
                    source="bench/chaos",
                ),
            )
            await self.connect_clients()
            readers = [
                asyncio.create_task(c.read_loop(), name=f"read-{c.tag}") for c in self.clients
            ]
            self.traffic_t0 = time.monotonic()
            self.timeline.note(
                f"traffic on: chaos at +{self.schedule.gateway_kill:.0f}s (gateway kill), "
                f"+{self.schedule.broker_kill:.0f}s (broker kill, restart "
                f"+{self.schedule.broker_restart:.0f}s), +{self.schedule.gateway_drain:.0f}s "
                f"(gateway drain); emitting until +{self.schedule.end:.0f}s"
            )
            emitters = [
                asyncio.create_task(c.emit_loop(), name=f"emit-{c.tag}") for c in self.clients
            ]
            emitters.append(asyncio.create_task(publisher.run_loop(), name="publisher"))
            workers = list(emitters)
            await self.chaos()
            await asyncio.sleep(max(0.0, self.traffic_t0 + self.schedule.end - time.monotonic()))
            traffic_s = time.monotonic() - self.traffic_t0
            await self.settle(emitters)
            for client in self.clients:
                if client.doubts or client.resend_queue:
                    self.failures.append(
                        f"{client.tag}: {len(client.doubts)} in doubt, "
                        f"{len(client.resend_queue)} to resend when the run ended"
                    )
            if publisher.unresolved:
                self.failures.append(f"publisher: unresolved writes {publisher.unresolved[:5]}")
            records = await self.read_kafka()
            self.timeline.note(f"read {len(records)} records back from {self.prefix}.clients")
            behind = await self.wait_caught_up(records)
            self.timeline.note(
                f"{len(self.clients) - behind} of {len(self.clients)} subscribers have their "
                "campaign's last record; verifying"
            )
            verdict = self.verify(records)
            self.measure_pause()
            if self.config.workdir is not None:
                self.dump(records)
            for client in self.clients:
                if client.failed:
                    self.failures.append(client.failed)
                if client.foreign:
                    self.failures.append(f"{client.tag}: {client.foreign} foreign events")
            for gateway in self.gateways:
                if not gateway.alive:
                    self.failures.append(f"gateway {gateway.name} is not running at the end")
            return ChaosResult(
                config=self.config,
                schedule=self.schedule,
                counters=self.counters,
                verdict=verdict,
                pause=self.pause,
                timeline=self.timeline.entries,
                failures=self.failures,
                kafka_version=self.kafka.version,
                traffic_s=traffic_s,
                wall_s=time.monotonic() - began,
                traffic_at=self.traffic_t0 - self.timeline.t0,
            )
        finally:
            self.closing = True
            self.stop_emitting.set()
            for task in (*workers, *readers):
                task.cancel()
            await asyncio.gather(*workers, *readers, return_exceptions=True)
            await asyncio.gather(
                *(c.conn.close() for c in self.clients if c.conn is not None),
                return_exceptions=True,
            )
            if producer is not None:
                with contextlib.suppress(Exception):
                    await producer.stop()
            await self.session.close()
            await asyncio.to_thread(self.shutdown)

    def shutdown(self) -> None:
        for gateway in self.gateways:
            gateway.signal(signal.SIGTERM, 20)
        with contextlib.suppress(Exception):
            self.kafka.stop()


# -- helpers ----------------------------------------------------------------------------------


async def wait_event(event: asyncio.Event, seconds: float) -> bool:
    """Wait at most ``seconds`` for ``event``; whether it is set."""
    if event.is_set():
        return True
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
    return event.is_set()


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


async def run(config: ChaosConfig) -> ChaosResult:
    """Run the whole chaos check; the result says whether every guarantee held."""
    config.validate()
    limit = Schedule.for_config(config).end + 900
    async with asyncio.timeout(limit):
        if config.workdir is not None:
            config.workdir.mkdir(parents=True, exist_ok=True)
            return await ChaosRun(config, config.workdir).execute()
        with tempfile.TemporaryDirectory(prefix="nexus-chaos-") as tmp:
            return await ChaosRun(config, Path(tmp)).execute()


# -- reporting --------------------------------------------------------------------------------


def summary_rows(result: ChaosResult) -> list[tuple[str, str]]:
    c, v, p = result.counters, result.verdict, result.pause
    closes = ", ".join(f"{code}: {n}" for code, n in sorted(c.closes.items())) or "none"
    retryable = ", ".join(f"{k}: {n}" for k, n in sorted(c.retryable_errors.items())) or "none"
    return [
        (
            "events (in Kafka)",
            f"{v.events} ({v.chat_events} chat.message from clients, "
            f"{v.updated_events} campaign.updated from the publisher)",
        ),
        ("deliveries to subscribers", f"{v.deliveries}"),
        (
            "acks",
            f"{c.acks + c.publisher_acks} ({c.acks} to clients, of which {c.duplicate_acks} "
            f"answered from an earlier write; {c.publisher_acks} to the publisher)",
        ),
        (
            "resends",
            f"{c.resends + c.publisher_resends} ({c.resends} by clients, "
            f"{c.publisher_resends} by the publisher); retryable errors: {retryable}",
        ),
        (
            "in doubt (socket closed before the answer)",
            f"{c.in_doubt}: {c.confirmed_by_delivery} had landed (seen in the stream), "
            f"{c.resent_after_probe} had not and were resent; publisher writes in doubt "
            f"{c.publisher_in_doubt}",
        ),
        (
            "kills",
            f"{result.kills} (gateway SIGKILL {c.gateway_kills}, gateway drain "
            f"{c.gateway_drains}, broker SIGKILL {c.broker_kills}); restarts {c.restarts}",
        ),
        (
            "reconnects",
            f"{c.reconnects} resumes (closes by code: {closes}; {c.migrations} of them moves "
            f"back home), {c.reconnect_attempts} attempts",
        ),
        ("lost", f"{result.lost}"),
        ("duplicated", f"{result.duplicated}"),
        ("out of order", f"{result.out_of_order}"),
        (
            "lost acked / acks at the wrong offset",
            f"{v.lost_acked} / {v.ack_mismatch}",
        ),
        ("kafka_duplicates", f"{v.kafka_duplicates}"),
        (
            "recovered_false",
            f"{c.recovered_false} (resumed welcomes whose position was not the `since` given: "
            f"{c.resume_position_mismatch})",
        ),
        (
            "unexpected / wrong position",
            f"{v.unexpected} / {v.offset_mismatch}",
        ),
        (
            "longest delivery pause during broker kill",
            f"{p.longest_ms:.0f} ms (broker {p.broker} down "
            f"+{p.window_s[0]:.1f}s..+{p.window_s[1]:.1f}s, it led partitions "
            f"{p.led_partitions}; per subscriber, max/median: on those partitions "
            f"{spread(p.steady_led_ms)}, on the others {spread(p.steady_other_ms)}, resumed "
            f"during the outage {spread(p.resumed_ms)}; before any fault, for comparison: "
            f"longest {p.calm_longest_ms:.0f} ms; the controller fenced the broker "
            + (
                f"{p.fenced_after_s:.1f} s after the kill"
                if p.fenced_after_s is not None
                else "at an unknown time"
            )
            + ("; the broker was also the active KRaft controller" if p.controller_moved else "")
            + ")",
        ),
    ]


def spread(values: Sequence[float]) -> str:
    if not values:
        return "none"
    return f"{max(values):.0f}/{statistics.median(values):.0f} ms (n={len(values)})"


def render_table(result: ChaosResult) -> str:
    rows = summary_rows(result)
    lines = ["| count | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)


def machine() -> str:
    model, mem_kib = "unknown CPU", 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
                break
    libs = ", ".join(f"{name} {version(name)}" for name in ("aiohttp", "aiokafka"))
    return (
        f"nproc {os.cpu_count()}, {model}, RAM {mem_kib / 1024 / 1024:.1f} GiB, Linux "
        f"{platform.release()}, Python {platform.python_version()} ({libs})"
    )


def render_section(result: ChaosResult, command: str) -> str:
    config, schedule, p = result.config, result.schedule, result.pause
    steady = max([*p.steady_led_ms, *p.steady_other_ms], default=0.0)
    verdict = "PASS" if result.ok else "FAIL"
    lines = [
        BEGIN_MARK,
        SECTION_TITLE,
        "",
        f"Command: `{command}`  ",
        f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  ",
        f"Machine: {machine()}  ",
        f"Kafka: Apache Kafka {result.kafka_version}, 3 KRaft nodes (broker+controller), "
        f"heap {config.kafka_heap} each, started by the check; `<prefix>.clients` "
        f"{config.clients_partitions} partitions, replication factor 3, "
        "`min.insync.replicas` 2.  ",
        "Processes: two `nexus gateway` (`NEXUS_AUTH=none`, "
        "`NEXUS_GATEWAY_PRODUCE_TIMEOUT_S=5`, `NEXUS_GATEWAY_DRAIN_TIMEOUT_S=10`), the "
        "check's clients and its backend publisher, all on 127.0.0.1.  ",
        f"Load: {config.campaigns} campaigns x {config.clients_per_campaign} clients, each "
        f"client emitting `chat.message` every {config.emit_interval_s:g} s on average "
        f"and receiving its campaign; the publisher writes `campaign.updated` at "
        f"{config.publish_rate:g}/s. Traffic ran {result.traffic_s:.0f} s; the whole check "
        f"took {result.wall_s:.0f} s.  ",
        f"Chaos (seconds after traffic started): gateway A SIGKILL at "
        f"{schedule.gateway_kill:.0f}, restarted {config.gateway_down_s:g} s later on the same "
        f"ports; broker {p.broker} SIGKILL at {p.window_s[0]:.0f} (it led partitions "
        f"{p.led_partitions})"
        + (
            f", gateway B SIGKILL at {schedule.gateway_kill_in_outage:.0f} while that broker "
            "was down (its clients resumed on A during the outage)"
            if schedule.gateway_kill_in_outage is not None
            else ""
        )
        + f"; the broker was back at {p.window_s[1]:.0f}"
        + (" and gateway B with it" if schedule.gateway_kill_in_outage is not None else "")
        + f"; gateway B SIGTERM (drain) at {schedule.gateway_drain:.0f}, restarted after it "
        "exited. After each gateway restart its own clients moved back to it (clean close, "
        "resume). The exact times are in the timeline below.",
        "",
        f"Result: **{verdict}**: lost = {result.lost}, duplicated = {result.duplicated}, "
        f"out of order = {result.out_of_order}; longest delivery pause during the broker "
        f"kill: **{p.longest_ms / 1000:.1f} s** (a subscriber that also had to resume, its "
        f"gateway killed during the outage); **{steady / 1000:.1f} s** for subscribers that "
        "kept their session.",
        "",
        render_table(result),
        "",
        "How it is checked: `<prefix>.clients` is read back from Kafka at the end; every ack "
        "(client or publisher) must name a record holding that event id; every subscriber's "
        "delivered sequence must equal its campaign's records in Kafka from its first welcome "
        "position on (lost: missing there; duplicated: an event id delivered twice; out of "
        "order: delivered before an event Kafka holds earlier); every delivered position "
        "must name the delivered record. A client whose socket closes resumes with `since` "
        "on the other gateway; an event whose socket closed before its answer is resolved "
        "through the client's own stream (its next event, once acked, is a probe: an "
        "in-doubt event seen before the probe landed; one not seen never did and is "
        "resent), so no event id is written twice (`kafka_duplicates`).",
        "",
        "The pause: for every subscriber, the longest time between two consecutive "
        "deliveries overlapping the time the broker was down. Every partition stalls, not "
        "only those the killed broker led: with replication factor 3 on 3 brokers it is a "
        "replica of every partition, an acks=all write waits for every in-sync replica, and "
        "the dead broker stays in the in-sync set until the controller fences it (KRaft "
        "`broker.session.timeout.ms`, 9 s by default). Then the partitions it led get new "
        "leaders, the others shrink their in-sync set to the 2 live brokers (still "
        "`min.insync.replicas`), producers refresh metadata, and the writes that had been "
        "answered `unavailable` are resent with the same event id (the gateway answers them "
        "from the first write). So the pause is the fencing time plus 1-2 s for clients to "
        "notice; when the killed broker is also the active KRaft controller, electing a new "
        "controller comes first (about 2 s), and the new controller's session timer for the "
        "dead broker starts only then. Subscribers whose gateway was also killed during the "
        "outage wait several seconds longer: the surviving gateway admits sessions one at a "
        "time, each looking up its partition's offsets in Kafka, which cannot answer until "
        "the leaders are elected.",
    ]
    lines += ["", "Timeline (seconds after the traffic started):", "", "```"]
    lines += [f"{at - result.traffic_at:+7.1f}  {text}" for at, text in result.timeline]
    lines += ["```"]
    if result.failures:
        lines += ["", "Failures:", *(f"- {f}" for f in result.failures[:20])]
    lines += ["", END_MARK]
    return "\n".join(lines) + "\n"


def write_section(doc: Path, section: str) -> None:
    """Replace this check's section of ``doc`` (between its markers) or append it."""
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    begin, end = text.find(BEGIN_MARK), text.find(END_MARK)
    if begin != -1 and end > begin:
        text = text[:begin] + section + text[end + len(END_MARK) :].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--duration", type=float, default=90.0, help="seconds of traffic")
    parser.add_argument("--campaigns", type=int, default=8)
    parser.add_argument("--clients-per-campaign", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--emit-interval", type=float, default=0.5, help="mean seconds between a client's events"
    )
    parser.add_argument(
        "--publish-rate", type=float, default=5.0, help="campaign.updated events per second"
    )
    parser.add_argument("--workdir", type=Path, help="keep logs and Kafka data here")
    parser.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument("--doc", type=Path, default=DOC, help="the Markdown file to update")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    config = ChaosConfig(
        duration=args.duration,
        campaigns=args.campaigns,
        clients_per_campaign=args.clients_per_campaign,
        seed=args.seed,
        emit_interval_s=args.emit_interval,
        publish_rate=args.publish_rate,
        workdir=args.workdir,
    )
    try:
        config.validate()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    given: list[str] = []
    skip = False
    for arg in sys.argv[1:] if argv is None else argv:
        # Where the logs went and whether the docs were written do not change the result.
        if skip or arg == "--write-docs" or arg.startswith("--workdir"):
            skip = arg == "--workdir"
            continue
        given.append(arg)
    command = " ".join([".venv/bin/python -m bench.chaos", *given])
    # The clients' Kafka connections log every refused connect while a broker is down.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    result = asyncio.run(run(config))
    print()
    print(render_table(result))
    if result.verdict.worst:
        print("\nfirst problems:")
        for line in result.verdict.worst[:20]:
            print(f"  {line}")
    for failure in result.failures:
        print(f"FAILURE: {failure}")
    print(f"\n{'PASS' if result.ok else 'FAIL'}")
    if args.write_docs:
        write_section(args.doc, render_section(result, command))
        print(f"updated {args.doc}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
