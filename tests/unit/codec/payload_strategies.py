"""Hypothesis strategies of natural JSON payloads for any (fastavro-parsed) schema.

Values are generated in the canonical JSON form the codec writes back (timestamps with
exactly millisecond digits and a Z, decimals with exactly ``scale`` places, ...), so that
JSON -> Avro -> JSON must give back exactly what went in.
"""

from __future__ import annotations

import base64
from datetime import datetime
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

_FLOATS = st.floats(allow_nan=False, allow_infinity=False)
_PRIMITIVES: dict[str, st.SearchStrategy[Any]] = {
    "null": st.none(),
    "boolean": st.booleans(),
    "int": st.integers(-(2**31), 2**31 - 1),
    "long": st.integers(-(2**63), 2**63 - 1),
    "float": st.floats(width=32, allow_nan=False, allow_infinity=False),
    "double": _FLOATS,
    "string": st.text(max_size=20),
    "bytes": st.binary(max_size=20).map(lambda b: base64.b64encode(b).decode()),
}


def _moment(unit: int, aware: bool) -> st.SearchStrategy[str]:
    timespec = "milliseconds" if unit == 1000 else "microseconds"
    suffix = "Z" if aware else ""
    # Naive datetimes written with a Z are UTC by construction.
    return st.datetimes(
        min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)
    ).map(
        lambda d: (
            d.replace(microsecond=d.microsecond - d.microsecond % unit).isoformat(timespec=timespec)
            + suffix
        )
    )


def _logical(schema: dict[str, Any]) -> st.SearchStrategy[Any] | None:
    key = f"{schema['type']}-{schema.get('logicalType')}"
    if key == "long-timestamp-millis":
        return _moment(1000, aware=True)
    if key == "long-timestamp-micros":
        return _moment(1, aware=True)
    if key == "long-local-timestamp-millis":
        return _moment(1000, aware=False)
    if key == "int-date":
        return st.dates().map(lambda d: d.isoformat())
    if key in ("int-time-millis", "long-time-micros"):
        unit = 1000 if key == "int-time-millis" else 1
        timespec = "milliseconds" if unit == 1000 else "microseconds"
        return st.times().map(
            lambda t: t.replace(microsecond=t.microsecond - t.microsecond % unit).isoformat(
                timespec=timespec
            )
        )
    if key == "string-uuid":
        return st.uuids().map(str)
    if key in ("bytes-decimal", "fixed-decimal"):
        precision, scale = schema["precision"], schema.get("scale", 0)
        bound = Decimal(10) ** (precision - scale) - Decimal(1).scaleb(-scale)
        return st.decimals(
            min_value=-bound, max_value=bound, places=scale, allow_nan=False, allow_infinity=False
        ).map(lambda d: format(d, "f"))
    return None


def json_values(parsed: Any) -> st.SearchStrategy[Any]:
    """Natural JSON values of a fastavro-parsed schema."""
    return _values(parsed, parsed.get("__named_schemas", {}) if isinstance(parsed, dict) else {})


def _values(schema: Any, named: dict[str, Any]) -> st.SearchStrategy[Any]:
    if isinstance(schema, list):
        return st.one_of(*(_values(branch, named) for branch in schema))
    if isinstance(schema, str):
        if schema in _PRIMITIVES:
            return _PRIMITIVES[schema]
        return _values(named[schema], named)
    kind = schema["type"]
    if "logicalType" in schema:
        logical = _logical(schema)
        if logical is not None:
            return logical
    if kind == "record":
        return st.fixed_dictionaries(
            {f["name"]: _values(f["type"], named) for f in schema["fields"]}
        )
    if kind == "enum":
        return st.sampled_from(schema["symbols"])
    if kind == "fixed":
        size = schema["size"]
        return st.binary(min_size=size, max_size=size).map(lambda b: base64.b64encode(b).decode())
    if kind == "array":
        return st.lists(_values(schema["items"], named), max_size=4)
    if kind == "map":
        return st.dictionaries(st.text(max_size=8), _values(schema["values"], named), max_size=4)
    return _values(kind, named)
