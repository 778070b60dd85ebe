"""Shared fixtures: every async test runs on asyncio through anyio's pytest plugin; skips of
service-backed tests fail where the service is required (:mod:`service_gates`)."""

from __future__ import annotations

import pytest

pytest_plugins = ["service_gates"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
