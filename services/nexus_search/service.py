"""The search service: answers ``search.requested`` with ranked hits, or with why not.

Every request gets exactly one reply on ``<prefix>.clients``: ``search.completed`` with the
hits (possibly none), or ``search.failed`` whose ``code`` is the engine's stable reason
(``empty``, ``too_long``, ``limit``, ``invalid``) or ``internal``. An unexpected failure is
answered too — a client should never wait for its timeout because of a bug here — by the
service SDK, from the flow's ``failure`` in the manifest, and the request lands in the DLQ
for operators.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from nexus_mesh.envelope import Envelope
from nexus_mesh.service import Context, Service, ServiceConfig
from nexus_mesh.settings import NexusSettings
from nexus_search.catalog import Document
from nexus_search.engine import DEFAULT_LIMIT, Hit, QueryError, SearchEngine, default_engine

log = logging.getLogger(__name__)


def hit_json(hit: Hit) -> dict[str, Any]:
    return {"id": hit.id, "title": hit.title, "score": hit.score, "snippet": hit.snippet}


def build_service(
    catalog: Iterable[Document] | None = None, *, config: ServiceConfig | None = None
) -> Service:
    """The search service over ``catalog`` (default: the shipped one), indexed now."""
    engine = SearchEngine(catalog) if catalog is not None else default_engine()
    service = Service(name="search", domain="search", config=config)

    @service.handler("search.requested")
    async def on_search(event: Envelope, ctx: Context) -> None:
        query = event.payload.get("query")
        limit = event.payload.get("limit")
        try:
            hits = engine.search(
                query,  # type: ignore[arg-type]  # the engine checks types itself
                campaign_id=ctx.campaign_id,
                limit=DEFAULT_LIMIT if limit is None else limit,
            )
        except QueryError as exc:
            await ctx.reply("search.failed", {"code": exc.reason, "message": exc.message})
            return
        # Anything else raised is answered with the flow's failure reply (search.failed,
        # code "internal") by the service SDK, and the request dead-lettered.
        await ctx.reply(
            "search.completed", {"query": query, "hits": [hit_json(hit) for hit in hits]}
        )

    return service


async def run(settings: NexusSettings) -> None:
    """Run the search service until SIGTERM/SIGINT."""
    await build_service().run(settings)
