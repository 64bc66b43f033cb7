"""The demo page ``make dev`` serves, run as a person uses it, against a real gateway.

The page's own ``index.html`` and ``app.js`` run unchanged in jsdom (Node), with the ``ws``
package as its WebSocket: no browser can run here, and those two stand in for exactly the
browser parts the page uses (DOM, WebSocket with a subprotocol). The gateway, search service
and broker are real. ``tests/e2e/demo_page/drive.mjs`` performs each scenario and reports
what the page showed.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from mesh_processes import Mesh

DRIVER = Path(__file__).parent / "demo_page"
STATIC = Path(__file__).parents[2] / "services" / "nexus_gateway" / "static"


async def drive(url: str, scenario: str, **args: Any) -> dict[str, Any]:
    """Run one scenario of the driver; its report, or the step it timed out on."""
    assert (DRIVER / "node_modules" / "jsdom").is_dir(), "run `make test` (it installs jsdom)"
    process = await asyncio.create_subprocess_exec(
        "node",
        str(DRIVER / "drive.mjs"),
        str(STATIC),
        url,
        scenario,
        json.dumps(args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    lines = out.decode().strip().splitlines()
    assert process.returncode == 0, f"{scenario}: {lines[-1:] or ''}\n{err.decode()[-2000:]}"
    report: dict[str, Any] = json.loads(lines[-1])
    return report


async def test_join_chat_search_and_come_back(mesh: Mesh) -> None:
    gateway = mesh.gateway()
    mesh.service("search")
    assert gateway.url
    seen = await drive(
        gateway.url,
        "roundTrip",
        campaign="demo",
        query="password",
        token=mesh.token("alice", ["demo"]),
        otherToken=mesh.token("carol", ["demo"]),
    )
    assert seen["first"]["recovered"] == "no"
    assert seen["acked"]["result"].startswith("✓ ")  # topic/partition@offset
    assert "hello from the page" in seen["echoed"]["text"]
    assert seen["hits"] > 0
    # Joining again as the same user resumes: same connection, nothing missed.
    assert seen["again"] == {"connection": seen["first"]["connection"], "recovered": "yes"}
    assert seen["missed"]["type"] == "chat.message"


async def test_an_expired_token_is_renewed_by_joining_again(mesh: Mesh) -> None:
    gateway = mesh.gateway()
    assert gateway.url
    seen = await drive(
        gateway.url,
        "expiredToken",
        campaign="demo",
        shortToken=mesh.token("bob", ["demo"], ttl_s=2),
        token=mesh.token("bob", ["demo"]),
    )
    assert "4001" in seen["failed"]["text"]
    assert seen["note"] is not None
    assert seen["again"]["recovered"] == "yes"


async def test_a_rate_limited_message_is_resent_when_the_gateway_says(mesh: Mesh) -> None:
    gateway = mesh.gateway(NEXUS_GATEWAY_RATE_PER_S="0.5", NEXUS_GATEWAY_RATE_BURST="1")
    assert gateway.url
    seen = await drive(
        gateway.url, "rateLimited", campaign="demo", token=mesh.token("dave", ["demo"])
    )
    # The page waits what retry_after_ms names (~2 s here), not its own first backoff (0.5 s),
    # which would only be refused again.
    waited = float(seen["waiting"].removeprefix("rate_limited: resending in ").split(" ")[0])
    assert 1.5 <= waited <= 2.0, seen["waiting"]
    assert seen["acked"].startswith("✓ ")


async def test_a_join_the_gateway_refuses_gives_up_and_says_what_to_check(mesh: Mesh) -> None:
    gateway = mesh.gateway()
    assert gateway.url
    seen = await drive(
        gateway.url, "neverConnects", campaign="demo", token=mesh.token("erin", ["demo"])
    )
    assert seen["failed"]["text"] == "could not connect after 4 tries"
    assert any("check the gateway URL" in note for note in seen["notes"])
    # Never connected, so nothing was "lost" and there is nothing to resume.
    assert not any("connection lost" in note or "resuming" in note for note in seen["notes"])
