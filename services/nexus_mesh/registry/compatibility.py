"""Evolution rules that ``nexus schemas check`` enforces beyond what loading checks.

- Backward, transitively: the newest version must read data written with every older one,
  because the codec resolves every old record to the newest reader. Checking each pair (not
  only neighbours) catches e.g. a field dropped in v2 and re-added with another type in v3.
- Forward, with the previous version: a reader still on the previous version (a rolled-back
  deploy, a consumer that has not upgraded) must read what the new version writes. This is
  what rejects removing a field that has no default: old readers would have nothing to fill.
- Published versions are immutable: a released file may gain or lose ``doc`` text, nothing
  else, since old records on Kafka were written with exactly what it said.

Compatibility is decided by the reference implementation's checker (the ``avro`` package),
not by rules of our own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

from nexus_mesh.registry.model import Registry, SchemaVersion
from nexus_mesh.registry.schema_files import reference_schema


def compatibility_problems(registry: Registry) -> list[str]:
    """One line per incompatible pair of versions, naming the newer file."""
    checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]
    problems = []
    for versions in _subjects(registry):
        parsed = [reference_schema(v.schema) for v in versions]
        for new in range(1, len(versions)):
            for old in range(new):
                reason = _incompatibility(checker, reader=parsed[new], writer=parsed[old])
                if reason:
                    problems.append(
                        f"{versions[new].file}: not backward compatible with "
                        f"v{versions[old].version} (v{versions[new].version} cannot read data "
                        f"written with v{versions[old].version}): {reason}"
                    )
            reason = _incompatibility(checker, reader=parsed[new - 1], writer=parsed[new])
            if reason:
                problems.append(
                    f"{versions[new].file}: not forward compatible with "
                    f"v{versions[new - 1].version} (v{versions[new - 1].version} readers cannot "
                    f"read data written with v{versions[new].version}): {reason}"
                )
    return problems


def changed_in_place(current: Registry, published: Registry) -> list[str]:
    """Published schema files that were edited (beyond ``doc``) or deleted."""
    problems = []
    for file, old in sorted(published.files.items()):
        new = current.files.get(file)
        if new is None:
            problems.append(
                f"{file}: published version removed (records written with it stay on Kafka)"
            )
        elif _without_docs(new) != _without_docs(old):
            problems.append(
                f"{file}: published version changed in place (differs from "
                f"{published.directory / file}); add a new version instead"
            )
    return problems


def _subjects(registry: Registry) -> Iterator[tuple[SchemaVersion, ...]]:
    yield registry.envelope_versions
    for event in registry.types():
        yield registry.versions(event.name)


def _incompatibility(
    checker: ReaderWriterCompatibilityChecker, *, reader: Any, writer: Any
) -> str | None:
    result = checker.get_compatibility(reader, writer)
    if result.compatibility is SchemaCompatibilityType.compatible:
        return None
    kinds = ", ".join(sorted(kind.value for kind in result.incompatibilities))
    details = "; ".join(sorted(str(message) for message in result.messages))
    where = ", ".join(sorted(loc for loc in result.locations if loc != "/")) or "/"
    return f"{kinds}: {details} (at {where})"


def _without_docs(node: Any) -> Any:
    if isinstance(node, list):
        return [_without_docs(item) for item in node]
    if isinstance(node, dict):
        # Defaults are data, not schema: a "doc" key inside one is a value to compare.
        return {
            key: value if key == "default" else _without_docs(value)
            for key, value in node.items()
            if key != "doc"
        }
    return node
