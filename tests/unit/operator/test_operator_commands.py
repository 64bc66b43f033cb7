"""``nexus status`` and ``nexus drain`` against a FAKE Kubernetes API server.

No real cluster can run here (no container runtime, no kubelet), so ``FakeKubeApi`` below
stands in for the API server. It is NOT Kubernetes: a ``http.server`` on 127.0.0.1 that serves
only what the two commands call, in the API server's URL and JSON shapes:

- ``GET  /api/v1/namespaces/{ns}/pods?labelSelector=...`` (a PodList, filtered by labels),
- ``GET  /api/v1/namespaces/{ns}/pods/{name}`` (a Pod, or a 404 ``Status``),
- ``GET  /api/v1/namespaces/{ns}/pods/{name}:{port}/proxy/stats`` (the gateway's /stats),
- ``POST /api/v1/namespaces/{ns}/pods/{name}:{port}/proxy/drain`` (202 ``{"draining": true}``
  with the pod's admin token in ``X-Nexus-Admin-Token``, else the gateway's 401),
- ``GET  /api/v1/namespaces/{ns}/secrets/{name}`` (the Secret that token comes from),

with bearer-token authentication and a switch that answers 403 ``Status`` documents the way
RBAC does. The commands run in-process with a kubeconfig file that points at it, through the
real ``kubernetes`` client, so URL building, auth headers and error decoding are the real ones.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from nexus_mesh.cli import main

TOKEN = "fake-token"
NAMESPACE = "mesh"
RELEASE = "prod"
ADMIN_SECRET = "prod-nexus-mesh-admin"
ADMIN_TOKEN = "admin-token-for-the-fake-gateways"
TOKEN_DIR = "/var/run/secrets/nexus-mesh/admin"


def _status(
    code: int, reason: str, message: str, kind: str = "pods", name: str = ""
) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "details": {"name": name, "kind": kind},
        "code": code,
    }


def _pod(
    name: str,
    *,
    component: str = "gateway",
    release: str = RELEASE,
    phase: str = "Running",
    ready: bool = True,
    token_from: str = "file",
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "labels": {
                "app.kubernetes.io/name": "nexus-mesh",
                "app.kubernetes.io/instance": release,
                "app.kubernetes.io/component": component,
            },
        },
        "spec": {
            "containers": [
                {
                    "name": component,
                    "image": "nexus-mesh:test",
                    # As the chart gives it: a file mounted from a Secret, never the token in
                    # the pod spec itself; or, in a pod spec of one's own, a secretKeyRef.
                    "env": [
                        {"name": "NEXUS_GATEWAY_ADMIN_TOKEN_FILE", "value": f"{TOKEN_DIR}/token"}
                    ]
                    if token_from == "file"
                    else [
                        {
                            "name": "NEXUS_GATEWAY_ADMIN_TOKEN",
                            "valueFrom": {
                                "secretKeyRef": {"name": ADMIN_SECRET, "key": "admin-token"}
                            },
                        }
                    ],
                    "volumeMounts": [
                        {"name": "tmp", "mountPath": "/tmp"},
                        {"name": "admin-token", "mountPath": TOKEN_DIR, "readOnly": True},
                    ],
                }
            ],
            "volumes": [
                {"name": "tmp", "emptyDir": {}},
                {
                    "name": "admin-token",
                    "secret": {
                        "secretName": ADMIN_SECRET,
                        "items": [{"key": "admin-token", "path": "token"}],
                    },
                },
            ],
            "nodeName": "node-1",
        },
        "status": {
            "phase": phase,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def _stats(name: str, connections: int, campaigns: int, lag: dict[str, int]) -> dict[str, Any]:
    return {
        "instance": name,
        "connections": connections,
        "campaigns": campaigns,
        "assigned_partitions": sorted(lag),
        "consumer_lag": lag,
        "pending_requests": 1,
        "ready": True,
        "draining": False,
    }


@dataclass
class FakeKubeApi:
    """The fake API server's state; see the module docstring."""

    pods: dict[str, dict[str, Any]] = field(default_factory=dict)
    stats: dict[str, dict[str, Any]] = field(default_factory=dict)
    unreachable: set[str] = field(default_factory=set)
    forbid: set[str] = field(default_factory=set)  # list, get, proxy-get, proxy-post, secret
    admin_token: str = ADMIN_TOKEN  # what the gateways take; the Secret holds ADMIN_TOKEN
    admin_headers: list[str | None] = field(default_factory=list)  # as each drain came
    requests: list[tuple[str, str, dict[str, list[str]]]] = field(default_factory=list)
    url: str = ""

    def add_gateway(self, name: str, connections: int, campaigns: int, lag: dict[str, int]) -> None:
        self.pods[name] = _pod(name)
        self.stats[name] = _stats(name, connections, campaigns, lag)

    def handle(
        self, method: str, raw_path: str, auth: str | None, admin: str | None = None
    ) -> tuple[int, object]:
        parts = urlsplit(raw_path)
        query = parse_qs(parts.query)
        path = unquote(parts.path)
        self.requests.append((method, path, query))
        if auth != f"Bearer {TOKEN}":
            return 401, _status(401, "Unauthorized", "Unauthorized")
        segments = path.strip("/").split("/")
        if segments[:3] == ["api", "v1", "namespaces"] and segments[4:5] == ["secrets"]:
            return self._secret(segments[3], segments[5])
        if (
            segments[:3] != ["api", "v1", "namespaces"]
            or len(segments) < 5
            or segments[4] != "pods"
        ):
            return 404, _status(404, "NotFound", "the server could not find the requested resource")
        namespace = segments[3]
        rest = segments[5:]
        if not rest:
            return self._list(namespace, query)
        target = rest[0]
        if len(rest) == 1:
            return self._get(namespace, target)
        if rest[1] == "proxy":
            return self._proxy(method, namespace, target, "/".join(rest[2:]), admin)
        return 404, _status(404, "NotFound", "not found")

    def _denied(self, verb: str, resource: str, namespace: str) -> tuple[int, object]:
        return 403, _status(
            403,
            "Forbidden",
            f'{resource} is forbidden: User "dev" cannot {verb} resource "{resource}" in API '
            f'group "" in the namespace "{namespace}"',
        )

    def _list(self, namespace: str, query: dict[str, list[str]]) -> tuple[int, object]:
        if "list" in self.forbid:
            return self._denied("list", "pods", namespace)
        wanted = dict(
            pair.split("=", 1) for pair in query.get("labelSelector", [""])[0].split(",") if pair
        )
        items = [
            pod
            for pod in self.pods.values()
            if pod["metadata"]["namespace"] == namespace
            and all(pod["metadata"]["labels"].get(k) == v for k, v in wanted.items())
        ]
        return 200, {"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items}

    def _get(self, namespace: str, name: str) -> tuple[int, object]:
        if "get" in self.forbid:
            return self._denied("get", "pods", namespace)
        pod = self.pods.get(name)
        if pod is None or pod["metadata"]["namespace"] != namespace:
            return 404, _status(404, "NotFound", f'pods "{name}" not found', name=name)
        return 200, pod

    def _secret(self, namespace: str, name: str) -> tuple[int, object]:
        if "secret" in self.forbid:
            return self._denied("get", "secrets", namespace)
        if name != ADMIN_SECRET:
            return 404, _status(404, "NotFound", f'secrets "{name}" not found', "secrets", name)
        data = {"admin-token": base64.b64encode(ADMIN_TOKEN.encode()).decode()}
        return 200, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": data}

    def _proxy(
        self, method: str, namespace: str, target: str, sub: str, admin: str | None
    ) -> tuple[int, object]:
        if f"proxy-{method.lower()}" in self.forbid:
            verb = "get" if method == "GET" else "create"
            return self._denied(verb, "pods/proxy", namespace)
        name, _, port = target.partition(":")
        if name not in self.pods:
            return 404, _status(404, "NotFound", f'pods "{name}" not found', name=name)
        if name in self.unreachable or port != "8081":
            return 503, _status(
                503,
                "ServiceUnavailable",
                f"error trying to reach service: "
                f"dial tcp 10.0.0.9:{port}: connect: connection refused",
                kind="",
                name="",
            )
        if method == "GET" and sub == "stats":
            return 200, self.stats[name]
        if method == "POST" and sub == "drain":
            self.admin_headers.append(admin)
            if admin != self.admin_token:  # the gateway's own answer, passed through
                return 401, {"error": "POST /drain needs the gateway's admin token"}
            self.stats[name] |= {"draining": True, "ready": False, "connections": 0}
            return 202, {"draining": True}
        return 404, {"error": "no such admin path"}


@pytest.fixture
def fake_api() -> Iterator[FakeKubeApi]:
    api = FakeKubeApi()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            status, body = api.handle(
                self.command,
                self.path,
                self.headers.get("Authorization"),
                self.headers.get("X-Nexus-Admin-Token"),
            )
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._answer()

        def do_POST(self) -> None:
            self._answer()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def write_kubeconfig(path: Path, server: str, token: str = TOKEN) -> Path:
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "fake", "cluster": {"server": server}}],
                "users": [{"name": "dev", "user": {"token": token}}],
                "contexts": [
                    {
                        "name": "fake",
                        "context": {"cluster": "fake", "user": "dev", "namespace": NAMESPACE},
                    },
                    {"name": "bare", "context": {"cluster": "fake", "user": "dev"}},
                ],
                "current-context": "fake",
            }
        )
    )
    return path


@pytest.fixture
def kubeconfig(tmp_path: Path, fake_api: FakeKubeApi, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("NEXUS_RELEASE", raising=False)
    return write_kubeconfig(tmp_path / "kubeconfig", fake_api.url)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_status_lists_the_release_gateways_with_their_stats(
    fake_api: FakeKubeApi, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_api.add_gateway(
        "prod-nexus-mesh-gateway-a", 120, 7, {"nexus.clients:0": 3, "nexus.clients:4": 2}
    )
    fake_api.add_gateway("prod-nexus-mesh-gateway-b", 80, 5, {"nexus.clients:1": 0})
    fake_api.pods["prod-nexus-mesh-gateway-c"] = _pod(
        "prod-nexus-mesh-gateway-c", phase="Pending", ready=False
    )
    fake_api.pods["prod-nexus-mesh-search-x"] = _pod("prod-nexus-mesh-search-x", component="search")
    fake_api.pods["other-nexus-mesh-gateway-z"] = _pod(
        "other-nexus-mesh-gateway-z", release="other"
    )

    status, out, err = run(capsys, "status", "--release", RELEASE, "--kubeconfig", str(kubeconfig))

    assert status == 0, err
    lines = out.splitlines()
    assert lines[0].split() == [
        "POD",
        "STATE",
        "CONNECTIONS",
        "CAMPAIGNS",
        "PARTITIONS",
        "LAG",
        "PENDING",
    ]
    assert lines[1].split() == ["prod-nexus-mesh-gateway-a", "ready", "120", "7", "2", "5", "1"]
    assert lines[2].split() == ["prod-nexus-mesh-gateway-b", "ready", "80", "5", "1", "0", "1"]
    assert lines[3].split() == ["prod-nexus-mesh-gateway-c", "pending", "-", "-", "-", "-", "-"]
    assert lines[4].split() == ["TOTAL", "2/3", "ready", "200", "3", "5", "2"]
    assert "search" not in out and "other-" not in out
    # The selector is the chart's, in the context's namespace; stats go through the pod proxy
    # on the admin port, and the pending pod is not asked.
    listed = [r for r in fake_api.requests if r[1] == f"/api/v1/namespaces/{NAMESPACE}/pods"]
    assert listed[0][2]["labelSelector"] == [
        f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/component=gateway"
    ]
    proxied = sorted(r[1] for r in fake_api.requests if "/proxy/" in r[1])
    assert proxied == [
        f"/api/v1/namespaces/{NAMESPACE}/pods/prod-nexus-mesh-gateway-a:8081/proxy/stats",
        f"/api/v1/namespaces/{NAMESPACE}/pods/prod-nexus-mesh-gateway-b:8081/proxy/stats",
    ]


def test_status_json_has_partitions_and_lag_per_partition(
    fake_api: FakeKubeApi, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_api.add_gateway("prod-gw-a", 3, 1, {"nexus.clients:2": 9})

    status, out, _ = run(
        capsys, "status", "--release", RELEASE, "--kubeconfig", str(kubeconfig), "-o", "json"
    )

    assert status == 0
    (pod,) = json.loads(out)
    assert pod["pod"] == "prod-gw-a" and pod["state"] == "ready" and pod["node"] == "node-1"
    assert pod["stats"]["assigned_partitions"] == ["nexus.clients:2"]
    assert pod["stats"]["consumer_lag"] == {"nexus.clients:2": 9}
    assert pod["stats"]["total_lag"] == 9


def test_status_reports_an_unreachable_pod_and_exits_1(
    fake_api: FakeKubeApi, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_api.add_gateway("prod-gw-a", 3, 1, {})
    fake_api.add_gateway("prod-gw-b", 4, 2, {})
    fake_api.unreachable.add("prod-gw-b")

    status, out, _ = run(capsys, "status", "--release", RELEASE, "--kubeconfig", str(kubeconfig))

    assert status == 1
    assert "prod-gw-a" in out
    assert "prod-gw-b: pod prod-gw-b did not answer on its admin port" in out


def test_status_without_gateway_pods_says_which_selector_found_nothing(
    fake_api: FakeKubeApi, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(
        capsys,
        "status",
        "--release",
        "nope",
        "--kubeconfig",
        str(kubeconfig),
        "--namespace",
        "elsewhere",
    )

    assert status == 1
    assert out == ""
    assert "no gateway pods of release 'nope' in namespace elsewhere" in err
    assert fake_api.requests[0][1] == "/api/v1/namespaces/elsewhere/pods"
    # With -o json, stdout is still JSON for a script: no pods.
    status, out, err = run(
        capsys, "status", "--release", "nope", "--kubeconfig", str(kubeconfig), "-o", "json"
    )
    assert status == 1
    assert json.loads(out) == []
    assert "no gateway pods of release 'nope'" in err


def test_status_rbac_denied_names_the_permissions_needed(
    fake_api: FakeKubeApi, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_api.add_gateway("prod-gw-a", 3, 1, {})
    fake_api.forbid.add("list")

    status, out, err = run(capsys, "status", "--release", RELEASE, "--kubeconfig", str(kubeconfig))

    assert status == 1
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("nexus: error: RBAC denied: cannot list pods in namespace mesh")
    assert 'User "dev" cannot list resource "pods"' in err
    assert "needs get/list pods, get/create pods/proxy" in err


def test_status_rbac_denied_on_the_pod_proxy(
    fake_api: FakeKubeApi, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_api.add_gateway("prod-gw-a", 3, 1, {})
    fake_api.forbid.add("proxy-get")

    status, _, err = run(capsys, "status", "--release", RELEASE, "--kubeconfig", str(kubeconfig))

    assert status == 1
    assert err.startswith("nexus: error: RBAC denied: cannot get pods/proxy")
    assert "needs get/list pods, get/create pods/proxy" in err


def test_drain_posts_to_the_pods_admin_listener(
    fake_api: FakeKubeApi, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_api.add_gateway("prod-gw-a", 3, 1, {})

    status, out, err = run(capsys, "drain", "prod-gw-a", "--kubeconfig", str(kubeconfig))

    assert status == 0, err
    assert "pod prod-gw-a is draining" in out
    posts = [r for r in fake_api.requests if r[0] == "POST"]
    assert [r[1] for r in posts] == [
        f"/api/v1/namespaces/{NAMESPACE}/pods/prod-gw-a:8081/proxy/drain"
    ]
    assert fake_api.stats["prod-gw-a"]["draining"] is True
    # The token from the Secret the pod's NEXUS_GATEWAY_ADMIN_TOKEN names.
    assert fake_api.admin_headers == [ADMIN_TOKEN]
    assert ADMIN_TOKEN not in out + err


def test_drain_reads_a_token_given_as_a_secret_key_ref(
    fake_api: FakeKubeApi, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pod spec of one's own may give the token as an environment variable from a Secret."""
    fake_api.add_gateway("prod-gw-a", 3, 1, {})
    fake_api.pods["prod-gw-a"] = _pod("prod-gw-a", token_from="secretKeyRef")

    status, _, err = run(capsys, "drain", "prod-gw-a", "--kubeconfig", str(kubeconfig))

    assert status == 0, err
    assert fake_api.admin_headers == [ADMIN_TOKEN]


def test_a_drain_the_gateway_refuses_says_so(
    fake_api: FakeKubeApi, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The gateway's own 401 (its token was rotated since) is not blamed on the kubeconfig."""
    fake_api.add_gateway("prod-gw-a", 3, 1, {})
    fake_api.admin_token = "rotated-since"

    status, _, err = run(capsys, "drain", "prod-gw-a", "--kubeconfig", str(kubeconfig))

    assert status == 1
    assert "pod prod-gw-a refused to create pods/proxy (POST /drain)" in err
    assert "admin token" in err
    assert "kubeconfig" not in err
    assert fake_api.stats["prod-gw-a"]["draining"] is False


def test_drain_rbac_denied_on_the_admin_token_secret(
    fake_api: FakeKubeApi, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_api.add_gateway("prod-gw-a", 3, 1, {})
    fake_api.forbid.add("secret")

    status, _, err = run(capsys, "drain", "prod-gw-a", "--kubeconfig", str(kubeconfig))

    assert status == 1
    assert f"RBAC denied: cannot get secrets ({ADMIN_SECRET})" in err
    assert not [r for r in fake_api.requests if r[0] == "POST"]


def test_drain_wait_returns_once_the_pod_holds_no_connection(
    fake_api: FakeKubeApi, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_api.add_gateway("prod-gw-a", 3, 1, {})

    status, out, _ = run(
        capsys, "drain", "prod-gw-a", "--wait", "5", "--kubeconfig", str(kubeconfig)
    )

    assert status == 0
    assert "holds no connection" in out


def test_drain_of_an_unknown_pod_is_a_clear_error(
    fake_api: FakeKubeApi, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(capsys, "drain", "ghost", "--kubeconfig", str(kubeconfig))

    assert status == 1
    assert err.strip() == "nexus: error: pod ghost not found in namespace mesh"
    assert not [r for r in fake_api.requests if r[0] == "POST"]


def test_drain_refuses_a_pod_that_is_not_a_gateway(
    fake_api: FakeKubeApi, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_api.pods["prod-search"] = _pod("prod-search", component="search")

    status, _, err = run(capsys, "drain", "prod-search", "--kubeconfig", str(kubeconfig))

    assert status == 1
    assert "pod prod-search in namespace mesh is not a Nexus Mesh gateway" in err
    assert not [r for r in fake_api.requests if r[0] == "POST"]


def test_drain_rbac_denied_on_create_pods_proxy(
    fake_api: FakeKubeApi, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_api.add_gateway("prod-gw-a", 3, 1, {})
    fake_api.forbid.add("proxy-post")

    status, _, err = run(capsys, "drain", "prod-gw-a", "--kubeconfig", str(kubeconfig))

    assert status == 1
    assert err.startswith("nexus: error: RBAC denied: cannot create pods/proxy (POST /drain)")
    assert "needs get/list pods, get/create pods/proxy" in err
    assert fake_api.stats["prod-gw-a"]["draining"] is False


@pytest.mark.parametrize("command", [["status"], ["drain", "prod-gw-a"]])
def test_without_a_kubeconfig_the_error_is_one_clear_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))

    status, out, err = run(capsys, *command)

    assert status == 1
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("nexus: error: no kubeconfig: none found at ")
    assert "set KUBECONFIG or pass --kubeconfig" in err


def test_an_explicit_missing_kubeconfig_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    missing = tmp_path / "nope.yaml"

    status, _, err = run(capsys, "status", "--kubeconfig", str(missing))

    assert status == 1
    assert err.strip() == f"nexus: error: no kubeconfig: {missing} does not exist"


@pytest.mark.parametrize(
    "content",
    ["a: [unclosed\n", "- just\n- a list\n", "plain text\n"],
    ids=["yaml", "list", "text"],
)
def test_an_unreadable_kubeconfig_is_one_clear_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    content: str,
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    broken = tmp_path / "broken.yaml"
    broken.write_text(content)

    status, out, err = run(capsys, "status", "--kubeconfig", str(broken))

    assert status == 1
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith(f"nexus: error: kubeconfig {broken}")


def test_kubeconfig_from_the_environment_and_context_without_namespace(
    fake_api: FakeKubeApi,
    kubeconfig: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))

    status, _, err = run(capsys, "status", "--context", "bare")

    assert status == 1
    assert "no gateway pods of release 'nexus-mesh' in namespace default" in err


def test_an_unknown_context_is_a_clear_error(
    fake_api: FakeKubeApi, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(capsys, "status", "--kubeconfig", str(kubeconfig), "--context", "nope")

    assert status == 1
    assert err.startswith(f"nexus: error: kubeconfig {kubeconfig}: ")
    assert "nope" in err and err.count("\n") == 1


def test_rejected_credentials_are_reported_as_unauthorized(
    fake_api: FakeKubeApi,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    config = write_kubeconfig(tmp_path / "stale", fake_api.url, token="expired")

    status, _, err = run(capsys, "status", "--kubeconfig", str(config))

    assert status == 1
    assert err.startswith("nexus: error: unauthorized: the API server at ")


def test_an_unreachable_api_server_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = write_kubeconfig(tmp_path / "down", f"http://127.0.0.1:{port}")

    status, _, err = run(capsys, "status", "--kubeconfig", str(config))

    assert status == 1
    assert err.startswith(
        f"nexus: error: cannot reach the Kubernetes API server at http://127.0.0.1:{port}"
    )
    assert err.count("\n") == 1
