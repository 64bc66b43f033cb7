"""A misspelt NEXUS_ variable is not silently ignored: the default it leaves in force would
surprise the operator much later (e.g. the gateway on 127.0.0.1:9092)."""

from __future__ import annotations

import logging

import pytest

from nexus_mesh.settings import load_settings, unknown_variables


def test_a_typo_is_named_with_the_setting_it_meant() -> None:
    found = unknown_variables(
        {
            "NEXUS_KAFKA_BOOTSTRAP_SERVER": "broker:9092",
            "NEXUS_KAFKA_BOOTSTRAP_SERVERS": "broker:9092",
            "NEXUS_TOTALLY_UNRELATED": "1",
            "NEXUS_KAFKA_CACHE_DIR": "/cache",
            "PATH": "/usr/bin",
        }
    )
    assert found == [
        "NEXUS_KAFKA_BOOTSTRAP_SERVER (did you mean NEXUS_KAFKA_BOOTSTRAP_SERVERS?)",
        "NEXUS_TOTALLY_UNRELATED",
    ]


def test_loading_the_settings_warns_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("NEXUS_GATEWAY_PROT", "9000")
    with caplog.at_level(logging.WARNING, logger="nexus_mesh.settings"):
        load_settings()
        load_settings()
    warnings = [r.getMessage() for r in caplog.records if "unknown variable" in r.getMessage()]
    assert warnings == [
        "ignoring unknown variable(s): NEXUS_GATEWAY_PROT (did you mean NEXUS_GATEWAY_PORT?)"
    ]
