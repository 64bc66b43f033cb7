"""``schemas/fingerprints.json``: the fingerprint of every published schema version.

A record names its writer schema by fingerprint (single-object encoding, DESIGN.md section 4).
A version edited after records were written with it gets another fingerprint, and those
records stop decoding: services dead-letter them, gateways skip them. Nothing in one checkout
shows such an edit (the edited registry is valid), so the fingerprints are recorded beside the
schemas, as a lock file is beside dependencies: ``nexus schemas check`` compares every schema
file with its entry, and ``nexus schemas lock`` records new versions, never changing an entry.

The file also publishes what producers in other languages must write: each value is the
8 bytes that follow ``C3 01`` in a record written with that version, in hex.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from nexus_mesh.registry.model import Registry, SchemaVersion

LOCK_NAME = "fingerprints.json"


class _LockFile(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    format: Literal[1]
    fingerprints: dict[str, str]  # schema file -> fingerprint in hex


def _versions(registry: Registry) -> dict[str, SchemaVersion]:
    versions = {v.file: v for v in registry.envelope_versions}
    for event in registry.types():
        versions.update((v.file, v) for v in registry.versions(event.name))
    return versions


def _read(directory: Path) -> tuple[dict[str, str] | None, list[str]]:
    path = directory / LOCK_NAME
    if not path.exists():
        return None, [
            f"{LOCK_NAME}: missing; `nexus schemas lock` records the fingerprints of the "
            "versions published so far"
        ]
    try:
        return _LockFile.model_validate_json(path.read_bytes()).fingerprints, []
    except OSError as exc:
        return None, [f"{LOCK_NAME}: unreadable: {exc}"]
    except ValidationError:
        return None, [f'{LOCK_NAME}: expected {{"format": 1, "fingerprints": {{file: hex, ...}}}}']


def _changed(recorded: dict[str, str], versions: dict[str, SchemaVersion]) -> list[str]:
    problems = []
    for file, fingerprint in sorted(recorded.items()):
        version = versions.get(file)
        if version is None:
            problems.append(
                f"{file}: published version removed (records written with it stay on Kafka)"
            )
        elif version.fingerprint.hex() != fingerprint:
            problems.append(
                f"{file}: published version changed in place (fingerprint "
                f"{version.fingerprint.hex()}, {LOCK_NAME} has {fingerprint}: records "
                "written with it would no longer decode); add a new version instead"
            )
    return problems


def lock_problems(registry: Registry) -> list[str]:
    """Schema files that differ from their recorded fingerprint, were removed, or were never
    recorded."""
    recorded, problems = _read(registry.directory)
    if recorded is None:
        return problems
    versions = _versions(registry)
    return _changed(recorded, versions) + [
        f"{file}: not in {LOCK_NAME}; once it is final, `nexus schemas lock` records it"
        for file in sorted(set(versions) - set(recorded))
    ]


def lock(registry: Registry) -> tuple[list[str], list[str]]:
    """Record the versions not recorded yet: returns the files added, and the problems that
    kept anything from being written (a recorded version changed or removed)."""
    path = registry.directory / LOCK_NAME
    recorded: dict[str, str] = {}
    if path.exists():
        read, problems = _read(registry.directory)
        if read is None:
            return [], problems
        recorded = read
    versions = _versions(registry)
    changed = _changed(recorded, versions)
    if changed:
        return [], changed
    added = sorted(set(versions) - set(recorded))
    entries = {**recorded, **{file: versions[file].fingerprint.hex() for file in added}}
    lock_file = _LockFile(format=1, fingerprints=dict(sorted(entries.items())))
    path.write_text(json.dumps(lock_file.model_dump(), indent=2) + "\n")
    return added, []
