"""One chaos client: a subscriber of its campaign that emits ``chat.message`` events and
resumes on the other gateway when its socket closes, without writing any event twice."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bench.chaos.config import (
    CHAT,
    EMIT_TIMEOUT_S,
    PROBE_DEADLINE_S,
    RECONNECT_DEADLINE_S,
    SETTLE_DEADLINE_S,
    TRACKED_TYPES,
)
from nexus_mesh.client import Ack, Event, MeshClient, MeshClosedError, MeshConnectError, MeshError
from nexus_mesh.position import Position

if TYPE_CHECKING:
    from bench.chaos.run import ChaosRun


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
        """The open session, once there is one.

        A session can end before the reader has taken note (and cleared ``connected``);
        returning it would let the emitter fail on it again and again without ever waiting,
        which holds the event loop and so keeps the reader from resuming.
        """
        try:
            async with asyncio.timeout(RECONNECT_DEADLINE_S + 30):
                while True:
                    await self.connected.wait()
                    if self.failed is not None or self.conn is None:
                        raise ClientFailedError(self.failed or f"{self.tag}: no session")
                    if not self.conn.closed:
                        return self.conn
                    self.connected.clear()  # the reader sets it again once it resumed
        except TimeoutError:
            raise ClientFailedError(f"{self.tag}: no session for too long") from None

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
        while time.monotonic() < deadline and not self.run.closing:
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
        if self.run.closing:
            return False
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
                # No answer on a live socket: resend there, the gateway dedupes. The pause
                # also guarantees the loop yields, whatever the exception's cause.
                await asyncio.sleep(backoff)
                backoff = min(2.0, backoff * 2)
                continue
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


async def wait_event(event: asyncio.Event, seconds: float) -> bool:
    """Wait at most ``seconds`` for ``event``; whether it is set."""
    if event.is_set():
        return True
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
    return event.is_set()
