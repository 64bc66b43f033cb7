"""An idempotent, acks=all producer of envelopes: a write is reported only once Kafka has it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from nexus_mesh.codec import Codec
from nexus_mesh.envelope import Envelope
from nexus_mesh.errors import KafkaUnavailableError
from nexus_mesh.kafka.connection import client_kwargs
from nexus_mesh.kafka.records import Headers, record_headers, record_key
from nexus_mesh.settings import NexusSettings


@dataclass(frozen=True, kw_only=True)
class Written:
    """Where Kafka stored a record."""

    topic: str
    partition: int
    offset: int


class EnvelopeProducer:
    """Encodes envelopes and writes them keyed by campaign, with the headers of section 4."""

    def __init__(
        self,
        *,
        settings: NexusSettings,
        codec: Codec,
        client_id: str,
        send_timeout_s: float = 10.0,
        linger_ms: int = 1,
    ) -> None:
        self._codec = codec
        self._send_timeout_s = send_timeout_s
        self._producer = AIOKafkaProducer(
            **client_kwargs(settings),
            client_id=client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=linger_ms,
        )

    async def start(self) -> None:
        try:
            await self._producer.start()
        except KafkaError as exc:
            raise KafkaUnavailableError(f"producer cannot reach Kafka: {exc}") from exc

    async def stop(self) -> None:
        await self._producer.stop()

    async def send(
        self, envelope: Envelope, *, topic: str, extra_headers: Headers | None = None
    ) -> Written:
        """Write ``envelope`` and wait for acks=all; raise a retriable error if Kafka can't."""
        value = self._codec.encode(envelope)
        headers = record_headers(envelope)
        if extra_headers:
            headers.extend(extra_headers)
        return await self.send_raw(
            topic=topic, key=record_key(envelope), value=value, headers=headers
        )

    async def send_raw(
        self, *, topic: str, key: bytes | None, value: bytes, headers: Headers
    ) -> Written:
        try:
            # One deadline covers waiting for metadata, buffer space and the acks.
            async with asyncio.timeout(self._send_timeout_s):
                pending = await self._producer.send(topic, value=value, key=key, headers=headers)
                metadata = await pending
        except TimeoutError as exc:
            raise KafkaUnavailableError(
                f"Kafka did not acknowledge a write to {topic} within {self._send_timeout_s:.0f} s"
            ) from exc
        except KafkaError as exc:
            raise KafkaUnavailableError(f"Kafka refused a write to {topic}: {exc}") from exc
        return Written(topic=metadata.topic, partition=metadata.partition, offset=metadata.offset)
