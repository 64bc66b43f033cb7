"""Travel guides: getting to events in each city."""

from __future__ import annotations

from nexus_search.tools.catalog_parts.helpers import Entry, entry, pick, slug
from nexus_search.tools.catalog_parts.places import CITIES, VENUES

_TRAVEL_GENERAL = (
    "Shows often end after the last regional trains, so check return times before you book "
    "a hotel outside the city.",
    "If you are arriving on the day, leave a margin for delays: doors close for nobody.",
    "Book accommodation as soon as you have tickets; prices rise quickly once a big event "
    "is announced.",
    "Save your tickets to your phone before you travel, in case roaming data is slow.",
    "Taxis and rideshares surge in price straight after an event, so walking a few streets "
    "away before booking one often helps.",
)


def travel_entries() -> list[Entry]:
    entries: list[Entry] = []
    venues_by_city: dict[str, list[str]] = {}
    for venue in VENUES:
        venues_by_city.setdefault(venue.city, []).append(venue.name)
    for city in CITIES:
        names = venues_by_city.get(city.name, [])
        sentences = [
            f"Visiting {city.name} for a concert, match or conference? Most visitors get "
            f"around by {city.transport}.",
            *city.notes,
            pick(_TRAVEL_GENERAL, city.name, "general"),
        ]
        if names:
            listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"
            sentences.append(f"Venues in {city.name} covered by our guides include {listed}.")
        entries.append(
            entry(
                f"travel-{slug(city.name)}",
                f"Getting to events in {city.name}, {city.country}",
                " ".join(sentences),
                ("travel", city.name, city.country),
            )
        )
    return entries
