#!/usr/bin/env bash
# The whole test suite from a fresh clone: installs what it needs into .venv, installs nginx and
# chromium with its driver and starts a throwaway PostgreSQL (for the tests marked `nginx`,
# `chromium` and `postgres`), runs the linters,
# the type checker and pytest (on two workers), and stops PostgreSQL again whatever happens.
# Extra arguments go to pytest.
#
# A service that is up is required: TRANSFER_TEST_REQUIRE names it, and tests/service_gates.py
# turns a skip of a test marked for it into a failure. `.ci/run` requires all three whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -m venv .venv >/dev/null 2>&1; then
  # Debian ships venv (ensurepip) separately: install it as postgres.sh installs PostgreSQL
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv) \
      >/dev/null 2>&1 || true
  fi
  python3 -m venv --clear .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
# The last bintray-python pins requests==2.22.0, which clashes with the other compat-tier clients
# (see pyproject.toml): installed without its pin.
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps 'bintray-python==0.8.0'

required=${TRANSFER_TEST_REQUIRE:-}
# shellcheck source=scripts/nginx.sh
source scripts/nginx.sh
if ensure_nginx; then
  required="$required,nginx"
else
  echo "nginx unavailable: its tests will be skipped"
fi
# shellcheck source=scripts/chromium.sh
source scripts/chromium.sh
if ensure_chromium; then
  required="$required,chromium"
else
  echo "chromium unavailable: the browser tests will be skipped"
fi
# shellcheck source=scripts/postgres.sh
source scripts/postgres.sh
trap stop_postgres EXIT
if start_postgres; then
  required="$required,postgres"
else
  echo "PostgreSQL unavailable: its tests will be skipped"
fi
export TRANSFER_TEST_REQUIRE=${required#,}

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# Two workers (pytest-xdist), each taking whole test files; a test marked serial runs with
# nothing beside it (tests/serial_gate.py). TRANSFER_TEST_WORKERS=0 runs all in one process.
.venv/bin/pytest -n "${TRANSFER_TEST_WORKERS:-2}" --dist loadfile "$@"
