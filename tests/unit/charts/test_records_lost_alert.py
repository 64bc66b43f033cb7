"""NexusGatewayRecordsLost: records deleted from Kafka before a gateway delivered them page,
run by promtool as the chart's other alerts are (tests/unit/charts/test_monitoring.py)."""

from __future__ import annotations

from pathlib import Path

from helm_chart import NAMESPACE
from test_monitoring import GATEWAY_JOB, _case, _fires, _quiet, _series, passes_promtool


def test_records_lost_fire_per_pod_and_topic_and_not_while_the_counter_stands_still(
    tmp_path: Path,
) -> None:
    pod = {"namespace": NAMESPACE, "job": GATEWAY_JOB, "pod": "gw-0"}
    clients, system = "nexus.clients", "nexus.system"
    tests = [
        _case(
            "records deleted before delivery; none while the counter stands still",
            [
                _series(
                    "nexus_gateway_records_lost_total", "0 0 0 0 0 6+0x15", **pod, topic=clients
                ),
                _series("nexus_gateway_records_lost_total", "0+0x20", **pod, topic=system),
            ],
            _quiet("NexusGatewayRecordsLost", "4m"),
            _fires(
                "NexusGatewayRecordsLost",
                "7m",
                {"severity": "warning", "namespace": NAMESPACE, "pod": "gw-0", "topic": clients},
                f"Records of {clients} were deleted before gw-0 delivered them",
                f"gw-0 fell behind the log start of {clients} and lost 6 records in 10 "
                "minutes: Kafka deleted them (retention.bytes or a short retention.ms on a busy "
                "partition, a delete-records) before the pod read them. Their clients were "
                "closed with 1001 and resumed with recovered=false. The gateway's log names "
                "each partition and offset range; give the topic more retention, or the pods "
                "more CPU.",
            ),
            # Out of the 10-minute window again: quiet.
            _quiet("NexusGatewayRecordsLost", "16m"),
        )
    ]
    passes_promtool(tmp_path, tests)
