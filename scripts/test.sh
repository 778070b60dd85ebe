#!/usr/bin/env bash
# The whole test suite from a fresh clone: installs what it needs into .venv, starts a throwaway
# PostgreSQL (for the store contract suite), runs the linters, the type checker and pytest,
# and stops PostgreSQL again whatever happens. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

# shellcheck source=scripts/postgres.sh
source scripts/postgres.sh
start_postgres || echo "PostgreSQL unavailable: its tests will be skipped"
trap stop_postgres EXIT

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/pytest "$@"
