"""A pause after a failed metadata update of an aiokafka client (aio-libs/aiokafka#496).

An aiokafka client updates its metadata in one background task; ``force_metadata_update()``
wakes it and returns a future that the update resolves. With no broker reachable the update
fails at once (a refused connection is instant) and resolves that future with no pause. A
producer whose last metadata gave a pending batch's partition no leader (metadata fetched as
the broker shut down says so) waits on exactly that future, finds the leader still unknown and
asks again: thousands of connection attempts a second, each logged, and a core's worth of CPU
for as long as the outage lasts, though only while a write waits. A consumer's fetcher waits
the same way for an assigned partition without a leader, and spins the same way. aiokafka
0.14.0 has no setting against it (a delay between connection attempts is proposed in
aio-libs/aiokafka#1014).

:func:`pace_failed_metadata_updates` makes the client's background update wait
its own retry backoff after a failure before reporting it: a waiter learns of the failure, and asks
again, at most once per backoff, while an update that succeeds is reported as soon as it
does. It wraps a private method of the client, so it checks that the method is there and
leaves the client as it is, with a warning, if it is not.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger(__name__)


def pace_failed_metadata_updates(client: Any) -> None:
    """Make ``client`` (an ``aiokafka.AIOKafkaClient``) pause after each failed update of its
    own metadata, as long as its own ``retry_backoff_ms`` (100 ms unless set)."""
    update = getattr(client, "_metadata_update", None)
    if (
        not callable(update)
        or not hasattr(client, "cluster")
        or not hasattr(client, "_retry_backoff")
    ):
        log.warning(
            "this aiokafka client has no _metadata_update: failed metadata updates are not "
            "paced, and an outage may cost a busy loop of connection attempts"
        )
        return

    async def paced(cluster_metadata: Any, *args: Any, **kwargs: Any) -> Any:
        updated = await update(cluster_metadata, *args, **kwargs)
        # Only the update of the client's own metadata, which the background task makes and
        # every waiter shares; a one-off fetch into a fresh object (fetch_all_metadata)
        # reports its failure to its caller at once, as before.
        if not updated and cluster_metadata is client.cluster:
            await asyncio.sleep(client._retry_backoff)
        return updated

    client._metadata_update = paced


def pace_consumer(consumer: Any) -> None:
    """:func:`pace_failed_metadata_updates` for an ``aiokafka.AIOKafkaConsumer``'s client,
    which the consumer builds itself and keeps in a private attribute."""
    pace_failed_metadata_updates(getattr(consumer, "_client", None))
