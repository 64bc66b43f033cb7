"""The service SDK: handlers per event type on a domain topic, replies, publishing, a DLQ.

See :mod:`nexus_mesh.service.app` for a complete service in a few lines.
"""

from nexus_mesh.service.app import Service
from nexus_mesh.service.config import ServiceConfig
from nexus_mesh.service.context import Context, Origin
from nexus_mesh.service.handling import Handler, ServiceStats
from nexus_mesh.service.publisher import EnvelopeSink, EventFactory, Published, Publisher

__all__ = [
    "Context",
    "EnvelopeSink",
    "EventFactory",
    "Handler",
    "Origin",
    "Published",
    "Publisher",
    "Service",
    "ServiceConfig",
    "ServiceStats",
]
