"""What an operator scrapes from a service's ``/metrics`` while it runs against a real broker:
consumer lag per assigned partition, handler timings per outcome, write latency."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace

import pytest
from prometheus_client import Counter

from nexus_mesh.envelope import Envelope
from nexus_mesh.localkafka.cluster import free_port
from nexus_mesh.service import Context, Service, ServiceConfig
from nexus_mesh.settings import NexusSettings
from nexus_mesh.tracing import Telemetry
from nexus_testkit import MetricSamples as Samples
from nexus_testkit import eventually
from nexus_testkit import metric_value as value
from nexus_testkit import scrape_metrics as scrape
from service_kit import SearchRequests, search_requests

# A short lag interval so a backlog shows within a test's patience, not within minutes.
FAST = ServiceConfig(
    poll_timeout_ms=100, retry_backoff_s=0.01, stop_timeout_s=5.0, lag_interval_s=0.2
)


@pytest.fixture
async def requests(settings: NexusSettings) -> AsyncIterator[SearchRequests]:
    async with search_requests(settings) as writer:
        yield writer


@asynccontextmanager
async def serving(service: Service, settings: NexusSettings) -> AsyncIterator[str]:
    """``service.run`` as a service process runs it, ``/metrics`` on a free loopback port;
    yields the base URL once the group has assigned the instance its partitions."""
    port = free_port()
    settings = settings.model_copy(
        update={"service_metrics_host": "127.0.0.1", "service_metrics_port": port}
    )
    task = asyncio.create_task(service.run(settings, telemetry=Telemetry()))
    try:

        async def ready() -> bool:
            if task.done():
                task.result()  # a failed start fails the test with its own error
            return service.running and service.ready.is_set()

        await eventually(ready, timeout=30, what=f"service {service.name} ready")
        yield f"http://127.0.0.1:{port}"
    finally:
        await service.stop()
        await asyncio.wait_for(task, 30)


def lags(samples: Samples, topic: str) -> dict[int, float]:
    """``nexus_service_consumer_lag`` by partition of ``topic``."""
    found = {}
    for (name, labels), lag in samples.items():
        if name == "nexus_service_consumer_lag":
            label = dict(labels)
            assert label["topic"] == topic
            assert label["service"] == "lagging"
            found[int(label["partition"])] = lag
    return found


def quiet_service() -> Service:
    service = Service(name="lagging", domain="search", config=FAST)

    @service.handler("search.requested")
    async def on_request(event: Envelope, ctx: Context) -> None:
        """Never called: these tests write nothing for it."""

    return service


async def test_lag_counts_the_backlog_behind_a_stuck_handler(requests: SearchRequests) -> None:
    entered, release = asyncio.Event(), asyncio.Event()
    handled: list[str] = []
    service = Service(name="lagging", domain="search", config=replace(FAST, handler_timeout_s=None))

    @service.handler("search.requested")
    async def on_request(event: Envelope, ctx: Context) -> None:
        if event.payload["query"] == "stuck":
            entered.set()
            await release.wait()
        handled.append(event.metadata.event_id)

    topic = requests.topics.domain("search")
    (stuck_on,), (other,) = requests.campaigns_on(0), requests.campaigns_on(1)
    async with serving(service, requests.settings) as url:

        async def lag_is(expected: dict[int, float]) -> dict[int, float] | None:
            found = lags(await scrape(url), topic)
            return found if found == expected else None

        # Nothing was ever written: a series per assigned partition all the same, at zero.
        await eventually(lambda: lag_is({0: 0, 1: 0}), what="a zero lag per partition")

        await requests.send("stuck", campaign_id=stuck_on)
        await eventually(_is_set(entered), what="the handler to get stuck")
        # The record in hand is not dealt with yet: it still counts.
        await eventually(lambda: lag_is({0: 1, 1: 0}), what="the stuck record as lag")

        for i in range(5):
            await requests.send(f"behind-{i}", campaign_id=stuck_on)
        for i in range(3):
            await requests.send(f"other-{i}", campaign_id=other)
        # The stuck campaign's later records wait behind it, and count; the other
        # partition's campaign is handled meanwhile, and its lag goes back to zero.
        await eventually(lambda: lag_is({0: 6, 1: 0}), what="the backlog behind the stuck one")
        assert len(handled) == 3

        release.set()
        await eventually(lambda: lag_is({0: 0, 1: 0}), what="the backlog worked off")
        assert len(handled) == 9


def _is_set(event: asyncio.Event) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return event.is_set()

    return probe


async def test_lag_series_follow_the_assignment(requests: SearchRequests) -> None:
    topic = requests.topics.domain("search")
    async with serving(quiet_service(), requests.settings) as first:

        async def partitions(url: str) -> set[int]:
            return set(lags(await scrape(url), topic))

        async def owns_all() -> bool:
            return await partitions(first) == {0, 1}

        await eventually(owns_all, what="both partitions' lag on the only instance")

        async with serving(quiet_service(), requests.settings) as second:

            async def split() -> tuple[set[int], set[int]] | None:
                mine, theirs = await partitions(first), await partitions(second)
                return (mine, theirs) if len(mine) == len(theirs) == 1 else None

            mine, theirs = await eventually(split, what="one partition's lag on each instance")
            # A revoked partition's series is gone, not left frozen at its last value.
            assert mine | theirs == {0, 1}
            for url in (first, second):
                samples = await scrape(url)
                assert value(samples, "nexus_service_assigned_partitions", service="lagging") == 1

        await eventually(owns_all, what="both partitions back once the second left")


async def test_every_handler_outcome_is_timed_and_every_write_too(requests: SearchRequests) -> None:
    config = replace(FAST, handler_timeout_s=0.5, retry_attempts=1)
    service = Service(name="timed", domain="search", config=config)
    never = asyncio.Event()

    @service.handler("search.requested")
    async def on_request(event: Envelope, ctx: Context) -> None:
        query = event.payload["query"]
        if query == "boom":
            raise RuntimeError("the handler failed on purpose")
        if query == "slow":
            await never.wait()  # cut off by handler_timeout_s
        await ctx.reply("search.completed", {"query": query, "hits": []})

    async with serving(service, requests.settings) as url:
        for query in ("fine", "boom", "slow"):
            await requests.send(query)

        async def settled() -> Samples | None:
            # Counted once each dead letter is written, so everything before it is on record.
            found = await scrape(url)
            dead = value(found, "nexus_service_dlq_total", service="timed", reason="handler")
            return found if dead == 2 else None

        samples = await eventually(settled, what="both dead letters counted")

    def handle(outcome: str, suffix: str = "count") -> float | None:
        return value(
            samples,
            f"nexus_service_handle_seconds_{suffix}",
            service="timed",
            type="search.requested",
            outcome=outcome,
        )

    assert (handle("handled"), handle("failed"), handle("timed_out")) == (1, 1, 1)
    # The timed-out one is on record with the time it held its partition up.
    assert (handle("timed_out", "sum") or 0) >= 0.5
    # The reply, the two failure replies (search.failed, sent before each dead letter) and
    # both dead letters waited for Kafka's acknowledgement.
    latency = "nexus_service_produce_latency_seconds"
    assert value(samples, f"{latency}_count", service="timed", outcome="ok") == 5
    failed = value(samples, "nexus_service_events_out_total", service="timed", type="search.failed")
    assert failed == 2
    assert (value(samples, f"{latency}_sum", service="timed", outcome="ok") or 0) > 0


async def test_a_metric_of_the_service_s_own_is_served_beside_the_mesh_s(
    requests: SearchRequests,
) -> None:
    """A counter the author registers in ``service.metrics.registry`` (as the README says)
    is on the service's ``/metrics``, and moves with what its handler counts."""
    service = Service(name="counting", domain="search", config=FAST)
    queries = Counter(
        "search_queries_by_length",
        "Queries seen, by whether they are short",
        ["short"],
        registry=service.metrics.registry,
    )

    @service.handler("search.requested")
    async def on_request(event: Envelope, ctx: Context) -> None:
        queries.labels(str(len(event.payload["query"]) < 5).lower()).inc()

    async with serving(service, requests.settings) as url:
        for query in ("jazz", "soul", "a longer one"):
            await requests.send(query)

        async def counted() -> Samples | None:
            # All three handled: the requests may be handled in any order.
            found = await scrape(url)
            short = value(found, "search_queries_by_length_total", short="true")
            long = value(found, "search_queries_by_length_total", short="false")
            return found if (short or 0) + (long or 0) >= 3 else None

        samples = await eventually(counted, what="the author's counter on /metrics")
    assert value(samples, "search_queries_by_length_total", short="true") == 2
    assert value(samples, "search_queries_by_length_total", short="false") == 1


async def test_how_long_a_request_waited_in_kafka_is_on_record(requests: SearchRequests) -> None:
    """A request written a minute before any service ran (an outage, a stopped deployment)
    shows its wait, not the milliseconds its handler took."""
    service = Service(name="aged", domain="search", config=FAST)
    handled = asyncio.Event()

    @service.handler("search.requested")
    async def on_request(event: Envelope, ctx: Context) -> None:
        handled.set()

    await requests.send_dated("old", timestamp_ms=int(time.time() * 1000) - 60_000)
    async with serving(service, requests.settings) as url:
        async with asyncio.timeout(30):
            await handled.wait()

        async def timed() -> Samples | None:
            found = await scrape(url)
            done = value(
                found,
                "nexus_service_handle_seconds_count",
                service="aged",
                type="search.requested",
                outcome="handled",
            )
            return found if done == 1 else None

        samples = await eventually(timed, what="the handler's time on record")

    def age(suffix: str) -> float:
        found = value(
            samples,
            f"nexus_service_record_age_seconds_{suffix}",
            service="aged",
            type="search.requested",
        )
        return found or 0.0

    assert age("count") == 1
    assert 60 <= age("sum") < 120
    handled_in = value(
        samples,
        "nexus_service_handle_seconds_sum",
        service="aged",
        type="search.requested",
        outcome="handled",
    )
    assert handled_in is not None and handled_in < 5, "the handler's own time stays its own"
