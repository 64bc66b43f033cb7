"""What the catalog sections share: hash-based picks and dates, slugs and the entry shape.

Variation comes from a hash of each entry's key rather than a random generator, so the output
is byte-for-byte reproducible on any Python version.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from datetime import date, timedelta
from typing import TypeVar

T = TypeVar("T")

Entry = dict[str, str | list[str]]

_NO_DECOMPOSITION = str.maketrans({"ø": "o", "æ": "ae", "ß": "ss", "đ": "d", "ł": "l"})

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def _digest(*key: object) -> int:
    """A number from the key's blake2b digest: stable across runs, unlike ``hash()``."""
    digest = hashlib.blake2b("|".join(map(str, key)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def pick(options: Sequence[T], *key: object) -> T:
    return options[_digest(*key) % len(options)]


def slug(text: str) -> str:
    # NFKD splits accents from letters; the few letters with no decomposition are mapped.
    decomposed = unicodedata.normalize("NFKD", text.lower())
    ascii_text = decomposed.translate(_NO_DECOMPOSITION).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")


def long_date(day: date) -> str:
    return f"{_WEEKDAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]} {day.year}"


def event_date(*key: object) -> date:
    """A date in the 2026 season, spread by key so listings do not bunch up."""
    return date(2026, 2, 2) + timedelta(days=_digest(*key) % 300)


def entry(
    id_: str,
    title: str,
    body: str,
    tags: Sequence[str] = (),
    campaigns: Sequence[str] = (),
) -> Entry:
    document: Entry = {"id": id_, "title": title, "body": " ".join(body.split())}
    if tags:
        document["tags"] = list(tags)
    if campaigns:
        document["campaigns"] = list(campaigns)
    return document
