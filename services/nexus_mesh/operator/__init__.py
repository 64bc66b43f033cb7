"""Operator commands for a Nexus Mesh release running in Kubernetes.

``nexus status`` and ``nexus drain`` talk to the cluster with the official ``kubernetes``
client and reach each gateway pod's admin listener through the API server's pod proxy, so an
operator needs no port-forward, only a kubeconfig whose identity may get/list pods and
get/create ``pods/proxy`` in the release's namespace (the chart's ``operatorRbac`` renders
that Role). ``python -m nexus_mesh.operator.roundtrip`` is the chart's ``helm test``.
"""

from nexus_mesh.operator.gateways import (
    DEFAULT_ADMIN_PORT,
    DrainResult,
    GatewayPod,
    GatewayStats,
    drain_gateway,
    gateway_selector,
    gateway_status,
    wait_until_drained,
)
from nexus_mesh.operator.kube import Cluster, OperatorError, connect
from nexus_mesh.operator.report import render_status_json, render_status_table

__all__ = [
    "DEFAULT_ADMIN_PORT",
    "Cluster",
    "DrainResult",
    "GatewayPod",
    "GatewayStats",
    "OperatorError",
    "connect",
    "drain_gateway",
    "gateway_selector",
    "gateway_status",
    "render_status_json",
    "render_status_table",
    "wait_until_drained",
]
