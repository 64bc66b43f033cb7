"""``/healthz`` (the process serves), ``/readyz`` (Kafka reachable, delivery running) and
``/metrics`` (Prometheus text)."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from nexus_gateway.state import GATEWAY


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    body = {
        "ready": gateway.ready,
        "accepting": gateway.accepting,
        "kafka": gateway.kafka_started,
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
    assigned = sorted(
        f"{tp.topic}:{tp.partition}" for tp in gateway.dispatcher.assigned()
    )
    return web.json_response(
        {
            "instance": gateway.settings.gateway_instance,
            "connections": len(gateway.hub),
            "campaigns": gateway.hub.campaign_count,
            "assigned_partitions": assigned,
            "pending_requests": len(gateway.flows),
            "ready": gateway.ready,
        }
    )
