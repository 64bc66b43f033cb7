"""charts/nexus-mesh, rendered offline: lint, strict schema validation and what a platform team
checks in review (security context, probes, resources, drain timing, labels, policies).

No cluster can run here: every scenario is linted with ``helm lint --strict`` and rendered with
``helm template`` for the oldest and newest supported Kubernetes minors, and every rendered
object is validated strictly (unknown fields are errors) against that version's OpenAPI
schemas with kubernetes-validate. CRD kinds (ServiceMonitor) have no bundled schema and are
skipped explicitly; the tests below check their content instead.
"""

from __future__ import annotations

import base64
import re
import shutil
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from helm_chart import (
    CHART,
    CRD_KINDS,
    KUBE_VERSIONS,
    NAMESPACE,
    RELEASE,
    SCENARIOS,
    Scenario,
    config_data,
    env_of,
    find,
    find_all,
    gateway_deployment,
    pod_spec,
    render,
    render_fails,
    render_notes,
    run_helm,
    values,
)

from nexus_mesh.settings import NexusSettings

SCENARIO_IDS = [s.name for s in SCENARIOS]
BY_NAME = {s.name: s for s in SCENARIOS}
WORKLOAD_KINDS = ("Deployment", "Job", "Pod")


def scenario(name: str) -> Scenario:
    return BY_NAME[name]


def gateway_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (container,) = pod_spec(gateway_deployment(docs))["containers"]
    return container  # type: ignore[no-any-return]


# -- lint and strict validation ---------------------------------------------------------------


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("case", SCENARIOS, ids=SCENARIO_IDS)
def test_helm_lint_strict(case: Scenario, kube_version: str) -> None:
    result = run_helm(
        "lint", "--strict", "--quiet", "--kube-version", kube_version, str(CHART), *case.args()
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout, result.stdout


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("case", SCENARIOS, ids=SCENARIO_IDS)
def test_every_rendered_object_validates_strictly(case: Scenario, kube_version: str) -> None:
    docs = render(case, kube_version=kube_version)
    assert docs
    skipped = []
    for doc in docs:
        if doc["kind"] in CRD_KINDS:
            skipped.append(doc["kind"])
            continue
        try:
            kubernetes_validate.validate(doc, kube_version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            pytest.fail(
                f"{doc['kind']}/{doc['metadata']['name']} ({kube_version}): {path}: {exc.message}"
            )
    assert set(skipped) <= CRD_KINDS


def test_the_validation_is_strict_about_unknown_fields() -> None:
    docs = render()
    deployment = gateway_deployment(docs)
    broken = {**deployment, "spec": {**deployment["spec"], "replicaz": 3}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBE_VERSIONS[0], strict=True)


# -- names and labels (helm create conventions) -----------------------------------------------


@pytest.mark.parametrize("case", SCENARIOS, ids=SCENARIO_IDS)
def test_labels_and_selectors_follow_helm_conventions(case: Scenario) -> None:
    for doc in render(case):
        labels = doc["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "nexus-mesh"
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["helm.sh/chart"] == "nexus-mesh-0.7.0"
        assert "app.kubernetes.io/version" in labels
        if doc["kind"] == "Deployment":
            selector = doc["spec"]["selector"]["matchLabels"]
            component = labels["app.kubernetes.io/component"]
            # The two stable labels and the component: never the version or chart labels,
            # which change on upgrade and would orphan the old ReplicaSets.
            assert selector == {
                "app.kubernetes.io/name": "nexus-mesh",
                "app.kubernetes.io/instance": RELEASE,
                "app.kubernetes.io/component": component,
            }
            template_labels = doc["spec"]["template"]["metadata"]["labels"]
            assert selector.items() <= template_labels.items()


def test_names_fit_in_63_characters_with_the_longest_release_name() -> None:
    release = "r" * 53  # Helm's limit for release names
    docs = render(scenario("everything"), release=release)
    for doc in docs:
        assert len(doc["metadata"]["name"]) <= 63, doc["metadata"]["name"]
    names = [d["metadata"]["name"] for d in docs]
    assert len(names) == len(set((d["kind"], n) for d, n in zip(docs, names, strict=True)))


def test_gateway_pods_carry_the_labels_nexus_status_selects_on() -> None:
    from nexus_mesh.operator.gateways import gateway_selector

    pod_labels = gateway_deployment(render())["spec"]["template"]["metadata"]["labels"]
    for requirement in gateway_selector(RELEASE).split(","):
        key, value = requirement.split("=")
        assert pod_labels[key] == value


# -- pod security, resources and probes -------------------------------------------------------


@pytest.mark.parametrize("case", SCENARIOS, ids=SCENARIO_IDS)
def test_every_container_runs_unprivileged(case: Scenario) -> None:
    for doc in render(case):
        if doc["kind"] not in WORKLOAD_KINDS:
            continue
        spec = pod_spec(doc)
        pod_sc = spec["securityContext"]
        assert pod_sc["runAsNonRoot"] is True
        assert pod_sc["runAsUser"] > 0
        assert pod_sc["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is False
        for container in spec["containers"]:
            sc = container["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"]["drop"] == ["ALL"]
            assert not sc.get("capabilities", {}).get("add")
            assert not sc.get("privileged", False)
            if case.name != "skaffold-dev":  # file sync writes into the dev container
                assert sc["readOnlyRootFilesystem"] is True
            requests = container["resources"]["requests"]
            assert {"cpu", "memory"} <= requests.keys(), f"{doc['metadata']['name']}"
            assert "memory" in container["resources"]["limits"]
            # A writable /tmp on a read-only root filesystem.
            mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
            assert "/tmp" in mounts


def test_the_gateway_runs_as_the_images_user_10001() -> None:
    docs = render()
    spec = pod_spec(gateway_deployment(docs))
    assert spec["securityContext"]["runAsUser"] == 10001
    assert gateway_container(docs)["securityContext"]["runAsUser"] == 10001
    tmp = next(v for v in spec["volumes"] if v["name"] == "tmp")
    assert "emptyDir" in tmp


def test_gateway_probes_use_the_admin_port() -> None:
    container = gateway_container(render())
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 8080, "admin": 8081}
    assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "admin"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "admin"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "admin"}
    # A pod is taken out of rotation within ~10 s of /readyz turning false.
    readiness = container["readinessProbe"]
    assert readiness["periodSeconds"] * readiness["failureThreshold"] <= 10


def test_every_probe_setting_the_schema_accepts_is_rendered() -> None:
    """A value the schema takes and the template drops would fail silently."""
    probes = ("startup", "liveness", "readiness")
    container = gateway_container(
        render(set_values=tuple(f"gateway.probes.{p}.initialDelaySeconds=15" for p in probes))
    )
    for probe in probes:
        assert container[f"{probe}Probe"]["initialDelaySeconds"] == 15, probe
    assert "initialDelaySeconds" not in gateway_container(render())["readinessProbe"]


def test_gateway_env_names_the_pod_and_its_namespace_for_traces() -> None:
    env = env_of(gateway_container(render()))
    assert env["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["POD_NAMESPACE"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert env["NEXUS_GATEWAY_INSTANCE"] == "$(POD_NAME)"
    assert env["OTEL_SERVICE_NAME"] == "nexus-gateway"
    attributes = dict(a.split("=", 1) for a in env["OTEL_RESOURCE_ATTRIBUTES"].split(","))
    assert attributes["k8s.pod.name"] == "$(POD_NAME)"
    assert attributes["k8s.namespace.name"] == "$(POD_NAMESPACE)"
    # $(VAR) only expands variables defined earlier in the list.
    names = [e["name"] for e in gateway_container(render())["env"]]
    assert names.index("POD_NAME") < names.index("NEXUS_GATEWAY_INSTANCE")
    assert names.index("POD_NAMESPACE") < names.index("OTEL_RESOURCE_ATTRIBUTES")


# -- drain timing -------------------------------------------------------------------------------


def _drain_numbers(docs: list[dict[str, Any]], kube_version: str) -> tuple[int, int, int]:
    container = gateway_container(docs)
    pre_stop = container["lifecycle"]["preStop"]
    if kube_version >= "1.30":
        sleep = pre_stop["sleep"]["seconds"]
    else:  # the sleep action is beta (off by default) before 1.30: the image's sleep binary
        assert pre_stop["exec"]["command"][0] == "sleep"
        sleep = int(pre_stop["exec"]["command"][1])
    drain = int(config_data(docs)["NEXUS_GATEWAY_DRAIN_TIMEOUT_S"])
    grace = pod_spec(gateway_deployment(docs))["terminationGracePeriodSeconds"]
    return sleep, drain, grace


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_grace_period_covers_prestop_sleep_and_drain_with_margin(kube_version: str) -> None:
    drain_values = values()["gateway"]["drain"]
    sleep, drain, grace = _drain_numbers(render(kube_version=kube_version), kube_version)
    assert sleep == drain_values["preStopSleepSeconds"] > 0
    assert drain == drain_values["timeoutSeconds"]
    assert grace >= sleep + drain + drain_values["marginSeconds"]
    assert drain_values["marginSeconds"] > 0


def test_queued_spans_are_exported_within_the_margin() -> None:
    """A stopping process waits OTEL_BSP_EXPORT_TIMEOUT for its last spans after the drain:
    that wait must end before the kubelet's SIGKILL, i.e. inside the margin."""
    data = config_data(render(set_values=("otel.endpoint=http://collector:4318",)))
    margin = values()["gateway"]["drain"]["marginSeconds"]
    assert 0 < int(data["OTEL_BSP_EXPORT_TIMEOUT"]) < margin * 1000
    # The SDK's batch processor ignores that variable: its exporter's timeout (seconds) is
    # what bounds the last export there. fastotel (the default) keeps its own per export.
    assert "OTEL_EXPORTER_OTLP_TIMEOUT" not in data
    sdk = config_data(
        render(set_values=("otel.endpoint=http://collector:4318", "otel.pipeline=sdk"))
    )
    assert 0 < float(sdk["OTEL_EXPORTER_OTLP_TIMEOUT"]) < margin
    zipkin = config_data(
        render(
            set_values=(
                "otel.tracesExporter=zipkin_json",
                "otel.endpoint=http://zipkin:9411/api/v2/spans",
            )
        )
    )
    assert 0 < float(zipkin["OTEL_EXPORTER_ZIPKIN_TIMEOUT"]) < margin
    assert zipkin["OTEL_EXPORTER_ZIPKIN_ENDPOINT"] == "http://zipkin:9411/api/v2/spans"


def test_drain_timeout_default_matches_the_gateway() -> None:
    field = NexusSettings.model_fields.get("gateway_drain_timeout_s")
    gateway_default = field.default if field is not None else 20  # the gateway contract's
    assert values()["gateway"]["drain"]["timeoutSeconds"] == gateway_default


def test_changed_drain_settings_keep_the_relation() -> None:
    docs = render(
        set_values=(
            "gateway.drain.timeoutSeconds=45",
            "gateway.drain.preStopSleepSeconds=10",
            "gateway.terminationGracePeriodSeconds=60",
        )
    )
    sleep, drain, grace = _drain_numbers(docs, KUBE_VERSIONS[-1])
    assert (sleep, drain, grace) == (10, 45, 60)


def test_a_grace_period_too_short_for_the_drain_is_refused() -> None:
    error = render_fails(
        "--set",
        "gateway.drain.timeoutSeconds=40",
        "--set",
        "gateway.terminationGracePeriodSeconds=45",
    )
    assert "gateway.terminationGracePeriodSeconds (45) must be at least" in error
    assert "(5 + 40 + 5 = 50)" in error


def test_rollouts_replace_one_gateway_at_a_time_and_the_pdb_limits_evictions() -> None:
    docs = render()
    strategy = gateway_deployment(docs)["spec"]["strategy"]
    assert strategy["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    pdb = find(docs, "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "gateway"


# -- configuration the services accept -----------------------------------------------------------


@pytest.mark.parametrize("case", SCENARIOS, ids=SCENARIO_IDS)
def test_configmap_is_a_configuration_the_services_accept(
    case: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = config_data(render(case))
    for name in list(NexusSettings.model_fields):
        monkeypatch.delenv(f"NEXUS_{name.upper()}", raising=False)
    for key, value in data.items():
        if key.startswith("NEXUS_"):
            field = key.removeprefix("NEXUS_").lower()
            assert field in NexusSettings.model_fields, f"the chart sets an unknown {key}"
        monkeypatch.setenv(key, value)
    if data["NEXUS_KAFKA_SECURITY_PROTOCOL"].startswith("SASL"):
        monkeypatch.setenv("NEXUS_KAFKA_SASL_PASSWORD", "from-the-secret")
    # The TLS files the settings read at load are mounted in the pods from a Secret; what is
    # checked here is that the chart's variables are settings the mesh accepts.
    monkeypatch.setattr("nexus_mesh.kafka.tls.kafka_ssl_context", lambda settings: None)
    from nexus_mesh.settings import load_settings

    settings = load_settings()
    assert settings.topic_prefix == data["NEXUS_TOPIC_PREFIX"]
    assert settings.gateway_port == 8080
    if case.name == "everything":
        assert settings.gateway_allowed_origins == (
            "https://app.example.com",
            "http://localhost:3000",
        )


def test_topics_default_to_replicated_and_to_one_replica_with_dev_kafka() -> None:
    assert config_data(render())["NEXUS_TOPIC_REPLICATION_FACTOR"] == "3"
    assert config_data(render())["NEXUS_TOPIC_MIN_INSYNC_REPLICAS"] == "2"
    dev = config_data(render(scenario("dev")))
    assert dev["NEXUS_TOPIC_REPLICATION_FACTOR"] == "1"
    assert dev["NEXUS_TOPIC_MIN_INSYNC_REPLICAS"] == "1"
    assert dev["NEXUS_KAFKA_BOOTSTRAP_SERVERS"] == (
        f"{RELEASE}-nexus-mesh-kafka.{NAMESPACE}.svc.cluster.local:9092"
    )
    assert dev["OTEL_EXPORTER_OTLP_ENDPOINT"] == f"http://{RELEASE}-nexus-mesh-tracing:4318"


def test_gateways_listen_where_the_cluster_s_addresses_are() -> None:
    assert config_data(render())["NEXUS_GATEWAY_HOST"] == "0.0.0.0"
    dual = config_data(render(set_values=("gateway.listenHost=::",)))
    assert dual["NEXUS_GATEWAY_HOST"] == "::"


def test_unready_gateways_do_not_block_node_drains() -> None:
    """A Kafka outage makes every gateway unready at once; with the default eviction policy
    their budget would then block every node drain."""
    pdb = find(render(), "PodDisruptionBudget")
    assert pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"


def test_a_tls_secret_without_a_ca_leaves_the_system_trust_store() -> None:
    """Mutual TLS against a broker with a publicly signed certificate: the Secret holds the
    client's certificate only, and pointing the client at a CA file that is not there would
    keep every pod waiting for Kafka."""
    data = config_data(render(scenario("kafka-secure"), set_values=("kafka.tls.caKey=",)))
    assert "NEXUS_KAFKA_SSL_CAFILE" not in data
    assert data["NEXUS_KAFKA_SSL_CERTFILE"] == "/etc/nexus/kafka-tls/tls.crt"


def test_secure_kafka_settings_come_from_values_and_secrets() -> None:
    docs = render(scenario("kafka-secure"))
    data = config_data(docs)
    assert data["NEXUS_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert data["NEXUS_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert data["NEXUS_KAFKA_SSL_CAFILE"] == "/etc/nexus/kafka-tls/ca.crt"
    assert data["NEXUS_KAFKA_SSL_CERTFILE"] == "/etc/nexus/kafka-tls/tls.crt"
    assert data["NEXUS_KAFKA_SSL_KEYFILE"] == "/etc/nexus/kafka-tls/tls.key"
    assert data["OTEL_TRACES_SAMPLER_ARG"] == "0.1"
    assert (
        "deployment.environment=production"
        in env_of(gateway_container(docs))["OTEL_RESOURCE_ATTRIBUTES"]
    )
    for doc in find_all(docs, "Deployment") + find_all(docs, "Job"):
        (container,) = pod_spec(doc)["containers"]
        password = env_of(container)["NEXUS_KAFKA_SASL_PASSWORD"]
        assert password == {
            "secretKeyRef": {"name": "nexus-kafka-credentials", "key": "scram-password"}
        }
        mounts = {m["name"]: m for m in container["volumeMounts"]}
        assert mounts["kafka-tls"]["readOnly"] is True
        volumes = {v["name"]: v for v in pod_spec(doc)["volumes"]}
        assert volumes["kafka-tls"]["secret"]["secretName"] == "nexus-kafka-tls"
    assert not find_all(docs, "Secret") or all(
        "kafka" not in s["metadata"]["name"] for s in find_all(docs, "Secret")
    )


def test_a_sasl_password_in_values_goes_into_a_chart_secret() -> None:
    docs = render(scenario("kafka-sasl-chart-secret"))
    secret = find(docs, "Secret", f"{RELEASE}-nexus-mesh-kafka-credentials")
    assert set(secret["data"]) == {"sasl-password"}
    env = env_of(gateway_container(docs))
    assert env["NEXUS_KAFKA_SASL_PASSWORD"]["secretKeyRef"]["name"] == secret["metadata"]["name"]
    assert "not-a-real-password" not in str(config_data(docs))


# -- JWT keys -------------------------------------------------------------------------------------


def test_jwt_secret_is_generated_when_none_is_given() -> None:
    docs = render()
    secret = find(docs, "Secret", f"{RELEASE}-nexus-mesh-jwt")
    assert set(secret["data"]) == {"jwt-secret"}
    ref = env_of(gateway_container(docs))["NEXUS_JWT_SECRET"]["secretKeyRef"]
    assert ref["name"] == secret["metadata"]["name"] and ref["key"] == "jwt-secret"


def test_jwt_keys_from_an_existing_secret() -> None:
    docs = render(scenario("existing-secrets"))
    assert not [s for s in find_all(docs, "Secret") if "jwt" in s["metadata"]["name"]]
    env = env_of(gateway_container(docs))
    assert env["NEXUS_JWT_SECRET"]["secretKeyRef"] == {
        "name": "nexus-jwt",
        "key": "hs-secret",
        "optional": True,
    }
    assert env["NEXUS_JWT_PUBLIC_KEY"]["secretKeyRef"]["name"] == "nexus-jwt"
    spec = pod_spec(gateway_deployment(docs))
    assert spec["serviceAccountName"] == "mesh-runtime"
    assert not find_all(docs, "ServiceAccount")
    assert gateway_container(docs)["image"] == (
        "registry.example.com/nexus-mesh@sha256:"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    )


def test_a_jwt_secret_rotation_keeps_the_previous_secret_accepted() -> None:
    docs = render(set_values=(f"auth.jwt.secret={'n' * 40}", f"auth.jwt.previousSecret={'o' * 40}"))
    secret = find(docs, "Secret", f"{RELEASE}-nexus-mesh-jwt")
    assert set(secret["data"]) == {"jwt-secret", "jwt-previous-secret"}
    ref = env_of(gateway_container(docs))["NEXUS_JWT_PREVIOUS_SECRET"]["secretKeyRef"]
    assert ref == {
        "name": secret["metadata"]["name"],
        "key": "jwt-previous-secret",
        "optional": True,
    }
    # Without a rotation under way there is none; an existing Secret's key is read if present.
    assert "NEXUS_JWT_PREVIOUS_SECRET" not in env_of(gateway_container(render()))
    existing = env_of(gateway_container(render(scenario("existing-secrets"))))
    assert existing["NEXUS_JWT_PREVIOUS_SECRET"]["secretKeyRef"] == {
        "name": "nexus-jwt",
        "key": "jwt-previous-secret",
        "optional": True,
    }


def test_jwt_public_key_and_a_ready_test_token() -> None:
    docs = render(scenario("jwt-public-key"))
    secret = find(docs, "Secret", f"{RELEASE}-nexus-mesh-jwt")
    assert set(secret["data"]) == {"jwt-public-key"}
    env = env_of(gateway_container(docs))
    assert "NEXUS_JWT_SECRET" not in env
    assert env["NEXUS_JWT_PUBLIC_KEY"]["secretKeyRef"]["key"] == "jwt-public-key"
    test_pod = find(docs, "Pod")
    token = env_of(test_pod["spec"]["containers"][0])["NEXUS_TEST_TOKEN"]
    assert token["secretKeyRef"] == {"name": "nexus-helm-test-token", "key": "token"}


def test_the_helm_test_connects_as_the_user_its_ready_token_names() -> None:
    """The gateway refuses a token whose sub is not the user in the path, and a token in
    tests.tokenSecret is made beforehand: the test pod must connect as tests.user, not as a
    user of its own choosing."""

    def user_of(docs: list[dict[str, Any]]) -> str:
        args: list[str] = find(docs, "Pod")["spec"]["containers"][0]["args"]
        assert args.count("--user") == 1
        return args[args.index("--user") + 1]

    assert user_of(render(scenario("jwt-public-key"))) == "helm-test"
    docs = render(scenario("jwt-public-key"), set_values=("tests.user=probe@ops",))
    assert user_of(docs) == "probe@ops"
    # Signing its own token, the test names the same user.
    assert user_of(render()) == "helm-test"


def admin_token_source(docs: list[dict[str, Any]]) -> tuple[str, str]:
    """The (Secret, key) the gateway's admin token file is mounted from."""
    container = gateway_container(docs)
    path = env_of(container)["NEXUS_GATEWAY_ADMIN_TOKEN_FILE"]
    (mount,) = [m for m in container["volumeMounts"] if path.startswith(m["mountPath"] + "/")]
    assert mount["readOnly"] is True
    (volume,) = [
        v for v in pod_spec(gateway_deployment(docs))["volumes"] if v["name"] == mount["name"]
    ]
    (item,) = volume["secret"]["items"]
    assert path == f"{mount['mountPath']}/{item['path']}"
    return volume["secret"]["secretName"], item["key"]


def test_the_drain_token_is_generated_into_a_secret_the_gateways_read() -> None:
    """Mounted as a file the gateway reads at each drain: a regenerated Secret (a render by
    Argo CD, a rotation) is taken without restarting the pods."""
    docs = render()
    secret = find(docs, "Secret", f"{RELEASE}-nexus-mesh-admin")
    token = base64.b64decode(secret["data"]["admin-token"]).decode()
    assert len(token) >= 32
    assert admin_token_source(docs) == (secret["metadata"]["name"], "admin-token")
    assert "NEXUS_GATEWAY_ADMIN_TOKEN" not in env_of(gateway_container(docs))
    assert token not in str(config_data(docs))
    # The same Secret the operator Role may read, by name (nexus drain finds it from the pod).
    docs = render(scenario("existing-secrets"))
    assert not [s for s in find_all(docs, "Secret") if s["metadata"]["name"].endswith("admin")]
    assert admin_token_source(docs) == ("nexus-admin", "drain-token")


def test_no_jwt_secret_without_auth() -> None:
    docs = render(scenario("dev"))
    assert not [s for s in find_all(docs, "Secret") if "jwt" in s["metadata"]["name"]]
    assert "NEXUS_JWT_SECRET" not in env_of(gateway_container(docs))
    assert config_data(docs)["NEXUS_AUTH"] == "none"


# -- service, ingress and campaign hashing ------------------------------------------------------


def test_the_service_exposes_the_gateway_port_only() -> None:
    docs = render(scenario("everything"))
    service = find(docs, "Service", f"{RELEASE}-nexus-mesh-gateway")
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}
    ]
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "gateway"


def _nginx_regex_to_python(path: str) -> re.Pattern[str]:
    # ingress-nginx turns a use-regex path into `location ~* "^<path>"` (PCRE, case-insensitive);
    # Python spells a named group (?P<name>...).
    return re.compile("^" + path.replace("(?<", "(?P<"), re.IGNORECASE)


def test_ingress_hashes_on_the_campaign_segment_of_the_path() -> None:
    ingress = find(render(scenario("ingress")), "Ingress")
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/use-regex"] == "true"
    hash_by = annotations["nginx.ingress.kubernetes.io/upstream-hash-by"]
    assert hash_by == "$nexus_campaign"
    assert annotations["nginx.ingress.kubernetes.io/upstream-hash-by-subset"] == "true"
    assert annotations["nginx.ingress.kubernetes.io/upstream-hash-by-subset-size"] == "2"
    heartbeat = values()["gateway"]["config"]["heartbeatSeconds"]
    for key in ("proxy-read-timeout", "proxy-send-timeout"):
        assert int(annotations[f"nginx.ingress.kubernetes.io/{key}"]) > 2 * heartbeat
    assert not any("snippet" in key for key in annotations)  # snippets are off by default

    (rule, *_) = ingress["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    assert path["pathType"] == "ImplementationSpecific"
    location = _nginx_regex_to_python(path["path"])
    variable = hash_by.removeprefix("$")

    def key(uri: str) -> str | None:
        match = location.match(uri)
        return match.group(variable) if match else None

    # Every client of one campaign hashes alike, whoever the user and whatever the query.
    assert key("/ws/campaign-7/alice") == "campaign-7"
    assert key("/ws/campaign-7/bob?since=v1.2.3&token=x") == "campaign-7"
    assert key("/ws/other/alice") == "other"
    assert key("/healthz") is None and key("/ws/") is None


def test_ingress_without_hashing_is_a_plain_prefix() -> None:
    ingress = find(render(scenario("ingress-prefix")), "Ingress")
    assert "nginx.ingress.kubernetes.io/upstream-hash-by" not in ingress["metadata"]["annotations"]
    (rule,) = ingress["spec"]["rules"]
    assert "host" not in rule
    assert rule["http"]["paths"][0]["path"] == "/ws/"
    assert rule["http"]["paths"][0]["pathType"] == "Prefix"
    assert ingress["spec"]["ingressClassName"] == "traefik"


def test_autoscaling_replaces_the_replica_count_and_scales_down_slowly() -> None:
    docs = render(scenario("autoscaling"))
    assert "replicas" not in gateway_deployment(docs)["spec"]
    hpa = find(docs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == gateway_deployment(docs)["metadata"]["name"]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 20)
    metrics = {
        m["resource"]["name"]: m["resource"]["target"]["averageUtilization"]
        for m in hpa["spec"]["metrics"]
    }
    assert metrics == {"cpu": 60, "memory": 75}
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 300
    pdb = find(docs, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == "50%" and "maxUnavailable" not in pdb["spec"]
    spread = pod_spec(gateway_deployment(docs))["topologySpreadConstraints"]
    assert [c["topologyKey"] for c in spread] == [
        "topology.kubernetes.io/zone",
        "kubernetes.io/hostname",
    ]
    for constraint in spread:
        assert (
            constraint["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == "gateway"
        )


# -- network policy, monitoring, RBAC -----------------------------------------------------------


def test_network_policy_opens_the_admin_port_only_to_monitoring() -> None:
    docs = render(scenario("networkpolicy"))
    policy = find(docs, "NetworkPolicy", f"{RELEASE}-nexus-mesh-gateway")
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    http_rule, admin_rule = policy["spec"]["ingress"]
    assert http_rule["ports"] == [{"port": "http", "protocol": "TCP"}]
    peers = http_rule["from"]
    assert peers[0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "ingress-nginx"
    }
    assert peers[-1]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "test"
    assert admin_rule["ports"] == [{"port": "admin", "protocol": "TCP"}]
    (namespaces, api_servers) = admin_rule["from"]
    expression = namespaces["namespaceSelector"]["matchExpressions"][0]
    assert expression == {
        "key": "kubernetes.io/metadata.name",
        "operator": "In",
        "values": ["monitoring"],
    }
    assert api_servers == {"ipBlock": {"cidr": "10.0.0.0/24"}}
    search = find(docs, "NetworkPolicy", f"{RELEASE}-nexus-mesh-search")
    (metrics_rule,) = search["spec"]["ingress"]
    assert metrics_rule["ports"] == [{"port": "metrics", "protocol": "TCP"}]
    assert metrics_rule["from"] == [namespaces]
    without_monitoring = render(set_values=("networkPolicy.enabled=true",))
    search = find(without_monitoring, "NetworkPolicy", f"{RELEASE}-nexus-mesh-search")
    assert search["spec"]["ingress"] == []  # the search service serves nothing else


def test_network_policy_default_allows_the_gateway_port_from_anywhere_and_admin_from_none() -> None:
    docs = render(scenario("everything"))
    policy = find(docs, "NetworkPolicy", f"{RELEASE}-nexus-mesh-gateway")
    http_rule, admin_rule = policy["spec"]["ingress"]
    assert "from" not in http_rule
    # Only the monitoring namespace reaches the admin port (an empty list would admit all).
    assert admin_rule["from"] == [
        {
            "namespaceSelector": {
                "matchExpressions": [
                    {
                        "key": "kubernetes.io/metadata.name",
                        "operator": "In",
                        "values": ["monitoring"],
                    }
                ]
            }
        }
    ]
    kafka = find(docs, "NetworkPolicy", f"{RELEASE}-nexus-mesh-kafka")
    assert kafka["spec"]["ingress"][0]["from"] == [
        {
            "podSelector": {
                "matchLabels": {
                    "app.kubernetes.io/name": "nexus-mesh",
                    "app.kubernetes.io/instance": RELEASE,
                }
            }
        }
    ]


def test_service_monitors_scrape_admin_and_metrics_ports_through_headless_services() -> None:
    docs = render(scenario("servicemonitor"))
    monitor = find(docs, "ServiceMonitor", f"{RELEASE}-nexus-mesh-gateway")
    assert monitor["metadata"]["namespace"] == "monitoring"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint == {
        "port": "admin",
        "path": "/metrics",
        "interval": "15s",
        "scrapeTimeout": "5s",
    }
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    admin = find(docs, "Service", f"{RELEASE}-nexus-mesh-gateway-admin")
    assert admin["spec"]["clusterIP"] == "None"
    assert admin["spec"]["ports"][0]["name"] == "admin"
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= admin["metadata"]["labels"].items()
    main = find(docs, "Service", f"{RELEASE}-nexus-mesh-gateway")
    assert not selector.items() <= main["metadata"]["labels"].items()

    search_monitor = find(docs, "ServiceMonitor", f"{RELEASE}-nexus-mesh-search")
    assert search_monitor["spec"]["endpoints"][0]["port"] == "metrics"
    # The services' metrics carry a `service` label of their own (search), which the
    # target's `service` label would rename to exported_service.
    assert search_monitor["spec"]["endpoints"][0]["honorLabels"] is True
    metrics = find(docs, "Service", f"{RELEASE}-nexus-mesh-search-metrics")
    assert metrics["spec"]["clusterIP"] == "None"
    assert search_monitor["spec"]["selector"]["matchLabels"].items() <= (
        metrics["metadata"]["labels"].items()
    )
    search = find(docs, "Deployment", f"{RELEASE}-nexus-mesh-search")
    (container,) = pod_spec(search)["containers"]
    assert container["ports"] == [{"name": "metrics", "containerPort": 9464, "protocol": "TCP"}]
    assert env_of(container)["NEXUS_SERVICE_METRICS_PORT"] == "9464"
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    # Ready once its group is joined: a rollout waits for the new pod to consume.
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}


def test_the_release_needs_no_rbac_and_operators_get_a_minimal_role() -> None:
    assert not [d for d in render() if d["kind"] in ("Role", "ClusterRole", "RoleBinding")]
    docs = render(scenario("existing-secrets"))
    role = find(docs, "Role")
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
        {"apiGroups": [""], "resources": ["pods/proxy"], "verbs": ["get", "create"]},
        {
            "apiGroups": [""],
            "resources": ["secrets"],
            "resourceNames": ["nexus-admin"],
            "verbs": ["get"],
        },
    ]
    binding = find(docs, "RoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "Group", "name": "mesh-operators", "apiGroup": "rbac.authorization.k8s.io"}
    ]
    assert not find_all(docs, "ClusterRole")
    from nexus_mesh.operator.kube import OPERATOR_PERMISSIONS

    assert OPERATOR_PERMISSIONS == (
        "get/list pods, get/create pods/proxy and (for drain) get on the gateways' "
        "admin-token secret"
    )


def test_viewers_get_a_status_only_role() -> None:
    """``nexus status`` needs no POST through the pod proxy and no drain token: those who
    should only look get a Role without either."""
    viewers = {"kind": "Group", "name": "viewers", "apiGroup": "rbac.authorization.k8s.io"}
    docs = render(
        set_values=(
            # Without the full Role: viewers are not given what they were not asked for.
            "operatorRbac.create=false",
            f"operatorRbac.statusSubjects[0].kind={viewers['kind']}",
            f"operatorRbac.statusSubjects[0].name={viewers['name']}",
            f"operatorRbac.statusSubjects[0].apiGroup={viewers['apiGroup']}",
        )
    )
    status = find(docs, "Role", f"{RELEASE}-nexus-mesh-operator-status")
    assert status["rules"] == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
        {"apiGroups": [""], "resources": ["pods/proxy"], "verbs": ["get"]},
    ]
    binding = find(docs, "RoleBinding", f"{RELEASE}-nexus-mesh-operator-status")
    assert binding["roleRef"]["name"] == status["metadata"]["name"]
    assert binding["subjects"] == [viewers]
    assert [d["metadata"]["name"] for d in find_all(docs, "Role")] == [
        status["metadata"]["name"]
    ], "the full Role was not asked for"


def test_service_account_mounts_no_token() -> None:
    sa = find(render(), "ServiceAccount")
    assert sa["automountServiceAccountToken"] is False


# -- hooks, helm test, development components ---------------------------------------------------


def test_topics_job_is_a_hook_running_nexus_topics_ensure() -> None:
    docs = render()
    job = find(docs, "Job")
    annotations = job["metadata"]["annotations"]
    # Before the release's objects, so that `helm install --wait` does not wait for gateways
    # that wait for their topics (tests/unit/charts/test_chart_guards.py has the other cases).
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    (container,) = pod_spec(job)["containers"]
    assert container["args"] == ["topics", "ensure"]
    assert pod_spec(job)["restartPolicy"] == "Never"
    env = env_of(container)
    for key in ("NEXUS_KAFKA_BOOTSTRAP_SERVERS", "NEXUS_TOPIC_PREFIX", "NEXUS_CLIENTS_PARTITIONS"):
        assert env[key] == config_data(docs)[key]
    assert not any(k.startswith(("NEXUS_GATEWAY_", "NEXUS_JWT")) for k in env)
    secure = find(render(scenario("kafka-secure")), "Job")
    assert secure["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"


def test_the_topics_job_can_be_placed_and_given_extra_env() -> None:
    """On a cluster whose nodes are all tainted, a pre-install Job without tolerations never
    starts and `helm install` waits out its timeout."""
    job = find(
        render(
            set_values=(
                "topicsJob.nodeSelector.pool=system",
                "topicsJob.tolerations[0].key=dedicated",
                "topicsJob.tolerations[0].operator=Exists",
                "topicsJob.tolerations[0].effect=NoSchedule",
                "topicsJob.extraEnv[0].name=NEXUS_LOG_LEVEL",
                "topicsJob.extraEnv[0].value=DEBUG",
            )
        ),
        "Job",
    )
    spec = pod_spec(job)
    assert spec["nodeSelector"] == {"pool": "system"}
    assert spec["tolerations"] == [
        {"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}
    ]
    (container,) = spec["containers"]
    assert env_of(container)["NEXUS_LOG_LEVEL"] == "DEBUG"
    plain = pod_spec(find(render(), "Job"))
    assert "nodeSelector" not in plain and "tolerations" not in plain and "affinity" not in plain


def test_helm_test_pod_runs_the_websocket_round_trip_against_the_service() -> None:
    docs = render()
    pod = find(docs, "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    (container,) = pod["spec"]["containers"]
    assert container["command"] == ["python", "-m", "nexus_mesh.operator.roundtrip"]
    args = container["args"]
    service = find(docs, "Service", f"{RELEASE}-nexus-mesh-gateway")
    assert args[args.index("--url") + 1] == (
        f"http://{service['metadata']['name']}.{NAMESPACE}.svc.cluster.local:8080"
    )
    assert "--search" in args
    assert (
        env_of(container)["NEXUS_JWT_SECRET"]["secretKeyRef"]["name"] == f"{RELEASE}-nexus-mesh-jwt"
    )
    import importlib

    assert importlib.util.find_spec("nexus_mesh.operator.roundtrip") is not None
    # Kept after success: `helm test --logs` reads its logs after the pod finished.
    assert pod["metadata"]["annotations"]["helm.sh/hook-delete-policy"] == "before-hook-creation"


def test_helm_test_pod_can_be_placed_on_tainted_nodes_and_kept_out_of_a_sidecar_mesh() -> None:
    """On a cluster where every node is tainted, or where a sidecar would keep the pod
    running after its container ended, `helm test` would otherwise hang."""
    pod = find(
        render(
            set_values=(
                "tests.nodeSelector.pool=system",
                "tests.tolerations[0].key=dedicated",
                "tests.tolerations[0].operator=Exists",
                "tests.podAnnotations.linkerd\\.io/inject=disabled",
            )
        ),
        "Pod",
    )
    assert pod["spec"]["nodeSelector"] == {"pool": "system"}
    assert pod["spec"]["tolerations"] == [{"key": "dedicated", "operator": "Exists"}]
    assert pod["metadata"]["annotations"]["linkerd.io/inject"] == "disabled"
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    plain = find(render(), "Pod")["spec"]
    assert "nodeSelector" not in plain and "tolerations" not in plain and "affinity" not in plain


def test_dev_kafka_is_single_node_kraft_from_the_official_image() -> None:
    docs = render(scenario("dev"))
    kafka = find(docs, "Deployment", f"{RELEASE}-nexus-mesh-kafka")
    (container,) = pod_spec(kafka)["containers"]
    assert container["image"].startswith("apache/kafka:")
    properties = find(docs, "ConfigMap", f"{RELEASE}-nexus-mesh-kafka")["data"]["server.properties"]
    settings = dict(line.split("=", 1) for line in properties.splitlines() if line)
    assert settings["process.roles"] == "broker,controller"
    assert settings["advertised.listeners"] == (
        f"PLAINTEXT://{config_data(docs)['NEXUS_KAFKA_BOOTSTRAP_SERVERS']}"
    )
    assert settings["auto.create.topics.enable"] == "false"  # topics come from the Job only
    tracing = find(docs, "Deployment", f"{RELEASE}-nexus-mesh-tracing")
    assert pod_spec(tracing)["containers"][0]["image"].startswith("jaegertracing/jaeger:")
    assert find(docs, "Job")["metadata"]["annotations"]["helm.sh/hook"] == (
        "post-install,post-upgrade"
    )


def test_search_service_deployment() -> None:
    docs = render()
    search = find(docs, "Deployment", f"{RELEASE}-nexus-mesh-search")
    (container,) = pod_spec(search)["containers"]
    assert container["args"] == ["service", "search"]
    assert env_of(container)["OTEL_SERVICE_NAME"] == "nexus-search"
    assert "NEXUS_JWT_SECRET" not in env_of(container)
    assert env_of(container)["NEXUS_SERVICE_METRICS_HOST"] == "0.0.0.0"
    ipv6 = find(
        render(set_values=("search.listenHost=::",)), "Deployment", search["metadata"]["name"]
    )
    assert env_of(pod_spec(ipv6)["containers"][0])["NEXUS_SERVICE_METRICS_HOST"] == "::"
    assert not any(
        d["kind"] == "Deployment" and "search" in d["metadata"]["name"]
        for d in render(set_values=("search.enabled=false",))
    )


def test_a_service_of_your_own_is_deployed_like_search() -> None:
    """``services.<name>`` renders what search has: a Deployment running its args, its
    metrics Service and ServiceMonitor, a NetworkPolicy and an alert when it cannot be
    scraped; defaults as search's."""
    docs = render(
        set_values=(
            "services.recommend.args={service,recommend:service}",
            "services.recommend.replicaCount=2",
            "serviceMonitor.enabled=true",
            "prometheusRule.enabled=true",
            "networkPolicy.enabled=true",
        )
    )
    name = f"{RELEASE}-nexus-mesh-recommend"
    deployment = find(docs, "Deployment", name)
    assert deployment["spec"]["replicas"] == 2
    (container,) = pod_spec(deployment)["containers"]
    assert container["args"] == ["service", "recommend:service"]
    env = env_of(container)
    assert env["OTEL_SERVICE_NAME"] == "nexus-recommend"
    assert env["NEXUS_SERVICE_METRICS_PORT"] == "9464"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    search = pod_spec(find(docs, "Deployment", f"{RELEASE}-nexus-mesh-search"))["containers"][0]
    assert container["resources"] == search["resources"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector["app.kubernetes.io/component"] == "recommend"
    metrics = find(docs, "Service", f"{name}-metrics")
    assert metrics["spec"]["selector"] == selector
    assert find(docs, "ServiceMonitor", name)["spec"]["endpoints"][0]["port"] == "metrics"
    assert find(docs, "NetworkPolicy", name)["spec"]["podSelector"]["matchLabels"] == selector
    rules = [r for g in find(docs, "PrometheusRule")["spec"]["groups"] for r in g["rules"]]
    down = [r for r in rules if r.get("alert") == "NexusServiceDown"]
    assert [r["expr"] for r in down] == [
        f'up{{namespace="{NAMESPACE}", job="{name}-metrics"}} == 0'
    ]
    # Search's objects keep their names.
    find(docs, "Service", f"{RELEASE}-nexus-mesh-search-metrics")
    assert any(r.get("alert") == "NexusSearchServiceDown" for r in rules)


def test_a_service_of_your_own_takes_its_resources_as_given() -> None:
    docs = render(
        set_values=(
            "services.recommend.args={service,recommend:service}",
            "services.recommend.resources.requests.memory=1Gi",
        )
    )
    deployment = find(docs, "Deployment", f"{RELEASE}-nexus-mesh-recommend")
    # Not merged into search's: its 512Mi limit under a 1Gi request would never schedule.
    assert pod_spec(deployment)["containers"][0]["resources"] == {"requests": {"memory": "1Gi"}}


@pytest.mark.parametrize(
    ("setting", "error"),
    [
        ("services.gateway.args={service,x:service}", "services.gateway: the name is the chart"),
        ("services.search.args={service,x:service}", "services.search: the name is the chart"),
        ("services.recommend.replicaCount=1", "missing property 'args'"),
        ("services.Recommend.args={x}", "does not match pattern"),
    ],
)
def test_a_service_of_your_own_needs_a_name_and_args_of_its_own(setting: str, error: str) -> None:
    assert error in render_fails(set_values=(setting,))


# -- NOTES.txt ------------------------------------------------------------------------------------


def test_notes_tell_how_to_connect_authenticate_and_operate(tmp_path: Path) -> None:
    notes = render_notes(tmp_path)
    assert f"port-forward service/{RELEASE}-nexus-mesh-gateway 8080:8080" in notes
    assert f"get secret {RELEASE}-nexus-mesh-jwt" in notes
    assert f"nexus status --namespace {NAMESPACE} --release {RELEASE}" in notes
    assert "\n\nOperate the gateways" in notes, "a blank line after the token section"
    assert f"helm test {RELEASE}" in notes
    assert 'kafka.bootstrapServers is the placeholder "kafka:9092"' in notes

    dev = render_notes(
        tmp_path / "dev",
        "-f",
        str(CHART / "ci" / "everything-values.yaml"),
        "--set",
        "auth.mode=none",
    )
    assert "wss://" not in dev and "ws://mesh.example.com/ws/{campaign}/{user}" in dev
    assert "WARNING: auth.mode=none" in dev
    assert f"Role {RELEASE}-nexus-mesh-operator" in dev
    assert "DEVELOPMENT: Kafka runs in the release" in dev


@pytest.mark.parametrize("case", SCENARIOS, ids=SCENARIO_IDS)
def test_every_nexus_variable_a_container_gets_is_a_real_setting(case: Scenario) -> None:
    from nexus_mesh.operator.roundtrip import TOKEN_ENV

    for doc in render(case):
        if doc["kind"] not in WORKLOAD_KINDS:
            continue
        for container in pod_spec(doc)["containers"]:
            for name in env_of(container):
                if name.startswith("NEXUS_") and name != TOKEN_ENV:
                    field = name.removeprefix("NEXUS_").lower()
                    assert field in NexusSettings.model_fields, (doc["metadata"]["name"], name)


# Values this chart added since its first release (0.1.0): `helm upgrade --reuse-values`
# from a release of that chart brings its values, without these.
ADDED_SINCE_FIRST_RELEASE = (
    ("gateway", "adminToken"),
    ("gateway", "config", "allowedOrigins"),
    ("auth", "queryToken"),
    ("auth", "jwt", "previousSecret"),
    ("auth", "jwt", "previousSecretKey"),
    ("gateway", "config", "idempotencyPerUser"),
    ("services",),
    ("gateway", "config", "maxDeliveryBytes"),
    ("tests", "user"),
)


def test_an_upgrade_reusing_the_first_release_s_values_renders_a_working_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chart = tmp_path / "nexus-mesh"
    shutil.copytree(CHART, chart)
    first_release = yaml.safe_load((chart / "values.yaml").read_text())
    for path in ADDED_SINCE_FIRST_RELEASE:
        *parents, leaf = path
        node = first_release
        for key in parents:
            node = node[key]
        del node[leaf]
    (chart / "values.yaml").write_text(yaml.safe_dump(first_release))
    rendered = run_helm("template", RELEASE, str(chart), "--namespace", NAMESPACE)
    assert rendered.returncode == 0, rendered.stderr
    docs = [doc for doc in yaml.safe_load_all(rendered.stdout) if doc]
    data = config_data(docs)
    for name in list(NexusSettings.model_fields):
        monkeypatch.delenv(f"NEXUS_{name.upper()}", raising=False)
    for key, value in data.items():
        monkeypatch.setenv(key, value)
    from nexus_mesh.settings import load_settings

    settings = load_settings()
    assert settings.auth_query_token is True
    assert settings.gateway_allowed_origins == ()
    assert admin_token_source(docs) == (f"{RELEASE}-nexus-mesh-admin", "admin-token")
    assert settings.gateway_idempotency_per_user == 0  # derived from the rate limit
    assert settings.gateway_max_delivery_bytes == 4 * 1024 * 1024
    find(docs, "Deployment", f"{RELEASE}-nexus-mesh-search")
    args = find(docs, "Pod")["spec"]["containers"][0]["args"]
    assert args[args.index("--user") + 1] == "helm-test"
