"""The SDK's span limits as the lean span applies them (``OTEL_SPAN_*``,
``OTEL_ATTRIBUTE_*``, ``OTEL_EVENT_*``, ``OTEL_LINK_*``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import SpanLimits
from opentelemetry.trace import SpanContext
from opentelemetry.util.types import Attributes, AttributeValue

_SCALARS = frozenset((str, bool, int, float))


class Limits:
    """The SDK's span limits (read from ``OTEL_*`` once per provider).

    Attributes the mesh sets itself (scalars, within the count, no length limit) go straight
    into a dict; anything else goes through the SDK's ``BoundedAttributes``, so that cleaning,
    truncation and eviction (the oldest goes first) are the SDK's own.
    """

    __slots__ = ("attributes", "event_attributes", "events", "length", "link_attributes", "links")

    def __init__(self, limits: SpanLimits) -> None:
        self.attributes = limits.max_span_attributes
        self.events = limits.max_events
        self.links = limits.max_links
        self.event_attributes = limits.max_event_attributes
        self.link_attributes = limits.max_link_attributes
        self.length = limits.max_attribute_length

    def span_attributes(
        self, attributes: Mapping[str, object] | None, kept: dict[str, AttributeValue] | None = None
    ) -> tuple[dict[str, AttributeValue], int]:
        """``kept`` (already clean) updated with ``attributes``, and how many were dropped."""
        if not attributes:
            return ({} if kept is None else kept), 0
        if (
            self.length is None
            and set(map(type, attributes.values())) <= _SCALARS
            and (
                self.attributes is None
                or len(attributes) + (0 if kept is None else len(kept)) <= self.attributes
            )
        ):
            if kept is None:
                return dict(attributes), 0  # type: ignore[arg-type]
            kept.update(attributes)  # type: ignore[arg-type]
            return kept, 0
        bounded = BoundedAttributes(
            self.attributes, kept, immutable=False, max_value_len=self.length
        )
        bounded.update(attributes)  # type: ignore[arg-type]
        return dict(bounded), bounded.dropped

    def frozen(self, attributes: Attributes, count: int | None) -> BoundedAttributes:
        """An event's or link's attributes, as the SDK keeps them."""
        return BoundedAttributes(count, attributes, immutable=True, max_value_len=self.length)


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
