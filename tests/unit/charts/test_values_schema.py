"""values.schema.json: it covers every value, rejects unknown keys and wrong types, and helm
enforces it (and the chart's own checks) on bad values files."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from helm_chart import CHART, CI_VALUES, DEV_VALUES, RELEASE, find, render, render_fails

from nexus_mesh.envelope import PATH_ID_RE

SCHEMA_PATH = CHART / "values.schema.json"


def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
    return loaded


def validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(schema())


def default_values() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    return loaded


def merged(update: dict[str, Any]) -> dict[str, Any]:
    """The default values with ``update`` merged in, as helm merges a values file."""

    def merge(into: dict[str, Any], changes: dict[str, Any]) -> None:
        for key, value in changes.items():
            if isinstance(value, dict) and isinstance(into.get(key), dict):
                merge(into[key], value)
            else:
                into[key] = value

    document = default_values()
    merge(document, update)
    return document


def walk(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every subschema, with a readable path."""
    if isinstance(node, dict):
        yield path, node
        for key, child in node.items():
            if key in ("properties", "definitions"):
                for name, sub in child.items():
                    yield from walk(sub, f"{path}.{name}" if path else name)
            elif key in ("items", "additionalProperties") and isinstance(child, dict):
                yield from walk(child, f"{path}[{key}]")
            elif key in ("allOf", "anyOf", "oneOf"):
                for index, sub in enumerate(child):
                    yield from walk(sub, f"{path}<{key}{index}>")


def test_schema_is_a_valid_draft7_schema() -> None:
    jsonschema.Draft7Validator.check_schema(schema())


def test_every_object_in_the_schema_is_closed() -> None:
    open_objects = []
    for path, node in walk(schema()):
        types = node.get("type")
        if types != "object" and not (isinstance(types, list) and "object" in types):
            continue
        if path == "global":  # Helm's globals belong to the parent chart
            continue
        if str(node.get("$comment", "")).startswith("Kubernetes "):
            continue  # an affinity term, validated by the API server (kubernetes-validate here)
        extra = node.get("additionalProperties")
        if extra is False:
            continue
        if "properties" not in node and isinstance(extra, dict):
            continue  # a map whose keys are the user's (labels, annotations, resources)
        open_objects.append(path)
    assert open_objects == []


def test_every_value_is_described() -> None:
    undocumented = [
        path
        for path, node in walk(schema())
        if path
        and "." in path
        and "<" not in path.rsplit(".", 1)[-1]
        and not path.startswith(("quantity", "resourceList"))
        and "description" not in node
        and "$ref" not in node
        and node.get("type") is not None
        and not path.endswith("]")
    ]
    assert undocumented == []
    for key, node in schema()["properties"].items():
        assert node.get("description"), key


@pytest.mark.parametrize(
    "path", [CHART / "values.yaml", DEV_VALUES, *CI_VALUES], ids=lambda p: Path(p).name
)
def test_shipped_values_files_are_valid(path: Path) -> None:
    # Overlays are checked as helm checks them: merged over the defaults.
    document = merged(yaml.safe_load(path.read_text()) or {})
    errors = [f"{list(e.path)}: {e.message}" for e in validator().iter_errors(document)]
    assert errors == []


def test_every_default_value_is_in_the_schema_and_the_readme() -> None:
    readme = (CHART / "README.md").read_text()
    missing_in_readme = []

    def leaves(node: Any, prefix: str) -> Iterator[str]:
        if isinstance(node, dict) and node:
            for key, child in node.items():
                yield from leaves(child, f"{prefix}.{key}" if prefix else key)
        else:
            yield prefix

    for leaf in leaves(default_values(), ""):
        if f"`{leaf}`" not in readme:
            missing_in_readme.append(leaf)
    assert missing_in_readme == []


BAD_VALUES: list[tuple[str, dict[str, Any], str]] = [
    ("wrong-type", {"gateway": {"replicaCount": "two"}}, "/gateway/replicaCount"),
    ("unknown-top-level-key", {"replicas": 3}, "additional properties 'replicas' not allowed"),
    ("unknown-nested-key", {"gateway": {"drain": {"timeout": 20}}}, "'timeout' not allowed"),
    ("negative-replicas", {"gateway": {"replicaCount": -1}}, "/gateway/replicaCount"),
    ("negative-search-replicas", {"search": {"replicaCount": -2}}, "/search/replicaCount"),
    ("bad-enum", {"kafka": {"securityProtocol": "TLS"}}, "/kafka/securityProtocol"),
    ("short-jwt-secret", {"auth": {"jwt": {"secret": "too-short"}}}, "/auth/jwt/secret"),
    ("privileged-port", {"gateway": {"port": 80}}, "/gateway/port"),
    ("retention-below-a-day", {"topics": {"clients": {"retentionMs": 3600000}}}, "/topics/clients"),
    ("bad-bootstrap", {"kafka": {"bootstrapServers": "kafka"}}, "/kafka/bootstrapServers"),
    ("string-for-list", {"topicsJob": {"hooks": "post-install"}}, "/topicsJob/hooks"),
    (
        "unknown-toleration-field",
        {"gateway": {"tolerations": [{"key": "a", "efect": "NoSchedule"}]}},
        "/gateway/tolerations/0",
    ),
    ("bad-env-entry", {"gateway": {"extraEnv": [{"value": "no name"}]}}, "/gateway/extraEnv/0"),
    # Each would render an image reference no container runtime pulls.
    ("image-tag-with-a-space", {"image": {"tag": "v1 beta"}}, "/image/tag"),
    ("image-tag-with-a-short-digest", {"image": {"tag": "v1@sha256:abc"}}, "/image/tag"),
    ("image-tag-starting-with-a-dot", {"image": {"tag": ".v1"}}, "/image/tag"),
    ("image-tag-with-a-repository", {"image": {"tag": "nexus-mesh:v1"}}, "/image/tag"),
    # Not a user the gateway's path /ws/{campaign}/{user} can carry.
    ("test-user-with-a-slash", {"tests": {"user": "ops/probe"}}, "/tests/user"),
]


@pytest.mark.parametrize(("name", "bad", "message"), BAD_VALUES, ids=[b[0] for b in BAD_VALUES])
def test_schema_rejects_bad_values(name: str, bad: dict[str, Any], message: str) -> None:
    assert list(validator().iter_errors(merged(bad))), name


@pytest.mark.parametrize(("name", "bad", "message"), BAD_VALUES, ids=[b[0] for b in BAD_VALUES])
def test_helm_refuses_bad_values_files(
    name: str, bad: dict[str, Any], message: str, tmp_path: Path
) -> None:
    values_file = tmp_path / f"{name}.yaml"
    values_file.write_text(yaml.safe_dump(bad))
    error = render_fails("-f", str(values_file))
    assert "values don't meet the specifications of the schema" in error or "at '" in error
    assert message in error, error


CHART_CHECKS: list[tuple[str, dict[str, Any], str]] = [
    (
        "search-grace-shorter-than-its-stop",
        {"search": {"terminationGracePeriodSeconds": 10}},
        "search.terminationGracePeriodSeconds (10) must be at least a service's stop",
    ),
    (
        "own-service-grace-shorter-than-its-stop",
        {
            "services": {
                "recommend": {"args": ["service", "r:s"], "terminationGracePeriodSeconds": 42}
            }
        },
        "services.recommend.terminationGracePeriodSeconds (42) must be at least",
    ),
    (
        "span-export-outlasting-the-margin",
        {"otel": {"shutdownExportSeconds": 5, "endpoint": "http://collector:4318"}},
        "otel.shutdownExportSeconds (5) must be less than gateway.drain.marginSeconds (5)",
    ),
    (
        "grace-shorter-than-drain",
        {"gateway": {"terminationGracePeriodSeconds": 20}},
        "must be at least gateway.drain.preStopSleepSeconds + timeoutSeconds + marginSeconds",
    ),
    (
        "replicated-topics-on-dev-kafka",
        {"devKafka": {"enabled": True}, "topics": {"replicationFactor": 3}},
        "devKafka runs a single broker",
    ),
    (
        "min-isr-above-replication",
        {"topics": {"replicationFactor": 2, "minInsyncReplicas": 3}},
        "must not exceed topics.replicationFactor",
    ),
    (
        "sasl-without-credentials",
        {"kafka": {"securityProtocol": "SASL_SSL"}},
        "needs kafka.sasl.mechanism",
    ),
    (
        "pre-install-hook-with-dev-kafka",
        {"devKafka": {"enabled": True}, "topicsJob": {"hooks": ["pre-install"]}},
        "cannot reach devKafka",
    ),
    (
        "same-ports",
        {"gateway": {"port": 9000, "adminPort": 9000}},
        "gateway.port and gateway.adminPort must differ",
    ),
    (
        "public-key-test-without-token",
        {"auth": {"algorithms": ["RS256"], "jwt": {"publicKey": "-----BEGIN PUBLIC KEY-----\nx"}}},
        "set tests.tokenSecret",
    ),
]


@pytest.mark.parametrize(("name", "bad", "message"), CHART_CHECKS, ids=[c[0] for c in CHART_CHECKS])
def test_chart_refuses_inconsistent_values(
    name: str, bad: dict[str, Any], message: str, tmp_path: Path
) -> None:
    values_file = tmp_path / f"{name}.yaml"
    values_file.write_text(yaml.safe_dump(bad))
    # Valid for the schema: these are relations between values that only the templates check.
    assert list(validator().iter_errors(merged(bad))) == []
    error = render_fails("-f", str(values_file))
    assert message in error, error


DIGEST = "sha256:" + "d" * 64


@pytest.mark.parametrize(
    ("tag", "image"),
    [
        ("", "nexus-mesh:{app_version}"),
        ("1.2.3-rc.1", "nexus-mesh:1.2.3-rc.1"),
        (f"v1@{DIGEST}", f"nexus-mesh:v1@{DIGEST}"),  # what skaffold sets
        (f"@{DIGEST}", f"nexus-mesh@{DIGEST}"),
        ("v1@", "nexus-mesh:v1"),  # skaffold, without a digest to give
    ],
    ids=["default", "tag", "tag-and-digest", "digest", "tag-and-no-digest"],
)
def test_every_accepted_image_tag_renders_a_pullable_reference(tag: str, image: str) -> None:
    assert list(validator().iter_errors(merged({"image": {"tag": tag}}))) == []
    app_version = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    docs = render(set_values=(f"image.tag={tag}",))
    gateway = find(docs, "Deployment", f"{RELEASE}-nexus-mesh-gateway")
    rendered = gateway["spec"]["template"]["spec"]["containers"][0]["image"]
    assert rendered == image.replace("{app_version}", app_version)
    # One reference grammar: repository, then ":tag" and/or "@digest".
    assert re.fullmatch(r"nexus-mesh(:[\w][\w.-]{0,127})?(@sha256:[a-f0-9]{64})?", rendered)


def test_the_test_user_pattern_is_the_gateway_s() -> None:
    """A tests.user the gateway's path would refuse fails `helm install`, not `helm test`."""
    user = schema()["properties"]["tests"]["properties"]["user"]
    assert user["pattern"] == PATH_ID_RE.pattern
