"""The shape of ``schemas/manifest.json`` and a JSON reader that refuses duplicate keys.

Duplicate keys matter here: ``json.loads`` silently keeps the last of two entries for the same
event type, which would hide exactly the "duplicate entry" mistake the registry must reject.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nexus_mesh import strict_json

# Importable from here as it always was.
from nexus_mesh.strict_json import DuplicateKeyError as DuplicateKeyError

MANIFEST_NAME = "manifest.json"


def read_json(path: Path) -> Any:
    """Parse a JSON file; raise ValueError (or OSError) with a reason fit for a user."""
    text = path.read_text(encoding="utf-8")
    try:
        return strict_json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None


class _Strict(BaseModel):
    # Unknown keys are typos (e.g. "timout_ms") that would otherwise be ignored silently.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


Versions = Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=1)]


class EnvelopeEntry(_Strict):
    versions: Versions


class EventEntry(_Strict):
    topic: str | None
    senders: Annotated[list[Literal["client", "service", "gateway"]], Field(min_length=1)]
    versions: Versions
    doc: str = ""


class FlowEntry(_Strict):
    request: str
    replies: Annotated[list[str], Field(min_length=1)]
    timeout_ms: Annotated[int, Field(ge=1, le=3_600_000)]
    timeout: str
    failure: str | None = None
    """The reply the service SDK sends when the request's handler fails."""
    doc: str = ""


class Manifest(_Strict):
    format: Literal[1]
    envelope: EnvelopeEntry
    events: dict[str, EventEntry]
    flows: dict[str, FlowEntry] = Field(default_factory=dict)


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif "." in part:
            text += f"[{json.dumps(part)}]"
        else:
            text += f".{part}" if text else part
    return text


def describe_validation(error: ValidationError) -> list[str]:
    """One ``location: reason`` line per pydantic error, in the manifest's own terms."""
    lines = []
    for item in error.errors():
        if item["type"] == "extra_forbidden":
            reason = "unknown key"
        elif item["type"] == "missing":
            reason = "required key missing"
        else:
            reason = item["msg"]
        where = _location(tuple(item["loc"]))
        lines.append(f"{where}: {reason}" if where else reason)
    return lines


def parse_manifest(data: Any) -> Manifest:
    """Validate the manifest's shape; raises pydantic's ValidationError."""
    return Manifest.model_validate(data)
