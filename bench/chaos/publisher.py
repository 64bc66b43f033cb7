"""The backend publisher: ``campaign.updated`` to random campaigns, each written until Kafka
has it, an in-doubt write awaited and never written again."""

from __future__ import annotations

import asyncio
import random
import time
from typing import TYPE_CHECKING

from bench.chaos.client import wait_event
from bench.chaos.config import UPDATED
from nexus_mesh.envelope import Envelope
from nexus_mesh.errors import KafkaUnavailableError, WriteInDoubtError
from nexus_mesh.service import Publisher

if TYPE_CHECKING:
    from bench.chaos.run import ChaosRun


class BackendPublisher:
    def __init__(self, run: ChaosRun, publisher: Publisher) -> None:
        self.run = run
        self.publisher = publisher
        self.rng = random.Random(run.config.seed * 7_919 + 17)
        self.unresolved: list[str] = []

    async def run_loop(self) -> None:
        stop = self.run.stop_emitting
        seq = 0
        while not stop.is_set():
            if await wait_event(stop, self.rng.expovariate(self.run.config.publish_rate)):
                break
            seq += 1
            campaign = self.rng.choice(self.run.campaigns)
            envelope = self.publisher.events.envelope(
                UPDATED,
                {
                    "name": None,
                    "status": "live",
                    "changes": {"seq": str(seq)},
                    "updated_at": int(time.time() * 1000),
                },
                campaign_id=campaign,
                event_id=f"pub.{seq}",
            )
            self.run.counters.published += 1
            await self._write(envelope)

    async def _write(self, envelope: Envelope) -> None:
        """Write until Kafka has it; an in-doubt write is awaited, never written again."""
        counters = self.run.counters
        event_id = envelope.metadata.event_id
        deadline = time.monotonic() + 120
        attempt = 0
        while time.monotonic() < deadline:
            if attempt:
                counters.publisher_resends += 1
            attempt += 1
            try:
                published = await self.publisher.send(envelope)
            except WriteInDoubtError as exc:
                counters.publisher_in_doubt += 1
                try:
                    async with asyncio.timeout(max(1.0, deadline - time.monotonic())):
                        meta = await asyncio.shield(exc.delivery)
                except TimeoutError:
                    break
                except Exception:
                    await asyncio.sleep(0.2)
                    continue  # failed for certain: write again
                counters.publisher_acks += 1
                self.run.acks.append((event_id, meta.partition, meta.offset))
                return
            except KafkaUnavailableError:
                await asyncio.sleep(0.2)
                continue
            counters.publisher_acks += 1
            self.run.acks.append((event_id, published.partition, published.offset))
            return
        self.unresolved.append(event_id)
