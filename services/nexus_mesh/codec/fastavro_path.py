"""The same readers and writers as :mod:`compiled`, built on fastavro.

They serve every schema the compiled path does not: records written with an older schema
version (read with schema resolution to the newest), and schemas using Avro the generators
do not compile. ``BinaryCodec(registry, compiled=False)`` uses only these, which keeps the
previous implementation measurable beside the compiled one and gives the property tests
their oracle.
"""

from __future__ import annotations

import dataclasses
from io import BytesIO
from typing import Any

from fastavro import schemaless_reader, schemaless_writer

from nexus_mesh.codec import wire
from nexus_mesh.codec.compiled import (
    EnvelopeRead,
    EnvelopeReader,
    EnvelopeWriter,
    PayloadReader,
    PayloadWriter,
)
from nexus_mesh.codec.framing import HEADER_SIZE, header
from nexus_mesh.envelope import Metadata
from nexus_mesh.registry.model import SchemaVersion

_METADATA_FIELDS = tuple(field.name for field in dataclasses.fields(Metadata))


def _resolving(writer: SchemaVersion, newest: SchemaVersion) -> Any:
    """fastavro's reader schema: None when the writer is the newest (nothing to resolve)."""
    return None if writer is newest else newest.parsed


def payload_writer(version: SchemaVersion) -> PayloadWriter:
    framing = header(version.fingerprint)
    schema = version.parsed

    def write(payload: Any) -> bytes:
        buffer = BytesIO()
        buffer.write(framing)
        # A field the schema lacks is a mistake to report, not data to drop (fastavro's
        # strict_allow_default; its "strict" would also refuse fields left to defaults).
        schemaless_writer(buffer, schema, payload, strict_allow_default=True)
        return buffer.getvalue()

    return write


def payload_reader(writer: SchemaVersion, newest: SchemaVersion) -> PayloadReader:
    schema, reader = writer.parsed, _resolving(writer, newest)

    def read(data: bytes, start: int, end: int) -> Any:
        buffer = BytesIO(data[start:end])
        value = schemaless_reader(buffer, schema, reader)
        if buffer.tell() != end - start:
            raise wire.trailing(start + buffer.tell(), end)
        return value

    return read


def envelope_writer(version: SchemaVersion) -> EnvelopeWriter:
    framing = header(version.fingerprint)
    schema = version.parsed

    def write(type_name: str, type_field: bytes, payload: bytes, meta: Metadata) -> bytes:
        record = {
            "type": type_name,
            "payload": payload,
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
        buffer.write(framing)
        schemaless_writer(buffer, schema, record)
        return buffer.getvalue()

    return write


def envelope_reader(writer: SchemaVersion, newest: SchemaVersion) -> EnvelopeReader:
    schema, reader = writer.parsed, _resolving(writer, newest)

    def read(data: bytes) -> EnvelopeRead:
        buffer = BytesIO(data)
        buffer.seek(HEADER_SIZE)
        record: Any = schemaless_reader(buffer, schema, reader)
        if buffer.tell() != len(data):
            raise wire.trailing(buffer.tell(), len(data))
        meta = record["metadata"]
        payload: bytes = record["payload"]
        metadata = Metadata(**{name: meta[name] for name in _METADATA_FIELDS})
        return record["type"], payload, 0, len(payload), metadata

    return read
