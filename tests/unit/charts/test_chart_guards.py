"""charts/nexus-mesh: values that render but would fail on a real cluster are refused at render
time, and the install works with the way people actually install (``--wait``, GitOps).

No cluster runs here (see helm_chart.py): the Helm behaviour each test relies on is stated in
its docstring, and the gateway checks the chart mirrors are the gateway's own (nexus_gateway).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from helm_chart import (
    CHART,
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

from nexus_mesh.kafka.connection import CLIENT_STOP_TIMEOUT_S
from nexus_mesh.service import runner
from nexus_mesh.service.config import ServiceConfig

HOOK = "helm.sh/hook"
KAFKA_SECURE = Scenario("kafka-secure", (CHART / "ci" / "kafka-secure-values.yaml",))


def _job(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return find(docs, "Job", f"{RELEASE}-nexus-mesh-topics")


def _release_objects(docs: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(kind, name) of what Helm creates as the release proper, after pre-install hooks."""
    return {
        (d["kind"], d["metadata"]["name"])
        for d in docs
        if HOOK not in d["metadata"].get("annotations", {})
    }


def _references(spec: dict[str, Any]) -> set[tuple[str, str]]:
    """(kind, name) of every object a pod spec needs to exist before its pod can start."""
    found: set[tuple[str, str]] = set()
    if "serviceAccountName" in spec:
        found.add(("ServiceAccount", spec["serviceAccountName"]))
    for volume in spec.get("volumes", []):
        if "secret" in volume:
            found.add(("Secret", volume["secret"]["secretName"]))
        if "configMap" in volume:
            found.add(("ConfigMap", volume["configMap"]["name"]))
    for container in spec["containers"]:
        for source in container.get("envFrom", []):
            for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                if key in source:
                    found.add((kind, source[key]["name"]))
        for value in env_of(container).values():
            if isinstance(value, dict):
                for kind, key in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                    if key in value:
                        found.add((kind, value[key]["name"]))
    return found


# -- the topic Job and `helm install --wait` ------------------------------------------------------


@pytest.mark.parametrize(
    "set_values",
    [(), ("kafka.securityProtocol=SSL", "kafka.tls.existingSecret=kafka-ca")],
    ids=["default", "external-tls"],
)
def test_topics_exist_before_the_gateways_so_install_wait_finishes(
    set_values: tuple[str, ...],
) -> None:
    """With ``--wait`` (and ``--atomic``, Flux, Argo CD) Helm runs post-install hooks only once
    every Deployment is ready, and a gateway is not ready until its topics exist: a post-install
    topic Job would never run. So the Job is a pre-install hook, and a pre-install pod may only
    reference objects that exist before the release (Helm creates the release's own after the
    pre-install hooks): not the chart's ServiceAccount, ConfigMap or Secrets."""
    docs = render(set_values=set_values)
    job = _job(docs)
    assert job["metadata"]["annotations"][HOOK] == "pre-install,pre-upgrade"
    missing = _references(pod_spec(job)) & _release_objects(docs)
    assert not missing, f"the pre-install Job needs objects made after it: {missing}"
    assert pod_spec(job)["automountServiceAccountToken"] is False


def test_a_kafka_or_secret_the_release_makes_moves_the_job_after_it() -> None:
    dev = _job(render(set_values=("devKafka.enabled=true",)))
    assert dev["metadata"]["annotations"][HOOK] == "post-install,post-upgrade"
    sasl = _job(
        render(
            set_values=(
                "kafka.securityProtocol=SASL_PLAINTEXT",
                "kafka.sasl.mechanism=PLAIN",
                "kafka.sasl.username=mesh",
                "kafka.sasl.password=not-a-real-password",
            )
        )
    )
    assert sasl["metadata"]["annotations"][HOOK] == "post-install,post-upgrade"
    chosen = _job(render(set_values=("topicsJob.hooks={post-install}",)))
    assert chosen["metadata"]["annotations"][HOOK] == "post-install"


def test_a_pre_hook_job_runs_as_the_release_s_account_only_once_it_exists() -> None:
    """A pre-install or pre-upgrade hook runs before the release's objects: on a first
    install the chart's ServiceAccount is not there yet, nor on the upgrade that retries a
    failed install (Helm upgrades a release whose install failed), where naming it would
    leave the Job's pod refused and the hook hanging until `helm uninstall`. The chart looks
    the account up; `helm template` has no cluster to look in (as on that retry), so the
    branch where the account exists (a live API server's answer) is not exercised here.
    A post-install hook runs after the account is made and always uses it."""
    for flags in ((), ("--is-upgrade",)):
        assert "serviceAccountName" not in pod_spec(_job(render(flags=flags)))
    post = _job(render(set_values=("topicsJob.hooks={post-install,post-upgrade}",)))
    assert pod_spec(post)["serviceAccountName"] == f"{RELEASE}-nexus-mesh"


def test_an_existing_service_account_is_used_by_the_pre_install_job() -> None:
    docs = render(set_values=("serviceAccount.create=false", "serviceAccount.name=mesh-runner"))
    assert pod_spec(_job(docs))["serviceAccountName"] == "mesh-runner"


# -- secrets in pod annotations -------------------------------------------------------------------


def _secrets_annotation(*set_values: str) -> str:
    deployment = gateway_deployment(render(set_values=set_values))
    return str(deployment["spec"]["template"]["metadata"]["annotations"]["checksum/secrets"])


def test_changing_a_secret_rolls_the_pods_without_exposing_a_fast_hash_of_it() -> None:
    """Whoever may list pods reads their annotations; a SHA-256 of the values would let them
    test password guesses at billions per second. The fingerprint is scrypt-derived."""
    secret = "s" * 40
    first = _secrets_annotation(f"auth.jwt.secret={secret}")
    assert first == _secrets_annotation(f"auth.jwt.secret={secret}"), "stable across renders"
    assert first != _secrets_annotation(f"auth.jwt.secret={'t' * 40}"), "a new secret rolls"
    assert not re.fullmatch(r"[0-9a-f]{32,128}", first)
    assert secret not in first
    assert hashlib.sha256(secret.encode()).hexdigest() not in first


# -- settings the gateway would refuse at start ---------------------------------------------------


PEM = (
    "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAtest\n"
    "-----END PUBLIC KEY-----\n"
)


@pytest.mark.parametrize(
    ("set_values", "message"),
    [
        (
            ("auth.algorithms={RS256}",),
            "auth.algorithms has RS256, which needs auth.jwt.publicKey",
        ),
        (
            ("auth.algorithms={HS512}", f"auth.jwt.secret={'x' * 40}"),
            "auth.jwt.secret is 40 bytes; HS512 needs at least 64",
        ),
        (
            ("auth.algorithms={HS384}", f"auth.jwt.secret={'x' * 40}"),
            "auth.jwt.secret is 40 bytes; HS384 needs at least 48",
        ),
        (
            (f"auth.jwt.publicKey={PEM}", "tests.enabled=false"),
            "auth.algorithms has HS256, which needs auth.jwt.secret",
        ),
        (
            (
                "auth.algorithms={HS512}",
                f"auth.jwt.secret={'x' * 64}",
                f"auth.jwt.previousSecret={'y' * 40}",
            ),
            "auth.jwt.previousSecret is 40 bytes; HS512 needs at least 64",
        ),
        (
            ("auth.jwt.existingSecret=nexus-jwt", f"auth.jwt.previousSecret={'y' * 40}"),
            "put the previous secret in that Secret's jwt-previous-secret key instead",
        ),
        (
            (
                "auth.algorithms={RS256}",
                f"auth.jwt.publicKey={PEM}",
                f"auth.jwt.previousSecret={'y' * 40}",
                "tests.enabled=false",
            ),
            "auth.algorithms lists no HS* algorithm",
        ),
        (("otel.tracesSamplerArg=2",), "tracesSamplerArg"),
        (("otel.tracesSamplerArg=1.5",), "tracesSamplerArg"),
        (
            ("kafka.tls.existingSecret=kafka-ca",),
            "kafka.tls.existingSecret is used only with kafka.securityProtocol SSL or SASL_SSL",
        ),
        (
            (
                "ingress.enabled=true",
                "ingress.timeoutSeconds=60",
                "gateway.config.heartbeatSeconds=60",
            ),
            "gateway.config.heartbeatSeconds (60) must be less than ingress.timeoutSeconds (60)",
        ),
        (
            ("serviceMonitor.enabled=true", "serviceMonitor.interval=5s"),
            "serviceMonitor.scrapeTimeout (10s) must not exceed serviceMonitor.interval (5s)",
        ),
        (
            (
                "serviceMonitor.enabled=true",
                "serviceMonitor.interval=1m",
                "serviceMonitor.scrapeTimeout=1m500ms",
            ),
            "must not exceed serviceMonitor.interval (1m)",
        ),
    ],
    ids=[
        "rs256-without-key",
        "hs512-short",
        "hs384-short",
        "hs256-with-only-a-public-key",
        "previous-secret-short",
        "previous-secret-beside-an-existing-secret",
        "previous-secret-without-hs",
        "sampler-ratio-2",
        "sampler-ratio-1.5",
        "tls-files-without-tls",
        "proxy-times-out-before-heartbeats",
        "scrape-timeout-over-interval",
        "scrape-timeout-over-interval-mixed-units",
    ],
)
def test_settings_the_pods_would_crash_on_are_refused(
    set_values: tuple[str, ...], message: str
) -> None:
    assert message in render_fails(set_values=set_values)


@pytest.mark.parametrize(
    ("interval", "timeout"), [("30s", "10s"), ("1m", "59s500ms"), ("1h", "1h"), ("2m", "90s")]
)
def test_a_scrape_timeout_within_its_interval_renders(interval: str, timeout: str) -> None:
    render(
        set_values=(
            "serviceMonitor.enabled=true",
            f"serviceMonitor.interval={interval}",
            f"serviceMonitor.scrapeTimeout={timeout}",
        )
    )


def test_matching_keys_and_ratios_render() -> None:
    render(set_values=("auth.algorithms={HS384}", f"auth.jwt.secret={'x' * 48}"))
    render(set_values=("auth.algorithms={HS512}",))  # the generated secret has 64 bytes
    render(set_values=("otel.tracesSamplerArg=0.25",))
    render(set_values=("otel.tracesSamplerArg=1",))


# -- disruption budgets ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "set_values",
    [
        ("gateway.replicaCount=1", "gateway.pdb.minAvailable=1"),
        ("gateway.pdb.minAvailable=2",),
        ("gateway.replicaCount=1", "gateway.pdb.minAvailable=50%"),
        ("gateway.pdb.maxUnavailable=0",),
        (
            "gateway.autoscaling.enabled=true",
            "gateway.autoscaling.minReplicas=2",
            "gateway.pdb.minAvailable=100%",
        ),
    ],
    ids=["one-of-one", "two-of-two", "half-of-one", "none-unavailable", "all-of-min"],
)
def test_a_budget_that_blocks_every_node_drain_is_refused(set_values: tuple[str, ...]) -> None:
    """Such a PodDisruptionBudget allows zero disruptions: `kubectl drain` waits forever."""
    error = render_fails(set_values=set_values)
    assert "node drains would hang" in error


def test_a_budget_that_leaves_room_renders() -> None:
    for set_values in (
        ("gateway.pdb.minAvailable=1",),
        ("gateway.pdb.minAvailable=50%",),
        ("gateway.autoscaling.enabled=true", "gateway.autoscaling.minReplicas=3"),
    ):
        docs = render(set_values=set_values)
        assert find(docs, "PodDisruptionBudget")


# -- other values that gave objects the API server rejects -----------------------------------------


def test_recreate_strategy_drops_the_rolling_update_block() -> None:
    """The API server rejects rollingUpdate with type Recreate ("Forbidden")."""
    docs = render(set_values=("gateway.strategy.type=Recreate",))
    strategy = gateway_deployment(docs)["spec"]["strategy"]
    assert strategy == {"type": "Recreate"}


def _rolling_update(surge: str, unavailable: str) -> tuple[str, ...]:
    return (
        f"gateway.strategy.rollingUpdate.maxSurge={surge}",
        f"gateway.strategy.rollingUpdate.maxUnavailable={unavailable}",
    )


@pytest.mark.parametrize(
    ("surge", "unavailable"), [("0", "0"), ("0%", "0%"), ("0", "0%"), ("0%", "0"), ("00%", "0")]
)
def test_a_rolling_update_that_can_neither_add_nor_remove_a_gateway_is_refused(
    surge: str, unavailable: str
) -> None:
    """The API server rejects a RollingUpdate Deployment whose maxUnavailable is 0 while
    maxSurge is 0 too ("may not be 0 when `maxSurge` is 0"); it reads "0%" as 0."""
    error = render_fails(set_values=_rolling_update(surge, unavailable))
    assert (
        f"gateway.strategy.rollingUpdate.maxSurge ({surge}) and maxUnavailable ({unavailable}) "
        "are both 0: the API server rejects such a Deployment"
    ) in error
    assert "set gateway.strategy.rollingUpdate.maxSurge to 1" in error


@pytest.mark.parametrize(("surge", "unavailable"), [("0", "1"), ("0%", "25%"), ("1", "0")])
def test_a_rolling_update_that_can_move_renders(surge: str, unavailable: str) -> None:
    strategy = gateway_deployment(render(set_values=_rolling_update(surge, unavailable)))
    rolling = strategy["spec"]["strategy"]["rollingUpdate"]
    assert {str(v) for v in rolling.values()} == {surge, unavailable}
    # Recreate has no rollingUpdate block: its limits do not matter.
    recreate = render(set_values=("gateway.strategy.type=Recreate", *_rolling_update("0", "0")))
    assert gateway_deployment(recreate)["spec"]["strategy"] == {"type": "Recreate"}


# -- autoscaling -----------------------------------------------------------------------------------

AUTOSCALING = "gateway.autoscaling.enabled=true"


@pytest.mark.parametrize(
    ("set_values", "message", "fix"),
    [
        (
            (AUTOSCALING, "gateway.autoscaling.targetCPUUtilizationPercentage=null"),
            "targetCPUUtilizationPercentage and targetMemoryUtilizationPercentage are both null: "
            "the HPA would have no metric and Kubernetes would scale on its default, 80% CPU",
            "set one of them (e.g. gateway.autoscaling.targetCPUUtilizationPercentage=70)",
        ),
        (
            # The defaults have no CPU limit either.
            (AUTOSCALING, "gateway.resources.requests.cpu=null"),
            "gateway.resources sets neither requests.cpu nor limits.cpu (which Kubernetes would "
            "copy into the request): the HPA could not compute utilization",
            "set gateway.resources.requests.cpu (e.g. 250m)",
        ),
        (
            (
                AUTOSCALING,
                "gateway.autoscaling.targetCPUUtilizationPercentage=null",
                "gateway.autoscaling.targetMemoryUtilizationPercentage=80",
                "gateway.resources.requests=null",
                "gateway.resources.limits=null",
            ),
            "gateway.resources sets neither requests.memory nor limits.memory (which Kubernetes "
            "would copy into the request): the HPA could not compute utilization",
            "set gateway.resources.requests.memory (e.g. 256Mi)",
        ),
    ],
    ids=[
        "no-target",
        "cpu-target-without-cpu-request-or-limit",
        "memory-target-without-memory-request-or-limit",
    ],
)
def test_an_hpa_that_cannot_scale_as_configured_is_refused(
    set_values: tuple[str, ...], message: str, fix: str
) -> None:
    """An HPA with empty metrics is defaulted to 80% CPU by the API server, not the "no
    target" the values said; a Utilization target of a resource the container requests none
    of never scales (the HPA reports "missing request"). A namespace's LimitRange may default
    the request, but the chart cannot see one: the message says to set the request."""
    error = render_fails(set_values=set_values)
    assert message in error
    assert fix in error
    if "neither requests" in message:
        assert (
            "A LimitRange's default request is not visible to the chart: set the request "
            "explicitly even where one applies"
        ) in error


@pytest.mark.parametrize(
    ("resource", "set_values"),
    [
        (
            "cpu",
            (
                "gateway.resources.limits.cpu=500m",
                "gateway.resources.limits.memory=null",
            ),
        ),
        (
            "memory",
            (
                "gateway.autoscaling.targetCPUUtilizationPercentage=null",
                "gateway.autoscaling.targetMemoryUtilizationPercentage=80",
            ),
        ),
    ],
    ids=["cpu", "memory"],
)
def test_an_hpa_on_a_resource_with_only_a_limit_renders(
    resource: str, set_values: tuple[str, ...]
) -> None:
    """Kubernetes copies a container's limit into its request when only the limit is set, so
    the HPA has the request its Utilization target divides. (The default limits are memory's
    alone, 512Mi.)"""
    docs = render(set_values=(AUTOSCALING, "gateway.resources.requests=null", *set_values))
    metrics = find(docs, "HorizontalPodAutoscaler")["spec"]["metrics"]
    assert [m["resource"]["name"] for m in metrics] == [resource]
    (container,) = pod_spec(gateway_deployment(docs))["containers"]
    assert "requests" not in container["resources"]
    assert list(container["resources"]["limits"]) == [resource]


def test_an_hpa_on_one_target_with_its_request_renders() -> None:
    memory_only = render(
        set_values=(
            AUTOSCALING,
            "gateway.autoscaling.targetCPUUtilizationPercentage=null",
            "gateway.autoscaling.targetMemoryUtilizationPercentage=80",
            "gateway.resources.requests.cpu=null",
        )
    )
    metrics = find(memory_only, "HorizontalPodAutoscaler")["spec"]["metrics"]
    assert [m["resource"]["name"] for m in metrics] == ["memory"]
    cpu_only = render(set_values=(AUTOSCALING, "gateway.resources.requests.memory=null"))
    metrics = find(cpu_only, "HorizontalPodAutoscaler")["spec"]["metrics"]
    assert [m["resource"]["name"] for m in metrics] == ["cpu"]
    # Without autoscaling, no target nor request is needed.
    render(
        set_values=(
            "gateway.autoscaling.targetCPUUtilizationPercentage=null",
            "gateway.resources.requests=null",
        )
    )


# -- files the mesh's user must read ---------------------------------------------------------------


def _kafka_tls_pods(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Deployments and Jobs whose pods mount the Kafka TLS files."""
    return [
        d
        for d in find_all(docs, "Deployment") + find_all(docs, "Job")
        if any(v["name"] == "kafka-tls" for v in pod_spec(d).get("volumes", []))
    ]


def test_kafka_tls_files_are_mounted_for_the_pod_s_fs_group_alone() -> None:
    """The TLS Secret is mounted 0440 so that the client key stays private: owner root,
    group the pod's fsGroup, which the chart sets to the image's group (10001)."""
    mounting = _kafka_tls_pods(render(KAFKA_SECURE))
    assert {d["kind"] for d in mounting} == {"Deployment", "Job"}
    for doc in mounting:
        spec = pod_spec(doc)
        (volume,) = [v for v in spec["volumes"] if v["name"] == "kafka-tls"]
        assert volume["secret"]["defaultMode"] == 0o440, "the key stays private"
        assert spec["securityContext"]["fsGroup"] == 10001


def test_kafka_tls_files_render_with_the_fs_group_left_to_the_platform() -> None:
    """OpenShift's restricted-v2 SCC assigns each pod an fsGroup itself, and users there set
    podSecurityContext.fsGroup to null: the chart renders that, with the files still 0440,
    and the README says that without an fsGroup from somewhere the mesh's user cannot read
    them."""
    docs = render(KAFKA_SECURE, set_values=("podSecurityContext.fsGroup=null",))
    mounting = _kafka_tls_pods(docs)
    assert {d["kind"] for d in mounting} == {"Deployment", "Job"}
    for doc in mounting:
        spec = pod_spec(doc)
        (volume,) = [v for v in spec["volumes"] if v["name"] == "kafka-tls"]
        assert volume["secret"]["defaultMode"] == 0o440, "the key stays private"
        assert "fsGroup" not in spec["securityContext"]
    text = (CHART / "README.md").read_text()
    readme = " ".join(text.split())
    assert (
        "They are mounted with mode 0440, owner root and group the pod's fsGroup "
        "(`podSecurityContext.fsGroup`, 10001 by default)"
    ) in readme
    assert (
        "With `podSecurityContext.fsGroup` null the platform must assign the pod an fsGroup "
        "(OpenShift's restricted-v2 SCC does), or the mesh's user (10001) cannot read the files"
    ) in readme
    (row,) = [
        line for line in text.splitlines() if line.startswith("| `podSecurityContext.fsGroup`")
    ]
    assert "mounted 0440, owner root, group the pod's fsGroup: with null the platform" in row
    assert "OpenShift's restricted-v2 SCC does" in row


# -- extraEnv --------------------------------------------------------------------------------------

RECOMMEND = "services.recommend.args={service,recommend:service}"
SASL = (
    "kafka.securityProtocol=SASL_PLAINTEXT",
    "kafka.sasl.mechanism=PLAIN",
    "kafka.sasl.username=mesh",
    "kafka.sasl.existingSecret=kafka-credentials",
)


def _extra_env(key: str, name: str, value: str) -> tuple[str, str]:
    return (f"{key}[0].name={name}", f"{key}[0].value={value}")


@pytest.mark.parametrize(
    ("set_values", "message"),
    [
        (
            _extra_env("gateway.extraEnv", "NEXUS_JWT_SECRET", "a-plaintext-secret-of-32-bytes!!"),
            "gateway.extraEnv sets NEXUS_JWT_SECRET, which the chart already sets in that "
            "container (a second entry would silently replace the chart's); use "
            "auth.jwt.existingSecret (or auth.jwt.secret) instead",
        ),
        (
            _extra_env("gateway.extraEnv", "NEXUS_GATEWAY_ADMIN_TOKEN", "t" * 32),
            "gateway.extraEnv sets NEXUS_GATEWAY_ADMIN_TOKEN: the gateway refuses it beside the "
            "chart's NEXUS_GATEWAY_ADMIN_TOKEN_FILE (it would not start); put the token in a "
            "Secret and use gateway.adminToken.existingSecret",
        ),
        (
            _extra_env("gateway.extraEnv", "NEXUS_GATEWAY_ADMIN_TOKEN_FILE", "/tmp/token"),
            "use gateway.adminToken.existingSecret instead",
        ),
        (
            _extra_env("gateway.extraEnv", "POD_NAME", "gateway"),
            "gateway.extraEnv sets POD_NAME, which the chart already sets in that container "
            "(a second entry would silently replace the chart's); remove it from "
            "gateway.extraEnv",
        ),
        (
            (*SASL, *_extra_env("search.extraEnv", "NEXUS_KAFKA_SASL_PASSWORD", "hunter2")),
            "search.extraEnv sets NEXUS_KAFKA_SASL_PASSWORD, which the chart already sets in "
            "that container (a second entry would silently replace the chart's); use "
            "kafka.sasl.existingSecret (or kafka.sasl.password) instead",
        ),
        (
            _extra_env("search.extraEnv", "NEXUS_SERVICE_METRICS_HOST", "::"),
            "use search.listenHost instead",
        ),
        (
            _extra_env("search.extraEnv", "POD_NAMESPACE", "mesh"),
            "search.extraEnv sets POD_NAMESPACE, which the chart already sets in that container "
            "(a second entry would silently replace the chart's); remove it from search.extraEnv",
        ),
        (
            (RECOMMEND, *_extra_env("services.recommend.extraEnv", "NODE_NAME", "node-a")),
            "services.recommend.extraEnv sets NODE_NAME, which the chart already sets in that "
            "container (a second entry would silently replace the chart's); remove it from "
            "services.recommend.extraEnv",
        ),
        (
            _extra_env("topicsJob.extraEnv", "OTEL_RESOURCE_ATTRIBUTES", "team=mesh"),
            "topicsJob.extraEnv sets OTEL_RESOURCE_ATTRIBUTES, which the chart already sets in "
            "that container (a second entry would silently replace the chart's); use "
            "otel.resourceAttributes instead",
        ),
    ],
    ids=[
        "jwt-secret-in-plain-text",
        "admin-token-beside-the-token-file",
        "admin-token-file",
        "downward-api-variable",
        "sasl-password-in-search",
        "search-metrics-host",
        "search-downward-api-variable",
        "node-name-in-a-service-of-your-own",
        "topics-job-resource-attributes",
    ],
)
def test_extra_env_repeating_a_variable_the_chart_sets_is_refused(
    set_values: tuple[str, ...], message: str
) -> None:
    """Kubernetes takes the last of two env entries of one name: the chart's Secret reference
    would silently give way to a plaintext value, and Helm's strategic-merge patches of such
    lists go wrong. NEXUS_GATEWAY_ADMIN_TOKEN is no repeat, but the gateway refuses to start
    with it beside NEXUS_GATEWAY_ADMIN_TOKEN_FILE."""
    assert message in render_fails(set_values=set_values)


WORKLOADS = {
    "gateway": ("Deployment", f"{RELEASE}-nexus-mesh-gateway"),
    "search": ("Deployment", f"{RELEASE}-nexus-mesh-search"),
    "recommend": ("Deployment", f"{RELEASE}-nexus-mesh-recommend"),
    "topics": ("Job", f"{RELEASE}-nexus-mesh-topics"),
}


def _container(docs: list[dict[str, Any]], component: str) -> dict[str, Any]:
    (container,) = pod_spec(find(docs, *WORKLOADS[component]))["containers"]
    return container


@pytest.mark.parametrize(
    ("key", "name", "component"),
    [
        ("gateway.extraEnv", "OTEL_SERVICE_NAME", "gateway"),
        ("search.extraEnv", "OTEL_SERVICE_NAME", "search"),
        ("services.recommend.extraEnv", "OTEL_SERVICE_NAME", "recommend"),
        ("topicsJob.extraEnv", "OTEL_SERVICE_NAME", "topics"),
        ("gateway.extraEnv", "NEXUS_GATEWAY_INSTANCE", "gateway"),
    ],
    ids=[
        "gateway-service-name",
        "search-service-name",
        "service-of-your-own-service-name",
        "topics-job-service-name",
        "gateway-instance",
    ],
)
def test_extra_env_may_replace_the_chart_s_defaults_for_its_container(
    key: str, name: str, component: str
) -> None:
    """OTEL_SERVICE_NAME and NEXUS_GATEWAY_INSTANCE are defaults that no value of the chart's
    replaces (OTEL_SERVICE_NAME outranks service.name in otel.resourceAttributes, so renaming
    a component's traces takes it): a container's extraEnv may set them, and the chart then
    leaves its own entry out, as the topics Job does for shared settings. The name appears
    once, with extraEnv's value; the other containers keep the chart's."""
    docs = render(set_values=(RECOMMEND, *_extra_env(key, name, "x")))
    container = _container(docs, component)
    assert [e for e in container["env"] if e["name"] == name] == [{"name": name, "value": "x"}]
    names = [e["name"] for e in container["env"]]
    assert len(names) == len(set(names)), names
    for other in WORKLOADS.keys() - {component}:
        kept = [e for e in _container(docs, other).get("env", []) if e["name"] == name]
        if name == "OTEL_SERVICE_NAME":
            assert kept == [{"name": name, "value": f"nexus-{other}"}], other
        else:
            assert kept == [], other  # the gateways' alone


def test_a_gateway_instance_of_extra_env_may_name_the_pod() -> None:
    """A NEXUS_GATEWAY_INSTANCE the same in every pod would give every gateway one name
    (events' source, Kafka client id, service.instance.id): the README says to keep
    $(POD_NAME) in it, which expands because POD_NAME comes before extraEnv."""
    docs = render(
        set_values=_extra_env("gateway.extraEnv", "NEXUS_GATEWAY_INSTANCE", "eu-$(POD_NAME)")
    )
    env = _container(docs, "gateway")["env"]
    names = [e["name"] for e in env]
    assert names.count("NEXUS_GATEWAY_INSTANCE") == 1
    assert names.index("POD_NAME") < names.index("NEXUS_GATEWAY_INSTANCE")
    assert env_of(_container(docs, "gateway"))["NEXUS_GATEWAY_INSTANCE"] == "eu-$(POD_NAME)"
    readme = " ".join((CHART / "README.md").read_text().split())
    assert "Two of the variables the chart sets in the container itself are defaults" in readme
    assert "Keep it different in each pod, e.g. `eu-west-$(POD_NAME)`" in readme


@pytest.mark.parametrize("case", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_no_container_gets_a_variable_twice(case: Scenario) -> None:
    for doc in render(case):
        if doc["kind"] in {"Deployment", "Job", "Pod"}:
            for container in pod_spec(doc)["containers"]:
                names = [e["name"] for e in container.get("env", [])]
                assert len(names) == len(set(names)), (doc["metadata"]["name"], names)


def test_extra_env_may_replace_a_shared_setting_for_its_container() -> None:
    """The ConfigMap's settings come through envFrom, which env outranks: extraEnv may change
    one for a single component (README: "Extra environment variables"). The topics Job has
    them inline, and leaves out the one its extraEnv gives rather than repeating it."""
    docs = render(
        set_values=(
            *_extra_env("gateway.extraEnv", "NEXUS_LOG_LEVEL", "DEBUG"),
            *_extra_env("search.extraEnv", "NEXUS_LOG_LEVEL", "WARNING"),
            *_extra_env("topicsJob.extraEnv", "NEXUS_LOG_LEVEL", "ERROR"),
        )
    )
    assert env_of(pod_spec(gateway_deployment(docs))["containers"][0])["NEXUS_LOG_LEVEL"] == (
        "DEBUG"
    )
    search = find(docs, "Deployment", f"{RELEASE}-nexus-mesh-search")
    assert env_of(pod_spec(search)["containers"][0])["NEXUS_LOG_LEVEL"] == "WARNING"
    (topics,) = pod_spec(find(docs, "Job"))["containers"]
    assert [e for e in topics["env"] if e["name"] == "NEXUS_LOG_LEVEL"] == [
        {"name": "NEXUS_LOG_LEVEL", "value": "ERROR"}
    ]


# -- a service's grace period ----------------------------------------------------------------------


def test_a_service_s_grace_period_covers_its_stop() -> None:
    """On SIGTERM a service waits stop_timeout_s for its records in hand, 5 s more for the
    handlers it cancels, commits (bounded by send_timeout_s), closes its Kafka clients (both
    within CLIENT_STOP_TIMEOUT_S) and exports its last spans
    (otel.shutdownExportSeconds). The kubelet's SIGKILL must not cut that short: the commit
    lost means records handled again, the group left uncleanly a rebalance that waits for
    the session timeout. The numbers are ServiceConfig's defaults, and the README and
    values.yaml say the sum."""
    config = ServiceConfig()
    export = values()["otel"]["shutdownExportSeconds"]
    needed = (
        config.stop_timeout_s
        + runner._CANCEL_GRACE_S
        + config.send_timeout_s
        + CLIENT_STOP_TIMEOUT_S
        + export
    )
    docs = render(set_values=(RECOMMEND,))
    for name in ("search", "recommend"):
        spec = pod_spec(find(docs, "Deployment", f"{RELEASE}-nexus-mesh-{name}"))
        assert spec["terminationGracePeriodSeconds"] >= needed, name
    total = f"= {needed:g} s"
    assert total in (CHART / "values.yaml").read_text()
    assert total in (CHART / "README.md").read_text()


def test_a_grace_period_the_service_s_stop_outlasts_is_refused() -> None:
    """The chart's floor is the same sum as the code's: a grace period a second short of it
    fails the render, the sum itself renders, and a longer span export raises the floor."""
    config = ServiceConfig()
    export = values()["otel"]["shutdownExportSeconds"]
    stop = int(
        config.stop_timeout_s
        + runner._CANCEL_GRACE_S
        + config.send_timeout_s
        + CLIENT_STOP_TIMEOUT_S
        + export
    )
    render(set_values=(f"search.terminationGracePeriodSeconds={stop}",))
    error = render_fails(set_values=(f"search.terminationGracePeriodSeconds={stop - 1}",))
    assert f"search.terminationGracePeriodSeconds ({stop - 1}) must be at least" in error
    assert f"= {stop} s" in error
    slower_export = (
        f"otel.shutdownExportSeconds={export + 1}",
        f"search.terminationGracePeriodSeconds={stop}",
    )
    assert f"= {stop + 1} s" in render_fails(set_values=slower_export)


# -- tracing by default --------------------------------------------------------------------------


def test_tracing_waits_for_an_endpoint_and_notes_say_so(tmp_path: Path) -> None:
    """Without a collector the spans would go to localhost:4318, where nothing listens, and
    still cost their CPU: tracing stays off until otel.endpoint is set."""
    config = config_data(render())
    assert config["OTEL_SDK_DISABLED"] == "true"
    assert "OTEL_TRACES_EXPORTER" not in config
    assert "Tracing is off: set otel.endpoint" in render_notes(tmp_path / "off")
    on = config_data(render(set_values=("otel.endpoint=http://collector.observability:4318",)))
    assert "OTEL_SDK_DISABLED" not in on
    assert on["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://collector.observability:4318"
    assert on["OTEL_TRACES_EXPORTER"] == "otlp"


# -- NOTES.txt commands work as printed ----------------------------------------------------------


def test_notes_commands_carry_the_admin_port_and_token_claims(tmp_path: Path) -> None:
    notes = render_notes(
        tmp_path / "custom",
        "--set",
        "gateway.adminPort=9000",
        "-f",
        str(CHART / "ci" / "jwt-public-key-values.yaml"),
    )
    assert re.search(r"nexus status --namespace \S+ --release \S+ --admin-port 9000", notes)
    assert re.search(r"nexus drain POD --namespace \S+ --admin-port 9000", notes)
    assert '--audience "nexus-mesh" --issuer "https://auth.example.com/"' in notes
    default = render_notes(tmp_path / "default")
    assert "--admin-port" not in default and "--audience" not in default


def test_notes_warn_when_campaign_hashing_meets_another_ingress_controller(
    tmp_path: Path,
) -> None:
    notes = render_notes(
        tmp_path / "traefik", "--set", "ingress.enabled=true", "--set", "ingress.className=traefik"
    )
    assert "set ingress.campaignHashing.enabled=false" in notes
    host = ("--set", "ingress.hosts={mesh.io}")  # no warning about sharing a server either
    nginx = render_notes(tmp_path / "nginx", "--set", "ingress.enabled=true", *host)
    assert "campaignHashing.enabled=false" not in nginx
    # No class named: the cluster's default, possibly ingress-nginx; nothing to warn about.
    default = render_notes(
        tmp_path / "default-class",
        "--set",
        "ingress.enabled=true",
        "--set",
        "ingress.className=",
        *host,
    )
    assert "campaignHashing.enabled=false" not in default


def test_notes_warn_when_campaign_hashing_shares_the_default_server(tmp_path: Path) -> None:
    """Without a host, use-regex applies to every host-less Ingress of the controller."""
    shared = render_notes(tmp_path / "no-host", "--set", "ingress.enabled=true")
    assert "ingress.hosts is empty" in shared
    own = render_notes(
        tmp_path / "host", "--set", "ingress.enabled=true", "--set", "ingress.hosts={mesh.io}"
    )
    assert "ingress.hosts is empty" not in own
    plain = render_notes(
        tmp_path / "prefix",
        "--set",
        "ingress.enabled=true",
        "--set",
        "ingress.campaignHashing.enabled=false",
    )
    assert "ingress.hosts is empty" not in plain


# -- user labels and annotations -------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "commonLabels.app\\.kubernetes\\.io/instance",
        "gateway.podLabels.app\\.kubernetes\\.io/component",
        "search.podLabels.app\\.kubernetes\\.io/name",
        "commonLabels.helm\\.sh/chart",
    ],
)
def test_the_chart_s_own_labels_cannot_be_overridden(key: str) -> None:
    """Selectors rely on them: an overridden instance label would leave the Deployment's
    selector not matching its pods (refused by the API server) and the Service empty."""
    assert "invalid propertyName" in render_fails(set_values=(f"{key}=x",))


class _StrictLoader(yaml.SafeLoader):
    """A YAML loader refusing a key given twice in one map, as strict parsers do (PyYAML's own
    lets the last win, which would hide the repeat)."""


def _no_repeats(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    keys = [loader.construct_object(key, deep=deep) for key, _ in node.value]
    repeated = {key for key in keys if keys.count(key) > 1}
    assert not repeated, f"keys given twice: {repeated}"
    return loader.construct_mapping(node, deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_repeats)


def test_user_labels_and_annotations_merge_over_the_chart_s_each_key_once() -> None:
    timeout = "nginx.ingress.kubernetes.io/proxy-read-timeout"
    result = run_helm(
        "template",
        RELEASE,
        str(CHART),
        "--set",
        "ingress.enabled=true",
        "--set-string",
        f"ingress.annotations.{timeout.replace('.', chr(92) + '.')}=100",
        "--set",
        "commonLabels.team=platform",
        "--set",
        "gateway.podLabels.team=gateway-team",
        "--set",
        "search.podAnnotations.note=kept",
    )
    assert result.returncode == 0, result.stderr
    docs = [doc for doc in yaml.load_all(result.stdout, Loader=_StrictLoader) if doc]
    ingress = find(docs, "Ingress")
    assert ingress["metadata"]["annotations"][timeout] == "100"  # the user's value wins
    gateway = gateway_deployment(docs)
    assert gateway["metadata"]["labels"]["team"] == "platform"
    pod = gateway["spec"]["template"]["metadata"]
    assert pod["labels"]["team"] == "gateway-team"  # podLabels over commonLabels
    assert gateway["spec"]["selector"]["matchLabels"].items() <= pod["labels"].items()
    assert pod["annotations"]["checksum/config"]  # the chart's own still there
    search = find(docs, "Deployment", f"{RELEASE}-nexus-mesh-search")
    annotations = search["spec"]["template"]["metadata"]["annotations"]
    assert annotations["note"] == "kept" and annotations["checksum/secrets"]


def test_notes_say_what_drain_needs_and_what_a_network_policy_cuts_off(tmp_path: Path) -> None:
    default = render_notes(tmp_path / "default")
    assert f"for drain get on Secret {RELEASE}-nexus-mesh-admin" in default
    assert "WARNING: networkPolicy" not in default
    fenced = render_notes(
        tmp_path / "fenced",
        "--set",
        "networkPolicy.enabled=true",
        "--set",
        "serviceMonitor.enabled=true",
    )
    assert "cannot reach it" in fenced and "Prometheus cannot scrape" in fenced
    open_to_them = render_notes(
        tmp_path / "peers", "-f", str(CHART / "ci" / "networkpolicy-values.yaml")
    )
    assert "WARNING: networkPolicy" not in open_to_them


# -- NOTES.txt: which key signs tokens ----------------------------------------------------------


def test_notes_send_rs_only_releases_to_their_issuer_not_to_an_hs_secret(tmp_path: Path) -> None:
    """With RS256 alone and the keys in a Secret of the user's, no HS* secret signs anything
    the gateways accept: the notes must say tokens come from the issuer's private key."""
    rs_only = render_notes(
        tmp_path / "rs",
        "--set",
        "auth.algorithms={RS256}",
        "--set",
        "auth.jwt.existingSecret=nexus-jwt",
        "--set",
        "tests.tokenSecret.name=nexus-helm-test-token",
    )
    assert "HS* secret" not in rs_only and "NEXUS_JWT_SECRET" not in rs_only
    assert "Tokens come from your issuer: the gateways take RS256 tokens" in rs_only
    assert "the public key in Secret nexus-jwt (key jwt-public-key)" in rs_only
    assert "nexus token --user alice --campaign demo --private-key key.pem" in rs_only

    # The same Secret with HS256 accepted: its secret signs tokens the gateways take.
    hs = render_notes(tmp_path / "hs", "--set", "auth.jwt.existingSecret=nexus-jwt")
    assert "sign them with the HS* secret in Secret nexus-jwt" in hs
    assert "--private-key" not in hs and "your issuer" not in hs
