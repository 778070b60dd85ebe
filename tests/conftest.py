"""Shared fixtures: every async test runs on asyncio through anyio's pytest plugin; skips of
service-backed tests fail where the service is required (:mod:`service_gates`).

The benchmarks are not an installed package: the repository root goes on ``sys.path`` so the
tests that run real nginx can use ``benchmarks.nginx``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

pytest_plugins = ["service_gates", "serial_gate"]


POSTGRES_DSN_ENV = "TRANSFER_TEST_POSTGRES_DSN"
"""Where ``scripts/test.sh`` (or ``start_postgres``) puts the test server's DSN."""


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def dsn() -> str:
    """The test PostgreSQL server's DSN; the test skips without one (:mod:`service_gates`
    turns that skip into a failure where the server is required)."""
    value = os.environ.get(POSTGRES_DSN_ENV)
    if not value:
        pytest.skip(f"{POSTGRES_DSN_ENV} is not set: run scripts/test.sh, or start_postgres first")
    return value
