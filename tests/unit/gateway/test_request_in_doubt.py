"""A request whose write Kafka has not confirmed gets no timeout event while in doubt: the
client's answer is ``unconfirmed`` (act on Kafka), not a ``search.timeout`` that blames the
search service and counts against its alert. Should the write land after all, the request
waits for its reply from then on; should it fail, nothing waits for it.

The producer is a stand-in leaving the write in doubt (the real one's in-doubt answer is
tested against a broker in tests/e2e/test_broker_outage.py); the rest is the gateway's real
ingress and flow tracker, with the search flow's timeout cut to 100 ms.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka.errors import KafkaConnectionError
from aiokafka.structs import RecordMetadata, TopicPartition

from ingress_kit import StandInProducer
from nexus_gateway.connection import Connection
from nexus_gateway.flows import FlowTracker, PendingRequest
from nexus_gateway.ingress import Ingress
from nexus_mesh.envelope import Envelope
from nexus_mesh.errors import WriteInDoubtError
from nexus_mesh.kafka.producer import Written
from nexus_mesh.registry import load_registry
from nexus_mesh.settings import default_schemas_dir
from nexus_testkit import eventually


class DoubtingProducer(StandInProducer):
    """Every write is queued and left in doubt on ``delivery``."""

    def __init__(self, delivery: asyncio.Future[RecordMetadata]) -> None:
        super().__init__()
        self.delivery = delivery

    async def send(self, envelope: Envelope, **_: Any) -> Written:
        raise WriteInDoubtError("no acks in time", delivery=self.delivery)


def quick_search_schemas(tmp_path: Path) -> Path:
    schemas = tmp_path / "schemas"
    shutil.copytree(default_schemas_dir(), schemas)
    manifest = orjson.loads((schemas / "manifest.json").read_bytes())
    manifest["flows"]["search"]["timeout_ms"] = 100
    (schemas / "manifest.json").write_bytes(orjson.dumps(manifest))
    return schemas


@pytest.mark.parametrize("lands", [True, False])
async def test_a_request_in_doubt_times_out_only_once_its_write_lands(
    make_ingress: Callable[..., Ingress], connection: Connection, tmp_path: Path, lands: bool
) -> None:
    registry = load_registry(quick_search_schemas(tmp_path))
    delivery: asyncio.Future[RecordMetadata] = asyncio.get_running_loop().create_future()
    timeouts: list[PendingRequest] = []
    timed_out = asyncio.Event()

    def on_timeout(pending: PendingRequest) -> bool:
        timeouts.append(pending)
        timed_out.set()
        return True

    flows = FlowTracker(on_timeout)
    ingress = make_ingress(registry=registry, producer=DoubtingProducer(delivery), flows=flows)
    frame = {"type": "search", "payload": {"query": "q"}, "metadata": {"event_id": "s-1"}}

    answer = orjson.loads(await ingress.handle(connection, orjson.dumps(frame), allowed=True))

    assert answer["payload"]["code"] == "unconfirmed"
    # Twice the flow's timeout, in doubt: no timeout event (a bounded look).
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(timed_out.wait(), 0.2)
    assert len(flows) == 1, "the request still waits: its write may land"
    if lands:
        delivery.set_result(
            RecordMetadata(
                topic="t.search",
                partition=0,
                topic_partition=TopicPartition("t.search", 0),
                offset=7,
                timestamp=None,
                timestamp_type=-1,
                log_start_offset=None,
            )
        )
        async with asyncio.timeout(5):
            await timed_out.wait()
        assert [p.correlation_id for p in timeouts] == ["s-1"]
    else:
        delivery.set_exception(KafkaConnectionError("the write failed after all"))

        async def forgotten() -> bool:
            return len(flows) == 0

        await eventually(forgotten, timeout=5, what="the failed request to stop waiting")
        assert timeouts == []
        assert not flows.owes(connection.identity.connection_id, "s-1")
