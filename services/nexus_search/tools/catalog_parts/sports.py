"""Sports fixtures: the clubs, their home grounds and the fixtures between them."""

from __future__ import annotations

from dataclasses import dataclass

from nexus_search.tools.catalog_parts.helpers import Entry, entry, event_date, long_date, pick, slug
from nexus_search.tools.catalog_parts.places import CITY_BY_NAME, VENUES


@dataclass(frozen=True)
class Sport:
    name: str
    competition: str
    start_word: str  # "kick-off", "tip-off", ...
    teams: tuple[tuple[str, str], ...]  # (team, home venue)
    notes: tuple[str, ...]


_SPORTS: tuple[Sport, ...] = (
    Sport(
        "football",
        "Continental Champions Cup",
        "kick-off",
        (
            ("Thameside Athletic", "Lea Valley Stadium"),
            ("Ship Canal United", "Ship Canal Stadium"),
            ("Kelvin Rovers", "Kelvin Park Stadium"),
            ("Liffey Wanderers", "Docklands Stadium"),
            ("Manzanares CF", "Manzanares Stadium"),
            ("FC Isar", "Isar Stadium"),
            ("Vistula Warsaw", "Vistula Stadium"),
            ("Table Bay City", "Table Bay Stadium"),
            ("Nairobi Rangers", "Ngong Road Grounds"),
            ("Lakeshore FC", "Lakeshore Ballpark"),
        ),
        (
            "Gates open ninety minutes before kick-off, and the club shop in the main stand "
            "stays open until half-time.",
            "Away supporters are seated in the north stand and have a separate entrance.",
            "The match is broadcast live, but goals and cards reach the app a few seconds "
            "earlier than the television feed.",
            "Family sections with reduced prices for under-sixteens are available in the "
            "east stand.",
        ),
    ),
    Sport(
        "basketball",
        "Continental Basketball League",
        "tip-off",
        (
            ("Lisbon Navigators", "Tejo Pavilion"),
            ("Glasgow Comets", "Clydebank Arena"),
            ("Berlin Bears", "Spree Arena"),
            ("Vienna Waltzers", "Donau Arena"),
            ("Milan Foxes", "Lambro Arena"),
            ("Rotterdam Pilots", "Maas Dome"),
            ("Malmö Seahawks", "Öresund Arena"),
            ("London Ravens", "Thameside Arena"),
        ),
        (
            "Courtside seats come with table service and a view of the warm-up from a few "
            "metres away.",
            "The half-time show features the dance team and a shooting competition for fans.",
            "Live play-by-play, shot charts and box scores update in the app throughout the game.",
        ),
    ),
    Sport(
        "rugby",
        "International Rugby Series",
        "kick-off",
        (
            ("Dublin Stags", "Docklands Stadium"),
            ("Cape Town Breakers", "Table Bay Stadium"),
            ("Auckland Harriers", "Hauraki Park Stadium"),
            ("Glasgow Thistles", "Kelvin Park Stadium"),
            ("Melbourne Drovers", "Southbank Oval"),
            ("Manchester Ironsides", "Ship Canal Stadium"),
        ),
        (
            "Rugby crowds mix freely, so there is no segregation between home and away fans.",
            "The stadium opens two hours before kick-off, with live music in the fan zone.",
            "Tries, penalties and the final score are sent as live updates to everyone "
            "following the fixture.",
        ),
    ),
    Sport(
        "ice hockey",
        "Northern Hockey League",
        "puck drop",
        (
            ("Helsinki Frost", "Töölö Ice Arena"),
            ("Stockholm Pike", "Skanstull Arena"),
            ("Toronto Timberwolves", "Union Ice Centre"),
            ("Oslo Glaciers", "Bjørvika Arena"),
            ("Malmö Icebreakers", "Öresund Arena"),
            ("Montréal Voyageurs", "Saint-Laurent Arena"),
        ),
        (
            "The arena is kept cold for the ice, so bring a warm layer even in spring.",
            "Each game has three periods of twenty minutes, with intermissions for food and "
            "drinks.",
            "Goals, penalties and shots on target update live in the match centre.",
        ),
    ),
    Sport(
        "cricket",
        "Twenty20 Cup",
        "first ball",
        (
            ("Southbank Mariners", "Southbank Oval"),
            ("Cape Town Gulls", "Table Bay Stadium"),
            ("Nairobi Lions", "Ngong Road Grounds"),
            ("London Kingfishers", "Lea Valley Stadium"),
            ("Manchester Rain", "Ship Canal Stadium"),
            ("Auckland Tuis", "Hauraki Park Stadium"),
        ),
        (
            "A Twenty20 match lasts about three and a half hours, finishing under floodlights.",
            "Sun cream and a hat are essential for afternoon starts in the open stands.",
            "Ball-by-ball commentary and scorecards update live in the app.",
        ),
    ),
    Sport(
        "handball",
        "European Handball Cup",
        "throw-off",
        (
            ("Copenhagen Vikings", "Ørestad Arena"),
            ("Malmö Storm", "Öresund Arena"),
            ("Berlin Falcons", "Spree Arena"),
            ("Warsaw Eagles", "Praga Arena"),
            ("Oslo Trolls", "Bjørvika Arena"),
            ("Rotterdam Mariners", "Maas Dome"),
        ),
        (
            "Handball is fast and physical, with sixty minutes of play in two halves.",
            "Drums and chanting are part of the atmosphere; ear protection is sold at the kiosks.",
            "Live scores and player statistics update in the app in real time.",
        ),
    ),
)

_FIXTURE_CONTEXT = (
    "It is a top-of-the-table meeting: both sides are unbeaten in their last five games.",
    "The two clubs are old rivals, and tickets for this fixture traditionally sell out "
    "within hours.",
    "With the season entering its final weeks, every point matters at both ends of the table.",
    "It is a cup tie, so if the sides are level at full time the match goes to extra time.",
    "The visitors won the reverse fixture earlier this season, and the home side will want "
    "revenge.",
    "Both teams have new coaches this season, and this is their first meeting.",
)

_FIXTURE_TICKETS = (
    "Tickets are on sale to members first, with any remaining seats released to the public "
    "a week later.",
    "Tickets are mobile-only and cannot be transferred in the final forty-eight hours.",
    "Accessible seating and free companion tickets can be booked through the club's access "
    "line or online.",
)


def sports_entries() -> list[Entry]:
    venues = {venue.name: venue for venue in VENUES}
    entries: list[Entry] = []
    for sport in _SPORTS:
        teams = sport.teams
        count = len(teams)
        fixtures = count if count > 6 else count + 3
        for round_ in range(fixtures):
            # The offset lies in 1..count-1, so a team never meets itself, and rounds that
            # share a home team get different opponents.
            home, ground = teams[round_ % count]
            away, _ = teams[(round_ % count + 1 + (2 * round_) % (count - 1)) % count]
            venue = venues[ground]
            city = CITY_BY_NAME[venue.city]
            when = event_date(sport.name, home, away)
            start = pick(("14:00", "15:00", "17:30", "19:00", "19:45", "20:00"), home, away)
            key = (sport.name, home, away)
            sentences = [
                f"{venue.name} in {venue.city} hosts {home} against {away} in the "
                f"{sport.competition} on {long_date(when)}, with {sport.start_word} at "
                f"{start} local time.",
                pick(_FIXTURE_CONTEXT, *key, "context"),
                pick(sport.notes, *key, "note"),
                f"Most fans travel by {city.transport}; extra services run when the match ends.",
                pick(_FIXTURE_TICKETS, *key, "tickets"),
            ]
            entries.append(
                entry(
                    f"fixture-{slug(sport.name)}-{slug(home)}-v-{slug(away)}",
                    f"{home} v {away}: {sport.competition} {sport.name} fixture",
                    " ".join(sentences),
                    ("sports", sport.name, "fixture", venue.city),
                )
            )
    return entries
