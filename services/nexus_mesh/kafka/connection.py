"""Client keyword arguments (bootstrap, TLS, SASL) for every aiokafka client, from settings,
and stopping a client cleanly."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from nexus_mesh.errors import ConfigurationError
from nexus_mesh.kafka.tls import kafka_ssl_context
from nexus_mesh.settings import NexusSettings

log = logging.getLogger(__name__)
# Past a request timeout (a LeaveGroup's, 15 s by default, bounds the usual stop). Counted in a
# service pod's stop, 10 + 5 + 10 + 15 + 3 = 43 s, which the chart's guard checks against
# its grace period.
CLIENT_STOP_TIMEOUT_S = 15.0


def client_kwargs(settings: NexusSettings) -> dict[str, Any]:
    """Arguments shared by producers, consumers and admin clients."""
    kwargs: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_list,
        "security_protocol": settings.kafka_security_protocol,
        "request_timeout_ms": settings.kafka_request_timeout_ms,
    }
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        # Read again for each client, so that one made after a certificate's renewal takes
        # the new files. Loading settings checked them, but they may have changed since (a
        # Secret half updated, a volume gone).
        try:
            kwargs["ssl_context"] = kafka_ssl_context(settings)
        except ValueError as exc:
            raise ConfigurationError(f"invalid configuration: {exc}") from exc
    if settings.kafka_security_protocol.startswith("SASL"):
        kwargs["sasl_mechanism"] = settings.kafka_sasl_mechanism
        kwargs["sasl_plain_username"] = settings.kafka_sasl_username
        if settings.kafka_sasl_password is not None:
            kwargs["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    return kwargs


async def stop_quietly(
    stopping: Awaitable[object], *, timeout_s: float = CLIENT_STOP_TIMEOUT_S
) -> None:
    """Await a client's ``stop()``, which aiokafka lets end in ``CancelledError`` when a fetch
    it cancels was backing off from an unreachable broker (the consumer's fetcher awaits its
    own cancelled task). Only a cancellation of the caller itself goes on; the stray one
    would abort the rest of a shutdown (the producer's stop, the last spans' export).

    At most ``timeout_s``: a stop waiting on a broker that does not answer (a service's
    LeaveGroup timing out mid-rebalance once held one for ten minutes) is abandoned, its
    connections closed with the process, rather than keep a stopping process alive."""
    try:
        async with asyncio.timeout(timeout_s):
            await stopping
    except TimeoutError:
        log.warning(
            "a Kafka client did not stop within %.0f s: left to the process's exit", timeout_s
        )
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
