"""The chaos itself, on the schedule: SIGKILL gateway A and restart it; SIGKILL the broker
leading the most of the campaigns' partitions (and gateway B during that outage) and restart
them; SIGTERM gateway B (a drain) and restart it. After a gateway restart its own clients
move back home."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING

from bench.chaos.client import ChaosClient
from bench.chaos.pause import Pause
from nexus_mesh.kafka.partitioning import campaign_partition

if TYPE_CHECKING:
    from bench.chaos.run import ChaosRun


class Faults:
    def __init__(self, run: ChaosRun) -> None:
        self.run = run
        self.pause = Pause()
        # Monotonic windows: before any fault (the baseline) and while the broker was down.
        self.calm = (0.0, 0.0)
        self.broker_window = (0.0, 0.0)

    async def restart_gateway(self, index: int) -> None:
        run = self.run
        gateway = run.gateways[index]
        await asyncio.to_thread(gateway.spawn)
        assert run.session is not None
        await gateway.wait_ready(run.session)
        run.counters.restarts += 1
        run.timeline.note(f"gateway {gateway.name} restarted on the same ports")
        await asyncio.sleep(1.0)
        # Its own clients move back, spread over a second or two.
        homecomers = [c for c in run.clients if c.home == index and c.gateway != index]

        async def move(client: ChaosClient, delay: float) -> None:
            await asyncio.sleep(delay)
            await client.migrate_home()

        await asyncio.gather(
            *(move(c, 2.0 * i / max(1, len(homecomers))) for i, c in enumerate(homecomers))
        )
        run.timeline.note(f"{len(homecomers)} clients moved back to gateway {gateway.name}")

    async def kill_gateway(self, index: int) -> None:
        gateway = self.run.gateways[index]
        pid = gateway.pid
        await asyncio.to_thread(gateway.signal, signal.SIGKILL, 30)
        self.run.counters.gateway_kills += 1
        self.run.timeline.note(f"SIGKILL gateway {gateway.name} (pid {pid})")

    async def inject(self) -> None:
        run = self.run
        mesh = run.mesh
        schedule = run.schedule
        t0 = run.traffic_t0

        async def at(offset: float) -> None:
            await asyncio.sleep(max(0.0, t0 + offset - time.monotonic()))

        # 1. Crash gateway A, restart it on the same ports.
        await at(schedule.gateway_kill)
        await self.kill_gateway(0)
        await asyncio.sleep(run.config.gateway_down_s)
        await self.restart_gateway(0)

        # 2. Crash the broker that leads the most of the campaigns' partitions.
        await at(schedule.broker_kill)
        leaders = await mesh.leaders()
        wanted = Counter(
            leaders[campaign_partition(c, run.config.clients_partitions)] for c in run.campaigns
        )
        broker = wanted.most_common(1)[0][0]
        led = sorted(p for p, leader in leaders.items() if leader == broker)
        calm_end = time.monotonic()
        kill_wall = datetime.now()  # local time, as the brokers' logs write it
        await asyncio.to_thread(mesh.kafka.kill_node, broker)
        killed_at = time.monotonic()
        run.counters.broker_kills += 1
        run.timeline.note(
            f"SIGKILL broker {broker} (leader of {mesh.prefix}.clients partitions {led}; "
            f"leaders were {dict(sorted(leaders.items()))})"
        )
        if schedule.gateway_kill_in_outage is not None:
            await at(schedule.gateway_kill_in_outage)
            await self.kill_gateway(1)
        await at(schedule.broker_restart)
        await asyncio.to_thread(mesh.kafka.restart_node, broker, timeout=120)
        restarted_at = time.monotonic()
        run.counters.restarts += 1
        run.timeline.note(f"broker {broker} restarted; leaders now {await mesh.leaders()}")
        if schedule.gateway_kill_in_outage is not None:
            await self.restart_gateway(1)
        fenced_after, controller_moved = mesh.fencing(broker, kill_wall)
        self.pause = Pause(
            broker=broker,
            window_s=(killed_at - t0, restarted_at - t0),
            led_partitions=led,
            fenced_after_s=fenced_after,
            controller_moved=controller_moved,
        )
        if fenced_after is not None:
            run.timeline.note(
                f"(broker logs: broker {broker} was fenced {fenced_after:.1f} s after the kill"
                + ("; it had been the active controller" if controller_moved else "")
                + ")"
            )
        self.calm = (t0 + 2.0, min(calm_end, t0 + schedule.gateway_kill) - 0.5)
        self.broker_window = (killed_at, restarted_at)

        # 3. Drain gateway B (SIGTERM), restart it once it exited.
        await at(schedule.gateway_drain)
        gateway = run.gateways[1]
        run.counters.gateway_drains += 1
        run.timeline.note(f"SIGTERM gateway {gateway.name}: drain")
        code = await asyncio.to_thread(gateway.signal, signal.SIGTERM, 30)
        run.timeline.note(f"gateway {gateway.name} exited with {code} after draining")
        await asyncio.sleep(max(0.0, run.config.gateway_down_s - 2))
        await self.restart_gateway(1)
