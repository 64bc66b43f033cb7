"""``nexus gateway``: run one WebSocket gateway process."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "gateway", help="run the WebSocket gateway (NEXUS_GATEWAY_HOST / NEXUS_GATEWAY_PORT)"
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from nexus_gateway.server import serve
    from nexus_mesh.logs import configure_logging
    from nexus_mesh.settings import load_settings

    settings = load_settings()
    configure_logging(settings.log_level, fmt=settings.log_format, service="nexus-gateway")
    asyncio.run(serve(settings))
    return 0
