"""Conferences: the events and their editions at the venues."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from nexus_search.tools.catalog_parts.helpers import Entry, entry, event_date, long_date, pick, slug
from nexus_search.tools.catalog_parts.places import VENUES

_TUESDAY = 1


@dataclass(frozen=True)
class Conference:
    name: str
    topic: str
    about: str
    tracks: tuple[str, ...]
    cities: tuple[str, ...]


_CONFERENCES: tuple[Conference, ...] = (
    Conference(
        "Realtime Systems Forum",
        "real-time systems",
        "event-driven architecture, streaming data and the systems behind live products",
        (
            "event streaming and Kafka operations",
            "WebSockets at scale",
            "schema evolution",
            "observability and tracing",
        ),
        ("Lisbon", "Toronto"),
    ),
    Conference(
        "Cloud Native Days",
        "cloud infrastructure",
        "running software on containers, Kubernetes and managed cloud services",
        (
            "Kubernetes in production",
            "platform engineering",
            "cost optimisation",
            "multi-region resilience",
        ),
        ("Berlin", "Singapore"),
    ),
    Conference(
        "DataWorks Summit",
        "data engineering",
        "building reliable data pipelines, warehouses and lakehouses",
        ("batch and streaming pipelines", "data quality", "analytics engineering", "lakehouses"),
        ("Amsterdam",),
    ),
    Conference(
        "Applied Machine Learning Conference",
        "machine learning",
        "taking machine learning models from notebooks into production",
        (
            "model serving",
            "evaluation and monitoring",
            "recommendation systems",
            "responsible AI",
        ),
        ("Paris", "Seoul"),
    ),
    Conference(
        "Fast Web Conference",
        "web performance",
        "making websites and web apps load and respond faster",
        ("Core Web Vitals", "rendering strategies", "image and font loading", "edge computing"),
        ("London",),
    ),
    Conference(
        "Inclusive Design Week",
        "accessibility",
        "designing digital products and physical spaces that everyone can use",
        (
            "accessible interfaces",
            "assistive technology",
            "inclusive events",
            "plain language",
        ),
        ("Manchester", "Melbourne"),
    ),
    Conference(
        "UX Horizons",
        "product design",
        "user research, interaction design and design systems",
        ("design systems", "user research", "prototyping", "service design"),
        ("Copenhagen",),
    ),
    Conference(
        "SecureOps Congress",
        "security",
        "application security, incident response and secure software supply chains",
        ("threat modelling", "supply-chain security", "incident response", "identity"),
        ("Brussels", "Tokyo"),
    ),
    Conference(
        "SRE Gathering",
        "site reliability",
        "keeping large systems up: on-call, incidents, capacity and reliability budgets",
        ("incident management", "service level objectives", "chaos engineering", "capacity"),
        ("Dublin",),
    ),
    Conference(
        "Mobile Makers Conference",
        "mobile development",
        "building native and cross-platform apps for phones and tablets",
        ("Swift and Kotlin", "cross-platform frameworks", "offline-first apps", "app stores"),
        ("Barcelona",),
    ),
    Conference(
        "Indie Game Developers Summit",
        "game development",
        "independent game design, production and publishing",
        ("game design", "art and audio", "publishing and marketing", "porting to consoles"),
        ("Malmö", "Montréal"),
    ),
    Conference(
        "Climate Tech Forum",
        "climate technology",
        "technology for decarbonisation, clean energy and climate adaptation",
        ("renewable energy", "carbon accounting", "circular economy", "climate finance"),
        ("Oslo",),
    ),
    Conference(
        "Digital Health Congress",
        "healthcare",
        "digital tools transforming hospitals, clinics and patient care",
        ("telemedicine", "health data interoperability", "clinical AI", "patient experience"),
        ("Zürich", "Chicago"),
    ),
    Conference(
        "Fintech Frontiers",
        "financial technology",
        "payments, open banking and the infrastructure of modern finance",
        ("real-time payments", "open banking", "fraud prevention", "regulation"),
        ("London", "São Paulo"),
    ),
    Conference(
        "Music Business Connect",
        "music industry",
        "the business of live music, streaming royalties and artist development",
        ("live music economics", "streaming and royalties", "artist management", "touring"),
        ("Hamburg", "Austin"),
    ),
    Conference(
        "Stage Tech Expo",
        "live production",
        "lighting, sound, video and rigging for concerts and theatre",
        ("live sound", "lighting design", "LED video", "safety and rigging"),
        ("Düsseldorf",),
    ),
    Conference(
        "Sports Analytics Summit",
        "sports analytics",
        "data and analytics in elite sport, scouting and fan engagement",
        ("performance analysis", "tracking data", "scouting", "fan engagement"),
        ("Madrid",),
    ),
    Conference(
        "Urban Mobility Congress",
        "urban mobility",
        "public transport, cycling, micromobility and the future of city streets",
        ("public transport", "cycling infrastructure", "shared mobility", "street design"),
        ("Rotterdam", "Vienna"),
    ),
    Conference(
        "EdTech Exchange",
        "education technology",
        "learning technology for schools, universities and workplaces",
        ("online learning", "assessment", "learning analytics", "classroom technology"),
        ("Helsinki",),
    ),
    Conference(
        "Open Source Maintainers Summit",
        "open source",
        "sustaining open source projects and the people who maintain them",
        ("funding and sustainability", "governance", "security of dependencies", "community"),
        ("Prague",),
    ),
    Conference(
        "Newsroom Futures",
        "journalism",
        "digital journalism, verification and new business models for news",
        ("verification", "data journalism", "audience revenue", "live coverage"),
        ("Stockholm",),
    ),
    Conference(
        "Robotics Now",
        "robotics",
        "industrial, service and field robotics from research to deployment",
        ("autonomous navigation", "manipulation", "robot safety", "human-robot interaction"),
        ("München", "Osaka"),
    ),
    Conference(
        "New Space Conference",
        "space industry",
        "small satellites, launch services and Earth observation",
        ("Earth observation", "launch services", "satellite communications", "space policy"),
        ("Toronto",),
    ),
    Conference(
        "AgriFood Innovation Days",
        "food and agriculture",
        "technology and entrepreneurship across farming and food",
        ("precision agriculture", "alternative proteins", "food waste", "supply chains"),
        ("Lyon", "Nairobi"),
    ),
    Conference(
        "City Makers Congress",
        "architecture and urbanism",
        "architecture, housing and the design of liveable cities",
        ("housing", "public space", "adaptive reuse", "climate-ready cities"),
        ("Barcelona",),
    ),
    Conference(
        "Photo Forward",
        "photography",
        "documentary, editorial and fine-art photography",
        ("documentary practice", "photo editing", "portfolio reviews", "ethics of images"),
        ("Milan",),
    ),
    Conference(
        "Book and Story Festival of Ideas",
        "publishing",
        "writing, publishing and the future of books",
        ("writing craft", "independent publishing", "audiobooks", "translation"),
        ("Dublin", "Buenos Aires"),
    ),
    Conference(
        "Growth Marketing Summit",
        "marketing",
        "brand, performance marketing and customer retention",
        ("brand building", "performance marketing", "lifecycle and retention", "analytics"),
        ("Istanbul",),
    ),
    Conference(
        "Future of Work Forum",
        "future of work",
        "remote and hybrid work, leadership and workplace wellbeing",
        ("hybrid teams", "leadership", "wellbeing", "skills and reskilling"),
        ("Warsaw",),
    ),
    Conference(
        "Founders Summit",
        "startups",
        "building, funding and scaling young companies",
        ("fundraising", "product-market fit", "hiring", "international expansion"),
        ("Tokyo", "Mexico City"),
    ),
    Conference(
        "Event Organisers Conference",
        "event management",
        "planning, ticketing and running live events safely and profitably",
        ("ticketing and pricing", "crowd safety", "sponsorship", "sustainable events"),
        ("Glasgow", "Sydney"),
    ),
    Conference(
        "Frontend Craft",
        "frontend development",
        "modern JavaScript, CSS and the craft of building user interfaces",
        ("component architecture", "CSS layout", "state management", "testing interfaces"),
        ("Kraków",),
    ),
    Conference(
        "Python in Production",
        "Python",
        "running Python services, data tools and APIs at scale",
        ("async Python", "typing and tooling", "packaging", "performance"),
        ("Porto",),
    ),
    Conference(
        "Search and Discovery Summit",
        "search",
        "search engines, relevance ranking and recommendations",
        ("ranking and relevance", "vector search", "query understanding", "evaluation"),
        ("Reykjavík",),
    ),
    Conference(
        "Hospitality Leaders Forum",
        "hospitality",
        "hotels, restaurants and the guest experience",
        ("guest experience", "revenue management", "staffing", "sustainable hospitality"),
        ("Rome",),
    ),
)

_CONFERENCE_KEYNOTES = (
    "The opening keynote looks at what the next ten years hold for {topic}, and the closing "
    "keynote features a panel of practitioners answering audience questions live.",
    "Keynotes come from practitioners rather than vendors, with an emphasis on lessons "
    "learned the hard way.",
    "Each day opens with a keynote and closes with lightning talks, five minutes each, "
    "selected from community submissions.",
)

_CONFERENCE_FORMAT = (
    "Hands-on workshops run in parallel with the talks and have limited places, so reserve "
    "yours in the app after booking.",
    "Between sessions, the exhibition hall hosts demos, a job board and a quiet room.",
    "An evening reception on the first day gives attendees time to meet speakers informally.",
    "Talks are recorded and shared with attendees within a week of the event.",
)

_CONFERENCE_ACCESS = (
    "All talks have live captions, and sessions are streamed to remote attendees, who can "
    "ask questions through the app.",
    "The venue is step-free throughout, and sign language interpretation is available for "
    "the main stage on request.",
    "Remote tickets include the live stream of every talk and access to the recordings.",
)

_CONFERENCE_TICKETS = (
    "Early-bird tickets are discounted until three months before the event, and student "
    "and non-profit tickets are available.",
    "Team tickets for five or more attendees come with a group discount and a single invoice.",
    "Day tickets and full passes are available; full passes include workshop access.",
)


def conference_entries() -> list[Entry]:
    conference_venues = {venue.city: venue for venue in VENUES if venue.kind == "convention centre"}
    fallback_kinds = ("theatre", "concert hall", "arena")
    entries: list[Entry] = []
    for conference in _CONFERENCES:
        for edition, city_name in enumerate(conference.cities):
            venue = conference_venues.get(city_name) or next(
                (v for v in VENUES if v.city == city_name and v.kind in fallback_kinds),
                None,
            )
            where = f"at {venue.name} in {city_name}" if venue else f"in {city_name}"
            start = event_date(conference.name, city_name)
            start += timedelta(days=(_TUESDAY - start.weekday()) % 7)
            days = 2 if len(conference.tracks) < 4 or edition else 3
            end = start + timedelta(days=days - 1)
            tracks = conference.tracks
            track_list = ", ".join(tracks[:-1]) + f" and {tracks[-1]}"
            key = (conference.name, city_name)
            sentences = [
                f"{conference.name} {city_name} brings together people working on "
                f"{conference.about}. It takes place {where} from {long_date(start)} to "
                f"{long_date(end)}.",
                f"The programme runs in {len(tracks)} tracks: {track_list}.",
                pick(_CONFERENCE_KEYNOTES, *key, "keynote").format(topic=conference.topic),
                pick(_CONFERENCE_FORMAT, *key, "format"),
                pick(_CONFERENCE_ACCESS, *key, "access"),
                pick(_CONFERENCE_TICKETS, *key, "tickets"),
            ]
            entries.append(
                entry(
                    f"conference-{slug(conference.name)}-{slug(city_name)}-{start.year}",
                    f"{conference.name} {start.year}, {city_name}",
                    " ".join(sentences),
                    ("conference", conference.topic, city_name),
                )
            )
    return entries
