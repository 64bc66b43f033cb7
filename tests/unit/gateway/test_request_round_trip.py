"""``nexus_gateway_request_seconds`` times a request from its frame, waits before its write
included (the events sent before it, a replay): what the client waits for, not what is left
of it once the gateway gets to the write.

The producer is a stand-in acknowledging every write at once; the rest is the gateway's real
ingress, flow tracker and metrics, on a clock the test moves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson

from ingress_kit import StandInProducer
from nexus_gateway.connection import Connection
from nexus_gateway.flows import FlowTracker, PendingRequest
from nexus_gateway.ingress import Ingress
from nexus_gateway.metrics import GatewayMetrics
from nexus_gateway.pipeline import Turn
from nexus_mesh.kafka.producer import Written
from nexus_mesh.registry import load_registry
from nexus_mesh.settings import default_schemas_dir


class AckingProducer(StandInProducer):
    async def send(self, *args: Any, topic: str, **kwargs: Any) -> Written:
        return Written(topic=topic, partition=0, offset=1)


async def test_a_request_is_timed_from_its_frame_not_from_its_write(
    make_ingress: Callable[..., Ingress], connection: Connection
) -> None:
    now = [50.0]
    registry = load_registry(default_schemas_dir())
    metrics = GatewayMetrics(flows=list(registry.flows.values()))

    def answered(request: PendingRequest, waited_s: float) -> None:
        metrics.request_seconds.labels(request.flow.name).observe(waited_s)

    read = asyncio.Event()  # the handler asked the tracker's clock: it has read the frame

    def clock() -> float:
        read.set()
        return now[0]

    flows = FlowTracker(lambda _pending: True, on_answered=answered, clock=clock)
    ingress = make_ingress(
        registry=registry, producer=AckingProducer(), flows=flows, metrics=metrics
    )
    loop = asyncio.get_running_loop()
    before: asyncio.Future[None] = loop.create_future()
    frame = {"type": "search", "payload": {"query": "q"}, "metadata": {"event_id": "s-1"}}
    handling = asyncio.create_task(
        ingress.handle(
            connection, orjson.dumps(frame), allowed=True, turn=Turn(before, loop.create_future())
        )
    )
    async with asyncio.timeout(5):
        await read.wait()
    now[0] += 3.0  # the events sent before it took 3 s to be queued
    before.set_result(None)
    async with asyncio.timeout(5):
        ack = orjson.loads(await handling)
    assert ack["type"] == "nexus.ack"
    now[0] += 0.5  # the reply
    assert flows.resolve(connection.identity.connection_id, "s-1") is True
    waited = metrics.registry.get_sample_value(
        "nexus_gateway_request_seconds_sum", {"flow": "search"}
    )
    assert waited == 3.5
