"""Envelope <-> Kafka record value: single-object envelope, single-object payload inside.

Everything that depends only on the registry (parsed schemas, frame headers, which writer
fingerprint resolves to which reader) is computed once in the constructor; encode and decode
are dictionary look-ups plus two fastavro calls each.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

from fastavro import schemaless_reader, schemaless_writer

from nexus_mesh.codec.framing import HEADER_SIZE, fingerprint_of, header
from nexus_mesh.envelope import Envelope, Metadata
from nexus_mesh.errors import CodecError, PayloadInvalidError, UnknownSchemaError, UnknownTypeError
from nexus_mesh.registry.model import Registry, SchemaVersion

# (what the bytes are, fastavro writer schema, fastavro reader schema or None when the
# writer is the newest version and no resolution is needed)
_ReadPlan = tuple[SchemaVersion, Any, Any]


def _read_plans(versions: tuple[SchemaVersion, ...]) -> dict[bytes, _ReadPlan]:
    newest = versions[-1]
    return {v.fingerprint: (v, v.parsed, None if v is newest else newest.parsed) for v in versions}


def _read(data: Any, plan: _ReadPlan, what: str) -> Any:
    buffer = BytesIO(data)
    buffer.seek(HEADER_SIZE)
    version, writer, reader = plan
    try:
        value = schemaless_reader(buffer, writer, reader)
    # Untrusted bytes make fastavro raise whatever its reader hits (EOFError, ValueError,
    # UnicodeDecodeError, IndexError, ...); none of it is a bug of ours, all of it is "corrupt".
    except Exception as exc:
        raise CodecError(
            f"malformed {what} ({version.label}): {type(exc).__name__}: {exc}"
        ) from exc
    if buffer.tell() != len(data):
        raise CodecError(
            f"malformed {what} ({version.label}): {len(data) - buffer.tell()} bytes after the end"
        )
    return value


class BinaryCodec:
    """Avro encode/decode of envelopes against one registry."""

    __slots__ = (
        "_envelope_header",
        "_envelope_plans",
        "_envelope_schema",
        "_payload_plans",
        "_payload_writers",
    )

    def __init__(self, registry: Registry) -> None:
        envelope = registry.envelope_versions
        self._envelope_header = header(envelope[-1].fingerprint)
        self._envelope_schema = envelope[-1].parsed
        self._envelope_plans = _read_plans(envelope)
        self._payload_writers: dict[str, tuple[bytes, Any]] = {}
        self._payload_plans: dict[bytes, _ReadPlan] = {}
        for event in registry.types():
            versions = registry.versions(event.name)
            self._payload_writers[event.name] = (
                header(versions[-1].fingerprint),
                versions[-1].parsed,
            )
            self._payload_plans.update(_read_plans(versions))

    def encode(self, envelope: Envelope) -> bytes:
        """The record value: newest envelope schema around the type's newest payload schema."""
        try:
            payload_header, payload_schema = self._payload_writers[envelope.type]
        except KeyError:
            raise UnknownTypeError(f"unknown event type {envelope.type!r}") from None
        buffer = BytesIO()
        buffer.write(payload_header)
        try:
            # A field the schema lacks is a mistake to report, not data to drop (fastavro's
            # strict_allow_default; its "strict" would also refuse fields left to defaults).
            schemaless_writer(buffer, payload_schema, envelope.payload, strict_allow_default=True)
        except Exception as exc:  # fastavro reports a mismatch as one of several types
            raise PayloadInvalidError(
                f"{envelope.type} payload does not match its schema: {type(exc).__name__}: {exc}"
            ) from exc
        meta = envelope.metadata
        record = {
            "type": envelope.type,
            "payload": buffer.getvalue(),
            "metadata": {
                "event_id": meta.event_id,
                "campaign_id": meta.campaign_id,
                "source": meta.source,
                "time": meta.time,
                "correlation_id": meta.correlation_id,
                "user_id": meta.user_id,
                "connection_id": meta.connection_id,
                "traceparent": meta.traceparent,
                "tracestate": meta.tracestate,
                "attributes": meta.attributes,
            },
        }
        buffer = BytesIO()
        buffer.write(self._envelope_header)
        try:
            schemaless_writer(buffer, self._envelope_schema, record)
        except Exception as exc:
            raise CodecError(
                f"cannot encode {envelope.type} envelope metadata: {type(exc).__name__}: {exc}"
            ) from exc
        return buffer.getvalue()

    def decode(self, data: bytes) -> Envelope:
        """The envelope in a record value; CodecError for anything that is not one."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise CodecError(f"expected bytes, got {type(data).__name__}")
        fingerprint = fingerprint_of(data, "envelope")
        plan = self._envelope_plans.get(fingerprint)
        if plan is None:
            raise UnknownSchemaError(
                f"envelope written with unknown schema fingerprint {fingerprint.hex()}"
            )
        record = _read(data, plan, "envelope")
        type_name = record["type"]
        payload = record["payload"]
        fingerprint = fingerprint_of(payload, f"{type_name} payload")
        plan = self._payload_plans.get(fingerprint)
        if plan is None:
            raise UnknownSchemaError(
                f"{type_name} payload written with unknown schema fingerprint {fingerprint.hex()}"
            )
        if plan[0].subject != type_name:
            raise CodecError(f"envelope says {type_name!r} but its payload is {plan[0].label}")
        meta = record["metadata"]
        return Envelope(
            type=type_name,
            payload=_read(payload, plan, f"{type_name} payload"),
            metadata=Metadata(
                event_id=meta["event_id"],
                campaign_id=meta["campaign_id"],
                source=meta["source"],
                time=meta["time"],
                correlation_id=meta["correlation_id"],
                user_id=meta["user_id"],
                connection_id=meta["connection_id"],
                traceparent=meta["traceparent"],
                tracestate=meta["tracestate"],
                attributes=meta["attributes"],
            ),
        )
