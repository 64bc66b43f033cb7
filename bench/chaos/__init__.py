"""Chaos check (issue 5): crash, drain and restart gateways and crash a broker under two-way
traffic, then prove that nothing acknowledged was lost and that every subscriber received
every event of its campaign exactly once, in order.

What it runs, all on 127.0.0.1 and all started (and stopped) here:

- a 3-node Apache Kafka cluster (KRaft, ``LocalKafka``) in a temporary directory, and the
  mesh's topics with replication factor 3 and ``min.insync.replicas`` 2;
- two gateways (``python -m nexus_mesh.cli gateway``, ``NEXUS_AUTH=none``), each with its own
  public and admin ports, ``NEXUS_GATEWAY_PRODUCE_TIMEOUT_S=5``;
- ``--campaigns`` x ``--clients-per-campaign`` ``MeshClient`` sessions, each campaign's
  clients spread over both gateways. Every client receives its campaign and emits
  ``chat.message`` events at random intervals: each logical event has one fixed
  ``event_id`` and is resent with that id until it is acknowledged;
- a backend ``Publisher`` (an ``EnvelopeProducer``, idempotent, acks=all) writing
  ``campaign.updated`` to random campaigns.

The chaos, at fixed fractions of ``--duration``: SIGKILL gateway A and restart it on the same
ports a few seconds later; SIGKILL the broker that leads the most of the campaigns'
``<prefix>.clients`` partitions, and restart it later; SIGTERM gateway B (it drains: its
clients get 1001) and restart it. A client whose socket closes resumes with ``since`` = its
last position, on the other gateway first; after a gateway is back, its own clients move home
(a clean close and a resume), so both gateways carry traffic again.

How a client emits so that no event is written twice (the gateway's idempotency window lives
in one gateway's memory, and a crashed gateway takes it along):

- ``unavailable`` or ``unconfirmed`` (retryable) or no answer in time, on a socket that is
  still open: resend on the same socket; that gateway answers a resend of an in-doubt write
  from the first write.
- sent on a socket that then closed without an answer: the event is *in doubt* (it may have
  landed). The client does not resend it blindly on the next gateway. Its next event acts as
  a probe: once that probe is acknowledged at offset ``o``, the client waits until its own
  delivered stream has reached ``o`` (it is a subscriber of its campaign, and the stream is
  gap-free and ordered). An in-doubt event that appeared in the stream landed (confirmed
  without an ack); one that did not never landed and is resent. This is safe because the
  in-doubt write was on a gateway that is gone (crashed or drained), so it cannot land after
  the probe.

At the end it stops emitting, settles every in-doubt event, reads ``<prefix>.clients`` back
from Kafka (the source of truth), waits (bounded) until every subscriber has caught up, and
checks: every acknowledged event is in Kafka at the acknowledged offset; each subscriber's
delivered sequence equals its campaign's records in Kafka from its first welcome position on,
with nothing missing (lost), nothing twice (duplicated) and nothing reordered (out of order);
no event id is in Kafka twice (``kafka_duplicates``); no resumed welcome said
``recovered: false``. It prints the counts and the longest pause between two deliveries to a
subscriber while the broker was down, and exits 1 when a guarantee was broken.

    .venv/bin/python -m bench.chaos [--duration 90] [--campaigns 8] [--clients-per-campaign 6]
                                    [--seed N] [--write-docs]

Bounded: every wait has a deadline, the whole run has one, and every process started here is
stopped at the end.

Modules: ``config`` (knobs and fault schedule), ``mesh`` (the Kafka cluster and the
gateways), ``client`` (a subscriber that emits), ``publisher`` (the backend writer),
``faults`` (the chaos), ``checker`` (reading Kafka back, the verdict), ``pause`` (delivery
pauses), ``result``, ``report`` (the table and the docs section), ``run`` (one run, start
to end) and ``cli`` (``python -m bench.chaos``).
"""

from bench.chaos.config import ChaosConfig, Schedule
from bench.chaos.report import render_section, render_table
from bench.chaos.result import ChaosResult
from bench.chaos.run import run

__all__ = ["ChaosConfig", "ChaosResult", "Schedule", "render_section", "render_table", "run"]
