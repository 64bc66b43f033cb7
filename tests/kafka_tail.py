"""Read what a test wrote to Kafka: a topic from its beginning, in the background, or one
record where a write said it went.

Tests assert on what landed in Kafka with :func:`nexus_testkit.eventually` over
:attr:`TopicTail.records`, instead of sleeping and reading once.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from nexus_mesh.kafka.connection import client_kwargs
from nexus_mesh.kafka.producer import Written
from nexus_mesh.settings import NexusSettings


class TopicTail:
    def __init__(self, settings: NexusSettings, topic: str, partitions: int) -> None:
        self.topic = topic
        self.records: list[ConsumerRecord[bytes, bytes]] = []
        self._partitions = [TopicPartition(topic, p) for p in range(partitions)]
        self._consumer = AIOKafkaConsumer(
            **client_kwargs(settings), enable_auto_commit=False, fetch_max_wait_ms=100
        )
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> TopicTail:
        await self._consumer.start()
        self._consumer.assign(self._partitions)
        await self._consumer.seek_to_beginning(*self._partitions)
        self._task = asyncio.create_task(self._pump())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()

    async def _pump(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=200)
            for records in batches.values():
                self.records.extend(records)

    async def caught_up(self) -> bool:
        """Whether every record the topic held when this was called has been read.

        The background reader appends a fetched batch before it next yields, so a caller
        that sees True also sees those records in :attr:`records`."""
        ends = await self._consumer.end_offsets(self._partitions)
        for partition, end in ends.items():
            if await self._consumer.position(partition) < end:
                return False
        return True

    def with_header(self, name: str, value: str) -> list[ConsumerRecord[bytes, bytes]]:
        wanted = value.encode()
        return [r for r in self.records if (name, wanted) in list(r.headers)]


async def read_back(settings: NexusSettings, written: Written) -> ConsumerRecord[bytes, bytes]:
    """The record Kafka stored at ``written``, as a consumer reads it."""
    consumer = AIOKafkaConsumer(**client_kwargs(settings), enable_auto_commit=False)
    partition = TopicPartition(written.topic, written.partition)
    await consumer.start()
    try:
        consumer.assign([partition])
        consumer.seek(partition, written.offset)
        async with asyncio.timeout(20):
            record = await consumer.getone()
    finally:
        await consumer.stop()
    assert record.offset == written.offset
    return record
