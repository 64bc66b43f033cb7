"""Run the gateway until SIGTERM or SIGINT, then shut down cleanly."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest

from nexus_gateway.app import create_app
from nexus_mesh.settings import NexusSettings

log = logging.getLogger("nexus_gateway")


class PathOnlyAccessLogger(AbstractAccessLogger):
    """Logs method, path and status but never the query string: it may hold ``?token=``."""

    def log(self, request: BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %s %.1fms", request.method, request.path, response.status, time * 1000
        )


async def serve(settings: NexusSettings, *, stop: asyncio.Event | None = None) -> None:
    app = create_app(settings)
    runner = web.AppRunner(
        app, access_log_class=PathOnlyAccessLogger, handle_signals=False, shutdown_timeout=10
    )
    await runner.setup()
    site = web.TCPSite(runner, settings.gateway_host, settings.gateway_port)
    await site.start()
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
        log.info("gateway stopping")
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await runner.cleanup()
