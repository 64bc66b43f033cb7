from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from registry_dirs import REAL_SCHEMAS, RegistryDir


@pytest.fixture
def registry_dir(tmp_path: Path) -> RegistryDir:
    """A copy of the real ``schemas/`` in tmp_path."""
    root = tmp_path / "schemas"
    shutil.copytree(REAL_SCHEMAS, root)
    return RegistryDir(root)
