"""The fan-out's subscribers: raw WebSockets in one campaign, each checking that it gets every
event of a round exactly once and in order, and when."""

from __future__ import annotations

import asyncio
import time
from array import array
from dataclasses import dataclass, field

import aiohttp
import orjson
from aiohttp import WSMsgType


@dataclass
class FanoutRound:
    """What every subscriber expects in one run; ``done`` is set once all have everything."""

    prefix: str
    events: int
    remaining: int
    frame_bytes: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)


class Subscriber:
    """One raw WebSocket in the campaign. Per frame: one orjson parse, the event id checked
    against what this run expects (exactly once, in order), and the arrival time kept."""

    __slots__ = (
        "close_code",
        "disorder",
        "dups",
        "first_t",
        "high",
        "last_t",
        "round",
        "seen",
        "stray",
        "times",
        "unique",
        "ws",
    )

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.round: FanoutRound | None = None
        self.seen = bytearray()
        self.times = array("d")
        self.unique = self.dups = self.disorder = self.stray = 0
        self.high = -1
        self.first_t = self.last_t = 0.0
        self.close_code: int | None = None

    def expect(self, round_: FanoutRound) -> None:
        self.round = round_
        self.seen = bytearray(round_.events)
        self.times = array("d", bytes(8 * round_.events))
        self.unique = self.dups = self.disorder = self.stray = 0
        self.high = -1
        self.first_t = self.last_t = 0.0

    async def read(self) -> None:
        ws = self.ws
        while True:
            message = await ws.receive()
            if message.type is WSMsgType.TEXT:
                self._on_frame(message.data)
            elif message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                self.close_code = ws.close_code
                return
            elif message.type is WSMsgType.ERROR:
                self.close_code = -1
                return

    def _on_frame(self, data: str) -> None:
        now = time.perf_counter()
        round_ = self.round
        event_id = orjson.loads(data)["metadata"].get("event_id", "")
        if round_ is None or not event_id.startswith(round_.prefix):
            self.stray += 1
            return
        seq = int(event_id[len(round_.prefix) :])
        if self.seen[seq]:
            self.dups += 1
            return
        self.seen[seq] = 1
        self.times[seq] = now
        if seq < self.high:
            self.disorder += 1
        else:
            self.high = seq
        if not self.unique:
            self.first_t = now
            if not round_.frame_bytes:
                round_.frame_bytes = len(data.encode())
        self.unique += 1
        self.last_t = now
        if self.unique == round_.events:
            round_.remaining -= 1
            if round_.remaining == 0:
                round_.done.set()


async def connect_subscribers(
    session: aiohttp.ClientSession, base_url: str, campaign: str, count: int
) -> list[Subscriber]:
    gate = asyncio.Semaphore(50)
    ws_base = base_url.replace("http://", "ws://", 1)

    async def one(index: int) -> Subscriber:
        async with gate:
            ws = await session.ws_connect(f"{ws_base}/ws/{campaign}/sub-{index}", autoping=True)
            welcome = await ws.receive(timeout=30)
            if welcome.type is not WSMsgType.TEXT or "nexus.welcome" not in welcome.data:
                raise RuntimeError(f"subscriber {index}: expected a welcome, got {welcome!r}")
            return Subscriber(ws)

    return list(await asyncio.gather(*(one(index) for index in range(count))))
