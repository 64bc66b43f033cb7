"""One chaos run from start to verdict: the mesh, the clients and the publisher, the faults,
then settling, reading Kafka back and checking."""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.chaos.checker import KafkaRecord, read_kafka, verify, wait_caught_up
from bench.chaos.client import ChaosClient
from bench.chaos.config import CLEANUP_DEADLINE_S, SETTLE_DEADLINE_S, ChaosConfig, Schedule
from bench.chaos.counters import Counters, Timeline
from bench.chaos.faults import Faults
from bench.chaos.mesh import ChaosMesh, GatewayProcess
from bench.chaos.pause import measure_pause
from bench.chaos.publisher import BackendPublisher
from bench.chaos.result import ChaosResult
from nexus_mesh.codec import Codec
from nexus_mesh.kafka.producer import EnvelopeProducer
from nexus_mesh.kafka.topics import TopicNames
from nexus_mesh.registry import load_registry
from nexus_mesh.service import Publisher


class ChaosRun:
    def __init__(self, config: ChaosConfig, workdir: Path) -> None:
        self.config = config
        self.workdir = workdir
        self.schedule = Schedule.for_config(config)
        self.timeline = Timeline(config.quiet)
        self.counters = Counters()
        self.campaigns = [f"chaos-{i}" for i in range(config.campaigns)]
        self.mesh = ChaosMesh(config, workdir, self.timeline)
        self.session: aiohttp.ClientSession | None = None
        self.clients: list[ChaosClient] = []
        self.acks: list[tuple[str, int, int]] = []  # (event_id, partition, offset)
        self.stop_emitting = asyncio.Event()
        self.closing = False
        self.failures: list[str] = []
        self.traffic_t0 = 0.0
        self.faults = Faults(self)

    @property
    def gateways(self) -> list[GatewayProcess]:
        return self.mesh.gateways

    async def connect_clients(self) -> None:
        config = self.config
        index = 0
        for c, campaign in enumerate(self.campaigns):
            for u in range(config.clients_per_campaign):
                # Each campaign has clients on both gateways.
                home = (c + u) % 2
                self.clients.append(ChaosClient(self, index, campaign, f"u{u}", home))
                index += 1
        gate = asyncio.Semaphore(16)

        async def open_one(client: ChaosClient) -> None:
            async with gate:
                await client.open()

        await asyncio.gather(*(open_one(client) for client in self.clients))
        self.timeline.note(
            f"{len(self.clients)} clients in {len(self.campaigns)} campaigns connected"
        )

    async def settle(self, emitters: list[asyncio.Task[None]]) -> None:
        self.stop_emitting.set()
        self.timeline.note("stop emitting; settling in-doubt events")
        done, pending = await asyncio.wait(emitters, timeout=SETTLE_DEADLINE_S + 30)
        for task in pending:
            task.cancel()
            self.failures.append(f"an emitter did not settle in time: {task.get_name()}")
        for task in done:
            if task.exception() is not None:
                self.failures.append(f"{task.get_name()} failed: {task.exception()!r}")

    def dump(self, records: list[KafkaRecord]) -> None:
        """Everything observed, for a post-mortem: ``chaos-data.json`` in the work dir."""
        t0 = self.traffic_t0
        data = {
            "timeline": self.timeline.entries,
            "traffic_t0_timeline": t0 - self.timeline.t0,
            "kafka": [[r.partition, r.offset, r.event_id, r.campaign, r.type] for r in records],
            "acks": self.acks,
            "clients": [
                {
                    "tag": c.tag,
                    "home": c.home,
                    "welcomes": [
                        [w.mono - t0, w.gateway, w.partition, w.offset, w.recovered, w.resumed]
                        for w in c.welcomes
                    ],
                    "deliveries": [[e, o, round(t - t0, 4)] for e, o, t in c.deliveries],
                    "events": [
                        [e.event_id, e.ack is not None, e.confirmed, e.rejected] for e in c.events
                    ],
                }
                for c in self.clients
            ],
        }
        (self.workdir / "chaos-data.json").write_text(json.dumps(data))

    async def execute(self) -> ChaosResult:
        began = time.monotonic()
        connector = aiohttp.TCPConnector(limit=0)
        self.session = aiohttp.ClientSession(connector=connector)
        readers: list[asyncio.Task[None]] = []
        workers: list[asyncio.Task[None]] = []
        producer: EnvelopeProducer | None = None
        try:
            await self.mesh.start(self.session)
            settings = self.mesh.settings
            assert settings is not None
            registry = load_registry(settings.schemas_dir)
            codec = Codec(registry)
            producer = EnvelopeProducer(
                settings=settings, codec=codec, client_id="chaos-publisher", send_timeout_s=5
            )
            await producer.start()
            publisher = BackendPublisher(
                self,
                Publisher(
                    registry=registry,
                    codec=codec,
                    producer=producer,
                    topics=TopicNames(prefix=self.mesh.prefix),
                    source="bench/chaos",
                ),
            )
            await self.connect_clients()
            readers = [
                asyncio.create_task(c.read_loop(), name=f"read-{c.tag}") for c in self.clients
            ]
            self.traffic_t0 = time.monotonic()
            self.timeline.note(
                f"traffic on: chaos at +{self.schedule.gateway_kill:.0f}s (gateway kill), "
                f"+{self.schedule.broker_kill:.0f}s (broker kill, restart "
                f"+{self.schedule.broker_restart:.0f}s), +{self.schedule.gateway_drain:.0f}s "
                f"(gateway drain); emitting until +{self.schedule.end:.0f}s"
            )
            emitters = [
                asyncio.create_task(c.emit_loop(), name=f"emit-{c.tag}") for c in self.clients
            ]
            emitters.append(asyncio.create_task(publisher.run_loop(), name="publisher"))
            workers = list(emitters)
            await self.faults.inject()
            await asyncio.sleep(max(0.0, self.traffic_t0 + self.schedule.end - time.monotonic()))
            traffic_s = time.monotonic() - self.traffic_t0
            await self.settle(emitters)
            for client in self.clients:
                if client.doubts or client.resend_queue:
                    self.failures.append(
                        f"{client.tag}: {len(client.doubts)} in doubt, "
                        f"{len(client.resend_queue)} to resend when the run ended"
                    )
            if publisher.unresolved:
                self.failures.append(f"publisher: unresolved writes {publisher.unresolved[:5]}")
            records = await read_kafka(settings, self.config.clients_partitions)
            self.timeline.note(f"read {len(records)} records back from {self.mesh.prefix}.clients")
            behind = await wait_caught_up(self.clients, records)
            self.timeline.note(
                f"{len(self.clients) - behind} of {len(self.clients)} subscribers have their "
                "campaign's last record; verifying"
            )
            verdict = verify(records, self.campaigns, self.acks, self.clients)
            measure_pause(
                self.faults.pause,
                self.clients,
                self.config.clients_partitions,
                self.faults.broker_window,
                self.faults.calm,
            )
            if self.config.workdir is not None:
                self.dump(records)
            for client in self.clients:
                if client.failed:
                    self.failures.append(client.failed)
                if client.foreign:
                    self.failures.append(f"{client.tag}: {client.foreign} foreign events")
            for gateway in self.gateways:
                if not gateway.alive:
                    self.failures.append(f"gateway {gateway.name} is not running at the end")
            return ChaosResult(
                config=self.config,
                schedule=self.schedule,
                counters=self.counters,
                verdict=verdict,
                pause=self.faults.pause,
                timeline=self.timeline.entries,
                failures=self.failures,
                kafka_version=self.mesh.kafka.version,
                traffic_s=traffic_s,
                wall_s=time.monotonic() - began,
                traffic_at=self.traffic_t0 - self.timeline.t0,
            )
        finally:
            self.closing = True
            self.stop_emitting.set()
            try:
                # Bounded on its own: this also runs once the run's deadline has fired.
                async with asyncio.timeout(CLEANUP_DEADLINE_S):
                    await self._stop_traffic([*workers, *readers], producer)
            except TimeoutError:
                self.timeline.note(f"clients not closed within {CLEANUP_DEADLINE_S:.0f} s")
            # The mesh itself is stopped by `run`, outside the deadline.

    async def _stop_traffic(
        self, tasks: list[asyncio.Task[None]], producer: EnvelopeProducer | None
    ) -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(
            *(c.conn.close() for c in self.clients if c.conn is not None),
            return_exceptions=True,
        )
        if producer is not None:
            with contextlib.suppress(Exception):
                await producer.stop()
        if self.session is not None:
            await self.session.close()


class ChaosDeadlineError(TimeoutError):
    """The run outlived its deadline; the message carries the timeline up to then."""


async def run(config: ChaosConfig) -> ChaosResult:
    """Run the whole chaos check; the result says whether every guarantee held."""
    config.validate()
    limit = config.deadline()
    with contextlib.ExitStack() as stack:
        if config.workdir is not None:
            config.workdir.mkdir(parents=True, exist_ok=True)
            workdir = config.workdir
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="nexus-chaos-")))
        chaos = ChaosRun(config, workdir)
        deadline = asyncio.timeout(limit)
        try:
            async with deadline:
                return await chaos.execute()
        except TimeoutError as exc:
            if not deadline.expired():
                raise
            # The traceback shows what the run was awaiting; the timeline, how far it got.
            notes = "\n".join(f"  [{at:7.2f}s] {text}" for at, text in chaos.timeline.entries)
            raise ChaosDeadlineError(
                f"the chaos run did not finish within {limit:.0f} s; its timeline:\n{notes}"
            ) from exc
        finally:
            # Awaited to the end whatever happened (each step is bounded), before the work
            # directory holding the brokers' data can be removed.
            await asyncio.to_thread(chaos.mesh.shutdown)
