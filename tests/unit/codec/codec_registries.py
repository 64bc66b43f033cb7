"""Registries for codec tests: the real one, plus copies with more types or versions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from nexus_mesh.envelope import Metadata

REAL_SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"


def copy_real(target: Path) -> Path:
    shutil.copytree(REAL_SCHEMAS, target)
    return target


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))


def add_event(root: Path, name: str, schemas: dict[int, Any], topic: str = "clients") -> None:
    for version, schema in schemas.items():
        write_json(root / f"events/{name}/v{version}.avsc", schema)
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["events"][name] = {"topic": topic, "senders": ["service"], "versions": sorted(schemas)}
    write_json(root / "manifest.json", manifest)


def add_envelope_v2(root: Path, metadata_field: dict[str, Any]) -> None:
    """Envelope v2: metadata v2 is v1 plus ``metadata_field``, and envelope v2 carries it."""
    meta = json.loads((root / "nexus/metadata.v1.avsc").read_text())
    meta["fields"].append(metadata_field)
    write_json(root / "nexus/metadata.v2.avsc", meta)
    write_json(
        root / "nexus/envelope.v2.avsc", json.loads((root / "nexus/envelope.v1.avsc").read_text())
    )
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["envelope"]["versions"] = [1, 2]
    write_json(root / "manifest.json", manifest)


def metadata(**overrides: Any) -> Metadata:
    values: dict[str, Any] = {
        "event_id": "0190f7a2-1b2c-7d3e-8f40-123456789abc",
        "campaign_id": "camp-42",
        "source": "gateway/7f9c",
        "time": 1_718_000_000_123,
        "correlation_id": "0190f7a2-1b2c-7d3e-8f40-123456789abd",
        "user_id": "user-1",
        "connection_id": "conn-abc",
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "attributes": {"client": "web"},
    }
    values.update(overrides)
    return Metadata(**values)


# The fields both big test schemas (KITCHEN_SINK here, COMPILABLE in native_strategies)
# start with: each primitive type, a fixed ("Digest") and an enum ("Color") that later fields
# refer to by name, and an array.
SIMPLE_FIELDS: list[dict[str, Any]] = [
    {"name": "flag", "type": "boolean"},
    {"name": "small", "type": "int"},
    {"name": "big", "type": "long"},
    {"name": "single", "type": "float"},
    {"name": "real", "type": "double"},
    {"name": "raw", "type": "bytes"},
    {"name": "nothing", "type": "null"},
    {"name": "digest", "type": {"type": "fixed", "name": "Digest", "size": 4}},
    {"name": "color", "type": {"type": "enum", "name": "Color", "symbols": ["red", "blue"]}},
    {"name": "tags", "type": {"type": "array", "items": "string"}},
]

# Logical-type fields (the last inside an optional union), in both schemas alike.
LOGICAL_FIELDS: list[dict[str, Any]] = [
    {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "at_us", "type": {"type": "long", "logicalType": "timestamp-micros"}},
    {"name": "local", "type": {"type": "long", "logicalType": "local-timestamp-millis"}},
    {"name": "day", "type": {"type": "int", "logicalType": "date"}},
    {"name": "clock", "type": {"type": "int", "logicalType": "time-millis"}},
    {"name": "clock_us", "type": {"type": "long", "logicalType": "time-micros"}},
    {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
    {
        "name": "price",
        "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2},
    },
    {
        "name": "maybe_at",
        "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}],
        "default": None,
    },
]

# Every Avro type and every logical type the JSON conversion knows, in one payload.
KITCHEN_SINK: dict[str, Any] = {
    "type": "record",
    "name": "Everything",
    "namespace": "test.sink",
    "fields": [
        *SIMPLE_FIELDS,
        {"name": "blobs", "type": {"type": "map", "values": ["null", "bytes"]}},
        {
            "name": "shape",
            "type": [
                "null",
                {
                    "type": "record",
                    "name": "Circle",
                    "fields": [{"name": "radius", "type": "double"}],
                },
                {
                    "type": "record",
                    "name": "Square",
                    "fields": [
                        {"name": "side", "type": "int"},
                        {"name": "label", "type": "string"},
                        {"name": "stamp", "type": "bytes"},
                    ],
                },
            ],
        },
        {"name": "other_digest", "type": ["null", "Digest"], "default": None},
        *LOGICAL_FIELDS,
        {"name": "note", "type": "string", "default": "none"},
        {"name": "raw_default", "type": "bytes", "default": "\u00ff\u0001"},
    ],
}


def kitchen_sink_registry(target: Path) -> Path:
    root = copy_real(target)
    add_event(root, "test.everything", {1: KITCHEN_SINK})
    return root


def sink_example() -> dict[str, Any]:
    """A valid test.everything payload in canonical JSON form."""
    return {
        "flag": True,
        "small": 1,
        "big": 2**40,
        "single": 1.5,
        "real": 0.1,
        "raw": "AAE=",
        "nothing": None,
        "digest": "3q2+7w==",
        "color": "blue",
        "tags": ["a"],
        "blobs": {"k": "AA==", "n": None},
        "shape": {"side": 2, "label": "sq", "stamp": "/w=="},
        "other_digest": None,
        "at": "2024-05-01T12:00:00.123Z",
        "at_us": "2024-05-01T12:00:00.123456Z",
        "local": "2024-05-01T12:00:00.123",
        "day": "2024-05-01",
        "clock": "12:00:00.123",
        "clock_us": "12:00:00.123456",
        "id": "6f1c2a3e-0000-4000-8000-000000000001",
        "price": "1234.50",
        "maybe_at": None,
        "note": "n",
        "raw_default": "",
    }
