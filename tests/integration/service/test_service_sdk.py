"""The service SDK against a real broker: replies, dead letters, dedupe and commits."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from kafka_tail import TopicTail
from nexus_mesh import errors
from nexus_mesh.codec import Codec
from nexus_mesh.envelope import Envelope, Metadata
from nexus_mesh.errors import ConfigurationError, KafkaUnavailableError
from nexus_mesh.kafka.connection import client_kwargs
from nexus_mesh.kafka.partitioning import campaign_partition
from nexus_mesh.kafka.producer import EnvelopeProducer, Written
from nexus_mesh.kafka.records import header
from nexus_mesh.kafka.topics import TopicNames, ensure_topics
from nexus_mesh.registry import Registry, load_registry
from nexus_mesh.service import Context, Service, ServiceConfig
from nexus_mesh.settings import NexusSettings
from nexus_testkit import eventually, registry_copy
from service_kit import committed_offsets, gateway_producer, running, search_request

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
FAST = ServiceConfig(
    poll_timeout_ms=100,
    retry_backoff_s=0.01,
    max_backoff_s=0.05,
    stop_timeout_s=5.0,
    retry_on=(ConnectionError,),
)


@dataclass
class Mesh:
    settings: NexusSettings
    registry: Registry
    codec: Codec
    producer: EnvelopeProducer
    topics: TopicNames

    def request(
        self,
        query: str,
        *,
        campaign_id: str = "camp-1",
        event_id: str | None = None,
        correlation_id: str | None = None,
    ) -> Envelope:
        return search_request(
            self.codec,
            query,
            event_id=event_id,
            campaign_id=campaign_id,
            connection_id="conn-42",
            correlation_id=correlation_id,
            user_id="alice",
            traceparent=TRACEPARENT,
            tracestate="vendor=1",
        )

    async def send(self, envelope: Envelope) -> Written:
        return await self.producer.send(envelope, topic=self.topics.domain("search"))

    def replies(self, tail: TopicTail) -> list[Envelope]:
        return [self.codec.decode(r.value) for r in tail.records if r.value is not None]


@pytest.fixture
async def mesh(settings: NexusSettings) -> AsyncIterator[Mesh]:
    await ensure_topics(settings, ["search"])
    registry = load_registry(settings.schemas_dir)
    codec = Codec(registry)
    async with gateway_producer(settings, codec) as producer:
        yield Mesh(settings, registry, codec, producer, TopicNames(prefix=settings.topic_prefix))


def toy_service(handled: list[str], *, name: str = "toy", config: ServiceConfig = FAST) -> Service:
    """Echoes queries; ``boom`` raises, ``flaky`` fails once with a retriable error,
    ``half-done`` too but after publishing; ``impersonate``, ``leak`` and ``broadcast-chat``
    send what a service may not; ``answered-then-boom`` replies, then raises; ``outage``
    meets Kafka unavailable more times than ``retry_attempts``, ``dropped`` a connection
    error (``retry_on``) and ``retry-me`` a RetriableError, once each."""
    service = Service(name=name, domain="search", config=config)
    flaky_seen: set[str] = set()
    outages: list[str] = []

    @service.handler("search.requested")
    async def on_request(event: Envelope, ctx: Context) -> None:
        query = event.payload["query"]
        handled.append(event.metadata.event_id)
        if query == "boom":
            raise RuntimeError("boom: the handler failed on purpose")
        if query == "outage" and len(outages) < FAST.retry_attempts + 2:
            outages.append(event.metadata.event_id)
            raise KafkaUnavailableError("the broker is away")
        first = event.metadata.event_id not in flaky_seen
        if query == "dropped" and first:
            flaky_seen.add(event.metadata.event_id)
            raise ConnectionResetError("the backend dropped the connection")
        if query == "retry-me" and first:
            flaky_seen.add(event.metadata.event_id)
            raise errors.RetriableError("try me again")
        if query == "read-timeout" and first:
            # As aiohttp's ServerTimeoutError is: a connection error and a TimeoutError.
            flaky_seen.add(event.metadata.event_id)
            raise ReadTimeoutError("the backend did not answer in time")
        if query == "answered-then-retried-then-boom":
            if first:
                flaky_seen.add(event.metadata.event_id)
                await ctx.reply("search.completed", {"query": query, "hits": []})
                raise errors.RetriableError("after answering")
            raise RuntimeError("failed for good, after an earlier attempt answered")
        if query == "flaky" and event.metadata.event_id not in flaky_seen:
            flaky_seen.add(event.metadata.event_id)
            raise KafkaUnavailableError("transient")
        if query == "announce":
            await ctx.broadcast("system.notice", {"text": "maintenance at noon"})
            await ctx.publish("chat.message", {"text": "to the campaign"})
        if query == "impersonate":
            # The gateway's to send, and its payload lacks timeout_ms: the sender is what
            # matters, so that is what the refusal says.
            await ctx.reply("search.timeout", {})
        if query == "broadcast-chat":
            await ctx.broadcast("chat.message", {"text": "meant for one campaign"})
        if query == "leak":
            await ctx.publish("system.notice", {"text": "for alice only"}, user_id="alice")
        if query == "half-done":
            await ctx.publish("chat.message", {"text": "before the failure"})
            if event.metadata.event_id not in flaky_seen:
                flaky_seen.add(event.metadata.event_id)
                raise KafkaUnavailableError("transient, after one event went out")
        await ctx.reply("search.completed", {"query": query, "hits": []})
        if query == "answered-then-boom":
            raise RuntimeError("failed after answering")

    return service


class ReadTimeoutError(ConnectionError, TimeoutError):
    pass


def replies_to(mesh: Mesh, tail: TopicTail, correlation_id: str) -> Callable[[], object]:
    async def probe() -> list[Envelope]:
        return [e for e in mesh.replies(tail) if e.metadata.correlation_id == correlation_id]

    return probe


async def test_reply_carries_the_request_context(mesh: Mesh) -> None:
    handled: list[str] = []
    async with (
        TopicTail(mesh.settings, mesh.topics.clients, 4) as clients,
        running(toy_service(handled), mesh.settings),
    ):
        plain = mesh.request("kafka")
        correlated = mesh.request("avro", correlation_id="corr-7")
        await mesh.send(plain)
        await mesh.send(correlated)

        # Without a correlation id, the request's event id is what the reply correlates to.
        (reply,) = await eventually(replies_to(mesh, clients, plain.metadata.event_id))
        (other,) = await eventually(replies_to(mesh, clients, "corr-7"))

    assert reply.type == "search.completed"
    assert reply.payload == {"query": "kafka", "hits": []}
    meta = reply.metadata
    assert meta.event_id not in (plain.metadata.event_id, correlated.metadata.event_id)
    assert (meta.campaign_id, meta.user_id, meta.connection_id) == ("camp-1", "alice", "conn-42")
    assert (meta.traceparent, meta.tracestate) == (TRACEPARENT, "vendor=1")
    assert meta.source == "toy"
    assert other.payload["query"] == "avro"
    record = next(r for r in clients.records if header(r.headers, "ce_id") == meta.event_id)
    assert record.key == b"camp-1"
    assert header(record.headers, "ce_type") == "search.completed"
    assert header(record.headers, "nexus-connection") == "conn-42"


async def test_publish_and_broadcast_reach_their_topics(mesh: Mesh) -> None:
    async with (
        TopicTail(mesh.settings, mesh.topics.clients, 4) as clients,
        TopicTail(mesh.settings, mesh.topics.system, 1) as system,
        running(toy_service([]), mesh.settings),
    ):
        await mesh.send(mesh.request("announce"))

        async def chat() -> list[Envelope]:
            return [e for e in mesh.replies(clients) if e.type == "chat.message"]

        (message,) = await eventually(chat, what="chat.message on clients")
        (notice,) = await eventually(lambda: _decoded(mesh, system), what="notice on system")

    # A publish is not a reply: the whole campaign gets it, still within the trace.
    assert message.metadata.campaign_id == "camp-1"
    assert message.metadata.connection_id is None
    assert message.metadata.user_id is None
    assert message.metadata.traceparent == TRACEPARENT
    assert notice.type == "system.notice"
    assert notice.metadata.campaign_id == "*"
    assert notice.payload["text"] == "maintenance at noon"


async def _decoded(mesh: Mesh, tail: TopicTail) -> list[Envelope]:
    return mesh.replies(tail)


async def test_failing_handler_dead_letters_and_the_service_goes_on(
    mesh: Mesh, caplog: pytest.LogCaptureFixture
) -> None:
    handled: list[str] = []
    service = toy_service(handled)
    async with (
        TopicTail(mesh.settings, mesh.topics.clients, 4) as clients,
        TopicTail(mesh.settings, mesh.topics.dlq, 1) as dlq,
        running(service, mesh.settings),
    ):
        poison = mesh.request("boom")
        after = mesh.request("still-alive")
        flaky = mesh.request("flaky")
        written = await mesh.send(poison)
        await mesh.send(after)
        await mesh.send(flaky)

        await eventually(replies_to(mesh, clients, after.metadata.event_id), what="next reply")
        await eventually(replies_to(mesh, clients, flaky.metadata.event_id), what="retried")
        (dead,) = await eventually(lambda: _records(dlq), what="a dead letter")
        # The requester is told at once (the flow's failure reply), not left to time out.
        (failed,) = await eventually(replies_to(mesh, clients, poison.metadata.event_id))

    assert dead.key == b"camp-1"
    assert dead.value == mesh.codec.encode(poison)
    assert header(dead.headers, "nexus-error") == "boom: the handler failed on purpose"
    assert header(dead.headers, "nexus-error-type") == "RuntimeError"
    assert header(dead.headers, "nexus-original-topic") == mesh.topics.domain("search")
    assert header(dead.headers, "nexus-original-partition") == str(written.partition)
    assert header(dead.headers, "nexus-original-offset") == str(written.offset)
    assert header(dead.headers, "nexus-service") == "toy"
    # The original headers survive, so the record can be triaged and re-driven as it was.
    assert header(dead.headers, "ce_id") == poison.metadata.event_id
    assert header(dead.headers, "traceparent") == TRACEPARENT
    assert service.stats.dead_lettered == 1
    # A retriable failure was retried, not dead-lettered.
    assert handled.count(flaky.metadata.event_id) == 2
    assert failed.type == "search.failed"
    assert failed.payload == {
        "code": "internal",
        "message": "the toy service failed; to try again, send a new request (a new event_id)",
    }
    assert failed.metadata.connection_id == "conn-42"  # to the requesting connection only
    assert failed.metadata.traceparent == TRACEPARENT
    # The handler's author gets its traceback in the log, not only in a span that may never
    # be exported.
    (said,) = [r for r in caplog.records if r.getMessage().startswith("dead-lettering")]
    assert said.exc_info is not None and isinstance(said.exc_info[1], RuntimeError)


async def test_what_is_retried_and_what_is_answered_once(mesh: Mesh) -> None:
    """Kafka unavailable is retried past ``retry_attempts`` (an outage says nothing about
    the request), and so are a ``retry_on`` class (also when it is a TimeoutError) and a
    RetriableError; a handler that had answered, in this attempt or an earlier one, before
    failing for good is dead-lettered without a second, contradicting answer."""
    handled: list[str] = []
    service = toy_service(handled)
    requests = {
        q: mesh.request(q)
        for q in (
            "outage",
            "dropped",
            "retry-me",
            "read-timeout",
            "answered-then-boom",
            "answered-then-retried-then-boom",
        )
    }
    async with (
        TopicTail(mesh.settings, mesh.topics.clients, 4) as clients,
        TopicTail(mesh.settings, mesh.topics.dlq, 1) as dlq,
        running(service, mesh.settings),
    ):
        for request in requests.values():
            await mesh.send(request)
        answers = {
            q: await eventually(replies_to(mesh, clients, r.metadata.event_id), what=q)
            for q, r in requests.items()
        }

        async def two_dead() -> list[object] | None:
            return list(dlq.records) if len(dlq.records) == 2 else None

        dead = await eventually(two_dead, what="the two failures after answering")

    for query, replies in answers.items():
        assert isinstance(replies, list)
        assert [e.type for e in replies] == ["search.completed"], query
    assert {header(r.headers, "nexus-error") for r in dead} == {
        "failed after answering",
        "failed for good, after an earlier attempt answered",
    }
    event_ids = {q: r.metadata.event_id for q, r in requests.items()}
    assert handled.count(event_ids["outage"]) == FAST.retry_attempts + 3
    assert handled.count(event_ids["dropped"]) == 2
    assert handled.count(event_ids["retry-me"]) == 2
    assert handled.count(event_ids["read-timeout"]) == 2, "retry_on holds for a TimeoutError"
    assert service.stats.dead_lettered == 2


async def test_a_handler_past_its_timeout_is_answered_and_dead_lettered(mesh: Mesh) -> None:
    """The handler is cancelled at ``handler_timeout_s``; the requester gets the failure
    reply saying so, and the dead letter names the budget, not a bare TimeoutError."""
    service = Service(name="slow", domain="search", config=replace(FAST, handler_timeout_s=0.3))
    never = asyncio.Event()

    @service.handler("search.requested")
    async def on_request(event: Envelope, ctx: Context) -> None:
        await never.wait()

    request = mesh.request("anything")
    async with (
        TopicTail(mesh.settings, mesh.topics.clients, 4) as clients,
        TopicTail(mesh.settings, mesh.topics.dlq, 1) as dlq,
        running(service, mesh.settings),
    ):
        await mesh.send(request)
        (failed,) = await eventually(replies_to(mesh, clients, request.metadata.event_id))
        (dead,) = await eventually(lambda: _records(dlq), what="the dead letter")

    assert failed.type == "search.failed"
    assert failed.payload["message"] == (
        "the slow service did not finish in time; to try again, send a new request (a new event_id)"
    )
    assert header(dead.headers, "nexus-error-type") == "nexus_mesh.errors.HandlerTimeoutError"
    assert "handler_timeout_s (0.3 s)" in str(header(dead.headers, "nexus-error"))
    timed_out = service.metrics.registry.get_sample_value(
        "nexus_service_handle_seconds_count",
        {"service": "slow", "type": "search.requested", "outcome": "timed_out"},
    )
    assert timed_out == 1


async def _records(tail: TopicTail) -> list[object]:
    return list(tail.records)


async def test_undecodable_bytes_go_to_the_dlq(mesh: Mesh) -> None:
    """Garbage values, one with a null header, are dead-lettered as they came, and the
    service goes on to the next record."""
    garbage = [b"plain garbage", b"\xc3\x01" + b"\x00" * 8 + b"unknown fingerprint", b""]
    async with (
        TopicTail(mesh.settings, mesh.topics.clients, 4) as clients,
        TopicTail(mesh.settings, mesh.topics.dlq, 1) as dlq,
        running(toy_service([]), mesh.settings),
    ):
        for value in garbage:
            await mesh.producer.send_raw(
                topic=mesh.topics.domain("search"),
                key=b"camp-1",
                value=value,
                # A null header value, as a Java producer may write one.
                headers=[("origin", b"fuzz"), ("nullable", None)],
            )
        after = mesh.request("after-garbage")
        await mesh.send(after)

        await eventually(replies_to(mesh, clients, after.metadata.event_id), what="next reply")

        async def all_dead() -> bool:
            return len(dlq.records) == len(garbage)

        await eventually(all_dead, what="every undecodable record in the DLQ")

    assert [r.value for r in dlq.records] == garbage
    for dead in dlq.records:
        assert header(dead.headers, "origin") == "fuzz"
        assert ("nullable", None) in list(dead.headers)  # kept null, not b"" nor a crash
        assert header(dead.headers, "nexus-error")
        module, _, name = (header(dead.headers, "nexus-error-type") or "").rpartition(".")
        assert module == "nexus_mesh.errors"
        assert issubclass(getattr(errors, name), errors.CodecError)


async def test_the_same_event_id_is_handled_once(mesh: Mesh) -> None:
    handled: list[str] = []
    service = toy_service(handled)
    async with (
        TopicTail(mesh.settings, mesh.topics.clients, 4) as clients,
        running(service, mesh.settings),
    ):
        twice = mesh.request("again")
        await mesh.send(twice)
        await mesh.send(twice)
        marker = mesh.request("marker")  # same campaign, so after both copies in order
        await mesh.send(marker)
        await eventually(replies_to(mesh, clients, marker.metadata.event_id), what="marker")

    assert handled.count(twice.metadata.event_id) == 1
    assert len([e for e in mesh.replies(clients) if e.payload["query"] == "again"]) == 1
    assert service.stats.duplicates == 1


async def test_the_same_event_id_from_another_campaign_is_not_a_duplicate(mesh: Mesh) -> None:
    """Clients pick their own event ids ("1", "2", ...): ids are unique per sender, as the
    gateway scopes them. Another tenant's "1" is a new request, not a repeat to drop."""
    handled: list[str] = []
    service = toy_service(handled)
    first = mesh.request("tenant one", campaign_id="camp-one")
    second = mesh.request("tenant two", campaign_id="camp-two")
    second = replace(second, metadata=replace(second.metadata, event_id=first.metadata.event_id))
    async with (
        TopicTail(mesh.settings, mesh.topics.clients, 4) as clients,
        running(service, mesh.settings),
    ):
        await mesh.send(first)
        await mesh.send(second)

        def answered() -> set[str]:
            return {str(e.payload["query"]) for e in mesh.replies(clients)}

        async def both_answered() -> bool:
            return answered() >= {"tenant one", "tenant two"}

        await eventually(both_answered, what="a reply to each tenant")
    assert service.stats.duplicates == 0


async def test_a_restarted_service_resumes_after_its_commits(mesh: Mesh) -> None:
    first: list[str] = []
    earlier = [mesh.request(f"q{i}", campaign_id=f"camp-{i}") for i in range(4)]
    async with running(toy_service(first), mesh.settings):
        for request in earlier:
            await mesh.send(request)

        async def all_handled() -> bool:
            return len(first) == len(earlier)

        await eventually(all_handled, what="the first batch")

    second: list[str] = []
    async with running(toy_service(second), mesh.settings) as service:
        later = mesh.request("later")
        await mesh.send(later)
        # Then one more on each partition: once they are handled, anything re-handled from
        # before the restart would have come first, on its partition.
        markers = [
            mesh.request(f"marker-{partition}", campaign_id=campaign)
            for partition, campaign in sorted(
                {
                    campaign_partition(f"camp-{i}", mesh.settings.domain_partitions): f"camp-{i}"
                    for i in range(20)
                }.items()
            )
        ]
        for marker in markers:
            await mesh.send(marker)

        async def markers_handled() -> bool:
            return {m.metadata.event_id for m in markers} <= set(second)

        await eventually(markers_handled, what="a request on each partition after the restart")
        assert service.group_id == f"{mesh.settings.topic_prefix}.toy"
    assert sorted(second) == sorted(r.metadata.event_id for r in [later, *markers])


@pytest.mark.parametrize("start_from", ["earliest", "latest"])
async def test_a_new_group_starts_where_its_config_says(mesh: Mesh, start_from: str) -> None:
    """A service deployed on a topic that already holds requests: ``earliest`` handles them
    all, ``latest`` only what arrives once it has joined."""
    old = [mesh.request(f"old-{i}", campaign_id=f"camp-{i}") for i in range(3)]
    for request in old:
        await mesh.send(request)
    handled: list[str] = []
    config = replace(FAST, start_from=start_from)  # type: ignore[arg-type]
    async with running(
        toy_service(handled, name=f"new-{start_from}", config=config), mesh.settings
    ):
        new = mesh.request("after-the-join")
        await mesh.send(new)

        async def new_handled() -> bool:
            return new.metadata.event_id in handled

        await eventually(new_handled, what="the request sent after the join")
    expected = [r.metadata.event_id for r in old] if start_from == "earliest" else []
    assert sorted(handled) == sorted([*expected, new.metadata.event_id])


async def group_members(settings: NexusSettings, group_id: str) -> int:
    """How many members the broker counts in ``group_id`` now."""
    admin = AIOKafkaAdminClient(**client_kwargs(settings))
    await admin.start()
    try:
        (described,) = await admin.describe_consumer_groups([group_id])
        members: list[object] = described.groups[0][5]
        return len(members)
    finally:
        await admin.close()


async def test_latest_holds_from_the_first_start_on(
    mesh: Mesh, caplog: pytest.LogCaptureFixture
) -> None:
    """``start_from="latest"`` applies once, to a group that never ran: a request written
    while the service is down (a restart, a deploy) is handled when it is back."""
    caplog.set_level(logging.INFO, logger="nexus.service.restarting")  # shown if it fails
    config = replace(FAST, start_from="latest")
    first: list[str] = []
    async with running(toy_service(first, name="restarting", config=config), mesh.settings):
        pass

    async def left() -> bool:
        # A member that did not leave (its LeaveGroup lost on a busy machine) would hold its
        # partitions until its session times out: that is not what this test is about.
        return await group_members(mesh.settings, f"{mesh.settings.topic_prefix}.restarting") == 0

    await eventually(left, timeout=45, what="the first instance to have left its group")
    while_down = mesh.request("written-while-down")
    await mesh.send(while_down)
    second: list[str] = []
    async with running(toy_service(second, name="restarting", config=config), mesh.settings):

        async def handled() -> bool:
            return while_down.metadata.event_id in second

        await eventually(handled, what="the request written while the service was down")


async def test_instances_of_one_service_share_the_partitions(mesh: Mesh) -> None:
    first: list[str] = []
    second: list[str] = []
    # Campaigns on both partitions of the domain topic, so both instances get work.
    campaigns = [f"camp-{i}" for i in range(20)]
    by_partition = {campaign_partition(c, mesh.settings.domain_partitions) for c in campaigns}
    assert by_partition == {0, 1}
    async with (
        running(toy_service(first), mesh.settings) as a,
        running(toy_service(second), mesh.settings) as b,
    ):

        async def balanced() -> bool:
            return len(a.stats.assigned) == len(b.stats.assigned) == 1

        await eventually(balanced, what="one partition each")
        requests = [mesh.request("q", campaign_id=c) for c in campaigns]
        for request in requests:
            await mesh.send(request)

        async def all_handled() -> bool:
            return len(first) + len(second) >= len(requests)

        await eventually(all_handled, what="every request handled")

    assert sorted(first + second) == sorted(r.metadata.event_id for r in requests)
    assert first
    assert second


async def test_start_refuses_missing_topics(settings: NexusSettings) -> None:
    with pytest.raises(ConfigurationError, match="nexus topics ensure"):
        await toy_service([]).start(settings)


async def test_handlers_must_match_the_domain(settings: NexusSettings) -> None:
    service = Service(name="misplaced", domain="chat")

    @service.handler("search.requested")
    async def on_request(event: Envelope, ctx: Context) -> None:
        """Never called: the search domain topic is not this service's."""

    with pytest.raises(ConfigurationError, match="never arrive"):
        await service.start(settings)


def slow_service(handled: list[str], until: asyncio.Event, *, seconds: float = 0.2) -> Service:
    """Takes ``seconds`` per record until ``until`` is set, so a rebalance lands in the
    middle of a batch however long it takes to happen."""
    service = Service(name="slow", domain="search", config=FAST)

    @service.handler("search.requested")
    async def on_request(event: Envelope, ctx: Context) -> None:
        handled.append(event.metadata.event_id)
        if not until.is_set():
            await asyncio.sleep(seconds)

    return service


async def test_a_rebalance_mid_batch_hands_the_rest_over_once(mesh: Mesh) -> None:
    """A second instance joins while the first is in the middle of a batch on both
    partitions. The partition that moves is handed over at the commit the first makes as it
    is revoked; the first stops after the record in hand and commits that one too, so no
    record is handled twice, none concurrently or out of order."""
    first: list[str] = []
    second: list[str] = []
    moved = asyncio.Event()  # the handlers stay slow until the partition has moved
    campaigns = {
        campaign_partition(f"camp-{i}", mesh.settings.domain_partitions): f"camp-{i}"
        for i in range(20)
    }
    assert set(campaigns) == {0, 1}
    # 40 s of work at the slow pace: far more than a rebalance takes.
    requests = [
        mesh.request(f"q{n}", campaign_id=campaign)
        for n in range(100)
        for campaign in campaigns.values()
    ]
    async with running(slow_service(first, moved), mesh.settings) as a:

        async def owns_both() -> bool:
            return len(a.stats.assigned) == 2

        await eventually(owns_both, what="the first instance owning both partitions")
        for request in requests:
            await mesh.send(request)

        async def busy() -> bool:
            return len(first) >= 4

        await eventually(busy, what="the first instance in the middle of its batch")
        async with running(slow_service(second, moved), mesh.settings) as b:

            async def rebalanced() -> bool:
                return len(b.stats.assigned) == 1 and len(a.stats.assigned) == 1

            await eventually(rebalanced, timeout=30, what="one partition moving to the second")
            assert len(first) < len(requests), "the first was still busy when it moved"
            moved.set()

            async def all_handled() -> bool:
                return set(first + second) == {r.metadata.event_id for r in requests}

            await eventually(all_handled, timeout=60, what="every request handled")
    twice = [event_id for event_id, n in Counter(first + second).items() if n > 1]
    assert second, "the second instance handled the partition it was given"
    assert not twice, f"{len(twice)} records handled twice: {twice}"


async def committed(settings: NexusSettings, group_id: str) -> set[tuple[int, int]]:
    """The group's committed (partition, offset) pairs."""
    return {
        (tp.partition, offset)
        for tp, offset in (await committed_offsets(settings, group_id)).items()
    }


async def test_a_record_in_hand_at_a_rebalance_is_finished_before_its_partition_moves(
    mesh: Mesh, caplog: pytest.LogCaptureFixture
) -> None:
    """A second instance joins while the first is handling one request on each partition.
    The handlers go on until the first instance says it is finishing them before giving its
    partitions up (so the rebalance surely began with both in hand, however slowly the second
    instance joins); it finishes both, then commits them: the instance that gets one does not
    handle its request again alongside."""
    handled: list[tuple[str, str]] = []  # (instance, event id), as each handler began
    release = asyncio.Event()
    caplog.set_level(logging.INFO, logger="nexus.service.steady")

    def instance(name: str) -> Service:
        service = Service(
            name="steady",
            domain="search",
            config=replace(FAST, stop_timeout_s=30.0, handler_timeout_s=None),
        )

        @service.handler("search.requested")
        async def on_request(event: Envelope, ctx: Context) -> None:
            handled.append((name, event.metadata.event_id))
            await release.wait()  # the work in hand while the rebalance begins

        return service

    campaigns = {
        campaign_partition(f"camp-{i}", mesh.settings.domain_partitions): f"camp-{i}"
        for i in range(20)
    }
    requests = [mesh.request(f"q-{p}", campaign_id=c) for p, c in sorted(campaigns.items())]
    # Written first, so that both are in hand when the second instance joins: each is its
    # campaign's only request, and these handlers are done only when the test says so.
    written = [await mesh.send(request) for request in requests]
    async with running(instance("first"), mesh.settings) as a:

        async def owns_both() -> bool:
            return len(a.stats.assigned) == 2

        await eventually(owns_both, what="the first instance owning both partitions")

        async def both_in_hand() -> bool:
            return len(handled) == 2

        await eventually(both_in_hand, what="the first instance handling both requests")
        second = instance("second")
        await second.start(mesh.settings)
        try:

            async def finishing() -> bool:
                return "finishing 2 record(s) in hand" in caplog.text

            await eventually(finishing, timeout=60, what="the rebalance waiting on the handlers")
            release.set()
            await asyncio.wait_for(second.ready.wait(), 30)
            b = second

            async def rebalanced() -> bool:
                return len(b.stats.assigned) == 1 and len(a.stats.assigned) == 1

            await eventually(rebalanced, timeout=60, what="one partition moving to the second")

            async def both_committed() -> bool:
                # A request handled again begins before the commit that covers it.
                return await committed(mesh.settings, b.group_id) == {
                    (w.partition, w.offset + 1) for w in written
                }

            await eventually(both_committed, timeout=30, what="both requests committed")
        finally:
            await second.stop()
    assert sorted(event_id for _, event_id in handled) == sorted(
        r.metadata.event_id for r in requests
    ), f"handled again after the partition moved: {handled}"


async def test_a_retried_or_redelivered_handler_sends_under_the_same_ids(mesh: Mesh) -> None:
    """A handler that published and then failed is retried, and a record redelivered to a
    new instance (its dedupe memory empty, as after a crash) is handled again: the events it
    sends again carry the ids of the first time, so whoever deduplicates by event_id (the
    gateway's clients, other services) drops the copies. Another service handling the same
    record sends under ids of its own."""
    request = mesh.request("half-done")

    def ids(events: list[Envelope], source: str, type_: str) -> list[str]:
        return [
            e.metadata.event_id for e in events if e.metadata.source == source and e.type == type_
        ]

    async with TopicTail(mesh.settings, mesh.topics.clients, 4) as clients:
        async with running(toy_service([]), mesh.settings):
            await mesh.send(request)
            await eventually(replies_to(mesh, clients, request.metadata.event_id), what="reply")
        first = mesh.replies(clients)
        async with (
            running(toy_service([]), mesh.settings),
            running(toy_service([], name="other"), mesh.settings),
        ):
            await mesh.send(request)  # the same record again, for both

            async def three_replies() -> bool:
                replies = await replies_to(mesh, clients, request.metadata.event_id)()
                assert isinstance(replies, list)
                return len(replies) == 3

            await eventually(three_replies, what="the redelivered request's replies")
        everything = mesh.replies(clients)

    chats = ids(first, "toy", "chat.message")
    assert len(chats) == 2, "published once per attempt: the first attempt failed after it"
    assert chats[0] == chats[1]
    assert set(ids(everything, "toy", "chat.message")) == {chats[0]}
    toy_replies = ids(everything, "toy", "search.completed")
    assert len(toy_replies) == 2 and len(set(toy_replies)) == 1
    other_chats = set(ids(everything, "other", "chat.message"))
    other_replies = ids(everything, "other", "search.completed")
    assert len(other_chats) == 1 and len(other_replies) == 1
    assert other_chats.isdisjoint(chats)
    assert other_replies[0] not in toy_replies


async def test_a_handler_cannot_impersonate_or_broadcast_by_accident(mesh: Mesh) -> None:
    """A gateway-only type, a ``system`` type aimed at one user (gateways hand the system
    topic to every connection), and a campaign's type broadcast to everyone are refused
    before anything is written: the record
    is dead-lettered with the reason, and no client sees either."""
    service = toy_service([])
    async with (
        TopicTail(mesh.settings, mesh.topics.clients, 4) as clients,
        TopicTail(mesh.settings, mesh.topics.system, 1) as system,
        TopicTail(mesh.settings, mesh.topics.dlq, 1) as dlq,
        running(service, mesh.settings),
    ):
        impersonate = mesh.request("impersonate")
        leak = mesh.request("leak")
        everyone = mesh.request("broadcast-chat")
        await mesh.send(impersonate)
        await mesh.send(leak)
        await mesh.send(everyone)
        # Same campaign, so handled after both: once its broadcast is on the system topic,
        # anything the two refused handlers had written would be there or on clients too.
        announce = mesh.request("announce")
        await mesh.send(announce)
        await eventually(replies_to(mesh, clients, announce.metadata.event_id), what="marker")

        async def three_dead() -> bool:
            return len(dlq.records) == 3

        await eventually(three_dead, what="the refused records dead-lettered")
        (notice,) = await eventually(lambda: _decoded(mesh, system), what="the marker notice")

    reasons = {header(r.headers, "ce_id"): header(r.headers, "nexus-error") for r in dlq.records}
    assert "search.timeout is sent by gateway only" in str(reasons[impersonate.metadata.event_id])
    assert "send it as a broadcast" in str(reasons[leak.metadata.event_id])
    assert "chat.message is not a broadcast type" in str(reasons[everyone.metadata.event_id])
    assert {header(r.headers, "nexus-error-type") for r in dlq.records} == {
        "nexus_mesh.errors.ConfigurationError"
    }
    assert notice.payload["text"] == "maintenance at noon"
    # Beyond the marker's reply and chat message, each refused request got only its failure
    # reply: nothing either handler tried to send.
    sent = {(e.metadata.correlation_id, e.type) for e in mesh.replies(clients)}
    assert sent == {
        (announce.metadata.event_id, "search.completed"),
        (None, "chat.message"),
        (impersonate.metadata.event_id, "search.failed"),
        (leak.metadata.event_id, "search.failed"),
        (everyone.metadata.event_id, "search.failed"),
    }


async def test_a_stopping_service_leaves_a_request_waiting_for_kafka_to_the_next(
    mesh: Mesh,
) -> None:
    """A handler retried while Kafka is away does not hold the stop for its timeout, and its
    request is neither answered nor dead-lettered: it stays uncommitted, and the next
    instance of the service handles it."""
    attempts: list[str] = []
    away = Service(name="toy", domain="search", config=replace(FAST, stop_timeout_s=30.0))

    @away.handler("search.requested")
    async def always_away(event: Envelope, ctx: Context) -> None:
        attempts.append(event.metadata.event_id)
        raise KafkaUnavailableError("the broker is away")

    request = mesh.request("patience")
    async with (
        TopicTail(mesh.settings, mesh.topics.clients, 4) as clients,
        TopicTail(mesh.settings, mesh.topics.dlq, 1) as dlq,
    ):
        async with running(away, mesh.settings):
            await mesh.send(request)

            async def retried() -> bool:
                return len(attempts) >= 3

            await eventually(retried, what="the handler retried")
            stopping = asyncio.get_running_loop().time()
        stopped_in = asyncio.get_running_loop().time() - stopping
        assert stopped_in < 5.0, f"the stop waited {stopped_in:.1f} s for the retries"
        assert away.stats.dead_lettered == 0
        handled: list[str] = []
        async with running(toy_service(handled), mesh.settings):
            (reply,) = await eventually(replies_to(mesh, clients, request.metadata.event_id))
        assert reply.type == "search.completed"
        assert handled == [request.metadata.event_id]
        assert not dlq.records


async def test_a_type_no_handler_takes_is_skipped_counted_and_said_once(
    settings: NexusSettings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Another service of the domain handles ``search.reindexed``: this one skips and commits
    it, counts each, and says so once per type (the one trace of same-named instances that
    handle different types, each losing the others' records)."""
    reindexed = {"topic": "search", "senders": ["service"], "versions": [1]}
    schemas = registry_copy(
        tmp_path,
        lambda m: m["events"].update({"search.reindexed": reindexed}),
        schemas={
            "events/search.reindexed/v1.avsc": {
                "type": "record",
                "name": "Reindexed",
                "namespace": "t",
                "fields": [],
            }
        },
    )
    own = settings.model_copy(update={"schemas_dir": schemas})
    await ensure_topics(own, ["search"])
    codec = Codec(load_registry(schemas))
    handled: list[str] = []
    caplog.set_level(logging.INFO, logger="nexus.service.toy")
    async with gateway_producer(own, codec) as producer, running(toy_service(handled), own) as s:
        for n in range(2):
            other = Envelope(
                type="search.reindexed",
                payload={},
                metadata=Metadata(event_id=f"r{n}", campaign_id="camp-1", source="t", time=1),
            )
            await producer.send(other, topic=TopicNames(prefix=own.topic_prefix).domain("search"))
        request = search_request(codec, "after")
        await producer.send(request, topic=TopicNames(prefix=own.topic_prefix).domain("search"))

        async def request_handled() -> bool:
            return request.metadata.event_id in handled

        await eventually(request_handled, what="the request after the other type's records")
        assert s.stats.unhandled == 2
    assert caplog.text.count("no handler for search.reindexed: skipped and committed") == 1
