"""Per-type JSON converters for one registry, compiled from each type's newest schema."""

from __future__ import annotations

from typing import Any

from nexus_mesh.codec.json_in import InNode, compile_in
from nexus_mesh.codec.json_kinds import InvalidValueError
from nexus_mesh.codec.json_out import Convert, compile_out
from nexus_mesh.errors import PayloadInvalidError, RegistryError, UnknownTypeError
from nexus_mesh.registry.model import Registry


class PayloadJson:
    """``payload_from_json`` and ``payload_to_json`` for every type of a registry."""

    __slots__ = ("_in", "_out")

    def __init__(self, registry: Registry) -> None:
        self._in: dict[str, InNode] = {}
        self._out: dict[str, Convert | None] = {}
        for event in registry.types():
            newest = registry.latest(event.name)
            try:
                self._in[event.name] = compile_in(newest.parsed)
            except InvalidValueError as exc:  # only a schema default can fail while compiling
                raise RegistryError(f"{newest.file}: default value {exc.where('')} {exc}") from None
            self._out[event.name] = compile_out(newest.parsed)

    def from_json(self, type_name: str, value: object) -> dict[str, Any]:
        try:
            node = self._in[type_name]
        except KeyError:
            raise UnknownTypeError(f"unknown event type {type_name!r}") from None
        try:
            payload: dict[str, Any] = node.convert(value)
        except InvalidValueError as exc:
            raise PayloadInvalidError(f"{exc.where('payload')}: {exc.message}") from None
        return payload

    def to_json(self, type_name: str, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            convert = self._out[type_name]
        except KeyError:
            raise UnknownTypeError(f"unknown event type {type_name!r}") from None
        if convert is None:
            return payload
        try:
            result: dict[str, Any] = convert(payload)
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            raise PayloadInvalidError(
                f"{type_name} payload is not Avro-native for its schema: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        return result
