"""The schema registry directory (DESIGN.md section 3): manifest, schema versions, flows."""

from nexus_mesh.registry.loader import load_registry
from nexus_mesh.registry.model import (
    ClientTarget,
    EventType,
    Flow,
    Registry,
    SchemaVersion,
)

__all__ = ["ClientTarget", "EventType", "Flow", "Registry", "SchemaVersion", "load_registry"]
