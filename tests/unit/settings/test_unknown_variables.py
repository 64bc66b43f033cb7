"""A misspelt NEXUS_ variable is not silently ignored: the default it leaves in force would
surprise the operator much later (e.g. the gateway on 127.0.0.1:9092)."""

from __future__ import annotations

import logging

import orjson
import pytest

from nexus_mesh.logs import configure_logging
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


def test_before_logging_is_set_up_the_warning_waits_for_its_format(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Settings are read before logging is configured: the warning must come out as one of
    the process's JSON lines, not as a bare text line in between."""
    monkeypatch.setenv("NEXUS_GATEWAY_HOTS", "0.0.0.0")
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    root.handlers.clear()
    try:
        load_settings()
        assert capsys.readouterr().err == ""
        configure_logging("INFO", fmt="json", service="nexus-test")
        lines = [orjson.loads(line) for line in capsys.readouterr().err.splitlines()]
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    (warning,) = [line for line in lines if "unknown variable" in line["message"]]
    assert warning["level"] == "WARNING"
    assert warning["service"] == "nexus-test"
    assert "NEXUS_GATEWAY_HOTS (did you mean NEXUS_GATEWAY_HOST?)" in warning["message"]


def test_a_service_s_own_settings_are_read_checked_and_known(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A service declares its settings in a NexusSettings subclass: they come from NEXUS_*
    like the mesh's, a bad one stops the start naming the variable, and a typo of one is
    suggested from them."""
    from nexus_mesh.errors import ConfigurationError
    from nexus_mesh.settings import NexusSettings

    class GreeterSettings(NexusSettings):
        greeter_greeting: str = "hello"
        greeter_max_names: int = 3

    monkeypatch.setenv("NEXUS_GREETER_GREETING", "bonjour")
    with caplog.at_level(logging.WARNING, logger="nexus_mesh.settings"):
        settings = load_settings(GreeterSettings)
    assert settings.greeter_greeting == "bonjour"
    assert "NEXUS_GREETER_GREETING" not in caplog.text
    assert unknown_variables({"NEXUS_GREETER_MAX_NAME": "1"}, GreeterSettings) == [
        "NEXUS_GREETER_MAX_NAME (did you mean NEXUS_GREETER_MAX_NAMES?)"
    ]
    monkeypatch.setenv("NEXUS_GREETER_MAX_NAMES", "many")
    with pytest.raises(ConfigurationError, match="NEXUS_GREETER_MAX_NAMES='many'"):
        load_settings(GreeterSettings)
