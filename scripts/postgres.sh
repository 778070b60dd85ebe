#!/usr/bin/env bash
# start_postgres / stop_postgres: a throwaway PostgreSQL in a temporary directory for the tests.
# initdb refuses to run as root, so the server runs as the `postgres` user when we are root.
# On success TRANSFER_TEST_POSTGRES_DSN is exported.

_pg_dir=""

_pg_bin() {
  local name=$1
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return; fi
  local found
  found=$(ls /usr/lib/postgresql/*/bin/"$name" 2>/dev/null | sort -V | tail -n 1)
  [ -n "$found" ] && echo "$found"
}

_pg_as() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_postgres() {
  if [ -z "$(_pg_bin initdb)" ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) \
      >/dev/null 2>&1 || true
  fi
  local initdb pg_ctl
  initdb=$(_pg_bin initdb); pg_ctl=$(_pg_bin pg_ctl)
  if [ -z "$initdb" ] || [ -z "$pg_ctl" ]; then return 1; fi
  if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then return 1; fi
  _pg_dir=$(mktemp -d)
  [ "$(id -u)" = 0 ] && chown postgres "$_pg_dir"
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  _pg_as "$initdb" -D "$_pg_dir/data" -A trust -U postgres >/dev/null || return 1
  _pg_as "$pg_ctl" -D "$_pg_dir/data" -l "$_pg_dir/log" -w \
    -o "-k $_pg_dir -p $port -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null || return 1
  export TRANSFER_TEST_POSTGRES_DSN="postgresql://postgres@127.0.0.1:$port/postgres"
  echo "PostgreSQL for the tests: $TRANSFER_TEST_POSTGRES_DSN"
}

stop_postgres() {
  if [ -n "$_pg_dir" ] && [ -d "$_pg_dir/data" ]; then
    _pg_as "$(_pg_bin pg_ctl)" -D "$_pg_dir/data" stop -m fast >/dev/null 2>&1 || true
    rm -rf "$_pg_dir"
  fi
}
