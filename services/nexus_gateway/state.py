"""The gateway's parts, held in one object under one aiohttp ``AppKey``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiohttp import web

from nexus_gateway.auth import Authenticator
from nexus_gateway.catchup import CatchUpReader
from nexus_gateway.delivery import Dispatcher
from nexus_gateway.flows import FlowTracker
from nexus_gateway.hub import ConnectionHub
from nexus_gateway.ingress import Ingress
from nexus_gateway.limits import UserRateLimits
from nexus_gateway.metrics import GatewayMetrics
from nexus_mesh.codec import Codec
from nexus_mesh.kafka.producer import EnvelopeProducer
from nexus_mesh.registry import Registry
from nexus_mesh.settings import NexusSettings


@dataclass(kw_only=True, eq=False)
class Gateway:
    settings: NexusSettings
    registry: Registry
    codec: Codec
    authenticator: Authenticator
    metrics: GatewayMetrics
    hub: ConnectionHub
    flows: FlowTracker
    producer: EnvelopeProducer
    dispatcher: Dispatcher
    catch_up: CatchUpReader
    ingress: Ingress
    rate_limits: UserRateLimits
    accepting: bool = True
    kafka_started: bool = False
    # Set when a drain starts; the event fires once it has finished.
    draining: asyncio.Event | None = None

    @property
    def ready(self) -> bool:
        return self.accepting and self.kafka_started and self.dispatcher.healthy


GATEWAY = web.AppKey("gateway", Gateway)
