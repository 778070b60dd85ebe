"""The loud gates: a skipped ``postgres``/``nginx`` test fails where the service is required,
and stays a skip for a developer who has neither the service nor the variables set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from service_gates import REQUIRE_ENV, required_services

TESTS = Path(__file__).resolve().parents[1]
SAMPLE = """\
import pytest

@pytest.mark.postgres
def test_needs_postgres():
    pytest.skip("no server")

@pytest.mark.nginx
@pytest.mark.skipif(True, reason="no nginx")
def test_needs_nginx():
    pass

def test_plain_skip():
    pytest.skip("not a service")
"""


def _outcomes(tmp_path: Path, **env: str) -> str:
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    clean = {k: v for k, v in os.environ.items() if k not in ("CI", REQUIRE_ENV)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "service_gates", "-q", "-rA", "-p",
         "no:cacheprovider", "-W", "ignore::pytest.PytestUnknownMarkWarning", "test_sample.py"],
        cwd=tmp_path, env={**clean, "PYTHONPATH": str(TESTS), **env},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return done.stdout


def test_without_requirement_service_tests_skip(tmp_path: Path) -> None:
    out = _outcomes(tmp_path)
    assert "3 skipped" in out
    assert "failed" not in out


def test_a_required_service_turns_its_skips_into_failures(tmp_path: Path) -> None:
    out = _outcomes(tmp_path, **{REQUIRE_ENV: "postgres"})
    assert "1 failed, 2 skipped" in out
    assert "FAILED test_sample.py::test_needs_postgres" in out
    assert "postgres must run here" in out


def test_ci_requires_every_service(tmp_path: Path) -> None:
    out = _outcomes(tmp_path, CI="true")
    # a skip in the call fails the test; a skip while setting up (skipif) errors it
    assert "1 failed, 1 skipped, 1 error" in out
    assert "ERROR test_sample.py::test_needs_nginx" in out
    assert "no nginx" in out  # the original reason is kept


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, set()),
        ({"CI": "false"}, set()),
        ({"CI": "0", REQUIRE_ENV: "nginx, other"}, {"nginx"}),
        ({"CI": "1"}, {"postgres", "nginx", "chromium"}),
    ],
)
def test_required_services(environ: dict[str, str], expected: set[str]) -> None:
    assert required_services(environ) == expected
