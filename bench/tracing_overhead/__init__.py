"""Tracing overhead: client-event throughput with 100% sampling vs tracing off, side by side.

Starts its own single-node Kafka (or uses ``NEXUS_KAFKA_BOOTSTRAP_SERVERS``) and, for every
measured run, a fresh gateway and search service as the real ``python -m nexus_mesh.cli``
processes, either with ``OTEL_TRACES_SAMPLER=always_on`` exporting OTLP/HTTP to a receiver
in this process (which decodes every ``ExportTraceServiceRequest``, as a collector would, to
count the spans), or with ``OTEL_SDK_DISABLED=true``. Runs alternate traced/untraced, with the
first mode swapped each round, so both see the same machine. Two closed-loop workloads over
``--clients`` sessions, one campaign each:

* ``search``: ``client.request("search")`` round trips (ws receive -> Kafka -> search service
  -> Kafka -> ws send: six spans per round trip, in two processes);
* ``emit``: ``client.emit("chat.message")`` until acked (ws receive + produce, then the
  delivery back to the campaign: four spans, all in the gateway).

Writes the "Tracing overhead (issue 6)" section of docs/benchmarks.md (``--no-doc`` to skip).

    .venv/bin/python -m bench.tracing_overhead_bench [--rounds 4] [--seconds 8]

Bounded: every wait has a deadline, and every process started here is stopped at the end.

``python -m bench.tracing_overhead`` runs the same. Modules: ``mesh`` (the receiver and the
processes of each mode), ``workload`` (the runs), ``span_cost``, ``report`` and ``cli``.
"""
