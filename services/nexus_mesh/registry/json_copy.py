"""``json_copy_refusal``: whether every JSON value of one Avro type is a value of another.

The gateway copies a request's fields into the flow's timeout event as JSON, so the registry
checks that each copied field's type in the timeout takes every value the request's can hold.
"""

from __future__ import annotations

import json
from typing import Any

# A JSON value of the first type is always the same value of the second (json_in takes an
# integer for a floating-point number); not long into double or float, nor int into float,
# which round large values. No logical type on either side: their JSON forms differ.
_JSON_PROMOTIONS = frozenset({("int", "long"), ("int", "double"), ("float", "double")})
# What a type's JSON form does not depend on.
_NOT_IN_JSON = ("doc", "aliases", "default", "order")
# Types whose JSON forms are of one kind: a union's reader takes a value with the first branch
# of its kind that converts it (json_in), which may be another type than the writer's.
_JSON_KIND = {
    "int": "number",
    "long": "number",
    "float": "number",
    "double": "number",
    "string": "string",
    "bytes": "string",
    "fixed": "string",
    "enum": "string",
    "record": "object",
    "map": "object",
    "array": "array",
    "boolean": "boolean",
    "null": "null",
}


def json_copy_refusal(*, reader: Any, writer: Any) -> str | None:
    """Why the JSON form of some ``writer`` value (the codec's ``payload_to_json``) is not the
    same value of ``reader`` (``payload_from_json``), or None if every one is. Both are types
    parsed by the ``avro`` package. Stricter than Avro's resolution, which the gateway does
    not do: it copies JSON, so bytes are not strings, enums keep their symbols, records take
    no extra field, logical types keep their forms and numbers are not rounded."""
    if writer.type == "union":
        for branch in writer.schemas:
            reason = json_copy_refusal(reader=reader, writer=branch)
            if reason is not None:
                return reason
        return None
    if reader.type == "union":
        for branch in reader.schemas:
            if json_copy_refusal(reader=branch, writer=writer) is None:
                return None
            if _same_kind(_kind(branch), _kind(writer)):
                return (
                    f"{_json_of(branch)}, an earlier branch of {_json_of(reader)}, would take "
                    f"some {_json_of(writer)} values as its own"
                )
        return f"no branch of {_json_of(reader)} takes {_json_of(writer)}"
    if _json_of(reader) == _json_of(writer):
        return None
    if (
        _logical(reader) is None
        and _logical(writer) is None
        and (writer.type, reader.type) in _JSON_PROMOTIONS
    ):
        return None
    return f"{_json_of(reader)} does not take every {_json_of(writer)}"


def _logical(avro_type: Any) -> str | None:
    # From the schema itself too: the avro package drops logical types it lacks
    # (local-timestamp-*), which the codec (fastavro) still writes in their own JSON form.
    found = avro_type.to_json()
    named = found.get("logicalType") if isinstance(found, dict) else None
    return getattr(avro_type, "logical_type", None) or named


def _kind(avro_type: Any) -> str:
    return "logical" if _logical(avro_type) else _JSON_KIND.get(avro_type.type, avro_type.type)


def _same_kind(first: str, second: str) -> bool:
    # A logical type's JSON form is a string or a number, by type: taken as either.
    loose = {"logical", "number", "string"}
    return first == second or ("logical" in (first, second) and {first, second} <= loose)


def _json_of(avro_type: Any) -> str:
    return json.dumps(_without_docs(avro_type.to_json()), sort_keys=True)


def _without_docs(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_docs(v) for k, v in value.items() if k not in _NOT_IN_JSON}
    if isinstance(value, list):
        return [_without_docs(v) for v in value]
    return value
