"""Connections that left this pod lately, for a resume that gives only its position.

DESIGN.md section 5 resumes with ``?since=<position>``; a reply or a timeout, though, is
addressed to the connection that asked (section 6), and a position cannot name it: event
frames are the same bytes for every connection (section 7). A client that also passes
``connection_id`` (the client library does) keeps its id on any pod. One that passes only
``since`` keeps it too when this pod saw exactly one connection of that user in that campaign
leave within :data:`MEMORY_S` and holds none of theirs now: that is the connection it is
resuming. With two or more, or one still registered (a half-open socket its heartbeat has
not caught yet), the pod cannot tell which, and the resume gets a new id, as it does on
another pod.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

# Long enough to cover a reconnect after a network change or a laptop lid closed for a
# while; short enough that the memory stays a few entries per active user.
MEMORY_S = 600.0
# Users remembered at most; the ones that left longest ago are forgotten first.
MAX_USERS = 100_000
# Ids kept per user: two decide between "exactly one" and "ambiguous", and any older one has
# expired once the older of the two has.
PER_USER = 2


class RecentDepartures:
    def __init__(
        self,
        *,
        memory_s: float = MEMORY_S,
        max_users: int = MAX_USERS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._memory_s = memory_s
        self._max_users = max_users
        self._clock = clock
        # (campaign, user) -> connection id -> when it left; users in the order they last left.
        self._left: OrderedDict[tuple[str, str], dict[str, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._left)

    @property
    def held(self) -> int:
        """Connection ids remembered, all users together."""
        return sum(len(ids) for ids in self._left.values())

    def left(self, campaign_id: str, user_id: str, connection_id: str) -> None:
        key = (campaign_id, user_id)
        now = self._clock()
        ids = self._left.pop(key, {})
        ids.pop(connection_id, None)
        ids[connection_id] = now
        while len(ids) > PER_USER:
            del ids[next(iter(ids))]  # the earliest departure: dicts keep insertion order
        self._left[key] = ids
        # Users are in the order they last left, so the expired ones are at the front.
        oldest = now - self._memory_s
        while self._left and (
            len(self._left) > self._max_users
            or max(next(iter(self._left.values())).values()) < oldest
        ):
            self._left.popitem(last=False)

    def returned(self, campaign_id: str, user_id: str, connection_id: str) -> None:
        """``connection_id`` is live again (resumed here): no longer one that left."""
        ids = self._left.get((campaign_id, user_id))
        if ids is not None:
            ids.pop(connection_id, None)
            if not ids:
                del self._left[(campaign_id, user_id)]

    def sole(self, campaign_id: str, user_id: str) -> str | None:
        """The id of the one connection of this user in this campaign that left within the
        memory, or None when none or several did."""
        key = (campaign_id, user_id)
        ids = self._left.get(key)
        if ids is None:
            return None
        oldest = self._clock() - self._memory_s
        for connection_id in [c for c, at in ids.items() if at < oldest]:
            del ids[connection_id]
        if not ids:
            del self._left[key]
            return None
        if len(ids) > 1:
            return None
        return next(iter(ids))
