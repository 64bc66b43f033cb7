"""A real gateway process's ``nexus_gateway_consumer_lag`` counts what it has not delivered.

The gateway is made to fall behind for a reason the test holds, not by racing its delivery
loop: the broker's authorizer refuses its fetches from the clients topic (as a wrong ACL
would) while still answering its end-offset queries. The lag of the partition it holds for
its client then shows exactly the records written meanwhile, and the client has none of
them; once reading is allowed again the client gets them all, in order, and the lag falls
back to zero. This module's broker is its own (it checks ACLs); it lets everything through
where no ACL is set, so it serves the module's other test as the session's would.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.client import AIOKafkaClient
from aiokafka.protocol.admin import CreateAclsRequest, DeleteAclsRequest

from clients_topic import campaign_update, write
from mesh_processes import Mesh, MeshProcess
from nexus_mesh.client import MeshClient
from nexus_mesh.codec import Codec
from nexus_mesh.kafka.connection import client_kwargs
from nexus_mesh.kafka.partitioning import campaign_partition
from nexus_mesh.kafka.topics import TopicNames
from nexus_mesh.localkafka import LocalKafka
from nexus_mesh.position import Position
from nexus_mesh.registry import load_registry
from nexus_mesh.settings import NexusSettings
from nexus_testkit import MetricSamples, eventually, metric_value, scrape_metrics

# A broker that checks ACLs, and lets everything through on resources that have none: only
# the clients topic of the test gets any.
AUTHORIZER = {
    "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
    "allow.everyone.if.no.acl.found": "true",
}
# Kafka's protocol codes (org.apache.kafka.common.acl / resource).
TOPIC, LITERAL, ALL_OPERATIONS, READ, DENY, ALLOW = 2, 3, 2, 3, 2, 3
EVERYONE, ANY_HOST = "User:*", "*"
BACKLOG = 20


@pytest.fixture(scope="module")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """This module's broker, whose authorizer applies topic ACLs; the suite's ``settings``
    fixture points at it in place of the session's broker."""
    cluster = LocalKafka(
        tmp_path_factory.mktemp("kafka-acls"), die_with_parent=True, broker_properties=AUTHORIZER
    )
    bootstrap = cluster.start(nodes=1, port=0)
    try:
        yield bootstrap
    finally:
        cluster.stop()


class TopicAcls:
    """The ACLs of one topic, set with the protocol's CreateAcls and DeleteAcls requests
    (aiokafka has the requests, not an admin call for them)."""

    def __init__(self, client: AIOKafkaClient, topic: str) -> None:
        self._client = client
        self._topic = topic

    async def create(self, operation: int, permission: int) -> None:
        response = await self._client.send(
            self._client.get_random_node(),
            CreateAclsRequest(
                TOPIC, self._topic, LITERAL, EVERYONE, ANY_HOST, operation, permission
            ),
        )
        errors = [(code, message) for code, message in response.creation_responses if code]
        assert not errors, f"CreateAcls refused: {errors}"

    async def delete(self, operation: int, permission: int) -> None:
        response = await self._client.send(
            self._client.get_random_node(),
            DeleteAclsRequest(
                TOPIC, self._topic, LITERAL, EVERYONE, ANY_HOST, operation, permission
            ),
        )
        (found,) = response.filter_responses
        assert found[0] == 0 and len(found[2]) == 1, f"DeleteAcls: {found}"


@asynccontextmanager
async def topic_acls(settings: NexusSettings, topic: str) -> AsyncIterator[TopicAcls]:
    client = AIOKafkaClient(**client_kwargs(settings))
    await client.bootstrap()
    try:
        yield TopicAcls(client, topic)
    finally:
        await client.close()


def lags(samples: MetricSamples, topic: str) -> dict[int, float]:
    """``nexus_gateway_consumer_lag`` by partition of ``topic``."""
    return {
        int(dict(labels)["partition"]): lag
        for (name, labels), lag in samples.items()
        if name == "nexus_gateway_consumer_lag" and dict(labels)["topic"] == topic
    }


def acme_on_a_gateway(mesh: Mesh, settings: NexusSettings) -> tuple[str, int, Codec, MeshProcess]:
    """The clients topic, campaign ``acme``'s partition of it, a codec, and a gateway."""
    topic = TopicNames(prefix=settings.topic_prefix).clients
    partition = campaign_partition("acme", settings.clients_partitions)
    return topic, partition, Codec(load_registry(settings.schemas_dir)), mesh.gateway()


def lag_of(
    url: str, topic: str, partition: int
) -> Callable[[float], Callable[[], Awaitable[MetricSamples | None]]]:
    """``lag_of(...)(n)``: a probe of the gateway at ``url``, its samples once the lag of
    ``topic``/``partition`` is ``n``."""

    def probe(expected: float) -> Callable[[], Awaitable[MetricSamples | None]]:
        async def scraped() -> MetricSamples | None:
            samples = await scrape_metrics(url)
            return samples if lags(samples, topic).get(partition) == expected else None

        return scraped

    return probe


async def test_lag_shows_records_the_gateway_cannot_read_then_falls_to_zero(
    mesh: Mesh, settings: NexusSettings
) -> None:
    topic, partition, codec, gateway = acme_on_a_gateway(mesh, settings)
    assert gateway.url
    lag_is = lag_of(gateway.url, topic, partition)

    async with (
        topic_acls(settings, topic) as acls,
        MeshClient.connect(
            gateway.url, campaign_id="acme", user_id="alice", token=mesh.token("alice", ["acme"])
        ) as client,
    ):
        # The partition of the client's campaign is held, and nothing is behind on it.
        held = await eventually(lag_is(0), what="a zero lag on the held partition")
        assert set(lags(held, topic)) == {partition}, "only the client's partition is held"

        # Everyone may do anything with the topic but read it.
        await acls.create(ALL_OPERATIONS, ALLOW)
        await acls.create(READ, DENY)

        async def refused() -> bool:
            # Logged by each refused fetch. The consumer has one fetch in flight at a time,
            # so once one was refused, none authorized before the ACL can still return the
            # records written next.
            return "TopicAuthorizationFailedError" in gateway.log()

        await eventually(refused, what="the gateway's fetches to be refused")
        producer = AIOKafkaProducer(**client_kwargs(settings))
        await producer.start()
        try:
            for n in range(BACKLOG):
                update = campaign_update(codec, f"seq-{n}", time=n)
                await write(producer, topic, partition, update, codec)
        finally:
            await producer.stop()

        # The gateway still learns the partition's end (every 2 s): it is BACKLOG behind.
        behind = await eventually(lag_is(BACKLOG), timeout=30, what=f"a lag of {BACKLOG} records")
        delivered = metric_value(behind, "nexus_gateway_events_out_total", type="campaign.updated")
        assert not delivered, "events were delivered although the gateway could not read them"

        await acls.delete(READ, DENY)
        received = [await client.next_event(timeout=30) for _ in range(BACKLOG)]
        assert [event.payload["status"] for event in received] == [
            f"seq-{n}" for n in range(BACKLOG)
        ]
        caught_up = await eventually(lag_is(0), timeout=30, what="the lag back at zero")
        assert (
            metric_value(caught_up, "nexus_gateway_events_out_total", type="campaign.updated")
            == BACKLOG
        )


async def test_a_transactional_write_leaves_no_lag_behind(
    mesh: Mesh, settings: NexusSettings
) -> None:
    """A backend writing to the clients topic in transactions: an aborted one's event never
    reaches a client; a committed one's does, and its commit marker (an offset no consumer
    is handed) leaves no lag of one behind (an alert on lag would fire for ever), nor is a
    client joining afterwards welcomed onto it."""
    topic, partition, codec, gateway = acme_on_a_gateway(mesh, settings)
    assert gateway.url
    url = gateway.url
    lag_is = lag_of(url, topic, partition)

    token = mesh.token("alice", ["acme"])
    async with MeshClient.connect(url, campaign_id="acme", user_id="alice", token=token) as client:
        await eventually(lag_is(0), what="a zero lag on the held partition")
        producer = AIOKafkaProducer(
            **client_kwargs(settings), transactional_id=f"backend-{uuid.uuid4().hex}"
        )
        await producer.start()
        try:
            with contextlib.suppress(RuntimeError):
                async with producer.transaction():
                    await write(
                        producer, topic, partition, campaign_update(codec, "aborted"), codec
                    )
                    raise RuntimeError("the backend changed its mind")
            async with producer.transaction():
                committed = campaign_update(codec, "in-a-transaction")
                written = await write(producer, topic, partition, committed, codec)
        finally:
            await producer.stop()
        # The aborted event never reaches the client: the committed one is its next.
        event = await client.next_event(timeout=30)
        assert event.payload["status"] == "in-a-transaction"

        async def welcome_offset() -> int | None:
            async with MeshClient.connect(
                url, campaign_id="acme", user_id="bob", token=mesh.token("bob", ["acme"])
            ) as late:
                assert late.position is not None
                offset = Position.decode(late.position).offset
                return offset if offset == written.offset + 2 else None

        # Once the marker is fetched too, a client joining is welcomed past it, and the lag
        # (end offset minus that next offset) is zero, not one.
        await eventually(welcome_offset, timeout=30, what="a welcome past the commit marker")
        await eventually(lag_is(0), timeout=30, what="the lag at zero")


async def test_records_held_behind_an_open_transaction_show_as_lag(
    mesh: Mesh, settings: NexusSettings
) -> None:
    """A backend's transaction left open on the clients topic holds back everything written
    after it on its partition, whoever wrote it (read_committed stops at the last stable
    offset): the lag shows those records instead of zero, and they arrive at the commit."""
    topic, partition, codec, gateway = acme_on_a_gateway(mesh, settings)
    assert gateway.url
    lag_is = lag_of(gateway.url, topic, partition)
    token = mesh.token("carol", ["acme"])
    async with MeshClient.connect(
        gateway.url, campaign_id="acme", user_id="carol", token=token
    ) as client:
        await eventually(lag_is(0), what="a zero lag on the held partition")
        backend = AIOKafkaProducer(
            **client_kwargs(settings), transactional_id=f"slow-{uuid.uuid4().hex}"
        )
        plain = AIOKafkaProducer(**client_kwargs(settings))
        await backend.start()
        await plain.start()
        try:
            await backend.begin_transaction()
            await write(backend, topic, partition, campaign_update(codec, "in-the-open"), codec)
            await write(plain, topic, partition, campaign_update(codec, "behind-it"), codec)
            # Both wait: the open transaction's record and the one written after it.
            await eventually(lag_is(2), timeout=30, what="a lag of the two held records")
            await backend.commit_transaction()
        finally:
            await backend.stop()
            await plain.stop()
        received = [(await client.next_event(timeout=30)).payload["status"] for _ in range(2)]
        assert received == ["in-the-open", "behind-it"]
        await eventually(lag_is(0), timeout=30, what="the lag back at zero")
