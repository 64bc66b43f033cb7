"""Festivals: multi-day events in the summer season."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from nexus_search.tools.catalog_parts.helpers import Entry, entry, event_date, long_date, pick, slug

_FRIDAY = 4


@dataclass(frozen=True)
class Festival:
    name: str
    place: str  # with its preposition: "on the coast", "in a glen"
    kind: str
    about: str
    camping: bool


_FESTIVALS: tuple[Festival, ...] = (
    Festival(
        "Saltmarsh Sound",
        "on the Suffolk coast, England",
        "music festival",
        "indie, folk and electronic music on four stages between the dunes and the marshes",
        True,
    ),
    Festival(
        "Atlantic Drift",
        "at a clifftop farm near Ericeira, Portugal",
        "music festival",
        "surf culture, electronic music and sunset sets overlooking the ocean",
        True,
    ),
    Festival(
        "Midsummer Lights",
        "on an island in the Stockholm archipelago, Sweden",
        "music festival",
        "Nordic pop, folk and midsummer traditions under a sky that never quite gets dark",
        True,
    ),
    Festival(
        "Highland Strings",
        "in a glen near Inverness, Scotland",
        "folk festival",
        "traditional Scottish and Irish music, ceilidhs and fiddle workshops",
        True,
    ),
    Festival(
        "Lakeside Jazz Weekend",
        "on the shore of Lake Zürich, Switzerland",
        "jazz festival",
        "jazz on a floating stage, with free afternoon concerts along the promenade",
        False,
    ),
    Festival(
        "Desert Bloom",
        "in the high desert outside Mexico City",
        "music festival",
        "electronic music and art installations in the desert, with sunrise sets",
        True,
    ),
    Festival(
        "Harvest Moon Folk Gathering",
        "in an orchard in the Hudson Valley, New York",
        "folk festival",
        "Americana, bluegrass and folk, with cider tastings and barn dances",
        True,
    ),
    Festival(
        "Harbour Film Days",
        "in Hamburg, Germany",
        "film festival",
        "independent features and documentaries, with open-air screenings on the harbour",
        False,
    ),
    Festival(
        "Lantern Light Festival",
        "in Kraków's old town, Poland",
        "light festival",
        "illuminated art installations and projection mapping across historic buildings",
        False,
    ),
    Festival(
        "Southbank Street Food Festival",
        "on the riverside in Melbourne, Australia",
        "food festival",
        "hundreds of street food stalls, cooking demonstrations and live music",
        False,
    ),
    Festival(
        "Comedy Nights Festival",
        "at venues across Montréal, Canada",
        "comedy festival",
        "stand-up, sketch and improvisation in English and French",
        False,
    ),
    Festival(
        "Words by the Water",
        "in Dublin's docklands, Ireland",
        "literature festival",
        "author talks, poetry readings and writing workshops",
        False,
    ),
    Festival(
        "Pinewood Weekender",
        "in a forest clearing in the Black Forest, Germany",
        "music festival",
        "techno and house in the woods, with a wellness area and a lake for swimming",
        True,
    ),
    Festival(
        "Tango Week Buenos Aires",
        "in dance halls across Buenos Aires, Argentina",
        "dance festival",
        "tango classes for every level, orchestras and late-night milongas",
        False,
    ),
    Festival(
        "Seoul Lights Music Week",
        "at venues along the Han River in Seoul, South Korea",
        "music festival",
        "K-pop showcases, indie bands and riverside DJ sets",
        False,
    ),
    Festival(
        "Cape Sounds",
        "on a wine farm outside Cape Town, South Africa",
        "music festival",
        "jazz, Afro-house and amapiano among the vineyards",
        True,
    ),
    Festival(
        "Fjordside Festival",
        "in a fjord village near Bergen, Norway",
        "music festival",
        "Norwegian indie and folk with concerts on a floating stage and boats to the site",
        True,
    ),
    Festival(
        "Kite and Sky Festival",
        "on a beach near Cape Town, South Africa",
        "family festival",
        "kite flying, beach games and live music for all ages",
        False,
    ),
    Festival(
        "Tokyo Night Market Festival",
        "in a park in central Tokyo, Japan",
        "food festival",
        "food stalls from every region of Japan, taiko drummers and lantern-lit evenings",
        False,
    ),
    Festival(
        "Baltic Beats",
        "on a beach near Gdańsk, Poland",
        "music festival",
        "electronic music on the Baltic coast, with day parties on the sand",
        True,
    ),
)

_FESTIVAL_CAMPING = (
    "Camping is included in weekend tickets; quiet campsites, family camping and pre-pitched "
    "tents are available for an extra fee.",
    "The campsite opens the day before the music starts, and campervan pitches must be "
    "booked separately.",
    "Campers can bring food and sealed soft drinks into the campsite, but not glass.",
)

_FESTIVAL_DAY = (
    "There is no camping; day tickets and weekend passes are available, and shuttle buses "
    "run from the city centre.",
    "Many events are free, while headline performances need a ticket booked in advance.",
    "Hotels near the festival fill up fast, so book your stay early.",
)

_FESTIVAL_EXTRAS = (
    "Children under twelve go free with a paying adult, and there is a dedicated family "
    "area with workshops.",
    "The site is cashless: load your wristband in the app before you arrive and get any "
    "unused balance back afterwards.",
    "Water refill points are free, and reusable cups cut waste at every bar.",
    "Stage times are published a week before the festival, and clashes and delays are sent "
    "as live updates.",
)


def festival_entries() -> list[Entry]:
    entries: list[Entry] = []
    for festival in _FESTIVALS:
        start = event_date(festival.name)
        # Festivals cluster in the summer months; nudge out-of-season dates into June-August.
        if not 6 <= start.month <= 8 and festival.camping:
            start = date(2026, 6, 5) + timedelta(days=(start.toordinal() % 80))
        start += timedelta(days=(_FRIDAY - start.weekday()) % 7)
        end = start + timedelta(days=2)
        key = festival.name
        logistics = _FESTIVAL_CAMPING if festival.camping else _FESTIVAL_DAY
        sentences = [
            f"{festival.name} is a {festival.kind} {festival.place}, running from "
            f"{long_date(start)} to {long_date(end)}.",
            f"The programme focuses on {festival.about}.",
            pick(logistics, key, "logistics"),
            pick(_FESTIVAL_EXTRAS, key, "extra1"),
            pick(_FESTIVAL_EXTRAS[::-1], key, "extra2"),
            "If severe weather stops the programme, the organisers announce delays and "
            "evacuation routes through the app.",
        ]
        # Two picks from the same pool can coincide; keep the text free of repeats.
        unique = list(dict.fromkeys(sentences))
        entries.append(
            entry(
                f"festival-{slug(festival.name)}-{start.year}",
                f"{festival.name} {start.year}",
                " ".join(unique),
                ("festival", festival.kind, *(["camping"] if festival.camping else [])),
            )
        )
    return entries
