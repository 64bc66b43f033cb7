"""Part 2, fan-out: ``campaign.updated`` records produced to ``<prefix>.clients``, all at once
(burst) or at a fixed rate (paced), and delivered by the gateway to every subscriber."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import resource
import time
from array import array
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiokafka import AIOKafkaProducer

from bench.harness.procstat import OTHER, CpuWindow, rss_kib
from bench.harness.report import fmt
from bench.harness.stats import percentile
from bench.mainflow.mesh import CLIENT, Mesh, metric_delta, scrape_metrics
from bench.mainflow.subscriber import FanoutRound, Subscriber, connect_subscribers
from nexus_mesh.codec import Codec
from nexus_mesh.kafka.connection import client_kwargs
from nexus_mesh.kafka.records import Headers, record_headers, record_key
from nexus_mesh.kafka.topics import TopicNames
from nexus_mesh.registry import load_registry
from nexus_mesh.service import EventFactory


def raise_fd_limit(needed: int) -> str:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(hard, needed)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        if target < needed:
            return f"open files raised {soft} -> {target} (hard limit; {needed} wanted)"
        return f"open files raised {soft} -> {target} (inherited by the gateway)"
    return f"open files limit {soft} (enough; {needed} needed)"


@dataclass
class FanoutRun:
    label: str
    events: int
    subscribers: int
    offered_events_per_s: float | None  # None: every event enqueued at once
    frame_bytes: int
    acked_s: float
    first_s: float
    last_s: float
    received: int
    lost: int
    dups: int
    disorder: int
    stray: int
    closed: int
    gateway_frames: float  # nexus_gateway_events_out delta: frames queued by the gateway
    slow_closes: float
    latency_ms: list[float]  # publish -> receipt of every delivery, ascending
    cpu: CpuWindow

    @property
    def deliveries(self) -> int:
        return self.events * self.subscribers

    @property
    def rate(self) -> float:
        return self.received / self.last_s if self.last_s > 0 else 0.0

    def lat(self, q: float) -> float:
        return percentile(self.latency_ms, q)

    def cpu_us_per_delivery(self, name: str) -> float:
        used = self.cpu.seconds.get(name)
        if used is None or not self.received:
            return math.nan
        return used / self.received * 1e6

    def summary(self) -> str:
        latency = (
            f"latency p50 {self.lat(50):.0f} ms p99 {self.lat(99):.0f} ms, "
            if self.offered_events_per_s
            else ""
        )
        return (
            f"{self.rate:,.0f} deliveries/s ({self.received:,}/{self.deliveries:,} in "
            f"{self.last_s:.2f} s), {latency}lost {self.lost}, dup {self.dups}, "
            f"out of order {self.disorder}; cores: gateway "
            f"{fmt(self.cpu.cores('gateway'))}, bench client {fmt(self.cpu.cores(CLIENT))}, "
            f"{OTHER} {fmt(self.cpu.cores(OTHER))}"
        )


@dataclass
class FanoutSetup:
    subscribers: int
    connect_s: float
    gateway_rss_before_kib: int | None
    gateway_rss_after_kib: int | None
    fd_note: str

    @property
    def kib_per_connection(self) -> float:
        if self.gateway_rss_before_kib is None or self.gateway_rss_after_kib is None:
            return math.nan
        return (self.gateway_rss_after_kib - self.gateway_rss_before_kib) / self.subscribers


@dataclass
class Fanout:
    """Everything one fan-out run needs."""

    mesh: Mesh
    session: aiohttp.ClientSession
    factory: EventFactory
    codec: Codec
    producer: AIOKafkaProducer
    campaign: str
    subscribers: list[Subscriber]

    def records(self, prefix: str, events: int) -> list[tuple[bytes, bytes, Headers]]:
        """Encoded ahead of the clock: the window measures the mesh, not the encoding."""
        out = []
        for seq in range(events):
            envelope = self.factory.envelope(
                "campaign.updated",
                campaign_updated_payload(seq),
                campaign_id=self.campaign,
                event_id=f"{prefix}{seq:06d}",
            )
            out.append(
                (self.codec.encode(envelope), record_key(envelope), record_headers(envelope))
            )
        return out

    async def run(self, label: str, events: int, per_s: float | None) -> FanoutRun:
        subscribers = self.subscribers
        prefix = f"fanout-{label}-"
        round_ = FanoutRound(prefix=prefix, events=events, remaining=len(subscribers))
        for sub in subscribers:
            sub.expect(round_)
        records = self.records(prefix, events)
        topic = self.factory.topic_of("campaign.updated")
        published = array("d", bytes(8 * events))
        before = await scrape_metrics(self.session, self.mesh.gateway_url)
        cpu = CpuWindow(self.mesh.pids())
        cpu.start()
        t0 = time.perf_counter()
        # Enqueued one after another so Kafka gets them in this order; acks awaited together.
        futures = []
        for seq, (value, key, headers) in enumerate(records):
            if per_s is not None:
                delay = t0 + seq / per_s - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            published[seq] = time.perf_counter()
            futures.append(await self.producer.send(topic, value=value, key=key, headers=headers))
        await asyncio.gather(*futures)
        acked_s = time.perf_counter() - t0
        deliveries = events * len(subscribers)
        budget = (events / per_s if per_s else 0.0) + max(30.0, deliveries / 20_000)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(round_.done.wait(), budget)
        cpu.stop()
        after = await scrape_metrics(self.session, self.mesh.gateway_url)
        received = sum(sub.unique for sub in subscribers)
        got_any = [sub for sub in subscribers if sub.unique]
        latency = sorted(
            (sub.times[seq] - published[seq]) * 1000
            for sub in subscribers
            for seq in range(events)
            if sub.seen[seq]
        )
        return FanoutRun(
            label=label,
            events=events,
            subscribers=len(subscribers),
            offered_events_per_s=per_s,
            frame_bytes=round_.frame_bytes,
            acked_s=acked_s,
            first_s=(min(sub.first_t for sub in got_any) - t0) if got_any else math.nan,
            last_s=(max(sub.last_t for sub in got_any) - t0) if got_any else math.nan,
            received=received,
            lost=deliveries - received,
            dups=sum(sub.dups for sub in subscribers),
            disorder=sum(sub.disorder for sub in subscribers),
            stray=sum(sub.stray for sub in subscribers),
            closed=sum(1 for sub in subscribers if sub.close_code is not None),
            gateway_frames=metric_delta(before, after, "nexus_gateway_events_out_total"),
            slow_closes=metric_delta(before, after, "nexus_gateway_slow_consumer_closes_total"),
            latency_ms=latency,
            cpu=cpu,
        )


def campaign_updated_payload(seq: int) -> dict[str, Any]:
    statuses = ("draft", "scheduled", "live", "paused", "live", "closed")
    return {
        "name": f"Summer Festival 2026 - wave {seq % 7 + 1}",
        "status": statuses[seq % len(statuses)],
        "changes": {
            "capacity": str(12_000 + seq),
            "doors_open": "18:30",
            "headliner": "The Meridian Symphony Orchestra",
        },
        "updated_at": int(time.time() * 1000),
    }


async def fanout_phase(
    mesh: Mesh, args: argparse.Namespace, fd_note: str
) -> tuple[FanoutSetup, list[FanoutRun], list[FanoutRun]]:
    """Burst runs (all events at once) and paced runs (``--paced-rate`` events/s)."""
    assert mesh.settings is not None
    assert mesh.gateway is not None
    settings = mesh.settings
    registry = load_registry(settings.schemas_dir)
    codec = Codec(registry)
    topics = TopicNames(prefix=settings.topic_prefix)
    producer = AIOKafkaProducer(
        **client_kwargs(settings),
        client_id="bench-fanout-publisher",
        acks="all",
        enable_idempotence=True,
        linger_ms=1,
    )
    await producer.start()
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    subscribers: list[Subscriber] = []
    readers: list[asyncio.Task[None]] = []
    try:
        gateway_pid = mesh.gateway.process.pid
        rss_before = rss_kib(gateway_pid)
        began = time.perf_counter()
        subscribers = await connect_subscribers(
            session, mesh.gateway_url, "bench-fanout", args.subscribers
        )
        connect_s = time.perf_counter() - began
        await asyncio.sleep(1.0)
        setup = FanoutSetup(
            subscribers=len(subscribers),
            connect_s=connect_s,
            gateway_rss_before_kib=rss_before,
            gateway_rss_after_kib=rss_kib(gateway_pid),
            fd_note=fd_note,
        )
        print(f"fan-out: {len(subscribers)} subscribers connected in {connect_s:.1f} s", flush=True)
        readers = [asyncio.create_task(sub.read()) for sub in subscribers]
        fanout = Fanout(
            mesh=mesh,
            session=session,
            factory=EventFactory(
                registry=registry, codec=codec, topics=topics, source="bench/mainflow"
            ),
            codec=codec,
            producer=producer,
            campaign="bench-fanout",
            subscribers=subscribers,
        )
        await fanout.run("warmup", 50, None)
        burst, paced = [], []
        for run in range(1, args.runs + 1):
            burst.append(await fanout.run(f"b{run}", args.events, None))
            print(f"fan-out burst {run}: {burst[-1].summary()}", flush=True)
            await asyncio.sleep(1.0)
        if args.paced_rate > 0:
            events = max(1, round(args.paced_rate * args.paced_seconds))
            for run in range(1, args.runs + 1):
                paced.append(await fanout.run(f"p{run}", events, args.paced_rate))
                print(f"fan-out paced {run}: {paced[-1].summary()}", flush=True)
                await asyncio.sleep(1.0)
        return setup, burst, paced
    finally:
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        gate = asyncio.Semaphore(100)

        async def close(sub: Subscriber) -> None:
            async with gate:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(sub.ws.close(), 5)

        await asyncio.gather(*(close(sub) for sub in subscribers))
        await session.close()
        await producer.stop()
