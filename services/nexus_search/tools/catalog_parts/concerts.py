"""Concerts: artists and the listings of their shows at the venues."""

from __future__ import annotations

from dataclasses import dataclass

from nexus_search.tools.catalog_parts.helpers import Entry, entry, event_date, long_date, pick, slug
from nexus_search.tools.catalog_parts.places import VENUES


@dataclass(frozen=True)
class Artist:
    name: str
    genre: str
    family: str  # picks the set description and suitable venues
    about: str
    plural: bool = False

    def verb(self, plural_form: str, singular_form: str) -> str:
        return plural_form if self.plural else singular_form


_ARTISTS: tuple[Artist, ...] = (
    Artist(
        "The Lantern Years",
        "indie rock",
        "rock",
        "a Manchester four-piece known for chiming guitars and singalong choruses",
        plural=True,
    ),
    Artist(
        "Marisol Vega",
        "latin pop",
        "pop",
        "a Mexican-born singer whose bilingual pop songs mix cumbia rhythms with synth hooks",
    ),
    Artist(
        "Northbound Choir",
        "choral",
        "classical",
        "a forty-voice ensemble performing new arrangements of folk songs from around the "
        "North Sea",
    ),
    Artist(
        "Kofi Mensah Quartet",
        "jazz",
        "jazz",
        "led by a saxophonist whose warm tone owes as much to highlife as to hard bop",
    ),
    Artist(
        "Static Bloom",
        "electronic",
        "electronic",
        "a duo building long, hypnotic sets from modular synthesisers and live drums",
    ),
    Artist(
        "Iron Meridian",
        "heavy metal",
        "rock",
        "a Swedish band famed for twin-guitar harmonies and a relentless touring schedule",
    ),
    Artist(
        "Ada Kowalczyk",
        "classical piano",
        "classical",
        "a Polish pianist acclaimed for her recordings of Chopin and Szymanowski",
    ),
    Artist(
        "Velvet Arcade",
        "synth-pop",
        "pop",
        "a trio reviving the glossy synth-pop of the 1980s with modern production",
    ),
    Artist(
        "Juniper Hale",
        "folk",
        "folk",
        "a singer-songwriter whose spare acoustic songs are about small towns and long winters",
    ),
    Artist(
        "DJ Ramsey Okoro",
        "house",
        "electronic",
        "a Lagos-born DJ whose sets stretch from Chicago house to Afrobeats",
    ),
    Artist(
        "The Copper Kettles",
        "bluegrass",
        "folk",
        "a five-piece string band with banjo, fiddle and tight three-part harmonies",
        plural=True,
    ),
    Artist(
        "Lumen Ensemble",
        "contemporary classical",
        "classical",
        "a chamber group that commissions new works and stages them with light installations",
    ),
    Artist(
        "Saint Ophelia",
        "soul",
        "pop",
        "a soul singer whose voice is often compared with the classic Memphis recordings",
    ),
    Artist(
        "Hollow Pines",
        "post-rock",
        "rock",
        "an instrumental band whose songs build slowly to towering crescendos",
    ),
    Artist(
        "Mika Tanaka",
        "city pop",
        "jazz",
        "a Tokyo keyboardist reviving the breezy city pop of the late seventies",
    ),
    Artist(
        "Rude Awakening Sound System",
        "reggae",
        "electronic",
        "a collective playing roots reggae and dub on a custom-built sound system",
    ),
    Artist(
        "Bastian Wolf",
        "techno",
        "electronic",
        "a Berlin producer whose dark, driving techno fills warehouses until morning",
    ),
    Artist(
        "Greta Lindqvist",
        "pop",
        "pop",
        "a Swedish pop singer with a string of radio hits and a big-budget stage show",
    ),
    Artist(
        "The Midnight Tramlines",
        "ska",
        "rock",
        "an eleven-piece ska band with a full brass section and boundless energy",
        plural=True,
    ),
    Artist(
        "Orquesta Típica del Sur",
        "tango",
        "folk",
        "a tango orchestra with four bandoneons, playing the golden-age repertoire for "
        "listeners and dancers",
    ),
    Artist(
        "Amara Diallo",
        "desert blues",
        "folk",
        "a Malian guitarist whose desert blues is built from hypnotic, interlocking guitar lines",
    ),
    Artist(
        "Pale Harbour",
        "dream pop",
        "rock",
        "a band hiding sweet melodies beneath layers of reverb and shimmering guitars",
    ),
    Artist(
        "Lenny Brooks Trio",
        "blues",
        "jazz",
        "a band playing electric blues in the tradition of the Chicago South Side clubs",
    ),
    Artist(
        "Danube Chamber Orchestra",
        "classical",
        "classical",
        "an ensemble of twenty-five players performing Haydn, Mozart and Schubert on period "
        "instruments",
    ),
    Artist(
        "MC Solace",
        "hip-hop",
        "pop",
        "a London rapper known for sharp, funny storytelling and shows with a live band",
    ),
    Artist(
        "Cassie Jones",
        "country",
        "folk",
        "a Texan country singer with a pedal-steel player and a book of songs about highways",
    ),
    Artist(
        "Gravel & Gold",
        "americana",
        "folk",
        "a husband-and-wife duo writing harmony-rich Americana",
    ),
    Artist(
        "Neon Monsoon",
        "electropop",
        "pop",
        "a Seoul electropop group with tightly choreographed, colourful shows",
    ),
    Artist(
        "Hannah Okafor",
        "gospel",
        "folk",
        "a gospel singer who fronts a thirty-piece choir and a Hammond organ",
    ),
    Artist(
        "Elias Varga",
        "violin",
        "classical",
        "a Hungarian violinist who pairs Bartók sonatas with the folk melodies that inspired them",
    ),
    Artist(
        "The Fjord Brothers",
        "folk rock",
        "rock",
        "a Norwegian folk-rock band that swaps fiddles for electric guitars halfway through "
        "the night",
        plural=True,
    ),
    Artist(
        "Solar Tides",
        "ambient",
        "electronic",
        "an ambient project performing seated, candle-lit concerts of slowly shifting drones",
    ),
    Artist(
        "Riot Garden",
        "punk",
        "rock",
        "a punk band whose shows rarely last more than forty fast, loud minutes",
    ),
    Artist(
        "Opera Nova Company",
        "opera",
        "classical",
        "a touring company staging fresh, stripped-back productions of well-loved operas",
    ),
    Artist(
        "Lucía Ferrer",
        "flamenco",
        "folk",
        "a flamenco singer accompanied by guitar, handclaps and a dancer",
    ),
    Artist(
        "Harbour Street Big Band",
        "swing",
        "jazz",
        "an eighteen-piece orchestra playing swing-era classics for a packed dance floor",
    ),
    Artist(
        "Kite Theory",
        "math rock",
        "rock",
        "a trio famous for odd time signatures and intricate tapped guitar lines",
    ),
    Artist(
        "Aurora Vance",
        "singer-songwriter",
        "pop",
        "a piano-led singer-songwriter whose ballads have soundtracked several television dramas",
    ),
    Artist(
        "Drumline Collective",
        "percussion",
        "folk",
        "a percussion group playing everything from taiko drums to steel oil barrels",
    ),
    Artist(
        "Tomás Quiroga",
        "bossa nova",
        "jazz",
        "a Brazilian guitarist and singer keeping the intimate sound of bossa nova alive",
    ),
    Artist(
        "Pixel Parade",
        "chiptune",
        "electronic",
        "an act making dance music with modified handheld game consoles",
    ),
    Artist(
        "The Kestrels",
        "jangle pop",
        "rock",
        "a Glasgow jangle-pop band with a devoted following and a fondness for harmonies",
        plural=True,
    ),
    Artist(
        "Samira Haddad",
        "oud",
        "jazz",
        "an oud player and composer blending Arabic maqam with jazz improvisation",
    ),
    Artist(
        "Meridian Symphony Orchestra",
        "symphonic",
        "classical",
        "a hundred-strong orchestra known for its Mahler and Sibelius cycles",
    ),
    Artist(
        "Yellow Kite Brass Band",
        "brass band",
        "jazz",
        "a nine-piece outfit playing New Orleans second-line music, often marching through "
        "the crowd",
    ),
)

_FAMILY_VENUES = {
    "rock": ("arena", "club", "ballroom", "open-air amphitheatre"),
    "pop": ("arena", "stadium", "open-air amphitheatre", "ballroom"),
    "electronic": ("club", "arena", "ballroom"),
    "jazz": ("jazz club", "concert hall", "theatre", "club"),
    "classical": ("concert hall", "theatre", "open-air amphitheatre"),
    "folk": ("theatre", "ballroom", "concert hall", "club"),
}

_CONCERT_OPENINGS = (
    "{artist} {bring} the {tour} to {venue} in {city} on {when}.",
    "On {when}, {artist} {play} {venue}, {city}, as part of the {tour}.",
    "The {tour} reaches {city} on {when}, when {artist} {take} the stage at {venue}.",
)

_CONCERT_SETS: dict[str, tuple[str, ...]] = {
    "rock": (
        "Expect a loud, sweaty night: the set mixes songs from the new record with the "
        "older favourites the crowd always shouts for.",
        "Recent shows have run for close to two hours, with a long encore and a cover or "
        "two thrown in.",
        "The band are known for tearing up the setlist, so no two nights on this tour have "
        "been the same.",
    ),
    "pop": (
        "The production includes a runway into the crowd, costume changes and a stripped-back "
        "acoustic section midway through.",
        "The setlist covers every single so far, plus several songs from the forthcoming album.",
        "Fans can expect choreography, confetti and a singalong finale.",
    ),
    "electronic": (
        "The set is played without a break, building slowly from deep, spacious grooves to "
        "a peak in the final hour.",
        "Visuals are created live and react to the music, so sit near the back if you want "
        "to take in the full screen.",
        "Tracks are mixed on the fly, so every performance is different.",
    ),
    "jazz": (
        "Two sets are planned, mixing original compositions with standards, and the band "
        "leave plenty of space for improvisation.",
        "Expect long solos, call-and-response between the players and a relaxed, "
        "conversational feel.",
        "The programme draws on the latest album but changes nightly depending on the room.",
    ),
    "classical": (
        "The programme lasts about two hours including an interval, and programme notes are "
        "available in the app.",
        "Latecomers are admitted only at a suitable pause, so arrive in good time.",
        "A pre-concert talk begins an hour before the performance and is free for ticket holders.",
    ),
    "folk": (
        "The set moves from quiet, storytelling songs to full-band numbers that get the "
        "room dancing.",
        "Expect traditional tunes alongside new songs, with plenty of stories between them.",
        "The performance is largely acoustic, so the venue asks for quiet during songs.",
    ),
}

_TOUR_NAMES = (
    "Long Way Home Tour",
    "Night Signals Tour",
    "Open Water Tour",
    "Northern Lights Tour",
    "Second Sunrise Tour",
    "Paper Moons Tour",
    "Electric Fields Tour",
    "Quiet Hours Tour",
    "Wild Coast Tour",
    "Afterglow Tour",
)

_CONCERT_TICKETS = (
    "Standing tickets on the floor are general admission; seats are allocated.",
    "Tickets are limited to six per customer, and a resale marketplace is available for "
    "fans who can no longer attend.",
    "A small number of accessible seats and companion tickets are available through the "
    "access booking form.",
    "VIP packages include early entry and a signed tour poster.",
)

_CONCERT_UPDATES = (
    "Set times and any last-minute changes are pushed to the app in real time, so turn on "
    "notifications for this event.",
    "Door times are confirmed on the day of the show and sent as a live update to every "
    "ticket holder.",
    "Follow the artist in the app to hear about extra dates if this show sells out.",
)


def concert_entries() -> list[Entry]:
    entries: list[Entry] = []
    for index, artist in enumerate(_ARTISTS):
        # Roughly a third of the artists play two cities, so listings outnumber artists.
        shows = 2 if index % 3 == 0 else 1
        kinds = _FAMILY_VENUES[artist.family]
        candidates = [venue for venue in VENUES if venue.kind in kinds]
        used: set[str] = set()
        for show in range(shows):
            venue = pick(candidates, artist.name, "venue", show)
            if venue.city in used:
                venue = candidates[(candidates.index(venue) + 5) % len(candidates)]
            used.add(venue.city)
            when = event_date(artist.name, show)
            doors = pick(("18:30", "19:00", "19:30", "20:00"), artist.name, show, "doors")
            hour, minute = map(int, doors.split(":"))
            stage = f"{hour + 1 + (minute + 30) // 60:02d}:{(minute + 30) % 60:02d}"
            tour = pick(_TOUR_NAMES, artist.name, "tour")
            fields = {
                "artist": artist.name,
                "bring": artist.verb("bring", "brings"),
                "play": artist.verb("play", "plays"),
                "take": artist.verb("take", "takes"),
                "tour": tour,
                "venue": venue.name,
                "city": venue.city,
                "when": long_date(when),
            }
            support_pool = [other for other in _ARTISTS if other.family == artist.family]
            support = pick([a for a in support_pool if a is not artist], artist.name, show)
            sentences = [
                pick(_CONCERT_OPENINGS, artist.name, show, "open").format(**fields),
                f"{artist.name} {artist.verb('are', 'is')} {artist.about}.",
                pick(_CONCERT_SETS[artist.family], artist.name, show, "set"),
                f"Support comes from {support.name}, {support.about}.",
                f"Doors open at {doors}, with {artist.name} expected on stage around {stage}.",
                pick(_CONCERT_TICKETS, artist.name, show, "tickets"),
                pick(_CONCERT_UPDATES, artist.name, show, "updates"),
            ]
            entries.append(
                entry(
                    f"concert-{slug(artist.name)}-{slug(venue.city)}-{when:%Y%m%d}",
                    f"{artist.name} live at {venue.name}, {venue.city}",
                    " ".join(sentences),
                    ("concert", artist.genre, venue.city),
                )
            )
    return entries
