"""What a client's frame may hold, and how each refusal names the event it refuses."""

from __future__ import annotations

from typing import Any

import pytest

from nexus_gateway.client_frame import (
    claimed_event_id,
    client_attributes,
    client_id,
    client_traceparent,
    client_tracestate,
    parse_frame,
)
from nexus_gateway.protocol import ClientEventError, ErrorCode

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def refusal(call: Any, *args: Any) -> ClientEventError:
    with pytest.raises(ClientEventError) as caught:
        call(*args)
    assert caught.value.code is ErrorCode.BAD_FRAME
    return caught.value


@pytest.mark.parametrize(
    ("raw", "message", "event_id"),
    [
        ("{not json", "not valid JSON", None),
        ("[1]", "must be a JSON object", None),
        ('{"type": "a.b", "extra": 1, "metadata": {"event_id": "e1"}}', "extra", "e1"),
        ('{"payload": {}, "metadata": {"event_id": "e2"}}', "no type", "e2"),
        ('{"type": "a.b", "metadata": []}', "metadata must be an object", None),
    ],
)
def test_a_malformed_frame_is_refused_naming_its_event(
    raw: str, message: str, event_id: str | None
) -> None:
    error = refusal(parse_frame, raw)
    assert message in str(error)
    assert error.event_id == event_id


def test_a_well_formed_frame_is_read_as_sent() -> None:
    frame = parse_frame(b'{"type": "chat.message", "payload": {"text": "hi"}}')
    assert frame == {"type": "chat.message", "payload": {"text": "hi"}}


def test_the_claimed_id_is_given_back_only_when_valid() -> None:
    assert claimed_event_id(b'{"metadata": {"event_id": "ok-1"}}') == "ok-1"
    assert claimed_event_id(b'{"metadata": {"event_id": "bad id!"}}') is None
    assert claimed_event_id(b"\x00binary") is None


def test_ids_follow_the_design_s_rules() -> None:
    assert client_id({"correlation_id": "c:1"}, "correlation_id") == "c:1"
    assert client_id({}, "correlation_id") is None
    error = refusal(client_id, {"correlation_id": "x" * 129}, "correlation_id", "e3")
    assert error.event_id == "e3"


def test_attributes_are_bounded_strings_outside_the_gateway_s_prefix() -> None:
    assert client_attributes({"attributes": {"lang": "en"}}, "e") == {"lang": "en"}
    assert client_attributes({}, "e") == {}
    # Each refusal says what is wrong with the attribute, not a catch-all.
    reserved = refusal(client_attributes, {"attributes": {"nexus.sender_user_id": "x"}}, "e")
    assert str(reserved) == (
        "metadata.attributes['nexus.sender_user_id']: keys starting with 'nexus.' (in any case) "
        "are the gateway's"
    )
    # A look-alike beside the gateway's own would fool a reader comparing keys without case.
    refusal(client_attributes, {"attributes": {"NEXUS.Sender_User_Id": "bob"}}, "e")
    assert str(refusal(client_attributes, {"attributes": {"n": 1}}, "e")).endswith(
        "['n']: must be a string"
    )
    refusal(client_attributes, {"attributes": {f"k{i}": "v" for i in range(33)}}, "e")
    too_long = refusal(client_attributes, {"attributes": {"k": "v" * 1025}}, "e")
    assert "values 1024" in str(too_long)


def test_a_traceparent_is_w3c_or_refused() -> None:
    assert client_traceparent({"traceparent": TRACEPARENT}, "e") == TRACEPARENT
    assert client_traceparent({}, "e") is None
    assert refusal(client_traceparent, {"traceparent": "00-abc"}, "e4").event_id == "e4"


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("congo=t61rcWkgMzE", "congo=t61rcWkgMzE"),
        ("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
        ("not a state!", None),
        ("x=" + "a" * 600, None),  # past the 512 characters W3C lets a participant drop
        (7, None),
        ("", None),
    ],
)
def test_a_tracestate_is_kept_when_valid_and_dropped_otherwise(
    sent: object, kept: str | None
) -> None:
    assert client_tracestate({"tracestate": sent}) == kept


def test_a_client_s_invalid_tracestate_writes_nothing_to_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A client may send one with every event: its text must not reach the gateway's log."""
    with caplog.at_level("DEBUG"):
        for sent in ("not a state!", "a=b,\x07bell=1", "UPPER=x", "k=" + "v" * 300):
            assert client_tracestate({"tracestate": sent}) is None
    assert caplog.records == []


def test_a_lone_surrogate_escape_becomes_a_replacement_character() -> None:
    """JavaScript's JSON.stringify escapes half an emoji (text cut by ``slice``) as
    ``\\ud83d``: valid JSON orjson refuses. The event goes on, with its id, as a browser
    sends text it cannot encode: the lone half is U+FFFD; a whole escaped pair is kept, and an
    escaped backslash before ``ud83d`` is text."""
    raw = (
        '{"type": "chat.message", "payload": {"text": "cut \\ud83d, whole \\ud83d\\udc4b,'
        ' text \\\\ud83d"}, "metadata": {"event_id": "uni-lone"}}'
    )
    frame = parse_frame(raw)
    assert frame["payload"]["text"] == "cut \ufffd, whole \U0001f44b, text \\ud83d"
    assert claimed_event_id(raw) == "uni-lone"
    # Still refused: what only Python's own parser takes, which no JSON allows.
    refusal(parse_frame, '{"type": "a.b", "payload": {"x": NaN, "t": "\\ud800"}}')
