"""``nexus gateway``: run one WebSocket gateway process."""

from __future__ import annotations

import argparse
import asyncio
import errno
import socket
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

from nexus_mesh.errors import ConfigurationError

if TYPE_CHECKING:
    from nexus_mesh.settings import NexusSettings

# Errors of binding a listening socket that a setting causes and a setting fixes.
_BIND_ERRORS = frozenset({errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES})


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "gateway", help="run the WebSocket gateway (NEXUS_GATEWAY_HOST / NEXUS_GATEWAY_PORT)"
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from nexus_gateway.server import serve
    from nexus_mesh.cli.heap import freeze_startup_heap
    from nexus_mesh.logs import configure_logging
    from nexus_mesh.settings import load_settings

    settings = load_settings()
    configure_logging(settings.log_level, fmt=settings.log_format, service="nexus-gateway")
    # Before anything connects to Kafka or exports a span: a port in use is a setting to fix,
    # and nothing started for a gateway that cannot listen should linger or log.
    asyncio.run(_check_listeners(settings))
    freeze_startup_heap()
    try:
        asyncio.run(serve(settings))
    except OSError as exc:
        # Taken between the check and the bind (another process raced this one).
        if not _is_bind_error(exc):
            raise
        raise ConfigurationError(
            f"gateway cannot listen ({_listener_variables(settings)}): {exc.strerror or exc}"
        ) from None
    return 0


def _listeners(settings: NexusSettings) -> list[tuple[str, int]]:
    """(variable, port) of each socket the gateway listens on, as ``serve`` opens them."""
    listeners = [("NEXUS_GATEWAY_PORT", settings.gateway_port)]
    if settings.gateway_admin_port:  # 0 turns the admin listener off
        listeners.append(("NEXUS_GATEWAY_ADMIN_PORT", settings.gateway_admin_port))
    return listeners


def _listener_variables(settings: NexusSettings) -> str:
    parts = [f"NEXUS_GATEWAY_HOST={settings.gateway_host}"]
    parts += [f"{variable}={port}" for variable, port in _listeners(settings)]
    return ", ".join(parts)


async def _check_listeners(settings: NexusSettings) -> None:
    """Open every listener the gateway needs, all at once, then close them again.

    The same call aiohttp's ``TCPSite`` makes (``loop.create_server``, same host and reuse
    options), so what fails here would fail there. Raises :class:`ConfigurationError`
    naming the variable and the address.
    """
    if settings.gateway_admin_port and settings.gateway_admin_port == settings.gateway_port:
        raise ConfigurationError(
            f"NEXUS_GATEWAY_ADMIN_PORT={settings.gateway_admin_port}: the same port as "
            "NEXUS_GATEWAY_PORT; the admin listener needs its own (0 turns it off)"
        )
    loop = asyncio.get_running_loop()
    host = settings.gateway_host
    async with AsyncExitStack() as held:
        for variable, port in _listeners(settings):
            try:
                server = await loop.create_server(asyncio.Protocol, host, port)
            except socket.gaierror as exc:
                raise ConfigurationError(
                    f"NEXUS_GATEWAY_HOST={host!r}: cannot resolve it: {exc.strerror or exc}"
                ) from None
            except OSError as exc:
                if not _is_bind_error(exc):
                    raise
                raise ConfigurationError(_bind_problem(variable, host, port, exc)) from None
            held.push_async_callback(_closed, server)


async def _closed(server: asyncio.Server) -> None:
    server.close()
    await server.wait_closed()


def _is_bind_error(exc: OSError) -> bool:
    return isinstance(exc, socket.gaierror) or exc.errno in _BIND_ERRORS


def _bind_problem(variable: str, host: str, port: int, exc: OSError) -> str:
    address = _address(host, port)
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"NEXUS_GATEWAY_HOST={host}: cannot listen on {address}: not an address of this host"
    if exc.errno == errno.EACCES:
        return (
            f"{variable}={port}: cannot listen on {address}: permission denied "
            "(ports below 1024 need privileges)"
        )
    return (
        f"{variable}={port}: cannot listen on {address}: address already in use "
        "(stop what listens there or choose another port)"
    )


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
