"""Nexus Mesh shared library: envelope, registry, codec, Kafka bus, tracing, config, CLI."""
