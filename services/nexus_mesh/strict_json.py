"""JSON that refuses an object repeating a key.

``json.loads`` keeps the last of two equal keys silently; in a hand-edited file (a schema
manifest, a search catalog) that hides exactly the mistake worth reporting, such as a second
entry for the same event type overriding the first.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any


class DuplicateKeyError(ValueError):
    """An object in the text repeats ``key``."""

    def __init__(self, key: str) -> None:
        super().__init__(f"duplicate key {key!r}")
        self.key = key


def _no_duplicates(pairs: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateKeyError(key)
        result[key] = value
    return result


def loads(text: str) -> Any:
    """``json.loads`` of ``text``; :class:`DuplicateKeyError` for a repeated key, and
    ``json.JSONDecodeError`` as ever for text that is no JSON."""
    return json.loads(text, object_pairs_hook=_no_duplicates)
