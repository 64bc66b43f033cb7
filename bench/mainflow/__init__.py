"""Main flow on real processes: search round trips at a fixed rate, and one campaign's fan-out.

Starts its own single-node Kafka (or uses ``NEXUS_KAFKA_BOOTSTRAP_SERVERS``), creates the
topics under a fresh prefix, and runs one gateway and one search service as the real
``python -m nexus_mesh.cli gateway`` / ``service search`` processes on 127.0.0.1, with
tracing off (``--otel`` keeps the environment's ``OTEL_*``). Then:

1. Search round trip: an open-loop generator sends ``search`` requests at ``--rate`` per
   second, spread round-robin over ``--connections`` MeshClient sessions in ``--campaigns``
   campaigns, and times each ``client.request`` from send to reply. ``--runs`` measured
   windows of ``--seconds`` each follow one ``--warmup`` window; then one shorter run at each
   of ``--knee-rates`` shows how the latency moves with the rate.
2. Fan-out: ``--subscribers`` raw WebSocket sessions join one campaign. Burst runs produce
   ``--events`` ``campaign.updated`` records to ``<prefix>.clients`` at once; deliveries/s is
   deliveries received / (first publish -> last subscriber got the last event). Paced runs
   produce ``--paced-rate`` events/s for ``--paced-seconds`` and report the per-delivery
   latency. Every subscriber checks it got each event exactly once and in order.

CPU seconds of the gateway, the search service, the broker, the bench itself and the rest of
the machine are read from /proc over each measured window, to show which process limits the
rate and whether something else disturbed the run. Writes the "Main flow (issue 4)" section
of docs/benchmarks.md (``--no-doc`` to skip) and prints it. About two minutes:

    .venv/bin/python -m bench.mainflow_bench [--runs 3] [--seconds 15] [--events 1000]

Bounded: every wait has a deadline, and every process started here is stopped at the end.

``python -m bench.mainflow`` runs the same. Modules: ``mesh`` (the processes and the
gateway's /metrics), ``search`` (part 1), ``subscriber`` and ``fanout`` (part 2), ``report``
and ``notes`` (the docs section) and ``cli``.
"""
