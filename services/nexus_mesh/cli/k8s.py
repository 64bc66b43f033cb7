"""``nexus status`` and ``nexus drain POD``: operate a release running in Kubernetes.

Both read the kubeconfig like kubectl (``--kubeconfig``, else ``$KUBECONFIG``, else
``~/.kube/config``; in a pod, its service account) and reach each gateway's admin listener
through the API server's pod proxy. The identity needs get/list on pods and get/create on
pods/proxy in the release's namespace, and for ``drain`` get on the Secret the gateways'
admin token comes from; see the chart README's "RBAC for operators".
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from nexus_mesh.cli.argtypes import fixed_port, seconds

DEFAULT_RELEASE_ENV = "NEXUS_RELEASE"


def _cluster_arguments(parser: argparse.ArgumentParser) -> None:
    from nexus_mesh.operator.gateways import DEFAULT_ADMIN_PORT

    parser.add_argument(
        "-n",
        "--namespace",
        help="the release's namespace (default: the kubeconfig context's, else 'default')",
    )
    parser.add_argument("--kubeconfig", metavar="PATH", help="kubeconfig file (default: kubectl's)")
    parser.add_argument("--context", help="kubeconfig context (default: the current one)")
    parser.add_argument(
        "--admin-port",
        type=fixed_port,
        default=DEFAULT_ADMIN_PORT,
        help=f"the gateways' admin port, the chart's gateway.adminPort (default: "
        f"{DEFAULT_ADMIN_PORT})",
    )


def register(subparsers: Any) -> None:
    from nexus_mesh.operator.gateways import DEFAULT_RELEASE

    status = subparsers.add_parser(
        "status",
        help="list a release's gateway pods with connections, partitions and lag",
        description="List the gateway pods of a Helm release with what each pod's /stats "
        "reports (read through the API server's pod proxy).",
    )
    status.add_argument(
        "--release",
        default=os.environ.get(DEFAULT_RELEASE_ENV, DEFAULT_RELEASE),
        help=f"the Helm release name (default: ${DEFAULT_RELEASE_ENV}, else {DEFAULT_RELEASE})",
    )
    status.add_argument(
        "-o", "--output", choices=("table", "json"), default="table", help="output format"
    )
    _cluster_arguments(status)
    status.set_defaults(handler=_status)

    drain = subparsers.add_parser(
        "drain",
        help="ask one gateway pod to drain before maintenance",
        description="POST /drain to one gateway pod: it turns not-ready, stops accepting and "
        "closes its clients with 1001 so they resume on other pods. Delete or evict the pod "
        "afterwards (or pass --wait to wait until it holds no connection).",
    )
    drain.add_argument("pod", metavar="POD", help="the gateway pod's name")
    drain.add_argument(
        "--wait",
        type=seconds,
        default=0.0,
        metavar="SECONDS",
        help="then wait up to SECONDS until the pod holds no connection (default: don't wait)",
    )
    _cluster_arguments(drain)
    drain.set_defaults(handler=_drain)


def _status(args: argparse.Namespace) -> int:
    from nexus_mesh.operator import connect, gateway_status
    from nexus_mesh.operator.report import render_status_json, render_status_table

    with connect(kubeconfig=args.kubeconfig, context=args.context, namespace=args.namespace) as c:
        pods = gateway_status(c, args.release, admin_port=args.admin_port)
        namespace = c.namespace
    if not pods:
        # On stderr: with -o json, stdout stays a JSON document (an empty list) for scripts.
        print(
            f"no gateway pods of release {args.release!r} in namespace {namespace} "
            f"(selector {_selector(args.release)}); check --release and --namespace",
            file=sys.stderr,
        )
        if args.output == "json":
            print(render_status_json(pods))
        return 1
    print(render_status_json(pods) if args.output == "json" else render_status_table(pods))
    return 1 if any(pod.error for pod in pods) else 0


def _selector(release: str) -> str:
    from nexus_mesh.operator import gateway_selector

    return gateway_selector(release)


def _drain(args: argparse.Namespace) -> int:
    from nexus_mesh.operator import connect, drain_gateway, wait_until_drained

    with connect(kubeconfig=args.kubeconfig, context=args.context, namespace=args.namespace) as c:
        result = drain_gateway(c, args.pod, admin_port=args.admin_port)
        if not result.draining:
            print(f"pod {args.pod} did not confirm the drain: {dict(result.body)}")
            return 1
        print(
            f"pod {args.pod} is draining: it is no longer ready and closes its clients with "
            "1001; they resume on the other pods"
        )
        if args.wait > 0:
            stats = wait_until_drained(c, args.pod, timeout_s=args.wait, admin_port=args.admin_port)
            if stats is None:
                print(f"pod {args.pod} has stopped")
            else:
                print(f"pod {args.pod} holds no connection; it can be deleted or evicted now")
    return 0
