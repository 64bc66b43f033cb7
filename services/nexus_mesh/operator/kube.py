"""A connection to the Kubernetes API server, and API failures turned into one-line errors.

The official client is imported lazily so that ``nexus --help`` and the other commands do not
pay for it. Every failure an operator can fix (no kubeconfig, an unknown context, RBAC, an
unreachable API server, a missing pod) becomes an :class:`OperatorError` whose message says
what to do, and the CLI prints it on one line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nexus_mesh.errors import NexusError

DEFAULT_KUBECONFIG = "~/.kube/config"
_IN_CLUSTER_NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
# (connect, read) seconds for every API call: an operator command must not hang.
REQUEST_TIMEOUT = (5.0, 20.0)
OPERATOR_PERMISSIONS = (
    "get/list pods, get/create pods/proxy and (for drain) get on the gateways' admin-token secret"
)


class OperatorError(NexusError):
    """A cluster operation failed in a way the operator can act on; the message says how."""


class RbacDeniedError(OperatorError):
    """The API server answered 403: the kubeconfig's identity lacks a permission."""


class PodNotFoundError(OperatorError):
    """The named pod does not exist (any more) in the namespace."""


class PodUnreachableError(OperatorError):
    """The API server could not reach the pod's admin listener through its proxy."""


@dataclass
class Cluster:
    """An API client bound to one namespace (the release's)."""

    api_client: Any
    core: Any
    namespace: str
    server: str

    def close(self) -> None:
        self.api_client.close()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def kubeconfig_paths(explicit: str | None) -> list[Path]:
    """The kubeconfig files kubectl would read: ``--kubeconfig``, else ``$KUBECONFIG``, else
    ``~/.kube/config`` (``$KUBECONFIG`` may list several, separated like ``$PATH``)."""
    spec = explicit or os.environ.get("KUBECONFIG") or DEFAULT_KUBECONFIG
    return [Path(part).expanduser() for part in spec.split(os.pathsep) if part]


def connect(
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
    namespace: str | None = None,
) -> Cluster:
    """Open a client from the kubeconfig (or the pod's service account when in a cluster).

    The namespace is ``namespace``, else the context's namespace, else ``default``.
    """
    import yaml
    from kubernetes import client, config

    paths = kubeconfig_paths(kubeconfig)
    existing = [path for path in paths if path.is_file()]
    configuration = client.Configuration()
    if kubeconfig and not existing:
        raise OperatorError(f"no kubeconfig: {kubeconfig} does not exist")
    if existing:
        spec = os.pathsep.join(str(path) for path in existing)
        try:
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=spec,
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
            context_namespace = _context_namespace(spec, context)
        except config.ConfigException as exc:
            raise OperatorError(f"kubeconfig {spec}: {_one_line(str(exc))}") from None
        except (yaml.YAMLError, OSError, ValueError, TypeError, AttributeError) as exc:
            # Not YAML, unreadable, or YAML of the wrong shape (a list, a string): the client
            # library lets these through as they come.
            raise OperatorError(
                f"kubeconfig {spec} cannot be read as a kubeconfig: {_one_line(str(exc))}"
            ) from None
        default_namespace = context_namespace or "default"
    elif os.environ.get("KUBERNETES_SERVICE_HOST"):
        try:
            config.load_incluster_config(  # type: ignore[no-untyped-call]
                client_configuration=configuration
            )
        except config.ConfigException as exc:
            raise OperatorError(f"in-cluster configuration: {_one_line(str(exc))}") from None
        default_namespace = _in_cluster_namespace()
    else:
        looked = ", ".join(str(path) for path in paths)
        raise OperatorError(
            f"no kubeconfig: none found at {looked}; set KUBECONFIG or pass --kubeconfig"
        )
    api_client = client.ApiClient(configuration)
    return Cluster(
        api_client=api_client,
        core=client.CoreV1Api(api_client),
        namespace=namespace or default_namespace,
        server=str(configuration.host),
    )


def _context_namespace(spec: str, context: str | None) -> str | None:
    from kubernetes import config

    contexts, current = config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
        config_file=spec
    )
    chosen = current
    if context is not None:
        chosen = next((c for c in contexts if c.get("name") == context), None)
    if not chosen:
        return None
    namespace = (chosen.get("context") or {}).get("namespace")
    return str(namespace) if namespace else None


def _in_cluster_namespace() -> str:
    try:
        return _IN_CLUSTER_NAMESPACE_FILE.read_text().strip() or "default"
    except OSError:
        return "default"


@contextmanager
def api_errors(cluster: Cluster, action: str, *, pod: str | None = None) -> Iterator[None]:
    """Turn what the client raises while doing ``action`` into an :class:`OperatorError`."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        yield
    except ApiException as exc:
        raise _from_api_exception(cluster, action, exc, pod) from None
    except HTTPError as exc:
        raise OperatorError(
            f"cannot reach the Kubernetes API server at {cluster.server} to {action}: "
            f"{_one_line(str(getattr(exc, 'reason', None) or exc))}"
        ) from None


def _from_api_exception(cluster: Cluster, action: str, exc: Any, pod: str | None) -> OperatorError:
    status = int(exc.status or 0)
    parsed = _status_body(exc.body)
    message = _status_message(exc.body) or str(exc.reason or "").strip()
    namespace = cluster.namespace
    if pod is not None and parsed.get("kind") != "Status" and isinstance(parsed.get("error"), str):
        # The gateway itself answered through the proxy (it refused the request), not the
        # API server: its reason, not a guess about the kubeconfig or RBAC.
        return OperatorError(f"pod {pod} refused to {action}: {parsed['error']}")
    if status == 403:
        return RbacDeniedError(
            f"RBAC denied: cannot {action} in namespace {namespace} ({message}); "
            f"nexus status/drain needs {OPERATOR_PERMISSIONS} in {namespace} "
            "(the chart's operatorRbac values render that Role)"
        )
    if status == 401:
        return OperatorError(
            f"unauthorized: the API server at {cluster.server} rejected the kubeconfig's "
            f"credentials ({message}); log in again or refresh the token"
        )
    if pod is not None:
        details = parsed.get("details") if parsed.get("kind") == "Status" else None
        if status == 404 and isinstance(details, dict) and details.get("kind") == "pods":
            return PodNotFoundError(f"pod {pod} not found in namespace {namespace}")
        if status in (502, 503):
            return PodUnreachableError(
                f"pod {pod} did not answer on its admin port ({message or status}); "
                "is it running, and is its admin port right (--admin-port)?"
            )
        return OperatorError(f"pod {pod}: cannot {action}: HTTP {status} {message}".rstrip())
    return OperatorError(f"cannot {action}: HTTP {status} {message}".rstrip())


def _status_body(body: object) -> dict[str, Any]:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str):
        return {}
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _status_message(body: object) -> str:
    """The ``message`` of a Kubernetes ``Status`` body, else the body's first line."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str) or not body.strip():
        return ""
    try:
        parsed = json.loads(body)
    except ValueError:
        return _one_line(body)[:200]
    if isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
        return _one_line(parsed["message"])
    return _one_line(body)[:200]


def _one_line(text: str) -> str:
    return " ".join(text.split())
