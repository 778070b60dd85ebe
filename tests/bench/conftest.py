"""The benchmarks are not an installed package: make ``benchmarks`` importable from the root."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)


@pytest.fixture
def reachable_tmp() -> Iterator[Path]:
    """A temp folder nginx's workers (``www-data`` when the tests run as root) can enter:
    pytest's own ``tmp_path`` sits under a 0700 folder."""
    folder = Path(tempfile.mkdtemp(prefix="transfer-bench-test-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
