"""A write waiting through a broker outage does not spin the producer (aio-libs/aiokafka#496).

When the producer's last metadata gives a partition no leader (metadata fetched while the
broker shuts down says so), aiokafka's sender waits for a metadata update before it tries
again. With the broker gone that update fails at once, a refused connection being instant,
and aiokafka asked again right away: a gateway with one write pending burned half a core and
made thousands of connection attempts a second, each logged, for the whole outage. The test
counts those attempts from aiokafka's own log records, not from the CPU time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator

import pytest
from aiokafka import TopicPartition

from nexus_mesh.codec import Codec
from nexus_mesh.kafka.producer import EnvelopeProducer
from nexus_mesh.kafka.topics import TopicNames, ensure_topics
from nexus_mesh.localkafka import LocalKafka
from nexus_mesh.registry import load_registry
from nexus_mesh.settings import NexusSettings
from nexus_testkit import eventually

# Before the pause, thousands a second on this machine; with it, about ten.
MAX_ATTEMPTS_PER_S = 50
MEASURED_S = 3.0


class _ConnectAttempts(logging.Handler):
    """Counts aiokafka's "Unable connect to node" records: one per refused connection."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("Unable connect to node"):
            self.count += 1


@pytest.fixture
def connect_attempts() -> Iterator[_ConnectAttempts]:
    handler = _ConnectAttempts()
    logger = logging.getLogger("aiokafka")
    level = logger.level
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.ERROR:
        logger.setLevel(logging.ERROR)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


async def test_a_write_pending_through_an_outage_paces_its_retries_and_lands_after_it(
    own_kafka: tuple[LocalKafka, str], connect_attempts: _ConnectAttempts
) -> None:
    cluster, bootstrap = own_kafka
    settings = NexusSettings(
        kafka_bootstrap_servers=bootstrap,
        topic_prefix="pace",
        clients_partitions=2,
        auth="none",
        # Long enough that the batch outlives the broker's restart on a slow machine: the
        # write is to land, not expire (that path is test_producer_replaced's).
        kafka_request_timeout_ms=180_000,
    )
    await ensure_topics(settings, [])
    topic = TopicNames(prefix="pace").clients
    producer = EnvelopeProducer(
        settings=settings,
        codec=Codec(load_registry(settings.schemas_dir)),
        client_id="test",
        send_timeout_s=240,
    )
    await producer.start()
    try:
        first = await producer.send_raw(topic=topic, key=b"acme", value=b"one", headers=[])
        partition = TopicPartition(topic, first.partition)
        cluster_metadata = producer._producer.client.cluster

        # The broker stops as a rolling restart stops it while the producer keeps reading
        # metadata (as it does when its connection breaks): a broker shutting down reports
        # its partitions without a leader.
        async def refresh_until_stopped(stopped: asyncio.Event) -> None:
            while not stopped.is_set():
                await producer.refresh_metadata()
                await asyncio.sleep(0.005)

        stopped = asyncio.Event()
        refreshing = asyncio.create_task(refresh_until_stopped(stopped))
        try:
            await asyncio.to_thread(cluster.stop)
        finally:
            stopped.set()
            await refreshing
        assert cluster_metadata.leader_for_partition(partition) == -1, (
            "the producer's metadata should give the partition no leader"
        )

        pending = asyncio.create_task(
            producer.send_raw(topic=topic, key=b"acme", value=b"two", headers=[])
        )
        try:
            # Measured from the write's first attempt to reach the broker on.
            first_try = connect_attempts.count

            async def trying() -> bool:
                return connect_attempts.count > first_try or pending.done()

            await eventually(trying, timeout=10, interval=0.01, what="the write's first try")
            before, began = connect_attempts.count, time.monotonic()
            await asyncio.sleep(MEASURED_S)
            rate = (connect_attempts.count - before) / (time.monotonic() - began)
            waited = not pending.done()
        finally:
            # Back before any assertion: the producer's stop would wait for the batch.
            await asyncio.to_thread(cluster.start)
        back = time.monotonic()
        second = await asyncio.wait_for(pending, timeout=30)
        landed_after = time.monotonic() - back
    finally:
        await producer.stop()
    assert waited, "the write waited for the broker"
    assert 0 < rate < MAX_ATTEMPTS_PER_S, f"{rate:.0f} connection attempts/s"
    assert landed_after < 10, "the write lands promptly once the broker is back"
    assert (second.partition, second.offset) == (first.partition, first.offset + 1)
