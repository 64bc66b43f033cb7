"""The measured runs: closed-loop ``search`` or ``emit`` traffic over many sessions against a
fresh mesh per run, modes alternating, with the CPU the gateway and the service used."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from dataclasses import dataclass

import aiohttp

from bench.harness.procstat import cpu_seconds
from bench.tracing_overhead.mesh import MODES, Bench
from nexus_mesh.client import MeshClient

QUERIES = ("password reset", "invoice", "refund policy", "two-step verification", "ticket")


@dataclass
class Run:
    workload: str
    mode: str
    round: int
    done: int
    seconds: float
    spans: int = 0
    cpu: tuple[float, float] = (0.0, 0.0)
    """CPU seconds of the gateway and of the search service over the measured window."""
    offered: float | None = None
    """Interactions per second offered in all for a paced run; None for a saturating one."""

    @property
    def rate(self) -> float:
        return self.done / self.seconds

    def cpu_us(self, which: int) -> float:
        """CPU microseconds per interaction of the gateway (0) or the service (1)."""
        return self.cpu[which] / max(1, self.done) * 1e6


async def load(
    url: str,
    workload: str,
    clients: int,
    warmup: float,
    seconds: float,
    pids: list[int],
    rate: float | None = None,
) -> tuple[int, tuple[float, float]]:
    """Closed-loop traffic: interactions completed in the measured window, and the CPU
    seconds the gateway and the service used meanwhile.

    With ``rate``, each session paces itself to ``rate / clients`` interactions per second
    (still one at a time), so traced and untraced runs face the same load and batch alike.
    """
    counting = False
    interval = clients / rate if rate else 0.0
    done = 0
    stop = asyncio.Event()

    async def one(session: aiohttp.ClientSession, index: int) -> None:
        nonlocal done
        campaign = f"c{index}"
        async with MeshClient.connect(
            url, campaign_id=campaign, user_id=f"u{index}", session=session
        ) as client:
            turn = 0
            loop = asyncio.get_running_loop()
            # Spread the sessions over one interval so that paced load arrives evenly.
            due = loop.time() + interval * index / clients
            while not stop.is_set():
                turn += 1
                if interval:
                    # Pacing a load generator, not synchronising a test: the schedule is
                    # the point, and a session that falls behind simply does not wait.
                    await asyncio.sleep(max(0.0, due - loop.time()))
                    due += interval
                if workload == "search":
                    reply = await client.request("search", {"query": QUERIES[turn % len(QUERIES)]})
                    assert reply.type == "search.completed", reply
                else:
                    await client.emit("chat.message", {"text": f"message {turn}"})
                if counting:
                    done += 1

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        tasks = [asyncio.create_task(one(session, i)) for i in range(clients)]
        try:
            await asyncio.sleep(warmup)
            before = [cpu_seconds(pid) or 0.0 for pid in pids]
            counting = True
            await asyncio.sleep(seconds)
            counting = False
            after = [cpu_seconds(pid) or 0.0 for pid in pids]
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
        finally:
            for task in tasks:
                task.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.gather(*tasks, return_exceptions=True)
    return done, (after[0] - before[0], after[1] - before[1])


async def measure(args: argparse.Namespace, bench: Bench) -> list[Run]:
    """Saturating rounds over every workload and mode, then the paced rounds ``--paced``
    asks for (traced against untraced at one offered rate per workload)."""
    runs: list[Run] = []
    plan: list[tuple[int, str, str, float | None]] = []
    modes = [m for m in MODES if m in args.modes]
    paced_modes = [m for m in modes if m in ("traced", "untraced")]
    # Round -1 is measured and thrown away: the first runs on a fresh broker were 9-45%
    # slower (whatever the mode), which would decide the median of whichever mode went first.
    for workload in args.workloads if args.warmup_round else ():
        plan += [(-1, workload, mode, None) for mode in modes]
    for round_ in range(args.rounds):
        for workload in args.workloads:
            order = modes if round_ % 2 == 0 else list(reversed(modes))
            plan += [(round_, workload, mode, None) for mode in order]
    for round_ in range(args.rounds):
        for workload, rate in args.paced.items():
            order = paced_modes if round_ % 2 == 0 else list(reversed(paced_modes))
            plan += [(round_, workload, mode, rate) for mode in order]
    for round_, workload, mode, rate in plan:
        url = await bench.start_mesh(mode)
        spans_before = bench.receiver.spans
        pids = [child.pid for child in bench.children]
        try:
            done, cpu = await load(
                url, workload, args.clients, args.warmup, args.seconds, pids, rate
            )
        finally:
            # Stopping flushes the exporters: the spans of the window are all in.
            await asyncio.to_thread(bench.stop_mesh)
        run = Run(workload, mode, round_, done, args.seconds, cpu=cpu, offered=rate)
        run.spans = bench.receiver.spans - spans_before
        if round_ >= 0:
            runs.append(run)
        print(
            ("warm-up " if round_ < 0 else f"round {round_} ")
            + f"{workload:6} {mode:10} "
            + (f"paced {rate:6.0f}/s " if rate else "")
            + f"{run.rate:8.1f}/s"
            f"  gateway {run.cpu_us(0):5.0f} us, service {run.cpu_us(1):5.0f} us CPU"
            + (f"  ({run.spans} spans)" if mode != "untraced" else ""),
            flush=True,
        )
    return runs
