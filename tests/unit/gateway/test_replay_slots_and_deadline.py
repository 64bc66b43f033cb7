"""A resume's replay: its deadlines (NEXUS_GATEWAY_REPLAY_TIMEOUT_S for a slot, then as long
from the slot), the count of replays that did not finish by reason, the reason in its log
line and close, and its Kafka consumer stopped whatever ends it. Kafka is a stand-in here:
what the consumer does is aiokafka's, what happens around it is the gateway's."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any, cast

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError
from pydantic import ValidationError

from nexus_gateway import catchup, websocket
from nexus_gateway.catchup import CatchUp, CatchUpReader, ReplayUnfinishedError
from nexus_gateway.connection import Connection, Identity
from nexus_gateway.metrics import REPLAY_UNFINISHED_REASONS, GatewayMetrics
from nexus_gateway.state import Gateway
from nexus_mesh.codec import Codec
from nexus_mesh.logs import RepeatFilter
from nexus_mesh.position import Position
from nexus_mesh.registry import load_registry
from nexus_mesh.settings import NexusSettings, default_schemas_dir
from nexus_testkit import eventually


class FakeConsumer:
    """Stands in for AIOKafkaConsumer: ``start`` does what the test says (waits for
    ``release``, fails), ``stop`` records that it ran (and may wait for ``release_stop``)."""

    made: list[FakeConsumer] = []
    start_fails: BaseException | None = None
    hold_start = True
    hold_stop = False

    def __init__(self, **_kwargs: Any) -> None:
        self.release = asyncio.Event()
        self.release_stop = asyncio.Event()
        if not FakeConsumer.hold_start:
            self.release.set()
        if not FakeConsumer.hold_stop:
            self.release_stop.set()
        self.started = False
        self.start_cancelled = False
        self.stopping = False
        self.stopped = False
        FakeConsumer.made.append(self)

    async def start(self) -> None:
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.start_cancelled = True
            raise
        if FakeConsumer.start_fails is not None:
            raise FakeConsumer.start_fails
        self.started = True

    async def stop(self) -> None:
        self.stopping = True
        await self.release_stop.wait()
        self.stopped = True


@pytest.fixture(autouse=True)
def fake_consumer(monkeypatch: pytest.MonkeyPatch) -> type[FakeConsumer]:
    monkeypatch.setattr(catchup, "AIOKafkaConsumer", FakeConsumer)
    FakeConsumer.made = []
    FakeConsumer.start_fails = None
    FakeConsumer.hold_start = True
    FakeConsumer.hold_stop = False
    return FakeConsumer


def reader(metrics: GatewayMetrics, *, slots: int, timeout_s: float) -> CatchUpReader:
    settings = NexusSettings(
        kafka_bootstrap_servers="127.0.0.1:9",
        gateway_replay_slots=slots,
        gateway_replay_timeout_s=timeout_s,
    )
    return CatchUpReader(
        settings=settings,
        codec=Codec(load_registry(default_schemas_dir())),
        metrics=metrics,
        client_id="t",
        max_parallel=settings.gateway_replay_slots,
        timeout_s=settings.gateway_replay_timeout_s,
    )


def job(user: str) -> CatchUp:
    """A resume whose gap is read once the consumer has started (already at its targets,
    so nothing is fetched: the consumer's start is the whole replay here)."""
    connection = SimpleNamespace(
        identity=Identity(connection_id=f"c-{user}", campaign_id="A", user_id=user)
    )
    return CatchUp(
        connection=cast(Connection, connection),
        clients=TopicPartition("t.clients", 0),
        system=(TopicPartition("t.system", 0),),
        since=Position(partitions=1, partition=0, offset=5, system=(2,)),
        clients_target=5,
        system_targets=(2,),
    )


def unfinished(metrics: GatewayMetrics) -> dict[str, float]:
    counter = metrics.replays_unfinished
    return {r: counter.labels(r)._value.get() for r in REPLAY_UNFINISHED_REASONS}


def replays(metrics: GatewayMetrics) -> tuple[float, float]:
    gauge = metrics.replays
    return gauge.labels("running")._value.get(), gauge.labels("waiting")._value.get()


def counted(metrics: GatewayMetrics, **reasons: float) -> dict[str, float]:
    return {r: reasons.get(r, 0) for r in REPLAY_UNFINISHED_REASONS}


async def until(condition: Any, what: str) -> None:
    async def probe() -> bool:
        return bool(condition())

    await eventually(probe, timeout=5, interval=0.005, what=what)


def test_the_replay_timeout_is_a_setting_of_60_s_that_must_be_positive() -> None:
    assert NexusSettings().gateway_replay_timeout_s == 60.0
    assert NexusSettings(gateway_replay_timeout_s=2.5).gateway_replay_timeout_s == 2.5
    for bad in (0, -1):
        with pytest.raises(ValidationError, match="gateway_replay_timeout_s"):
            NexusSettings(gateway_replay_timeout_s=bad)


async def test_a_replay_with_no_slot_in_time_gives_up_and_says_why() -> None:
    """One slot, held by u1 until its replay deadline, then by u2 (queued first) until
    its own: u3, queued behind both, gets none within the timeout."""
    metrics = GatewayMetrics()
    replaying = reader(metrics, slots=1, timeout_s=0.5)
    first = asyncio.create_task(replaying.replay(job("u1")))
    await until(lambda: replays(metrics) == (1, 0), "the first replay holding the slot")
    second = asyncio.create_task(replaying.replay(job("u2")))
    await until(lambda: replays(metrics) == (1, 1), "the second replay waiting")
    with pytest.raises(ReplayUnfinishedError) as raised:
        await replaying.replay(job("u3"))
    assert raised.value.reason == "slot_timeout"
    assert str(raised.value) == (
        "timed out after 0.5 s waiting for a replay slot (1 waiting, all 1 slots busy)"
    )
    assert raised.value.close_message == (
        "resume interrupted (no replay slot in time): reconnect and resume"
    )
    assert unfinished(metrics) == counted(metrics, slot_timeout=1, replay_timeout=1)
    with pytest.raises(ReplayUnfinishedError, match=r"^timed out after 0\.5 s replaying"):
        await first
    assert replays(metrics) == (1, 0), "the second one has the slot"
    assert len(FakeConsumer.made) == 2, "no consumer for a replay that never had a slot"
    FakeConsumer.made[1].release.set()
    await second
    assert unfinished(metrics) == counted(metrics, slot_timeout=1, replay_timeout=1)


async def test_the_same_user_s_earlier_replay_is_named_as_what_it_waited_for() -> None:
    metrics = GatewayMetrics()
    replaying = reader(metrics, slots=4, timeout_s=0.3)
    first = asyncio.create_task(replaying.replay(job("u1")))
    await until(lambda: replays(metrics) == (1, 0), "the user's first replay running")
    second = asyncio.create_task(replaying.replay(job("u1")))
    await until(lambda: replays(metrics) == (1, 1), "the user's second replay waiting")
    with pytest.raises(ReplayUnfinishedError, match="still behind this user's earlier replay"):
        await replaying.replay(job("u1"))
    for task in (first, second):
        task.cancel()
    await asyncio.wait({first, second})


async def test_the_replay_deadline_counts_from_the_slot_not_from_the_queue() -> None:
    """Waited 0.6 s for the slot, then replayed for 0.6 s: 1.2 s in all, over the 1 s
    timeout, and still finished, since each part is within it."""
    metrics = GatewayMetrics()
    replaying = reader(metrics, slots=1, timeout_s=1.0)
    first = asyncio.create_task(replaying.replay(job("u1")))
    await until(lambda: len(FakeConsumer.made) == 1, "the first replay starting")
    second = asyncio.create_task(replaying.replay(job("u2")))
    await until(lambda: replays(metrics) == (1, 1), "the second replay waiting")
    loop = asyncio.get_running_loop()
    began = loop.time()
    await asyncio.sleep(0.6)  # the time the second one queues: what is under test
    FakeConsumer.made[0].release.set()
    await first
    await until(lambda: len(FakeConsumer.made) == 2, "the second replay starting")
    await asyncio.sleep(0.6)  # the time the second one replays
    FakeConsumer.made[1].release.set()
    await second
    assert loop.time() - began > 1.0
    assert unfinished(metrics) == counted(metrics)
    assert all(c.stopped for c in FakeConsumer.made)


async def test_a_replay_over_its_deadline_says_so_and_its_consumer_still_stops() -> None:
    """Cancelled by its deadline while its consumer starts: the start is left to end (a
    cancelled aiokafka start can leave its bootstrap connection open for good), then the
    consumer is stopped, and the slot is free at once meanwhile."""
    metrics = GatewayMetrics()
    replaying = reader(metrics, slots=1, timeout_s=0.2)
    with pytest.raises(ReplayUnfinishedError) as raised:
        await replaying.replay(job("u1"))
    assert raised.value.reason == "replay_timeout"
    assert str(raised.value) == (
        "timed out after 0.2 s replaying a gap of 0 records (after 0.0 s waiting for a slot)"
    )
    assert unfinished(metrics) == counted(metrics, replay_timeout=1)
    assert replays(metrics) == (0, 0), "its slot is given back without waiting for the start"
    consumer = FakeConsumer.made[0]
    assert not consumer.start_cancelled
    assert not consumer.stopping, "not stopped while it still starts"
    consumer.release.set()
    await until(lambda: consumer.stopped, "the consumer stopped once its start ended")
    assert consumer.started


@pytest.mark.parametrize(
    ("error", "why"),
    [
        (
            KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 9, 0)]"),
            "Kafka failed: KafkaConnectionError: Unable to bootstrap from [('127.0.0.1', 9, 0)]",
        ),
        # One of aiokafka's own timeouts, not the deadline: never an empty reason.
        (TimeoutError(), "Kafka failed: TimeoutError"),
        (
            OSError(111, "Connection refused"),
            "Kafka failed: ConnectionRefusedError: [Errno 111] Connection refused",
        ),
    ],
    ids=["kafka-error", "bare-timeout", "os-error"],
)
async def test_a_replay_kafka_cannot_serve_is_a_kafka_error_and_its_consumer_stops(
    error: BaseException, why: str
) -> None:
    FakeConsumer.hold_start = False
    FakeConsumer.start_fails = error
    metrics = GatewayMetrics()
    with pytest.raises(ReplayUnfinishedError) as raised:
        await reader(metrics, slots=1, timeout_s=5).replay(job("u1"))
    assert (raised.value.reason, str(raised.value)) == ("kafka_error", why)
    assert raised.value.__cause__ is error
    assert unfinished(metrics) == counted(metrics, kafka_error=1)
    assert FakeConsumer.made[0].stopped, "stop() after a failed start"


async def test_a_fault_of_the_gateway_s_own_is_counted_as_failed() -> None:
    FakeConsumer.hold_start = False
    FakeConsumer.start_fails = ValueError("a bug")
    metrics = GatewayMetrics()
    with pytest.raises(ReplayUnfinishedError, match=r"^replay failed: ValueError: a bug$"):
        await reader(metrics, slots=1, timeout_s=5).replay(job("u1"))
    assert unfinished(metrics) == counted(metrics, failed=1)


async def test_a_replay_whose_client_left_is_counted_gone_and_stops_its_consumer() -> None:
    metrics = GatewayMetrics()
    replaying = reader(metrics, slots=1, timeout_s=30)
    running = asyncio.create_task(replaying.replay(job("u1")))
    waiting = asyncio.create_task(replaying.replay(job("u2")))
    await until(lambda: replays(metrics) == (1, 1), "one replay running, one waiting")
    for task in (waiting, running):
        task.cancel()
    await asyncio.wait({waiting, running})
    assert running.cancelled() and waiting.cancelled()
    assert unfinished(metrics) == counted(metrics, gone=2), "left: no failure"
    assert replays(metrics) == (0, 0)
    (consumer,) = FakeConsumer.made
    assert not consumer.start_cancelled and not consumer.stopping
    consumer.release.set()
    await until(lambda: consumer.stopped, "the consumer stopped once its start ended")


async def test_a_cancellation_during_the_consumer_s_stop_does_not_cut_it_short() -> None:
    FakeConsumer.hold_start = False
    FakeConsumer.hold_stop = True
    metrics = GatewayMetrics()
    task = asyncio.create_task(reader(metrics, slots=1, timeout_s=30).replay(job("u1")))
    await until(lambda: FakeConsumer.made and FakeConsumer.made[0].stopping, "the stop")
    task.cancel()
    await asyncio.wait({task})
    consumer = FakeConsumer.made[0]
    assert not consumer.stopped
    consumer.release_stop.set()
    await until(lambda: consumer.stopped, "the stop to end after all")


class FakeConnection:
    def __init__(self) -> None:
        self.id = "c-1"
        self.closed = asyncio.Event()
        self.close_args: tuple[int, str] | None = None
        self.caught_up = False

    def replay_over(self) -> None:
        pass

    def end_catch_up(self) -> None:
        self.caught_up = True

    async def close(self, code: int, message: str) -> None:
        self.close_args = (code, message)
        self.closed.set()


async def _replay_failing_with(error: BaseException) -> FakeConnection:
    connection = FakeConnection()

    async def replay(_job: CatchUp) -> None:
        raise error

    gateway = cast(Gateway, SimpleNamespace(catch_up=SimpleNamespace(replay=replay)))
    await websocket._replay(gateway, cast(CatchUp, SimpleNamespace(connection=connection)))
    await asyncio.wait_for(connection.closed.wait(), 5)
    return connection


async def test_the_log_line_and_the_close_name_the_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "nexus_gateway.websocket")
    why = "timed out after 60 s waiting for a replay slot (936 waiting, all 4 slots busy)"
    connection = await _replay_failing_with(ReplayUnfinishedError("slot_timeout", why))
    assert connection.close_args == (
        1001,
        "resume interrupted (no replay slot in time): reconnect and resume",
    )
    assert not connection.caught_up
    (record,) = caplog.records
    assert record.getMessage() == (
        f"replay for connection c-1 did not finish (slot_timeout): {why}; closing it with "
        "1001 to resume again"
    )
    assert not record.exc_info


async def test_an_unexpected_error_is_logged_failed_with_its_traceback_never_empty(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "nexus_gateway.websocket")
    connection = await _replay_failing_with(TimeoutError())
    assert connection.close_args == (
        1001,
        "resume interrupted (gateway error): reconnect and resume",
    )
    (record,) = caplog.records
    assert "did not finish (failed): TimeoutError; closing it" in record.getMessage()
    assert record.exc_info is not None


async def test_each_reason_has_a_log_template_of_its_own_for_the_repeat_filter(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The repeat filter holds back a template's records within its window: a flood of slot
    timeouts must not hide the first Kafka error."""
    caplog.set_level(logging.WARNING, "nexus_gateway.websocket")
    for reason in ("slot_timeout", "slot_timeout", "kafka_error"):
        await _replay_failing_with(ReplayUnfinishedError(reason, "why"))
    repeats = RepeatFilter("nexus_gateway.websocket", clock=lambda: 0.0)
    assert [repeats.filter(r) for r in caplog.records] == [True, False, True]
