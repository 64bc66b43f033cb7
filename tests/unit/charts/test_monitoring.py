"""The chart's alerts and Grafana dashboard: valid for Prometheus, firing when they should,
and about series the gateway and the services really export.

The rules run in promtool (``check rules``, and ``test rules`` against synthetic series):
Prometheus' own rule engine, not a model of it. A Prometheus server scraping real pods
cannot run here (no Kubernetes), nor can Grafana: the series names are taken from the real
metric objects, and the dashboard's queries go through promtool while its JSON is checked
for what Grafana needs (data source variable, a layout without overlaps).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml
from helm_chart import (
    CHART,
    NAMESPACE,
    RELEASE,
    SCENARIOS,
    Scenario,
    find,
    find_all,
    go_tool_or_skip,
    render,
    render_fails,
    render_notes,
)

from nexus_gateway.metrics import GatewayMetrics
from nexus_mesh.prometheus import PRODUCE_OUTCOMES
from nexus_mesh.service.metrics import ServiceMetrics

GATEWAY_JOB = f"{RELEASE}-nexus-mesh-gateway-admin"
SEARCH_JOB = f"{RELEASE}-nexus-mesh-search-metrics"
DASHBOARD = CHART / "dashboards" / "nexus-mesh.json"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    command = [go_tool_or_skip("promtool"), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def scenario(name: str) -> Scenario:
    return next(case for case in SCENARIOS if case.name == name)


def rule_groups() -> list[dict[str, Any]]:
    rule = find(render(scenario("monitoring")), "PrometheusRule")
    groups: list[dict[str, Any]] = rule["spec"]["groups"]
    return groups


def alerts() -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for group in rule_groups() for r in group["rules"]}


def exported_series() -> set[str]:
    """The series names a gateway and a service expose, from their real metric objects (a
    labelled metric with no child yet still describes its family)."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
    names = set()
    for registry in (GatewayMetrics().registry, ServiceMetrics(service="search").registry):
        for family in registry.collect():
            for suffix in suffixes.get(family.type, ("",)):
                names.add(family.name + suffix)
    return names


def metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\b(nexus_[a-z_]+)\b", expr))


def test_the_rules_are_valid_prometheus_rules(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": rule_groups()}))
    checked = promtool("check", "rules", str(path))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert len(alerts()) >= 10, "the chart renders its alerts"
    assert f"SUCCESS: {len(alerts())} rules found" in checked.stdout


def test_every_alert_names_series_the_mesh_exports_and_says_what_to_do() -> None:
    exported = exported_series()
    assert alerts(), "the chart renders no alert"
    for name, rule in alerts().items():
        unknown = metric_names(rule["expr"]) - exported
        assert not unknown, f"{name} reads series nothing exports: {unknown}"
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}, name
        assert rule["labels"]["team"] == "chat", "alertLabels reach every alert"
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name
        if "nexus_gateway_" in rule["expr"] or "up{" in rule["expr"]:
            assert f'namespace="{NAMESPACE}"' in rule["expr"], name


def test_the_readme_lists_every_alert_with_its_severity() -> None:
    """Whoever is paged looks the alert up in the chart README's table: every alert the chart
    renders is a row there, with the severity it fires with, and no row names an alert that
    no longer exists."""
    text = (CHART / "README.md").read_text()
    table = text[text.index("| alert | severity | fires when |") :].split("\n\n", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| (\w+) \|", table, re.M)
    assert len(rows) == len(dict(rows)), "an alert listed twice"
    # With a service of one's own too: its NexusServiceDown renders only then.
    own = ("services.recommend.args={service,recommend:service}",)
    rule = find(render(scenario("monitoring"), set_values=own), "PrometheusRule")
    rendered = {
        r["alert"]: r["labels"]["severity"] for g in rule["spec"]["groups"] for r in g["rules"]
    }
    assert dict(rows) == rendered


def test_gateway_alerts_read_the_series_of_the_chart_s_service_monitor() -> None:
    """Prometheus Operator names a target's job after the Service it found it through: the
    alerts must use the headless admin Service's name, or they never fire."""
    docs = render(scenario("monitoring"))
    admin = find(docs, "Service", GATEWAY_JOB)
    search_metrics = find(docs, "Service", SEARCH_JOB)
    monitored = {
        m["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"]
        for m in find_all(docs, "ServiceMonitor")
    }
    assert admin["metadata"]["labels"]["app.kubernetes.io/component"] in monitored
    assert search_metrics["metadata"]["labels"]["app.kubernetes.io/component"] in monitored
    rules = alerts()
    assert f'job="{GATEWAY_JOB}"' in rules["NexusGatewayDown"]["expr"]
    assert f'job="{SEARCH_JOB}"' in rules["NexusSearchServiceDown"]["expr"]


def test_alerts_without_the_service_monitors_are_refused() -> None:
    error = render_fails(set_values=("prometheusRule.enabled=true",))
    assert "set serviceMonitor.enabled=true too" in error


def passes_promtool(tmp_path: Path, tests: list[dict[str, Any]]) -> None:
    """Run ``tests`` (promtool rule-test cases) against the chart's rules: all must pass."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": rule_groups()}))
    spec = tmp_path / "tests.yaml"
    spec.write_text(
        yaml.safe_dump({"rule_files": [rules.name], "evaluation_interval": "1m", "tests": tests})
    )
    tested = promtool("test", "rules", str(spec))
    assert tested.returncode == 0, tested.stdout + tested.stderr


def _series(name: str, values: str, **labels: str) -> dict[str, str]:
    body = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{body}}}", "values": values}


def _case(name: str, series: list[dict[str, str]], *checks: dict[str, Any]) -> dict[str, Any]:
    """A promtool test group: ``series`` sampled every minute, ``checks`` at given times."""
    return {"name": name, "interval": "1m", "input_series": series, "alert_rule_test": list(checks)}


def _quiet(alert: str, at: str) -> dict[str, Any]:
    return {"eval_time": at, "alertname": alert}


def _fires(
    alert: str, at: str, labels: dict[str, str], summary: str, description: str
) -> dict[str, Any]:
    """``alert`` firing once at ``at``, with every label (the team label every alert gets
    from alertLabels included) and its rendered annotations."""
    expected = {
        "exp_labels": {**labels, "team": "chat"},
        "exp_annotations": {"summary": summary, "description": description},
    }
    return {"eval_time": at, "alertname": alert, "exp_alerts": [expected]}


def _writes(labels: dict[str, str], **outcomes: str) -> list[dict[str, str]]:
    """The gateway's writes of client events: ``nexus_gateway_produce_latency_seconds_count``
    by outcome (``outcome=values``), every other outcome at 0 as the gateway starts it."""
    return [
        _series(
            "nexus_gateway_produce_latency_seconds_count",
            outcomes.get(outcome, "0+0x20"),
            **labels,
            outcome=outcome,
        )
        for outcome in PRODUCE_OUTCOMES
    ]


def _flows(labels: dict[str, str], **timeouts: str) -> list[dict[str, str]]:
    """``nexus_gateway_flow_info`` of a gateway serving flows ``name=timeout type``, each
    requested with ``<name>.requested``."""
    return [
        _series(
            "nexus_gateway_flow_info",
            "1+0x40",
            **labels,
            flow=name,
            request=f"{name}.requested",
            timeout=timeout,
        )
        for name, timeout in timeouts.items()
    ]


def _kafka_writes_page(share: str, pod: str) -> tuple[dict[str, Any], ...]:
    """NexusGatewayKafkaWritesFailing quiet at 6m, then paging for ``pod`` at 9m."""
    description = (
        f"For 5 minutes {share} of the writes of client events by {pod} have failed: Kafka "
        "was unavailable or did not confirm them (answered unavailable or unconfirmed), or "
        "refused them for good (answered internal, e.g. an ACL that no longer lets the "
        'gateway write, logged as "Kafka refused a write to <topic>: <error>"). Check the '
        "brokers, the gateway's log and nexus_gateway_produce_latency_seconds_count by "
        "outcome."
    )
    return (
        _quiet("NexusGatewayKafkaWritesFailing", "6m"),
        _fires(
            "NexusGatewayKafkaWritesFailing",
            "9m",
            {"severity": "critical", "namespace": NAMESPACE, "pod": pod},
            f"Gateway {pod} cannot write client events to Kafka",
            description,
        ),
    )


def test_the_alerts_fire_when_they_should_and_not_before(tmp_path: Path) -> None:
    """promtool evaluates the rules minute by minute over synthetic series."""
    gw = {"namespace": NAMESPACE, "job": GATEWAY_JOB}
    pod = {**gw, "pod": "gw-0"}
    ns = {"namespace": NAMESPACE}
    svc = {**ns, "service": "search"}
    warning, critical = {"severity": "warning"}, {"severity": "critical"}
    tests = [
        _case(
            "a pod down for 5 minutes, then all of them",
            [
                _series("up", "1 1 0 0 0 0 0 0 0 0 0", **gw, pod="gw-0"),
                _series("up", "1 1 1 1 1 1 1 1 0 0 0 0 0 0 0", **gw, pod="gw-1"),
            ],
            _quiet("NexusGatewayDown", "6m"),
            _fires(
                "NexusGatewayDown",
                "7m",
                {**warning, **gw, "pod": "gw-0"},
                "Gateway pod gw-0 cannot be scraped",
                "Prometheus has not reached the admin port of gw-0 for 5 minutes; its clients "
                "reconnect and resume on the other pods if it is gone.",
            ),
            _quiet("NexusGatewaysAllDown", "12m"),
            _fires(
                "NexusGatewaysAllDown",
                "13m",
                {**critical, **gw},
                f"No gateway of {RELEASE}-nexus-mesh answers",
                "No gateway pod has answered a scrape for 5 minutes: clients cannot connect. If "
                "the pods run, Prometheus does not scrape them: check that it selects the "
                "ServiceMonitor's labels (serviceMonitor.labels).",
            ),
        ),
        _case(
            "Kafka is unavailable to a pod's writes for 5 minutes; a blip is no page",
            [
                # Each write is one produce-latency observation (by outcome) and one answer.
                *_writes(pod, ok="0+60x20", unavailable="0 0 30+30x12"),
                _series("nexus_gateway_acks_total", "0+60x20", **pod),
                _series("nexus_gateway_errors_total", "0 0 30+30x12", **pod, code="unavailable"),
                *_writes({**gw, "pod": "gw-1"}, ok="0+60x20", unavailable="0 0 300+0x8"),
                _series("nexus_gateway_acks_total", "0+60x20", **gw, pod="gw-1"),
                _series(
                    "nexus_gateway_errors_total",
                    "0 0 300 300 300 300 300 300 300 300 300",
                    **gw,
                    pod="gw-1",
                    code="unavailable",
                ),
                # A client's own mistakes, many of them, hide nothing: they reach no write.
                _series("nexus_gateway_errors_total", "0+600x20", **pod, code="rate_limited"),
            ],
            *_kafka_writes_page("33.33%", "gw-0"),
        ),
        _case(
            "Kafka refuses a pod's writes for good (its ACL revoked): answered internal, a page",
            [
                *_writes(pod, ok="0+60x20", rejected="0 0 30+30x12"),
                _series("nexus_gateway_acks_total", "0+60x20", **pod),
                _series("nexus_gateway_errors_total", "0 0 30+30x12", **pod, code="internal"),
            ],
            *_kafka_writes_page("33.33%", "gw-0"),
        ),
        _case(
            "a pod behind on a partition for 5 minutes; a brief spike is no alert",
            [
                _series(
                    "nexus_gateway_consumer_lag",
                    "0 5000 0 0 0 0 0 0 0 0 0 0 0 0 0",
                    **pod,
                    topic="nexus.clients",
                    partition="1",
                ),
                _series(
                    "nexus_gateway_consumer_lag",
                    "0 0 2000+0x12",
                    **pod,
                    topic="nexus.clients",
                    partition="2",
                ),
            ],
            _quiet("NexusGatewayConsumerLagHigh", "6m"),
            _fires(
                "NexusGatewayConsumerLagHigh",
                "8m",
                {**warning, **ns, "pod": "gw-0", "topic": "nexus.clients", "partition": "2"},
                "Gateway gw-0 is behind on nexus.clients[2]",
                "2000 records of partition 2 wait to be delivered by gw-0: its clients receive "
                "events late.",
            ),
        ),
        _case(
            "a record on another campaign's partition, and an event the gateway failed on",
            [
                _series("nexus_gateway_misrouted_records_total", "0 0 0 0 0 2 2 2", **pod),
                _series("nexus_gateway_errors_total", "0 0 0 1 1 1", **pod, code="internal"),
                # Clients' own mistakes are not the gateway's fault.
                _series("nexus_gateway_errors_total", "0+9x8", **pod, code="bad_frame"),
            ],
            _quiet("NexusGatewayMisroutedRecords", "4m"),
            _fires(
                "NexusGatewayMisroutedRecords",
                "6m",
                {**warning, **ns, "pod": "gw-0"},
                "Records for clients are written where gateways must not deliver them",
                "gw-0 skipped 2 records in 10 minutes that their clients never get: a "
                "campaign's record on another campaign's partition (a producer partitioning "
                "otherwise than Kafka's default, murmur2 of the campaign key, or a changed "
                "partition count), a nexus-campaign header naming another campaign, a type the "
                "manifest does not send on that topic, or a broadcast addressed to a campaign. "
                "The gateway's log names each kind and the producer's ce_source.",
            ),
            _quiet("NexusGatewayInternalErrors", "2m"),
            _fires(
                "NexusGatewayInternalErrors",
                "4m",
                {**warning, **ns, "pod": "gw-0"},
                "The gateway fails on client events",
                "gw-0 answered 1 client events with code internal in 10 minutes, none of them "
                "acknowledged: a fault of the gateway's own, logged with the event's id and "
                "traceback, or a write Kafka refused for good (e.g. an ACL that no longer lets "
                'the gateway write to the topic), logged without traceback as "client event '
                '<id> refused: Kafka refused a write to <topic>: <error>" and counted in '
                'nexus_gateway_produce_latency_seconds_count{outcome="rejected"}. The '
                "gateway's log says which.",
            ),
        ),
        _case(
            "an event too large for clients, by type",
            [
                _series(
                    "nexus_gateway_oversized_deliveries_total",
                    "0 0 0 0 1 1 1",
                    **pod,
                    type="search.completed",
                ),
                _series(
                    "nexus_gateway_oversized_deliveries_total",
                    "0+0x6",
                    **pod,
                    type="chat.message",
                ),
            ],
            _quiet("NexusGatewayOversizedDeliveries", "3m"),
            _fires(
                "NexusGatewayOversizedDeliveries",
                "5m",
                {**warning, **ns, "pod": "gw-0", "type": "search.completed"},
                "Events too large for clients are not delivered",
                "gw-0 did not send 1 search.completed events in 10 minutes: their JSON frame is "
                "over gateway.config.maxDeliveryBytes. Their producer must send smaller events "
                "(a reply skipped so leaves its request to time out).",
            ),
        ),
        _case(
            "spans lost on the way to the collector; none while the counter stands still",
            [
                _series(
                    "nexus_gateway_spans_dropped_total",
                    "0 0 0 0 0 0 40 40 40",
                    **pod,
                    reason="export_failed",
                ),
                _series("nexus_gateway_spans_dropped_total", "0+0x20", **pod, reason="queue_full"),
            ],
            _quiet("NexusGatewaySpansDropped", "5m"),
            _fires(
                "NexusGatewaySpansDropped",
                "8m",
                {"severity": "info", **ns, "pod": "gw-0", "reason": "export_failed"},
                "Gateway gw-0 loses spans (export_failed)",
                "gw-0 made 40 spans in 15 minutes that no trace backend will show "
                "(export_failed): traces of those interactions are missing or broken, not "
                "unsampled. export_failed: the OTLP collector is unreachable or slow; "
                "queue_full: raise OTEL_BSP_MAX_QUEUE_SIZE or sample less; rejected: the "
                "collector's log says why.",
            ),
        ),
        _case(
            "records the gateway failed delivering; none while the counter stands still",
            [_series("nexus_gateway_delivery_failures_total", "0 0 0 0 0 3 3 3", **pod)],
            _quiet("NexusGatewayDeliveryFailures", "4m"),
            _fires(
                "NexusGatewayDeliveryFailures",
                "7m",
                {**warning, **ns, "pod": "gw-0"},
                "The gateway fails delivering records to its clients",
                "gw-0 skipped 3 client-bound records in 10 minutes because delivering them "
                "failed: a fault of the gateway's own, logged with each record's place and "
                "traceback. Their clients did not get them.",
            ),
        ),
        _case(
            "slow confirmed writes page; slow failed ones are the failure alert's",
            [
                _series(
                    "nexus_gateway_produce_latency_seconds_bucket",
                    "0+60x20",
                    **pod,
                    outcome="ok",
                    le=le,
                )
                for le in ("0.5", "1", "2.5", "5", "10", "+Inf")
            ]
            + [
                # Writes that failed at the 10 s produce timeout: not a latency page.
                _series(
                    "nexus_gateway_produce_latency_seconds_bucket",
                    "0+600x20" if le == "+Inf" else "0+0x20",
                    **gw,
                    pod="gw-1",
                    outcome="in_doubt",
                    le=le,
                )
                for le in ("0.5", "1", "2.5", "5", "10", "+Inf")
            ],
            _quiet("NexusGatewayProduceLatencyHigh", "15m"),
        ),
        _case(
            "a record dead-lettered; none while the counter stands still",
            [_series("nexus_service_dlq_total", "0 0 0 0 0 0 1 1 1", **svc, reason="handler")],
            _quiet("NexusServiceDeadLetters", "5m"),
            _fires(
                "NexusServiceDeadLetters",
                "8m",
                {**warning, **svc, "reason": "handler"},
                "Service search sends records to the DLQ",
                "search wrote to the dead-letter topic in the last 10 minutes (1, reason "
                "handler). Reason handler: its handler failed for good; a request of a flow "
                "with a failure reply got that reply (or the handler's own, sent before it "
                "failed). Undecodable records and requests of flows without a failure reply got "
                "no answer: their clients wait out the flow's timeout. The error is in each "
                "record's headers.",
            ),
        ),
        _case(
            "most requests of a flow time out (its service is gone); one late reply is no alert",
            [
                *_flows(pod, search="search.timeout", other="other.timeout"),
                *_flows({**gw, "pod": "gw-1"}, search="search.timeout", other="other.timeout"),
                # All of gw-0's requests time out, half of gw-1's: 75% of the flow's.
                _series("nexus_gateway_events_in_total", "0+60x20", **pod, type="search.requested"),
                _series(
                    "nexus_gateway_flow_timeouts_total", "0+60x20", **pod, type="search.timeout"
                ),
                _series(
                    "nexus_gateway_events_in_total",
                    "0+60x20",
                    **gw,
                    pod="gw-1",
                    type="search.requested",
                ),
                _series(
                    "nexus_gateway_flow_timeouts_total",
                    "0+30x20",
                    **gw,
                    pod="gw-1",
                    type="search.timeout",
                ),
                # Events of no flow are no requests: they do not dilute the share.
                _series("nexus_gateway_events_in_total", "0+6000x20", **pod, type="chat.message"),
                _series(
                    "nexus_gateway_events_in_total",
                    "0+2x20",
                    **gw,
                    pod="gw-1",
                    type="other.requested",
                ),
                _series(
                    "nexus_gateway_flow_timeouts_total",
                    "0 0 1+0x18",
                    **gw,
                    pod="gw-1",
                    type="other.timeout",
                ),
            ],
            _quiet("NexusGatewayRequestsTimingOut", "10m"),
            _fires(
                "NexusGatewayRequestsTimingOut",
                "12m",
                {**warning, **ns, "type": "search.timeout"},
                "Requests keep ending in search.timeout",
                "For 10 minutes 75% of the requests whose flow times out with search.timeout "
                "have ended in it: the service that replies to them is too slow or too far "
                "behind for that share. Near 100% it is down, scaled to zero, or failing "
                "without a failure reply.",
            ),
        ),
        _case(
            "at volume, one request in 100,000 timing out, or 4% of them, is no alert",
            [
                *_flows(pod, search="search.timeout", suggest="suggest.timeout"),
                _series(
                    "nexus_gateway_events_in_total", "0+100000x40", **pod, type="search.requested"
                ),
                _series(
                    "nexus_gateway_flow_timeouts_total", "0+1x40", **pod, type="search.timeout"
                ),
                _series(
                    "nexus_gateway_events_in_total", "0+100x40", **pod, type="suggest.requested"
                ),
                _series(
                    "nexus_gateway_flow_timeouts_total", "0+4x40", **pod, type="suggest.timeout"
                ),
            ],
            _quiet("NexusGatewayRequestsTimingOut", "15m"),
            _quiet("NexusGatewayRequestsTimingOut", "35m"),
        ),
        _case(
            "a rollout: a pod without flow_info (older, or gone) still counts its requests",
            [
                *_flows({**gw, "pod": "gw-new"}, search="search.timeout"),
                _series(
                    "nexus_gateway_events_in_total",
                    "0+100x40",
                    **gw,
                    pod="gw-new",
                    type="search.requested",
                ),
                _series(
                    "nexus_gateway_flow_timeouts_total",
                    "0+4x40",
                    **gw,
                    pod="gw-new",
                    type="search.timeout",
                ),
                _series(
                    "nexus_gateway_events_in_total",
                    "0+100x40",
                    **gw,
                    pod="gw-old",
                    type="search.requested",
                ),
                _series(
                    "nexus_gateway_flow_timeouts_total",
                    "0+4x40",
                    **gw,
                    pod="gw-old",
                    type="search.timeout",
                ),
            ],
            # 4% on each pod is 4% in all, not 8% over the new pod's requests alone.
            _quiet("NexusGatewayRequestsTimingOut", "15m"),
            _quiet("NexusGatewayRequestsTimingOut", "35m"),
        ),
        _case(
            "flows sharing a timeout type: their requests add up",
            [
                *_flows(pod, search="search.timeout", lookup="search.timeout"),
                _series("nexus_gateway_events_in_total", "0+50x20", **pod, type="search.requested"),
                _series("nexus_gateway_events_in_total", "0+50x20", **pod, type="lookup.requested"),
                _series(
                    "nexus_gateway_flow_timeouts_total", "0+10x20", **pod, type="search.timeout"
                ),
            ],
            _fires(
                "NexusGatewayRequestsTimingOut",
                "12m",
                {**warning, **ns, "type": "search.timeout"},
                "Requests keep ending in search.timeout",
                "For 10 minutes 10% of the requests whose flow times out with search.timeout "
                "have ended in it: the service that replies to them is too slow or too far "
                "behind for that share. Near 100% it is down, scaled to zero, or failing "
                "without a failure reply.",
            ),
        ),
        _case(
            "few resumes, over a quarter unrecovered, are no alert",
            [
                _series("nexus_gateway_resumes_total", "0+0.25x40", **pod, recovered="true"),
                _series("nexus_gateway_resumes_total", "0+0.1x40", **pod, recovered="false"),
            ],
            _quiet("NexusGatewayResumesNotRecovered", "35m"),
        ),
        _case(
            "resumes that miss events",
            [
                _series("nexus_gateway_resumes_total", "0+10x30", **pod, recovered="true"),
                _series("nexus_gateway_resumes_total", "0+5x30", **pod, recovered="false"),
            ],
            _quiet("NexusGatewayResumesNotRecovered", "15m"),
            _fires(
                "NexusGatewayResumesNotRecovered",
                "17m",
                {**warning, **ns},
                "Resuming clients miss events",
                "33.33% of resumes (of at least 10 in 15 minutes) were answered recovered=false: "
                "their position is older than the clients or system topic's retention, or from "
                "another topic layout.",
            ),
        ),
    ]
    passes_promtool(tmp_path, tests)


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def test_the_dashboard_ships_whole_in_a_configmap_for_grafana_s_sidecar() -> None:
    docs = render(scenario("monitoring"))
    config = find(docs, "ConfigMap", f"{RELEASE}-nexus-mesh-dashboard")
    assert config["metadata"]["namespace"] == "monitoring"
    assert config["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config["metadata"]["annotations"] == {"grafana_folder": "Nexus Mesh"}
    shipped = shipped_board(config)
    assert shipped["title"] == f"Nexus Mesh ({NAMESPACE}/{RELEASE})"
    assert shipped.pop("uid") != dashboard().pop("uid")
    # Its gateway panels read this release's gateways only (their ServiceMonitor's job).
    variables = {v["name"]: v for v in shipped["templating"]["list"]}
    assert variables["gateway_job"]["query"] == f"{RELEASE}-nexus-mesh-gateway-admin"
    variables["gateway_job"]["query"] = ".+"  # as in the file, for the comparison below
    assert {k: v for k, v in shipped.items() if k != "title"} == {
        k: v for k, v in dashboard().items() if k not in {"uid", "title"}
    }
    assert not [
        d for d in render() if d["kind"] in {"PrometheusRule"} or "dashboard" in str(d["metadata"])
    ], "both stay off by default"


def shipped_board(config: dict[str, Any]) -> dict[str, Any]:
    """The dashboard of a rendered ConfigMap: its one key's JSON."""
    ((key, text),) = config["data"].items()
    assert key.endswith(".json"), key
    board: dict[str, Any] = json.loads(text)
    return board


def test_releases_sharing_a_grafana_keep_their_dashboards_apart() -> None:
    """Grafana's sidecar writes each ConfigMap key to a file of that name, in one folder for
    every ConfigMap it loads, and deletes the file when its ConfigMap goes: one key for every
    release (nexus-mesh.json) made two releases overwrite each other's dashboard, and
    uninstalling one delete the other's. So the key (a valid ConfigMap key, [-._a-zA-Z0-9],
    at most 253 characters), the uid and the title are each release's own: another release
    of the namespace, and one of the same name in another namespace (before Grafana 11.3 a
    title repeated in a folder stops the sidecar's provisioning altogether)."""
    releases = [(NAMESPACE, RELEASE), (NAMESPACE, "other"), ("team-b", RELEASE)]
    keys, uids, titles = set(), set(), set()
    for namespace, release in releases:
        config = find(
            render(scenario("monitoring"), release=release, namespace=namespace),
            "ConfigMap",
            f"{release}-nexus-mesh-dashboard",
        )
        ((key, _),) = config["data"].items()
        assert key == f"{namespace}_{release}-nexus-mesh.json"
        assert re.fullmatch(r"[-._a-zA-Z0-9]{1,253}", key), key
        board = shipped_board(config)
        keys.add(key)
        uids.add(board["uid"])
        titles.add(board["title"])
    assert len(keys) == len(uids) == len(titles) == len(releases)
    # Helm's longest release name in the longest namespace name.
    docs = render(scenario("monitoring"), release="r" * 53, namespace="n" * 63)
    (longest,) = [
        d
        for d in find_all(docs, "ConfigMap")
        if d["metadata"]["labels"].get("app.kubernetes.io/component") == "dashboard"
    ]
    ((key, _),) = longest["data"].items()
    assert re.fullmatch(r"[-._a-zA-Z0-9]{1,253}", key), key


def test_the_readme_says_how_releases_keep_their_dashboards_apart() -> None:
    readme = " ".join((CHART / "README.md").read_text().split())
    assert "(`<namespace>_<fullname>.json`)" in readme
    assert "two releases feeding one Grafana, in one namespace or in several, do not mix" in readme


def test_the_upgrade_notes_say_how_to_clear_the_0_3_0_dashboard_file() -> None:
    """0.4.0 renamed the dashboard's ConfigMap key from nexus-mesh.json. Grafana's sidecar
    (k8s-sidecar) removes the old key's file only if it saw the change (its record of what it
    wrote is in memory, and it does not clear its folder at start), and the leftover file has
    the same uid as the new one: the notes say so, and how to clear it."""
    text = (CHART / "README.md").read_text()
    notes = " ".join(
        text[text.index("From 0.3.0 to 0.4.0") : text.index("From 0.2.0 to 0.3.0")].split()
    )
    for said in (
        "may leave the old key's file, `nexus-mesh.json`, beside the new one",
        "only if it saw the ConfigMap before and after the change",
        "lost when its container restarts, and it does not clear its folder when it starts",
        "The leftover file holds the same dashboard uid as the new one",
        "delete `nexus-mesh.json` there, or restart Grafana's pod",
        "the Grafana Helm chart makes that folder an `emptyDir`",
    ):
        assert said in notes, said


def _panels() -> list[dict[str, Any]]:
    return [p for p in dashboard()["panels"] if p["type"] != "row"]


def test_every_dashboard_query_is_valid_promql_on_exported_series(tmp_path: Path) -> None:
    """Each panel query, with Grafana's variables given values, checked by promtool as a
    recording rule; and every series it reads is one the mesh exports."""
    exported = exported_series()
    records = []
    assert _panels(), "the dashboard has no panel"
    for panel in _panels():
        for target in panel["targets"]:
            expr = target["expr"]
            assert not metric_names(expr) - exported, (panel["title"], expr)
            concrete = (
                expr.replace("$__rate_interval", "2m")
                .replace("$namespace", NAMESPACE)
                .replace("$gateway_job", GATEWAY_JOB)
            )
            record = f"dashboard:panel_{panel['id']}_{target['refId']}"
            records.append({"record": record, "expr": concrete})
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": records}]}))
    checked = promtool("check", "rules", str(path))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_dashboard_layout_and_variables_hold_together() -> None:
    board = dashboard()
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    panels = board["panels"]
    assert len({p["id"] for p in panels}) == len(panels), "panel ids are unique"
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps another panel"
                cells.add((x, y))
        if panel["type"] == "row":
            continue
        assert panel["description"], panel["title"]
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        for target in panel["targets"]:
            assert 'namespace="$namespace"' in target["expr"], panel["title"]
            if "nexus_gateway_" in target["expr"]:
                # Two releases in one namespace: each dashboard shows its own gateways.
                assert 'job=~"$gateway_job"' in target["expr"], panel["title"]
    assert variables["gateway_job"]["type"] == "constant"


def test_the_notes_say_where_the_alerts_and_the_dashboard_are(tmp_path: Path) -> None:
    notes = render_notes(tmp_path, "-f", str(CHART / "ci" / "monitoring-values.yaml"))
    assert f"Alerts: PrometheusRule {RELEASE}-nexus-mesh in {NAMESPACE}" in notes
    assert (
        f'Dashboard: "Nexus Mesh ({NAMESPACE}/{RELEASE})", ConfigMap '
        f"{RELEASE}-nexus-mesh-dashboard in monitoring"
    ) in notes
    assert "Alerts:" not in render_notes(tmp_path / "default"), "nothing when they are off"
