from __future__ import annotations

from pathlib import Path

import pytest
from codec_registries import REAL_SCHEMAS, kitchen_sink_registry

from nexus_mesh.codec import Codec
from nexus_mesh.registry import Registry, load_registry


@pytest.fixture(scope="session")
def registry() -> Registry:
    return load_registry(REAL_SCHEMAS)


@pytest.fixture(scope="session")
def codec(registry: Registry) -> Codec:
    return Codec(registry)


@pytest.fixture(scope="session")
def sink_codec(tmp_path_factory: pytest.TempPathFactory) -> Codec:
    """The real registry plus test.everything, a payload using every type the codec knows."""
    root: Path = kitchen_sink_registry(tmp_path_factory.mktemp("sink") / "schemas")
    return Codec(load_registry(root))
