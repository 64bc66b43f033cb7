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
from schema_walk import Domain, values_of


def _base64(data: bytes) -> str:
    return base64.b64encode(data).decode()


_FLOATS = st.floats(allow_nan=False, allow_infinity=False)
_PRIMITIVES: dict[str, st.SearchStrategy[Any]] = {
    "null": st.none(),
    "boolean": st.booleans(),
    "int": st.integers(-(2**31), 2**31 - 1),
    "long": st.integers(-(2**63), 2**63 - 1),
    "float": st.floats(width=32, allow_nan=False, allow_infinity=False),
    "double": _FLOATS,
    "string": st.text(max_size=20),
    "bytes": st.binary(max_size=20).map(_base64),
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


JSON = Domain(
    primitives=_PRIMITIVES,
    logical=_logical,
    fixed=lambda size: st.binary(min_size=size, max_size=size).map(_base64),
    map_keys=st.text(max_size=8),
    max_items=4,
    max_entries=4,
    omit_defaults=False,
)


def json_values(parsed: Any) -> st.SearchStrategy[Any]:
    """Natural JSON values of a fastavro-parsed schema."""
    return values_of(parsed, JSON)
