"""Client keyword arguments (bootstrap, TLS, SASL) for every aiokafka client, from settings,
and stopping a client cleanly."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable
from typing import Any

from nexus_mesh.settings import NexusSettings


def client_kwargs(settings: NexusSettings) -> dict[str, Any]:
    """Arguments shared by producers, consumers and admin clients."""
    kwargs: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_list,
        "security_protocol": settings.kafka_security_protocol,
        "request_timeout_ms": settings.kafka_request_timeout_ms,
    }
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        context = ssl.create_default_context(
            cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
        )
        if settings.kafka_ssl_certfile:
            context.load_cert_chain(
                str(settings.kafka_ssl_certfile),
                str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None,
            )
        kwargs["ssl_context"] = context
    if settings.kafka_security_protocol.startswith("SASL"):
        kwargs["sasl_mechanism"] = settings.kafka_sasl_mechanism
        kwargs["sasl_plain_username"] = settings.kafka_sasl_username
        if settings.kafka_sasl_password is not None:
            kwargs["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    return kwargs


async def stop_quietly(stopping: Awaitable[None]) -> None:
    """Await a client's ``stop()``, which aiokafka lets end in ``CancelledError`` when a fetch
    it cancels was backing off from an unreachable broker (the consumer's fetcher awaits its
    own cancelled task). Only a cancellation of the caller itself goes on; the stray one
    would abort the rest of a shutdown (the producer's stop, the last spans' export)."""
    try:
        await stopping
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
