"""Resume positions: where in the client-bound log a connection stands (DESIGN.md section 5).

A position names the next record a connection will receive on its campaign's partition of
``<prefix>.clients`` and on each partition of ``<prefix>.system``. It also records the
clients topic's partition count: after that changes, a campaign may live in another
partition and an old position can no longer be honoured.

Clients treat the string as opaque; it is ``v1.<partitions>.<partition>.<offset>.<sys...>``.
"""

from __future__ import annotations

from dataclasses import dataclass

_VERSION = "v1"


@dataclass(frozen=True, slots=True)
class Position:
    partitions: int
    partition: int
    offset: int
    system: tuple[int, ...]

    def encode(self) -> str:
        system = "-".join(str(offset) for offset in self.system)
        return f"{_VERSION}.{self.partitions}.{self.partition}.{self.offset}.{system}"

    @classmethod
    def decode(cls, text: str) -> Position:
        """Parse a position; raise ``ValueError`` on anything that is not one."""
        parts = text.split(".")
        if len(parts) != 5 or parts[0] != _VERSION or len(text) > 512:
            raise ValueError("not a Nexus Mesh position")
        try:
            partitions, partition, offset = (int(p) for p in parts[1:4])
            system = tuple(int(p) for p in parts[4].split("-")) if parts[4] else ()
        except ValueError:
            raise ValueError("not a Nexus Mesh position") from None
        if partitions < 1 or not 0 <= partition < partitions or offset < 0:
            raise ValueError("not a Nexus Mesh position")
        if any(o < 0 for o in system):
            raise ValueError("not a Nexus Mesh position")
        return cls(partitions=partitions, partition=partition, offset=offset, system=system)
