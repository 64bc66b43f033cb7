"""Whether a local cluster's brokers answer: the readiness probe of ``LocalKafka.start``."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from nexus_mesh.localkafka.state import LOOPBACK, ClusterState


async def every_node_answers(state: ClusterState, timeout: float) -> bool:
    """True when each node answers on its own port and sees the whole cluster.

    Asking one address for the broker count is not enough: a killed broker stays in the
    cluster's metadata until the controller fences it (seconds later), so right after a
    crash the survivors still count it, and a restarted node would look ready before it is.
    """
    # Refused connections are expected while a broker boots; aiokafka logs each as ERROR.
    # Quieted here, once, not in each concurrent probe: restoring the level from several
    # overlapping probes would leave it at whatever one of them saw.
    quiet = logging.getLogger("aiokafka")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        counts = await asyncio.gather(
            *(_brokers_answering(f"{LOOPBACK}:{node.broker_port}", timeout) for node in state.nodes)
        )
    finally:
        quiet.setLevel(level)
    return all(count >= len(state.nodes) for count in counts)


async def _brokers_answering(bootstrap: str, timeout: float) -> int:
    """How many brokers a metadata request reports (0 when none answers).

    The admin client bootstraps from ``bootstrap`` alone, so a non-zero count also means
    that very address answered.
    """
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout)
        described = await asyncio.wait_for(admin.describe_cluster(), timeout)
        return len(described.get("brokers", []))
    except Exception:
        return 0
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
