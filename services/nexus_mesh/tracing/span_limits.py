"""The SDK's span limits as the lean span applies them (``OTEL_SPAN_*``,
``OTEL_ATTRIBUTE_*``, ``OTEL_EVENT_*``, ``OTEL_LINK_*``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import SpanLimits
from opentelemetry.trace import Link, SpanContext
from opentelemetry.util.types import Attributes, AttributeValue

_SCALARS = frozenset((str, bool, int, float))
_STR = {str}


class Limits:
    """The SDK's span limits (read from ``OTEL_*`` once per provider).

    Attributes the mesh sets itself (scalars, within the count, no length limit) go straight
    into a dict; anything else goes through the SDK's ``BoundedAttributes``, so that cleaning,
    truncation and eviction (the oldest goes first) are the SDK's own.
    """

    __slots__ = (
        "attributes",
        "event_attributes",
        "events",
        "length",
        "link_attributes",
        "links",
        "span_length",
    )

    def __init__(self, limits: SpanLimits) -> None:
        self.attributes = limits.max_span_attributes
        self.span_length = limits.max_span_attribute_length
        self.events = limits.max_events
        self.links = limits.max_links
        self.event_attributes = limits.max_event_attributes
        self.link_attributes = limits.max_link_attributes
        self.length = limits.max_attribute_length  # of events' and links' attributes

    def span_attributes(
        self,
        attributes: Mapping[str, object] | None,
        kept: dict[str, AttributeValue] | None = None,
        *,
        plain: bool = False,
    ) -> tuple[dict[str, AttributeValue], int]:
        """``kept`` (already clean) updated with ``attributes``, and how many were dropped.

        As the SDK: a key set again moves to the end (the oldest goes first over the count).
        ``plain``: the caller built them from non-empty string keys and scalar values (the
        mesh's own spans, ``nexus_mesh.tracing.spans``), so only the limits are looked at.
        Single values set later go through :meth:`put` first, so ``kept`` arrives here only
        with something to clean, truncate or evict.
        """
        if not attributes:
            return ({} if kept is None else kept), 0
        if (
            kept is None
            and self.span_length is None
            and (self.attributes is None or len(attributes) <= self.attributes)
            and (
                plain
                or (
                    set(map(type, attributes.values())) <= _SCALARS
                    and set(map(type, attributes)) == _STR
                    and "" not in attributes
                )
            )
        ):
            return dict(attributes), 0  # type: ignore[arg-type]
        bounded = BoundedAttributes(
            self.attributes, kept, immutable=False, max_value_len=self.span_length
        )
        bounded.update(attributes)  # type: ignore[arg-type]
        return dict(bounded), bounded.dropped

    def put(self, kept: dict[str, AttributeValue], key: str, value: object) -> bool:
        """Set one attribute in ``kept`` when it needs none of the SDK's cleaning, truncation
        or eviction (a key set again moves last, as the SDK has it); False leaves it to
        :meth:`span_attributes`."""
        if (
            self.span_length is None
            and type(value) in _SCALARS
            and type(key) is str
            and key
            and (key in kept or self.attributes is None or len(kept) < self.attributes)
        ):
            kept.pop(key, None)
            kept[key] = value  # type: ignore[assignment]
            return True
        return False

    def frozen(self, attributes: Attributes, count: int | None) -> BoundedAttributes:
        """An event's or link's attributes, as the SDK keeps them."""
        return BoundedAttributes(count, attributes, immutable=True, max_value_len=self.length)

    def links_of(self, links: Sequence[Link | None]) -> tuple[tuple[Link, ...], int]:
        """The links a span starts with, as the SDK keeps them: the valid ones, their
        attributes bounded, the last ``links`` of them; also how many were dropped."""
        valid = [
            Link(link.context, self.frozen(link.attributes, self.link_attributes))
            for link in links
            if link and is_valid_link(link.context, link.attributes)
        ]
        if self.links is None or len(valid) <= self.links:
            return tuple(valid), 0
        return tuple(valid[len(valid) - self.links :]), len(valid) - self.links


_Item = TypeVar("_Item")


def appended(
    items: tuple[_Item, ...], item: _Item, limit: int | None
) -> tuple[tuple[_Item, ...], int]:
    """``items`` with ``item`` last, the oldest dropped beyond ``limit`` (as the SDK's
    ``BoundedList``); also how many were dropped."""
    if limit is None or len(items) < limit:
        return (*items, item), 0
    if limit == 0:
        return (), 1
    return (*items[len(items) - limit + 1 :], item), 1


def is_valid_link(context: SpanContext, attributes: Attributes) -> bool:
    # As the SDK: an invalid context is still worth a link when it carries something.
    return bool(context.is_valid or attributes or context.trace_state)
