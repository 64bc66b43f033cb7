"""One ``.avsc`` file to one :class:`SchemaVersion`, with the checks a decoder relies on.

Two shapes are refused although Avro allows them, because bytes from Kafka are untrusted:
recursive types (a crafted record can nest until the decoder's stack overflows) and arrays
whose items can encode in zero bytes (a corrupt block count then loops for hours, since each
item consumes no input that could run out).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import avro.errors
import avro.schema
from fastavro.schema import fingerprint, parse_schema, to_parsing_canonical_form

from nexus_mesh.registry.model import SchemaVersion

_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})


class SchemaFileError(ValueError):
    """A schema file is unusable; the message is the reason, the caller adds the file."""


def full_name(schema: Mapping[str, Any]) -> str:
    name = str(schema.get("name", ""))
    namespace = schema.get("namespace")
    if "." in name or not namespace:
        return name
    return f"{namespace}.{name}"


def inline_reference(schema: Any, name: str, definition: Mapping[str, Any]) -> Any:
    """``schema`` with its first reference to the named type ``name`` replaced by its
    definition, so that the result stands alone (Avro canonical form needs that)."""
    done = False

    def walk(node: Any) -> Any:
        nonlocal done
        if isinstance(node, str):
            if node == name and not done:
                done = True
                return dict(definition)
            return node
        if isinstance(node, list):
            return [walk(item) for item in node]
        if isinstance(node, dict):
            return {
                key: walk(value) if key in ("type", "items", "values", "fields") else value
                for key, value in node.items()
            }
        return node

    result = walk(schema)
    if not done:
        raise SchemaFileError(f"does not reference the metadata record {name}")
    return result


def reference_schema(schema: Any) -> Any:
    """``schema`` parsed by the reference implementation (the ``avro`` package)."""
    with warnings.catch_warnings():
        # It warns about logical types it lacks (local-timestamp-*), which fastavro has.
        warnings.simplefilter("ignore", avro.errors.IgnoredLogicalType)
        return avro.schema.parse(json.dumps(schema))


def build_version(
    subject: str, version: int, directory: Path, file: str, schema: Any
) -> SchemaVersion:
    """Parse and check one self-contained schema; raise SchemaFileError with the reason."""
    if not isinstance(schema, dict) or schema.get("type") != "record":
        raise SchemaFileError("the top-level schema must be a record (payloads are objects)")
    try:
        parsed: Any = parse_schema(schema)
    except Exception as exc:  # fastavro's parse errors share no base class
        raise SchemaFileError(f"bad Avro: {exc}") from None
    try:
        reference_schema(schema)
    except Exception as exc:  # the reference parser is stricter (names, defaults)
        raise SchemaFileError(f"bad Avro (reference parser): {exc}") from None
    _check_shape(parsed, parsed.get("__named_schemas", {}))
    canonical = to_parsing_canonical_form(parsed)
    return SchemaVersion(
        subject=subject,
        version=version,
        path=directory / file,
        file=file,
        schema=schema,
        parsed=parsed,
        canonical=canonical,
        # fastavro prints the CRC in the little-endian byte order single-object framing uses.
        fingerprint=bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO")),
    )


def _check_shape(parsed: Any, named: Mapping[str, Any]) -> None:
    def walk(node: Any, defining: tuple[str, ...]) -> None:
        if isinstance(node, str):
            if node in _PRIMITIVES:
                return
            if node in defining:
                raise SchemaFileError(f"recursive type {node} (refused: see the registry README)")
            if node in named:
                walk(named[node], defining)
            return
        if isinstance(node, list):
            for branch in node:
                walk(branch, defining)
            return
        kind = node["type"]
        if kind == "record":
            inner = (*defining, node["name"])
            for item in node["fields"]:
                walk(item["type"], inner)
        elif kind == "array":
            if _can_be_empty(node["items"], named):
                raise SchemaFileError(
                    "array items that encode in zero bytes (null, empty record, fixed of size 0)"
                )
            walk(node["items"], defining)
        elif kind == "map":
            walk(node["values"], defining)
        elif not isinstance(kind, str) or kind not in _PRIMITIVES | {"enum", "fixed"}:
            walk(kind, defining)

    walk(parsed, ())


def _can_be_empty(node: Any, named: Mapping[str, Any]) -> bool:
    if isinstance(node, str):
        if node in named:
            return _can_be_empty(named[node], named)
        return node == "null"
    if isinstance(node, list):
        return False  # a union always writes its branch index
    kind = node["type"]
    if kind == "record":
        return all(_can_be_empty(item["type"], named) for item in node["fields"])
    if kind == "fixed":
        return bool(node["size"] == 0)
    if isinstance(kind, str):
        return kind == "null"
    return _can_be_empty(kind, named)
