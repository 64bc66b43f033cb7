"""How payload validation names JSON values and the place where one is wrong."""

from __future__ import annotations

import re

import orjson

_KINDS: dict[type, str] = {
    type(None): "null",
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    tuple: "array",
    dict: "object",
}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def json_kind(value: object) -> str:
    """The JSON name of a parsed JSON value's kind ("integer", "object", ...)."""
    return _KINDS.get(type(value), type(value).__name__)


class InvalidValueError(Exception):
    """Raised inside the converters; the path is filled in on the way out, innermost last."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.path: list[str] = []

    def at(self, segment: str) -> InvalidValueError:
        self.path.append(segment)
        return self

    def where(self, root: str) -> str:
        return root + "".join(reversed(self.path))


def key_segment(key: str) -> str:
    """``.name`` for plain names, ``["odd key"]`` otherwise, so a path is never ambiguous."""
    if _IDENTIFIER.fullmatch(key):
        return f".{key}"
    return f"[{orjson.dumps(key).decode()}]"


def expected(what: str, value: object) -> InvalidValueError:
    return InvalidValueError(f"expected {what}, got {json_kind(value)}")
