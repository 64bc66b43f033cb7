"""The gateway's own frames are what its schemas in ``schemas/`` promise client developers:
a client generating types from the registry reads every field the gateway sends."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from nexus_gateway.protocol import (
    ClientEventError,
    ErrorCode,
    ack_frame,
    error_frame,
    welcome_frame,
)
from nexus_mesh.codec import Codec
from nexus_mesh.registry import load_registry

SCHEMAS = Path(__file__).parents[3] / "schemas"


@pytest.fixture(scope="module")
def codec() -> Codec:
    return Codec(load_registry(SCHEMAS))


@pytest.mark.parametrize(
    "frame",
    [
        welcome_frame(
            connection_id="c" * 32,
            campaign_id="A",
            user_id="u",
            position="v1.0-5",
            recovered=True,
        ),
        ack_frame(event_id="e1", topic="nexus.clients", partition=3, offset=9, duplicate=True),
        error_frame(ClientEventError(ErrorCode.SCHEMA_INVALID, "payload.text: missing", "e2")),
        error_frame(
            ClientEventError(ErrorCode.RATE_LIMITED, "slow down", "e3", retry_after_ms=250)
        ),
    ],
    ids=["welcome", "ack", "error", "rate_limited"],
)
def test_each_protocol_frame_matches_its_newest_schema(codec: Codec, frame: bytes) -> None:
    decoded = orjson.loads(frame)
    payload = codec.payload_from_json(decoded["type"], decoded["payload"])
    # Nothing the gateway sent was dropped on the way through the schema.
    assert codec.payload_to_json(decoded["type"], payload) == decoded["payload"]


def test_only_a_rate_limit_names_a_wait() -> None:
    limited = orjson.loads(
        error_frame(ClientEventError(ErrorCode.RATE_LIMITED, "x", "e", retry_after_ms=250))
    )
    other = orjson.loads(error_frame(ClientEventError(ErrorCode.UNAVAILABLE, "x", "e")))
    assert limited["payload"]["retry_after_ms"] == 250
    assert other["payload"]["retry_after_ms"] is None
