"""``nexus schemas check``: passes on the real registry, fails with a list on bad evolution."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from registry_dirs import REAL_SCHEMAS, RegistryDir, record

from nexus_mesh.cli import main
from nexus_mesh.codec import Codec
from nexus_mesh.envelope import Envelope, Metadata
from nexus_mesh.registry import load_registry

CHAT_V1: dict[str, Any] = record(
    "ChatMessage",
    {"name": "text", "type": "string"},
    {"name": "reply_to", "type": ["null", "string"], "default": None},
    namespace="nexus.events.chat",
)


def check(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str]:
    status = main(["schemas", "check", *map(str, args)])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def lock(capsys: pytest.CaptureFixture[str], registry_dir: RegistryDir) -> tuple[int, str]:
    status = main(["schemas", "lock", "--dir", str(registry_dir.root)])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def with_chat_v2(registry_dir: RegistryDir, *fields: dict[str, Any]) -> None:
    registry_dir.write(
        "events/chat.message/v2.avsc", record("ChatMessage", *fields, namespace="nexus.events.chat")
    )
    registry_dir.edit_manifest(lambda m: m["events"]["chat.message"].update(versions=[1, 2]))


def test_the_real_registry_passes(capsys: pytest.CaptureFixture[str]) -> None:
    status, output = check(capsys, "--dir", REAL_SCHEMAS, "--against", REAL_SCHEMAS)
    assert status == 0
    assert "schemas OK" in output
    assert "10 event types" in output


def test_the_default_directory_comes_from_nexus_schemas_dir(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, registry_dir: RegistryDir
) -> None:
    registry_dir.write("events/chat.message/v1.avsc", "{")
    monkeypatch.setenv("NEXUS_SCHEMAS_DIR", str(registry_dir.root))
    status, output = check(capsys)
    assert status == 1
    assert "events/chat.message/v1.avsc: bad Avro: invalid JSON" in output


def test_adding_a_field_with_a_default_is_compatible(
    capsys: pytest.CaptureFixture[str], registry_dir: RegistryDir
) -> None:
    with_chat_v2(
        registry_dir,
        *CHAT_V1["fields"],
        {"name": "edited", "type": "boolean", "default": False},
    )
    assert lock(capsys, registry_dir)[0] == 0
    status, output = check(capsys, "--dir", registry_dir.root, "--against", REAL_SCHEMAS)
    assert (status, "schemas OK" in output) == (0, True)


def test_removing_a_field_that_had_a_default_is_compatible(
    capsys: pytest.CaptureFixture[str], registry_dir: RegistryDir
) -> None:
    with_chat_v2(registry_dir, {"name": "text", "type": "string"})
    assert lock(capsys, registry_dir)[0] == 0
    status, _ = check(capsys, "--dir", registry_dir.root)
    assert status == 0


def test_adding_a_field_without_a_default_fails(
    capsys: pytest.CaptureFixture[str], registry_dir: RegistryDir
) -> None:
    with_chat_v2(registry_dir, *CHAT_V1["fields"], {"name": "lang", "type": "string"})
    status, output = check(capsys, "--dir", registry_dir.root)
    assert status == 1
    assert "2 problem(s)" in output  # and v2 is not recorded in fingerprints.json
    assert "events/chat.message/v2.avsc: not backward compatible with v1" in output
    assert "reader_field_missing_default_value: lang" in output
    # Nothing check refuses is recorded as published.
    status, output = lock(capsys, registry_dir)
    assert status == 1
    assert "not backward compatible with v1" in output
    assert (
        "events/chat.message/v2.avsc" not in registry_dir.read("fingerprints.json")["fingerprints"]
    )


def test_removing_a_field_without_a_default_fails(
    capsys: pytest.CaptureFixture[str], registry_dir: RegistryDir
) -> None:
    with_chat_v2(registry_dir, {"name": "reply_to", "type": ["null", "string"], "default": None})
    status, output = check(capsys, "--dir", registry_dir.root)
    assert status == 1
    assert "events/chat.message/v2.avsc: not forward compatible with v1" in output
    assert "reader_field_missing_default_value: text" in output


def test_changing_a_field_type_fails(
    capsys: pytest.CaptureFixture[str], registry_dir: RegistryDir
) -> None:
    with_chat_v2(registry_dir, {"name": "text", "type": "int"}, CHAT_V1["fields"][1])
    status, output = check(capsys, "--dir", registry_dir.root)
    assert status == 1
    assert "not backward compatible with v1" in output
    assert "type_mismatch" in output
    assert "/fields/0/type" in output


def test_every_older_version_must_stay_readable_by_the_newest(
    capsys: pytest.CaptureFixture[str], registry_dir: RegistryDir
) -> None:
    # v1 -> v2 and v2 -> v3 are each fine; v3 cannot read v1 ("note" came back as an int).
    note = {"name": "note", "type": "string", "default": ""}
    text = {"name": "text", "type": "string"}
    versions = {
        1: record("Memo", text, note),
        2: record("Memo", text),
        3: record("Memo", text, {"name": "note", "type": "int", "default": 0}),
    }
    registry_dir.add_event("memo.saved", versions)
    status, output = check(capsys, "--dir", registry_dir.root)
    assert status == 1
    assert "events/memo.saved/v3.avsc: not backward compatible with v1" in output
    assert "with v2" not in output


def test_a_published_version_edited_in_place_fails(
    capsys: pytest.CaptureFixture[str], registry_dir: RegistryDir, tmp_path: Path
) -> None:
    published = registry_dir.copy(tmp_path / "published")
    schema = registry_dir.read("events/search.requested/v1.avsc")
    schema["fields"].append({"name": "lang", "type": ["null", "string"], "default": None})
    registry_dir.write("events/search.requested/v1.avsc", schema)

    status, output = check(capsys, "--dir", registry_dir.root, "--against", published.root)
    assert status == 1
    assert "events/search.requested/v1.avsc: published version changed in place" in output
    # Without --against, the recorded fingerprint reveals the same edit.
    status, output = check(capsys, "--dir", registry_dir.root)
    assert status == 1
    assert "1 problem(s)" in output
    assert "events/search.requested/v1.avsc: published version changed in place" in output
    assert "fingerprints.json has fe5f5e8d8559df3f" in output
    # And lock does not paper over it.
    before = (registry_dir.root / "fingerprints.json").read_text()
    status, output = lock(capsys, registry_dir)
    assert status == 1
    assert "published version changed in place" in output
    assert (registry_dir.root / "fingerprints.json").read_text() == before


def test_doc_edits_to_a_published_version_are_allowed(
    capsys: pytest.CaptureFixture[str], registry_dir: RegistryDir
) -> None:
    schema = registry_dir.read("events/search.requested/v1.avsc")
    schema["doc"] = "Reworded documentation."
    schema["fields"][0]["doc"] = "What to look for."
    registry_dir.write("events/search.requested/v1.avsc", schema)
    status, _ = check(capsys, "--dir", registry_dir.root, "--against", REAL_SCHEMAS)
    assert status == 0


def test_a_removed_published_version_fails(
    capsys: pytest.CaptureFixture[str], registry_dir: RegistryDir
) -> None:
    (registry_dir.root / "events/system.notice/v1.avsc").unlink()
    (registry_dir.root / "events/system.notice").rmdir()
    registry_dir.edit_manifest(lambda m: m["events"].pop("system.notice"))
    status, output = check(capsys, "--dir", registry_dir.root, "--against", REAL_SCHEMAS)
    assert status == 1
    assert "events/system.notice/v1.avsc: published version removed" in output


def test_an_invalid_registry_is_listed_not_raised(
    capsys: pytest.CaptureFixture[str], registry_dir: RegistryDir, tmp_path: Path
) -> None:
    registry_dir.write("events/chat.message/v1.avsc", "{")
    registry_dir.edit_manifest(lambda m: m["flows"]["search"].update(replies=["x.y"]))
    status, output = check(capsys, "--dir", registry_dir.root, "--against", tmp_path)
    assert status == 1
    assert "events/chat.message/v1.avsc: bad Avro: invalid JSON" in output
    assert "unknown type 'x.y' as reply" in output


def test_a_new_version_is_refused_until_locked_then_recorded_once(
    capsys: pytest.CaptureFixture[str], registry_dir: RegistryDir
) -> None:
    with_chat_v2(
        registry_dir, *CHAT_V1["fields"], {"name": "lang", "type": "string", "default": "en"}
    )
    status, output = check(capsys, "--dir", registry_dir.root)
    assert status == 1
    assert "events/chat.message/v2.avsc: not in fingerprints.json" in output
    assert "nexus schemas lock" in output

    status, output = lock(capsys, registry_dir)
    assert status == 0
    assert "recorded events/chat.message/v2.avsc" in output
    recorded = registry_dir.read("fingerprints.json")["fingerprints"]
    v2 = load_registry(registry_dir.root).versions("chat.message")[1]
    assert recorded["events/chat.message/v2.avsc"] == v2.fingerprint.hex()
    assert recorded["events/chat.message/v1.avsc"] == "13e3a1be2fcc6ac5"  # untouched
    assert check(capsys, "--dir", registry_dir.root)[0] == 0
    assert "no new version(s) recorded" in lock(capsys, registry_dir)[1]


def test_the_recorded_fingerprints_are_those_records_carry() -> None:
    """Each entry is the 8 bytes after C3 01 in a record written with that version."""
    registry = load_registry(REAL_SCHEMAS)
    codec = Codec(registry)
    recorded = json.loads((REAL_SCHEMAS / "fingerprints.json").read_text())["fingerprints"]
    envelope = Envelope(
        type="chat.message",
        payload=codec.payload_from_json("chat.message", {"text": "x"}),
        metadata=Metadata(event_id="e", campaign_id="c", source="s", time=1),
    )
    encoded = codec.encode(envelope)
    assert encoded[2:10].hex() == recorded["nexus/envelope.v1.avsc"]
    payload_at = encoded.index(bytes.fromhex("c301"), 10)
    assert (
        encoded[payload_at + 2 : payload_at + 10].hex() == recorded["events/chat.message/v1.avsc"]
    )


def test_a_registry_without_fingerprints_is_told_how_to_start(
    capsys: pytest.CaptureFixture[str], registry_dir: RegistryDir
) -> None:
    (registry_dir.root / "fingerprints.json").unlink()
    status, output = check(capsys, "--dir", registry_dir.root)
    assert (status, "fingerprints.json: missing" in output) == (1, True)
    assert lock(capsys, registry_dir)[0] == 0
    assert check(capsys, "--dir", registry_dir.root)[0] == 0
