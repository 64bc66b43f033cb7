"""Where the connections of this pod are, by id, by campaign and by user (DESIGN.md section 6).

A user may hold several connections at once: a reconnect never evicts, and is never evicted
by, the live one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from nexus_gateway.connection import Connection, Identity
from nexus_gateway.departures import RecentDepartures
from nexus_mesh.envelope import Envelope, Metadata

# Told of every routed record (live or replayed) and the connections it went to here.
DeliveredHook = Callable[[Envelope, list[Connection]], None]


def routes_to(meta: Metadata, identity: Identity) -> bool:
    """Whether the client-bound event with ``meta`` is for the connection ``identity``."""
    if meta.campaign_id != identity.campaign_id:
        return False
    if meta.user_id and meta.user_id != identity.user_id:
        # Checked even when a connection is named: a connection id is not a credential.
        return False
    if meta.connection_id:
        return meta.connection_id == identity.connection_id
    return True


class ConnectionHub:
    def __init__(self, departures: RecentDepartures | None = None) -> None:
        self._by_id: dict[str, Connection] = {}
        self._by_campaign: dict[str, dict[str, set[Connection]]] = {}
        # Kept here so that every arrival and departure is recorded, whoever makes it.
        self.departures = departures or RecentDepartures()

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[Connection]:
        return iter(list(self._by_id.values()))

    @property
    def campaign_count(self) -> int:
        return len(self._by_campaign)

    def campaigns(self) -> Iterable[str]:
        return self._by_campaign.keys()

    def add(self, connection: Connection) -> None:
        ident = connection.identity
        self._by_id[ident.connection_id] = connection
        users = self._by_campaign.setdefault(ident.campaign_id, {})
        users.setdefault(ident.user_id, set()).add(connection)
        self.departures.returned(ident.campaign_id, ident.user_id, ident.connection_id)

    def remove(self, connection: Connection) -> bool:
        """Forget ``connection``; True when it was its campaign's last one here."""
        ident = connection.identity
        if self._by_id.get(ident.connection_id) is not connection:
            return False
        del self._by_id[ident.connection_id]
        self.departures.left(ident.campaign_id, ident.user_id, ident.connection_id)
        users = self._by_campaign.get(ident.campaign_id, {})
        mine = users.get(ident.user_id)
        if mine is not None:
            mine.discard(connection)
            if not mine:
                del users[ident.user_id]
        if not users:
            self._by_campaign.pop(ident.campaign_id, None)
            return True
        return False

    def get(self, connection_id: str) -> Connection | None:
        return self._by_id.get(connection_id)

    def in_campaign(self, campaign_id: str) -> Iterator[Connection]:
        for connections in self._by_campaign.get(campaign_id, {}).values():
            yield from connections

    def of_user(self, campaign_id: str, user_id: str) -> Iterable[Connection]:
        return self._by_campaign.get(campaign_id, {}).get(user_id, ())

    def targets(
        self, *, campaign_id: str, user_id: str | None, connection_id: str | None
    ) -> list[Connection]:
        """The routing rule of section 6 for one client-bound event."""
        if connection_id:
            target = self._by_id.get(connection_id)
            if (
                target is not None
                and target.identity.campaign_id == campaign_id
                and (not user_id or target.identity.user_id == user_id)
            ):
                return [target]
            return []
        if user_id:
            return list(self.of_user(campaign_id, user_id))
        return list(self.in_campaign(campaign_id))
