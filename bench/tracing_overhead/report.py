"""The "Tracing overhead (issue 6)" section of docs/benchmarks.md."""

from __future__ import annotations

import argparse
import os
import platform
import statistics
from collections.abc import Sequence
from datetime import UTC, datetime

from bench.harness.machine import versions
from bench.tracing_overhead.mesh import MODES
from bench.tracing_overhead.span_cost import SpanCosts
from bench.tracing_overhead.workload import Run

BEGIN_MARK = "<!-- tracing-overhead:begin -->"
END_MARK = "<!-- tracing-overhead:end -->"


def section(
    runs: list[Run],
    args: argparse.Namespace,
    command: str,
    costs: SpanCosts,
    load0: float,
) -> str:
    paced = [r for r in runs if r.offered is not None]
    runs = [r for r in runs if r.offered is None]
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load1 = os.getloadavg()[0]
    lines = [
        BEGIN_MARK,
        "## Tracing overhead (issue 6)",
        "",
        "Client interactions per second through one gateway and one search service, with every",
        "trace sampled and exported (`OTEL_TRACES_SAMPLER=always_on`, OTLP/HTTP to a receiver",
        "that decodes each `ExportTraceServiceRequest`) against tracing switched off",
        "(`OTEL_SDK_DISABLED=true`). Each run starts fresh gateway and search processes;",
        "traced and untraced runs alternate, the first mode swapped each round. Closed loop:",
        f"{args.clients} sessions, one campaign each, each waiting for its answer before the",
        f"next; {args.warmup:g} s warm-up, then {args.seconds:g} s measured per run"
        + (
            ", after a first round of every workload and mode that is thrown away (on a fresh"
            " broker the first runs of an invocation were 9-45% slower). `search` is"
            if args.warmup_round
            else ". `search` is"
        ),
        "a `search` request answered by the search service (six spans per round trip, in two",
        "processes); `emit` is a `chat.message` until its ack (four spans, all in the gateway:",
        "ws receive, send, and the delivery back to the campaign).",
        "",
        "```",
        command,
        "```",
        "",
        f"Machine: nproc {os.cpu_count()}, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, {versions('opentelemetry-sdk', 'fastotel')}, "
        f"broker, gateway, service and load generator all on this machine. Date: {now} "
        f"(load average {load0:.1f} at the start, {load1:.1f} at the end).",
        "",
        "Traced modes, by `NEXUS_OTLP_PIPELINE`: `traced` is the default, `native`: the",
        "mesh's lean spans (`nexus_mesh.tracing.lean`), queued as they end and handed 256 at",
        "a time (`nexus_mesh.tracing.handoff`) to fastotel's",
        "`OTLPSpanProcessor`, which exports them as OTLP/HTTP protobuf (batching, encoding and",
        "sending on a native thread that does not hold the GIL). `sdk-spans` is the",
        "OpenTelemetry SDK's own spans, each handed to fastotel as it ends (the default before",
        "lean spans). `sdk-export` is",
        "`NEXUS_OTLP_PIPELINE=sdk`: the SDK's spans, `BatchSpanProcessor` and",
        "`OTLPSpanExporter`, encoding on a Python thread.",
        "",
        "One span, measured in the bench's process before the runs (a tight loop, so warmer",
        "caches than in a busy gateway): the thread that makes a producer span with the",
        f"mesh's attributes spends {costs.lean_create:.1f} us creating and ending a lean span "
        f"({costs.lean_export:.1f} us with fastotel's copy of it, handed over one span at a "
        f"time) against {costs.create:.0f} us "
        f"for the SDK's span ({costs.native_export:.0f} us with the hand-off); fastotel's own "
        f"thread then spends {_native_thread(costs)} on it; the SDK's batch processor "
        f"would spend {costs.sdk_encode:.0f} us more OTLP-encoding it, under the GIL.",
        "",
        "| workload | untraced median /s | traced (100%) median /s | traced / untraced | spans "
        "per interaction | sampled 10% median /s | sampled / untraced | SDK spans (100%) "
        "median /s | SDK spans / untraced |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    runs_lines = []
    for workload in args.workloads:
        by_mode = {m: [r for r in runs if r.workload == workload and r.mode == m] for m in MODES}
        medians = {m: statistics.median(r.rate for r in rs) for m, rs in by_mode.items() if rs}
        if "traced" not in medians or "untraced" not in medians:
            continue
        on = by_mode["traced"]
        per = sum(r.spans for r in on) / max(1, sum(r.done for r in on))
        off = medians["untraced"]
        sampled = medians.get("sampled")
        sdk_spans = medians.get("sdk-spans")
        lines.append(
            f"| {workload} | {off:,.0f} | {medians['traced']:,.0f} | "
            f"**{medians['traced'] / off:.2f}** | {per:.1f} | "
            + (f"{sampled:,.0f} | **{sampled / off:.2f}** |" if sampled else "- | - |")
            + (f" {sdk_spans:,.0f} | **{sdk_spans / off:.2f}** |" if sdk_spans else " - | - |")
        )
        for mode, rs in by_mode.items():
            if rs:
                rates = ", ".join(f"{r.rate:,.0f}" for r in rs)
                runs_lines.append(f"- {workload}, {mode}: {rates} /s")
    lines += [
        "",
        "CPU per interaction (median over the runs, from /proc): the cost that does not",
        "depend on what else shares the machine. Capacity vs untraced is the untraced CPU of",
        "the busiest process over this mode's: the throughput ratio to expect once that",
        "process saturates its core.",
        "",
        "| workload | mode | gateway CPU us | search service CPU us | capacity vs untraced |",
        "|---|---|---:|---:|---:|",
    ]
    for workload in args.workloads:
        for mode, _runs, gateway, service, capacity in _capacities(runs, workload, MODES):
            lines.append(
                f"| {workload} | {mode} | {gateway:,.0f} | {service:,.0f} | **{capacity:.2f}** |"
            )
    lines += ["", *cost_notes(runs, args.workloads)]
    lines += paced_lines(paced)
    lines += ["", "Every run, in the order of rounds:", "", *runs_lines]
    lines += ["", *verdict(runs, args.workloads)]
    lines += [
        "",
        "Spans per interaction counts what the receiver got",
        "during the traced runs (the warm-up's spans included, so it reads a little high); it",
        "shows nothing was dropped. With tracing off, spans are not even created: the",
        "components check `Telemetry.enabled` first, and context still passes through, so a",
        "client's `traceparent` reaches the services untouched.",
        END_MARK,
    ]
    return "\n".join(lines) + "\n"


def cost_notes(runs: list[Run], workloads: Sequence[str]) -> list[str]:
    """Where tracing's CPU goes, from the medians: creating spans vs exporting them."""
    notes = []
    for workload in workloads:
        cpu: dict[str, float] = {}
        for mode in MODES:
            rs = [r for r in runs if r.workload == workload and r.mode == mode]
            if rs:
                cpu[mode] = statistics.median(r.cpu_us(0) + r.cpu_us(1) for r in rs)
        if not {"traced", "untraced"} <= cpu.keys():
            continue
        text = (
            f"- {workload}: 100% tracing adds {cpu['traced'] - cpu['untraced']:,.0f} us of CPU "
            f"per interaction (gateway + service, {cpu['untraced']:,.0f} us untraced)"
        )
        if "unexported" in cpu:
            text += (
                f": {cpu['unexported'] - cpu['untraced']:,.0f} us creating and ending the "
                f"spans, {cpu['traced'] - cpu['unexported']:,.0f} us exporting them"
            )
        notes.append(text + ".")
    return notes


def paced_lines(paced: list[Run]) -> list[str]:
    """Traced against untraced at one offered rate: the same load, so the same batching of
    Kafka requests and socket writes, and CPU per interaction compares like with like."""
    if not paced:
        return []
    lines = [
        "",
        "Paced runs: every session paced so that the mesh is offered the same rate in both",
        "modes, below what either saturates at. The saturating runs above let a slower mode",
        "batch fewer records per Kafka request and fewer frames per write, which adds CPU",
        "per interaction that is not tracing's; here that effect is gone, and the ratio is",
        "what tracing itself costs the busiest process.",
        "",
        "| workload | offered /s | mode | achieved median /s | gateway CPU us | "
        "search service CPU us | capacity vs untraced |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for workload in sorted({r.workload for r in paced}):
        for mode, rs, gateway, service, capacity in _capacities(paced, workload, MODES):
            lines.append(
                f"| {workload} | {rs[0].offered:,.0f} | {mode} | "
                f"{statistics.median(r.rate for r in rs):,.0f} | {gateway:,.0f} | "
                f"{service:,.0f} | **{capacity:.2f}** |"
            )
    return lines


def _capacities(
    runs: list[Run], workload: str, modes: Sequence[str]
) -> list[tuple[str, list[Run], float, float, float]]:
    """Per mode (untraced first): its runs, median gateway and service CPU per interaction,
    and the untraced CPU of the busiest process over this mode's."""
    rows: list[tuple[str, list[Run], float, float, float]] = []
    base = None
    for mode in ("untraced", *[m for m in modes if m != "untraced"]):
        rs = [r for r in runs if r.workload == workload and r.mode == mode]
        if not rs:
            continue
        gateway = statistics.median(r.cpu_us(0) for r in rs)
        service = statistics.median(r.cpu_us(1) for r in rs)
        # The busiest process bounds the rate once the machine is saturated.
        busiest = max(gateway, service)
        base = base or busiest
        rows.append((mode, rs, gateway, service, base / busiest))
    return rows


def verdict(runs: list[Run], workloads: Sequence[str]) -> list[str]:
    """The issue's target, traced >= 0.8 of untraced throughput, per workload."""
    lines = ["Target: traced (100% sampled) throughput >= 0.8 of untraced."]
    for workload in workloads:
        rates = {
            mode: [r.rate for r in runs if r.workload == workload and r.mode == mode]
            for mode in ("traced", "untraced")
        }
        if not all(rates.values()):
            continue
        ratio = statistics.median(rates["traced"]) / statistics.median(rates["untraced"])
        lines.append(
            f"- {workload}: **{ratio:.2f}** of untraced, "
            + ("met." if ratio >= 0.8 else "**not met**.")
        )
    return lines


def _native_thread(costs: SpanCosts) -> str:
    if costs.native_thread:
        return f"{costs.native_thread:.1f} us"
    return f"less than {costs.native_thread_resolution:.0f} us (not one clock tick in all)"
