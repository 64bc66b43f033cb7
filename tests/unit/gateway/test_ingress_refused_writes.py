"""A write Kafka refuses for good is answered by what the refusal says: ``too_large`` for a
record over a size limit, ``internal`` for anything else; neither is retryable. A failure of
the gateway's own (an encoding bug) is ``internal`` too, never ``unavailable``: a client told
to retry would fail the same way forever.

The producer is a stand-in raising the refusal the real one builds (its own test, against a
broker, is tests/e2e/test_write_refused.py); the rest is the gateway's real ingress.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from ingress_kit import StandInProducer
from nexus_gateway.connection import Connection
from nexus_gateway.ingress import Ingress
from nexus_mesh.errors import ProduceRejectedError
from nexus_mesh.kafka.producer import Written


class RefusingProducer(StandInProducer):
    def __init__(self, refusal: Exception) -> None:
        super().__init__()
        self.refusal = refusal

    async def send(self, *args: Any, **kwargs: Any) -> Written:
        raise self.refusal


FRAME = {"type": "chat.message", "payload": {"text": "x"}, "metadata": {"event_id": "e-1"}}


@pytest.mark.parametrize(("too_large", "code"), [(True, "too_large"), (False, "internal")])
async def test_a_refused_write_is_answered_by_its_reason(
    make_ingress: Callable[..., Ingress], connection: Connection, too_large: bool, code: str
) -> None:
    refusal = ProduceRejectedError("Kafka refused a write to t.clients", too_large=too_large)
    ingress = make_ingress(producer=RefusingProducer(refusal))

    answer = orjson.loads(await ingress.handle(connection, orjson.dumps(FRAME), allowed=True))

    assert answer["type"] == "nexus.error"
    assert answer["payload"]["code"] == code
    assert answer["payload"]["event_id"] == "e-1"
    assert answer["payload"]["retryable"] is False
    assert "resending will not help" in answer["payload"]["message"]


async def test_a_fault_of_the_gateway_is_internal_and_logged_with_the_event_id(
    make_ingress: Callable[..., Ingress],
    connection: Connection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ingress = make_ingress(producer=RefusingProducer(RuntimeError("an encoding bug")))

    answer = orjson.loads(await ingress.handle(connection, orjson.dumps(FRAME), allowed=True))

    assert answer["payload"]["code"] == "internal"
    assert answer["payload"]["retryable"] is False
    assert "it was not written" in answer["payload"]["message"]
    assert "an encoding bug" not in answer["payload"]["message"]  # internals stay in the log
    logged = [r for r in caplog.records if r.exc_info and "e-1" in r.getMessage()]
    assert logged and isinstance(logged[0].exc_info[1], RuntimeError)  # type: ignore[index]
    # Not written, so nothing is left in doubt: a drain does not wait for it.
    assert ingress.unconfirmed == 0
