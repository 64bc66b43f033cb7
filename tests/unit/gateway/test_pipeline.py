"""A connection's events in hand: each waits only for the one before it to be queued, at most
``limit`` at once, and every answer goes out, in hand when the connection ends included."""

from __future__ import annotations

import asyncio

import pytest

from nexus_gateway.pipeline import EventPipeline, Turn


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


async def test_an_event_that_fails_before_its_write_lets_the_next_go() -> None:
    answers: list[bytes] = []
    pipeline = EventPipeline(answers.append)

    async def refused(*, turn: Turn) -> bytes:
        return b"refused"  # never queued: its turn passes when it is answered

    async def after(*, turn: Turn) -> bytes:
        await turn.wait()
        return b"after"

    await pipeline.submit(refused)
    await pipeline.submit(after)
    async with asyncio.timeout(5):
        await pipeline.finish()
    assert sorted(answers) == [b"after", b"refused"]
