"""`nexus dev`'s trace UI: a real Zipkin from Maven Central receives the mesh's spans."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from nexus_mesh.localkafka.cluster import free_port
from nexus_mesh.localzipkin import LocalZipkin, exporter_environment
from nexus_mesh.tracing import setup_telemetry
from nexus_mesh.tracing.spans import send_span, ws_receive_span
from nexus_testkit import wait_until


@pytest.mark.slow
def test_spans_reach_a_local_zipkin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    zipkin = LocalZipkin(port=port, log_path=tmp_path / "zipkin.log")
    assert not zipkin.answers()
    zipkin.start()
    try:
        # What a second `nexus dev` checks before sending its traces here too.
        assert LocalZipkin(port=port).answers()
        for name, value in exporter_environment(port).items():
            monkeypatch.setenv(name, value)
        telemetry = setup_telemetry("nexus-gateway")
        with (
            ws_receive_span(telemetry.tracer, connection_id="c1", campaign_id="acme") as outer,
            send_span(
                telemetry.tracer,
                topic="nexus.search",
                key="acme",
                event_type="search.requested",
                event_id="e1",
                campaign_id="acme",
            ),
        ):
            pass
        telemetry.shutdown()  # flushes the batch to Zipkin
        trace_id = f"{outer.get_span_context().trace_id:032x}"

        def stored() -> list[dict[str, object]] | None:
            try:
                with urllib.request.urlopen(f"{zipkin.url}/api/v2/trace/{trace_id}") as answer:
                    spans: list[dict[str, object]] = json.loads(answer.read())
            except OSError:
                return None
            return spans if len(spans) == 2 else None

        spans = {span["name"]: span for span in wait_until(stored, what="the trace in Zipkin")}
        produce = spans["send nexus.search"]
        assert produce["kind"] == "PRODUCER"
        assert produce["parentId"] == spans["ws receive"]["id"]
        assert produce["localEndpoint"] == {"serviceName": "nexus-gateway"}
        tags = produce["tags"]
        assert isinstance(tags, dict)
        assert tags["messaging.system"] == "kafka"
        assert tags["nexus.campaign.id"] == "acme"
        with urllib.request.urlopen(zipkin.ui_url) as page:
            assert page.status == 200
    finally:
        zipkin.stop()


async def test_something_else_on_the_port_is_not_taken_for_a_zipkin() -> None:
    """A second `nexus dev` reuses a Zipkin it finds on --zipkin-port, and only a Zipkin:
    another server answering there (here a plain aiohttp app, as any local web server would)
    is not sent traces."""

    async def not_a_service_list(request: web.Request) -> web.Response:
        return web.json_response({"not": "zipkin"})

    app = web.Application()
    app.router.add_get("/api/v2/services", not_a_service_list)
    app.router.add_get("/health", not_a_service_list)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        other = LocalZipkin(port=server.port or 0)
        assert not await asyncio.to_thread(other.answers)
    finally:
        await server.close()
