"""The compiled codec against the fastavro path: same bytes, same values, both directions.

``BinaryCodec(registry, compiled=False)`` is the previous implementation, built on fastavro;
it is the oracle here. Every registered type is compiled (asserted), so every example runs
the generated code on one side and fastavro on the other.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from codec_registries import REAL_SCHEMAS, add_event, copy_real, metadata
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from native_strategies import COMPILABLE, METADATA, compilable_example, native_values

from nexus_mesh.codec import Codec
from nexus_mesh.codec.binary import BinaryCodec
from nexus_mesh.envelope import Envelope, Metadata
from nexus_mesh.registry import Registry, load_registry

REAL_TYPES = sorted(t.name for t in load_registry(REAL_SCHEMAS).types())
_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def fastavro_codec(registry: Registry) -> BinaryCodec:
    return BinaryCodec(registry, compiled=False)


@pytest.fixture(scope="module")
def compilable(tmp_path_factory: pytest.TempPathFactory) -> tuple[Codec, BinaryCodec]:
    root = copy_real(tmp_path_factory.mktemp("compilable") / "schemas")
    add_event(root, "test.compiled", {1: COMPILABLE})
    registry = load_registry(root)
    return Codec(registry), BinaryCodec(registry, compiled=False)


def with_defaults(schema: Any, value: Any, named: dict[str, Any]) -> Any:
    """``value`` as decoding gives it back: record fields left out hold their defaults."""
    if isinstance(schema, str) and schema in named:
        return with_defaults(named[schema], value, named)
    if isinstance(schema, list):
        records = [b for b in schema if isinstance(b, dict) and b.get("type") == "record"]
        return with_defaults(records[0], value, named) if isinstance(value, dict) else value
    if not isinstance(schema, dict):
        return value
    if schema["type"] == "record":
        return {
            f["name"]: with_defaults(f["type"], value.get(f["name"], f.get("default")), named)
            for f in schema["fields"]
        }
    if schema["type"] == "array":
        return [with_defaults(schema["items"], item, named) for item in value]
    if schema["type"] == "map":
        return {k: with_defaults(schema["values"], item, named) for k, item in value.items()}
    return value


def check_both_ways(compiled: BinaryCodec, oracle: BinaryCodec, envelope: Envelope) -> Envelope:
    value = compiled.encode(envelope)
    assert value == oracle.encode(envelope)
    decoded = compiled.decode(value)
    assert decoded == oracle.decode(value)
    assert decoded.type == envelope.type
    assert decoded.metadata == envelope.metadata
    return decoded


def test_every_registered_type_and_the_envelope_are_compiled(codec: Codec) -> None:
    assert codec.compiled == {*REAL_TYPES, "nexus.envelope"}


@pytest.mark.parametrize("type_name", REAL_TYPES)
@_SETTINGS
@given(data=st.data(), meta=METADATA)
def test_compiled_bytes_and_values_equal_the_fastavro_path(
    codec: Codec, fastavro_codec: BinaryCodec, type_name: str, data: st.DataObject, meta: Metadata
) -> None:
    payload = data.draw(native_values(codec.registry.latest(type_name).parsed))
    envelope = Envelope(type=type_name, payload=payload, metadata=meta)
    decoded = check_both_ways(codec, fastavro_codec, envelope)
    parsed = codec.registry.latest(type_name).parsed
    assert decoded.payload == with_defaults(parsed, payload, parsed["__named_schemas"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), meta=METADATA)
def test_every_compiled_construct_matches_fastavro(
    compilable: tuple[Codec, BinaryCodec], data: st.DataObject, meta: Metadata
) -> None:
    codec, oracle = compilable
    assert "test.compiled" in codec.compiled
    payload = data.draw(native_values(codec.registry.latest("test.compiled").parsed))
    envelope = Envelope(type="test.compiled", payload=payload, metadata=meta)
    # Logical types come back converted (datetime, UUID, Decimal...), so the values are
    # compared with fastavro's reading of the same bytes rather than with what went in.
    check_both_ways(codec, oracle, envelope)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), meta=METADATA)
def test_the_compiled_reader_reads_what_fastavro_wrote(
    compilable: tuple[Codec, BinaryCodec], data: st.DataObject, meta: Metadata
) -> None:
    codec, oracle = compilable
    type_name = data.draw(st.sampled_from([*REAL_TYPES, "test.compiled"]))
    payload = data.draw(native_values(codec.registry.latest(type_name).parsed))
    value = oracle.encode(Envelope(type=type_name, payload=payload, metadata=meta))
    assert codec.decode(value) == oracle.decode(value)


@pytest.mark.parametrize(
    ("type_name", "payload"),
    [
        # Values fastavro's validator accepts although they are not the canonical type.
        ("search.completed", {"query": "q", "hits": ({"id": "a", "title": "t", "score": 1},)}),
        ("chat.message", {"text": type("Text", (str,), {})("subclass of str")}),
        ("campaign.updated", {"changes": {"k": "v"}, "updated_at": 1_718_000_000_123}),
        ("nexus.ack", {"event_id": "e", "topic": "t", "partition": 0, "offset": 2**63 - 1}),
        ("nexus.ack", {"event_id": "e", "topic": "t", "partition": -(2**31), "offset": -1}),
    ],
)
def test_accepted_non_canonical_values_write_fastavros_bytes(
    codec: Codec, fastavro_codec: BinaryCodec, type_name: str, payload: dict[str, Any]
) -> None:
    envelope = Envelope(type=type_name, payload=payload, metadata=metadata())
    assert codec.encode(envelope) == fastavro_codec.encode(envelope)


def test_the_example_round_trips(compilable: tuple[Codec, BinaryCodec]) -> None:
    codec, oracle = compilable
    envelope = Envelope(type="test.compiled", payload=compilable_example(), metadata=metadata())
    assert check_both_ways(codec, oracle, envelope).payload == compilable_example()


def test_defaults_with_quotes_and_code_in_them_are_data(
    compilable: tuple[Codec, BinaryCodec],
) -> None:
    codec, oracle = compilable
    payload = compilable_example()
    del payload["note"]
    envelope = Envelope(type="test.compiled", payload=payload, metadata=metadata())
    decoded = check_both_ways(codec, oracle, envelope)
    assert decoded.payload["note"] == "it's \"quoted\" \\ '''); import os #"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), meta=METADATA)
def test_a_decoded_payload_is_accepted_as_it_is(
    compilable: tuple[Codec, BinaryCodec], data: st.DataObject, meta: Metadata
) -> None:
    """A service echoing what it decoded (datetimes, bytes, UUIDs, decimals in every
    construct: unions, arrays, maps, nested records) hands it to ``payload_from_json`` as
    it is, and gets the same record, without converting each value to its JSON form."""
    codec, _ = compilable
    payload = data.draw(native_values(codec.registry.latest("test.compiled").parsed))
    # Infinity and NaN have no JSON form: refused on purpose, a client could not be sent them.
    assume(all(math.isfinite(x) for x in _floats(payload)))
    accepted = codec.payload_from_json("test.compiled", payload)
    as_given = codec.encode(Envelope(type="test.compiled", payload=payload, metadata=meta))
    assert codec.encode(Envelope(type="test.compiled", payload=accepted, metadata=meta)) == (
        as_given
    )


def _floats(value: Any) -> list[float]:
    if isinstance(value, float):
        return [value]
    if isinstance(value, dict):
        return [x for item in value.values() for x in _floats(item)]
    if isinstance(value, list | tuple):
        return [x for item in value for x in _floats(item)]
    return []
