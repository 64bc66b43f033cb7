"""Writable copies of the real registry, to break or extend one thing at a time."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

REAL_SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"


class RegistryDir:
    def __init__(self, root: Path) -> None:
        self.root = root

    def manifest(self) -> dict[str, Any]:
        return json.loads((self.root / "manifest.json").read_text())

    def edit_manifest(self, change: Callable[[dict[str, Any]], None]) -> None:
        data = self.manifest()
        change(data)
        (self.root / "manifest.json").write_text(json.dumps(data, indent=2))

    def write(self, relative: str, content: Any) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        text = content if isinstance(content, str) else json.dumps(content, indent=2)
        path.write_text(text)
        return path

    def read(self, relative: str) -> Any:
        return json.loads((self.root / relative).read_text())

    def add_event(
        self,
        name: str,
        schemas: dict[int, Any],
        *,
        topic: str | None = "clients",
        senders: tuple[str, ...] = ("service",),
    ) -> None:
        for version, schema in schemas.items():
            self.write(f"events/{name}/v{version}.avsc", schema)
        entry = {"topic": topic, "senders": list(senders), "versions": sorted(schemas)}
        self.edit_manifest(lambda m: m["events"].__setitem__(name, entry))

    def copy(self, target: Path) -> RegistryDir:
        shutil.copytree(self.root, target)
        return RegistryDir(target)


def record(name: str, *fields: dict[str, Any], namespace: str = "test") -> dict[str, Any]:
    return {"type": "record", "name": name, "namespace": namespace, "fields": list(fields)}
