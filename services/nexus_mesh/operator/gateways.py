"""The release's gateway pods and what their admin listeners report.

Pods are found by the chart's labels (``app.kubernetes.io/instance=<release>`` and
``app.kubernetes.io/component=gateway``); each pod's ``GET /stats`` and ``POST /drain`` are
reached through the API server's pod proxy (``pods/<name>:<admin port>/proxy/...``), which is
why an operator needs ``get``/``create`` on ``pods/proxy`` and nothing on the pod network.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from nexus_mesh.operator.kube import (
    REQUEST_TIMEOUT,
    Cluster,
    OperatorError,
    PodNotFoundError,
    PodUnreachableError,
    RbacDeniedError,
    api_errors,
)

DEFAULT_ADMIN_PORT = 8081
# The gateway's POST /drain credential: the variable it reads, the header it checks.
ADMIN_TOKEN_ENV = "NEXUS_GATEWAY_ADMIN_TOKEN"  # noqa: S105 - a variable's name
ADMIN_TOKEN_FILE_ENV = "NEXUS_GATEWAY_ADMIN_TOKEN_FILE"  # noqa: S105 - a variable's name
ADMIN_TOKEN_HEADER = "X-Nexus-Admin-Token"  # noqa: S105 - a header's name
DEFAULT_RELEASE = "nexus-mesh"
INSTANCE_LABEL = "app.kubernetes.io/instance"
COMPONENT_LABEL = "app.kubernetes.io/component"
GATEWAY_COMPONENT = "gateway"


def gateway_selector(release: str) -> str:
    """The label selector of a release's gateway pods."""
    return f"{INSTANCE_LABEL}={release},{COMPONENT_LABEL}={GATEWAY_COMPONENT}"


@dataclass(frozen=True, slots=True)
class GatewayStats:
    """One gateway's ``GET /stats`` answer."""

    instance: str
    connections: int
    campaigns: int
    assigned_partitions: tuple[str, ...]
    consumer_lag: Mapping[str, int] = field(default_factory=dict)
    pending_requests: int = 0
    ready: bool = False
    draining: bool = False

    @property
    def total_lag(self) -> int:
        return sum(self.consumer_lag.values())

    @classmethod
    def from_json(cls, data: object, *, pod: str) -> GatewayStats:
        """Parse and check a stats document; raise :class:`OperatorError` naming the pod."""
        if not isinstance(data, dict):
            raise OperatorError(f"pod {pod}: /stats is not a JSON object")
        try:
            partitions = data.get("assigned_partitions") or []
            lag = data.get("consumer_lag") or {}
            if not isinstance(partitions, list) or not isinstance(lag, dict):
                raise TypeError("assigned_partitions must be a list, consumer_lag an object")
            return cls(
                instance=str(data.get("instance") or pod),
                connections=_count(data, "connections"),
                campaigns=_count(data, "campaigns"),
                assigned_partitions=tuple(str(p) for p in partitions),
                consumer_lag={str(k): _int(v, f"consumer_lag[{k}]") for k, v in lag.items()},
                pending_requests=_count(data, "pending_requests", required=False),
                ready=bool(data.get("ready", False)),
                draining=bool(data.get("draining", False)),
            )
        except (TypeError, ValueError) as exc:
            raise OperatorError(f"pod {pod}: unexpected /stats document: {exc}") from None


def _int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    return value


def _count(data: Mapping[str, Any], name: str, *, required: bool = True) -> int:
    if name not in data:
        if required:
            raise ValueError(f"{name} is missing")
        return 0
    return _int(data[name], name)


@dataclass(frozen=True, slots=True)
class GatewayPod:
    """A gateway pod as the API server sees it, with its stats when it could be asked."""

    name: str
    phase: str
    pod_ready: bool
    node: str | None = None
    stats: GatewayStats | None = None
    error: str | None = None

    @property
    def state(self) -> str:
        """``draining``, ``ready``, ``not-ready`` or the pod phase when it is not running."""
        if self.stats is not None and self.stats.draining:
            return "draining"
        if self.phase != "Running":
            return self.phase.lower() or "unknown"
        if self.stats is not None:
            return "ready" if self.stats.ready and self.pod_ready else "not-ready"
        return "ready" if self.pod_ready else "not-ready"


@dataclass(frozen=True, slots=True)
class DrainResult:
    pod: str
    draining: bool
    body: Mapping[str, Any]


def _pod_ready(pod: Any) -> bool:
    conditions = (pod.status.conditions if pod.status else None) or []
    return any(c.type == "Ready" and c.status == "True" for c in conditions)


def list_gateway_pods(cluster: Cluster, release: str) -> list[Any]:
    with api_errors(cluster, "list pods"):
        listed = cluster.core.list_namespaced_pod(
            cluster.namespace,
            label_selector=gateway_selector(release),
            _request_timeout=REQUEST_TIMEOUT,
        )
    return sorted(listed.items or [], key=lambda pod: str(pod.metadata.name))


def fetch_stats(cluster: Cluster, pod: str, admin_port: int) -> GatewayStats:
    """``GET /stats`` on the pod's admin port through the API server's pod proxy."""
    with api_errors(cluster, "get pods/proxy (GET /stats)", pod=pod):
        response = cluster.core.connect_get_namespaced_pod_proxy_with_path(
            name=f"{pod}:{admin_port}",
            namespace=cluster.namespace,
            path="stats",
            _preload_content=False,
            _request_timeout=REQUEST_TIMEOUT,
        )
    return GatewayStats.from_json(_json_body(response, pod, "/stats"), pod=pod)


def gateway_status(
    cluster: Cluster, release: str, *, admin_port: int = DEFAULT_ADMIN_PORT
) -> list[GatewayPod]:
    """Every gateway pod of ``release``; running ones with their stats (or the error)."""
    pods: list[GatewayPod] = []
    for pod in list_gateway_pods(cluster, release):
        name = str(pod.metadata.name)
        phase = str((pod.status.phase if pod.status else None) or "Unknown")
        node = pod.spec.node_name if pod.spec else None
        stats: GatewayStats | None = None
        error: str | None = None
        if phase == "Running" and pod.metadata.deletion_timestamp is None:
            try:
                stats = fetch_stats(cluster, name, admin_port)
            except RbacDeniedError:
                raise
            except OperatorError as exc:
                error = str(exc)
        pods.append(
            GatewayPod(
                name=name,
                phase="Terminating" if pod.metadata.deletion_timestamp else phase,
                pod_ready=_pod_ready(pod),
                node=node,
                stats=stats,
                error=error,
            )
        )
    return pods


def read_gateway_pod(cluster: Cluster, pod: str) -> Any:
    """The pod, checked to be a Nexus Mesh gateway."""
    with api_errors(cluster, "get pods", pod=pod):
        found = cluster.core.read_namespaced_pod(
            pod, cluster.namespace, _request_timeout=REQUEST_TIMEOUT
        )
    labels = found.metadata.labels or {}
    if labels.get(COMPONENT_LABEL) != GATEWAY_COMPONENT:
        raise OperatorError(
            f"pod {pod} in namespace {cluster.namespace} is not a Nexus Mesh gateway "
            f"(its {COMPONENT_LABEL} label is {labels.get(COMPONENT_LABEL)!r})"
        )
    return found


def drain_gateway(
    cluster: Cluster,
    pod: str,
    *,
    admin_port: int = DEFAULT_ADMIN_PORT,
    admin_token: str | None = None,
) -> DrainResult:
    """Ask one gateway pod to drain: ``POST /drain`` through the pod proxy, with the admin
    token the pod was given (``admin_token``, else read from the Secret its
    ``NEXUS_GATEWAY_ADMIN_TOKEN`` comes from)."""
    found = read_gateway_pod(cluster, pod)
    token = admin_token or _admin_token_of(cluster, found)
    with api_errors(cluster, "create pods/proxy (POST /drain)", pod=pod):
        response = cluster.core.connect_post_namespaced_pod_proxy_with_path(
            name=f"{pod}:{admin_port}",
            namespace=cluster.namespace,
            path="drain",
            _preload_content=False,
            _request_timeout=REQUEST_TIMEOUT,
            _headers={ADMIN_TOKEN_HEADER: token} if token else None,
        )
    body = _json_body(response, pod, "/drain")
    if not isinstance(body, dict):
        raise OperatorError(f"pod {pod}: /drain did not answer with a JSON object")
    return DrainResult(pod=pod, draining=bool(body.get("draining")), body=body)


def _admin_token_of(cluster: Cluster, pod: Any) -> str | None:
    """The admin token ``pod``'s gateway container was given: a literal value, the key of the
    Secret its variable references, or the Secret key mounted where its token file is (the
    chart's way). None when it has none."""
    spec = pod.spec
    for container in (spec.containers if spec else None) or []:
        for env in container.env or []:
            if env.name == ADMIN_TOKEN_FILE_ENV and env.value:
                found = _mounted_secret_key(spec, container, str(env.value))
                return _secret_value(cluster, *found) if found else None
            if env.name != ADMIN_TOKEN_ENV:
                continue
            if env.value:
                return str(env.value)
            ref = env.value_from.secret_key_ref if env.value_from else None
            return _secret_value(cluster, ref.name, ref.key) if ref is not None else None
    return None


def _mounted_secret_key(spec: Any, container: Any, path: str) -> tuple[str, str] | None:
    """The (Secret, key) mounted at ``path`` in ``container``, if a Secret volume is there."""
    for mount in container.volume_mounts or []:
        directory = str(mount.mount_path).rstrip("/") + "/"
        if not path.startswith(directory):
            continue
        name = path[len(directory) :]
        for volume in spec.volumes or []:
            source = volume.secret if volume.name == mount.name else None
            if source is None:
                continue
            keys = {item.path: item.key for item in source.items or []}
            return str(source.secret_name), keys.get(name, name) if keys else name
    return None


def _secret_value(cluster: Cluster, secret_name: str, key: str) -> str:
    with api_errors(cluster, f"get secrets ({secret_name})"):
        secret = cluster.core.read_namespaced_secret(
            secret_name, cluster.namespace, _request_timeout=REQUEST_TIMEOUT
        )
    value = (secret.data or {}).get(key)
    if value is None:
        raise OperatorError(f"secret {secret_name} has no key {key} (the admin token)")
    # As the gateway reads it: a Secret made with --from-file ends in a newline.
    return base64.b64decode(value).decode().strip()


def wait_until_drained(
    cluster: Cluster,
    pod: str,
    *,
    timeout_s: float,
    admin_port: int = DEFAULT_ADMIN_PORT,
    interval_s: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> GatewayStats | None:
    """Poll ``/stats`` until the pod holds no connection; ``None`` once the pod is gone."""
    deadline = clock() + timeout_s
    while True:
        try:
            stats = fetch_stats(cluster, pod, admin_port)
        except (PodNotFoundError, PodUnreachableError):
            return None  # the pod finished draining and exited
        if stats.connections == 0:
            return stats
        if clock() >= deadline:
            raise OperatorError(
                f"pod {pod} still holds {stats.connections} connection(s) after {timeout_s:g} s"
            )
        sleep(interval_s)


def _json_body(response: Any, pod: str, what: str) -> object:
    raw = response.data
    try:
        return json.loads(raw)
    except ValueError:
        raise OperatorError(f"pod {pod}: {what} did not answer with JSON") from None
