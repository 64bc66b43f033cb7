"""``nexus schemas check``: passes on the real registry, fails with a list on bad evolution."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from registry_dirs import REAL_SCHEMAS, RegistryDir, record

from nexus_mesh.cli import main

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
    status, output = check(capsys, "--dir", registry_dir.root, "--against", REAL_SCHEMAS)
    assert (status, "schemas OK" in output) == (0, True)


def test_removing_a_field_that_had_a_default_is_compatible(
    capsys: pytest.CaptureFixture[str], registry_dir: RegistryDir
) -> None:
    with_chat_v2(registry_dir, {"name": "text", "type": "string"})
    status, _ = check(capsys, "--dir", registry_dir.root)
    assert status == 0


def test_adding_a_field_without_a_default_fails(
    capsys: pytest.CaptureFixture[str], registry_dir: RegistryDir
) -> None:
    with_chat_v2(registry_dir, *CHAT_V1["fields"], {"name": "lang", "type": "string"})
    status, output = check(capsys, "--dir", registry_dir.root)
    assert status == 1
    assert "1 problem(s)" in output
    assert "events/chat.message/v2.avsc: not backward compatible with v1" in output
    assert "reader_field_missing_default_value: lang" in output


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
    # Without --against the same edit is a valid registry: only history reveals it.
    assert check(capsys, "--dir", registry_dir.root)[0] == 0


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
