"""Build ``services/nexus_search/catalog.json``, the catalog the search service ships.

The catalog is a help centre plus event listings for a live-events app: hand-written FAQ and
campaign entries, and venue, concert, conference, sports, festival and travel articles composed
from curated sentences. Venues, artists, clubs and events are fictional; cities are real and
their transport notes stay general so they do not go stale.

Variation comes from a hash of each entry's key rather than a random generator, so the output
is byte-for-byte reproducible on any Python version. The JSON file is the artefact that ships;
run this script after editing the parts (``catalog_parts/``, one module per section), and
``--check`` in CI to catch a stale file::

    python services/nexus_search/tools/build_catalog.py [--check]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

if not __package__:
    # Run as a script (see above): its own directory is on sys.path, not ``services/``.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from nexus_search.tools.catalog_parts.campaigns import campaign_entries
from nexus_search.tools.catalog_parts.concerts import concert_entries
from nexus_search.tools.catalog_parts.conferences import conference_entries
from nexus_search.tools.catalog_parts.faq import faq_entries
from nexus_search.tools.catalog_parts.festivals import festival_entries
from nexus_search.tools.catalog_parts.helpers import Entry
from nexus_search.tools.catalog_parts.places import venue_entries
from nexus_search.tools.catalog_parts.sports import sports_entries
from nexus_search.tools.catalog_parts.travel import travel_entries

CATALOG_PATH = Path(__file__).resolve().parents[1] / "catalog.json"


def build() -> list[Entry]:
    entries = [
        *faq_entries(),
        *venue_entries(),
        *concert_entries(),
        *conference_entries(),
        *sports_entries(),
        *festival_entries(),
        *travel_entries(),
        *campaign_entries(),
    ]
    seen: set[str] = set()
    for entry in entries:
        entry_id = entry["id"]
        assert isinstance(entry_id, str)
        if entry_id in seen:
            raise SystemExit(f"duplicate catalog id {entry_id!r}: fix the generator's parts")
        seen.add(entry_id)
    return entries


def render(entries: Sequence[Entry]) -> str:
    """One document per line: small diffs when a part changes, still plain JSON."""
    lines = [json.dumps(entry, ensure_ascii=False) for entry in entries]
    return "[\n" + ",\n".join(lines) + "\n]\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--check", action="store_true", help="fail if catalog.json is not up to date"
    )
    parser.add_argument("--output", type=Path, default=CATALOG_PATH)
    args = parser.parse_args(argv)
    text = render(build())
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is stale; run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {len(text.encode())} bytes to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
