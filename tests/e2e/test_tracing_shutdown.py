"""A gateway whose trace collector is unreachable still stops in time on SIGTERM.

Spans queued for a collector that is down must not hold the process past its grace period:
losing them is acceptable, being SIGKILLed mid-exit is not. The chart gives the exporter
``OTEL_BSP_EXPORT_TIMEOUT`` (3 s by default) inside the drain margin; the test uses 2 s.
Without it the SDK's default of 30 s applies and a down collector keeps the gateway for
several seconds of export retries after its drain.
"""

from __future__ import annotations

import os
import signal
import time

from mesh_processes import Mesh
from nexus_mesh.client import MeshClient
from nexus_mesh.localkafka.cluster import free_port


async def test_sigterm_with_an_unreachable_collector_exits_within_the_export_budget(
    mesh: Mesh,
) -> None:
    nobody = free_port()  # nothing listens here: every export is refused and retried
    gateway = mesh.gateway(
        NEXUS_GATEWAY_DRAIN_TIMEOUT_S="5",
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{nobody}",
        OTEL_TRACES_SAMPLER="always_on",
        OTEL_BSP_EXPORT_TIMEOUT="2000",
    )
    assert gateway.url
    async with MeshClient.connect(
        gateway.url, campaign_id="A", user_id="u1", token=mesh.token("u1", ["A"])
    ) as client:
        for i in range(20):
            await client.emit("chat.message", {"text": str(i)})
    began = time.monotonic()
    os.kill(gateway.process.pid, signal.SIGTERM)
    assert gateway.process.wait(timeout=60) == 0
    # No client is left to drain: what remains is the 2 s export budget and process exit
    # (~3 s here); an exporter retrying past its budget held the exit for 30 s. The margin is
    # for a busy machine, well short of that.
    assert time.monotonic() - began < 15.0
