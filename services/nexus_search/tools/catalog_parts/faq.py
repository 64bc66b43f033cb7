"""The help centre: hand-written answers to common questions."""

from __future__ import annotations

from nexus_search.tools.catalog_parts.helpers import Entry, entry

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


def faq_entries() -> list[Entry]:
    return [entry(f"faq-{key}", title, body, ("faq", *tags)) for key, title, body, tags in _FAQ]
