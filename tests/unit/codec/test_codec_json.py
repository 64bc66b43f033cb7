"""Client JSON validation: the messages a client developer reads in nexus.error."""

from __future__ import annotations

import re
from typing import Any

import pytest
from codec_registries import sink_example

from nexus_mesh.codec import Codec
from nexus_mesh.errors import PayloadInvalidError, UnknownTypeError


@pytest.mark.parametrize(
    ("type_name", "value", "message"),
    [
        ("search.requested", {"query": 5}, "payload.query: expected string, got integer"),
        ("search.requested", {"query": None}, "payload.query: expected string, got null"),
        ("search.requested", {}, "payload.query: required field missing"),
        ("search.requested", [], "payload: expected object, got array"),
        ("search.requested", "q", "payload: expected object, got string"),
        (
            "search.requested",
            {"query": "q", "limit": "10"},
            "payload.limit: expected null or integer, got string",
        ),
        (
            "search.requested",
            {"query": "q", "limit": 10.0},
            "payload.limit: expected null or integer, got number",
        ),
        (
            "search.requested",
            {"query": "q", "limit": 2**31},
            "payload.limit: 2147483648 is out of range for int (32-bit)",
        ),
        (
            "search.requested",
            {"query": "q", "lmit": 3},
            "payload.lmit: unknown field (allowed: query, limit)",
        ),
        (
            "search.completed",
            {"query": "q", "hits": [{"id": "1", "title": "t", "score": 1}, {"id": "2"}]},
            "payload.hits[1].title: required field missing",
        ),
        (
            "search.completed",
            {"query": "q", "hits": [{"id": "1", "title": "t", "score": "high"}]},
            "payload.hits[0].score: expected number, got string",
        ),
        (
            "search.completed",
            {"query": "q", "hits": {}},
            "payload.hits: expected array, got object",
        ),
        (
            "system.notice",
            {"level": "fatal", "text": "x"},
            "payload.level: expected one of info, warning, critical, got 'fatal'",
        ),
        (
            "campaign.updated",
            {"changes": {"max players": 4}, "updated_at": 0},
            'payload.changes["max players"]: expected string, got integer',
        ),
        (
            "campaign.updated",
            {"updated_at": "yesterday"},
            "payload.updated_at: expected RFC 3339 timestamp string, got 'yesterday'",
        ),
        (
            "campaign.updated",
            {"updated_at": "2024-05-01T12:00:00"},
            "payload.updated_at: timestamp '2024-05-01T12:00:00' needs a UTC offset or Z",
        ),
        (
            # Well-formed, but an hour before year 1 in UTC: Python cannot hold it.
            "campaign.updated",
            {"status": "s", "updated_at": "0001-01-01T00:00:00+01:00"},
            "payload.updated_at: timestamp '0001-01-01T00:00:00+01:00' is out of range",
        ),
        (
            "nexus.ack",
            {"event_id": "e", "topic": "t", "partition": 0, "offset": 2**63, "duplicate": False},
            "payload.offset: 9223372036854775808 is out of range for long (64-bit)",
        ),
        (
            "nexus.welcome",
            {
                "connection_id": "c",
                "campaign_id": "c",
                "user_id": "u",
                "position": "p",
                "recovered": 1,
            },
            "payload.recovered: expected boolean, got integer",
        ),
    ],
)
def test_invalid_payloads_are_reported_with_their_path(
    codec: Codec, type_name: str, value: Any, message: str
) -> None:
    with pytest.raises(PayloadInvalidError) as caught:
        codec.payload_from_json(type_name, value)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "raw",
            "not base64!",
            "payload.raw: expected base64 string, got a string that is not base64",
        ),
        ("digest", "AAE=", "payload.digest: expected base64 string of 4 bytes, got 2 bytes"),
        ("single", 1e39, "payload.single: 1e+39 is out of range for float"),
        ("price", "1.234", "payload.price: '1.234' has more than 2 decimal places"),
        ("price", "12345678.00", "payload.price: '12345678.00' has more than 9 digits"),
        ("price", 1.5, "payload.price: expected decimal string, got number"),
        ("id", "not-a-uuid", "payload.id: expected UUID string, got 'not-a-uuid'"),
        ("local", "2024-05-01T12:00:00Z", "must not have a UTC offset"),
        ("clock", 86_400_000, "payload.clock: 86400000 is out of range for a time of day"),
        ("shape", {"radius": "big"}, "payload.shape.radius: expected number, got string"),
        ("shape", [1], "payload.shape: expected null or object, got array"),
        ("blobs", {"k": 1}, "payload.blobs.k: expected null or base64 string, got integer"),
    ],
)
def test_every_json_form_has_a_precise_message(
    sink_codec: Codec, field: str, value: Any, message: str
) -> None:
    sent = {**sink_example(), field: value}
    with pytest.raises(PayloadInvalidError, match=re.escape(message)):
        sink_codec.payload_from_json("test.everything", sent)


def test_unknown_types_are_unknown_not_invalid(codec: Codec) -> None:
    with pytest.raises(UnknownTypeError, match=r"nope\.nope"):
        codec.payload_from_json("nope.nope", {})
    with pytest.raises(UnknownTypeError, match=r"nope\.nope"):
        codec.payload_to_json("nope.nope", {})


def test_payloads_that_are_not_avro_native_are_reported(sink_codec: Codec) -> None:
    with pytest.raises(PayloadInvalidError, match=r"test\.everything payload is not Avro-native"):
        sink_codec.payload_to_json("test.everything", {"raw": b""})


def test_a_service_may_reply_with_values_as_it_decoded_them(codec: Codec) -> None:
    """A handler echoing a request's timestamp passes the ``datetime`` it was given; the
    rules of the JSON form still hold for it (an aware timestamp needs its offset)."""
    from datetime import UTC, datetime

    moment = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    payload = codec.payload_from_json("campaign.updated", {"updated_at": moment})
    assert payload["updated_at"] == moment.replace(microsecond=123000)  # millisecond schema
    with pytest.raises(PayloadInvalidError, match=r"updated_at: timestamp .* needs a UTC offset"):
        codec.payload_from_json("campaign.updated", {"updated_at": moment.replace(tzinfo=None)})
