"""JSON -> Avro -> Kafka bytes -> Avro -> JSON gives back what the client sent."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from codec_registries import REAL_SCHEMAS, metadata, sink_example
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from payload_strategies import json_values

from nexus_mesh.codec import Codec
from nexus_mesh.envelope import Envelope
from nexus_mesh.registry import load_registry

REAL_TYPES = sorted(t.name for t in load_registry(REAL_SCHEMAS).types())
_metadata = st.builds(
    metadata,
    event_id=st.text(min_size=1, max_size=40),
    campaign_id=st.text(min_size=1, max_size=20),
    time=st.integers(0, 2**62),
    user_id=st.none() | st.text(max_size=10),
    connection_id=st.none() | st.text(max_size=10),
    tracestate=st.none() | st.text(max_size=10),
    attributes=st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3),
)


def round_trip(codec: Codec, type_name: str, sent: Any, meta: Any) -> Any:
    payload = codec.payload_from_json(type_name, orjson.loads(orjson.dumps(sent)))
    envelope = Envelope(type=type_name, payload=payload, metadata=meta)
    decoded = codec.decode(codec.encode(envelope))
    assert decoded.type == type_name
    assert decoded.metadata == meta
    assert decoded.payload == payload
    return orjson.loads(orjson.dumps(codec.payload_to_json(type_name, decoded.payload)))


@pytest.mark.parametrize("type_name", REAL_TYPES)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), meta=_metadata)
def test_every_registered_type_round_trips_through_json_and_avro(
    codec: Codec, type_name: str, data: st.DataObject, meta: Any
) -> None:
    sent = data.draw(json_values(codec.registry.latest(type_name).parsed))
    assert round_trip(codec, type_name, sent, meta) == sent


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_every_avro_and_logical_type_round_trips_through_json(
    sink_codec: Codec, data: st.DataObject
) -> None:
    sent = data.draw(json_values(sink_codec.registry.latest("test.everything").parsed))
    assert round_trip(sink_codec, "test.everything", sent, metadata()) == sent


def test_the_kafka_value_is_single_object_encoded_twice(codec: Codec) -> None:
    registry = codec.registry
    envelope = Envelope(
        type="search.requested", payload={"query": "kafka", "limit": 5}, metadata=metadata()
    )
    value = codec.encode(envelope)
    assert value[:2] == b"\xc3\x01"
    assert value[2:10] == registry.envelope_versions[-1].fingerprint
    # The envelope body starts with the type string, then the payload's bytes.
    type_end = 1 + len(b"search.requested")
    assert value[10 : 10 + type_end] == bytes([2 * len(b"search.requested")]) + b"search.requested"
    payload = value[10 + type_end + 1 :]
    assert payload[:2] == b"\xc3\x01"
    assert payload[2:10] == registry.latest("search.requested").fingerprint


def test_metadata_comes_back_as_sent_with_time_an_int(codec: Codec) -> None:
    sparse = metadata(correlation_id=None, user_id=None, connection_id=None, traceparent=None)
    sparse.attributes = {}
    for meta in (metadata(tracestate="vendor=1"), sparse):
        envelope = Envelope(
            type="chat.message", payload={"text": "hi", "reply_to": None}, metadata=meta
        )
        decoded = codec.decode(codec.encode(envelope))
        assert decoded == envelope
        assert type(decoded.metadata.time) is int


def test_defaults_are_filled_from_the_schema(codec: Codec, sink_codec: Codec) -> None:
    assert codec.payload_from_json("search.requested", {"query": "q"}) == {
        "query": "q",
        "limit": None,
    }
    assert (
        codec.payload_from_json(
            "nexus.ack", {"event_id": "e", "topic": "t", "partition": 0, "offset": 7}
        )["duplicate"]
        is False
    )
    assert codec.payload_from_json("system.notice", {"text": "maintenance"})["level"] == "info"
    sent = orjson.loads(orjson.dumps(sink_example()))
    del sent["raw_default"], sent["note"]
    payload = sink_codec.payload_from_json("test.everything", sent)
    assert (payload["note"], payload["raw_default"]) == ("none", b"\xff\x01")


def test_the_documented_json_forms(sink_codec: Codec) -> None:
    sent = sink_example()
    assert round_trip(sink_codec, "test.everything", sent, metadata()) == sent
    loose = {
        **sent,
        "at": 1_714_564_800_123,  # epoch milliseconds are taken too
        "at_us": "2024-05-01T14:00:00.1234567+02:00",
        "real": 1,
        "price": "1234.5",  # scale 2: padded to two places
        "id": "6F1C2A3E000040008000000000000001",  # any form uuid.UUID reads
    }
    back = round_trip(sink_codec, "test.everything", loose, metadata())
    assert back["at"] == "2024-05-01T12:00:00.123Z"
    assert back["at_us"] == "2024-05-01T12:00:00.123456Z"
    assert back["real"] == 1.0
    assert back["price"] == "1234.50"
    assert back["id"] == "6f1c2a3e-0000-4000-8000-000000000001"


def test_payload_to_json_hands_plain_payloads_over_without_copying(codec: Codec) -> None:
    payload = {"query": "q", "hits": [{"id": "1", "title": "t", "score": 1.0, "snippet": None}]}
    assert codec.payload_to_json("search.completed", payload) is payload
