"""Fixtures for every test. The broker and the settings pointing at it are in
``broker_fixtures``, imported by the conftests of tests/integration and tests/e2e only."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]
