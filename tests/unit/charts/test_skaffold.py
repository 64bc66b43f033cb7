"""skaffold.yaml: valid against skaffold's v4beta14 JSON schema (shared/reference), and wired
to the chart and the Dockerfile (image values, dev values file, port-forwards, file sync)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from helm_chart import CHART, DEV_VALUES, REPO, Scenario, find, render

SKAFFOLD = REPO / "skaffold.yaml"
# In CI the shared folder sits beside the clone: ../shared/reference/...
SCHEMA = Path(REPO).parent / "shared" / "reference" / "skaffold-v4beta14.schema.json"


def config() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(SKAFFOLD.read_text())
    return loaded


def errors(document: dict[str, Any]) -> list[str]:
    assert SCHEMA.is_file(), f"the skaffold schema is missing: {SCHEMA}"
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft7Validator(schema)
    return [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(document)]


def profile(name: str) -> dict[str, Any]:
    return next(p for p in config()["profiles"] if p["name"] == name)


def test_skaffold_yaml_validates_against_the_v4beta14_schema() -> None:
    document = config()
    assert document["apiVersion"] == "skaffold/v4beta14"
    assert errors(document) == []


@pytest.mark.parametrize(
    "mutation",
    [
        lambda d: d["deploy"]["helm"]["releases"][0].update(chart="charts/nexus-mesh"),
        lambda d: d["build"]["artifacts"][0]["docker"].update(dockerFile="Dockerfile"),
        lambda d: d["profiles"][0]["portForward"][0].update(localPort="8080"),
    ],
    ids=["unknown-release-key", "misspelled-docker-key", "wrong-type"],
)
def test_the_schema_check_catches_mistakes(mutation: Any) -> None:
    document = copy.deepcopy(config())
    mutation(document)
    assert errors(document)


def test_the_built_image_is_wired_into_the_chart() -> None:
    (artifact,) = config()["build"]["artifacts"]
    (release,) = config()["deploy"]["helm"]["releases"]
    assert release["chartPath"] == "charts/nexus-mesh"
    assert (REPO / release["chartPath"] / "Chart.yaml").is_file()
    # skaffold's template variables replace non-alphanumerics of the image name with '_'.
    var = re.sub(r"[^A-Za-z0-9]", "_", artifact["image"])
    templates = release["setValueTemplates"]
    assert templates["image.repository"] == f"{{{{.IMAGE_REPO_{var}}}}}"
    assert templates["image.tag"] == f"{{{{.IMAGE_TAG_{var}}}}}@{{{{.IMAGE_DIGEST_{var}}}}}"
    assert artifact["docker"]["dockerfile"] == "Dockerfile"
    assert (REPO / artifact["docker"]["dockerfile"]).is_file()


def _apply_patches(document: dict[str, Any], patches: list[dict[str, Any]]) -> dict[str, Any]:
    result = copy.deepcopy(document)
    for patch in patches:
        *parents, last = [p for p in patch["path"].split("/") if p]
        node: Any = result
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        assert patch["op"] in ("add", "replace")
        if isinstance(node, list):
            node[int(last)] = patch["value"]
        else:
            assert patch["op"] == "add" or last in node, patch["path"]
            node[last] = patch["value"]
    return result


def test_dev_profile_uses_the_dev_values_sync_and_port_forwards() -> None:
    dev = profile("dev")
    assert {"command": "dev"} in dev["activation"]
    effective = _apply_patches(config(), dev["patches"])
    assert errors(effective) == []
    (artifact,) = effective["build"]["artifacts"]
    assert artifact["docker"]["target"] == "dev"
    (release,) = effective["deploy"]["helm"]["releases"]
    assert [REPO / f for f in release["valuesFiles"]] == [DEV_VALUES]

    # Port-forwards name Services the chart renders for this release with the dev values.
    docs = render(Scenario("skaffold", (DEV_VALUES,)), release=release["name"])
    forwards = {(f["resourceName"], f["port"]): f for f in dev["portForward"]}
    gateway = find(docs, "Service", "nexus-mesh-gateway")
    tracing = find(docs, "Service", "nexus-mesh-tracing")
    assert (gateway["metadata"]["name"], gateway["spec"]["ports"][0]["port"]) in forwards
    assert (tracing["metadata"]["name"], 16686) in forwards
    assert {f["localPort"] for f in forwards.values()} == {8080, 16686}
    assert all(f["address"] == "127.0.0.1" for f in forwards.values())

    # Synced files land where the dev image imports them from, and the dev containers are
    # restarted by watchfiles watching the same place.
    sync = artifact["sync"]["manual"]
    assert {rule["dest"] for rule in sync} == {"/app"}
    assert any(rule["src"].startswith("services/") and rule["src"].endswith(".py") for rule in sync)
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "ENV PYTHONPATH=/app/services" in dockerfile
    deployment = find(docs, "Deployment", "nexus-mesh-gateway")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["command"][0] == "watchfiles"
    assert "/app/services" in container["command"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is False


def test_prod_profile_builds_the_runtime_image_and_deploys_the_chart() -> None:
    prod = profile("prod")
    (artifact,) = prod["build"]["artifacts"]
    assert artifact["docker"]["target"] == "runtime"
    assert prod["build"]["local"]["push"] is True
    (release,) = prod["deploy"]["helm"]["releases"]
    assert release["chartPath"] == "charts/nexus-mesh"
    assert "valuesFiles" not in release  # the chart's defaults are the production settings
    assert (
        release["setValueTemplates"]
        == config()["deploy"]["helm"]["releases"][0]["setValueTemplates"]
    )


def test_dev_values_are_for_development_only() -> None:
    dev = yaml.safe_load(DEV_VALUES.read_text())
    assert dev["devKafka"]["enabled"] and dev["devTracing"]["enabled"]
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    assert not defaults["devKafka"]["enabled"] and not defaults["devTracing"]["enabled"]
    assert defaults["auth"]["mode"] == "jwt"
