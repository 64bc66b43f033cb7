"""How ``nexus status`` prints the gateway pods: an aligned table, or JSON for scripts."""

from __future__ import annotations

import json
from collections.abc import Sequence

from nexus_mesh.operator.gateways import GatewayPod

COLUMNS = ("POD", "STATE", "CONNECTIONS", "CAMPAIGNS", "PARTITIONS", "LAG", "PENDING")


def _row(pod: GatewayPod) -> tuple[str, ...]:
    stats = pod.stats
    if stats is None:
        return (pod.name, pod.state, "-", "-", "-", "-", "-")
    return (
        pod.name,
        pod.state,
        str(stats.connections),
        str(stats.campaigns),
        str(len(stats.assigned_partitions)),
        str(stats.total_lag),
        str(stats.pending_requests),
    )


def render_status_table(pods: Sequence[GatewayPod]) -> str:
    """One line per pod under a header, then a total line and any per-pod errors."""
    rows = [COLUMNS, *(_row(pod) for pod in pods)]
    with_stats = [pod.stats for pod in pods if pod.stats is not None]
    rows.append(
        (
            "TOTAL",
            f"{sum(1 for pod in pods if pod.state == 'ready')}/{len(pods)} ready",
            str(sum(s.connections for s in with_stats)),
            "",
            str(sum(len(s.assigned_partitions) for s in with_stats)),
            str(sum(s.total_lag for s in with_stats)),
            str(sum(s.pending_requests for s in with_stats)),
        )
    )
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.extend(f"{pod.name}: {pod.error}" for pod in pods if pod.error)
    return "\n".join(lines)


def render_status_json(pods: Sequence[GatewayPod]) -> str:
    """The same facts as the table, with the partition list and per-partition lag."""
    document = [
        {
            "pod": pod.name,
            "phase": pod.phase,
            "state": pod.state,
            "node": pod.node,
            "pod_ready": pod.pod_ready,
            "error": pod.error,
            "stats": None
            if pod.stats is None
            else {
                "instance": pod.stats.instance,
                "connections": pod.stats.connections,
                "campaigns": pod.stats.campaigns,
                "assigned_partitions": list(pod.stats.assigned_partitions),
                "consumer_lag": dict(pod.stats.consumer_lag),
                "total_lag": pod.stats.total_lag,
                "pending_requests": pod.stats.pending_requests,
                "ready": pod.stats.ready,
                "draining": pod.stats.draining,
            },
        }
        for pod in pods
    ]
    return json.dumps(document, indent=2, sort_keys=True)
