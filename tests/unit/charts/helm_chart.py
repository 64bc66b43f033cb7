"""Rendering charts/nexus-mesh with the real helm binary, for the chart tests.

No cluster runs here, so everything is checked offline: ``helm lint``, ``helm template``
(with ``--kube-version`` for each Kubernetes minor the chart supports) and the rendered
manifests parsed and validated against the Kubernetes OpenAPI schemas (kubernetes-validate).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "charts" / "nexus-mesh"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
DEV_VALUES = CHART / "values-dev.yaml"
# Oldest and newest Kubernetes minors the chart supports (Chart.yaml kubeVersion >=1.29);
# 1.37 is the newest schema set kubernetes-validate bundles.
KUBE_VERSIONS = ("1.29.0", "1.37.0")
RELEASE = "prod"
NAMESPACE = "mesh"
# Kinds of CRDs: kubernetes-validate has no schema for them, so they are skipped explicitly.
CRD_KINDS = frozenset({"ServiceMonitor", "PrometheusRule"})
HELM_TIMEOUT_S = 60


@dataclass(frozen=True)
class Scenario:
    """A values setup the chart must render: the defaults, a ci/ file, or the dev values."""

    name: str
    values_files: tuple[Path, ...] = ()

    def args(self) -> list[str]:
        return [arg for path in self.values_files for arg in ("-f", str(path))]


SCENARIOS = (
    Scenario("default"),
    *(Scenario(path.name.removesuffix("-values.yaml"), (path,)) for path in CI_VALUES),
    Scenario("skaffold-dev", (DEV_VALUES,)),
)


def _go_bin() -> Path | None:
    go = shutil.which("go")
    if go is not None:
        found = subprocess.run([go, "env", "GOPATH"], capture_output=True, text=True, check=False)
        if found.returncode == 0 and found.stdout.strip():
            return Path(found.stdout.strip().split(os.pathsep)[0]) / "bin"
    return Path.home() / "go" / "bin"


@cache
def find_go_tool(name: str) -> str | None:
    """``$(go env GOPATH)/bin/<name>`` (where .ci/tools.sh installs it), else on PATH."""
    gobin = _go_bin()
    if gobin is not None and (gobin / name).is_file():
        return str(gobin / name)
    return shutil.which(name)


def go_tool_or_skip(name: str) -> str:
    """A tool .ci/tools.sh installs; in CI (CI=true) a missing one FAILS the test, locally it
    skips."""
    tool = find_go_tool(name)
    if tool is not None:
        return tool
    reason = f"{name} not in $(go env GOPATH)/bin or on PATH; `source .ci/tools.sh` installs it"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def find_helm() -> str | None:
    return find_go_tool("helm")


def helm_or_skip() -> str:
    return go_tool_or_skip("helm")


def run_helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [helm_or_skip(), *args],
        capture_output=True,
        text=True,
        timeout=HELM_TIMEOUT_S,
        check=False,
    )


@cache
def _render_text(
    extra: tuple[str, ...], kube_version: str, release: str, namespace: str = NAMESPACE
) -> str:
    result = run_helm(
        "template",
        release,
        str(CHART),
        "--namespace",
        namespace,
        "--kube-version",
        kube_version,
        *extra,
    )
    if result.returncode != 0:
        raise AssertionError(f"helm template {' '.join(extra)} failed:\n{result.stderr}")
    return result.stdout


def set_args(set_values: tuple[str, ...]) -> list[str]:
    """A ``--set`` flag for each ``key=value``."""
    return [arg for item in set_values for arg in ("--set", item)]


def render(
    scenario: Scenario | None = None,
    *,
    kube_version: str = KUBE_VERSIONS[-1],
    release: str = RELEASE,
    namespace: str = NAMESPACE,
    set_values: tuple[str, ...] = (),
    flags: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """The manifests ``helm template`` renders (hooks and tests included), parsed; ``flags``
    are further ``helm template`` flags (e.g. ``--is-upgrade``)."""
    extra = (*(scenario.args() if scenario else []), *set_args(set_values), *flags)
    text = _render_text(extra, kube_version, release, namespace)
    return [doc for doc in yaml.safe_load_all(text) if doc]


def render_fails(
    *extra: str, kube_version: str = KUBE_VERSIONS[-1], set_values: tuple[str, ...] = ()
) -> str:
    """Render expecting helm to refuse; returns its error output."""
    result = run_helm(
        "template",
        RELEASE,
        str(CHART),
        "--namespace",
        NAMESPACE,
        "--kube-version",
        kube_version,
        *extra,
        *set_args(set_values),
    )
    assert result.returncode != 0, f"helm template {' '.join(extra)} unexpectedly succeeded"
    return result.stderr


def find(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    matches = [
        d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, found {len(matches)}"
    return matches[0]


def gateway_deployment(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return find(docs, "Deployment", f"{RELEASE}-nexus-mesh-gateway")


def config_data(docs: list[dict[str, Any]]) -> dict[str, str]:
    """The data of the ConfigMap every mesh container reads its settings from."""
    return find(docs, "ConfigMap", f"{RELEASE}-nexus-mesh-config")["data"]  # type: ignore[no-any-return]


def find_all(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    """The pod spec of a Deployment, Job or Pod."""
    if doc["kind"] == "Pod":
        return doc["spec"]  # type: ignore[no-any-return]
    return doc["spec"]["template"]["spec"]  # type: ignore[no-any-return]


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    """A container's env, name -> value (or the valueFrom dict)."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def values() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    return loaded


def render_notes(tmp_path: Path, *extra: str) -> str:
    """NOTES.txt as `helm install` prints it: `helm template` leaves NOTES out, so a copy of the
    chart renders it through `tpl` into a ConfigMap."""
    chart = tmp_path / "nexus-mesh"
    shutil.copytree(CHART, chart)
    (chart / "templates" / "NOTES.txt").rename(chart / "notes-source.txt")
    (chart / "templates" / "notes-check.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n"
        '  notes: {{ tpl (.Files.Get "notes-source.txt") . | toJson }}\n'
    )
    result = run_helm(
        "template",
        RELEASE,
        str(chart),
        "--namespace",
        NAMESPACE,
        "--show-only",
        "templates/notes-check.yaml",
        *extra,
    )
    assert result.returncode == 0, result.stderr
    notes: str = yaml.safe_load(result.stdout)["data"]["notes"]
    return notes
