"""The replay deadline in the chart: gateway.config.replayTimeoutSeconds reaches the gateways
as NEXUS_GATEWAY_REPLAY_TIMEOUT_S (60 s also for values of a release older than it), and
NexusGatewayReplaysUnfinished pages on resumes whose replay did not finish, run by promtool
as the chart's other alerts are (tests/unit/charts/test_monitoring.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from helm_chart import CHART, NAMESPACE, RELEASE, config_data, render, render_fails, run_helm
from test_monitoring import GATEWAY_JOB, _case, _fires, _quiet, _series, passes_promtool

from nexus_mesh.settings import NexusSettings


def test_the_replay_timeout_reaches_the_gateways_and_must_be_positive() -> None:
    assert config_data(render())["NEXUS_GATEWAY_REPLAY_TIMEOUT_S"] == "60"
    assert NexusSettings().gateway_replay_timeout_s == 60.0, "the chart's default is the code's"
    docs = render(set_values=("gateway.config.replayTimeoutSeconds=7",))
    assert config_data(docs)["NEXUS_GATEWAY_REPLAY_TIMEOUT_S"] == "7"
    error = render_fails(set_values=("gateway.config.replayTimeoutSeconds=0",))
    assert "replayTimeoutSeconds" in error


def test_values_of_a_release_without_the_replay_timeout_render_60_s(tmp_path: Path) -> None:
    """`helm upgrade --reuse-values` from a release whose values lack it."""
    chart = tmp_path / "nexus-mesh"
    shutil.copytree(CHART, chart)
    values = yaml.safe_load((chart / "values.yaml").read_text())
    del values["gateway"]["config"]["replayTimeoutSeconds"]
    (chart / "values.yaml").write_text(yaml.safe_dump(values))
    rendered = run_helm("template", RELEASE, str(chart), "--namespace", NAMESPACE)
    assert rendered.returncode == 0, rendered.stderr
    docs = [doc for doc in yaml.safe_load_all(rendered.stdout) if doc]
    assert config_data(docs)["NEXUS_GATEWAY_REPLAY_TIMEOUT_S"] == "60"


def test_unfinished_replays_fire_per_pod_and_reason_but_not_for_clients_that_left(
    tmp_path: Path,
) -> None:
    pod = {"namespace": NAMESPACE, "job": GATEWAY_JOB, "pod": "gw-0"}
    name = "nexus_gateway_replays_unfinished_total"
    description = (
        "{n} resumes on gw-0 in 10 minutes were welcomed recovered but their replay did not "
        "finish ({reason}): their clients were closed with 1001 and resume again. "
        "slot_timeout: more resumes at once than the pod's replay slots serve within "
        "gateway.config.replayTimeoutSeconds (a resume storm: more pods, or "
        "NEXUS_GATEWAY_REPLAY_SLOTS); replay_timeout: a replay took longer than that once it "
        "had a slot (a large gap, slow Kafka); kafka_error: Kafka could not serve it; failed: "
        "a fault of the gateway's own. The gateway's log says why for each (\"replay for "
        'connection ... did not finish").'
    )
    tests = [
        _case(
            "a resume storm past the pod's replay slots; clients leaving are no alert",
            [
                _series(name, "0 0 0 0 0 249+0x15", **pod, reason="slot_timeout"),
                _series(name, "0+0x20", **pod, reason="replay_timeout"),
                _series(name, "0+0x20", **pod, reason="kafka_error"),
                _series(name, "0+0x20", **pod, reason="failed"),
                _series(name, "0+30x20", **pod, reason="gone"),
            ],
            _quiet("NexusGatewayReplaysUnfinished", "4m"),
            _fires(
                "NexusGatewayReplaysUnfinished",
                "7m",
                {"severity": "warning", "namespace": NAMESPACE, "pod": "gw-0"}
                | {"reason": "slot_timeout"},
                "Resumes on gw-0 do not finish their replay (slot_timeout)",
                description.format(n=249, reason="slot_timeout"),
            ),
            # Out of the 10-minute window again: quiet, though clients keep leaving.
            _quiet("NexusGatewayReplaysUnfinished", "16m"),
        )
    ]
    passes_promtool(tmp_path, tests)
