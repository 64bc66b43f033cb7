"""One walk over a fastavro-parsed schema for the codec tests' value strategies: unions,
named references, logical types, records, enums, fixed, arrays and maps. The values at the
leaves, and how large collections get, are a :class:`Domain`: Avro-native Python values in
``native_strategies``, natural JSON in ``payload_strategies``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st


@dataclass(frozen=True)
class Domain:
    primitives: Mapping[str, st.SearchStrategy[Any]]
    # None for a logical type the domain does not convert: values of the underlying type.
    logical: Callable[[dict[str, Any]], st.SearchStrategy[Any] | None]
    fixed: Callable[[int], st.SearchStrategy[Any]]
    map_keys: st.SearchStrategy[str]
    max_items: int
    max_entries: int
    # Fields with a default are sometimes left out: the writer must fill them in.
    omit_defaults: bool


def values_of(parsed: Any, domain: Domain) -> st.SearchStrategy[Any]:
    """Values of ``parsed`` (a fastavro-parsed schema) in ``domain``."""
    named = parsed.get("__named_schemas", {}) if isinstance(parsed, dict) else {}
    return _values(parsed, named, domain)


def _values(schema: Any, named: dict[str, Any], domain: Domain) -> st.SearchStrategy[Any]:
    if isinstance(schema, list):
        return st.one_of(*(_values(branch, named, domain) for branch in schema))
    if isinstance(schema, str):
        if schema in domain.primitives:
            return domain.primitives[schema]
        return _values(named[schema], named, domain)
    kind = schema["type"]
    if "logicalType" in schema:
        logical = domain.logical(schema)
        if logical is not None:
            return logical
    if kind == "record":
        fields = {f["name"]: _values(f["type"], named, domain) for f in schema["fields"]}
        if not domain.omit_defaults:
            return st.fixed_dictionaries(fields)
        optional = {f["name"]: fields.pop(f["name"]) for f in schema["fields"] if "default" in f}
        return st.fixed_dictionaries(fields, optional=optional)
    if kind == "enum":
        return st.sampled_from(schema["symbols"])
    if kind == "fixed":
        return domain.fixed(schema["size"])
    if kind == "array":
        return st.lists(_values(schema["items"], named, domain), max_size=domain.max_items)
    if kind == "map":
        values = _values(schema["values"], named, domain)
        return st.dictionaries(domain.map_keys, values, max_size=domain.max_entries)
    return _values(kind, named, domain)
