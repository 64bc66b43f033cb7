"""A bounded inbox with an end marker, read by the client's consumers."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

_T = TypeVar("_T")


def _never() -> bool:
    return False


class Inbox(Generic[_T]):
    """A queue that readers can tell has ended, even when it was full at the end.

    ``put`` waits while ``maxsize`` items are unread, unless its ``beyond_bound`` says the
    writer must go on (the client's reader, while an answer someone waits for may be behind
    the events it would otherwise stop for); :meth:`wake` makes a waiting ``put`` ask again.
    """

    def __init__(self, maxsize: int) -> None:
        self._items: deque[_T] = deque()
        self._maxsize = maxsize
        self._ended = False
        self._readable = asyncio.Event()
        self._changed = asyncio.Event()  # an item taken, or wake(): a waiting put looks again

    def __len__(self) -> int:
        return len(self._items)

    async def put(self, item: _T, *, beyond_bound: Callable[[], bool] = _never) -> None:
        while len(self._items) >= self._maxsize and not beyond_bound():
            self._changed.clear()
            await self._changed.wait()
        self._append(item)

    def wake(self) -> None:
        self._changed.set()

    def put_dropping_oldest(self, item: _T) -> None:
        if len(self._items) >= self._maxsize:
            self._items.popleft()
        self._append(item)

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
