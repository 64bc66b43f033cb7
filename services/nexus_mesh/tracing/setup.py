"""One :class:`Telemetry` per process, built from the standard ``OTEL_*`` variables.

The process entry point (``nexus gateway``, ``Service.run``) builds it once and hands it to
the parts that trace (producer, consumers, ingress); nothing in the mesh calls
``trace.set_tracer_provider``, so a test or an embedding application can run several
gateways and services in one process, each with its own provider, or none.

What the SDK already reads from the environment is left to it: span limits, the batch
processor (``OTEL_BSP_*``), resource detectors and ``OTEL_RESOURCE_ATTRIBUTES``, and each
exporter's endpoint, headers, timeout and TLS. This module adds what the SDK leaves to its
auto-configuration: exporters from ``OTEL_TRACES_EXPORTER``, ``OTEL_SDK_DISABLED``, the
sampler (``OTEL_TRACES_SAMPLER``/``_ARG``, which the SDK would replace by its default with
only a warning when misspelt) and a resource naming the service and, in Kubernetes, its pod.
Settings it cannot honour stop the process at start, like every ``NEXUS_*`` setting.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, entry_points, version
from pathlib import Path
from urllib.parse import urlsplit

from fastotel import OTLPSpanProcessor
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)

from nexus_mesh.errors import ConfigurationError
from nexus_mesh.tracing.handoff import BatchedHandOff
from nexus_mesh.tracing.lean import DiscardSpans, LeanTracerProvider
from nexus_mesh.tracing.losses import SpanLosses, no_losses, pipeline_losses

log = logging.getLogger(__name__)

INSTRUMENTATION_SCOPE = "nexus_mesh"
SERVICE_NAMESPACE = "nexus-mesh"
_EXPORTER_GROUP = "opentelemetry_traces_exporter"
# Each sampler name: what decides a root span, and whether a child follows its parent's
# decision instead (ParentBased with its default delegates).
_FIXED_SAMPLERS: dict[str, tuple[Sampler, bool]] = {
    "always_on": (ALWAYS_ON, False),
    "always_off": (ALWAYS_OFF, False),
    "parentbased_always_on": (ALWAYS_ON, True),
    "parentbased_always_off": (ALWAYS_OFF, True),
}
_RATIO_SAMPLERS = {"traceidratio": False, "parentbased_traceidratio": True}
# The spec's default OTLP protocol; the Python SDK alone still defaults to gRPC, which this
# project does not install (and which the default port 4318 of the endpoint would not speak).
_DEFAULT_OTLP_PROTOCOL = "http/protobuf"
_OTLP_ENTRY_POINTS = {"http/protobuf": "otlp_proto_http", "grpc": "otlp_proto_grpc"}
# native: the mesh's lean spans, exported by fastotel; sdk-spans: the SDK's spans, exported by
# fastotel; sdk: the SDK's spans, batch processor and OTLP exporter.
OTLP_PIPELINES = ("native", "sdk-spans", "sdk")
# The providers setup_telemetry builds: the ones with something to flush and shut down.
_BUILT_PROVIDERS = (TracerProvider, LeanTracerProvider)
_DEFAULT_QUEUE_SIZE = 2048  # OTEL_BSP_MAX_QUEUE_SIZE's default
_SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def _package_version() -> str:
    try:
        return version("nexus-mesh")
    except PackageNotFoundError:
        return "0"


class Telemetry:
    """The tracer provider of one process and the tracer the mesh's spans come from.

    ``Telemetry()`` is the no-op default every component starts with: its spans are
    non-recording and cost next to nothing, yet still carry a parent's context through, so a
    client's ``traceparent`` still reaches Kafka when tracing is off.
    """

    __slots__ = (
        "_owned",
        "client_sampler",
        "enabled",
        "span_losses",
        "tracer",
        "tracer_provider",
    )

    def __init__(
        self,
        tracer_provider: trace.TracerProvider | None = None,
        *,
        client_sampler: Sampler | None = None,
        span_losses: SpanLosses = no_losses,
    ) -> None:
        provider = tracer_provider or trace.NoOpTracerProvider()
        # Spans made but never exported, by reason (nexus_mesh.tracing.losses).
        self.span_losses = span_losses
        self.tracer_provider = provider
        self.tracer = provider.get_tracer(INSTRUMENTATION_SCOPE, _package_version())
        self.enabled = not isinstance(provider, trace.NoOpTracerProvider)
        # What decides whether a trace a client started is recorded, in place of the flag
        # the client sent: a client is outside the trust boundary, and its flag would let it
        # switch tracing of its own events off, or force every one of them on under a ratio.
        # None: the client's flag decides (a provider built elsewhere).
        self.client_sampler = client_sampler
        self._owned = False

    def force_flush(self, timeout_s: float = 5.0) -> None:
        if isinstance(self.tracer_provider, _BUILT_PROVIDERS):
            self.tracer_provider.force_flush(int(timeout_s * 1000))

    def shutdown(self) -> None:
        """Export what is still queued and stop the exporters (only of a provider we built)."""
        if self._owned and isinstance(self.tracer_provider, _BUILT_PROVIDERS):
            self._owned = False
            self.tracer_provider.shutdown()


def setup_telemetry(
    service_name: str, *, instance: str | None = None, otlp_pipeline: str = "native"
) -> Telemetry:
    """Build this process's :class:`Telemetry` from ``OTEL_*``; the caller shuts it down.

    ``service_name`` is the default of ``service.name``: ``OTEL_SERVICE_NAME`` or a
    ``service.name`` in ``OTEL_RESOURCE_ATTRIBUTES`` wins over it. Raises
    :class:`ConfigurationError` for an exporter or sampler that cannot be honoured.
    """
    env = os.environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return Telemetry()
    warn_fixed_propagation(env)
    root, follow_parent = sampler_parts(env)
    processors = span_processors(env, pipeline=otlp_pipeline)
    resource = build_resource(service_name, instance=instance)
    provider: trace.TracerProvider
    if otlp_pipeline == "native" and (
        not processors or (len(processors) == 1 and isinstance(processors[0], OTLPSpanProcessor))
    ):
        # fastotel reads a finished span's fields and nothing else: the lean span serves it
        # at a fraction of the SDK span's cost (nexus_mesh.tracing.lean), handed over in
        # batches off the event loop (nexus_mesh.tracing.handoff).
        handoff = (
            BatchedHandOff(processors[0], max_queue_size=_max_queue_size(env))
            if processors
            else None
        )
        provider = LeanTracerProvider(
            sampler=root,
            follow_parent=follow_parent,
            resource=resource,
            processor=handoff or DiscardSpans(),
        )
        losses = pipeline_losses(handoff) if handoff is not None else no_losses
    else:
        provider = TracerProvider(sampler=_sdk_sampler(root, follow_parent), resource=resource)
        for processor in processors:
            provider.add_span_processor(processor)
        fastotel = [p for p in processors if isinstance(p, OTLPSpanProcessor)]
        losses = pipeline_losses(fastotel[0]) if len(fastotel) == 1 else no_losses
    telemetry = Telemetry(provider, client_sampler=root, span_losses=losses)
    telemetry._owned = True
    return telemetry


def warn_fixed_propagation(env: Mapping[str, str]) -> bool:
    """Say so when ``OTEL_PROPAGATORS`` asks for what the mesh does not do; True if it did.

    The wire format fixes W3C trace context (DESIGN.md sections 4 and 8: ``traceparent`` /
    ``tracestate`` in Kafka headers and metadata), so every process of the mesh and every
    service in another language agree without configuration; B3 or Jaeger headers are
    neither read nor written, whatever the variable says.
    """
    wanted = {name.strip().lower() for name in env.get("OTEL_PROPAGATORS", "").split(",")}
    wanted.discard("")
    ignored = sorted(wanted - {"tracecontext", "baggage", "none"})
    if not ignored:
        return False
    log.warning(
        "OTEL_PROPAGATORS=%s: the mesh propagates W3C trace context (traceparent, "
        "tracestate) only; %s ignored",
        env["OTEL_PROPAGATORS"],
        ", ".join(ignored),
    )
    return True


def build_resource(service_name: str, *, instance: str | None = None) -> Resource:
    """Our defaults, overridden by whatever ``OTEL_RESOURCE_ATTRIBUTES`` and the SDK's
    detectors say."""
    defaults: dict[str, str] = {
        "service.name": service_name,
        "service.namespace": SERVICE_NAMESPACE,
        "service.version": _package_version(),
        "service.instance.id": instance or f"{socket.gethostname()}-{os.getpid()}",
    }
    defaults.update(kubernetes_attributes(os.environ))
    # The SDK's own defaults (a random instance id, "unknown_service") must not win over
    # ours, but whatever the operator set explicitly must.
    explicit = _explicit_keys(os.environ)
    ours = {key: value for key, value in defaults.items() if key not in explicit}
    return Resource(defaults).merge(Resource.create()).merge(Resource(ours))


def _explicit_keys(environ: Mapping[str, str]) -> set[str]:
    keys = {
        pair.split("=", 1)[0].strip()
        for pair in environ.get("OTEL_RESOURCE_ATTRIBUTES", "").split(",")
        if "=" in pair
    }
    if environ.get("OTEL_SERVICE_NAME"):
        keys.add("service.name")
    return keys


def kubernetes_attributes(environ: Mapping[str, str]) -> dict[str, str]:
    """``k8s.*`` resource attributes when running in a pod, else nothing.

    The chart passes ``POD_NAME``/``POD_NAMESPACE``/``NODE_NAME`` through the downward API;
    without them a pod's host name is its name and the service account's mount names its
    namespace.
    """
    if not environ.get("KUBERNETES_SERVICE_HOST"):
        return {}
    attributes = {"k8s.pod.name": environ.get("POD_NAME") or socket.gethostname()}
    namespace = environ.get("POD_NAMESPACE")
    if not namespace:
        try:
            namespace = _SERVICE_ACCOUNT_NAMESPACE.read_text().strip()
        except OSError:
            namespace = None
    if namespace:
        attributes["k8s.namespace.name"] = namespace
    if environ.get("NODE_NAME"):
        attributes["k8s.node.name"] = environ["NODE_NAME"]
    return attributes


def sampler_from(env: Mapping[str, str]) -> Sampler:
    """The sampler ``OTEL_TRACES_SAMPLER``/``OTEL_TRACES_SAMPLER_ARG`` name."""
    return _sdk_sampler(*sampler_parts(env))


def _setting(env: Mapping[str, str], name: str, default: str) -> str:
    """``env[name]``, or ``default`` when unset or empty: the OpenTelemetry specification
    reads an empty variable as an unset one (a chart passing an empty value through must not
    stop the pod, nor turn export off)."""
    return env.get(name, "").strip() or default


def _sdk_sampler(root: Sampler, follow_parent: bool) -> Sampler:
    return ParentBased(root) if follow_parent else root


def sampler_parts(env: Mapping[str, str]) -> tuple[Sampler, bool]:
    """What ``OTEL_TRACES_SAMPLER`` makes decide root spans, and whether children follow their
    parent's decision (the ``parentbased_*`` samplers) rather than asking it too."""
    name = _setting(env, "OTEL_TRACES_SAMPLER", "parentbased_always_on").lower()
    if name in _FIXED_SAMPLERS:
        return _FIXED_SAMPLERS[name]
    if name not in _RATIO_SAMPLERS:
        known = sorted([*_FIXED_SAMPLERS, *_RATIO_SAMPLERS])
        raise ConfigurationError(f"OTEL_TRACES_SAMPLER={name!r}: use one of {', '.join(known)}")
    arg = _setting(env, "OTEL_TRACES_SAMPLER_ARG", "1.0")
    try:
        ratio = float(arg)
    except ValueError:
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:
        raise ConfigurationError(f"OTEL_TRACES_SAMPLER_ARG={arg!r}: a sampling ratio from 0 to 1")
    return TraceIdRatioBased(ratio), _RATIO_SAMPLERS[name]


def span_processors(env: Mapping[str, str], *, pipeline: str = "native") -> list[SpanProcessor]:
    """One batching processor per exporter ``OTEL_TRACES_EXPORTER`` names.

    OTLP over HTTP/protobuf goes through fastotel unless ``pipeline`` is ``sdk``: the
    SDK's batch processor encodes protobuf on a Python thread that holds the GIL, which cost
    the gateway more CPU per span than creating the span did (docs/benchmarks.md, tracing
    overhead); fastotel batches, encodes and sends on a native thread without it, and reads
    the same ``OTEL_EXPORTER_OTLP_*``/``OTEL_BSP_*`` variables. ``pipeline`` is the setting
    ``NEXUS_OTLP_PIPELINE`` (``NexusSettings.otlp_pipeline``), read and checked with the rest;
    with ``native`` (the default) and fastotel as the only exporter the spans themselves are
    the mesh's lean ones (:func:`setup_telemetry`).
    """
    if pipeline not in OTLP_PIPELINES:
        raise ConfigurationError(
            f"NEXUS_OTLP_PIPELINE={pipeline!r}: use {', '.join(OTLP_PIPELINES)}"
        )
    processors: list[SpanProcessor] = []
    for name in _exporter_names(env):
        if name == "otlp" and _otlp_protocol(env) == "http/protobuf":
            _check_http_endpoints(env)
        if pipeline != "sdk" and name == "otlp" and _otlp_protocol(env) == "http/protobuf":
            processors.append(_native_processor())
        else:
            # Batching keeps export off the event loop: spans go to a worker thread.
            processors.append(BatchSpanProcessor(_exporter(name, env)))
    return processors


def _check_http_endpoints(env: Mapping[str, str]) -> None:
    """OTLP over HTTP posts to a URL: anything else failed every export, each a dropped
    batch, and said so only in the span-loss counter."""
    for name in ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        value = env.get(name, "").strip()
        if not value:
            continue
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(
                f"{name}={value!r}: OTLP over HTTP needs an http:// or https:// URL, e.g. "
                "http://collector:4318"
            )


def _max_queue_size(env: Mapping[str, str]) -> int:
    # fastotel has already refused a value out of range (_native_processor).
    try:
        return max(1, int(env.get("OTEL_BSP_MAX_QUEUE_SIZE", "") or _DEFAULT_QUEUE_SIZE))
    except ValueError:
        return _DEFAULT_QUEUE_SIZE


def _native_processor() -> OTLPSpanProcessor:
    try:
        # Reads OTEL_EXPORTER_OTLP_* and OTEL_BSP_* itself, as the SDK's exporter would.
        return OTLPSpanProcessor()
    except (ValueError, OSError) as exc:
        # A batch setting out of range, an unreadable or empty TLS file: stop at start with
        # the reason, like every other setting, rather than with a traceback.
        raise ConfigurationError(f"OTLP export settings: {exc}") from exc


def span_exporters(env: Mapping[str, str]) -> list[SpanExporter]:
    """The SDK exporters ``OTEL_TRACES_EXPORTER`` names (default ``otlp``; ``none`` for none)."""
    return [_exporter(name, env) for name in _exporter_names(env)]


def _exporter_names(env: Mapping[str, str]) -> list[str]:
    names = [n.strip().lower() for n in _setting(env, "OTEL_TRACES_EXPORTER", "otlp").split(",")]
    return [n for n in names if n and n != "none"]


def _otlp_protocol(env: Mapping[str, str]) -> str:
    protocol = (
        env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or _DEFAULT_OTLP_PROTOCOL
    ).strip()
    if protocol not in _OTLP_ENTRY_POINTS:
        raise ConfigurationError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r}: use http/protobuf (or grpc with "
            "opentelemetry-exporter-otlp-proto-grpc installed)"
        )
    return protocol


def _exporter(name: str, env: Mapping[str, str]) -> SpanExporter:
    entry_point = name
    if name == "otlp":
        entry_point = _OTLP_ENTRY_POINTS[_otlp_protocol(env)]
    found = entry_points(group=_EXPORTER_GROUP, name=entry_point)
    if not found:
        available = sorted({ep.name for ep in entry_points(group=_EXPORTER_GROUP)})
        raise ConfigurationError(
            f"OTEL_TRACES_EXPORTER={name!r}: no such span exporter installed "
            f"(available: otlp, none, {', '.join(available)})"
        )
    exporter_class = next(iter(found)).load()
    # Each exporter reads its own OTEL_EXPORTER_* variables when built without arguments.
    exporter: SpanExporter = exporter_class()
    return exporter
