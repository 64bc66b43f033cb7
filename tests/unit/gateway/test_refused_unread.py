"""Frames the gateway refuses without reading them (over the rate limit, binary, too large)
cost it no JSON parse, whatever they hold: a client past its rate limit cannot spend the
gateway's CPU on megabyte frames. Each answer still names the event id the frame claims, so
the client can match it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from nexus_gateway.client_frame import scanned_event_id
from nexus_gateway.connection import Connection
from nexus_gateway.ingress import Ingress


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every JSON parse in the process, counted by size."""
    seen: list[int] = []
    real = orjson.loads

    def counting(data: Any) -> Any:
        seen.append(len(data))
        return real(data)

    monkeypatch.setattr(orjson, "loads", counting)
    return seen


def big_frame(event_id: str, *, size: int = 1 << 20) -> bytes:
    # A payload heavy to parse (many small members), a traceparent to tempt the span's parent
    # lookup, and the metadata last, as clients write it.
    payload = {f"k{n}": n for n in range(size // 12)}
    return orjson.dumps(
        {
            "type": "chat.message",
            "payload": payload,
            "metadata": {
                "event_id": event_id,
                "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            },
        }
    )


async def test_over_the_rate_limit_is_refused_unread(
    make_ingress: Callable[..., Ingress], connection: Connection, parses: list[int]
) -> None:
    ingress = make_ingress(max_event_bytes=2 << 20)
    frame = big_frame("flood-1")
    answer = await ingress.handle(connection, frame, allowed=False, retry_after_s=0.25)
    payload = orjson.loads(answer)["payload"]  # the test's own parse, of the small answer
    assert payload["code"] == "rate_limited"
    assert payload["event_id"] == "flood-1"
    assert payload["retry_after_ms"] == 250
    assert [n for n in parses if n >= len(frame)] == [], "the refused frame was parsed"
    # The control: the same frame, allowed, is parsed where this test watches for it (a
    # parse moved elsewhere would leave the count above empty for the wrong reason).
    await ingress.handle(connection, frame, allowed=True)
    assert [n for n in parses if n >= len(frame)] == [len(frame)]


async def test_too_large_and_binary_frames_are_refused_unread(
    make_ingress: Callable[..., Ingress], connection: Connection, parses: list[int]
) -> None:
    ingress = make_ingress(max_event_bytes=4096)
    frame = big_frame("big-1")
    too_large = orjson.loads(await ingress.handle(connection, frame, allowed=True))["payload"]
    binary = orjson.loads(ingress.refuse_binary(connection, frame, allowed=True))["payload"]
    limited = orjson.loads(ingress.refuse_binary(connection, frame, allowed=False))["payload"]
    assert (too_large["code"], too_large["event_id"]) == ("too_large", "big-1")
    assert (binary["code"], binary["event_id"]) == ("bad_frame", "big-1")
    assert (limited["code"], limited["event_id"]) == ("rate_limited", "big-1")
    assert [n for n in parses if n >= len(frame)] == [], "a refused frame was parsed"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"type":"t","payload":{},"metadata":{"event_id":"e-1"}}', "e-1"),
        (b'{"type":"t","metadata":{"event_id" : "e:2.x"}}', "e:2.x"),
        ('{"payload":{"event_id":"inner"},"metadata":{"event_id":"outer"}}', "outer"),
        # A small frame is parsed: a field so named after the metadata's does not fool it.
        (
            '{"metadata":{"event_id":"real","attributes":{"event_id":"attr"}},"type":"t",'
            '"payload":{"event_id":"inner"}}',
            "real",
        ),
        # A large one is scanned: the last one, the metadata's, written after a payload
        # that has a field so named.
        (
            '{"payload":{"event_id":"inner","pad":"' + "x" * 5000 + '"},'
            '"metadata":{"event_id":"outer"}}',
            "outer",
        ),
        ('{"type":"t","metadata":{"event_id":"not an id!"}}', None),
        ('{"type":"t","metadata":{"event_id":7}}', None),
        ('{"type":"t","payload":{"text":"event_id"}}', None),
        (b"\xff\xfe not even text", None),
        ("", None),
    ],
)
def test_the_claimed_id_is_found_by_a_parse_or_a_scan(
    raw: str | bytes, expected: str | None
) -> None:
    assert scanned_event_id(raw) == expected
