"""Run the gateway until SIGTERM or SIGINT, then shut down cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest

from nexus_gateway.app import build_gateway, create_admin_app, create_app
from nexus_gateway.drain import drain
from nexus_gateway.health import is_loopback
from nexus_gateway.websocket import GatewaySocket
from nexus_mesh.prometheus import without_created_series
from nexus_mesh.settings import NexusSettings
from nexus_mesh.tracing import Telemetry, setup_telemetry

log = logging.getLogger("nexus_gateway")


# Asked every few seconds by Kubernetes (and by `nexus dev` while it starts): logged, they
# would bury every other line; their answers are in the pod's events and in /metrics.
PROBE_PATHS = frozenset({"/healthz", "/readyz"})


class PathOnlyAccessLogger(AbstractAccessLogger):
    """Logs the client's address, method, path and status but never the query string: it may
    hold ``?token=``. A WebSocket's line also says how its session ended (``closed 4001``): a
    refused token is a 101 too, since close codes exist only after the handshake. Probes are
    not logged.

    The address is the TCP peer's: X-Forwarded-For is not read, as nothing tells the gateway
    which proxies to trust, and anyone can send the header.
    """

    def log(self, request: BaseRequest, response: web.StreamResponse, time: float) -> None:
        if request.path in PROBE_PATHS:
            return
        remote = request.remote or "-"
        fields: dict[str, object] = {"remote": remote}
        closed = ""
        if isinstance(response, GatewaySocket) and response.ended_with is not None:
            fields["close_code"] = response.ended_with
            closed = f" closed {response.ended_with}"
        self.logger.info(
            "%s %s %s %s%s %.1fms",
            remote,
            request.method,
            request.path,
            response.status,
            closed,
            time * 1000,
            extra=fields,
        )


async def serve(
    settings: NexusSettings,
    *,
    stop: asyncio.Event | None = None,
    telemetry: Telemetry | None = None,
) -> None:
    """Serve until ``stop`` (or a signal); tracing from ``OTEL_*`` unless ``telemetry`` is
    given, flushed on the way out."""
    without_created_series()
    owned = telemetry is None
    telemetry = telemetry or setup_telemetry(
        "nexus-gateway", instance=settings.gateway_instance, otlp_pipeline=settings.otlp_pipeline
    )
    gateway = build_gateway(settings, telemetry=telemetry)
    app = create_app(settings, gateway=gateway)
    runner = web.AppRunner(
        app, access_log_class=PathOnlyAccessLogger, handle_signals=False, shutdown_timeout=5
    )
    await runner.setup()
    site = web.TCPSite(runner, settings.gateway_host, settings.gateway_port)
    await site.start()
    admin: web.AppRunner | None = None
    if settings.gateway_admin_port:
        admin = web.AppRunner(create_admin_app(gateway), access_log=None, handle_signals=False)
        await admin.setup()
        await web.TCPSite(admin, settings.gateway_host, settings.gateway_admin_port).start()
        no_token = (
            settings.gateway_admin_token is None and settings.gateway_admin_token_file is None
        )
        if no_token and not is_loopback(settings.gateway_host):
            log.warning(
                "no NEXUS_GATEWAY_ADMIN_TOKEN(_FILE) and listening on %s: POST /drain is refused "
                "to every caller (on loopback alone, local callers may drain without one)",
                settings.gateway_host,
            )
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info(
        "gateway %s listening on http://%s:%s (kafka %s, topics %s.*)",
        settings.gateway_instance,
        settings.gateway_host,
        settings.gateway_port,
        settings.kafka_bootstrap_servers,
        settings.topic_prefix,
    )
    try:
        await stop.wait()
        log.info("gateway stopping: draining first")
        await drain(gateway, settings.gateway_drain_timeout_s)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        # Each step runs even when one before it fails: the last spans are exported anyway.
        async with contextlib.AsyncExitStack() as cleanup:
            if owned:
                # Exporting the last spans may wait on the network: not on the loop.
                cleanup.push_async_callback(asyncio.to_thread, telemetry.shutdown)
            if admin is not None:
                cleanup.push_async_callback(admin.cleanup)
            cleanup.push_async_callback(runner.cleanup)
