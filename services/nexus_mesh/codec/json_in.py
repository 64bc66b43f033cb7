"""Client JSON -> Avro-native payload, validated against a schema with a precise message.

A schema is compiled once into nested converter functions, so the gateway validates each
client event with plain function calls and no schema walking. Messages name the path from
the payload root: ``payload.hits[2].score: expected number, got string``.

The JSON form is "natural": a union value is given bare (``"limit": 10``, not
``{"int": 10}``), bytes and fixed are base64, an enum is its symbol, and logical types use
the forms documented in :mod:`nexus_mesh.codec.logical`. Unknown fields are refused rather
than dropped, so a misspelt field is reported instead of silently losing data. Python code
(a service's reply) may also give bytes and logical values in their Avro-native form
(``bytes``, ``datetime``, ``UUID``, ...), as a decoded payload holds them.
"""

from __future__ import annotations

import base64
import binascii
import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from nexus_mesh.codec.json_kinds import InvalidValueError, expected, json_kind, key_segment
from nexus_mesh.codec.logical import logical_form
from nexus_mesh.codec.wire import INT_MAX, INT_MIN, LONG_MAX, LONG_MIN

Convert = Callable[[Any], Any]
_INT_RANGE = (INT_MIN, INT_MAX)
_LONG_RANGE = (LONG_MIN, LONG_MAX)
_FLOAT_MAX = 3.4028234663852886e38


@dataclass(frozen=True, slots=True)
class InNode:
    convert: Convert
    """Natural JSON -> Avro-native; raises InvalidValueError."""
    default: Convert
    """A schema default (Avro's JSON encoding of it) -> Avro-native."""
    expected: str
    json_types: frozenset[type]
    """The value types this schema can take (JSON's, and for bytes and logical types the
    Avro-native one Python code may hand over); unions pick candidate branches by them."""


def compile_in(parsed: Any) -> InNode:
    """The converter for a fastavro-parsed schema (named types fully qualified)."""
    return _Compiler(parsed.get("__named_schemas", {}) if isinstance(parsed, dict) else {}).node(
        parsed
    )


def _integer(bounds: tuple[int, int], name: str) -> InNode:
    low, high = bounds

    def convert(value: Any) -> int:
        if type(value) is not int:
            raise expected("integer", value)
        if not low <= value <= high:
            raise InvalidValueError(f"{value} is out of range for {name}")
        return value

    return InNode(convert, convert, "integer", frozenset({int}))


def _floating(single: bool) -> InNode:
    def convert(value: Any) -> float:
        kind = type(value)
        if kind is not float and kind is not int:
            raise expected("number", value)
        try:
            number = float(value)
        except OverflowError:
            number = float("inf")
        if (single and abs(number) > _FLOAT_MAX) or number in (float("inf"), float("-inf")):
            raise InvalidValueError(
                f"{value} is out of range for {'float' if single else 'double'}"
            )
        return number

    return InNode(convert, convert, "number", frozenset({int, float}))


def _simple(kind: type, name: str) -> InNode:
    def convert(value: Any) -> Any:
        if type(value) is not kind:
            raise expected(name, value)
        return value

    return InNode(convert, convert, name, frozenset({kind}))


def _binary(size: int | None) -> InNode:
    what = "base64 string" if size is None else f"base64 string of {size} bytes"

    def convert(value: Any) -> bytes:
        if type(value) is bytes:
            data = value  # from Python code, as a decoded payload holds it
        elif type(value) is not str:
            raise expected(what, value)
        else:
            try:
                data = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise InvalidValueError(
                    f"expected {what}, got a string that is not base64"
                ) from None
        if size is not None and len(data) != size:
            raise InvalidValueError(f"expected {what}, got {len(data)} bytes")
        return data

    def default(value: Any) -> bytes:
        # Avro writes bytes defaults as strings of code points 0-255.
        return str(value).encode("latin-1")

    return InNode(convert, default, what, frozenset({str, bytes}))


def _null(value: Any) -> None:
    if value is not None:
        raise expected("null", value)


_PRIMITIVES = {
    "null": InNode(_null, _null, "null", frozenset({type(None)})),
    "boolean": _simple(bool, "boolean"),
    "int": _integer(_INT_RANGE, "int (32-bit)"),
    "long": _integer(_LONG_RANGE, "long (64-bit)"),
    "float": _floating(single=True),
    "double": _floating(single=False),
    "string": _simple(str, "string"),
    "bytes": _binary(None),
}


class _Compiler:
    def __init__(self, named: Mapping[str, Any]) -> None:
        self._named = named
        self._done: dict[str, InNode] = {}

    def node(self, schema: Any) -> InNode:
        if isinstance(schema, list):
            return self._union([self.node(branch) for branch in schema])
        if isinstance(schema, str):
            return self._named_or_primitive(schema)
        kind = schema["type"]
        if not isinstance(kind, str):
            return self.node(kind)
        logical = logical_form(schema) if "logicalType" in schema else None
        if logical is not None:
            return InNode(logical.from_json, logical.from_raw, logical.expected, logical.json_types)
        if kind == "record":
            return self._cached(schema, self._record)
        if kind == "enum":
            return self._cached(schema, self._enum)
        if kind == "fixed":
            return self._cached(schema, lambda s: _binary(int(s["size"])))
        if kind == "array":
            return self._array(self.node(schema["items"]))
        if kind == "map":
            return self._map(self.node(schema["values"]))
        return self._named_or_primitive(kind)

    def _cached(self, schema: Mapping[str, Any], build: Callable[[Any], InNode]) -> InNode:
        name = schema["name"]
        if name not in self._done:
            self._done[name] = build(schema)
        return self._done[name]

    def _named_or_primitive(self, name: str) -> InNode:
        primitive = _PRIMITIVES.get(name)
        return primitive if primitive is not None else self.node(self._named[name])

    def _enum(self, schema: Mapping[str, Any]) -> InNode:
        symbols = tuple(schema["symbols"])
        allowed = frozenset(symbols)
        what = "one of " + ", ".join(symbols)

        def convert(value: Any) -> str:
            if type(value) is not str:
                raise expected(what, value)
            if value not in allowed:
                raise InvalidValueError(f"expected {what}, got {value!r}")
            return value

        return InNode(convert, convert, what, frozenset({str}))

    def _array(self, items: InNode) -> InNode:
        def run(item: Convert, value: Any) -> list[Any]:
            if type(value) is not list:
                raise expected("array", value)
            result = []
            for index, element in enumerate(value):
                try:
                    result.append(item(element))
                except InvalidValueError as exc:
                    raise exc.at(f"[{index}]") from None
            return result

        return InNode(
            lambda v: run(items.convert, v),
            lambda v: run(items.default, v),
            "array",
            frozenset({list}),
        )

    def _map(self, values: InNode) -> InNode:
        def run(item: Convert, value: Any) -> dict[str, Any]:
            if type(value) is not dict:
                raise expected("object", value)
            result = {}
            for key, element in value.items():
                if type(key) is not str:  # only a Python caller can get here; JSON keys are text
                    raise InvalidValueError(f"expected string keys, got {json_kind(key)}")
                try:
                    result[key] = item(element)
                except InvalidValueError as exc:
                    raise exc.at(key_segment(key)) from None
            return result

        return InNode(
            lambda v: run(values.convert, v),
            lambda v: run(values.default, v),
            "object",
            frozenset({dict}),
        )

    def _record(self, schema: Mapping[str, Any]) -> InNode:
        fields = []
        for item in schema["fields"]:
            node = self.node(item["type"])
            fill: Callable[[], Any] | None = None
            if "default" in item:
                fill = _filler(node.default(item["default"]))
            fields.append((item["name"], node, fill))
        names = frozenset(name for name, _, _ in fields)
        allowed = ", ".join(name for name, _, _ in fields)

        def run(defaults: bool, value: Any) -> dict[str, Any]:
            if type(value) is not dict:
                raise expected("object", value)
            result = {}
            present = 0
            for name, node, fill in fields:
                if name in value:
                    present += 1
                    try:
                        result[name] = (node.default if defaults else node.convert)(value[name])
                    except InvalidValueError as exc:
                        raise exc.at(key_segment(name)) from None
                elif fill is not None:
                    result[name] = fill()
                else:
                    raise InvalidValueError("required field missing").at(key_segment(name))
            if present != len(value):
                extra = min(key for key in value if key not in names)
                raise InvalidValueError(f"unknown field (allowed: {allowed})").at(
                    key_segment(extra)
                )
            return result

        return InNode(
            lambda v: run(False, v),
            lambda v: run(True, v),
            "object",
            frozenset({dict}),
        )

    def _union(self, branches: list[InNode]) -> InNode:
        what = " or ".join(dict.fromkeys(b.expected for b in branches))
        by_type: dict[type, tuple[InNode, ...]] = {}
        for kind in {k for b in branches for k in b.json_types}:
            by_type[kind] = tuple(b for b in branches if kind in b.json_types)

        def convert(value: Any) -> Any:
            candidates = by_type.get(type(value))
            if not candidates:
                raise expected(what, value)
            first: InvalidValueError | None = None
            for branch in candidates:
                try:
                    return branch.convert(value)
                except InvalidValueError as exc:
                    first = first or exc
            assert first is not None
            # The first branch that takes this kind of value is the most likely intent,
            # and its reason is more useful than a list of every branch.
            raise first

        return InNode(
            convert,
            branches[0].default,  # Avro: a union's default belongs to its first branch
            what,
            frozenset(by_type),
        )


def _filler(value: Any) -> Callable[[], Any]:
    if isinstance(value, dict | list):
        # Each payload gets its own copy: a caller may mutate what it was given.
        return lambda: copy.deepcopy(value)
    return lambda: value
