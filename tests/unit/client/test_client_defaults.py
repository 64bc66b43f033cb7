"""The client's defaults against the gateway's."""

from __future__ import annotations

import inspect

from nexus_mesh.client import MeshClient
from nexus_mesh.settings import NexusSettings


def test_a_default_wait_outlasts_the_gateways_answer_in_a_broker_outage() -> None:
    """During a broker outage the gateway answers ``unconfirmed`` or ``unavailable`` after
    its produce timeout, one event of a connection after another: a client waiting less by
    default would see a bare TimeoutError instead of what became of its event."""
    produce_timeout = NexusSettings().gateway_produce_timeout_s
    for method in (MeshClient.emit, MeshClient.request):
        default = inspect.signature(method).parameters["timeout"].default
        assert default > 2 * produce_timeout, method.__name__
