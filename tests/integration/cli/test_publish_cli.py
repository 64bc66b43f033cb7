"""``nexus publish`` as a process against the test broker."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from kafka_tail import TopicTail
from nexus_mesh.codec import Codec
from nexus_mesh.kafka.connection import client_kwargs
from nexus_mesh.kafka.records import header
from nexus_mesh.kafka.topics import TopicNames, ensure_topics
from nexus_mesh.registry import load_registry
from nexus_mesh.settings import NexusSettings
from nexus_testkit import CliRun, eventually, run_nexus_on


@pytest.fixture
async def topics(settings: NexusSettings) -> TopicNames:
    await ensure_topics(settings, ["search"])
    return TopicNames(prefix=settings.topic_prefix)


async def test_publish_writes_one_envelope_keyed_by_campaign(
    settings: NexusSettings, topics: TopicNames
) -> None:
    codec = Codec(load_registry(settings.schemas_dir))
    async with TopicTail(settings, topics.clients, settings.clients_partitions) as clients:
        run = await run_nexus_on(
            settings,
            "publish",
            "chat.message",
            "--campaign",
            "camp-9",
            "--user",
            "bob",
            "--attribute",
            "lang=en",
            "--payload",
            '{"text": "hello from the command line"}',
        )
        assert run.status == 0, run.stderr
        topic, partition, offset, event_id = run.stdout.split()

        (record,) = await eventually(
            lambda: _with_id(clients, event_id), what="the published record"
        )

    assert (topic, int(partition), int(offset)) == (
        topics.clients,
        record.partition,
        record.offset,
    )
    assert record.key == b"camp-9"
    headers = record.headers
    assert header(headers, "ce_type") == "chat.message"
    assert header(headers, "ce_source") == "nexus-cli"
    assert header(headers, "ce_specversion") == "1.0"
    assert header(headers, "nexus-campaign") == "camp-9"
    assert header(headers, "nexus-user") == "bob"
    envelope = codec.decode(record.value)
    assert envelope.payload["text"] == "hello from the command line"
    assert envelope.metadata.attributes == {"lang": "en"}


async def test_requests_go_to_their_domain_and_broadcasts_to_system(
    settings: NexusSettings, topics: TopicNames, tmp_path: Path
) -> None:
    payload_file = tmp_path / "request.json"
    payload_file.write_text('{"query": "password", "limit": 3}')
    request = await run_nexus_on(
        settings,
        "publish",
        "search.requested",
        "--campaign",
        "camp-1",
        "--connection",
        "0123456789abcdef0123456789abcdef",  # as the gateway makes them
        "--payload-file",
        str(payload_file),
    )
    notice = await run_nexus_on(
        settings, "publish", "system.notice", "--broadcast", "--payload", '{"text": "hi"}'
    )
    assert request.status == 0, request.stderr
    assert request.stdout.split()[0] == topics.domain("search")
    assert notice.status == 0, notice.stderr
    assert notice.stdout.split()[0] == topics.system
    async with TopicTail(settings, topics.system, settings.system_partitions) as system:
        (record,) = await eventually(
            lambda: _with_id(system, notice.stdout.split()[3]), what="the broadcast"
        )
    assert record.key == b"*"


async def _with_id(tail: TopicTail, event_id: str) -> list[ConsumerRecord[bytes, bytes]]:
    return tail.with_header("ce_id", event_id)


async def records_in(settings: NexusSettings, topics: TopicNames) -> int:
    partitions = [
        *(TopicPartition(topics.clients, p) for p in range(settings.clients_partitions)),
        *(TopicPartition(topics.system, p) for p in range(settings.system_partitions)),
        *(TopicPartition(topics.domain("search"), p) for p in range(settings.domain_partitions)),
    ]
    consumer = AIOKafkaConsumer(**client_kwargs(settings))
    await consumer.start()
    try:
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["search.requested", "--campaign", "c", "--payload", '{"query": 5}'], "payload.query"),
        (["search.requested", "--campaign", "c", "--payload", "{}"], "payload.query"),
        (["search.requested", "--campaign", "c", "--payload", "{not json"], "not valid JSON"),
        (["search.unheard_of", "--campaign", "c"], "unknown event type"),
        (["nexus.ack", "--campaign", "c"], "protocol event"),
        (["chat.message", "--payload", '{"text": "x"}'], "--campaign is required"),
        # Gateways hand the system topic to everyone: a campaign or user would be ignored.
        (
            ["system.notice", "--campaign", "c", "--user", "u", "--payload", '{"text": "x"}'],
            "send it as a broadcast",
        ),
    ],
)
async def test_invalid_input_is_refused_and_nothing_is_written(
    settings: NexusSettings, topics: TopicNames, args: list[str], complaint: str
) -> None:
    run = await run_nexus_on(settings, "publish", *args)
    assert run.status != 0
    assert complaint in run.stderr
    assert retry_id(run) is None, "nothing was sent: no retry to offer"
    assert run.stdout == ""
    assert await records_in(settings, topics) == 0


def retry_id(run: CliRun) -> str | None:
    """The event id a failed ``nexus publish`` says to pass again with ``--event-id``."""
    named = re.search(r"\(event_id (\S+); to retry it, pass --event-id \1\)", run.stderr)
    return named.group(1) if named else None


async def test_a_missing_topic_fails_at_once_with_one_line(settings: NexusSettings) -> None:
    clients = TopicNames(prefix=settings.topic_prefix).clients
    began = time.monotonic()
    run = await run_nexus_on(
        settings, "publish", "chat.message", "--campaign", "c1", "--payload", '{"text": "hi"}'
    )
    # Well before the 10 s a write may wait for Kafka: nothing is waited for when the
    # topic does not exist (the margin is for starting the process on a busy machine).
    assert time.monotonic() - began < 8
    assert run.status != 0
    assert run.stdout == ""
    (line,) = run.stderr.splitlines()
    assert f"topic {clients} does not exist: run `nexus topics ensure` first" in line
    assert retry_id(run) is not None


async def test_a_retry_reuses_the_event_id_it_is_given(
    settings: NexusSettings, topics: TopicNames
) -> None:
    run = await run_nexus_on(
        settings,
        "publish",
        "chat.message",
        "--campaign",
        "camp-3",
        "--event-id",
        "retry-1",
        "--payload",
        '{"text": "again"}',
    )
    assert run.status == 0, run.stderr
    assert run.stdout.split()[3] == "retry-1"
    codec = Codec(load_registry(settings.schemas_dir))
    async with TopicTail(settings, topics.clients, settings.clients_partitions) as clients:
        (record,) = await eventually(
            lambda: _with_id(clients, "retry-1"), what="the record with the given id"
        )
    assert codec.decode(record.value).metadata.event_id == "retry-1"


async def test_an_event_id_the_gateway_would_refuse_is_refused(
    settings: NexusSettings, topics: TopicNames
) -> None:
    run = await run_nexus_on(
        settings, "publish", "chat.message", "--campaign", "c", "--event-id", "two words"
    )
    assert run.status != 0
    assert "--event-id 'two words'" in run.stderr
    assert await records_in(settings, topics) == 0
