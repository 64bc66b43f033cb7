"""Cities and venues: the places every listing and travel guide refers to."""

from __future__ import annotations

from dataclasses import dataclass

from nexus_search.tools.catalog_parts.helpers import Entry, entry, pick, slug


@dataclass(frozen=True)
class City:
    name: str
    country: str
    transport: str  # completes "Most visitors arrive by ..."
    notes: tuple[str, ...]  # general, durable advice for the travel guide


CITIES: tuple[City, ...] = (
    City(
        "London",
        "United Kingdom",
        "Underground, Overground or bus",
        (
            "Contactless bank cards and phones work on the Underground, buses and most "
            "trains, and daily fares are capped automatically.",
            "On Friday and Saturday nights some Underground lines run through the night, "
            "and night buses cover the rest of the city.",
            "Crowds at the big stations after a concert can mean queues of half an hour; "
            "walking one stop further is often quicker.",
        ),
    ),
    City(
        "Manchester",
        "United Kingdom",
        "Metrolink tram or train",
        (
            "The Metrolink tram network links the city centre with the suburbs and runs "
            "extra trams after major concerts and matches.",
            "The city centre is compact, so many venues are within a twenty-minute walk of "
            "Piccadilly and Victoria stations.",
        ),
    ),
    City(
        "Glasgow",
        "United Kingdom",
        "train, Subway or bus",
        (
            "The Subway is a single circular line with two directions, inner and outer, and "
            "reaches most of the West End and the city centre.",
            "Glasgow has a famously busy live music scene, so book hotels early when a big "
            "tour comes to town.",
        ),
    ),
    City(
        "Dublin",
        "Ireland",
        "Luas tram, DART or bus",
        (
            "The Luas trams and DART trains are the quickest ways across the city; Leap "
            "cards and contactless cards give cheaper fares than cash.",
            "Hotels fill up quickly on weekends with big rugby or football fixtures, so book "
            "early.",
        ),
    ),
    City(
        "Lisbon",
        "Portugal",
        "metro or tram",
        (
            "Lisbon is built on steep hills; comfortable shoes make the walk from the "
            "nearest metro station much easier.",
            "The metro has four lines and is the simplest way to reach the riverside "
            "venues in the east of the city.",
            "Rechargeable transport cards are sold at metro stations and work on trams, "
            "buses and the river ferries.",
        ),
    ),
    City(
        "Porto",
        "Portugal",
        "metro or bus",
        (
            "Porto's light metro connects the airport with the city centre in around half an hour.",
            "The historic centre is hilly and many streets are cobbled, so leave heels at "
            "the hotel.",
        ),
    ),
    City(
        "Madrid",
        "Spain",
        "metro or commuter train",
        (
            "Madrid's metro is one of the largest in Europe and reaches every major venue.",
            "Evenings start late in Spain: concerts often begin at 21:30 and restaurants "
            "fill up after 22:00.",
        ),
    ),
    City(
        "Barcelona",
        "Spain",
        "metro, bus or bike",
        (
            "Multi-journey transport cards are good value if you will use the metro and "
            "buses several times during your stay.",
            "Summer evenings are warm and busy; carry water and keep an eye on your phone "
            "in crowded areas.",
        ),
    ),
    City(
        "Paris",
        "France",
        "Métro or RER",
        (
            "The Métro and RER trains reach every arena and concert hall; buy tickets on your "
            "phone or at machines in the stations.",
            "Trains run until around one in the morning, later on Saturday nights, so check "
            "the last departure before an encore.",
        ),
    ),
    City(
        "Lyon",
        "France",
        "metro or tram",
        (
            "Lyon's metro and trams are frequent and easy to navigate, and the Part-Dieu "
            "station connects to high-speed trains from Paris.",
            "The city is known for its food; book a table in advance on event nights.",
        ),
    ),
    City(
        "Amsterdam",
        "Netherlands",
        "tram, metro or bicycle",
        (
            "Cycling is the local way to get around, but large venues have limited bicycle "
            "parking, so arrive early or take the tram.",
            "Trams and metros accept contactless bank cards; check in and check out every "
            "time to avoid paying the maximum fare.",
        ),
    ),
    City(
        "Rotterdam",
        "Netherlands",
        "metro, tram or water taxi",
        (
            "Rotterdam's metro and trams run across the river Maas, and water taxis are a "
            "quick and memorable way to cross after dark.",
            "Direct trains reach Amsterdam in well under an hour.",
        ),
    ),
    City(
        "Brussels",
        "Belgium",
        "metro, tram or train",
        (
            "Brussels has three main railway stations and a metro that links them; "
            "international trains arrive at Brussels-Midi.",
            "Many signs are in both French and Dutch.",
        ),
    ),
    City(
        "Berlin",
        "Germany",
        "U-Bahn, S-Bahn or tram",
        (
            "U-Bahn and S-Bahn trains run all night at weekends, which suits a city where "
            "clubs stay open until morning.",
            "Buy and validate your ticket before boarding; inspectors check regularly.",
            "Venues are spread across the city, so leave forty minutes for cross-town journeys.",
        ),
    ),
    City(
        "Hamburg",
        "Germany",
        "U-Bahn, S-Bahn or harbour ferry",
        (
            "Harbour ferries are part of the public transport network and offer a cheap "
            "tour of the port on your way to a riverside venue.",
            "The weather changes fast near the Elbe, so bring a layer even in summer.",
        ),
    ),
    City(
        "München",
        "Germany",
        "U-Bahn or S-Bahn",
        (
            "Munich's U-Bahn runs extra trains to the stadium on match days; allow for "
            "crowds on the platforms afterwards.",
            "Hotels are expensive and scarce during the autumn beer festival, so check the "
            "calendar before you book.",
        ),
    ),
    City(
        "Düsseldorf",
        "Germany",
        "U-Bahn, tram or train",
        (
            "The light rail network connects the old town, the Rhine promenade and the "
            "trade fair grounds.",
            "Regional trains link Düsseldorf with Cologne and the Ruhr cities in under an hour.",
        ),
    ),
    City(
        "Zürich",
        "Switzerland",
        "tram, train or bus",
        (
            "Zürich's trams are frequent and punctual, and one ticket covers trams, buses, "
            "trains and lake boats within the zones you choose.",
            "Prices are high; a day pass quickly pays for itself.",
        ),
    ),
    City(
        "Vienna",
        "Austria",
        "U-Bahn or tram",
        (
            "The U-Bahn runs through the night on Fridays, Saturdays and before public holidays.",
            "Concert halls are strict about start times; latecomers wait until a suitable "
            "break to be seated.",
        ),
    ),
    City(
        "Prague",
        "Czech Republic",
        "metro or tram",
        (
            "Trams cover the city centre densely and night trams run after the metro closes.",
            "Validate paper tickets when you board; fines for unvalidated tickets are common.",
        ),
    ),
    City(
        "Kraków",
        "Poland",
        "tram or on foot",
        (
            "The old town is compact and walkable, and trams reach the districts beyond it.",
            "Jazz clubs in Kraków are often in vaulted cellars, which stay cool in summer "
            "but can feel crowded.",
        ),
    ),
    City(
        "Warsaw",
        "Poland",
        "metro or tram",
        (
            "Two metro lines cross the city, and trams fill in the gaps between them.",
            "The national stadium sits on the east bank of the Vistula, a short walk across "
            "the bridge from the centre.",
        ),
    ),
    City(
        "Copenhagen",
        "Denmark",
        "metro or bicycle",
        (
            "The driverless metro runs around the clock, and the airport is fifteen "
            "minutes from the centre.",
            "Cycling is the fastest way around town; follow local etiquette and signal "
            "before you stop.",
        ),
    ),
    City(
        "Malmö",
        "Sweden",
        "bus or train",
        (
            "Trains cross the Öresund bridge to Copenhagen in under forty minutes, which "
            "makes Malmö an easy trip from Danish venues.",
            "Most places are card-only; cash is rarely needed.",
        ),
    ),
    City(
        "Stockholm",
        "Sweden",
        "tunnelbana or ferry",
        (
            "The tunnelbana stations are decorated with art and worth a look on the way to "
            "your event.",
            "Stockholm is spread across islands; ferries are part of the public transport network.",
        ),
    ),
    City(
        "Oslo",
        "Norway",
        "T-bane or tram",
        (
            "The T-bane metro fans out from the centre to the suburbs and hills around the fjord.",
            "Alcohol is expensive and shops stop selling beer early in the evening.",
        ),
    ),
    City(
        "Helsinki",
        "Finland",
        "tram or metro",
        (
            "Trams criss-cross the compact centre, and ferries run to the islands in the harbour.",
            "Winter nights are long and cold, so pack proper layers for the walk back.",
        ),
    ),
    City(
        "Reykjavík",
        "Iceland",
        "bus or on foot",
        (
            "There are no trains in Iceland; city buses and a good pair of boots will get "
            "you around Reykjavík.",
            "The airport at Keflavík is about forty-five minutes away by coach.",
        ),
    ),
    City(
        "Milan",
        "Italy",
        "metro or tram",
        (
            "Milan's metro reaches the trade fair grounds and the big concert venues, and "
            "historic trams still run through the centre.",
            "Aperitivo hour, early in the evening, is a good time to eat before a show.",
        ),
    ),
    City(
        "Rome",
        "Italy",
        "metro, tram or bus",
        (
            "The metro network is small, so buses and trams do much of the work; allow "
            "plenty of time in traffic.",
            "Summer heat is intense, and open-air concerts start after sunset for good reason.",
        ),
    ),
    City(
        "Istanbul",
        "Türkiye",
        "metro, tram or ferry",
        (
            "Ferries across the Bosphorus are part of daily commuting and a wonderful way "
            "to arrive at a waterside venue.",
            "Traffic can be heavy; rail and ferries are usually faster than taxis.",
        ),
    ),
    City(
        "New York",
        "United States",
        "subway or commuter rail",
        (
            "The subway runs twenty-four hours a day, although some lines run less often "
            "late at night.",
            "Tap a contactless card or phone at the turnstile; fares are capped after a "
            "number of rides in a week.",
        ),
    ),
    City(
        "Chicago",
        "United States",
        "'L' train or bus",
        (
            "The elevated 'L' trains loop around downtown and reach the ballparks and "
            "lakefront venues.",
            "Wind off Lake Michigan makes evenings colder than the forecast suggests.",
        ),
    ),
    City(
        "Austin",
        "United States",
        "bus, rideshare or on foot",
        (
            "Austin's live music venues cluster around downtown, so many are within walking "
            "distance of each other.",
            "During festival season hotels sell out months ahead and prices rise sharply.",
        ),
    ),
    City(
        "Toronto",
        "Canada",
        "subway or streetcar",
        (
            "The subway and streetcars cover downtown well, and the waterfront venues are a "
            "short walk from Union Station.",
            "Winters are cold; the underground PATH walkway links many downtown buildings.",
        ),
    ),
    City(
        "Montréal",
        "Canada",
        "métro",
        (
            "The métro is quick and reliable, and an underground pedestrian network keeps you "
            "out of the snow in winter.",
            "Montréal is French-speaking; a bonjour goes a long way.",
        ),
    ),
    City(
        "Mexico City",
        "Mexico",
        "Metro or Metrobús",
        (
            "The city sits at around 2,240 metres, so drink plenty of water and take it easy "
            "on your first day.",
            "The Metro is cheap and extensive but very crowded at rush hour.",
        ),
    ),
    City(
        "São Paulo",
        "Brazil",
        "metro or train",
        (
            "Traffic in São Paulo is notoriously heavy; the metro is usually the fastest way "
            "to a venue.",
            "Concerts and parties start late and go on late.",
        ),
    ),
    City(
        "Buenos Aires",
        "Argentina",
        "Subte or bus",
        (
            "The Subte underground and the city's many bus lines use the same rechargeable card.",
            "Dinner is rarely before 21:00, and tango halls get busy after midnight.",
        ),
    ),
    City(
        "Tokyo",
        "Japan",
        "train or subway",
        (
            "Rechargeable IC cards such as Suica or Pasmo work on almost every train, "
            "subway and bus.",
            "Most trains stop around midnight, so check your last train before an encore.",
            "Venues are strict about start times, and concerts often finish by 21:00.",
        ),
    ),
    City(
        "Osaka",
        "Japan",
        "subway or train",
        (
            "Osaka's subway and private railways connect the entertainment districts of "
            "Namba and Umeda.",
            "The city is known for street food; try takoyaki before the show.",
        ),
    ),
    City(
        "Seoul",
        "South Korea",
        "subway or bus",
        (
            "Seoul's subway is extensive and signposted in Korean and English; a T-money "
            "card works on subways, buses and in convenience stores.",
            "Large concerts sell merchandise outside the venue hours before doors open, so "
            "queue early if you want it.",
        ),
    ),
    City(
        "Singapore",
        "Singapore",
        "MRT",
        (
            "The MRT is clean, air-conditioned and accepts contactless cards; eating and "
            "drinking on trains is not allowed.",
            "Afternoon thunderstorms are frequent, so carry a light rain jacket.",
        ),
    ),
    City(
        "Sydney",
        "Australia",
        "train, ferry or light rail",
        (
            "Trains, buses, ferries and light rail all accept contactless payment.",
            "Harbour ferries are a scenic way to reach waterfront venues.",
        ),
    ),
    City(
        "Melbourne",
        "Australia",
        "tram or train",
        (
            "Trams within the central business district are free, and a myki card or "
            "contactless payment covers the rest.",
            "Melbourne can see four seasons in a day, so bring a jacket.",
        ),
    ),
    City(
        "Auckland",
        "New Zealand",
        "bus, train or ferry",
        (
            "Ferries link the downtown waterfront with the harbour suburbs.",
            "An AT HOP card gives discounted fares on buses, trains and ferries.",
        ),
    ),
    City(
        "Cape Town",
        "South Africa",
        "MyCiTi bus or e-hailing",
        (
            "MyCiTi buses serve the city centre and the Atlantic seaboard; after dark most "
            "visitors book an e-hailing ride.",
            "The wind, known locally as the Cape Doctor, can be strong in summer.",
        ),
    ),
    City(
        "Nairobi",
        "Kenya",
        "matatu, bus or e-hailing",
        (
            "Traffic can be heavy at rush hour; plan to arrive well before kick-off or the "
            "first act.",
            "Evenings are cooler than visitors expect because of the altitude.",
        ),
    ),
)

CITY_BY_NAME = {city.name: city for city in CITIES}


@dataclass(frozen=True)
class Venue:
    name: str
    city: str
    kind: str
    capacity: int
    opened: int

    @property
    def id(self) -> str:
        return f"venue-{slug(self.name)}"


VENUES: tuple[Venue, ...] = (
    Venue("Thameside Arena", "London", "arena", 19000, 2004),
    Venue("Camden Lock Ballroom", "London", "ballroom", 2300, 1921),
    Venue("Old Street Works", "London", "club", 850, 2012),
    Venue("Lea Valley Stadium", "London", "stadium", 60000, 2011),
    Venue("Irwell Hall", "Manchester", "concert hall", 2400, 1996),
    Venue("Ancoats Depot", "Manchester", "club", 1100, 2015),
    Venue("Ship Canal Stadium", "Manchester", "stadium", 52000, 2003),
    Venue("Clydebank Arena", "Glasgow", "arena", 13000, 2013),
    Venue("Kelvin Park Stadium", "Glasgow", "stadium", 50000, 1903),
    Venue("Liffey Quay Theatre", "Dublin", "theatre", 1600, 1988),
    Venue("Docklands Stadium", "Dublin", "stadium", 48000, 2010),
    Venue("Tejo Pavilion", "Lisbon", "arena", 20000, 1998),
    Venue("Alfama Stage", "Lisbon", "club", 600, 2009),
    Venue("Ribeira Concert House", "Porto", "concert hall", 1300, 2005),
    Venue("Manzanares Stadium", "Madrid", "stadium", 68000, 1994),
    Venue("Sala Lavapiés", "Madrid", "club", 900, 2001),
    Venue("Montjuïc Open-Air Theatre", "Barcelona", "open-air amphitheatre", 4500, 1929),
    Venue("Poblenou Convention Centre", "Barcelona", "convention centre", 15000, 2011),
    Venue("Salle Lumière", "Paris", "theatre", 1900, 1932),
    Venue("Canal Saint-Martin Hall", "Paris", "concert hall", 2800, 2016),
    Venue("Confluence Convention Centre", "Lyon", "convention centre", 8000, 2014),
    Venue("IJ Harbour Hall", "Amsterdam", "concert hall", 3500, 2007),
    Venue("Noord Warehouse", "Amsterdam", "club", 1400, 2018),
    Venue("Maas Dome", "Rotterdam", "arena", 15000, 2001),
    Venue("Sablon Theatre", "Brussels", "theatre", 1200, 1911),
    Venue("Spree Arena", "Berlin", "arena", 17000, 2008),
    Venue("Hallesches Ufer Club", "Berlin", "club", 1500, 2004),
    Venue("Berlin Congress Forum", "Berlin", "convention centre", 12000, 2010),
    Venue("Elbe Quay Hall", "Hamburg", "concert hall", 2100, 2017),
    Venue("Isar Stadium", "München", "stadium", 71000, 2005),
    Venue("Rheinufer Theater", "Düsseldorf", "theatre", 1400, 1970),
    Venue("Limmat Hall", "Zürich", "concert hall", 1800, 1999),
    Venue("Donau Arena", "Vienna", "arena", 16000, 2003),
    Venue("Vltava Music Hall", "Prague", "concert hall", 1700, 1936),
    Venue("Kazimierz Jazz Cellar", "Kraków", "jazz club", 220, 1994),
    Venue("Vistula Stadium", "Warsaw", "stadium", 58000, 2012),
    Venue("Praga Arena", "Warsaw", "arena", 7000, 2011),
    Venue("Refshaleøen Hall", "Copenhagen", "club", 2000, 2019),
    Venue("Ørestad Arena", "Copenhagen", "arena", 15000, 2017),
    Venue("Öresund Arena", "Malmö", "arena", 12500, 2008),
    Venue("Södermalm Theatre", "Stockholm", "theatre", 1100, 1925),
    Venue("Skanstull Arena", "Stockholm", "arena", 13500, 1989),
    Venue("Fjord Concert Hall", "Oslo", "concert hall", 1600, 2008),
    Venue("Bjørvika Arena", "Oslo", "arena", 9000, 2016),
    Venue("Kallio Stage", "Helsinki", "club", 700, 2013),
    Venue("Töölö Ice Arena", "Helsinki", "arena", 8200, 1966),
    Venue("Harbour Lights Hall", "Reykjavík", "concert hall", 1800, 2011),
    Venue("Navigli Jazz Club", "Milan", "jazz club", 300, 1985),
    Venue("Lambro Arena", "Milan", "arena", 12000, 2009),
    Venue("Tiber Open-Air Theatre", "Rome", "open-air amphitheatre", 3000, 1990),
    Venue("Bosphorus Convention Centre", "Istanbul", "convention centre", 9000, 2009),
    Venue("Gowanus Ballroom", "New York", "ballroom", 1800, 1927),
    Venue("East River Arena", "New York", "arena", 18500, 2012),
    Venue("Lakeshore Ballpark", "Chicago", "stadium", 41000, 1989),
    Venue("Congress Avenue Music Hall", "Austin", "concert hall", 2700, 2011),
    Venue("Harbourfront Pavilion", "Toronto", "open-air amphitheatre", 9000, 2003),
    Venue("Union Ice Centre", "Toronto", "arena", 19000, 1999),
    Venue("Plateau Jazz Room", "Montréal", "jazz club", 350, 1979),
    Venue("Saint-Laurent Arena", "Montréal", "arena", 21000, 1996),
    Venue("Coyoacán Forum", "Mexico City", "arena", 20000, 1997),
    Venue("Paulista Convention Centre", "São Paulo", "convention centre", 10000, 2006),
    Venue("Palermo Tango Hall", "Buenos Aires", "ballroom", 900, 1942),
    Venue("Sumida Riverside Hall", "Tokyo", "concert hall", 2000, 1997),
    Venue("Odaiba Convention Centre", "Tokyo", "convention centre", 20000, 1996),
    Venue("Namba Live House", "Osaka", "club", 800, 2010),
    Venue("Han River Arena", "Seoul", "arena", 15000, 2014),
    Venue("Marina Waterfront Theatre", "Singapore", "theatre", 1900, 2002),
    Venue("Pyrmont Wharf Stage", "Sydney", "open-air amphitheatre", 6000, 2015),
    Venue("Southbank Oval", "Melbourne", "stadium", 45000, 2000),
    Venue("Waitematā Arena", "Auckland", "arena", 11000, 2007),
    Venue("Hauraki Park Stadium", "Auckland", "stadium", 42000, 1999),
    Venue("Table Bay Stadium", "Cape Town", "stadium", 55000, 2009),
    Venue("Ngong Road Grounds", "Nairobi", "stadium", 30000, 1998),
)

_VENUE_INTROS: dict[str, tuple[str, ...]] = {
    "arena": (
        "{name} is {city}'s largest indoor arena, opened in {opened} and used for concerts, "
        "basketball, ice hockey and family shows.",
        "Opened in {opened}, {name} is a multi-purpose indoor arena in {city} that hosts "
        "world tours, indoor sports and the occasional ice show.",
    ),
    "stadium": (
        "{name} is an open-air stadium in {city}, home to football and rugby fixtures since "
        "{opened} and, in summer, to the biggest stadium concerts.",
        "Built in {opened}, {name} is one of {city}'s landmark sports grounds, with steep "
        "stands that keep every seat close to the action.",
    ),
    "concert hall": (
        "{name} is a concert hall in {city}, opened in {opened} and admired for its warm, "
        "clear acoustics.",
        "Since {opened}, {name} has been one of the main stages for orchestral, choral and "
        "acoustic music in {city}.",
    ),
    "theatre": (
        "{name} is a historic theatre in {city}, first opened in {opened}, with a horseshoe "
        "auditorium and ornate balconies.",
        "Dating from {opened}, {name} stages drama, dance, comedy and seated concerts in the "
        "heart of {city}.",
    ),
    "club": (
        "{name} is a live music club in {city}, open since {opened}, with a standing floor "
        "and a sound system that artists love.",
        "Opened in {opened} in a former industrial building, {name} is one of {city}'s "
        "favourite venues for new bands and late-night DJ sets.",
    ),
    "ballroom": (
        "{name} is a restored {opened} ballroom in {city} with a sprung dance floor and a "
        "wraparound balcony.",
        "Built as a dance hall in {opened}, {name} now hosts concerts, club nights and "
        "dance events in {city}.",
    ),
    "convention centre": (
        "{name} is a convention centre in {city}, opened in {opened}, with an auditorium, "
        "exhibition halls and dozens of meeting rooms.",
        "Since {opened}, {name} has hosted trade fairs, congresses and technology "
        "conferences in {city}.",
    ),
    "open-air amphitheatre": (
        "{name} is an open-air amphitheatre in {city}, in use since {opened}, with stone "
        "terraces facing a covered stage.",
        "Dating from {opened}, {name} is {city}'s favourite summer venue, with tiered "
        "seating under the open sky.",
    ),
    "jazz club": (
        "{name} is an intimate jazz club in {city}, open since {opened}, where the band "
        "plays a few steps from the front tables.",
        "Since {opened}, {name} has been a late-night home for jazz in {city}, with two sets "
        "a night and a jam session on Mondays.",
    ),
}

_VENUE_CAPACITY = (
    "It holds up to {capacity} people.",
    "Capacity is {capacity}, depending on the stage layout.",
    "The venue welcomes up to {capacity} visitors for its largest events.",
)

_VENUE_TRANSPORT = (
    "Most visitors arrive by {transport}; allow extra time after big events, when queues "
    "build at the nearest stops.",
    "The easiest way to get there is by {transport}, and the last stretch is a short walk "
    "from the stop.",
    "Getting there is simple by {transport}; parking nearby is limited and expensive.",
)

_VENUE_ACCESS: dict[str, tuple[str, ...]] = {
    "default": (
        "Step-free routes lead from the main entrance to every level, and wheelchair spaces "
        "with companion seats can be booked online.",
        "There are lifts to all floors, accessible toilets on each level and a hearing loop "
        "at the box office.",
        "Wheelchair users and visitors with limited mobility can use a dedicated entrance "
        "with shorter queues.",
    ),
    "club": (
        "There is a raised viewing platform for wheelchair users beside the sound desk; "
        "let the venue know you are coming so staff can meet you.",
        "The main floor is step-free, but the balcony is reached by stairs only.",
    ),
    "jazz club": (
        "The club is below street level and reached by a staircase, so it is not accessible "
        "to wheelchair users; staff are happy to help with other needs.",
        "There is a step at the entrance and a portable ramp available on request.",
    ),
}

_VENUE_BAGS: dict[str, tuple[str, ...]] = {
    "default": (
        "Bags larger than A4 are not allowed and every bag is searched at the door.",
        "Bring as little as possible: small bags only, and no food or drink from outside.",
    ),
    "stadium": (
        "A strict small-bag policy applies: one bag no larger than A4 per person, and no "
        "rucksacks.",
        "Only clear bags smaller than A4 are allowed through the turnstiles.",
    ),
    "concert hall": (
        "Large coats and bags must be left at the free cloakroom before you take your seat.",
        "Latecomers are admitted at a suitable break in the performance.",
    ),
    "convention centre": (
        "Delegates collect badges at registration desks in the main foyer; photo ID may be "
        "requested.",
        "Left-luggage facilities are available for delegates arriving straight from the airport.",
    ),
}

_VENUE_FOOD = (
    "Food stalls and bars open with the doors, and the venue is fully cashless.",
    "The bar serves local beers, soft drinks and hot food until the interval.",
    "Several restaurants nearby offer pre-show menus; book ahead on busy nights.",
    "Water refill points are free, so bring an empty bottle.",
)

_VENUE_TIPS = (
    "Tip: the side entrance is usually quieter than the main doors.",
    "Tip: sound is best in the middle of the floor, just in front of the mixing desk.",
    "Tip: follow the venue in the app to receive door times and delays as live updates.",
    "Tip: the upper seats are cheaper and still have a clear view of the stage.",
    "Tip: queues for the cloakroom are shortest during the support act.",
)


def venue_entries() -> list[Entry]:
    entries: list[Entry] = []
    for venue in VENUES:
        city = CITY_BY_NAME[venue.city]
        fields = {
            "name": venue.name,
            "city": venue.city,
            "opened": venue.opened,
            "capacity": f"{venue.capacity:,}",
            "transport": city.transport,
        }
        sentences = [
            pick(_VENUE_INTROS[venue.kind], venue.name, "intro"),
            pick(_VENUE_CAPACITY, venue.name, "capacity"),
            pick(_VENUE_TRANSPORT, venue.name, "transport"),
            pick(_VENUE_ACCESS.get(venue.kind, _VENUE_ACCESS["default"]), venue.name, "a"),
            pick(_VENUE_BAGS.get(venue.kind, _VENUE_BAGS["default"]), venue.name, "bags"),
            pick(_VENUE_FOOD, venue.name, "food"),
            pick(_VENUE_TIPS, venue.name, "tip"),
        ]
        body = " ".join(sentence.format(**fields) for sentence in sentences)
        title = f"{venue.name}, {venue.city}: venue guide"
        tags = ("venue", venue.kind, venue.city, city.country)
        entries.append(entry(venue.id, title, body, tags))
    return entries
