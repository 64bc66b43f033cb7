"""Avro-native payload -> natural JSON (the inverse of :mod:`nexus_mesh.codec.json_in`).

Most schemas hold only strings, numbers, booleans, enums, arrays, maps and records, whose
Avro-native values already are their JSON form; for those the compiled converter is None and
the payload is handed over as it is, which keeps the gateway's per-record cost at zero.
Only bytes, fixed and logical types need converting, and only the branches holding them are.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

from nexus_mesh.codec.logical import logical_form

Convert = Callable[[Any], Any]
# (native types this branch's values can have, converter or None for "as is", and for a
# record the field names that tell it from another record branch of the same union)
_Branch = tuple[frozenset[type], Convert | None, frozenset[str] | None]

_NATIVE_TYPES: dict[str, frozenset[type]] = {
    "null": frozenset({type(None)}),
    "boolean": frozenset({bool}),
    "int": frozenset({int}),
    "long": frozenset({int}),
    "float": frozenset({float, int}),
    "double": frozenset({float, int}),
    "string": frozenset({str}),
    "bytes": frozenset({bytes, bytearray, memoryview}),
    "fixed": frozenset({bytes, bytearray, memoryview}),
    "enum": frozenset({str}),
    "array": frozenset({list, tuple}),
    "map": frozenset({dict}),
    "record": frozenset({dict}),
}
_ALL = frozenset(
    {type(None), bool, int, float, str, bytes, list, dict, datetime, date, time, UUID, Decimal}
)


def _base64(value: Any) -> str:
    return base64.b64encode(value).decode("ascii")


def compile_out(parsed: Any) -> Convert | None:
    """The converter for a fastavro-parsed schema, or None when values are already JSON."""
    named = parsed.get("__named_schemas", {}) if isinstance(parsed, dict) else {}
    return _branch(parsed, named)[1]


def _branch(schema: Any, named: Mapping[str, Any]) -> _Branch:
    if isinstance(schema, list):
        return _union([_branch(b, named) for b in schema])
    if isinstance(schema, str):
        if schema in named:
            return _branch(named[schema], named)
        return _NATIVE_TYPES.get(schema, _ALL), (_base64 if schema == "bytes" else None), None
    kind = schema["type"]
    if not isinstance(kind, str):
        return _branch(kind, named)
    if "logicalType" in schema:
        logical = logical_form(schema)
        if logical is not None:
            return logical.native_types, logical.to_json, None
    if kind == "fixed":
        return _NATIVE_TYPES["fixed"], _base64, None
    if kind == "array":
        return _NATIVE_TYPES["array"], _array(_branch(schema["items"], named)[1]), None
    if kind == "map":
        return _NATIVE_TYPES["map"], _map(_branch(schema["values"], named)[1]), None
    if kind == "record":
        fields = [(f["name"], _branch(f["type"], named)[1]) for f in schema["fields"]]
        names = frozenset(name for name, _ in fields)
        return _NATIVE_TYPES["record"], _record(fields), names
    return _branch(kind, named)


def _array(item: Convert | None) -> Convert | None:
    if item is None:
        return None
    return lambda value: [item(element) for element in value]


def _map(item: Convert | None) -> Convert | None:
    if item is None:
        return None
    return lambda value: {key: item(element) for key, element in value.items()}


def _record(fields: list[tuple[str, Convert | None]]) -> Convert | None:
    if all(convert is None for _, convert in fields):
        return None

    def convert(value: Any) -> dict[str, Any]:
        return {
            name: value[name] if field_convert is None else field_convert(value[name])
            for name, field_convert in fields
        }

    return convert


def _union(branches: list[_Branch]) -> _Branch:
    types = frozenset(t for kinds, _, _ in branches for t in kinds)
    if all(convert is None for _, convert, _ in branches):
        return types, None, None

    def convert(value: Any) -> Any:
        kind = type(value)
        candidates = [b for b in branches if kind in b[0]]
        if not candidates:
            raise TypeError(f"{kind.__name__} matches no branch of the union")
        # Records of one union are told apart by their fields, as the encoder chose them.
        exact = [b for b in candidates if b[2] is None or b[2] == value.keys()]
        branch_convert = (exact or candidates)[0][1]
        return value if branch_convert is None else branch_convert(value)

    return types, convert, None
