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
    config_data,
    env_of,
    find,
    gateway_deployment,
    pod_spec,
    render,
    render_fails,
    render_notes,
    run_helm,
)

HOOK = "helm.sh/hook"


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
