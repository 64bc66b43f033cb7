"""Build ``services/nexus_search/catalog.json``, the catalog the search service ships.

The catalog is a help centre plus event listings for a live-events app: hand-written FAQ and
campaign entries, and venue, concert, conference, sports, festival and travel articles composed
from curated sentences. Venues, artists, clubs and events are fictional; cities are real and
their transport notes stay general so they do not go stale.

Variation comes from a hash of each entry's key rather than a random generator, so the output
is byte-for-byte reproducible on any Python version. The JSON file is the artefact that ships;
run this script after editing the parts, and ``--check`` in CI to catch a stale file::

    python services/nexus_search/tools/build_catalog.py [--check]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

CATALOG_PATH = Path(__file__).resolve().parents[1] / "catalog.json"

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


_TUESDAY = 1
_FRIDAY = 4


def _pick(options: Sequence[T], *key: object) -> T:
    digest = hashlib.blake2b("|".join(map(str, key)).encode(), digest_size=8).digest()
    return options[int.from_bytes(digest, "big") % len(options)]


def _slug(text: str) -> str:
    # NFKD splits accents from letters; the few letters with no decomposition are mapped.
    decomposed = unicodedata.normalize("NFKD", text.lower())
    ascii_text = decomposed.translate(_NO_DECOMPOSITION).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")


def _long_date(day: date) -> str:
    return f"{_WEEKDAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]} {day.year}"


def _event_date(*key: object) -> date:
    """A date in the 2026 season, spread by key so listings do not bunch up."""
    digest = hashlib.blake2b("|".join(map(str, key)).encode(), digest_size=8).digest()
    return date(2026, 2, 2) + timedelta(days=int.from_bytes(digest, "big") % 300)


def _entry(
    id_: str,
    title: str,
    body: str,
    tags: Sequence[str] = (),
    campaigns: Sequence[str] = (),
) -> Entry:
    entry: Entry = {"id": id_, "title": title, "body": " ".join(body.split())}
    if tags:
        entry["tags"] = list(tags)
    if campaigns:
        entry["campaigns"] = list(campaigns)
    return entry


# ---------------------------------------------------------------------------------------------
# Help centre
# ---------------------------------------------------------------------------------------------

_FAQ: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    (
        "create-account",
        "How do I create an account?",
        "Tap Sign up on the welcome screen and enter your email address, or continue with an "
        "Apple, Google or Microsoft account. We send a six-digit code to confirm the address; "
        "it expires after fifteen minutes. Once confirmed, you can follow artists, teams and "
        "venues, and your tickets appear in the Wallet tab. You must be at least sixteen to "
        "hold an account; younger fans can attend on tickets bought by a parent or guardian.",
        ("account", "sign up"),
    ),
    (
        "reset-password",
        "I forgot my password. How do I reset it?",
        "On the sign-in screen choose Forgot password and enter the email address on your "
        "account. A reset link arrives within a few minutes and stays valid for one hour. If "
        "nothing arrives, check your spam folder and make sure you used the same address you "
        "registered with. Resetting your password signs you out on every other device, which "
        "also stops anyone who may have guessed your old password.",
        ("account", "password", "security"),
    ),
    (
        "two-factor",
        "Turning on two-step verification",
        "Two-step verification protects your tickets if your password leaks. Open Settings, "
        "then Security, and choose an authenticator app or text messages. We strongly "
        "recommend an authenticator app, because text messages can be intercepted or delayed "
        "when you travel abroad. Save the recovery codes we show you somewhere safe: they are "
        "the only way back in if you lose your phone.",
        ("account", "security"),
    ),
    (
        "delete-account",
        "Can I delete my account?",
        "Yes. Go to Settings, Privacy and choose Delete account. If you hold tickets for "
        "upcoming events we ask you to transfer or resell them first, because deleted accounts "
        "cannot be restored and their tickets are cancelled without a refund. Your personal "
        "data is erased within thirty days; order records we must keep for tax purposes are "
        "retained in anonymised form.",
        ("account", "privacy"),
    ),
    (
        "change-email",
        "Changing the email address on your account",
        "Open Settings, Account and edit the email field. We send a confirmation code to the "
        "new address and a notice to the old one, so you will know if someone else tries to "
        "take over your account. Tickets, orders and followed artists move with the account; "
        "nothing needs to be re-bought. Receipts already sent stay in the old mailbox, but you "
        "can download them again from Orders.",
        ("account", "email"),
    ),
    (
        "single-sign-on",
        "Single sign-on for companies and agencies",
        "Organisations that buy tickets for staff or clients can connect their identity "
        "provider using SAML or OpenID Connect. Once set up, employees sign in with their work "
        "account and purchases are billed to the company. Administrators can limit which "
        "events staff may book, set spending caps per team and download a monthly statement. "
        "Contact our business team to enable single sign-on for your organisation.",
        ("account", "business", "sso"),
    ),
    (
        "buy-tickets",
        "How do I buy tickets?",
        "Find the event through search or an artist page, choose a date, pick your seats or "
        "ticket type and pay. Seats are held for ten minutes while you check out, so have your "
        "payment details ready. Your tickets appear in the Wallet tab as soon as payment "
        "succeeds, and a receipt is emailed to you. For popular on-sales we recommend signing "
        "in before tickets go on sale.",
        ("tickets", "purchase"),
    ),
    (
        "ticket-limits",
        "Why is there a limit on how many tickets I can buy?",
        "Organisers set a maximum number of tickets per customer, usually between four and "
        "eight, to keep tickets in the hands of fans rather than touts. The limit applies "
        "across all orders for the same event, including orders made with different cards. If "
        "you are booking for a larger group, see our page on group bookings: many venues offer "
        "a separate allocation for schools, clubs and companies.",
        ("tickets", "limits"),
    ),
    (
        "mobile-tickets",
        "Using mobile tickets at the door",
        "Most events use mobile tickets with a rotating barcode that refreshes every few "
        "seconds, which makes screenshots useless to anyone who copies them. Open the Wallet "
        "tab before you reach the gate, turn up your screen brightness and hold the barcode "
        "flat under the scanner. Tickets are stored on your phone, so they still open without "
        "signal once you have viewed them at least once.",
        ("tickets", "mobile", "entry"),
    ),
    (
        "print-tickets",
        "Can I print my tickets?",
        "Some organisers allow print-at-home tickets; when they do, a Download PDF button "
        "appears next to the ticket in your Wallet. Print each ticket on a separate sheet of "
        "white paper and make sure the barcode is not folded or creased. Events with rotating "
        "barcodes do not support printing. If you cannot use a smartphone, contact support and "
        "we will arrange collection at the box office instead.",
        ("tickets", "print", "entry"),
    ),
    (
        "transfer-ticket",
        "Transferring a ticket to a friend",
        "Open the ticket in your Wallet, choose Transfer and enter your friend's email address "
        "or phone number. They receive an invitation and the ticket moves to their account as "
        "soon as they accept it; until then you can cancel the transfer. Transfers are free. "
        "Some events restrict transfers in the final days before the show, and a few "
        "name-checked events do not allow them at all; the ticket page tells you which rules "
        "apply.",
        ("tickets", "transfer"),
    ),
    (
        "resale",
        "Reselling tickets you can no longer use",
        "If you cannot attend, list your tickets on our fan-to-fan resale marketplace. You set "
        "a price up to the original face value plus fees, and we pay you after the buyer's "
        "ticket has been reissued, usually within seven days of the event. Your original "
        "barcode is cancelled the moment the ticket sells, so the buyer is guaranteed a valid "
        "ticket and you are protected against disputes.",
        ("tickets", "resale"),
    ),
    (
        "refund-policy",
        "What is the refund policy?",
        "Tickets are generally non-refundable unless the event is cancelled, postponed or "
        "significantly changed. When an event is cancelled we refund the ticket price and "
        "booking fees automatically to the original payment method within fourteen days. For "
        "postponed events you may keep your tickets for the new date or request a refund "
        "within the window shown on the event page. Some organisers offer refund protection "
        "at checkout for illness and travel disruption.",
        ("tickets", "refunds", "policy"),
    ),
    (
        "event-cancelled",
        "My event has been cancelled. What happens now?",
        "We email and notify everyone holding tickets as soon as the organiser confirms a "
        "cancellation. Refunds are issued automatically to the card you paid with; you do not "
        "need to contact us. Banks usually show the money within five to ten working days. If "
        "you paid with a gift card, the balance is restored to the gift card. Travel and hotel "
        "costs are not covered, so check whether your booking or insurance offers protection.",
        ("tickets", "refunds", "cancellation"),
    ),
    (
        "event-postponed",
        "What happens when an event is postponed?",
        "Your tickets remain valid for the rescheduled date and move automatically; you do not "
        "need to do anything. If the new date does not suit you, the event page shows a "
        "refund window, usually thirty days from the announcement, during which you can "
        "request your money back. We send a live notification the moment a new date is "
        "confirmed, so keep notifications turned on for events you have booked.",
        ("tickets", "refunds", "postponement"),
    ),
    (
        "venue-change",
        "The venue for my event has changed",
        "Occasionally an organiser moves an event to a different venue, for example to a "
        "larger hall after strong demand. Your ticket stays valid and we reissue it with the "
        "new venue and, if needed, a new seat of the same price band or better. If the new "
        "venue is more than fifty kilometres away or you are otherwise unable to attend, you "
        "are entitled to a full refund.",
        ("tickets", "venue", "changes"),
    ),
    (
        "lost-ticket",
        "I cannot find my tickets",
        "Tickets live in the Wallet tab of the account that bought them. If the Wallet is "
        "empty, check that you are signed in with the same email address you used to order, "
        "and pull down to refresh. Tickets bought through a friend's account stay in their "
        "Wallet until they transfer them to you. Your order confirmation email also contains "
        "a link that opens the tickets directly.",
        ("tickets", "wallet"),
    ),
    (
        "name-on-ticket",
        "Does the name on the ticket have to match my ID?",
        "For most events, no. Some high-demand concerts and international sports fixtures are "
        "name-checked: the ticket carries the holder's name and staff may ask for photo ID at "
        "the gate. For these events, make sure the ticket has been transferred to the person "
        "attending, because the name is updated when a transfer is accepted. Accepted ID "
        "includes passports, driving licences and national identity cards.",
        ("tickets", "entry", "identity"),
    ),
    (
        "group-bookings",
        "Booking tickets for a large group",
        "For groups of ten or more, many venues offer a separate group allocation with seats "
        "together and a single invoice. Choose Group booking on the event page, tell us the "
        "size of your group and any access requirements, and the venue's group sales team "
        "replies within two working days. Schools, youth clubs and charities are often "
        "eligible for reduced prices.",
        ("tickets", "groups"),
    ),
    (
        "child-tickets",
        "Do children need a ticket?",
        "Policies differ by venue and event type. At most concerts every person needs a "
        "ticket, including babies in arms. Theatres often admit children from the age of five "
        "with a reduced-price ticket, and many football clubs sell junior tickets for under "
        "sixteens. Check the age policy section of the event page, which also lists whether "
        "under-fourteens must be accompanied by an adult.",
        ("tickets", "children", "family"),
    ),
    (
        "accessible-seating",
        "Booking accessible seating",
        "Wheelchair spaces, step-free seats and seats with extra legroom can be booked online "
        "by choosing Access requirements before you select seats. The first time you book, we "
        "ask for a short description of your needs so we can show the right options; you only "
        "need to do this once. If the seat map does not show what you need, our access team "
        "can reserve seats by phone or email.",
        ("accessibility", "tickets", "seating"),
    ),
    (
        "companion-tickets",
        "Free companion tickets for personal assistants",
        "Disabled customers who need a personal assistant to attend can book a free companion "
        "ticket alongside their own at most venues. Register once through Settings, Access, "
        "and the companion option appears automatically at checkout. The companion seat is "
        "always next to yours. Some venues ask for proof of eligibility, such as an Access "
        "Card or a benefits letter, the first time you book.",
        ("accessibility", "tickets", "companion"),
    ),
    (
        "vip-packages",
        "What is included in a VIP package?",
        "VIP packages vary by event, but usually combine a premium seat with extras such as "
        "early entry, a private bar, exclusive merchandise or a pre-show reception. Everything "
        "included is listed on the package page before you buy. Meet-and-greet sessions are "
        "scheduled by the artist's team and may change at short notice; we send a live update "
        "with your meeting time on the day.",
        ("tickets", "vip", "hospitality"),
    ),
    (
        "seat-map",
        "Reading the interactive seat map",
        "The seat map shows every available seat coloured by price band. Tap a section to zoom "
        "in, then tap individual seats to add them to your basket. Seats with a restricted "
        "view are marked with an eye icon and are cheaper for a reason: a pillar, a speaker "
        "stack or the edge of the stage may block part of the view. A preview from the seat "
        "is available for most large venues.",
        ("tickets", "seating"),
    ),
    (
        "waiting-room",
        "Why am I in a queue or waiting room?",
        "For high-demand on-sales we place everyone who arrives before tickets go on sale in a "
        "virtual waiting room, then let people in in a random order at the start time. "
        "Arriving earlier than others therefore gives no advantage, but arriving late does. "
        "Keep the page open: refreshing or opening several tabs does not move you forward, and "
        "your position is saved if your connection drops briefly.",
        ("tickets", "queue", "on-sale"),
    ),
    (
        "presale-codes",
        "How do presale codes work?",
        "Artists, venues and partners sometimes run presales before tickets go on general "
        "sale. Eligible fans receive a code by email or in the app; enter it on the event page "
        "when the presale opens. Codes are usually shared by many fans, so a code does not "
        "guarantee tickets, and presale allocations can sell out quickly. Any tickets left "
        "over are released in the general sale.",
        ("tickets", "presale", "on-sale"),
    ),
    (
        "payment-methods",
        "Which payment methods are accepted?",
        "We accept Visa, Mastercard and American Express credit and debit cards, Apple Pay, "
        "Google Pay and PayPal. In some countries local methods such as iDEAL, Bancontact, "
        "MB Way and Pix are also available. Gift card balances can be combined with another "
        "payment method. We do not accept cash or bank transfers for online orders, but most "
        "box offices take cash in person.",
        ("payments",),
    ),
    (
        "payment-declined",
        "My payment was declined",
        "Declined payments are usually caused by the bank's fraud checks, particularly for "
        "large or overseas purchases. Approve the payment in your banking app if asked, check "
        "that the billing address matches your card, and try again. If it still fails, try a "
        "different card or a wallet such as Apple Pay. We never charge you for a declined "
        "payment, although your bank may show a temporary hold that disappears within days.",
        ("payments", "troubleshooting"),
    ),
    (
        "currency",
        "Which currency will I be charged in?",
        "Prices are shown and charged in the currency of the country where the event takes "
        "place, for example euros for a concert in Lisbon or yen for a show in Tokyo. Your "
        "bank converts the amount and may add a foreign transaction fee. The checkout shows "
        "an estimate in your home currency for information, but the final amount is decided "
        "by your card issuer.",
        ("payments", "currency", "travel"),
    ),
    (
        "invoice-vat",
        "Getting a VAT invoice",
        "Business customers can request an invoice showing VAT or sales tax from the Orders "
        "page. Choose the order, select Request invoice and enter your company name, address "
        "and tax number. Invoices are generated within a few minutes and can be downloaded as "
        "PDF. Invoices cannot be issued retrospectively for orders older than twelve months.",
        ("payments", "invoices", "business"),
    ),
    (
        "booking-fees",
        "Why do I pay a booking fee?",
        "Booking fees cover payment processing, customer support, fraud prevention and the "
        "technology that delivers your tickets and live updates. The full price, including "
        "all fees, is shown before you choose your seats, so there are no surprises at "
        "checkout. Fees are refunded when an event is cancelled. Buying at the venue box "
        "office in person usually avoids booking fees altogether.",
        ("payments", "fees"),
    ),
    (
        "gift-cards",
        "Buying and redeeming gift cards",
        "Gift cards are available in values from ten to five hundred in your local currency "
        "and can be sent by email on a date you choose. Recipients redeem them at checkout or "
        "add them to their account under Wallet, Gift cards. Gift cards are valid for three "
        "years, can be used across several orders and cannot be exchanged for cash.",
        ("payments", "gift cards"),
    ),
    (
        "promo-codes",
        "My promo code is not working",
        "Promo codes are case-sensitive and usually apply to specific events, dates or ticket "
        "types. Check the spelling, that the code has not expired and that the tickets in your "
        "basket are eligible. Only one promo code can be used per order. Codes from partner "
        "programmes may require you to sign in with the account linked to the partner.",
        ("payments", "discounts"),
    ),
    (
        "live-updates",
        "How live updates reach your phone",
        "While the app is open it keeps a lightweight WebSocket connection to our event mesh, "
        "so door times, set changes, live scores and queue announcements arrive within a "
        "second of being published. When the app is in the background we fall back to push "
        "notifications. If you lose signal, the app reconnects automatically and catches up "
        "on anything you missed, in order, without duplicates.",
        ("live updates", "real-time", "app"),
    ),
    (
        "notification-settings",
        "Choosing which notifications you receive",
        "Open Settings, Notifications to choose what we send you. Event alerts such as gate "
        "changes, delays and cancellations are always on for events you have tickets for, "
        "because they affect your plans on the day. Everything else is optional: new dates "
        "for artists you follow, presale reminders, live scores for your teams and weekly "
        "recommendations. Quiet hours pause non-urgent notifications overnight.",
        ("notifications", "settings", "app"),
    ),
    (
        "live-scores",
        "Following live scores",
        "Follow a team or a fixture to receive live scores, goals, wickets and final results "
        "in real time. The match centre shows a timeline of key moments, line-ups and "
        "substitutions. Scores are delivered over the same live connection as other event "
        "updates, so they typically arrive a few seconds before the television broadcast "
        "catches up. You can mute a match at any time from its page.",
        ("sports", "live scores", "real-time"),
    ),
    (
        "offline-mode",
        "Using the app without a connection",
        "Stadiums and festivals often have patchy mobile coverage. Tickets you have opened at "
        "least once are stored securely on your phone and work offline, and the event "
        "schedule, site map and venue information are cached too. Live updates resume as "
        "soon as a connection returns. Tip: open your tickets and the event page on your way "
        "to the venue, while you still have signal.",
        ("app", "offline", "connectivity"),
    ),
    (
        "connection-drops",
        "The app keeps saying Reconnecting",
        "A Reconnecting banner means the live connection was interrupted, usually because of "
        "weak signal, a captive Wi-Fi login page or a VPN. The app retries in the background "
        "with increasing pauses so it does not drain your battery, and resumes from the last "
        "update it received. If the banner stays for more than a minute, switch between Wi-Fi "
        "and mobile data or disable your VPN.",
        ("app", "connectivity", "troubleshooting", "real-time"),
    ),
    (
        "set-times",
        "When will the artist be on stage?",
        "Stage times are published by the organiser, usually on the day of the show, and "
        "appear on the event page under Schedule. Times can shift during the evening, so we "
        "push updates live as soon as the production team changes them. Support acts normally "
        "play thirty to forty-five minutes, and headliners at arena shows typically start "
        "between 20:30 and 21:15.",
        ("concerts", "schedule", "live updates"),
    ),
    (
        "door-times",
        "What time do doors open?",
        "Door times are shown on the event page and on your ticket. Arenas usually open one "
        "to one and a half hours before the first act, stadiums two hours before, and small "
        "clubs thirty minutes before. Allow extra time for security checks, especially if you "
        "have a bag. If door times change on the day we send a live notification to every "
        "ticket holder.",
        ("entry", "schedule", "venues"),
    ),
    (
        "live-stream",
        "Watching an event as a live stream",
        "Selected concerts, conferences and matches are streamed live in the app for ticket "
        "holders who cannot attend in person, or as stand-alone stream tickets. Streams adapt "
        "their quality to your connection and can be cast to a television. Conference streams "
        "include live captions and let you send questions to the moderator during Q&A "
        "sessions.",
        ("streaming", "live stream"),
    ),
    (
        "stream-buffering",
        "My live stream keeps buffering",
        "Buffering usually means your connection cannot keep up with the selected quality. "
        "Choose Auto quality in the player, close other apps that use the network and move "
        "closer to your Wi-Fi router. Streams need about five megabits per second for HD. If "
        "the stream stalls for everyone, the status banner in the player will say so and we "
        "will post live updates while the production team fixes it.",
        ("streaming", "troubleshooting"),
    ),
    (
        "replays",
        "Can I watch a stream again later?",
        "Many streamed events are available on demand for forty-eight hours after they end, "
        "and conference talks often stay available for thirty days. The replay appears in the "
        "same place as the live stream once processing has finished, normally within an hour. "
        "Some artists do not allow replays; the event page says whether one will be "
        "available.",
        ("streaming", "replays"),
    ),
    (
        "bag-policy",
        "What size of bag can I bring?",
        "Most arenas and stadiums allow one small bag per person, no larger than an A4 sheet "
        "of paper, and search every bag at the entrance. Larger bags, rucksacks and suitcases "
        "are refused or must be left in a paid cloakroom, which may be far from your gate. "
        "Check the venue page before you travel: clear-bag policies apply at some stadiums, "
        "and festivals have their own rules.",
        ("entry", "security", "bags"),
    ),
    (
        "prohibited-items",
        "Items you cannot bring into a venue",
        "Venues do not allow glass, cans, professional cameras with detachable lenses, laser "
        "pens, flares, selfie sticks, umbrellas with metal tips or large power banks. Food "
        "and drink are usually not permitted, with exceptions for medical needs and baby "
        "food. Confiscated items are rarely returned. The venue page lists the full policy "
        "and any event-specific additions.",
        ("entry", "security", "policy"),
    ),
    (
        "re-entry",
        "Can I leave and come back in?",
        "Most venues operate a no re-entry policy: once your ticket has been scanned on the "
        "way out, you cannot return. Festivals are the main exception and usually give you a "
        "wristband that allows you to move between the arena and the campsite. If you need to "
        "leave briefly for medical reasons, speak to a steward before you go.",
        ("entry", "policy"),
    ),
    (
        "cloakroom",
        "Is there a cloakroom?",
        "Many indoor venues run a cloakroom, especially in winter. It is usually paid per item "
        "and payment is often card only. Queues after the show can be long, so consider "
        "travelling light or collecting your coat during the encore. Cloakrooms do not accept "
        "valuables, laptops or large suitcases; some stations near big venues offer luggage "
        "lockers instead.",
        ("venues", "facilities"),
    ),
    (
        "parking",
        "Parking at the venue",
        "On-site parking at large venues is limited and usually must be booked in advance; "
        "prices are often lower online than on the day. After major events it can take an "
        "hour to leave the car park, so public transport is normally quicker. Blue Badge and "
        "accessible parking spaces are reserved close to the entrances and can be booked with "
        "your tickets.",
        ("venues", "parking", "travel"),
    ),
    (
        "lost-property",
        "I lost something at an event",
        "Items found at venues are handed to the venue's lost property office, not to us. Use "
        "the Contact the venue link on your ticket to report what you lost, where you were "
        "sitting and a description. Venues keep items for at least thirty days. Bank cards "
        "and passports are destroyed or handed to the police after a few days, so report "
        "those to your bank or embassy right away.",
        ("venues", "lost property"),
    ),
    (
        "age-restrictions",
        "Age restrictions and ID at events",
        "Club shows and late-night events are often restricted to over-eighteens, and venues "
        "serving alcohol may ask anyone who looks under twenty-five for photo ID. The age "
        "policy appears on the event page before you buy. If an event is age-restricted and "
        "you cannot show valid ID at the door, entry will be refused and the ticket is not "
        "refundable.",
        ("entry", "policy", "age"),
    ),
    (
        "weather",
        "What happens if it rains at an outdoor event?",
        "Outdoor concerts, festivals and most sports fixtures go ahead in rain. Events are "
        "only stopped for severe weather such as lightning or high winds, and the organiser "
        "decides when it is safe to resume. We publish weather delays as live updates. Bring "
        "a waterproof jacket rather than an umbrella, since umbrellas are not allowed in many "
        "stands and standing areas.",
        ("weather", "outdoor", "festivals"),
    ),
    (
        "hearing-protection",
        "Protecting your hearing at concerts",
        "Sound levels at concerts and clubs regularly exceed one hundred decibels, enough to "
        "cause lasting damage over a long evening. Reusable musicians' earplugs lower the "
        "volume evenly, so the music still sounds clear. Many venues sell foam earplugs at "
        "the bar or hand them out free at the information desk. Children should wear "
        "ear defenders at loud events.",
        ("health", "concerts"),
    ),
    (
        "first-aid",
        "Getting help or first aid at a venue",
        "Every venue has trained first aiders and a medical point, marked on the site map in "
        "the app. If you or someone near you feels unwell, tell the nearest steward or member "
        "of staff; they can reach the medical team by radio faster than a phone call. At large "
        "events a welfare tent offers water, a quiet space and help finding friends you have "
        "lost.",
        ("health", "safety", "venues"),
    ),
    (
        "cashless-venues",
        "Are venues cashless?",
        "An increasing number of arenas, stadiums and festivals are card-only. Contactless "
        "cards, phones and watches are accepted at bars, food stalls and merchandise stands. "
        "Cashless festivals often use a wristband you top up in advance; unused balance can "
        "be refunded for a few weeks after the event. Venues that are cashless usually have "
        "a cash-to-card kiosk for visitors without a card.",
        ("payments", "venues", "festivals"),
    ),
    (
        "sustainability",
        "Reducing waste at events",
        "Many venues now serve drinks in reusable cups with a small deposit and offer free "
        "water refill points, so bring an empty plastic or metal bottle. Travelling by train, "
        "bus or bike is the biggest change you can make: travel accounts for most of an "
        "event's carbon footprint. Festivals ask campers to take their tents home, because "
        "abandoned tents usually end up in landfill.",
        ("sustainability", "festivals", "travel"),
    ),
    (
        "list-an-event",
        "Listing your event as an organiser",
        "Organisers can list events through the organiser dashboard. Create a venue, set up "
        "ticket types and prices, choose a seat map or general admission and publish. Events "
        "are reviewed within one working day before going on sale. The dashboard shows "
        "sales in real time and lets you send live announcements to ticket holders, such as "
        "door time changes or set times.",
        ("organisers", "dashboard"),
    ),
    (
        "organiser-payouts",
        "When do organisers get paid?",
        "Ticket revenue, minus fees and any refunds, is paid out after the event by bank "
        "transfer, usually within five working days. Established organisers can apply for "
        "advance payouts that release part of the revenue before the event to cover "
        "production costs. Payout statements in the dashboard break down every order, refund "
        "and fee, and can be exported to your accounting software.",
        ("organisers", "payments"),
    ),
    (
        "api-access",
        "Is there a public API?",
        "Partners can access our events API to list public events, venues and availability, "
        "and to subscribe to real-time updates over WebSockets or webhooks. Requests are "
        "authenticated with tokens scoped to a campaign, and rate limits depend on your plan. "
        "Documentation, sample code and a sandbox environment with test events are available "
        "from the developer portal once your partner account is approved.",
        ("developers", "api", "real-time"),
    ),
    (
        "webhooks",
        "Receiving webhooks for orders and event changes",
        "Webhooks notify your systems when orders are placed, tickets are transferred or an "
        "event changes. Each delivery is signed, so verify the signature before trusting the "
        "payload. Failed deliveries are retried with exponential backoff for up to twenty-four "
        "hours, and every event carries an identifier you can use to ignore duplicates. You "
        "can replay recent deliveries from the developer portal.",
        ("developers", "webhooks", "api"),
    ),
    (
        "data-privacy",
        "How we use your personal data",
        "We use your data to sell and deliver tickets, keep your account secure and, if you "
        "agree, recommend events. When you buy a ticket, the organiser and venue receive your "
        "name and contact details so they can run the event and contact you about changes. "
        "You can download a copy of your data or ask us to delete it from Settings, Privacy. "
        "We never sell personal data to advertisers.",
        ("privacy", "data", "policy"),
    ),
    (
        "cookies",
        "Cookies and tracking",
        "Our website uses essential cookies to keep you signed in and to run checkout, and, "
        "only with your consent, analytics cookies that help us understand which pages are "
        "useful. Advertising cookies are off unless you turn them on. You can change your "
        "choices at any time from the Cookie settings link at the bottom of every page.",
        ("privacy", "cookies", "website"),
    ),
    (
        "contact-support",
        "Contacting customer support",
        "The quickest way to reach us is the chat in the Help tab, staffed every day from "
        "08:00 to 22:00 in English, Spanish, Portuguese, German and French. Outside those "
        "hours you can leave a message and we reply by email. Have your order number ready, "
        "it starts with NX and is on your confirmation email. On event days we prioritise "
        "customers who have problems getting in.",
        ("support", "contact"),
    ),
    (
        "languages",
        "Changing the app language",
        "The app follows your phone's language setting and is available in English, Spanish, "
        "Portuguese, German, French, Italian, Dutch, Polish, Swedish and Japanese. Event "
        "descriptions are shown in the language the organiser wrote them in. To use a "
        "different language only in our app, open Settings, General, Language on Android, or "
        "the app's page in your iPhone's Settings.",
        ("app", "languages", "settings"),
    ),
    (
        "app-accessibility",
        "Using the app with a screen reader",
        "The app supports VoiceOver and TalkBack, dynamic text sizes, high-contrast mode and "
        "reduced motion. Seat maps have a list view that reads each available seat with its "
        "section, row and price. Live updates are announced by your screen reader when they "
        "arrive, and you can choose in Settings whether score updates should interrupt what "
        "is being read.",
        ("accessibility", "app"),
    ),
    (
        "calendar-sync",
        "Adding events to your calendar",
        "Tap Add to calendar on a ticket to save the event, with the venue address and door "
        "time, to your phone's calendar. Turn on Calendar sync in Settings to add every event "
        "you book automatically. Synced entries update themselves when an event is "
        "rescheduled, so your calendar always shows the current date and time.",
        ("app", "calendar", "settings"),
    ),
    (
        "follow-artists",
        "Following artists, teams and venues",
        "Tap Follow on any artist, team or venue page to hear about new dates first. We "
        "notify you when a followed artist announces a show near you, when presales open and "
        "when tickets are released for a sold-out show. You can follow up to five hundred "
        "pages, and connect a music streaming account to follow the artists you listen to "
        "most in one step.",
        ("app", "recommendations", "notifications"),
    ),
    (
        "festival-packing",
        "What to pack for a camping festival",
        "Pack a tent you can pitch alone, a warm sleeping bag, a waterproof jacket, wellies "
        "and comfortable shoes, a head torch and a power bank. Sun cream and a hat matter as "
        "much as the waterproofs. Bring an empty refillable bottle, some cash for stalls that "
        "are not card-only and a small first-aid kit. Label your tent: at two in the morning "
        "every tent looks the same.",
        ("festivals", "camping", "tips"),
    ),
    (
        "accessible-travel",
        "Travelling to events with access needs",
        "Plan your journey with the venue's access page, which lists step-free routes from "
        "the nearest stations, drop-off points and accessible parking. Rail operators in many "
        "countries offer free assistance if you book it a day or more ahead. Our access team "
        "can tell the venue you are coming, so staff can meet you at the entrance and help "
        "you to your seat.",
        ("accessibility", "travel"),
    ),
)


def _faq_entries() -> list[Entry]:
    return [_entry(f"faq-{key}", title, body, ("faq", *tags)) for key, title, body, tags in _FAQ]


# ---------------------------------------------------------------------------------------------
# Cities and venues
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class City:
    name: str
    country: str
    transport: str  # completes "Most visitors arrive by ..."
    notes: tuple[str, ...]  # general, durable advice for the travel guide


_CITIES: tuple[City, ...] = (
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

_CITY_BY_NAME = {city.name: city for city in _CITIES}


@dataclass(frozen=True)
class Venue:
    name: str
    city: str
    kind: str
    capacity: int
    opened: int

    @property
    def id(self) -> str:
        return f"venue-{_slug(self.name)}"


_VENUES: tuple[Venue, ...] = (
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


def _venue_entries() -> list[Entry]:
    entries: list[Entry] = []
    for venue in _VENUES:
        city = _CITY_BY_NAME[venue.city]
        fields = {
            "name": venue.name,
            "city": venue.city,
            "opened": venue.opened,
            "capacity": f"{venue.capacity:,}",
            "transport": city.transport,
        }
        sentences = [
            _pick(_VENUE_INTROS[venue.kind], venue.name, "intro"),
            _pick(_VENUE_CAPACITY, venue.name, "capacity"),
            _pick(_VENUE_TRANSPORT, venue.name, "transport"),
            _pick(_VENUE_ACCESS.get(venue.kind, _VENUE_ACCESS["default"]), venue.name, "a"),
            _pick(_VENUE_BAGS.get(venue.kind, _VENUE_BAGS["default"]), venue.name, "bags"),
            _pick(_VENUE_FOOD, venue.name, "food"),
            _pick(_VENUE_TIPS, venue.name, "tip"),
        ]
        body = " ".join(sentence.format(**fields) for sentence in sentences)
        title = f"{venue.name}, {venue.city}: venue guide"
        tags = ("venue", venue.kind, venue.city, city.country)
        entries.append(_entry(venue.id, title, body, tags))
    return entries


# ---------------------------------------------------------------------------------------------
# Concerts
# ---------------------------------------------------------------------------------------------


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


def _concert_entries() -> list[Entry]:
    entries: list[Entry] = []
    for index, artist in enumerate(_ARTISTS):
        # Roughly a third of the artists play two cities, so listings outnumber artists.
        shows = 2 if index % 3 == 0 else 1
        kinds = _FAMILY_VENUES[artist.family]
        candidates = [venue for venue in _VENUES if venue.kind in kinds]
        used: set[str] = set()
        for show in range(shows):
            venue = _pick(candidates, artist.name, "venue", show)
            if venue.city in used:
                venue = candidates[(candidates.index(venue) + 5) % len(candidates)]
            used.add(venue.city)
            when = _event_date(artist.name, show)
            doors = _pick(("18:30", "19:00", "19:30", "20:00"), artist.name, show, "doors")
            hour, minute = map(int, doors.split(":"))
            stage = f"{hour + 1 + (minute + 30) // 60:02d}:{(minute + 30) % 60:02d}"
            tour = _pick(_TOUR_NAMES, artist.name, "tour")
            fields = {
                "artist": artist.name,
                "bring": artist.verb("bring", "brings"),
                "play": artist.verb("play", "plays"),
                "take": artist.verb("take", "takes"),
                "tour": tour,
                "venue": venue.name,
                "city": venue.city,
                "when": _long_date(when),
            }
            support_pool = [other for other in _ARTISTS if other.family == artist.family]
            support = _pick([a for a in support_pool if a is not artist], artist.name, show)
            sentences = [
                _pick(_CONCERT_OPENINGS, artist.name, show, "open").format(**fields),
                f"{artist.name} {artist.verb('are', 'is')} {artist.about}.",
                _pick(_CONCERT_SETS[artist.family], artist.name, show, "set"),
                f"Support comes from {support.name}, {support.about}.",
                f"Doors open at {doors}, with {artist.name} expected on stage around {stage}.",
                _pick(_CONCERT_TICKETS, artist.name, show, "tickets"),
                _pick(_CONCERT_UPDATES, artist.name, show, "updates"),
            ]
            entries.append(
                _entry(
                    f"concert-{_slug(artist.name)}-{_slug(venue.city)}-{when:%Y%m%d}",
                    f"{artist.name} live at {venue.name}, {venue.city}",
                    " ".join(sentences),
                    ("concert", artist.genre, venue.city),
                )
            )
    return entries


# ---------------------------------------------------------------------------------------------
# Conferences
# ---------------------------------------------------------------------------------------------


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


def _conference_entries() -> list[Entry]:
    conference_venues = {
        venue.city: venue for venue in _VENUES if venue.kind == "convention centre"
    }
    fallback_kinds = ("theatre", "concert hall", "arena")
    entries: list[Entry] = []
    for conference in _CONFERENCES:
        for edition, city_name in enumerate(conference.cities):
            venue = conference_venues.get(city_name) or next(
                (v for v in _VENUES if v.city == city_name and v.kind in fallback_kinds),
                None,
            )
            where = f"at {venue.name} in {city_name}" if venue else f"in {city_name}"
            start = _event_date(conference.name, city_name)
            start += timedelta(days=(_TUESDAY - start.weekday()) % 7)
            days = 2 if len(conference.tracks) < 4 or edition else 3
            end = start + timedelta(days=days - 1)
            tracks = conference.tracks
            track_list = ", ".join(tracks[:-1]) + f" and {tracks[-1]}"
            key = (conference.name, city_name)
            sentences = [
                f"{conference.name} {city_name} brings together people working on "
                f"{conference.about}. It takes place {where} from {_long_date(start)} to "
                f"{_long_date(end)}.",
                f"The programme runs in {len(tracks)} tracks: {track_list}.",
                _pick(_CONFERENCE_KEYNOTES, *key, "keynote").format(topic=conference.topic),
                _pick(_CONFERENCE_FORMAT, *key, "format"),
                _pick(_CONFERENCE_ACCESS, *key, "access"),
                _pick(_CONFERENCE_TICKETS, *key, "tickets"),
            ]
            entries.append(
                _entry(
                    f"conference-{_slug(conference.name)}-{_slug(city_name)}-{start.year}",
                    f"{conference.name} {start.year}, {city_name}",
                    " ".join(sentences),
                    ("conference", conference.topic, city_name),
                )
            )
    return entries


# ---------------------------------------------------------------------------------------------
# Sports fixtures
# ---------------------------------------------------------------------------------------------


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


def _sports_entries() -> list[Entry]:
    venues = {venue.name: venue for venue in _VENUES}
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
            city = _CITY_BY_NAME[venue.city]
            when = _event_date(sport.name, home, away)
            start = _pick(("14:00", "15:00", "17:30", "19:00", "19:45", "20:00"), home, away)
            key = (sport.name, home, away)
            sentences = [
                f"{venue.name} in {venue.city} hosts {home} against {away} in the "
                f"{sport.competition} on {_long_date(when)}, with {sport.start_word} at "
                f"{start} local time.",
                _pick(_FIXTURE_CONTEXT, *key, "context"),
                _pick(sport.notes, *key, "note"),
                f"Most fans travel by {city.transport}; extra services run when the match ends.",
                _pick(_FIXTURE_TICKETS, *key, "tickets"),
            ]
            entries.append(
                _entry(
                    f"fixture-{_slug(sport.name)}-{_slug(home)}-v-{_slug(away)}",
                    f"{home} v {away}: {sport.competition} {sport.name} fixture",
                    " ".join(sentences),
                    ("sports", sport.name, "fixture", venue.city),
                )
            )
    return entries


# ---------------------------------------------------------------------------------------------
# Festivals
# ---------------------------------------------------------------------------------------------


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


def _festival_entries() -> list[Entry]:
    entries: list[Entry] = []
    for festival in _FESTIVALS:
        start = _event_date(festival.name)
        # Festivals cluster in the summer months; nudge out-of-season dates into June-August.
        if not 6 <= start.month <= 8 and festival.camping:
            start = date(2026, 6, 5) + timedelta(days=(start.toordinal() % 80))
        start += timedelta(days=(_FRIDAY - start.weekday()) % 7)
        end = start + timedelta(days=2)
        key = festival.name
        logistics = _FESTIVAL_CAMPING if festival.camping else _FESTIVAL_DAY
        sentences = [
            f"{festival.name} is a {festival.kind} {festival.place}, running from "
            f"{_long_date(start)} to {_long_date(end)}.",
            f"The programme focuses on {festival.about}.",
            _pick(logistics, key, "logistics"),
            _pick(_FESTIVAL_EXTRAS, key, "extra1"),
            _pick(_FESTIVAL_EXTRAS[::-1], key, "extra2"),
            "If severe weather stops the programme, the organisers announce delays and "
            "evacuation routes through the app.",
        ]
        # Two picks from the same pool can coincide; keep the text free of repeats.
        unique = list(dict.fromkeys(sentences))
        entries.append(
            _entry(
                f"festival-{_slug(festival.name)}-{start.year}",
                f"{festival.name} {start.year}",
                " ".join(unique),
                ("festival", festival.kind, *(["camping"] if festival.camping else [])),
            )
        )
    return entries


# ---------------------------------------------------------------------------------------------
# Travel guides
# ---------------------------------------------------------------------------------------------

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


def _travel_entries() -> list[Entry]:
    entries: list[Entry] = []
    venues_by_city: dict[str, list[str]] = {}
    for venue in _VENUES:
        venues_by_city.setdefault(venue.city, []).append(venue.name)
    for city in _CITIES:
        names = venues_by_city.get(city.name, [])
        sentences = [
            f"Visiting {city.name} for a concert, match or conference? Most visitors get "
            f"around by {city.transport}.",
            *city.notes,
            _pick(_TRAVEL_GENERAL, city.name, "general"),
        ]
        if names:
            listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"
            sentences.append(f"Venues in {city.name} covered by our guides include {listed}.")
        entries.append(
            _entry(
                f"travel-{_slug(city.name)}",
                f"Getting to events in {city.name}, {city.country}",
                " ".join(sentences),
                ("travel", city.name, city.country),
            )
        )
    return entries


# ---------------------------------------------------------------------------------------------
# Campaign-scoped entries: visible only to the campaigns listed
# ---------------------------------------------------------------------------------------------

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


def _campaign_entries() -> list[Entry]:
    return [
        _entry(f"campaign-{key}", title, body, tags, campaigns)
        for key, title, body, tags, campaigns in _CAMPAIGN_ENTRIES
    ]


# ---------------------------------------------------------------------------------------------
# Assembly
# ---------------------------------------------------------------------------------------------


def build() -> list[Entry]:
    entries = [
        *_faq_entries(),
        *_venue_entries(),
        *_concert_entries(),
        *_conference_entries(),
        *_sports_entries(),
        *_festival_entries(),
        *_travel_entries(),
        *_campaign_entries(),
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
