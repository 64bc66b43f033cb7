"""The "Reading the numbers" notes: observations computed from one run's numbers."""

from __future__ import annotations

import math
import os

from bench.harness.procstat import OTHER
from bench.harness.report import fmt
from bench.harness.stats import median, percentile, round_sig
from bench.mainflow.fanout import FanoutRun
from bench.mainflow.mesh import CLIENT
from bench.mainflow.search import SearchRun


def notes(
    search: list[SearchRun], knee: list[SearchRun], burst: list[FanoutRun], paced: list[FanoutRun]
) -> list[str]:
    """Observations computed from this run's numbers (nothing here is hard-coded)."""
    cores = os.cpu_count() or 0
    lines = [
        "### Reading the numbers",
        "",
        f"- Everything shares {cores} cores: the broker (JVM), the gateway, the search "
        "service and the bench client, a single Python event loop. The client is not free: "
        f"its CPU is in the tables and it takes cores the gateway could use. *{OTHER}* is "
        "busy CPU no process of the bench accounts for (other work on the machine, kernel "
        "softirq); when it is large the run was disturbed.",
    ]
    all_windows = [r.cpu for r in [*search, *knee] if r.cpu is not None]
    all_windows += [r.cpu for r in [*burst, *paced]]
    disturbed = max((w.cores(OTHER) or 0.0 for w in all_windows), default=0.0)
    if disturbed > 0.3:
        lines.append(
            f"- Up to {disturbed:.2f} cores went to {OTHER} in some window: compare runs with "
            "a small value there."
        )
    if search:
        rate = search[0].offered_rate
        achieved = median([r.achieved_rate for r in search])
        to_service = median([percentile(sorted(r.to_service_ms), 50) for r in search])
        back = median([percentile(sorted(r.back_ms), 50) for r in search])
        ack = median([r.produce_ms for r in search])
        service = median([(r.cpu.cores("search service") or math.nan) for r in search if r.cpu])
        gateway = median([(r.cpu.cores("gateway") or math.nan) for r in search if r.cpu])
        lines.append(
            f"- Search at {rate:g}/s: {achieved:.1f} replies/s. Of the p50 round trip, "
            f"{fmt(to_service, '.1f')} ms pass before the service builds the reply (the "
            f"gateway's acks=all write took {fmt(ack, '.1f')} ms on average) and "
            f"{fmt(back, '.1f')} ms from there to the client. The gateway used "
            f"{fmt(gateway)} cores, the search service {fmt(service)}."
        )
        if knee:
            points = [(rate, to_service, ack, achieved)]
            points += [
                (
                    r.offered_rate,
                    percentile(sorted(r.to_service_ms), 50),
                    r.produce_ms,
                    r.achieved_rate,
                )
                for r in knee
            ]
            lines.append(
                "- The part before the service's reply, and the gateway's write, as the "
                "rate moves: "
                + ", ".join(
                    f"{r:g}/s: {t:.1f} ms (write {fmt(w, '.1f')} ms, {a:.0f} replies/s)"
                    for r, t, w, a in sorted(points)
                )
                + f" ({rate:g}/s: medians of the runs)."
            )
        waits = [
            r
            for r in [*search, *knee]
            if percentile(sorted(r.to_service_ms), 50) > 4 * max(r.produce_ms, 1.0)
        ]
        if waits:
            worst = max(waits, key=lambda r: percentile(sorted(r.to_service_ms), 50))
            svc = worst.cpu.cores("search service") if worst.cpu else None
            lines.append(
                f"- Where requests wait: in the search service, which used only {fmt(svc)} "
                f"cores at {worst.offered_rate:g}/s (to service p50 "
                f"{percentile(sorted(worst.to_service_ms), 50):.0f} ms): it waits rather than "
                "computes. The service SDK handles one campaign's requests one after "
                "another, in order, and a handler awaits its reply's acks=all write before "
                "the campaign's next request starts (`nexus_mesh/service/lanes.py`). A "
                "campaign therefore gets at most about 1 / (write + handling time) "
                "requests/s, and the busiest campaign (see above) sets the limit; the write "
                "time grows when the machine is busy, which is when this round trip "
                "degrades first."
            )
    if burst:
        gw = median([(r.cpu.cores("gateway") or math.nan) for r in burst])
        client = median([(r.cpu.cores(CLIENT) or math.nan) for r in burst])
        us_gw = median([r.cpu_us_per_delivery("gateway") for r in burst])
        us_client = median([r.cpu_us_per_delivery(CLIENT) for r in burst])
        busier = "the bench client" if client > gw else "the gateway"
        if us_client > us_gw:
            cost = (
                "the receiving side costs more than the sending side, so on one machine the "
                "measured rate is bounded by the load generator"
            )
        else:
            cost = "the gateway's side costs more than the client's"
        lines.append(
            f"- Fan-out burst: over the whole window the gateway averaged {fmt(gw)} cores and "
            f"the bench client {fmt(client)}; {busier} was busier. Per delivery the gateway "
            f"spent {fmt(us_gw, '.1f')} µs of CPU and the client {fmt(us_client, '.1f')} µs: "
            f"{cost}. With a core to itself the gateway would write about "
            f"{fmt(round_sig(1e6 / us_gw) if us_gw > 0 else math.nan, ',.0f')} deliveries/s "
            "at this cost "
            "per delivery (a burst lets it write many queued frames per wake-up; the paced runs "
            "show the cost when events trickle in)."
        )
    if paced:
        us_gw = median([r.cpu_us_per_delivery("gateway") for r in paced])
        p99 = median([r.lat(99) for r in paced])
        offered = (paced[0].offered_events_per_s or 0) * paced[0].subscribers
        gw = median([(r.cpu.cores("gateway") or math.nan) for r in paced])
        client = median([(r.cpu.cores(CLIENT) or math.nan) for r in paced])
        achieved = median([r.rate for r in paced])
        per_event_ms = us_gw * paced[0].subscribers / 1000
        lines.append(
            f"- Fan-out paced at {offered:,.0f} deliveries/s offered ({achieved:,.0f} "
            f"achieved): the gateway used {fmt(gw)} cores, {fmt(us_gw, '.1f')} µs per "
            f"delivery, more than in a burst because each event now wakes every "
            f"connection's writer for one frame and one socket write; the client used "
            f"{fmt(client)} cores. Median p99 latency {fmt(p99, '.0f')} ms (p50 "
            f"{fmt(median([r.lat(50) for r in paced]), '.0f')} ms); one event's fan-out costs "
            f"the gateway about {fmt(per_event_ms, '.1f')} ms of CPU. "
            + (
                f"At {fmt(gw)} of a core busy the events queue behind each other: the latency "
                "is waiting for CPU, not for Kafka or the network."
                if gw > 0.7
                else "The gateway had CPU to spare at this rate."
            )
        )
    return lines
