"""Hypothesis strategies of Avro-native Python values (what ``Codec.encode`` takes) for any
fastavro-parsed schema, written from the Avro specification rather than from the compiled
codec's model, so that the property tests do not share the generator's assumptions.

Strings and maps are long enough to need multi-byte length varints (> 63 bytes), numbers
cover the full int/long ranges, and optional fields are None often.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from codec_registries import LOGICAL_FIELDS, SIMPLE_FIELDS
from hypothesis import strategies as st
from schema_walk import Domain, values_of

from nexus_mesh.envelope import Metadata

TEXT = st.text(max_size=90)
_PRIMITIVES: dict[str, st.SearchStrategy[Any]] = {
    "null": st.none(),
    "boolean": st.booleans(),
    "int": st.integers(-(2**31), 2**31 - 1),
    "long": st.integers(-(2**63), 2**63 - 1),
    "float": st.floats(width=32, allow_nan=False),
    "double": st.floats(allow_nan=False),
    "string": TEXT,
    "bytes": st.binary(max_size=90),
}
_MOMENTS = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30))


def _millis(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _logical(schema: dict[str, Any]) -> st.SearchStrategy[Any] | None:
    key = f"{schema['type']}-{schema.get('logicalType')}"
    aware = _MOMENTS.map(lambda moment: moment.replace(tzinfo=UTC))
    if key == "long-timestamp-millis":
        return aware.map(_millis)
    if key == "long-timestamp-micros":
        return aware
    if key == "long-local-timestamp-millis":
        return _MOMENTS.map(_millis)
    if key == "long-local-timestamp-micros":
        return _MOMENTS
    if key == "int-date":
        return st.dates()
    if key == "int-time-millis":
        return st.times().map(lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000))
    if key == "long-time-micros":
        return st.times()
    if key == "string-uuid":
        return st.uuids()
    if key in ("bytes-decimal", "fixed-decimal"):
        precision, scale = schema["precision"], schema.get("scale", 0)
        bound = Decimal(10) ** (precision - scale) - Decimal(1).scaleb(-scale)
        return st.decimals(
            min_value=-bound, max_value=bound, places=scale, allow_nan=False, allow_infinity=False
        )
    return None


NATIVE = Domain(
    primitives=_PRIMITIVES,
    logical=_logical,
    fixed=lambda size: st.binary(min_size=size, max_size=size),
    map_keys=TEXT,
    max_items=5,
    max_entries=6,
    omit_defaults=True,
)


def native_values(parsed: Any) -> st.SearchStrategy[Any]:
    """Avro-native values of a fastavro-parsed schema; fields with a default sometimes left
    out."""
    return values_of(parsed, NATIVE)


OPTIONAL_TEXT = st.none() | TEXT
METADATA = st.builds(
    Metadata,
    event_id=TEXT.filter(bool),  # decode refuses an empty one
    campaign_id=TEXT,
    source=TEXT,
    time=st.integers(-(2**63), 2**63 - 1) | st.integers(0, 2**42),
    correlation_id=OPTIONAL_TEXT,
    user_id=OPTIONAL_TEXT,
    connection_id=OPTIONAL_TEXT,
    traceparent=OPTIONAL_TEXT,
    tracestate=OPTIONAL_TEXT,
    attributes=st.dictionaries(TEXT, TEXT, max_size=6),
)

# One of each kind the compiled codec handles, for a registry of its own (everything here
# must compile: the test asserts it).
COMPILABLE: dict[str, Any] = {
    "type": "record",
    "name": "Compilable",
    "namespace": "test.compiled",
    "fields": [
        *SIMPLE_FIELDS,
        {"name": "grid", "type": {"type": "array", "items": {"type": "array", "items": "int"}}},
        {"name": "blobs", "type": {"type": "map", "values": ["null", "bytes"]}},
        {"name": "scores", "type": {"type": "map", "values": "double"}, "default": {}},
        {
            "name": "point",
            "type": [
                "null",
                {
                    "type": "record",
                    "name": "Point",
                    "fields": [
                        {"name": "x", "type": "long"},
                        {"name": "label", "type": ["null", "string"], "default": None},
                    ],
                },
            ],
            "default": None,
        },
        {"name": "points", "type": {"type": "array", "items": "Point"}},
        {"name": "maybe_digest", "type": ["Digest", "null"]},
        {"name": "maybe_color", "type": ["null", "Color"], "default": None},
        {"name": "maybe_tags", "type": ["null", {"type": "array", "items": "long"}]},
        {"name": "maybe_map", "type": [{"type": "map", "values": "string"}, "null"]},
        {"name": "any", "type": ["null", "boolean", "int", "long", "double", "string", "bytes"]},
        {"name": "word", "type": ["Color", "string"]},
        *LOGICAL_FIELDS,
        {"name": "note", "type": "string", "default": "it's \"quoted\" \\ '''); import os #"},
        {"name": "unknown_logical", "type": {"type": "string", "logicalType": "not-known"}},
    ],
}


def compilable_example() -> dict[str, Any]:
    """A valid test.compiled payload with every field set."""
    return {
        "flag": True,
        "small": -5,
        "big": 2**40,
        "single": 1.5,
        "real": 0.1,
        "raw": b"\x00\xff",
        "nothing": None,
        "digest": b"\xde\xad\xbe\xef",
        "color": "blue",
        "tags": ["a", "b" * 70],
        "grid": [[1, 2], [], [3]],
        "blobs": {"k": b"v", "n": None},
        "scores": {"x": 1.0},
        "point": {"x": 3, "label": None},
        "points": [{"x": -1, "label": "one"}],
        "maybe_digest": None,
        "maybe_color": "red",
        "maybe_tags": [1, -2],
        "maybe_map": {"a": "b"},
        "any": 7,
        "word": "not a color",
        "at": datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC),
        "at_us": datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC),
        "local": datetime(2024, 5, 1, 12, 0, 0, 123000),
        "day": date(2024, 5, 1),
        "clock": time(12, 0, 0, 123000),
        "clock_us": time(12, 0, 0, 123456),
        "id": uuid.UUID(int=1),
        "price": Decimal("1234.50"),
        "maybe_at": None,
        "note": "n",
        "unknown_logical": "just a string",
    }
