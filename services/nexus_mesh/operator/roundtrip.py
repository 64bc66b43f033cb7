"""``python -m nexus_mesh.operator.roundtrip --url URL``: one WebSocket round trip.

The Helm chart's ``helm test`` pod runs it against the gateway Service. It opens a session
for a test campaign, waits for ``nexus.welcome``, sends a ``chat.message`` and waits for its
``nexus.ack`` (the event is in Kafka) and then for the same message to come back (a gateway
consumed it from ``<prefix>.clients`` and routed it to the campaign). With ``--search`` it
also runs a ``search.requested`` -> ``search.completed`` flow through the search service.

The user: ``--user`` (the chart passes ``tests.user``), else a random ``helm-test-<hex>``.
The token: ``$NEXUS_TEST_TOKEN`` when set (the gateway takes it only if its ``sub`` is the
user, so a ready-made token needs ``--user``); else, with ``NEXUS_AUTH=jwt``, one signed here
with ``$NEXUS_JWT_SECRET`` (HS* only) for the test user and campaign, valid five minutes.
Exit status 0 when every step happened within ``--timeout`` seconds, else 1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from nexus_mesh.client import MeshClient
from nexus_mesh.errors import ConfigurationError, NexusError
from nexus_mesh.settings import NexusSettings, load_settings

TOKEN_ENV = "NEXUS_TEST_TOKEN"  # noqa: S105 - the variable's name, not a token
_TOKEN_TTL_S = 300


@dataclass(frozen=True, slots=True)
class RoundTrip:
    url: str
    campaign: str
    user: str
    token: str | None
    timeout_s: float = 30.0
    search: bool = False
    search_query: str = "concert"


class RoundTripError(NexusError):
    """A step of the round trip failed or did not happen in time."""


def roundtrip_user(user: str | None) -> str:
    """The user the round trip connects as: ``user`` when given, else a random one, which
    only a token signed here can name."""
    if user:
        return user
    if os.environ.get(TOKEN_ENV, "").strip():
        raise ConfigurationError(
            f"${TOKEN_ENV} holds a ready token: pass --user with its sub claim (the gateway "
            f"takes a token only for the user it names)"
        )
    return f"helm-test-{uuid.uuid4().hex[:8]}"


def roundtrip_token(settings: NexusSettings, *, user: str, campaign: str) -> str | None:
    """The token the round trip presents, or ``None`` when the gateway runs without auth."""
    # A token put in a Secret from a file usually ends with a newline, which no HTTP header
    # may carry.
    explicit = os.environ.get(TOKEN_ENV, "").strip()
    if explicit:
        return explicit
    if settings.auth == "none":
        return None
    if settings.jwt_secret is None:
        raise ConfigurationError(
            f"cannot sign a test token: NEXUS_JWT_SECRET is not set (with RS*/ES* keys, give "
            f"the test a ready token in ${TOKEN_ENV})"
        )
    from nexus_gateway.auth import issue_token

    algorithm = next((a for a in settings.jwt_algorithms if a.startswith("HS")), None)
    if algorithm is None:
        raise ConfigurationError(
            f"cannot sign a test token: NEXUS_JWT_ALGORITHMS has no HS* algorithm; "
            f"give the test a ready token in ${TOKEN_ENV}"
        )
    return issue_token(
        secret_or_key=settings.jwt_secret.get_secret_value(),
        user_id=user,
        campaigns=[campaign],
        ttl_s=_TOKEN_TTL_S,
        algorithm=algorithm,
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
    )


async def run(plan: RoundTrip, say: Callable[[str], None] = print) -> None:
    """Every step of the round trip; raises :class:`RoundTripError` on the first failure,
    naming the step that did not happen in time (what an operator looks at next)."""
    waiting = ["the gateway's welcome"]
    try:
        async with asyncio.timeout(plan.timeout_s):
            await _steps(plan, say, waiting)
    except TimeoutError:
        raise RoundTripError(f"no {waiting[0]} within {plan.timeout_s:g} s") from None
    except NexusError as exc:
        if isinstance(exc, RoundTripError):
            raise
        raise RoundTripError(str(exc)) from exc
    except OSError as exc:
        raise RoundTripError(f"cannot reach {plan.url}: {exc}") from exc


async def _steps(plan: RoundTrip, say: Callable[[str], None], waiting: list[str]) -> None:
    async with MeshClient.connect(
        plan.url,
        campaign_id=plan.campaign,
        user_id=plan.user,
        token=plan.token,
        connect_timeout=plan.timeout_s,
    ) as client:
        say(f"welcome: connection {client.connection_id} at position {client.position}")
        text = f"helm test {uuid.uuid4().hex}"
        waiting[0] = "ack of the chat message (Kafka took the write)"
        ack = await client.emit("chat.message", {"text": text}, timeout=plan.timeout_s)
        say(f"ack: {ack.topic} partition {ack.partition} offset {ack.offset}")
        waiting[0] = "chat message delivered back (a gateway read it from Kafka)"
        async for event in client.events():
            if event.type == "chat.message" and event.payload.get("text") == text:
                say(f"delivered back at position {event.position}")
                break
        else:
            raise RoundTripError(
                f"the session closed ({client.close_code}) before the message came back"
            )
        if plan.search:
            waiting[0] = "answer to the search (the search service's reply)"
            reply = await client.request(
                "search.requested",
                {"query": plan.search_query, "limit": 3},
                timeout=plan.timeout_s,
            )
            if reply.type != "search.completed":
                raise RoundTripError(f"search answered {reply.type}: {reply.payload}")
            say(f"search: {reply.type}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m nexus_mesh.operator.roundtrip",
        description="One WebSocket round trip through a gateway (the chart's helm test).",
    )
    parser.add_argument("--url", required=True, help="the gateway's base URL, http(s)://host:port")
    parser.add_argument("--campaign", default="helm-test", help="campaign to use")
    parser.add_argument(
        "--user",
        help=f"user id, the sub claim of a token in ${TOKEN_ENV} (default: helm-test-<random>)",
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds for the whole round trip"
    )
    parser.add_argument(
        "--search", action="store_true", help="also run a search flow through the search service"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        user = roundtrip_user(args.user)
        token = roundtrip_token(load_settings(), user=user, campaign=args.campaign)
        plan = RoundTrip(
            url=args.url,
            campaign=args.campaign,
            user=user,
            token=token,
            timeout_s=args.timeout,
            search=args.search,
        )
        asyncio.run(run(plan))
    except TimeoutError:
        print(f"FAIL: the round trip did not finish within {args.timeout:g} s", file=sys.stderr)
        return 1
    except NexusError as exc:
        print(f"FAIL: {exc}", file=sys.stderr)
        return 1
    print("OK: WebSocket round trip through Kafka")
    return 0


if __name__ == "__main__":
    sys.exit(main())
