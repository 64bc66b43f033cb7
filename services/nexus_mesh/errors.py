"""One error tree for the whole mesh.

Like aiokafka's, every error says whether retrying the same operation later can succeed
(``retriable``); callers decide on that flag instead of on a list of classes.
"""

from __future__ import annotations


class NexusError(Exception):
    """Base of every error Nexus Mesh raises on purpose."""

    retriable: bool = False


class ConfigurationError(NexusError):
    """A setting, file or command-line value is invalid; fix it and start again."""


class LocalKafkaError(NexusError):
    """The local development broker could not be resolved, started, found or stopped."""


class TopicConfigError(NexusError):
    """An existing topic disagrees with the configuration (e.g. its partition count)."""


class KafkaUnavailableError(NexusError):
    """The broker cannot be reached right now."""

    retriable = True
