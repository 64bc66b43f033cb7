"""Envelope and payload codec: Avro single-object bytes for Kafka, natural JSON for sockets.

One :class:`Codec` per process, built from the registry at start; every method is safe to
call from any task since nothing in it changes after construction.
"""

from __future__ import annotations

from typing import Any

from nexus_mesh.codec.binary import BinaryCodec
from nexus_mesh.codec.payload_json import PayloadJson
from nexus_mesh.registry.model import Registry

__all__ = ["Codec"]


class Codec(BinaryCodec):
    """``encode``/``decode`` (CodecError on bad bytes) plus the socket's JSON conversions."""

    __slots__ = ("_json", "registry")

    def __init__(self, registry: Registry) -> None:
        super().__init__(registry)
        self.registry = registry
        self._json = PayloadJson(registry)

    def payload_from_json(self, type: str, value: object) -> dict[str, Any]:
        """Client JSON to Avro-native values of ``type``'s newest schema.

        Raises PayloadInvalidError (``payload.query: expected string, got integer``) or
        UnknownTypeError.
        """
        return self._json.from_json(type, value)

    def payload_to_json(self, type: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Avro-native values to natural JSON (may share structure with ``payload``)."""
        return self._json.to_json(type, payload)
