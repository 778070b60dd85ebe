"""Loud gates: a test marked ``postgres``, ``nginx`` or ``chromium`` that skips fails instead,
when that service is required here.

A service is required when ``TRANSFER_TEST_REQUIRE`` names it (comma-separated;
``scripts/test.sh`` adds each service it got running, ``.ci/run`` names them all whatever
happens) or when ``CI`` is set to anything but ``""``/``0``/``false`` (CI systems set it). So CI
cannot go green with the PostgreSQL, nginx or browser tests silently skipped, while a developer
running one test file by hand, with neither variable set and no server, still sees a plain skip
that says how to get the service.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

SERVICES = ("postgres", "nginx", "chromium")
REQUIRE_ENV = "TRANSFER_TEST_REQUIRE"


def required_services(environ: dict[str, str] | os._Environ[str] = os.environ) -> set[str]:
    """The services whose tests must not skip in this environment."""
    if environ.get("CI", "").strip().lower() not in ("", "0", "false"):
        return set(SERVICES)
    named = {name.strip() for name in environ.get(REQUIRE_ENV, "").split(",")}
    return named & set(SERVICES)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.skipped and not hasattr(report, "wasxfail"):
        needed = sorted({m.name for m in item.iter_markers()} & required_services())
        if needed:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
            report.outcome = "failed"
            report.longrepr = (
                f"skipped ({reason}), but {' and '.join(needed)} must run here "
                f"({REQUIRE_ENV}={os.environ.get(REQUIRE_ENV, '')!r}, "
                f"CI={os.environ.get('CI', '')!r})"
            )
    return report
