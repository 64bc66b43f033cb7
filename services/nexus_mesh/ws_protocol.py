"""Names of the client WebSocket protocol (DESIGN.md section 5) that both ends use.

The gateway sends these close codes and frame types and ``nexus_mesh.client`` reads them:
one definition, so that the two cannot drift apart.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final

# Event types under it belong to the protocol: never sent by clients nor written by services.
PROTOCOL_PREFIX: Final = "nexus."
ACK: Final = "nexus.ack"
ERROR: Final = "nexus.error"
WELCOME: Final = "nexus.welcome"


class CloseCode(IntEnum):
    GOING_AWAY = 1001
    # Never sent: what a peer sees of a connection that ended without a close frame.
    ABNORMAL = 1006
    TOO_LARGE = 1009
    UNAUTHORIZED = 4001
    FORBIDDEN = 4003
    SLOW_CONSUMER = 4008
    # Its connection id was resumed by another connection of the same user: not to be
    # resumed again from here (two sessions resuming one id would take it from each other).
    REPLACED = 4009
