"""The shipped catalog, and the errors a bad catalog is refused with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nexus_mesh.errors import ConfigurationError
from nexus_search.catalog import (
    DEFAULT_CATALOG,
    CatalogError,
    Document,
    load_catalog,
    load_default_catalog,
    parse_catalog,
    parse_catalog_text,
)
from nexus_search.tools import build_catalog

CATALOG_FILE = Path(build_catalog.__file__).resolve().parents[1] / DEFAULT_CATALOG


def test_shipped_catalog_loads_with_enough_unique_documents() -> None:
    documents = load_default_catalog()
    assert len(documents) >= 300
    assert len({document.id for document in documents}) == len(documents)
    assert CATALOG_FILE.stat().st_size < 500_000


def test_shipped_catalog_has_campaign_scoped_documents() -> None:
    documents = load_default_catalog()
    scoped = [document for document in documents if document.campaigns]
    assert {"acme", "demo"} <= {campaign for d in scoped for campaign in d.campaigns}
    assert len(scoped) < len(documents) // 10, "most of the catalog is public"


def test_shipped_catalog_is_what_the_generator_builds() -> None:
    expected = build_catalog.render(build_catalog.build())
    assert CATALOG_FILE.read_text(encoding="utf-8") == expected, (
        "catalog.json is stale: run services/nexus_search/tools/build_catalog.py"
    )


def test_visibility_follows_the_campaign_list() -> None:
    public = Document(id="p", title="t", body="b")
    scoped = Document(id="s", title="t", body="b", campaigns=frozenset({"acme"}))
    assert public.visible_to("acme")
    assert public.visible_to("anyone")
    assert scoped.visible_to("acme")
    assert not scoped.visible_to("demo")
    assert not scoped.visible_to("")


def test_optional_fields_default_to_empty() -> None:
    [document] = parse_catalog([{"id": "a", "title": "T", "body": "B"}])
    assert document.tags == ()
    assert document.campaigns == frozenset()
    [document] = parse_catalog([{"id": "a", "title": "T", "body": "B", "campaigns": []}])
    assert document.campaigns == frozenset(), "an empty list means visible to every campaign"


def _entry(**fields: object) -> dict[str, object]:
    return {"id": "a", "title": "A title", "body": "A body.", **fields}


@pytest.mark.parametrize(
    ("bad", "fragments"),
    [
        ({"title": "T", "body": "B"}, ["[1]", "missing 'id'"]),
        ({"id": "b", "body": "B"}, ["[1]", "id 'b'", "missing 'title'"]),
        ({"id": "b", "title": "T"}, ["[1]", "id 'b'", "missing 'body'"]),
        ({"id": "b", "title": "  ", "body": "B"}, ["id 'b'", "'title' is blank"]),
        ({"id": 7, "title": "T", "body": "B"}, ["[1]", "'id' must be a string"]),
        ({"id": " b", "title": "T", "body": "B"}, ["whitespace"]),
        ({"id": "b", "title": "T", "body": "B", "campaign": ["x"]}, ["unknown", "'campaign'"]),
        ({"id": "b", "title": "T", "body": "B", "campaigns": "acme"}, ["'campaigns' must be"]),
        ({"id": "b", "title": "T", "body": "B", "tags": ["ok", ""]}, ["'tags' must contain"]),
        ("not an object", ["[1]", "expected an object"]),
    ],
)
def test_bad_entries_are_refused_by_name(bad: object, fragments: list[str]) -> None:
    with pytest.raises(CatalogError) as caught:
        parse_catalog([_entry(), bad], source="cat.json")
    message = str(caught.value)
    assert message.startswith("cat.json[1]")
    for fragment in fragments:
        assert fragment in message


def test_duplicate_ids_name_both_entries() -> None:
    data = [_entry(id="x"), _entry(id="y"), _entry(id="x")]
    with pytest.raises(CatalogError, match=r"cat\[2\] \(id 'x'\): duplicate id.*cat\[0\]"):
        parse_catalog(data, source="cat")


def test_catalog_must_be_a_non_empty_array() -> None:
    with pytest.raises(CatalogError, match="JSON array"):
        parse_catalog({"documents": []})
    with pytest.raises(CatalogError, match="empty"):
        parse_catalog([])


def test_text_errors_are_catalog_errors() -> None:
    with pytest.raises(CatalogError, match="not valid JSON"):
        parse_catalog_text("[{")
    with pytest.raises(CatalogError, match="repeats the key 'campaigns'"):
        parse_catalog_text(
            '[{"id": "a", "title": "T", "body": "B", "campaigns": ["x"], "campaigns": []}]'
        )


def test_load_catalog_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    path.write_text(json.dumps([_entry(tags=["x"], campaigns=["acme"])]), encoding="utf-8")
    [document] = load_catalog(path)
    assert document == Document(
        id="a", title="A title", body="A body.", tags=("x",), campaigns=frozenset({"acme"})
    )
    with pytest.raises(CatalogError, match="cannot read catalog"):
        load_catalog(tmp_path / "missing.json")


def test_catalog_errors_are_configuration_errors() -> None:
    assert issubclass(CatalogError, ConfigurationError)
