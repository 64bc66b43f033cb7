"""The subset of Avro the compiled codec handles, as a small tree built from a parsed schema.

Both code generators (encode and decode) walk this tree instead of fastavro's parsed dicts,
so the question "can this schema be compiled?" is answered once, here: anything outside the
subset raises :class:`UnsupportedSchemaError` and the codec keeps fastavro for that schema.
The subset is chosen so that the compiled writer picks exactly the union branch fastavro picks and
accepts exactly the values fastavro's validator accepts; constructs where fastavro's choice
depends on more than a cheap type test (a union of several records, which fastavro resolves
by counting matching keys) stay with fastavro.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastavro.logical_readers import LOGICAL_READERS
from fastavro.logical_writers import LOGICAL_WRITERS

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
# A union index is read as one byte on the fast path: 63 is the largest that zigzags into it.
_MAX_UNION_BRANCHES = 63
# Branches a union can choose between with a type test that cannot overlap a later record,
# array or map branch (see Union).
_SIMPLE = (PRIMITIVES - {"null"}) | {"enum", "fixed"}


class UnsupportedSchemaError(Exception):
    """The schema uses something the generators do not compile; fastavro handles it."""


@dataclass(frozen=True, slots=True)
class Logical:
    """A logical type fastavro converts: ``prepare`` before writing, ``read`` after reading.

    The converters are fastavro's own, called with the schema node it would pass, so the
    compiled codec converts values exactly as fastavro does.
    """

    key: str
    schema: Mapping[str, Any]
    prepare: Any
    read: Any


@dataclass(frozen=True, slots=True)
class Primitive:
    kind: str
    logical: Logical | None = None


@dataclass(frozen=True, slots=True)
class Fixed:
    size: int
    logical: Logical | None = None


@dataclass(frozen=True, slots=True)
class Enum:
    symbols: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Array:
    items: Node


@dataclass(frozen=True, slots=True)
class Map:
    values: Node


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    node: Node
    has_default: bool
    default: Any
    """fastavro's parsed default, substituted for a missing value exactly as fastavro does."""


@dataclass(frozen=True, slots=True)
class Record:
    name: str
    fields: tuple[Field, ...]


@dataclass(frozen=True, slots=True)
class Union:
    """Branches in schema order; the writer takes the first whose type test passes.

    Either ``[null, X]`` / ``[X, null]`` with any X, or only simple branches (primitives,
    enums, fixed) without logical types, never ``float`` before ``double`` (fastavro skips
    ahead to a later double for a Python float).
    """

    branches: tuple[Node, ...]


Node = Primitive | Fixed | Enum | Array | Map | Record | Union


def kind_of(node: Node) -> str:
    """The Avro type name of ``node`` (``"record"``, ``"string"``, ...), for messages."""
    if isinstance(node, Primitive):
        return node.kind
    return type(node).__name__.lower()


def model_of(parsed: Mapping[str, Any]) -> Record:
    """The tree of a fastavro-parsed record schema; UnsupportedSchemaError says why not."""
    named = parsed.get("__named_schemas", {})
    node = _Builder(named).build(parsed, ())
    if not isinstance(node, Record):
        raise UnsupportedSchemaError("the top-level schema is not a record")
    return node


class _Builder:
    def __init__(self, named: Mapping[str, Any]) -> None:
        self._named = named

    def build(self, schema: Any, defining: tuple[str, ...]) -> Node:
        if isinstance(schema, str):
            if schema in PRIMITIVES:
                return Primitive(schema)
            if schema in defining:
                raise UnsupportedSchemaError(f"recursive type {schema}")
            if schema not in self._named:
                raise UnsupportedSchemaError(f"unknown named type {schema}")
            return self.build(self._named[schema], defining)
        if isinstance(schema, list):
            return self._union(schema, defining)
        if not isinstance(schema, Mapping):
            raise UnsupportedSchemaError(f"unexpected schema node {type(schema).__name__}")
        kind = schema.get("type")
        if isinstance(kind, str) and kind in PRIMITIVES:
            return Primitive(kind, _logical(schema))
        if kind == "fixed":
            return Fixed(int(schema["size"]), _logical(schema))
        if "logicalType" in schema and _logical(schema) is not None:
            raise UnsupportedSchemaError(f"logical type {schema['logicalType']} on {kind}")
        if kind == "enum":
            return Enum(tuple(str(symbol) for symbol in schema["symbols"]))
        if kind == "array":
            items = self.build(schema["items"], defining)
            if _can_be_empty(items):
                # Each item must consume input, or a forged block count never runs out.
                raise UnsupportedSchemaError("array items that encode in zero bytes")
            return Array(items)
        if kind == "map":
            return Map(self.build(schema["values"], defining))
        if kind == "record":
            return self._record(schema, defining)
        raise UnsupportedSchemaError(f"type {kind!r}")

    def _record(self, schema: Mapping[str, Any], defining: tuple[str, ...]) -> Record:
        name = str(schema["name"])
        inner = (*defining, name)
        fields = tuple(
            Field(
                name=str(field["name"]),
                node=self.build(field["type"], inner),
                has_default="default" in field,
                default=field.get("default"),
            )
            for field in schema["fields"]
        )
        if len({field.name for field in fields}) != len(fields):
            raise UnsupportedSchemaError(f"record {name} repeats a field name")
        return Record(name, fields)

    def _union(self, schema: list[Any], defining: tuple[str, ...]) -> Union:
        branches = tuple(self.build(branch, defining) for branch in schema)
        if not branches or len(branches) > _MAX_UNION_BRANCHES:
            raise UnsupportedSchemaError(f"union of {len(branches)} branches")
        if any(isinstance(branch, Union) for branch in branches):
            raise UnsupportedSchemaError("union inside a union")
        kinds = [kind_of(branch) for branch in branches]
        if len(branches) == 2 and "null" in kinds:
            other = branches[kinds.index("null") ^ 1]
            if kinds[0] != "null" and _has_logical(other):
                # fastavro would run the converter on None before trying the null branch.
                raise UnsupportedSchemaError("logical type before null in a union")
            return Union(branches)
        if any(kind not in _SIMPLE | {"null"} for kind in kinds):
            raise UnsupportedSchemaError(f"union of {', '.join(kinds)}")
        if any(_has_logical(branch) for branch in branches):
            raise UnsupportedSchemaError("logical type in a union of more than two branches")
        if "float" in kinds and "double" in kinds[kinds.index("float") :]:
            raise UnsupportedSchemaError("float before double in a union")
        return Union(branches)


def _logical(schema: Mapping[str, Any]) -> Logical | None:
    logical = schema.get("logicalType")
    if logical is None:
        return None
    key = f"{schema['type']}-{logical}"
    prepare, read = LOGICAL_WRITERS.get(key), LOGICAL_READERS.get(key)
    if prepare is None and read is None:
        return None  # fastavro ignores logical types it does not know: so do we
    if prepare is None or read is None:
        raise UnsupportedSchemaError(f"logical type {key} converted one way only")
    return Logical(key, schema, prepare, read)


def _has_logical(node: Node) -> bool:
    return isinstance(node, Primitive | Fixed) and node.logical is not None


def _can_be_empty(node: Node) -> bool:
    if isinstance(node, Primitive):
        return node.kind == "null"
    if isinstance(node, Fixed):
        return node.size == 0
    if isinstance(node, Record):
        return all(_can_be_empty(field.node) for field in node.fields)
    return False  # unions write an index, enums an ordinal, arrays and maps a count
