"""The documents the search service answers from, and the checks they must pass to load.

A catalog is a JSON array of objects ``{id, title, body, tags?, campaigns?}``. ``campaigns``
lists the only campaigns that may see a document; absent or empty means every campaign may.
The service ships one (``catalog.json``, built by ``tools/build_catalog.py``) and refuses to
start on a bad one, with an error naming the offending entry.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from nexus_mesh import strict_json
from nexus_mesh.errors import ConfigurationError
from nexus_mesh.strict_json import DuplicateKeyError

DEFAULT_CATALOG = "catalog.json"

_REQUIRED_TEXT = ("id", "title", "body")
_OPTIONAL_LISTS = ("tags", "campaigns")
_KNOWN_KEYS = frozenset(_REQUIRED_TEXT + _OPTIONAL_LISTS)


class CatalogError(ConfigurationError):
    """The catalog cannot be read, or one of its entries is invalid."""


@dataclass(frozen=True, slots=True)
class Document:
    """One searchable entry; ``campaigns`` empty means visible to every campaign."""

    id: str
    title: str
    body: str
    tags: tuple[str, ...] = ()
    campaigns: frozenset[str] = frozenset()

    def visible_to(self, campaign_id: str) -> bool:
        return not self.campaigns or campaign_id in self.campaigns


def parse_catalog(data: object, *, source: str = "catalog") -> tuple[Document, ...]:
    """Validate decoded JSON and turn it into documents, in catalog order."""
    if not isinstance(data, list):
        raise CatalogError(f"{source}: expected a JSON array of documents")
    if not data:
        raise CatalogError(f"{source}: the catalog is empty")
    documents: list[Document] = []
    first_seen: dict[str, int] = {}
    for index, raw in enumerate(data):
        document = _parse_entry(raw, f"{source}[{index}]")
        if document.id in first_seen:
            raise CatalogError(
                f"{source}[{index}] (id {document.id!r}): duplicate id, "
                f"already used by {source}[{first_seen[document.id]}]"
            )
        first_seen[document.id] = index
        documents.append(document)
    return tuple(documents)


def parse_catalog_text(text: str, *, source: str = "catalog") -> tuple[Document, ...]:
    try:
        # A repeated key would hide mistakes such as a second "campaigns" overriding the first.
        data = strict_json.loads(text)
    except json.JSONDecodeError as exc:
        raise CatalogError(f"{source}: not valid JSON ({exc})") from exc
    except DuplicateKeyError as exc:
        raise CatalogError(f"{source}: an entry repeats the key {exc.key!r}") from None
    return parse_catalog(data, source=source)


def load_catalog(path: str | Path) -> tuple[Document, ...]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(f"cannot read catalog {path}: {exc}") from exc
    return parse_catalog_text(text, source=path.name)


def load_default_catalog() -> tuple[Document, ...]:
    """The catalog shipped inside the package, from a checkout or an installed wheel."""
    resource = resources.files(__package__ or "nexus_search").joinpath(DEFAULT_CATALOG)
    try:
        text = resource.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(f"cannot read the shipped catalog {DEFAULT_CATALOG}: {exc}") from exc
    return parse_catalog_text(text, source=DEFAULT_CATALOG)


def _parse_entry(raw: object, where: str) -> Document:
    if not isinstance(raw, Mapping):
        raise CatalogError(f"{where}: expected an object, got {type(raw).__name__}")
    entry_id = raw.get("id")
    if isinstance(entry_id, str) and entry_id.strip():
        where = f"{where} (id {entry_id!r})"
    # Unknown keys are refused rather than ignored: a misspelt "campaign" would otherwise
    # publish a campaign-only document to everyone.
    unknown = sorted(str(key) for key in raw if key not in _KNOWN_KEYS)
    if unknown:
        raise CatalogError(f"{where}: unknown field(s) {', '.join(map(repr, unknown))}")
    text = {name: _required_text(raw, name, where) for name in _REQUIRED_TEXT}
    if text["id"] != text["id"].strip():
        raise CatalogError(f"{where}: 'id' has leading or trailing whitespace")
    tags = _optional_strings(raw, "tags", where)
    campaigns = _optional_strings(raw, "campaigns", where)
    return Document(
        id=text["id"],
        title=text["title"],
        body=text["body"],
        tags=tuple(tags),
        campaigns=frozenset(campaigns),
    )


def _required_text(raw: Mapping[object, object], name: str, where: str) -> str:
    if name not in raw:
        raise CatalogError(f"{where}: missing {name!r}")
    value = raw[name]
    if not isinstance(value, str):
        raise CatalogError(f"{where}: {name!r} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise CatalogError(f"{where}: {name!r} is blank")
    return value


def _optional_strings(raw: Mapping[object, object], name: str, where: str) -> Iterable[str]:
    value = raw.get(name)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise CatalogError(f"{where}: {name!r} must be a list of strings")
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise CatalogError(f"{where}: {name!r} must contain only non-blank strings")
    return value
