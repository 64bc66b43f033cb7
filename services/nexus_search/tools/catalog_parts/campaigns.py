"""Campaign-scoped entries: visible only to the campaigns listed."""

from __future__ import annotations

from nexus_search.tools.catalog_parts.helpers import Entry, entry

_CAMPAIGN_ENTRIES: tuple[tuple[str, str, str, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "acme-rewards-presale",
        "Acme Rewards: early access to presales",
        "Acme Rewards members get access to tickets forty-eight hours before the general sale "
        "for selected concerts and festivals. Sign in with the account linked to your Acme "
        "card and a presale badge appears on eligible events. The Acme allocation is separate "
        "from the artist presale, so you can try both. Tickets bought in the Acme presale "
        "follow the usual refund and transfer rules.",
        ("presale", "rewards", "partner"),
        ("acme",),
    ),
    (
        "acme-lounge-thameside",
        "Acme cardholder lounge at Thameside Arena",
        "Acme cardholders can use a private lounge on level two of Thameside Arena on concert "
        "nights. The lounge opens with the doors and closes at the start of the headline set, "
        "with a cash bar, complimentary soft drinks and its own toilets. Show your Acme card "
        "and your ticket at the lounge entrance; each cardholder may bring one guest.",
        ("lounge", "hospitality", "partner", "London"),
        ("acme",),
    ),
    (
        "acme-conference-discount",
        "Acme employee discount on conference passes",
        "Acme employees receive twenty per cent off full passes for every conference in the "
        "catalog, including the Realtime Systems Forum and Cloud Native Days. Sign in with "
        "your Acme work account using single sign-on and the discount is applied at checkout "
        "automatically. Passes are charged to your team's cost centre; speak to your manager "
        "before booking workshops.",
        ("conference", "discount", "business"),
        ("acme",),
    ),
    (
        "acme-hospitality-isar",
        "Acme hospitality boxes at Isar Stadium",
        "Acme has two private boxes at Isar Stadium in München for home football fixtures. "
        "Each box seats twelve guests and includes a three-course meal, drinks and padded "
        "seats on the balcony. Boxes are allocated to teams for client entertainment; "
        "requests must be made four weeks in advance through the Acme events desk.",
        ("hospitality", "football", "business", "München"),
        ("acme",),
    ),
    (
        "acme-summer-roadshow",
        "Acme Summer Roadshow 2026",
        "The Acme Summer Roadshow visits Lisbon, Berlin and Toronto in June and July 2026 "
        "with product demos, customer workshops and an evening concert for customers. "
        "Registration is free for Acme customers and partners. Live updates about session "
        "rooms and timings are pushed to registered attendees through the app.",
        ("roadshow", "business", "conference"),
        ("acme",),
    ),
    (
        "acme-support-line",
        "Acme cardholder support line",
        "Acme cardholders have a dedicated support line for ticketing questions, open every "
        "day from 07:00 to 23:00. Our team can help with presale access, lounge entry, "
        "refunds and transfers for tickets bought with an Acme card. For questions about "
        "your card or points balance, contact Acme directly.",
        ("support", "partner"),
        ("acme",),
    ),
    (
        "demo-sample-event",
        "Demo: sample concert for testing live updates",
        "This sample concert exists only in the demo campaign. It is scheduled every day at "
        "20:00 and cycles through door opening, support act, headline set, encore and "
        "curfew, publishing a live update at each step. Use it to check that your client "
        "receives real-time updates over the WebSocket connection and reconnects without "
        "losing messages.",
        ("demo", "live updates", "testing", "real-time"),
        ("demo",),
    ),
    (
        "demo-sandbox-overview",
        "Demo: how the sandbox campaign works",
        "The demo campaign is a sandbox for partners integrating with the event mesh. Events, "
        "orders and tickets in the sandbox are fictional and reset every night at 03:00 UTC. "
        "Nothing you do here charges a real card or sends email to real customers. Search "
        "results in the demo campaign include these demo articles as well as the public "
        "catalog.",
        ("demo", "sandbox", "developers"),
        ("demo",),
    ),
    (
        "demo-test-payments",
        "Demo: test tickets and fake payments",
        "In the demo campaign, checkout accepts test card numbers only. Use a card number "
        "ending in 4242 for a successful payment, 0002 for a declined payment and 3155 to "
        "trigger an extra authentication step. Test tickets have real barcodes that scan "
        "only on the demo scanner app.",
        ("demo", "payments", "testing"),
        ("demo",),
    ),
    (
        "demo-reset-data",
        "Demo: resetting the sandbox data",
        "Sandbox data resets automatically every night, but you can reset your own partner "
        "space at any time from the developer portal. A reset removes test orders, tickets "
        "and webhooks, then recreates the sample events. Resets take about a minute, during "
        "which the API answers with a retriable error.",
        ("demo", "sandbox", "developers"),
        ("demo",),
    ),
    (
        "demo-live-score-feed",
        "Demo: simulated live score feed",
        "The demo campaign includes a simulated football match that kicks off every hour on "
        "the hour. Goals, cards and substitutions are generated in a fixed sequence, so "
        "integration tests can assert on exactly what arrives. The match lasts twelve "
        "minutes of real time, including a two-minute half-time break.",
        ("demo", "sports", "live scores", "testing"),
        ("demo",),
    ),
    (
        "globex-screening",
        "Globex partner night: private film screening",
        "Globex staff and their guests are invited to a private screening during Harbour Film "
        "Days in Hamburg, followed by a question-and-answer session with the director. Seats "
        "are limited to two per employee and are released in order of registration. The "
        "screening is subtitled in English and German.",
        ("film", "partner", "Hamburg"),
        ("globex",),
    ),
    (
        "globex-conference-pass",
        "Globex staff conference passes",
        "Globex pays for one conference pass per engineer each year. Choose any conference "
        "in the catalog, book with your Globex work account and the pass is invoiced to the "
        "company. Travel and hotel are booked separately through the Globex travel portal.",
        ("conference", "business", "partner"),
        ("globex",),
    ),
    (
        "preview-seat-viewer",
        "Preview: the new 3D seat viewer",
        "A new seat viewer shows a 3D view of the stage from any seat before you buy. It is "
        "being trialled with selected partners and in the demo campaign before a wider "
        "release. Send feedback from the viewer's menu; we are particularly interested in "
        "how it works on older phones.",
        ("preview", "seating", "app"),
        ("acme", "demo"),
    ),
)


def campaign_entries() -> list[Entry]:
    return [
        entry(f"campaign-{key}", title, body, tags, campaigns)
        for key, title, body, tags, campaigns in _CAMPAIGN_ENTRIES
    ]
