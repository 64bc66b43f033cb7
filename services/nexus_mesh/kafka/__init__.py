"""Kafka plumbing shared by the gateway and the services: connections, topics, records."""
