"""The lean span behaves as the SDK's span does wherever a trace reader would notice.

Each case runs the same calls through the SDK's ``TracerProvider`` and the mesh's
``LeanTracerProvider`` (what ``NEXUS_OTLP_PIPELINE=native`` runs) and compares what their
processors receive.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
)

from nexus_mesh.tracing import context_from_traceparent, format_traceparent
from nexus_mesh.tracing.lean import LeanTracerProvider
from nexus_mesh.tracing.propagation import valid_span_context
from nexus_mesh.tracing.setup import sampler_parts
from nexus_mesh.tracing.spans import (
    EVENT_TYPE,
    MESSAGING_MESSAGE_ID,
    process_span,
    send_span,
    written,
    ws_receive_span,
)
from span_capture import Kept, Spans

TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C
PARENT_ID = 0xB7AD6B7169203331


def _remote(*, sampled: bool, state: str = "") -> Any:
    flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
    parent = SpanContext(
        TRACE_ID,
        PARENT_ID,
        is_remote=True,
        trace_flags=flags,
        trace_state=TraceState.from_header([state]) if state else TraceState(),
    )
    return trace.set_span_in_context(NonRecordingSpan(parent))


def _tracer(spans: Spans) -> trace.Tracer:
    return spans.telemetry.tracer


def test_children_share_the_trace_and_name_their_parent(spans: Spans) -> None:
    tracer = _tracer(spans)
    with tracer.start_as_current_span("root", kind=SpanKind.SERVER) as root:
        with tracer.start_as_current_span("child", kind=SpanKind.PRODUCER) as child:
            assert trace.get_current_span() is child
        assert trace.get_current_span() is root
    finished = {s.name: s for s in spans.finished()}
    assert finished["root"].parent is None
    assert finished["child"].parent == finished["root"].context
    assert finished["child"].context.trace_id == finished["root"].context.trace_id
    assert finished["child"].context.span_id != finished["root"].context.span_id
    assert finished["child"].kind is SpanKind.PRODUCER
    assert finished["root"].start_time <= finished["child"].start_time
    assert finished["child"].end_time <= finished["root"].end_time  # type: ignore[operator]


def test_a_remote_parent_is_kept_with_its_trace_state(spans: Spans) -> None:
    with _tracer(spans).start_as_current_span("child", context=_remote(sampled=True, state="v=1")):
        pass
    (span,) = spans.finished()
    assert span.context.trace_id == TRACE_ID
    assert span.parent is not None
    assert (span.parent.span_id, span.parent.is_remote) == (PARENT_ID, True)
    assert span.context.trace_state.to_header() == "v=1"
    assert not span.context.is_remote


@pytest.mark.parametrize(
    ("sampler", "parent", "recorded"),
    [
        ("parentbased_always_on", None, True),
        ("parentbased_always_on", False, False),
        ("parentbased_always_off", None, False),
        ("parentbased_always_off", True, True),
        ("always_off", True, False),
        ("always_on", False, True),
        ("traceidratio", True, False),  # ratio 0, and it does not follow parents
        ("parentbased_traceidratio", True, True),
        ("parentbased_traceidratio", None, False),
    ],
)
def test_sampling_decisions_match_the_sdk(
    sampler: str, parent: bool | None, recorded: bool
) -> None:
    """Every ``OTEL_TRACES_SAMPLER`` as the SDK decides it, with and without a parent."""
    env = {"OTEL_TRACES_SAMPLER": sampler, "OTEL_TRACES_SAMPLER_ARG": "0"}
    root, follow_parent = sampler_parts(env)
    kept = Kept()
    provider = LeanTracerProvider(
        sampler=root, follow_parent=follow_parent, resource=Resource.create(), processor=kept
    )
    context = None if parent is None else _remote(sampled=parent)
    with provider.get_tracer("t").start_as_current_span("s", context=context) as span:
        assert span.is_recording() is recorded
        assert span.get_span_context().trace_flags.sampled is recorded
        if parent is not None:  # context still flows when not recorded
            assert span.get_span_context().trace_id == TRACE_ID
    assert len(kept.spans) == int(recorded)


def _exported(kind: str, calls: Callable[[trace.Tracer], None]) -> list[Any]:
    """What a processor receives of the spans ``calls`` makes, field by field."""
    spans = Spans(kind)
    calls(spans.telemetry.tracer)
    return [
        (
            span.name,
            list((span.attributes or {}).items()),  # in order: eviction drops the oldest
            span.dropped_attributes,
            [(e.name, dict(e.attributes or {})) for e in span.events],
            span.dropped_events,
            [(link.context.span_id, dict(link.attributes or {})) for link in span.links],
            span.dropped_links,
            (span.status.status_code, span.status.description),
        )
        for span in spans.finished()
    ]


def test_any_attribute_value_is_cleaned_as_the_sdk_cleans_it() -> None:
    class Custom:
        pass

    def calls(tracer: trace.Tracer) -> None:
        with tracer.start_as_current_span("s", attributes={"ok": 1, "list": [1, 2]}) as span:
            span.set_attribute("nested", {"a": [1, "b"]})  # type: ignore[arg-type]
            span.set_attribute("mixed", [1, "a"])  # type: ignore[list-item]
            span.set_attribute("raw", b"\x00")  # type: ignore[arg-type]
            span.set_attribute("custom", Custom())  # type: ignore[arg-type]
            span.set_attributes({"flag": True, "ratio": 0.5, "names": ["a", "b"]})
            span.set_attribute("ok", 2)  # replaces

    sdk, lean = _exported("sdk", calls), _exported("lean", calls)
    assert lean == sdk
    attributes = dict(lean[0][1])
    assert attributes["ok"] == 2 and attributes["names"] == ("a", "b")
    assert attributes["custom"] is None  # neither a known type nor a plain str()


def test_span_limits_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "2")
    monkeypatch.setenv("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "4")
    monkeypatch.setenv("OTEL_SPAN_EVENT_COUNT_LIMIT", "1")
    monkeypatch.setenv("OTEL_SPAN_LINK_COUNT_LIMIT", "1")
    monkeypatch.setenv("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "1")
    other = SpanContext(TRACE_ID, PARENT_ID, is_remote=True, trace_flags=TraceFlags(1))

    def calls(tracer: trace.Tracer) -> None:
        links = [Link(other, {"n": 1}), Link(other, {"n": 2})]
        with tracer.start_as_current_span(
            "s", attributes={"a": "abcdefgh", "b": 2}, links=links
        ) as span:
            span.set_attribute("c", 3)  # over the count: the oldest goes
            span.set_attribute("b", 5)
            span.add_event("one", {"x": 1})
            span.add_event("two", {"x": 1, "y": "long value"})  # over the limits
            span.add_link(other, {"n": 3})

    sdk, lean = _exported("sdk", calls), _exported("lean", calls)
    assert lean == sdk
    (_, attributes, dropped, events, dropped_events, links, dropped_links, _) = lean[0]
    assert (dict(attributes), dropped) == ({"c": 3, "b": 5}, 1)
    assert (events, dropped_events) == ([("two", {"y": "long"})], 1)
    assert (links, dropped_links) == ([(PARENT_ID, {"n": 3})], 2)


def test_status_rules(spans: Spans) -> None:
    tracer = _tracer(spans)
    with tracer.start_as_current_span("ok") as ok:
        ok.set_status(Status(StatusCode.OK))
        ok.set_status(Status(StatusCode.ERROR, "late"))  # OK is final
    with tracer.start_as_current_span("error") as error:
        error.set_status(StatusCode.ERROR, "broken")
        error.set_status(Status(StatusCode.UNSET))  # UNSET never overrides
    finished = {s.name: s.status for s in spans.finished()}
    assert finished["ok"].status_code is StatusCode.OK
    assert (finished["error"].status_code, finished["error"].description) == (
        StatusCode.ERROR,
        "broken",
    )


class _Broken(Exception):  # noqa: N818 - a test's own failure
    pass


def test_an_escaping_exception_is_recorded_as_the_sdk_records_it(spans: Spans) -> None:
    with (
        pytest.raises(_Broken),
        _tracer(spans).start_as_current_span("s"),
    ):
        raise _Broken("it broke")
    (span,) = spans.finished()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "_Broken: it broke"
    (event,) = span.events
    attributes = dict(event.attributes or {})
    assert event.name == "exception"
    assert attributes["exception.type"] == f"{__name__}._Broken"
    assert attributes["exception.message"] == "it broke"
    # As the SDK records it through start_as_current_span (use_span says nothing of escaping).
    assert attributes["exception.escaped"] == "False"
    assert "raise _Broken" in str(attributes["exception.stacktrace"])


def test_exception_recording_can_be_turned_off(spans: Spans) -> None:
    with (
        pytest.raises(_Broken),
        _tracer(spans).start_as_current_span(
            "s", record_exception=False, set_status_on_exception=False
        ),
    ):
        raise _Broken("quiet")
    (span,) = spans.finished()
    assert span.events == ()
    assert span.status.status_code is StatusCode.UNSET


def test_an_ended_span_ignores_changes_and_ends_once(spans: Spans) -> None:
    span = _tracer(spans).start_span("s", attributes={"a": 1})
    span.end()
    span.set_attribute("b", 2)
    span.add_event("late")
    span.set_status(StatusCode.ERROR)
    span.update_name("renamed")
    span.end()
    (finished,) = spans.finished()
    assert (finished.name, dict(finished.attributes or {})) == ("s", {"a": 1})
    assert finished.events == ()
    assert finished.status.status_code is StatusCode.UNSET
    assert not span.is_recording()


def test_links_are_kept(spans: Spans) -> None:
    linked = SpanContext(TRACE_ID, PARENT_ID, is_remote=True, trace_flags=TraceFlags(1))
    with _tracer(spans).start_as_current_span("batch", links=[Link(linked, {"n": 1})]) as span:
        span.add_link(linked, {"n": 2})
    (finished,) = spans.finished()
    assert [(link.context.span_id, dict(link.attributes or {})) for link in finished.links] == [
        (PARENT_ID, {"n": 1}),
        (PARENT_ID, {"n": 2}),
    ]


def test_a_client_traceparent_is_the_parent(spans: Spans) -> None:
    """What the gateway does with a client's ``metadata.traceparent``."""
    context = context_from_traceparent(f"00-{TRACE_ID:032x}-{PARENT_ID:016x}-01")
    with _tracer(spans).start_as_current_span("ws receive", context=context):
        pass
    (span,) = spans.finished()
    assert span.context.trace_id == TRACE_ID
    assert span.parent is not None and span.parent.span_id == PARENT_ID


def test_flush_and_shutdown_reach_the_processor() -> None:
    kept = Kept()
    provider = LeanTracerProvider(
        sampler=ALWAYS_ON, follow_parent=True, resource=Resource.create(), processor=kept
    )
    provider.get_tracer("t").start_span("s").end()
    assert provider.force_flush()
    provider.shutdown()
    provider.shutdown()
    assert kept.calls == ["end", "flush", "shutdown"]


def test_odd_keys_links_and_times_as_the_sdk_has_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """Edge cases a caller of the API can produce: empty and non-string keys, a key set
    again under a count limit, links as a generator, invalid or missing links, limits on
    link attributes and on span attribute length, zero timestamps."""
    monkeypatch.setenv("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "3")
    monkeypatch.setenv("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "4")
    monkeypatch.setenv("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", "1")
    other = SpanContext(TRACE_ID, PARENT_ID, is_remote=True, trace_flags=TraceFlags(1))
    invalid = SpanContext(0, 0, is_remote=False)

    def calls(tracer: trace.Tracer) -> None:
        links = (link for link in [Link(other, {"a": 1, "b": 2}), None, Link(invalid)])
        span = tracer.start_span("s", links=links, start_time=0)  # type: ignore[arg-type]
        span.set_attributes({"": 1, 7: "seven", "a": "abcdefgh"})  # type: ignore[dict-item]
        span.set_attribute("b", 2)
        span.set_attribute("a", "again")  # moves to the end
        span.set_attribute("c", 3)  # evicts the oldest
        span.add_event("zero", timestamp=0)
        span.end(end_time=10)

    sdk, lean = _exported("sdk", calls), _exported("lean", calls)
    assert lean == sdk
    (_, attributes, _, events, _, links, dropped_links, _) = lean[0]
    assert [key for key, _ in attributes] == ["b", "a", "c"]
    assert dict(attributes)["a"] == "agai"
    assert links == [(PARENT_ID, {"b": 2})] and dropped_links == 0
    assert events == [("zero", {})]


@pytest.mark.parametrize(
    "sampler",
    [
        "always_on",
        "always_off",
        "parentbased_always_on",
        "parentbased_always_off",
        "traceidratio",
        "parentbased_traceidratio",
    ],
)
@pytest.mark.parametrize("flags", [None, 0, 1, 2, 3])  # no parent, or the parent's flags
def test_the_mesh_span_helpers_sample_as_the_sdk(sampler: str, flags: int | None) -> None:
    """The helpers' spans start through the lean tracer's ``start_own``, not ``start_span``:
    whatever the sampler and the parent's flags, the span must be recorded or not, and
    carry the trace, flags, state and parent, as the SDK's."""
    env = {"OTEL_TRACES_SAMPLER": sampler, "OTEL_TRACES_SAMPLER_ARG": "1"}
    root, follow_parent = sampler_parts(env)
    parent = None
    if flags is not None:
        parent = trace.set_span_in_context(
            NonRecordingSpan(
                SpanContext(
                    TRACE_ID,
                    PARENT_ID,
                    is_remote=True,
                    trace_flags=TraceFlags(flags),
                    trace_state=TraceState.from_header(["v=1"]),
                )
            )
        )
    seen = {}
    for kind in ("sdk", "lean"):
        if kind == "lean":
            provider: Any = LeanTracerProvider(
                sampler=root,
                follow_parent=follow_parent,
                resource=Resource.create(),
                processor=Kept(),
            )
        else:
            provider = TracerProvider(sampler=ParentBased(root) if follow_parent else root)
        tracer = provider.get_tracer("t")
        with ws_receive_span(tracer, connection_id="c", campaign_id="k", parent=parent) as span:
            context = span.get_span_context()
            with ws_receive_span(tracer, connection_id="c", campaign_id="k") as child:
                child_context = child.get_span_context()
        seen[kind] = [
            (
                s.is_recording(),
                c.trace_flags,
                c.trace_state.to_header(),
                c.is_remote,
                c.trace_id == TRACE_ID,
                getattr(s, "parent", None),
            )
            for s, c in ((span, context), (child, child_context))
        ]
        # The child names its parent when it is recorded; the SDK's and the lean one's own
        # ids differ, so compare what they point at.
        if seen[kind][1][5] is not None:
            assert seen[kind][1][5].span_id == context.span_id
        seen[kind] = [row[:5] for row in seen[kind]]
    assert seen["lean"] == seen["sdk"]


def test_trace_flags_as_the_sdk_sets_them() -> None:
    """W3C flags reach Kafka headers and metadata.traceparent: the random-trace-id flag
    (0x02) of a new trace, or the parent's, must survive as the SDK keeps it."""
    flags = {}
    for kind in ("sdk", "lean"):
        tracer = Spans(kind).telemetry.tracer
        remote = trace.set_span_in_context(
            NonRecordingSpan(
                SpanContext(TRACE_ID, PARENT_ID, is_remote=True, trace_flags=TraceFlags(3))
            )
        )
        root = tracer.start_span("root")
        child = tracer.start_span("child", context=remote)
        flags[kind] = (
            format_traceparent(root.get_span_context())[-2:],
            format_traceparent(child.get_span_context())[-2:],
        )
    assert flags["lean"] == flags["sdk"] == ("03", "03")


async def test_an_async_function_decorated_with_a_span(spans: Spans) -> None:
    tracer = _tracer(spans)

    @tracer.start_as_current_span("work")
    async def work() -> None:
        await asyncio.sleep(0)
        assert trace.get_current_span().is_recording()
        raise _Broken("late")

    with pytest.raises(_Broken):
        await work()
    (span,) = spans.finished()
    assert span.status.status_code is StatusCode.ERROR
    assert [event.name for event in span.events] == ["exception"]


def test_the_mesh_span_helpers_under_limits_as_the_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    """The mesh's own spans skip the lean tracer's check of each attribute; under limits
    from the environment they must still come out as the SDK's (truncated, evicted)."""
    monkeypatch.setenv("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "4")

    def calls(tracer: trace.Tracer) -> None:
        with ws_receive_span(tracer, connection_id="conn-1", campaign_id="campaign-1") as span:
            span.set_attributes({EVENT_TYPE: "chat.message", MESSAGING_MESSAGE_ID: "e1"})
            with send_span(
                tracer,
                topic="nexus.chat",
                key="campaign-1",
                event_type="chat.message",
                event_id="e1",
                campaign_id="campaign-1",
            ) as sent:
                written(sent, partition=3, offset=42)
        with process_span(  # nothing set after the start
            tracer,
            topic="nexus.clients",
            partition=3,
            offset=42,
            key="campaign-1",
            event_type="chat.message",
            event_id="e1",
            campaign_id="campaign-1",
        ):
            pass

    sdk, lean = _exported("sdk", calls), _exported("lean", calls)
    assert lean == sdk
    assert [dropped for (_, _, dropped, *_) in lean] == [6, 1, 6]
    monkeypatch.delenv("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT")
    monkeypatch.setenv("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "5")
    sdk, lean = _exported("sdk", calls), _exported("lean", calls)
    assert lean == sdk
    assert all(len(str(value)) <= 5 for (_, attributes, *_) in lean for _, value in attributes)


def test_plain_and_odd_values_set_together_keep_the_sdk_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Plain values are set without the SDK's cleaning; mixed with values that need it, the
    order (which decides what a count limit evicts) must stay the SDK's."""
    monkeypatch.setenv("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "3")

    def calls(tracer: trace.Tracer) -> None:
        span = tracer.start_span("s", attributes={"a": 1})
        span.set_attributes({"b": 2, "list": [1, 2], "c": "x"})  # plain, odd, plain
        span.set_attributes({"a": 3, "d": 4.5})  # a re-set key moves last; d evicts
        span.set_attribute("e", True)
        span.end()

    sdk, lean = _exported("sdk", calls), _exported("lean", calls)
    assert lean == sdk
    (_, attributes, dropped, *_) = lean[0]
    assert [key for key, _ in attributes] == ["a", "d", "e"] and dropped == 4


@pytest.mark.parametrize("remote", [False, True])
def test_a_span_context_is_the_checked_one(remote: bool) -> None:
    """The lean tracer (local) and the traceparent parser (remote) build contexts without
    SpanContext's checks: every field, and what the API derives from them, must equal the
    checked constructor's."""
    state = TraceState.from_header(["vendor=value"])
    for flags in (TraceFlags(0), TraceFlags(1), TraceFlags(3)):
        made = valid_span_context(TRACE_ID, PARENT_ID, remote, flags, state)
        checked = SpanContext(
            TRACE_ID, PARENT_ID, is_remote=remote, trace_flags=flags, trace_state=state
        )
        assert made == checked
        assert (made.trace_id, made.span_id, made.is_remote, made.trace_flags) == (
            checked.trace_id,
            checked.span_id,
            checked.is_remote,
            checked.trace_flags,
        )
        assert made.is_valid and made.trace_state is checked.trace_state
        assert format_traceparent(made) == format_traceparent(checked)
