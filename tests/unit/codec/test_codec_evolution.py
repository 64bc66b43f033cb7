"""Records written with an older schema version decode with the newest one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from codec_registries import add_envelope_v2, copy_real, metadata, write_json

from nexus_mesh.codec import Codec
from nexus_mesh.envelope import Envelope
from nexus_mesh.errors import UnknownSchemaError
from nexus_mesh.registry import load_registry


def _add_version(root: Path, type_name: str, version: int, field: dict[str, object]) -> None:
    schema = json.loads((root / f"events/{type_name}/v{version - 1}.avsc").read_text())
    schema["fields"].append(field)
    write_json(root / f"events/{type_name}/v{version}.avsc", schema)
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["events"][type_name]["versions"].append(version)
    write_json(root / "manifest.json", manifest)


@pytest.fixture
def old_and_new(tmp_path: Path) -> tuple[Codec, Codec]:
    old = copy_real(tmp_path / "v1")
    new = copy_real(tmp_path / "v2")
    _add_version(new, "chat.message", 2, {"name": "edited", "type": "boolean", "default": False})
    # The envelope evolves too: metadata v2 gains a field, envelope v2 carries it.
    add_envelope_v2(new, {"name": "region", "type": ["null", "string"], "default": None})
    return Codec(load_registry(old)), Codec(load_registry(new))


def test_v1_records_decode_with_v2_and_get_the_new_field_default(
    old_and_new: tuple[Codec, Codec],
) -> None:
    old, new = old_and_new
    envelope = Envelope(
        type="chat.message", payload={"text": "hello", "reply_to": None}, metadata=metadata()
    )
    written_by_v1 = old.encode(envelope)

    decoded = new.decode(written_by_v1)

    assert decoded.payload == {"text": "hello", "reply_to": None, "edited": False}
    assert decoded.metadata == envelope.metadata
    assert new.payload_to_json("chat.message", decoded.payload)["edited"] is False


def test_new_records_are_written_with_the_newest_versions(old_and_new: tuple[Codec, Codec]) -> None:
    old, new = old_and_new
    registry = new.registry
    envelope = Envelope(
        type="chat.message",
        payload={"text": "hello", "reply_to": None, "edited": True},
        metadata=metadata(),
    )
    value = new.encode(envelope)
    assert value[2:10] == registry.envelope_versions[-1].fingerprint
    assert new.decode(value) == envelope
    # A process still on v1 cannot know v2's fingerprint: a clear, typed refusal.
    with pytest.raises(UnknownSchemaError, match="unknown schema fingerprint"):
        old.decode(value)


def test_types_without_a_new_version_are_unaffected(old_and_new: tuple[Codec, Codec]) -> None:
    old, new = old_and_new
    envelope = Envelope(
        type="search.requested", payload={"query": "q", "limit": 3}, metadata=metadata()
    )
    assert new.decode(old.encode(envelope)) == envelope
