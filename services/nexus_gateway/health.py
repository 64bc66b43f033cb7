"""``/healthz`` (the process serves), ``/readyz`` (Kafka reachable, delivery running) and
``/metrics`` (Prometheus text)."""

from __future__ import annotations

import asyncio

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from nexus_gateway.state import GATEWAY


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    body = {
        "ready": gateway.ready,
        "draining": gateway.draining is not None,
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
    lag = {f"{tp.topic}:{tp.partition}": n for tp, n in gateway.dispatcher.lag().items()}
    return web.json_response(
        {
            "instance": gateway.settings.gateway_instance,
            "connections": len(gateway.hub),
            "campaigns": gateway.hub.campaign_count,
            "assigned_partitions": sorted(lag),
            "consumer_lag": lag,
            "pending_requests": len(gateway.flows),
            "ready": gateway.ready,
            "draining": gateway.draining is not None,
        }
    )


async def start_drain(request: web.Request) -> web.Response:
    """``POST /drain``: the pod drains its clients and stays up, not ready, until deleted."""
    from nexus_gateway.drain import drain

    gateway = request.app[GATEWAY]
    if gateway.draining is None:
        tasks = request.app[DRAIN_TASKS]
        task = asyncio.create_task(drain(gateway, gateway.settings.gateway_drain_timeout_s))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    return web.json_response({"draining": True}, status=202)


DRAIN_TASKS = web.AppKey("drain_tasks", set[asyncio.Task[None]])
