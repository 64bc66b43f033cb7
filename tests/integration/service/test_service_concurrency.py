"""What a slow handler holds back, against a real broker: its own campaign, nothing else.

A service instance handles different campaigns' records at once, even within one partition,
up to ``max_concurrency``, and one campaign's records one after another in order; a
partition is committed only up to its oldest record not yet dealt with.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from aiokafka import TopicPartition

from kafka_tail import TopicTail
from nexus_mesh.envelope import Envelope
from nexus_mesh.kafka.producer import Written
from nexus_mesh.kafka.records import header
from nexus_mesh.kafka.topics import TopicNames
from nexus_mesh.service import Context, Service, ServiceConfig
from nexus_mesh.service.dlq import DeadLetters, FailedRecord
from nexus_mesh.settings import NexusSettings
from nexus_mesh.tracing import Telemetry
from nexus_testkit import eventually
from service_kit import SearchRequests, committed_offsets, running, search_requests

FAST = ServiceConfig(poll_timeout_ms=100, stop_timeout_s=5.0, handler_timeout_s=None)


@pytest.fixture
async def sender(settings: NexusSettings) -> AsyncIterator[SearchRequests]:
    async with search_requests(settings) as writer:
        yield writer


async def test_a_slow_campaign_holds_back_only_itself(sender: SearchRequests) -> None:
    """Campaign ``slow`` blocks in its handler. Another campaign of the same partition and a
    campaign of the other partition are handled meanwhile; ``slow``'s second request waits
    for its first; the partition's commit stays at ``slow``'s first request until it is
    done, then covers everything."""
    slow, same = sender.campaigns_on(0, 2)
    (other,) = sender.campaigns_on(1, 1)
    release = asyncio.Event()
    handled: list[str] = []  # queries, as each handler began
    service = Service(name="lanes", domain="search", config=FAST)

    @service.handler("search.requested")
    async def on_request(event: Envelope, ctx: Context) -> None:
        query = event.payload["query"]
        handled.append(query)
        if query.startswith("slow"):
            await release.wait()

    async with running(service, sender.settings):
        first = await sender.send("slow-1", campaign_id=slow)
        await sender.send("slow-2", campaign_id=slow)
        for n in range(3):
            await sender.send(f"same-{n}", campaign_id=same)
        last = await sender.send("other-0", campaign_id=other)
        assert first.partition == 0 and last.partition == 1

        async def others_handled() -> bool:
            return {"same-0", "same-1", "same-2", "other-0"} <= set(handled)

        await eventually(others_handled, what="the other campaigns handled beside the slow one")
        assert "slow-2" not in handled, "a campaign's second request passed its first"

        slow_tp = TopicPartition(first.topic, first.partition)
        other_tp = TopicPartition(last.topic, last.partition)

        async def held_at_the_slow_request() -> bool:
            committed = await committed_offsets(sender.settings, service.group_id)
            return committed.get(slow_tp) == first.offset and committed.get(other_tp) == (
                last.offset + 1
            )

        await eventually(
            held_at_the_slow_request, what="partition 0 committed up to the slow request only"
        )
        release.set()

        async def all_committed() -> bool:
            committed = await committed_offsets(sender.settings, service.group_id)
            return committed.get(slow_tp) == first.offset + 5

        await eventually(all_committed, what="partition 0 committed past every request")
    assert handled.index("slow-2") > handled.index("slow-1")
    assert handled.count("slow-1") == handled.count("slow-2") == 1


@pytest.mark.parametrize(("operator", "limit"), [(0, 3), (2, 2)], ids=["config", "operator"])
async def test_max_concurrency_bounds_the_records_in_hand(
    sender: SearchRequests, operator: int, limit: int
) -> None:
    """Ten campaigns' requests written before the service starts, at most three handled at
    once by the service's config, or two where the operator says so
    (``NEXUS_SERVICE_MAX_CONCURRENCY``): exactly that many are in hand until they are let
    go, then the rest follow."""
    settings = sender.settings.model_copy(update={"service_max_concurrency": operator})
    in_hand = 0
    most = 0
    handled: list[str] = []
    release = asyncio.Event()
    service = Service(name="bounded", domain="search", config=replace(FAST, max_concurrency=3))

    @service.handler("search.requested")
    async def on_request(event: Envelope, ctx: Context) -> None:
        nonlocal in_hand, most
        in_hand += 1
        most = max(most, in_hand)
        handled.append(event.metadata.campaign_id)
        try:
            await release.wait()
        finally:
            in_hand -= 1

    for n in range(10):
        await sender.send(f"q-{n}", campaign_id=f"camp-{n}")
    async with running(service, settings):

        async def at_the_limit() -> bool:
            return len(handled) == limit

        await eventually(at_the_limit, what=f"{limit} requests in hand")
        gauge = service.metrics.registry.get_sample_value(
            "nexus_service_handlers_in_flight", {"service": "bounded"}
        )
        assert gauge == limit
        release.set()

        async def all_handled() -> bool:
            return len(handled) == 10

        await eventually(all_handled, what="every request handled")

        async def none_in_hand() -> bool:
            return (
                service.metrics.registry.get_sample_value(
                    "nexus_service_handlers_in_flight", {"service": "bounded"}
                )
                == 0
            )

        await eventually(none_in_hand, what="the in-flight gauge back at zero")
    assert most == limit, f"{most} handlers ran at once, with a limit of {limit}"
    assert sorted(handled) == sorted(f"camp-{n}" for n in range(10))


async def test_a_backlog_past_max_records_is_handled_once_each_in_campaign_order(
    sender: SearchRequests,
) -> None:
    """Sixty requests in three campaigns, with fetching paused every four records waiting
    (``max_records=4``) and resumed at two: each is handled exactly once, each campaign's in
    the order sent."""
    sent: dict[str, list[str]] = defaultdict(list)
    seen: dict[str, list[str]] = defaultdict(list)
    service = Service(
        name="backlog",
        domain="search",
        config=replace(FAST, max_records=4, max_concurrency=8),
    )

    @service.handler("search.requested")
    async def on_request(event: Envelope, ctx: Context) -> None:
        seen[event.metadata.campaign_id].append(event.payload["query"])
        # Yields, so that other campaigns' handlers run in between.
        await asyncio.sleep(0)
        await ctx.reply("search.completed", {"query": event.payload["query"], "hits": []})

    for n in range(20):
        for campaign in ("camp-a", "camp-b", "camp-c"):
            query = f"{campaign}-{n}"
            sent[campaign].append(query)
            await sender.send(query, campaign_id=campaign)
    async with running(service, sender.settings):

        async def all_handled() -> bool:
            return sum(len(queries) for queries in seen.values()) >= 60

        await eventually(all_handled, timeout=30, what="every request handled")
    assert dict(seen) == dict(sent)


async def test_a_stuck_campaign_s_backlog_stays_in_kafka_not_in_memory(
    sender: SearchRequests,
) -> None:
    """One campaign is stuck in its handler with forty requests behind it, on a service
    fetching at most four records ahead per partition (``max_records=4``). Fetching from
    that partition pauses: the instance holds fewer than eight of them
    (``nexus_service_records_waiting``), the rest stay in Kafka, and a campaign written
    behind them on the same partition waits too, as ``ServiceConfig`` says. The other
    partition is served meanwhile. Once the stuck request is done, all follow, once each,
    in order."""
    stuck, behind = sender.campaigns_on(0, 2)
    (other,) = sender.campaigns_on(1, 1)
    release = asyncio.Event()
    handled: list[str] = []
    service = Service(
        name="paused", domain="search", config=replace(FAST, max_records=4, max_concurrency=8)
    )

    @service.handler("search.requested")
    async def on_request(event: Envelope, ctx: Context) -> None:
        handled.append(event.payload["query"])
        if event.payload["query"] == "stuck-0":
            await release.wait()

    def waiting() -> float | None:
        return service.metrics.registry.get_sample_value(
            "nexus_service_records_waiting", {"service": "paused"}
        )

    async with running(service, sender.settings):
        await sender.send("stuck-0", campaign_id=stuck)

        async def stuck_in_hand() -> bool:
            return handled == ["stuck-0"]

        await eventually(stuck_in_hand, what="the first request in its handler")
        for n in range(1, 41):
            await sender.send(f"stuck-{n}", campaign_id=stuck)
        await sender.send("behind-0", campaign_id=behind)
        # Written after the backlog: each fetch that brings one of these asks for partition
        # 0 as well, unless it is paused.
        for n in range(3):
            await sender.send(f"other-{n}", campaign_id=other)

            async def other_handled(query: str = f"other-{n}") -> bool:
                return query in handled

            await eventually(other_handled, what=f"other-{n}, on the other partition")
            held = waiting()
            assert held is not None and held < 8, f"{held} records held in memory"
        assert (waiting() or 0) >= 4, "the backlog's first records were never fetched"
        assert "behind-0" not in handled and handled.count("stuck-0") == 1
        release.set()

        async def all_handled() -> bool:
            return len(handled) == 45

        await eventually(all_handled, timeout=30, what="the backlog once the stuck one is done")
        assert waiting() == 0
    assert [q for q in handled if q.startswith("stuck")] == [f"stuck-{n}" for n in range(41)]
    # Fetched only once all but the last few of the backlog had started.
    assert handled.index("behind-0") > handled.index("stuck-30")


async def test_a_campaign_past_max_ahead_of_a_stuck_record_waits_for_it(
    sender: SearchRequests, caplog: pytest.LogCaptureFixture
) -> None:
    """One campaign's first request is stuck, and its second waits behind it; another
    campaign of the same partition has twenty. With ``max_ahead=5`` only the four within
    five offsets of the stuck one start (none of them can be committed before it, and a
    crash would hand them all to the next owner): the log says the partition is held and
    why. Once the stuck request is done everything follows, each campaign in order."""
    caplog.set_level(logging.INFO, logger="nexus.service.ahead")
    stuck, busy = sender.campaigns_on(0, 2)
    release = asyncio.Event()
    handled: list[str] = []
    service = Service(name="ahead", domain="search", config=replace(FAST, max_ahead=5))

    @service.handler("search.requested")
    async def on_request(event: Envelope, ctx: Context) -> None:
        handled.append(event.payload["query"])
        if event.payload["query"] == "stuck-0":
            await release.wait()

    def in_flight() -> float | None:
        return service.metrics.registry.get_sample_value(
            "nexus_service_handlers_in_flight", {"service": "ahead"}
        )

    async with running(service, sender.settings):
        first = await sender.send("stuck-0", campaign_id=stuck)
        for n in range(20):
            await sender.send(f"busy-{n}", campaign_id=busy)
        await sender.send("stuck-1", campaign_id=stuck)

        async def held() -> bool:
            return "starting none further on until it is done" in caplog.text

        await eventually(held, what="the partition said to be held")

        async def four_done() -> bool:
            return len(handled) == 5 and in_flight() == 1

        await eventually(four_done, what="four requests done past the stuck one")
        assert f"the record at offset {first.offset} is still being handled" in caplog.text
        assert handled == ["stuck-0", "busy-0", "busy-1", "busy-2", "busy-3"]
        release.set()

        async def all_handled() -> bool:
            return len(handled) == 22

        await eventually(all_handled, what="the rest once the stuck one is done")
        assert "moving again" in caplog.text
    assert [q for q in handled if q.startswith("busy")] == [f"busy-{n}" for n in range(20)]
    assert [q for q in handled if q.startswith("stuck")] == ["stuck-0", "stuck-1"]


async def test_a_failure_outside_the_handler_stops_the_instance_and_loses_nothing(
    sender: SearchRequests, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The handler fails and the dead-letter write itself breaks (an error the SDK does not
    expect: a fault injected into the DLQ writer, Kafka is real). The instance cannot deal
    with the record, so it does not skip it: ``run()`` ends with that error (a process
    exits for its restart), the log says why, and the partition stays committed before the
    record. The next instance of the service dead-letters it, once."""
    (campaign,) = sender.campaigns_on(0, 1)
    seen: list[str] = []

    def instance() -> Service:
        service = Service(name="broken", domain="search", config=FAST)

        @service.handler("search.requested")
        async def on_request(event: Envelope, ctx: Context) -> None:
            seen.append(event.payload["query"])
            if event.payload["query"] == "poison":
                raise ValueError("no such index")

        return service

    async def broken_write(
        self: DeadLetters, record: FailedRecord, error: BaseException
    ) -> Written:
        raise RuntimeError("the dead-letter writer broke")

    monkeypatch.setattr(DeadLetters, "write", broken_write)
    first = instance()
    # Loopback, no port: tests never listen beyond 127.0.0.1.
    settings = sender.settings.model_copy(
        update={"service_metrics_host": "127.0.0.1", "service_metrics_port": 0}
    )
    run = asyncio.create_task(first.run(settings, telemetry=Telemetry()))
    # Awaited before the service started: the same event is set once it is assigned.
    await asyncio.wait_for(first.ready.wait(), 30)
    await sender.send("fine-0", campaign_id=campaign)
    poison = await sender.send("poison", campaign_id=campaign)
    with pytest.raises(RuntimeError, match="the dead-letter writer broke"):
        await asyncio.wait_for(run, 30)
    assert seen == ["fine-0", "poison"]
    assert f"handling {poison.topic}-0@{poison.offset} failed outside its handler" in caplog.text
    tp = TopicPartition(poison.topic, poison.partition)
    committed = await committed_offsets(sender.settings, first.group_id)
    assert committed.get(tp) == poison.offset, "the record the instance failed on was committed"

    monkeypatch.undo()
    second = instance()
    async with running(second, sender.settings):

        async def dead_lettered() -> bool:
            return second.stats.dead_lettered == 1

        await eventually(dead_lettered, what="the next instance dead-letters the record")

        async def committed_past() -> bool:
            offsets = await committed_offsets(sender.settings, second.group_id)
            return offsets.get(tp) == poison.offset + 1

        await eventually(committed_past, what="the partition committed past the record")
    assert seen == ["fine-0", "poison", "poison"]


async def test_a_handler_raising_cancelled_error_is_dead_lettered(sender: SearchRequests) -> None:
    """A handler that lets a ``CancelledError`` out (a task it awaited was cancelled) failed,
    like any handler that raises: its record goes to the DLQ, and its campaign goes on."""
    handled: list[str] = []
    service = Service(name="cancelling", domain="search", config=FAST)

    @service.handler("search.requested")
    async def on_request(event: Envelope, ctx: Context) -> None:
        handled.append(event.payload["query"])
        if event.payload["query"] == "cancelled":
            helper = asyncio.ensure_future(asyncio.Event().wait())
            helper.cancel()
            await helper  # raises CancelledError into the handler

    topics = TopicNames(prefix=sender.settings.topic_prefix)
    async with (
        TopicTail(sender.settings, topics.dlq, 1) as dlq,
        running(service, sender.settings),
    ):
        written = await sender.send("cancelled", campaign_id="camp-1")
        await sender.send("after", campaign_id="camp-1")

        async def dead_lettered() -> bool:
            return bool(dlq.records)

        await eventually(dead_lettered, what="the dead letter")

        async def next_handled() -> bool:
            return handled == ["cancelled", "after"]

        await eventually(next_handled, what="the campaign's next request handled")
        (dead,) = dlq.records
        assert header(dead.headers, "nexus-error-type") == "nexus_mesh.errors.HandlerCancelledError"
        assert header(dead.headers, "nexus-original-offset") == str(written.offset)
        tp = TopicPartition(written.topic, written.partition)

        async def both_committed() -> bool:
            committed = await committed_offsets(sender.settings, service.group_id)
            return committed.get(tp) == written.offset + 2

        await eventually(both_committed, what="both requests committed")


async def test_a_rebalance_with_many_campaigns_in_hand_hands_each_over_once_in_order(
    sender: SearchRequests, caplog: pytest.LogCaptureFixture
) -> None:
    """Eight campaigns on both partitions, 25 requests each, a second instance joining while
    the first has several campaigns of each partition in hand. Every request is handled
    exactly once over the two instances, and each campaign's in the order sent: the
    records in hand are finished and committed before their partition moves, and the
    records behind them go to the new owner from that commit."""
    caplog.set_level(logging.INFO, logger="nexus.service.movers")
    handled: list[tuple[str, str, str]] = []  # (instance, campaign, query) as each began
    moved = asyncio.Event()  # the handlers stay slow until a partition has moved
    campaigns = sender.campaigns_on(0, 4) + sender.campaigns_on(1, 4)

    def instance(name: str) -> Service:
        service = Service(name="movers", domain="search", config=FAST)

        @service.handler("search.requested")
        async def on_request(event: Envelope, ctx: Context) -> None:
            handled.append((name, event.metadata.campaign_id, event.payload["query"]))
            if not moved.is_set():
                await asyncio.sleep(0.5)  # work that takes a while, not a synchronisation

        return service

    sent: dict[str, list[str]] = defaultdict(list)
    for n in range(25):
        for campaign in campaigns:
            sent[campaign].append(f"{campaign}-{n}")
            await sender.send(f"{campaign}-{n}", campaign_id=campaign)
    async with running(instance("first"), sender.settings) as a:

        async def busy() -> bool:
            # Every campaign begun, so both partitions have several in hand.
            return len({campaign for _, campaign, _ in handled}) == len(campaigns)

        await eventually(busy, what="the first instance handling every campaign")
        async with running(instance("second"), sender.settings) as b:

            async def rebalanced() -> bool:
                return len(a.stats.assigned) == 1 and len(b.stats.assigned) == 1

            await eventually(rebalanced, timeout=30, what="one partition moving to the second")
            # The first gave its partitions up with campaigns of both in hand.
            in_hand = re.findall(r"finishing (\d+) record\(s\) in hand", caplog.text)
            assert in_hand and int(in_hand[0]) >= 2, caplog.text
            moved.set()

            async def all_handled() -> bool:
                return len(handled) >= 200

            await eventually(all_handled, timeout=60, what="every request handled")
    assert {name for name, _, _ in handled} == {"first", "second"}
    seen: dict[str, list[str]] = defaultdict(list)
    for _, campaign, query in handled:
        seen[campaign].append(query)
    assert dict(seen) == dict(sent), "a request handled twice, or a campaign out of order"
