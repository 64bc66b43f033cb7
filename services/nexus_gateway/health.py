"""``/healthz`` (the process serves), ``/readyz`` (Kafka reachable, delivery running),
``/metrics`` (Prometheus text), and the admin port's ``/stats`` and ``POST /drain``."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import secrets

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import SecretStr

from nexus_gateway.state import GATEWAY
from nexus_mesh.operator.gateways import ADMIN_TOKEN_HEADER
from nexus_mesh.settings import NexusSettings, read_admin_token

log = logging.getLogger(__name__)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    body = {
        "ready": gateway.ready,
        "draining": gateway.draining is not None,
        "accepting": gateway.accepting,
        # Now, not at start: during an outage an operator reads this to tell Kafka's
        # trouble from the gateway's.
        "kafka": gateway.kafka_started and gateway.dispatcher.reachable,
        "delivery": gateway.dispatcher.healthy,
    }
    return web.json_response(body, status=200 if gateway.ready else 503)


async def metrics(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    return web.Response(
        body=generate_latest(gateway.metrics.registry),
        headers={"Content-Type": CONTENT_TYPE_LATEST},
    )


async def stats(request: web.Request) -> web.Response:
    """A JSON summary for operators (`nexus status` reads it through the pod proxy)."""
    gateway = request.app[GATEWAY]
    lag = {f"{tp.topic}:{tp.partition}": n for tp, n in gateway.dispatcher.lag().items()}
    return web.json_response(
        {
            "instance": gateway.settings.gateway_instance,
            "connections": len(gateway.hub),
            "campaigns": gateway.hub.campaign_count,
            "assigned_partitions": sorted(lag),
            "consumer_lag": lag,
            "pending_requests": len(gateway.flows),
            # What a drain waits for before it closes the sockets.
            "events_in_flight": gateway.ingress.in_flight,
            "unconfirmed_writes": gateway.ingress.unconfirmed,
            "ready": gateway.ready,
            "draining": gateway.draining is not None,
        }
    )


async def start_drain(request: web.Request) -> web.Response:
    """``POST /drain``: the pod drains its clients and stays up, not ready, until deleted."""
    from nexus_gateway.drain import drain

    gateway = request.app[GATEWAY]
    refused = drain_refusal(
        request,
        current_admin_token(gateway.settings),
        listens_on_loopback=is_loopback(gateway.settings.gateway_host),
    )
    if refused is not None:
        return refused
    if gateway.draining is None:
        tasks = request.app[DRAIN_TASKS]
        task = asyncio.create_task(drain(gateway, gateway.settings.gateway_drain_timeout_s))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    return web.json_response({"draining": True}, status=202)


DRAIN_TASKS = web.AppKey("drain_tasks", set[asyncio.Task[None]])


def current_admin_token(settings: NexusSettings) -> SecretStr | None:
    if settings.gateway_admin_token_file is None:
        return settings.gateway_admin_token
    try:
        # Read at each drain: a mounted Secret's new token is taken without a restart.
        return SecretStr(read_admin_token(settings.gateway_admin_token_file))
    except ValueError as exc:
        # Checked at start; gone or spoiled since. Refuse every caller rather than none.
        log.error("POST /drain: %s", exc)
        return SecretStr(secrets.token_hex(32))


def drain_refusal(
    request: web.Request, token: SecretStr | None, *, listens_on_loopback: bool = True
) -> web.Response | None:
    """Why this caller may not drain the pod, or None. A drain takes the pod out of service
    until it is deleted, so it is not for whoever reaches the admin port.

    Without a token, only a loopback caller of a gateway listening on loopback alone: one
    listening on every interface may sit behind a sidecar proxy (Istio forwards from
    127.0.0.6), where a loopback peer is anyone who reached the pod."""
    if token is not None:
        # surrogateescape: header bytes that are not UTF-8 compare as what they are, not 500.
        given = request.headers.get(ADMIN_TOKEN_HEADER, "").encode("utf-8", "surrogateescape")
        if hmac.compare_digest(given, token.get_secret_value().encode()):
            return None
        log.warning(
            "POST /drain refused: no valid %s (from %s)", ADMIN_TOKEN_HEADER, request.remote
        )
        return web.json_response(
            {"error": f"POST /drain needs the gateway's admin token in {ADMIN_TOKEN_HEADER}"},
            status=401,
        )
    if is_loopback(request.remote) and listens_on_loopback:
        return None
    log.warning(
        "POST /drain refused: no admin token is set, and %s is not loopback or the gateway "
        "listens on more than loopback",
        request.remote,
    )
    return web.json_response(
        {
            "error": "POST /drain is taken without NEXUS_GATEWAY_ADMIN_TOKEN or "
            "NEXUS_GATEWAY_ADMIN_TOKEN_FILE only from loopback, on a gateway listening on "
            f"loopback alone (NEXUS_GATEWAY_HOST); set one and send it in {ADMIN_TOKEN_HEADER}"
        },
        status=403,
    )


def is_loopback(remote: str | None) -> bool:
    """Whether ``remote`` (a peer's address, or a listen host) is this machine's loopback."""
    if remote == "localhost":  # a listen host may be named
        return True
    try:
        return remote is not None and ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False
