"""The main flow's docs/benchmarks.md section: the set-up, the search and fan-out tables, the
CPU of each process, and the notes."""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence

from bench.harness.machine import code_revision, describe
from bench.harness.procstat import OTHER, CpuWindow
from bench.harness.report import fmt, plural, section_head
from bench.harness.stats import median, percentile
from bench.mainflow.fanout import FanoutRun, FanoutSetup
from bench.mainflow.mesh import CLIENT, Mesh
from bench.mainflow.notes import notes
from bench.mainflow.search import QUERIES, SearchRun
from nexus_mesh.kafka.partitioning import campaign_partition

SECTION_TITLE = "## Main flow (issue 4)"
BEGIN_MARK = "<!-- mainflow:begin (written by bench/mainflow_bench.py) -->"
END_MARK = "<!-- mainflow:end -->"
LIBS = ("aiohttp", "aiokafka", "orjson", "fastavro")
PROCESSES = ("gateway", "search service", "kafka broker", CLIENT, OTHER)


def cpu_header(extra: Sequence[str] = ()) -> list[str]:
    names = [*PROCESSES, *extra]
    return ["| run | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]


def cpu_cells(cpu: CpuWindow | None) -> str:
    return " | ".join(fmt(cpu.cores(name) if cpu else None) for name in PROCESSES)


def search_lanes(args: argparse.Namespace, partitions: int) -> str:
    """Which ``<prefix>.search`` partition each bench campaign hashes to, and the share of the
    load the busiest campaign carries.

    The search service handles one campaign's requests one at a time, in order, and
    different campaigns' at once, so the busiest campaign bounds the round trip's throughput.
    """
    partition_load: dict[int, int] = {}
    campaign_load: dict[int, int] = {}
    for index in range(args.connections):
        campaign = index % args.campaigns
        partition = campaign_partition(f"bench-search-{campaign}", partitions)
        partition_load[partition] = partition_load.get(partition, 0) + 1
        campaign_load[campaign] = campaign_load.get(campaign, 0) + 1
    mapping = ", ".join(
        f"`bench-search-{c}` -> {campaign_partition(f'bench-search-{c}', partitions)}"
        for c in range(args.campaigns)
    )
    busiest = max(campaign_load.values()) / args.connections
    return (
        f"Campaigns hash to `<prefix>.search` partitions (of {partitions}) as {mapping}: "
        f"{len(partition_load)} partitions carry the load. The service handles one "
        f"campaign's requests in order, one at a time, and different campaigns' at once; "
        f"the busiest campaign carries {busiest:.0%} of the load."
    )


def search_section(
    runs: list[SearchRun], knee: list[SearchRun], args: argparse.Namespace, partitions: int
) -> list[str]:
    def lat(values: list[float]) -> str:
        return fmt(percentile(sorted(values), 50), ".1f")

    lines = [
        "### Search round trip",
        "",
        f"Open loop: {args.rate:g} requests/s on a fixed schedule (sent whether or not earlier "
        f"ones were answered), round-robin over {args.connections} `MeshClient` sessions in "
        f"{args.campaigns} campaigns on one shared aiohttp session; {len(QUERIES)} realistic "
        'queries drawn at random. Each request is `client.request("search", {"query": q})`; '
        "latency is from the call (frame sent) to the correlated reply (the call also waits "
        f"for the `nexus.ack`). One {args.warmup:g} s warm-up, then "
        f"{plural(len(runs), 'measured run')} of {args.seconds:g} s; client timeout "
        f"{args.request_timeout:g} s. {search_lanes(args, partitions)}",
        "",
        "| median of runs | replies/s | p50 ms | p90 ms | p99 ms | max ms | errors + timeouts |",
        "|---|---:|---:|---:|---:|---:|---:|",
        "| search round trip | "
        + " | ".join(
            [
                fmt(median([r.achieved_rate for r in runs]), ".1f"),
                *(fmt(median([r.pct(q) for r in runs]), ".1f") for q in (50, 90, 99, 100)),
                fmt(median([r.error_count + r.gateway_timeouts for r in runs]), ".0f"),
            ]
        )
        + " |",
        "",
        "Per run. *to service* = send -> the service built the reply (its `metadata.time`, "
        "whole ms); *back* = from there to the client; *ack* = the gateway's mean Kafka write "
        "of the request (its `/metrics`); *send lag* = how late the generator sent "
        "(open-loop check).",
        "",
        "| run | sent | completed | failed | timeouts | errors | replies/s | p50 ms | p90 ms "
        "| p99 ms | max ms | to service p50 | back p50 | ack mean ms | send lag p99 ms "
        "| hits/reply |",
        "|---|" + "---:|" * 15,
    ]
    for r in [*runs, *knee]:
        errors = ", ".join(f"{k}: {v}" for k, v in sorted(r.errors.items())) or "0"
        label = r.label if r in runs else f"at {r.label}, {r.sent / r.offered_rate:g} s"
        lines.append(
            f"| {label} | {r.sent} | {r.completed} | {r.failed} | {r.gateway_timeouts} | "
            f"{errors} | {r.achieved_rate:.1f} | {fmt(r.pct(50), '.1f')} | "
            f"{fmt(r.pct(90), '.1f')} | {fmt(r.pct(99), '.1f')} | {fmt(r.pct(100), '.1f')} | "
            f"{lat(r.to_service_ms)} | {lat(r.back_ms)} | {fmt(r.produce_ms, '.1f')} | "
            f"{fmt(percentile(sorted(r.lags_ms), 99), '.1f')} | "
            f"{fmt(r.hits / r.completed if r.completed else math.nan, '.1f')} |"
        )
    if knee:
        lines.append(
            f"\nThe rows *at N/s* are single shorter runs at other rates (after the "
            f"{args.rate:g}/s runs) to show where the round trip stops keeping up."
        )
    lines += ["", "CPU during each run, in cores (CPU seconds / wall seconds, /proc):", ""]
    lines += cpu_header()
    for r in [*runs, *knee]:
        label = r.label if r in runs else f"at {r.label}"
        lines.append(f"| {label} | {cpu_cells(r.cpu)} |")
    return lines


def fanout_section(
    setup: FanoutSetup, burst: list[FanoutRun], paced: list[FanoutRun], args: argparse.Namespace
) -> list[str]:
    frame = max((r.frame_bytes for r in [*burst, *paced]), default=0)
    n = setup.subscribers
    lines = [
        "### Fan-out: one campaign, one gateway",
        "",
        f"{n} subscribers hold raw aiohttp WebSockets (one session, "
        "`TCPConnector(limit=0)`, one event loop) in campaign `bench-fanout` on the one "
        "gateway; per frame a reader does one orjson parse, checks `metadata.event_id` "
        "(exactly once, in order) and keeps the arrival time. The bench produces "
        f"`campaign.updated` records ({frame} bytes as a client frame) to `<prefix>.clients` "
        "with an idempotent acks=all aiokafka producer (linger 1 ms), encoded before the "
        "clock starts. deliveries/s = deliveries received / (first publish -> the last "
        f"subscriber's last event). {n} connections opened in {setup.connect_s:.1f} s "
        f"(50 at a time); gateway RSS grew {fmt(setup.kib_per_connection, '.1f')} KiB per "
        f"idle connection ({fmt((setup.gateway_rss_before_kib or math.nan) / 1024, '.0f')} -> "
        f"{fmt((setup.gateway_rss_after_kib or math.nan) / 1024, '.0f')} MiB); "
        f"{setup.fd_note}.",
        "",
        f"**Burst**: {args.events} events enqueued at once, {plural(len(burst), 'run')} "
        "(after a 50-event warm-up).",
        "",
        "| median of runs | deliveries/s | last delivery s | lost | dup | out of order "
        "| gateway CPU µs/delivery | client CPU µs/delivery |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        f"| {args.events} events x {n} subscribers | "
        f"{fmt(median([r.rate for r in burst]), ',.0f')} | "
        f"{fmt(median([r.last_s for r in burst]))} | {sum(r.lost for r in burst)} | "
        f"{sum(r.dups for r in burst)} | {sum(r.disorder for r in burst)} | "
        f"{fmt(median([r.cpu_us_per_delivery('gateway') for r in burst]), '.1f')} | "
        f"{fmt(median([r.cpu_us_per_delivery(CLIENT) for r in burst]), '.1f')} |",
        "",
        "| run | deliveries | received | lost | dup | out of order | closed | all acked ms "
        "| first delivery ms | last delivery s | deliveries/s |",
        "|---|" + "---:|" * 10,
    ]
    for r in burst:
        lines.append(
            f"| {r.label} | {r.deliveries:,} | {r.received:,} | {r.lost} | {r.dups} | "
            f"{r.disorder} | {r.closed} | {r.acked_s * 1000:.0f} | {fmt(r.first_s * 1000, '.0f')}"
            f" | {fmt(r.last_s)} | {r.rate:,.0f} |"
        )
    if paced:
        offered = (paced[0].offered_events_per_s or 0) * n
        lines += [
            "",
            f"**Paced**: {paced[0].offered_events_per_s:g} events/s for "
            f"{args.paced_seconds:g} s ({offered:,.0f} deliveries/s offered), "
            f"{plural(len(paced), 'run')}. Latency is per delivery, from the bench enqueueing "
            "the record to the subscriber reading the frame.",
            "",
            "| run | deliveries | lost | dup | out of order | deliveries/s | latency p50 ms "
            "| p90 ms | p99 ms | max ms |",
            "|---|" + "---:|" * 9,
        ]
        for r in paced:
            lines.append(
                f"| {r.label} | {r.deliveries:,} | {r.lost} | {r.dups} | {r.disorder} | "
                f"{r.rate:,.0f} | {fmt(r.lat(50), '.1f')} | {fmt(r.lat(90), '.1f')} | "
                f"{fmt(r.lat(99), '.1f')} | {fmt(r.lat(100), '.1f')} |"
            )
    lines += [
        "",
        "CPU from the first publish to the last delivery, in cores, and per delivery:",
        "",
        *cpu_header(["gateway µs/delivery", "client µs/delivery"]),
    ]
    for r in [*burst, *paced]:
        lines.append(
            f"| {r.label} | {cpu_cells(r.cpu)} | {fmt(r.cpu_us_per_delivery('gateway'), '.1f')}"
            f" | {fmt(r.cpu_us_per_delivery(CLIENT), '.1f')} |"
        )
    return lines


def render(
    mesh: Mesh,
    args: argparse.Namespace,
    search: tuple[list[SearchRun], list[SearchRun]],
    fanout: tuple[FanoutSetup, list[FanoutRun], list[FanoutRun]] | None,
    command: str,
    idle_load: float,
) -> str:
    lines = [
        *section_head(BEGIN_MARK, SECTION_TITLE, command, describe(LIBS)),
        f"Kafka: {mesh.kafka_version}  ",
        f"Code: git {code_revision()}; machine busy {idle_load:.2f} cores before the bench "
        "started (other work)  ",
        "Processes: one `nexus gateway`, one `nexus service search`, the broker and the bench "
        "client, all on 127.0.0.1. Settings: `NEXUS_AUTH=none`, gateway "
        f"`NEXUS_LOG_LEVEL=WARNING`, `NEXUS_GATEWAY_RATE_PER_S={args.gateway_rate:g}` and "
        f"`NEXUS_GATEWAY_RATE_BURST={args.gateway_rate:g}` (so the per-connection limit never "
        "refuses bench load); everything else default: `<prefix>.clients` 12 partitions, "
        "domain topics 6, replication 1, 4 MiB outbox per connection. "
        + (
            "Tracing: the environment's `OTEL_*`."
            if args.otel
            else "Tracing off (`OTEL_SDK_DISABLED=true`; its cost is the tracing-overhead "
            "section's subject)."
        ),
        "",
    ]
    runs, knee = search
    if runs:
        assert mesh.settings is not None
        partitions = mesh.settings.domain_partitions
        lines += [*search_section(runs, knee, args, partitions), ""]
    burst: list[FanoutRun] = []
    paced: list[FanoutRun] = []
    if fanout is not None:
        setup, burst, paced = fanout
        lines += [*fanout_section(setup, burst, paced, args), ""]
    lines += [*notes(runs, knee, burst, paced), "", END_MARK]
    return "\n".join(lines) + "\n"
