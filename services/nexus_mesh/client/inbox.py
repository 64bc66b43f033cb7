"""A bounded inbox with an end marker, read by the client's consumers."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

_T = TypeVar("_T")


# Room past a small bound for the events ahead of an answer: an application that answers
# events from inside its events() loop with a bound of a few events would otherwise wait on
# itself whenever a backlog stands between it and its answer.
MIN_OVERFLOW = 1000


def _never() -> bool:
    return False


class Inbox(Generic[_T]):
    """A queue that readers can tell has ended, even when it was full at the end.

    ``put`` waits while ``maxsize`` items are unread, unless its ``beyond_bound`` says the
    writer must go on (the client's reader, while an answer someone waits for may be behind
    the events it would otherwise stop for), and then by as many again at most, and at least
    ``MIN_OVERFLOW``: memory stays bounded even while the answer waited for never comes;
    :meth:`wake` makes a waiting ``put`` ask again.
    """

    def __init__(self, maxsize: int) -> None:
        self._items: deque[_T] = deque()
        self._maxsize = maxsize
        self._hard_limit = maxsize + max(maxsize, MIN_OVERFLOW)
        self._ended = False
        self._readable = asyncio.Event()
        self._changed = asyncio.Event()  # an item taken, or wake(): a waiting put looks again

    def __len__(self) -> int:
        return len(self._items)

    async def put(self, item: _T, *, beyond_bound: Callable[[], bool] = _never) -> None:
        while len(self._items) >= self._maxsize and not (
            len(self._items) < self._hard_limit and beyond_bound()
        ):
            self._changed.clear()
            await self._changed.wait()
        self._append(item)

    def wake(self) -> None:
        self._changed.set()

    def put_dropping_oldest(self, item: _T) -> None:
        if len(self._items) >= self._maxsize:
            self._items.popleft()
        self._append(item)

    def take_back(self, item: _T) -> bool:
        """Remove ``item`` itself (not an equal one) if it is still unread."""
        for index, queued in enumerate(self._items):
            if queued is item:
                del self._items[index]
                self._changed.set()
                return True
        return False

    def end(self) -> None:
        self._ended = True
        self._readable.set()

    async def get(self) -> _T | None:
        while not self._items:
            if self._ended:
                return None
            self._readable.clear()
            await self._readable.wait()
        item = self._items.popleft()
        self._changed.set()
        return item

    def _append(self, item: _T) -> None:
        self._items.append(item)
        self._readable.set()
