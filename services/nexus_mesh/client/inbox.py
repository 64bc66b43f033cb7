"""A bounded inbox with an end marker, read by the client's consumers."""

from __future__ import annotations

import asyncio
import contextlib
import enum
from typing import Generic, TypeVar

_T = TypeVar("_T")


class End(enum.Enum):
    END = enum.auto()


class Inbox(Generic[_T]):
    """A bounded queue that readers can tell has ended, even when it was full at the end."""

    def __init__(self, maxsize: int) -> None:
        self._queue: asyncio.Queue[_T | End] = asyncio.Queue(maxsize)
        self._ended = False

    async def put(self, item: _T) -> None:
        await self._queue.put(item)

    def put_dropping_oldest(self, item: _T) -> None:
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(item)

    def end(self) -> None:
        self._ended = True
        # A full queue has no waiting getter; its reader sees `_ended` once it has drained.
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(End.END)

    async def get(self) -> _T | None:
        if self._ended and self._queue.empty():
            return None
        item = await self._queue.get()
        if isinstance(item, End):
            # Put the marker back so every other waiting getter wakes up too.
            self._queue.put_nowait(item)
            return None
        return item
