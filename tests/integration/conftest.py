"""Tests on the session's real broker: its fixtures come from ``broker_fixtures``."""

from __future__ import annotations

from broker_fixtures import kafka_bootstrap as kafka_bootstrap
from broker_fixtures import own_kafka as own_kafka
from broker_fixtures import settings as settings
from broker_fixtures import topic_prefix as topic_prefix
