"""Every ``NEXUS_*`` setting in one pydantic-settings model.

Services and commands build one :class:`NexusSettings` at start through :func:`load_settings`,
so an invalid value stops the process before it touches Kafka or opens a port, with a message
that names the environment variable to fix.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, TypeVar, overload

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from nexus_mesh.errors import ConfigurationError

ENV_PREFIX = "NEXUS_"
DEFAULT_TOPIC_PREFIX = "nexus"
_TOPIC_PREFIX_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,100}$")
_DAY_MS = 24 * 60 * 60 * 1000


def default_schemas_dir() -> Path:
    """The registry shipped with the code: the checkout's ``schemas/`` or the wheel's copy."""
    here = Path(__file__).resolve().parent
    checkout = here.parents[1] / "schemas"
    if (checkout / "manifest.json").is_file():
        return checkout
    return here / "_schemas"


class NexusSettings(BaseSettings):
    """Configuration of gateways, services and commands; see the README's table."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="ignore",
        frozen=True,
        validate_default=True,
    )

    # Kafka connection
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    kafka_request_timeout_ms: int = Field(default=15_000, ge=1_000)

    # Topics (DESIGN.md section 4)
    topic_prefix: str = DEFAULT_TOPIC_PREFIX
    topic_replication_factor: int = Field(default=1, ge=1)
    topic_min_insync_replicas: int = Field(default=1, ge=1)
    clients_partitions: int = Field(default=12, ge=1)
    clients_retention_ms: int = Field(default=7 * _DAY_MS, ge=_DAY_MS)
    system_partitions: int = Field(default=1, ge=1)
    # As long as the recovery log by default: a resume replays the broadcasts it missed too,
    # and is answered recovered=false once those are gone (DESIGN.md section 5).
    system_retention_ms: int = Field(default=7 * _DAY_MS, ge=60_000)
    domain_partitions: int = Field(default=6, ge=1)
    domain_retention_ms: int = Field(default=7 * _DAY_MS, ge=60_000)
    dlq_partitions: int = Field(default=3, ge=1)
    dlq_retention_ms: int = Field(default=14 * _DAY_MS, ge=60_000)

    # Schema registry directory (DESIGN.md section 3)
    schemas_dir: Path = Field(default_factory=default_schemas_dir)

    # Gateway
    gateway_host: str = "0.0.0.0"  # noqa: S104 - a pod must listen on its interface
    gateway_port: int = Field(default=8080, ge=0, le=65535)
    # Which gateway this is: in Kubernetes the pod name (downward API); elsewhere the host
    # name and process id, so two gateways on one machine have names (event sources, trace
    # resources, Kafka client ids) of their own.
    gateway_instance: str = Field(
        default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}", min_length=1
    )
    # A client event above this gets `too_large` and the connection stays; a frame above
    # gateway_max_frame_bytes is a protocol violation and closes the connection with 1009.
    gateway_max_event_bytes: int = Field(default=64 * 1024, ge=1024)
    gateway_max_frame_bytes: int = Field(default=1024 * 1024, ge=1024)
    # A delivered event whose JSON frame is larger is not sent (counted, logged; a reply so
    # skipped gets its flow's timeout): a client closes the socket (1009) on a frame above its
    # own limit, and each resume would replay that frame. Clients must accept this much (the
    # Python client's and aiohttp's default max_msg_size is 4 MiB). JSON can be ~4x the
    # Avro that Kafka's max.message.bytes limits.
    gateway_max_delivery_bytes: int = Field(default=4 * 1024 * 1024, ge=64 * 1024)
    # Per-connection outbox bound; past it the client is closed with 4008 and resumes. It
    # must hold a burst of one fetch (the delivery consumer fetches <= 256 KiB a partition).
    gateway_client_buffer_bytes: int = Field(default=4 * 1024 * 1024, ge=512 * 1024)
    # A resuming client whose replay cannot hand it anything for this long (its outbox stays
    # over half full) is closed with 4008: replays are few per pod (4), and one that stopped
    # reading would hold its slot until its replay's deadline (gateway_replay_timeout_s).
    gateway_replay_stall_s: float = Field(default=15.0, gt=0)
    # Resumes replaying from Kafka at once on one pod (each a consumer and its fetches); more
    # wait their turn, at most gateway_replay_timeout_s. One per user at a time, whatever
    # this says: a user resuming many connections takes one slot.
    gateway_replay_slots: int = Field(default=4, ge=1, le=256)
    # A resume's replay may wait this long for a slot, and then run this long from the
    # moment it has one; past either it is closed with 1001 (and counted by reason) to
    # resume again, so its client is neither silent longer than this nor cut off after it
    # started receiving for the time it queued.
    gateway_replay_timeout_s: float = Field(default=60.0, gt=0)
    # How long a client closed as slow (4008) has to read through what its socket holds to
    # the close frame before the gateway drops the TCP connection (1006 at the client).
    gateway_slow_close_s: float = Field(default=30.0, gt=0)
    gateway_rate_per_s: float = Field(default=50.0, gt=0)
    gateway_rate_burst: int = Field(default=100, ge=1)
    gateway_idempotency_window_s: float = Field(default=300.0, ge=0)
    gateway_idempotency_max_entries: int = Field(default=100_000, ge=0)
    # Confirmed ids one user of a campaign may hold in the window, so one user's fresh ids
    # cannot push out another's; 0: what the rate limit lets through in a window and a produce
    # timeout (rate x (window + produce timeout) + burst).
    gateway_idempotency_per_user: int = Field(default=0, ge=0)
    gateway_produce_timeout_s: float = Field(default=10.0, gt=0)
    gateway_heartbeat_s: float = Field(default=30.0, gt=0)
    gateway_demo: bool = False
    # Operator endpoints (/stats, POST /drain, health, metrics) on their own port, which the
    # chart keeps off the public Service; 0 disables the admin listener.
    gateway_admin_port: int = Field(default=8081, ge=0, le=65535)
    # On SIGTERM or POST /drain: stop accepting, finish in-flight writes, flush and close
    # every client with 1001 within this time (the chart's grace period is longer).
    gateway_drain_timeout_s: float = Field(default=20.0, gt=0)
    # Browser origins allowed to open a WebSocket (JSON list, e.g. ["https://app.example"]);
    # empty: any. A handshake with another Origin header is refused 403; clients that send
    # none (not browsers) are not concerned. Against cross-site WebSocket hijacking, where a
    # page on any site uses the browser's ambient access (cookies, a loopback gateway).
    gateway_allowed_origins: tuple[str, ...] = ()
    # What POST /drain must carry in X-Nexus-Admin-Token. Unset, only a caller on the pod's
    # own loopback may drain it, and only when gateway_host is loopback (behind a sidecar
    # proxy a loopback peer is anyone): a drained pod stays up, not ready, until deleted.
    gateway_admin_token: SecretStr | None = None
    # The same, read from this file at each POST /drain (a mounted Secret: a new token there is
    # taken without a restart). Not with gateway_admin_token.
    gateway_admin_token_file: Path | None = None

    # Auth: on unless explicitly disabled for local development
    auth: Literal["jwt", "none"] = "jwt"
    # Whether ?token= is read. Proxies and ingress controllers log URLs, token included; with
    # false, tokens come only in the Authorization header or the bearer.<jwt> subprotocol.
    auth_query_token: bool = True
    jwt_secret: SecretStr | None = None
    # A rotation: tokens signed with the previous HMAC secret are still accepted while it is
    # set (only NEXUS_JWT_SECRET signs); NEXUS_JWT_PUBLIC_KEY may hold several PEM keys.
    jwt_previous_secret: SecretStr | None = None
    jwt_public_key: SecretStr | None = None
    jwt_algorithms: tuple[str, ...] = ("HS256",)
    jwt_audience: str | None = None
    jwt_issuer: str | None = None

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # JSON lines (with trace and span ids) for log pipelines; text for a terminal.
    log_format: Literal["json", "text"] = "json"

    # How OTLP spans leave the process (the OTEL_* variables say where to and how many).
    otlp_pipeline: Literal["native", "sdk-spans", "sdk"] = "native"
    """native: the mesh's lean spans, and fastotel encodes and sends them on a thread that
    does not hold the GIL; sdk-spans: the OpenTelemetry SDK's spans, sent by fastotel; sdk:
    the SDK's spans, BatchSpanProcessor and OTLP exporter."""

    # A service process's Prometheus endpoint (the gateway serves /metrics on its own port).
    service_metrics_host: str = "0.0.0.0"  # noqa: S104 - scraped on the pod's interface
    service_metrics_port: int = Field(default=9464, ge=0, le=65535)
    """0 turns the endpoint off."""
    service_max_concurrency: int = Field(default=0, ge=0)
    """Records a service instance handles at once; 0 keeps the service's own
    ``ServiceConfig.max_concurrency``. For operators: a pod's CPU limit or a downstream's
    capacity may call for another number than the author's."""

    @field_validator("topic_prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        if not _TOPIC_PREFIX_RE.fullmatch(value):
            raise ValueError("must be letters, digits, '_' or '-' (a Kafka topic name part)")
        return value

    @field_validator("gateway_allowed_origins")
    @classmethod
    def _check_origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for origin in value:
            match = _ORIGIN_RE.fullmatch(origin)
            port = int(match.group(2)) if match and match.group(2) else None
            default = {"http": 80, "https": 443}.get(origin.partition(":")[0])
            if match is None or port == default or (port is not None and port > 65535):
                raise ValueError(
                    f"{origin!r} is not an origin as browsers send it in the Origin header: "
                    "scheme://host[:port], no path, query, wildcard or default port"
                )
        return tuple(origin.lower() for origin in value)

    @field_validator("gateway_admin_token")
    @classmethod
    def _check_admin_token(cls, value: SecretStr | None) -> SecretStr | None:
        return None if value is None else SecretStr(checked_admin_token(value.get_secret_value()))

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _check_bootstrap(cls, value: str) -> str:
        servers = [s.strip() for s in value.split(",") if s.strip()]
        if not servers:
            raise ValueError("must list at least one host:port")
        for server in servers:
            host, sep, port = server.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{server!r} is not host:port")
        return ",".join(servers)

    @model_validator(mode="after")
    def _check_consistency(self) -> NexusSettings:
        if self.gateway_max_event_bytes > self.gateway_max_frame_bytes:
            raise ValueError(
                "NEXUS_GATEWAY_MAX_EVENT_BYTES must not exceed NEXUS_GATEWAY_MAX_FRAME_BYTES"
            )
        if self.gateway_admin_token is not None and self.gateway_admin_token_file is not None:
            raise ValueError(
                "set NEXUS_GATEWAY_ADMIN_TOKEN or NEXUS_GATEWAY_ADMIN_TOKEN_FILE, not both"
            )
        if self.gateway_admin_token_file is not None:
            read_admin_token(self.gateway_admin_token_file)  # refused at start, not at a drain
        if self.topic_min_insync_replicas > self.topic_replication_factor:
            raise ValueError(
                "NEXUS_TOPIC_MIN_INSYNC_REPLICAS must not exceed NEXUS_TOPIC_REPLICATION_FACTOR"
            )
        if self.kafka_security_protocol.startswith("SASL") and not (
            self.kafka_sasl_mechanism and self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError(
                "NEXUS_KAFKA_SECURITY_PROTOCOL=SASL_* needs NEXUS_KAFKA_SASL_MECHANISM, "
                "NEXUS_KAFKA_SASL_USERNAME and NEXUS_KAFKA_SASL_PASSWORD"
            )
        if self.kafka_security_protocol in ("SSL", "SASL_SSL"):
            # Every command refuses a missing or unfit file at start, before the first client
            # (which would fail with an ssl traceback naming neither variable nor file).
            from nexus_mesh.kafka.tls import kafka_ssl_context

            kafka_ssl_context(self)
        elif self.kafka_ssl_cafile or self.kafka_ssl_certfile or self.kafka_ssl_keyfile:
            # Whoever set the files meant TLS; connecting in the clear instead would be silent.
            raise ValueError(
                "NEXUS_KAFKA_SSL_* files are set but NEXUS_KAFKA_SECURITY_PROTOCOL="
                f"{self.kafka_security_protocol} does not use TLS: set it to SSL or SASL_SSL"
            )
        return self

    @property
    def bootstrap_list(self) -> list[str]:
        return self.kafka_bootstrap_servers.split(",")


def checked_admin_token(text: str) -> str:
    """The drain token ``text`` holds, or ValueError saying what is wrong (never the token)."""
    # A Secret made with --from-file ends in a newline no HTTP header can carry.
    token = text.strip()
    if len(token) < 16:
        raise ValueError("must be at least 16 characters (a guessable token drains pods)")
    if not _HEADER_TOKEN_RE.fullmatch(token):
        raise ValueError("must be printable ASCII without spaces (an HTTP header value)")
    return token


def read_admin_token(path: Path) -> str:
    """The drain token in ``path``, read now; ValueError when missing or unfit."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"NEXUS_GATEWAY_ADMIN_TOKEN_FILE {path}: cannot read it ({exc})") from None
    try:
        return checked_admin_token(text)
    except ValueError as exc:
        raise ValueError(f"NEXUS_GATEWAY_ADMIN_TOKEN_FILE {path}: the token {exc}") from None


_HEADER_TOKEN_RE = re.compile(r"[!-~]+")
_ORIGIN_RE = re.compile(r"https?://(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::([1-9][0-9]{0,4}))?")

_SECRET_FIELDS = frozenset(
    {
        "jwt_secret",
        "jwt_previous_secret",
        "jwt_public_key",
        "kafka_sasl_password",
        "gateway_admin_token",
    }
)


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        loc = [str(part) for part in item["loc"]]
        message = item["msg"].removeprefix("Value error, ")
        if not loc:
            lines.append(message)
            continue
        name = ENV_PREFIX + loc[0].upper()
        value = item.get("input")
        if loc[0] in _SECRET_FIELDS or not isinstance(value, str | int | float):
            lines.append(f"{name}: {message}")
        else:
            lines.append(f"{name}={value!r}: {message}")
    return "invalid configuration: " + "; ".join(lines)


# NEXUS_ variables that are read outside the settings (download caches, operator commands).
OTHER_VARIABLES = frozenset(
    {"NEXUS_KAFKA_CACHE_DIR", "NEXUS_ZIPKIN_CACHE_DIR", "NEXUS_TEST_TOKEN", "NEXUS_RELEASE"}
)
_KNOWN_VARIABLES = (
    frozenset(ENV_PREFIX + name.upper() for name in NexusSettings.model_fields) | OTHER_VARIABLES
)
# Variables of the NexusSettings subclasses loaded so far: a service's own settings, read by
# its module, are no unknown variables for the `nexus service` that imported it either.
_declared: set[str] = set()
_warned: set[str] = set()
_pending: list[str] = []


def unknown_variables(
    environ: Mapping[str, str], settings_class: type[NexusSettings] = NexusSettings
) -> list[str]:
    """``NEXUS_*`` variables nothing reads, each with the setting it most likely meant.

    pydantic-settings ignores them, so a typo (``NEXUS_KAFKA_BOOTSTRAP_SERVER``) would
    silently leave the default in force. ``settings_class`` may add settings of its own.
    """
    known = _KNOWN_VARIABLES | _declared | _variables_of(settings_class)
    suggestions = sorted(known)
    found = []
    for name in sorted(environ):
        upper = name.upper()
        if upper.startswith(ENV_PREFIX) and upper not in known:
            # Sorted: of equally close matches, the suggestion is always the same one.
            close = difflib.get_close_matches(upper, suggestions, n=1, cutoff=0.8)
            found.append(f"{name} (did you mean {close[0]}?)" if close else name)
    return found


def _variables_of(settings_class: type[NexusSettings]) -> frozenset[str]:
    return frozenset(ENV_PREFIX + name.upper() for name in settings_class.model_fields)


_Settings = TypeVar("_Settings", bound=NexusSettings)


@overload
def load_settings(**overrides: object) -> NexusSettings: ...


@overload
def load_settings(settings_class: type[_Settings], /, **overrides: object) -> _Settings: ...


def load_settings(
    settings_class: type[NexusSettings] = NexusSettings, /, **overrides: object
) -> NexusSettings:
    """Read the environment; raise :class:`ConfigurationError` naming each bad variable, and
    warn (once per process) about ``NEXUS_*`` variables that are no setting.

    A service with settings of its own passes a subclass of :class:`NexusSettings` declaring
    them (``NEXUS_GREETER_GREETING`` for a field ``greeter_greeting``): they are read,
    checked and reported like the mesh's, and not warned about as unknown.
    """
    try:
        settings = settings_class(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigurationError(_describe(exc)) from None
    except SettingsError as exc:
        # A list or map setting that is not JSON fails before validation, naming only the
        # field; the value itself stays out of the message (it may be a secret).
        field = re.search(r'field "(\w+)"', str(exc))
        name = f"{ENV_PREFIX}{field[1].upper()}" if field else "a NEXUS_* variable"
        raise ConfigurationError(
            f"{name}: not valid JSON; list and map settings are written as JSON, "
            'e.g. NEXUS_JWT_ALGORITHMS=["RS256"]'
        ) from None
    _declared.update(_variables_of(settings_class))
    unknown = [
        name for name in unknown_variables(os.environ, settings_class) if name not in _warned
    ]
    _warned.update(unknown)
    _pending.extend(unknown)
    if logging.getLogger().handlers:
        report_unknown_variables()
    return settings


def report_unknown_variables() -> None:
    """Log the unknown variables found so far. Settings are read before logging is set up;
    ``configure_logging`` calls this, so the warning comes out in the process's format."""
    if _pending:
        logging.getLogger(__name__).warning("ignoring unknown variable(s): %s", ", ".join(_pending))
        _pending.clear()
