"""README's "Writing a service", followed literally: the schema files and manifest entries it
shows make a registry ``nexus schemas check`` passes once locked, with the flow that answers
``greet``, and its handler, run as the README says to unit-test it, replies as it shows."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from registry_dirs import REAL_SCHEMAS, RegistryDir

from nexus_mesh.cli import main
from nexus_mesh.registry import load_registry
from nexus_mesh.service.testing import handle

SECTION = re.search(
    r"^## Writing a service\n(.*?)^## ",
    (REAL_SCHEMAS.parent / "README.md").read_text(),
    re.M | re.S,
)


def section() -> str:
    assert SECTION is not None, "README has no 'Writing a service' section"
    return SECTION.group(1)


def block(language: str) -> str:
    found = re.search(rf"```{language}\n(.*?)```", section(), re.S)
    assert found is not None, f"no {language} block in 'Writing a service'"
    return found.group(1)


def manifest_additions(shell: str) -> dict[str, dict[str, Any]]:
    """The manifest entries the block's comments show, by the manifest key they go under."""
    groups: dict[str, list[str]] = {}
    current = None
    for line in shell.splitlines():
        heading = re.match(r'# and (?:in schemas/manifest\.json, )?under "(\w+)"', line)
        if heading:
            current = groups.setdefault(heading.group(1), [])
        elif current is not None and re.match(r"#\s{3,}\S", line):
            current.append(line.lstrip("#").strip())
    return {
        key: json.loads("{" + " ".join(lines).rstrip(",") + "}") for key, lines in groups.items()
    }


async def test_the_walkthrough_makes_a_registry_and_a_service_that_answers(
    registry_dir: RegistryDir, capsys: pytest.CaptureFixture[str]
) -> None:
    shell = block("sh")
    files = re.findall(r"cat > schemas/(\S+) <<'AVSC'\n(.*?)\nAVSC", shell, re.S)
    assert len(files) == 4
    for path, text in files:
        registry_dir.write(path, json.loads(text))
    additions = manifest_additions(shell)
    assert set(additions) == {"events", "flows"}

    def add(manifest: dict[str, Any]) -> None:
        for key, entries in additions.items():
            manifest.setdefault(key, {}).update(entries)

    registry_dir.edit_manifest(add)
    root = str(registry_dir.root)
    assert main(["schemas", "check", "--dir", root]) == 1  # not locked yet, as it says
    assert main(["schemas", "lock", "--dir", root]) == 0
    assert main(["schemas", "check", "--dir", root]) == 0, capsys.readouterr()

    registry = load_registry(registry_dir.root)
    target = registry.client_target("greet")
    assert target is not None
    assert target.type == "greeter.requested" and target.flow is not None
    assert target.flow.failure_type == "greeter.failed"

    namespace: dict[str, Any] = {"__name__": "greeter"}
    exec(block("python"), namespace)  # the README's own example
    sent = await handle(
        namespace["service"], "greeter.requested", {}, user_id="alice", registry=registry
    )
    assert [(s.type, s.payload) for s in sent] == [("greeter.completed", {"text": "hello alice"})]
