"""The verdict: read ``<prefix>.clients`` back from Kafka (the source of truth) and check
every ack and every subscriber's delivered sequence against it."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.chaos.client import ChaosClient
from bench.chaos.config import CATCH_UP_DEADLINE_S, CHAT, UPDATED
from nexus_mesh.codec import Codec
from nexus_mesh.errors import CodecError
from nexus_mesh.kafka.connection import client_kwargs
from nexus_mesh.kafka.topics import TopicNames
from nexus_mesh.registry import load_registry
from nexus_mesh.settings import NexusSettings


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


async def read_kafka(settings: NexusSettings, partitions_count: int) -> list[KafkaRecord]:
    """``<prefix>.clients`` from the beginning to its current end, decoded."""
    registry = load_registry(settings.schemas_dir)
    codec = Codec(registry)
    topic = TopicNames(prefix=settings.topic_prefix).clients
    partitions = [TopicPartition(topic, p) for p in range(partitions_count)]
    consumer = AIOKafkaConsumer(**client_kwargs(settings), enable_auto_commit=False, group_id=None)
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


async def wait_caught_up(clients: Sequence[ChaosClient], records: list[KafkaRecord]) -> int:
    """Wait (bounded) until every subscriber has its campaign's last record; how many
    had not when the deadline passed."""
    last: dict[str, int] = {}
    for record in records:
        last[record.campaign] = max(last.get(record.campaign, -1), record.offset)
    deadline = time.monotonic() + CATCH_UP_DEADLINE_S
    while True:
        behind = [
            c for c in clients if c.failed is None and c.max_offset < last.get(c.campaign, -1)
        ]
        if not behind or time.monotonic() > deadline:
            return len(behind)
        await asyncio.sleep(0.2)


def verify(
    records: list[KafkaRecord],
    campaigns: Sequence[str],
    acks: Sequence[tuple[str, int, int]],
    clients: Sequence[ChaosClient],
) -> Verdict:
    """Compare what Kafka holds with the acks and with every subscriber's deliveries."""
    verdict = Verdict()
    mine = [r for r in records if r.campaign in set(campaigns)]
    verdict.records = len(mine)
    by_id: dict[str, list[KafkaRecord]] = defaultdict(list)
    for record in mine:
        by_id[record.event_id].append(record)
    verdict.events = len(by_id)
    verdict.chat_events = sum(1 for rs in by_id.values() if rs[0].type == CHAT)
    verdict.updated_events = sum(1 for rs in by_id.values() if rs[0].type == UPDATED)
    verdict.kafka_duplicates = sum(len(rs) - 1 for rs in by_id.values())
    at = {(r.partition, r.offset): r for r in mine}
    for event_id, partition, offset in acks:
        if event_id not in by_id:
            verdict.lost_acked += 1
            verdict.worst.append(f"acked {event_id} at {partition}@{offset} is not in Kafka")
        elif (found := at.get((partition, offset))) is None or found.event_id != event_id:
            verdict.ack_mismatch += 1
            verdict.worst.append(f"ack of {event_id} names {partition}@{offset}: {found}")
    for client in clients:
        for event in client.events:
            if event.rejected is None and event.event_id not in by_id:
                verdict.missing_emitted += 1
                verdict.worst.append(
                    f"{event.event_id} never reached Kafka (acked={event.ack is not None})"
                )
    by_campaign: dict[str, list[KafkaRecord]] = defaultdict(list)
    for record in sorted(mine, key=lambda r: (r.partition, r.offset)):
        by_campaign[record.campaign].append(record)
    for client in clients:
        verdict.deliveries += len(client.deliveries)
        first = client.first_offset
        if first is None:
            continue
        expected = [r for r in by_campaign[client.campaign] if r.offset >= first]
        _compare(client, expected, at, verdict)
    return verdict


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
