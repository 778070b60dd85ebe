"""Fixtures for the benchmark smoke tests (``benchmarks`` is importable: see tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from nginx_site import reachable_folder


@pytest.fixture
def reachable_tmp() -> Iterator[Path]:
    """A temp folder nginx's workers (``www-data`` when the tests run as root) can enter:
    pytest's own ``tmp_path`` sits under a 0700 folder."""
    with reachable_folder("transfer-bench-test-") as folder:
        yield folder
