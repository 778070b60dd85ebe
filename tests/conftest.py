"""Shared fixtures: every async test runs on asyncio through anyio's pytest plugin; skips of
service-backed tests fail where the service is required (:mod:`service_gates`).

The benchmarks are not an installed package: the repository root goes on ``sys.path`` so the
tests that run real nginx can use ``benchmarks.nginx``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

pytest_plugins = ["service_gates"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
