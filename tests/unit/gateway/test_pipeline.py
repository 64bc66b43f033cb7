"""A connection's events in hand: each waits only for the one before it to be queued, at most
``limit`` at once, and every answer goes out, in hand when the connection ends included."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import Any

import orjson
import pytest
from aiokafka.errors import KafkaConnectionError
from aiokafka.structs import RecordMetadata

from ingress_kit import StandInProducer
from nexus_gateway.connection import Connection
from nexus_gateway.ingress import Ingress
from nexus_gateway.pipeline import EventPipeline, Turn
from nexus_mesh.envelope import Envelope
from nexus_mesh.errors import WriteInDoubtError
from nexus_mesh.kafka.producer import Written


async def test_an_event_waits_for_the_one_before_to_be_queued_not_answered() -> None:
    answers: list[bytes] = []
    queued: list[str] = []
    first_acked = asyncio.Event()
    second_answered = asyncio.Event()

    def answer(frame: bytes) -> None:
        answers.append(frame)
        if frame == b"second":
            second_answered.set()

    pipeline = EventPipeline(answer)

    async def first(*, turn: Turn) -> bytes:
        await turn.wait()
        queued.append("first")
        turn.passed()  # queued for Kafka; its acks come later
        await first_acked.wait()
        return b"first"

    async def second(*, turn: Turn) -> bytes:
        await turn.wait()
        queued.append("second")
        return b"second"

    await pipeline.submit(first)
    await pipeline.submit(second)
    async with asyncio.timeout(5):
        await second_answered.wait()
    assert answers == [b"second"]
    assert queued == ["first", "second"]
    first_acked.set()
    await pipeline.finish()
    assert answers == [b"second", b"first"]
    assert pipeline.in_hand == 0


async def test_a_full_pipeline_stops_taking_events_until_one_is_answered() -> None:
    answers: list[bytes] = []
    release = asyncio.Event()
    pipeline = EventPipeline(answers.append, limit=2)

    async def held(*, turn: Turn) -> bytes:
        turn.passed()
        await release.wait()
        return b"held"

    await pipeline.submit(held)
    await pipeline.submit(held)
    third = asyncio.create_task(pipeline.submit(held))
    # Must not get through while two are in hand: a bounded look, not a synchronisation.
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.shield(third), 0.2)
    assert pipeline.in_hand == 2
    release.set()
    async with asyncio.timeout(5):
        await third
    await pipeline.finish()
    assert answers == [b"held"] * 3


async def test_a_refused_event_does_not_let_the_next_overtake_the_one_before() -> None:
    """A rate-limited or malformed event in the middle of a burst never waits for its turn:
    the event after it must still wait for the one before it, or Kafka gets them out of
    order."""
    answers: list[bytes] = []
    queued: list[str] = []
    first_may_queue = asyncio.Event()
    third_queued = asyncio.Event()
    pipeline = EventPipeline(answers.append)

    async def slow_to_queue(*, turn: Turn) -> bytes:
        await turn.wait()
        await first_may_queue.wait()  # waiting for metadata, a replay, a full batch
        queued.append("first")
        turn.passed()
        return b"first"

    async def refused(*, turn: Turn) -> bytes:
        return b"refused"  # answered at once, its turn never waited for

    async def third(*, turn: Turn) -> bytes:
        await turn.wait()
        queued.append("third")
        third_queued.set()
        return b"third"

    await pipeline.submit(slow_to_queue)
    await pipeline.submit(refused)
    await pipeline.submit(third)
    # The third must not be queued while the first is not: a bounded look.
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(third_queued.wait(), 0.2)
    assert queued == []
    first_may_queue.set()
    async with asyncio.timeout(5):
        await pipeline.finish()
    assert queued == ["first", "third"]
    assert sorted(answers) == [b"first", b"refused", b"third"]


def chat(event_id: str) -> bytes:
    return orjson.dumps(
        {"type": "chat.message", "payload": {"text": "hi"}, "metadata": {"event_id": event_id}}
    )


def answer_of(frame: bytes) -> tuple[str, str]:
    payload = orjson.loads(frame)["payload"]
    return payload["code"], payload["message"]


async def test_an_event_whose_socket_closed_while_it_waited_is_not_written(
    make_ingress: Callable[..., Ingress], connection: Connection
) -> None:
    """Its answer could not reach the client, which resends it after resuming, perhaps on
    another pod: written here too, it would be written twice. (The ingress's producer points
    at a closed port: a write would be answered "Kafka is unavailable", not this.)"""
    ingress = make_ingress()
    loop = asyncio.get_running_loop()
    before: asyncio.Future[None] = loop.create_future()
    handling = asyncio.create_task(
        ingress.handle(
            connection, chat("e-1"), allowed=True, turn=Turn(before, loop.create_future())
        )
    )
    connection.stop_taking()  # the socket closed while the event before it was not queued
    before.set_result(None)
    async with asyncio.timeout(5):
        assert answer_of(await handling) == (
            "unavailable",
            "connection closed before it was written",
        )


async def test_an_event_waits_for_the_ones_before_it_at_most_one_produce_timeout(
    make_ingress: Callable[..., Ingress], connection: Connection
) -> None:
    """Kafka takes no write (a full batch in an outage): the event is answered within its
    own produce timeout of being read, not written, instead of one timeout after another."""
    ingress = make_ingress(answer_timeout_s=0.3)
    loop = asyncio.get_running_loop()
    never: asyncio.Future[None] = loop.create_future()
    async with asyncio.timeout(5):
        code, message = answer_of(
            await ingress.handle(
                connection, chat("e-2"), allowed=True, turn=Turn(never, loop.create_future())
            )
        )
    assert code == "unavailable"
    assert message.startswith("the events sent before it still wait for Kafka")


class ScriptedProducer(StandInProducer):
    """Queues in call order; the first write of ``doubtful`` is left in doubt on
    ``doubt`` (queued, never acknowledged in time), every other write is acknowledged."""

    def __init__(self, doubtful: str, doubt: asyncio.Future[RecordMetadata]) -> None:
        super().__init__()
        self.queue: list[str] = []
        self.second_queued = asyncio.Event()
        self._doubtful, self._doubt = doubtful, doubt

    async def send(
        self,
        envelope: Envelope,
        *,
        topic: str,
        queued: Callable[[], object] | None = None,
        **_: Any,
    ) -> Written:
        event_id = envelope.metadata.event_id
        self.queue.append(event_id)
        if len(self.queue) == 2:
            self.second_queued.set()
        if queued is not None:
            queued()
        if event_id == self._doubtful and self.queue.count(event_id) == 1:
            raise WriteInDoubtError("no acks in time", delivery=self._doubt)
        return Written(topic=topic, partition=0, offset=len(self.queue))


async def test_a_resend_of_a_write_in_doubt_keeps_its_place_before_later_events(
    make_ingress: Callable[..., Ingress], connection: Connection
) -> None:
    """e-1's first write is in doubt; the client resends e-1, then sends e-2. Should the first
    write fail, the resend writes e-1 again: Kafka must get it before e-2, so e-2 waits for
    the resend to learn the first write's fate instead of overtaking it."""
    loop = asyncio.get_running_loop()
    doubt: asyncio.Future[RecordMetadata] = loop.create_future()
    producer = ScriptedProducer("e-1", doubt)
    ingress = make_ingress(producer=producer)
    answers: list[dict[str, Any]] = []
    first_answered = asyncio.Event()

    def answer(frame: bytes) -> None:
        answers.append(orjson.loads(frame)["payload"])
        first_answered.set()

    pipeline = EventPipeline(answer)

    for event_id in ("e-1", "e-1", "e-2"):
        await pipeline.submit(partial(ingress.handle, connection, chat(event_id), allowed=True))
    async with asyncio.timeout(5):
        await first_answered.wait()
    assert answers[0]["code"] == "unconfirmed"
    # Nothing may be queued while the resend waits on the write in doubt: a bounded look.
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(producer.second_queued.wait(), 0.2)
    assert producer.queue == ["e-1"]

    doubt.set_exception(KafkaConnectionError("the write failed after all"))
    async with asyncio.timeout(5):
        await pipeline.finish()
    assert producer.queue == ["e-1", "e-1", "e-2"]
    assert [(a["event_id"], "offset" in a) for a in answers[1:]] == [("e-1", True), ("e-2", True)]
