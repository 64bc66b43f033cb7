"""Waiting for a new cluster to coordinate consumer groups.

A cluster creates its ``__consumer_offsets`` topic on the first group-coordinator lookup and
answers ``COORDINATOR_NOT_AVAILABLE`` until that topic has leaders, a few hundred
milliseconds. aiokafka's consumer logs each such answer at ERROR, so a service's first start
on a new cluster (``make dev``, CI, a fresh test broker) greeted its operator with an error
for nothing.
"""

from __future__ import annotations

import asyncio

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from nexus_mesh.errors import KafkaUnavailableError
from nexus_mesh.kafka.connection import client_kwargs
from nexus_mesh.settings import NexusSettings


async def await_group_coordinator(
    settings: NexusSettings, group_id: str, *, timeout: float = 60.0
) -> None:
    """Return once the broker names a coordinator for ``group_id``.

    A new broker creates its offsets topic on the first request for a coordinator and
    answers "not available" until the topic has a leader; a consumer that joins meanwhile
    retries, but aiokafka logs each refusal as an ERROR. Every service asks first, before its
    consumer starts, and spares its user the alarm. Raises :class:`KafkaUnavailableError`
    after ``timeout`` seconds, or at once for an error that retrying does not mend (not
    authorised to describe the group).
    """
    # Named as the group's own consumer is, for the broker's logs and quotas.
    admin = AIOKafkaAdminClient(**client_kwargs(settings), client_id=group_id)
    last: Exception | None = None
    try:
        # One deadline for all of it: a broker that takes connections but never answers
        # would otherwise hold the start for a request timeout per call.
        async with asyncio.timeout(timeout):
            await admin.start()
            while True:
                try:
                    await admin.find_coordinator(group_id)
                    return
                except KafkaError as exc:
                    if not exc.retriable:
                        raise KafkaUnavailableError(
                            f"no coordinator for consumer group {group_id}: {exc}"
                        ) from exc
                    last = exc
                await asyncio.sleep(0.2)  # the broker is electing the offsets topic's leader
    except TimeoutError as exc:
        raise KafkaUnavailableError(
            f"no coordinator for consumer group {group_id} within {timeout:g} s: {last or exc!r}"
        ) from exc
    finally:
        await admin.close()
