"""Part 1, the search round trip: an open-loop generator of ``search`` requests at a fixed
rate over many MeshClient sessions, timed from send to reply."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import random
import time
from dataclasses import dataclass, field

import aiohttp

from bench.harness.procstat import CpuWindow
from bench.harness.stats import percentile
from bench.mainflow.mesh import Mesh, metric_delta, scrape_metrics
from nexus_mesh.client import MeshClient, MeshClosedError, MeshError

# What people type into the search box of a ticketing/events app: FAQ questions, artists,
# cities, venues, sports; some match nothing, some match many documents.
QUERIES = (
    "refund policy",
    "how do I reset my password",
    "cancelled event refund",
    "postponed concert",
    "mobile tickets entry",
    "print tickets",
    "transfer ticket to a friend",
    "resale tickets",
    "promo code not working",
    "delete my account",
    "two-step verification",
    "change email address",
    "lost property",
    "first aid venue",
    "accessible seating wheelchair",
    "venue changed",
    "london arena",
    "concert hall oslo",
    "football fixture",
    "rugby international series",
    "cricket twenty20 manchester",
    "handball copenhagen",
    "ice hockey helsinki",
    "jazz festival",
    "folk gathering 2026",
    "music festival camping",
    "symphony orchestra prague",
    "open source summit",
    "fintech conference london",
    "indie game developers malmo",
    "getting to events in paris",
    "travel barcelona",
    "parking near the stadium",
    "berlin techno",
    "tokyo venue guide",
    "basketball tickets",
    "melbourne",
    "new york",
    "sso for agencies",
    "kafka avro websocket",  # matches nothing in a ticketing catalog
)


@dataclass
class SearchRun:
    label: str
    offered_rate: float
    sent: int = 0
    completed: int = 0
    failed: int = 0  # search.failed replies
    gateway_timeouts: int = 0  # search.timeout replies
    errors: dict[str, int] = field(default_factory=dict)  # nexus.error codes, client timeouts
    latencies_ms: list[float] = field(default_factory=list)  # replies of any type
    lags_ms: list[float] = field(default_factory=list)  # send time minus scheduled time
    # The reply's metadata.time is when the service built it (wall clock, whole ms): it splits
    # a round trip into "request to service reply" and "reply back to the client".
    to_service_ms: list[float] = field(default_factory=list)
    back_ms: list[float] = field(default_factory=list)
    hits: int = 0
    span_s: float = 0.0
    produce_ms: float = math.nan  # the gateway's mean write-until-acks=all, from /metrics
    cpu: CpuWindow | None = None

    @property
    def achieved_rate(self) -> float:
        answered = len(self.latencies_ms)
        return answered / self.span_s if self.span_s > 0 else 0.0

    def pct(self, q: float) -> float:
        return percentile(sorted(self.latencies_ms), q)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def summary(self) -> str:
        return (
            f"{self.achieved_rate:.1f} replies/s, p50 {self.pct(50):.1f} ms, p99 "
            f"{self.pct(99):.1f} ms, max {self.pct(100):.1f} ms, errors+timeouts "
            f"{self.error_count + self.gateway_timeouts}; p50 to service reply "
            f"{percentile(sorted(self.to_service_ms), 50):.1f} ms, back "
            f"{percentile(sorted(self.back_ms), 50):.1f} ms"
        )


async def open_loop(
    clients: list[MeshClient],
    *,
    rate: float,
    seconds: float,
    rng: random.Random,
    timeout: float,
    label: str,
    cpu: CpuWindow | None = None,
) -> SearchRun:
    """Send ``rate`` x ``seconds`` requests on a fixed schedule, whatever the replies do."""
    loop = asyncio.get_running_loop()
    total = round(rate * seconds)
    result = SearchRun(label=label, offered_rate=rate)
    pending: set[asyncio.Task[None]] = set()
    ends: list[float] = []

    def count(kind: str) -> None:
        result.errors[kind] = result.errors.get(kind, 0) + 1

    async def one(index: int, scheduled: float) -> None:
        client = clients[index % len(clients)]
        query = rng.choice(QUERIES)
        sent = loop.time()
        sent_wall_ms = time.time() * 1000
        result.lags_ms.append((sent - scheduled) * 1000)
        try:
            reply = await client.request("search", {"query": query}, timeout=timeout)
        except TimeoutError:
            count("client timeout")
            return
        except MeshError as exc:
            count(f"nexus.error {exc.code}")
            return
        except MeshClosedError as exc:
            count(f"closed {exc.close_code}")
            return
        done = loop.time()
        done_wall_ms = time.time() * 1000
        ends.append(done)
        result.latencies_ms.append((done - sent) * 1000)
        built = reply.metadata.get("time")
        if isinstance(built, int):
            result.to_service_ms.append(built - sent_wall_ms)
            result.back_ms.append(done_wall_ms - built)
        if reply.type == "search.completed":
            result.completed += 1
            result.hits += len(reply.payload.get("hits") or ())
        elif reply.type == "search.timeout":
            result.gateway_timeouts += 1
        else:
            result.failed += 1

    if cpu is not None:
        cpu.start()
    start = loop.time() + 0.01
    for index in range(total):
        scheduled = start + index / rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(index, scheduled))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.wait(pending, timeout=timeout + 5)
    if cpu is not None:
        cpu.stop()
    result.sent = total
    result.span_s = (max(ends) - start) if ends else 0.0
    result.cpu = cpu
    return result


async def wait_for_search(base_url: str, session: aiohttp.ClientSession, timeout: float) -> None:
    """One request answered end to end: the service's consumer group is really serving."""
    deadline = time.monotonic() + timeout
    async with MeshClient.connect(
        base_url, campaign_id="bench-probe", user_id="probe", session=session
    ) as client:
        while True:
            with contextlib.suppress(TimeoutError, MeshError):
                reply = await client.request("search", {"query": "refund"}, timeout=5)
                if reply.type == "search.completed":
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"no search reply within {timeout:.0f} s")
            await asyncio.sleep(0.5)


async def measured_search(
    mesh: Mesh,
    session: aiohttp.ClientSession,
    clients: list[MeshClient],
    rng: random.Random,
    args: argparse.Namespace,
    *,
    rate: float,
    seconds: float,
    label: str,
) -> SearchRun:
    before = await scrape_metrics(session, mesh.gateway_url)
    result = await open_loop(
        clients,
        rate=rate,
        seconds=seconds,
        rng=rng,
        timeout=args.request_timeout,
        label=label,
        cpu=CpuWindow(mesh.pids()),
    )
    after = await scrape_metrics(session, mesh.gateway_url)
    name = "nexus_gateway_produce_latency_seconds"
    writes = metric_delta(before, after, f"{name}_count")
    if writes:
        result.produce_ms = metric_delta(before, after, f"{name}_sum") / writes * 1000
    return result


async def search_phase(
    mesh: Mesh, args: argparse.Namespace
) -> tuple[list[SearchRun], list[SearchRun]]:
    """The measured runs at ``--rate``, then one shorter run at each ``--knee-rates``."""
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        await wait_for_search(mesh.gateway_url, session, timeout=60)
        clients = [
            await MeshClient.connect(
                mesh.gateway_url,
                campaign_id=f"bench-search-{index % args.campaigns}",
                user_id=f"searcher-{index}",
                session=session,
            )
            for index in range(args.connections)
        ]
        rng = random.Random(4)  # query choice only
        try:
            print(f"search: warm-up {args.warmup:g} s at {args.rate:g}/s", flush=True)
            await open_loop(
                clients,
                rate=args.rate,
                seconds=args.warmup,
                rng=rng,
                timeout=args.request_timeout,
                label="warm-up",
            )
            runs = []
            for run in range(1, args.runs + 1):
                result = await measured_search(
                    mesh,
                    session,
                    clients,
                    rng,
                    args,
                    rate=args.rate,
                    seconds=args.seconds,
                    label=str(run),
                )
                print(f"search run {run} at {args.rate:g}/s: {result.summary()}", flush=True)
                runs.append(result)
            knee = []
            for rate in args.knee_rates:
                result = await measured_search(
                    mesh,
                    session,
                    clients,
                    rng,
                    args,
                    rate=rate,
                    seconds=args.knee_seconds,
                    label=f"{rate:g}/s",
                )
                print(f"search at {rate:g}/s: {result.summary()}", flush=True)
                knee.append(result)
            return runs, knee
        finally:
            await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)
