"""A write Kafka refuses for good is answered by what the refusal says: ``too_large`` for a
record over a size limit, ``internal`` for anything else; neither is retryable. A failure of
the gateway's own (an encoding bug) is ``internal`` too, never ``unavailable``: a client told
to retry would fail the same way forever.

The producer is a stand-in raising the refusal the real one builds (its own test, against a
broker, is tests/e2e/test_write_refused.py); the rest is the gateway's real ingress.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from nexus_gateway.connection import Connection
from nexus_gateway.flows import FlowTracker
from nexus_gateway.idempotency import IdempotencyWindow
from nexus_gateway.ingress import Ingress
from nexus_gateway.metrics import GatewayMetrics
from nexus_mesh.codec import Codec
from nexus_mesh.errors import ProduceRejectedError
from nexus_mesh.kafka.producer import EnvelopeProducer, Written
from nexus_mesh.kafka.topics import TopicNames
from nexus_mesh.registry import load_registry
from nexus_mesh.settings import NexusSettings, default_schemas_dir


class RefusingProducer(EnvelopeProducer):
    def __init__(self, refusal: Exception, codec: Codec) -> None:
        super().__init__(
            settings=NexusSettings(kafka_bootstrap_servers="127.0.0.1:9"),
            codec=codec,
            client_id="t",
        )
        self.refusal = refusal

    async def send(self, *args: Any, **kwargs: Any) -> Written:
        raise self.refusal


def _ingress(refusal: Exception) -> Ingress:
    registry = load_registry(default_schemas_dir())
    codec = Codec(registry)
    return Ingress(
        registry=registry,
        codec=codec,
        producer=RefusingProducer(refusal, codec),
        topics=TopicNames(prefix="t"),
        flows=FlowTracker(lambda _pending: True),
        idempotency=IdempotencyWindow(window_s=60, max_entries=10),
        metrics=GatewayMetrics(),
        source="gateway/test",
        max_event_bytes=4096,
    )


FRAME = {"type": "chat.message", "payload": {"text": "x"}, "metadata": {"event_id": "e-1"}}


@pytest.mark.parametrize(("too_large", "code"), [(True, "too_large"), (False, "internal")])
async def test_a_refused_write_is_answered_by_its_reason(
    connection: Connection, too_large: bool, code: str
) -> None:
    refusal = ProduceRejectedError("Kafka refused a write to t.clients", too_large=too_large)
    ingress = _ingress(refusal)

    answer = orjson.loads(await ingress.handle(connection, orjson.dumps(FRAME), allowed=True))

    assert answer["type"] == "nexus.error"
    assert answer["payload"]["code"] == code
    assert answer["payload"]["event_id"] == "e-1"
    assert answer["payload"]["retryable"] is False
    assert "resending will not help" in answer["payload"]["message"]


async def test_a_fault_of_the_gateway_is_internal_and_logged_with_the_event_id(
    connection: Connection, caplog: pytest.LogCaptureFixture
) -> None:
    ingress = _ingress(RuntimeError("an encoding bug"))

    answer = orjson.loads(await ingress.handle(connection, orjson.dumps(FRAME), allowed=True))

    assert answer["payload"]["code"] == "internal"
    assert answer["payload"]["retryable"] is False
    assert "it was not written" in answer["payload"]["message"]
    assert "an encoding bug" not in answer["payload"]["message"]  # internals stay in the log
    logged = [r for r in caplog.records if r.exc_info and "e-1" in r.getMessage()]
    assert logged and isinstance(logged[0].exc_info[1], RuntimeError)  # type: ignore[index]
    # Not written, so nothing is left in doubt: a drain does not wait for it.
    assert ingress.unconfirmed == 0
