"""Python client of the gateway's WebSocket protocol (DESIGN.md section 5).

    async with MeshClient.connect("http://127.0.0.1:8080", campaign_id="c", user_id="u",
                                  token=jwt) as client:
        ack = await client.emit("chat.message", {"text": "hi"})
        reply = await client.request("search", {"query": "jazz"})
        async for event in client.events():
            ...

When a session ends (``events()`` ends after its last event; an ``emit``/``request`` raises
``MeshClosedError``) with a resumable close (``client.close_code in RESUMABLE_CLOSE_CODES``:
1001, 4008, 1006), read the old session's ``events()`` to its end and reconnect with
``client.reconnect()``: a ``client.resume()`` retried with backoff (``token=new`` after 4001
for an expired token: the error's ``needs_new_token``), that is ``MeshClient.connect(...,
since=client.position, connection_id=client.connection_id)`` plus the replies this session
received that no request took. Resend what was not answered under its ``event_id``
(``MeshClosedError.event_id``, ``MeshTimeoutError.event_id``): a request's reply, replayed
by the resume or kept from before, answers it. A session taken over by a newer resume of its
id (4009) is not resumed.
"""

from nexus_mesh.client.frames import (
    RESUMABLE_CLOSE_CODES,
    UNAUTHORIZED_CLOSE_CODE,
    Ack,
    Event,
    MeshClosedError,
    MeshConnectError,
    MeshError,
    MeshProtocolError,
    MeshTimeoutError,
)
from nexus_mesh.client.session import Connecting, MeshClient
from nexus_mesh.client.target import AuthVia
from nexus_mesh.envelope import new_event_id

__all__ = [
    "RESUMABLE_CLOSE_CODES",
    "UNAUTHORIZED_CLOSE_CODE",
    "Ack",
    "AuthVia",
    "Connecting",
    "Event",
    "MeshClient",
    "MeshClosedError",
    "MeshConnectError",
    "MeshError",
    "MeshProtocolError",
    "MeshTimeoutError",
    "new_event_id",
]
