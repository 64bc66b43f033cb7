"""Python client of the gateway's WebSocket protocol (DESIGN.md section 5).

    async with MeshClient.connect("http://127.0.0.1:8080", campaign_id="c", user_id="u",
                                  token=jwt) as client:
        ack = await client.emit("chat.message", {"text": "hi"})
        reply = await client.request("search", {"query": "jazz"})
        async for event in client.events():
            ...

After a resumable close (``MeshClosedError.retriable``: 1001, 4008, 1006) reconnect with
``client.resume()``, i.e. ``MeshClient.connect(..., since=client.position)``.
"""

from nexus_mesh.client.frames import (
    RESUMABLE_CLOSE_CODES,
    Ack,
    Event,
    MeshClosedError,
    MeshConnectError,
    MeshError,
)
from nexus_mesh.client.session import Connecting, MeshClient
from nexus_mesh.client.target import AuthVia
from nexus_mesh.envelope import new_event_id

__all__ = [
    "RESUMABLE_CLOSE_CODES",
    "Ack",
    "AuthVia",
    "Connecting",
    "Event",
    "MeshClient",
    "MeshClosedError",
    "MeshConnectError",
    "MeshError",
    "new_event_id",
]
