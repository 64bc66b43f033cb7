"""A backend service: a name, a domain, and one async handler per event type.

::

    service = Service(name="search", domain="search")

    @service.handler("search.requested")
    async def on_search(event: Envelope, ctx: Context) -> None:
        query = event.payload["query"]
        await ctx.reply("search.completed", {"query": query, "hits": []})
        await ctx.publish("chat.message", {"text": f"someone searched {query!r}"})

    service.run_forever()  # settings from NEXUS_*; stops on SIGTERM/SIGINT

Each service is a consumer group, ``<prefix>.<name>`` unless configured otherwise, on its
domain topic ``<prefix>.<domain>``: its instances share the domain's partitions, and a
campaign's events reach one instance, in order (DESIGN.md section 7). The group carries the
topic prefix so that meshes with different prefixes on one cluster never share a group.

:meth:`Service.run` is a process's entry point, so it owns the process's telemetry: it
sets up logging from ``NEXUS_LOG_FORMAT``/``NEXUS_LOG_LEVEL`` (as ``nexus service`` does,
unless logging was set up before), builds tracing from ``OTEL_*`` and serves the Prometheus
metrics on ``NEXUS_SERVICE_METRICS_PORT``. :meth:`Service.start` only uses the telemetry it
is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import re
import signal
import sys
from collections.abc import Callable, Mapping
from dataclasses import replace
from types import MappingProxyType

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from nexus_mesh.codec import Codec
from nexus_mesh.envelope import is_event_type
from nexus_mesh.errors import (
    ConfigurationError,
    KafkaUnavailableError,
    NexusError,
    TopicMissingError,
)
from nexus_mesh.kafka.connection import client_kwargs, stop_quietly
from nexus_mesh.kafka.coordinator import await_group_coordinator
from nexus_mesh.kafka.metadata_backoff import pace_consumer
from nexus_mesh.kafka.producer import EnvelopeProducer
from nexus_mesh.kafka.topics import METADATA_MAX_AGE_MS, TopicNames
from nexus_mesh.logs import configure_logging
from nexus_mesh.prometheus import MetricsServer, serve_metrics, without_created_series
from nexus_mesh.registry import Registry, load_registry
from nexus_mesh.service.config import ServiceConfig
from nexus_mesh.service.dlq import DeadLetters
from nexus_mesh.service.metrics import ServiceMetrics
from nexus_mesh.service.publisher import Publisher
from nexus_mesh.service.runner import Handler, Runner, ServiceStats
from nexus_mesh.settings import DEFAULT_TOPIC_PREFIX, NexusSettings, load_settings
from nexus_mesh.tracing import Telemetry, setup_telemetry

_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
# A new cluster's group coordinator takes well under a second; past this the consumer looks
# for it itself (and says why it is not there).
_COORDINATOR_WAIT_S = 10.0


class Service:
    """Handlers plus lifecycle: :meth:`start`/:meth:`stop` in a running loop, or :meth:`run`."""

    def __init__(
        self, *, name: str, domain: str | None = None, config: ServiceConfig | None = None
    ) -> None:
        if not _NAME_RE.fullmatch(name):
            raise ConfigurationError(
                f"service name {name!r}: use lowercase letters, digits, '_' or '-'"
            )
        self.name = name
        self.domain = domain or name
        self.config = config or ServiceConfig()
        self.log = logging.getLogger(f"nexus.service.{name}")
        self._handlers: dict[str, Handler] = {}
        self._runner: Runner | None = None
        self._starting = False
        self._producer: EnvelopeProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._ready = asyncio.Event()
        self._stats = ServiceStats()
        self._telemetry = Telemetry()
        self._topic_prefix = DEFAULT_TOPIC_PREFIX
        self.metrics = ServiceMetrics(service=name)

    @property
    def group_id(self) -> str:
        """``ServiceConfig.group_id``, else ``<prefix>.<name>`` with the topic prefix of the
        last :meth:`start` (the default prefix before one)."""
        return self.config.group_id or f"{self._topic_prefix}.{self.name}"

    @property
    def handlers(self) -> Mapping[str, Handler]:
        return MappingProxyType(self._handlers)

    @property
    def ready(self) -> asyncio.Event:
        """Set once the group has assigned this instance its partitions (possibly none),
        the same event from before :meth:`start` or :meth:`run` until the service stops
        (an event of the next run then)."""
        return self._ready

    @property
    def stats(self) -> ServiceStats:
        return self._runner.stats if self._runner is not None else self._stats

    @property
    def running(self) -> bool:
        return self._runner is not None

    def handler(self, *event_types: str) -> Callable[[Handler], Handler]:
        """Register the decorated coroutine function (or an object with an ``async def
        __call__``) for one or more event types."""
        if not event_types:
            raise TypeError("handler() needs at least one event type")
        for event_type in event_types:
            if not is_event_type(event_type):
                raise ConfigurationError(f"{event_type!r} is not an event type name (domain.name)")
            if event_type in self._handlers:
                raise ConfigurationError(f"{self.name} already has a handler for {event_type}")

        def register(function: Handler) -> Handler:
            # A plain function returning an awaitable is refused although the type allows it:
            # one that forgets to await would pass every record as handled.
            if not (
                inspect.iscoroutinefunction(function)
                or inspect.iscoroutinefunction(getattr(function, "__call__", None))  # noqa: B004
            ):
                raise TypeError(
                    f"handler {function!r} must be an async def function, or an object whose "
                    "__call__ is one"
                )
            for event_type in event_types:
                self._handlers[event_type] = function
            return function

        return register

    def check(self, registry: Registry) -> None:
        """Raise ConfigurationError unless every handled type arrives on this domain."""
        if not self._handlers:
            raise ConfigurationError(f"service {self.name} has no handlers")
        for event_type in self._handlers:
            entry = registry.get(event_type)
            if entry is None:
                raise ConfigurationError(
                    f"service {self.name} handles {event_type}, which the manifest lacks "
                    f"({registry.directory / 'manifest.json'}; NEXUS_SCHEMAS_DIR names the "
                    "schemas directory)"
                )
            if entry.topic != self.domain:
                raise ConfigurationError(
                    f"service {self.name} consumes domain {self.domain!r}, but the manifest "
                    f"sends {event_type} to {entry.topic!r}: it would never arrive"
                )

    async def start(
        self,
        settings: NexusSettings,
        *,
        registry: Registry | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        """Connect, join the group and begin consuming; returns before partitions arrive.

        ``telemetry`` traces the records handled and the events sent (default: no tracing).
        """
        if self._runner is not None or self._starting:
            raise RuntimeError(f"service {self.name} is already running")
        self._starting = True
        try:
            # Reading the schemas and compiling their codecs takes a while: not on a loop
            # that may already serve other things (an application embedding the service).
            if registry is None:
                registry = await asyncio.to_thread(load_registry, settings.schemas_dir)
            self.check(registry)
            codec = await asyncio.to_thread(Codec, registry)
            topics = TopicNames(prefix=settings.topic_prefix)
            self._telemetry = telemetry or Telemetry()
            self.metrics.spans_dropped.track(self._telemetry.span_losses)
            self._topic_prefix = settings.topic_prefix
            producer, consumer = await self._connect(settings, codec, topics)
        finally:
            self._starting = False
        config = self.config
        if settings.service_max_concurrency:
            config = replace(config, max_concurrency=settings.service_max_concurrency)
        runner = Runner(
            name=self.name,
            topic=topics.domain(self.domain),
            handlers=self._handlers,
            config=config,
            consumer=consumer,
            codec=codec,
            publisher=Publisher(
                registry=registry,
                codec=codec,
                producer=producer,
                topics=topics,
                source=self.name,
                metrics=self.metrics,
            ),
            dead_letters=DeadLetters(
                producer=producer, topic=topics.dlq, service=self.name, metrics=self.metrics
            ),
            log=self.log,
            group_id=self.group_id,
            telemetry=self._telemetry,
            metrics=self.metrics,
            failure_replies={
                flow.request: flow.failure_type
                for flow in registry.flows.values()
                if flow.failure_type is not None
            },
            ready=self._ready,
        )
        self._producer, self._consumer, self._runner = producer, consumer, runner
        runner.start()
        self.log.info(
            "service %s started: group %s on %s, handling %s, up to %d at once",
            self.name,
            self.group_id,
            topics.domain(self.domain),
            ", ".join(sorted(self._handlers)),
            config.max_concurrency,
        )

    async def _connect(
        self, settings: NexusSettings, codec: Codec, topics: TopicNames
    ) -> tuple[EnvelopeProducer, AIOKafkaConsumer]:
        producer = EnvelopeProducer(
            settings=settings,
            codec=codec,
            client_id=self.group_id,
            send_timeout_s=self.config.send_timeout_s,
            telemetry=self._telemetry,
        )
        consumer: AIOKafkaConsumer | None = None
        try:
            await producer.start()
            # Before the consumer looks for it, which logs every "not available yet" at ERROR;
            # anything else wrong is left for the consumer to report as it always has.
            with contextlib.suppress(KafkaError, KafkaUnavailableError, OSError):
                await await_group_coordinator(settings, self.group_id, timeout=_COORDINATOR_WAIT_S)
            consumer = AIOKafkaConsumer(
                **client_kwargs(settings),
                client_id=self.group_id,
                group_id=self.group_id,
                enable_auto_commit=False,
                auto_offset_reset=self.config.start_from,
                # A transactional writer's aborted requests are never handled.
                isolation_level="read_committed",
                max_poll_records=self.config.max_records,
                # Partitions added to the domain topic: the group rebalances onto them within
                # a minute, as the producers writing there follow, not the default five.
                metadata_max_age_ms=METADATA_MAX_AGE_MS,
            )
            pace_consumer(consumer)
            try:
                await consumer.start()
            except KafkaError as exc:
                raise KafkaUnavailableError(f"consumer cannot reach Kafka: {exc}") from exc
            # The domain topic to consume, and the topics every service writes to: replies
            # go to clients, failures to the DLQ. Finding one missing at the first reply
            # would dead-letter that request, or leave its dead letter nowhere to go.
            await _require_topics(
                consumer, [topics.domain(self.domain), topics.clients, topics.dlq]
            )
        except BaseException:
            if consumer is not None:
                await self._close_clients(consumer, producer)
            else:
                await stop_quietly(producer.stop())
            raise
        return producer, consumer

    async def stop(self) -> None:
        """Finish the records in hand, commit, leave the group and disconnect."""
        runner, consumer, producer = self._runner, self._consumer, self._producer
        if runner is None or consumer is None or producer is None:
            return
        try:
            await runner.stop()
        finally:
            self._stats = runner.stats
            # A new event, not this one cleared: the next run may be in another event loop.
            self._ready = asyncio.Event()
            self._runner = self._consumer = self._producer = None
            await self._close_clients(consumer, producer)
        self.log.info("service %s stopped", self.name)

    async def _close_clients(self, consumer: AIOKafkaConsumer, producer: EnvelopeProducer) -> None:
        """Both at once, under one deadline (the chart's grace period counts on it), each
        let finish whatever the other does."""
        stops = asyncio.gather(consumer.stop(), producer.stop(), return_exceptions=True)
        await stop_quietly(stops)
        if stops.done() and not stops.cancelled():
            for outcome in stops.result():
                if isinstance(outcome, Exception):
                    self.log.warning("closing a Kafka client failed: %r", outcome)

    async def run(
        self, settings: NexusSettings | None = None, *, telemetry: Telemetry | None = None
    ) -> None:
        """Run until SIGTERM/SIGINT (graceful stop) or a fatal error (raised).

        Logs go to stderr as the settings say (JSON lines naming ``nexus-<name>`` by default)
        unless the process set up logging before. Without ``telemetry``, tracing comes from
        ``OTEL_*`` (service name ``nexus-<name>`` unless ``OTEL_SERVICE_NAME`` says otherwise)
        and is flushed when the service stops.
        """
        settings = settings or load_settings()
        self._configure_logging(settings)
        owned = telemetry is None
        telemetry = telemetry or setup_telemetry(
            f"nexus-{self.name}", otlp_pipeline=settings.otlp_pipeline
        )
        server: MetricsServer | None = None
        try:
            server = self._serve_metrics(settings)
            await self._run(settings, telemetry)
        finally:
            if server is not None:
                server.close()
            if owned:
                # Exporting what is still queued may block on the network: not on the loop.
                await asyncio.to_thread(telemetry.shutdown)

    def _configure_logging(self, settings: NexusSettings) -> None:
        # configure_logging replaces the root logger's handlers with its own. A process that
        # already has handlers chose its logging (`nexus service` calls configure_logging
        # before it gets here, an application may have its own): replacing them would undo
        # that choice, so, like logging.basicConfig, only a process without any is set up.
        if logging.getLogger().handlers:
            return
        configure_logging(settings.log_level, fmt=settings.log_format, service=f"nexus-{self.name}")

    def _serve_metrics(self, settings: NexusSettings) -> MetricsServer | None:
        if not settings.service_metrics_port:
            return None
        host, port = settings.service_metrics_host, settings.service_metrics_port
        without_created_series()
        try:
            server = serve_metrics(
                self.metrics.registry,
                host=host,
                port=port,
                # Looked up at each probe: the runner whose event it is exists once started.
                ready=lambda: self.ready.is_set(),
            )
        except OSError as exc:
            # Metrics are for operators; a taken port must not keep the service from working.
            self.log.error(
                "service %s: no metrics endpoint on %s:%d: %s", self.name, host, port, exc
            )
            return None
        self.log.info("service %s metrics on http://%s:%d/metrics", self.name, host, server.port)
        return server

    async def _run(self, settings: NexusSettings, telemetry: Telemetry) -> None:
        await self.start(settings, telemetry=telemetry)
        runner = self._runner
        assert runner is not None
        assert runner.task is not None
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        installed = []
        for signum in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(signum, stop.set)
                installed.append(signum)
            except (NotImplementedError, RuntimeError):
                pass  # not the main thread, or no signal support: stop() still works
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({runner.task, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            for signum in installed:
                loop.remove_signal_handler(signum)
            task = runner.task
            await self.stop()
        # The runner's own record of a failure first: a stop signal arriving as it failed
        # cancels its task, which would otherwise end the process as if all were well.
        failure = runner.failure or (
            task.exception() if task.done() and not task.cancelled() else None
        )
        if failure is not None:
            raise failure

    def run_forever(self, settings: NexusSettings | None = None) -> None:
        """Blocking entry point for a process that runs only this service.

        A :class:`~nexus_mesh.errors.NexusError` (a bad setting, a missing topic, Kafka out
        of reach at start) ends the process with one line on stderr, as ``nexus`` commands
        do, and exit status 2 (configuration) or 1; anything else keeps its traceback.
        """
        try:
            asyncio.run(self.run(settings))
        except ConfigurationError as exc:
            print(f"nexus-{self.name}: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        except NexusError as exc:
            print(f"nexus-{self.name}: error: {exc}", file=sys.stderr)
            raise SystemExit(1) from None
        except KeyboardInterrupt:
            raise SystemExit(130) from None


async def _require_topics(consumer: AIOKafkaConsumer, names: list[str]) -> None:
    # Subscribing to a missing topic would wait forever in silence, or make a broker with
    # auto.create.topics.enable create it unconfigured; say what to run instead.
    try:
        existing = await consumer.topics()
    except KafkaError as exc:
        raise KafkaUnavailableError(f"cannot list topics: {exc}") from exc
    missing = [name for name in names if name not in existing]
    if missing:
        raise TopicMissingError(*missing)
