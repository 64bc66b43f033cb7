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
    retries, but aiokafka logs each refusal as an ERROR. ``nexus dev`` (on a broker it may
    just have created) and every service before its consumer starts ask first and spare
    their user the alarm. Raises :class:`KafkaUnavailableError` after ``timeout`` seconds,
    or at once for an error that retrying does not mend (not authorised to describe the
    group).
    """
    admin = AIOKafkaAdminClient(**client_kwargs(settings))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        await admin.start()
        while True:
            try:
                await admin.find_coordinator(group_id)
                return
            except KafkaError as exc:
                if not exc.retriable or loop.time() > deadline:
                    raise KafkaUnavailableError(
                        f"no coordinator for consumer group {group_id}: {exc}"
                    ) from exc
            await asyncio.sleep(0.2)  # the broker is electing the offsets topic's leader
    finally:
        await admin.close()
