"""A PostgreSQL server of a test's own, to restart or stop under a running migration.

The shared server of scripts/postgres.sh serves other tests at the same time, so a test that
restarts PostgreSQL starts its own in a temporary directory (as the `postgres` user when run as
root, since initdb refuses root), and stops it whatever happens. Skips when the binaries are
missing; tests/service_gates.py turns that skip into a failure where PostgreSQL is required.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest

__all__ = ["Postgres", "item_rows", "own_postgres"]


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(candidates[-1]) if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Postgres:
    """One throwaway server: its DSN, and ``restart``/``stop``/``start`` with pg_ctl."""

    def __init__(self, root: Path, pg_ctl: str, port: int) -> None:
        self.root = root
        self.data = root / "data"
        self.port = port
        self.dsn = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        self._pg_ctl = pg_ctl

    def _as_postgres(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-k {self.root} -p {self.port} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            self._pg_ctl, "-D", str(self.data), "-l", str(self.root / "log"), "-w",
            "-o", options, "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: clients disconnected; ``immediate``: as after a crash)."""
        self._as_postgres(self._pg_ctl, "-D", str(self.data), "-w", "-m", mode, "stop")

    def _signal_all(self, signum: int) -> None:
        """Send ``signum`` to the postmaster first (so that it forks no new backend), then to
        its children (backends, background workers); one that has just exited is skipped."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        os.kill(postmaster, signum)
        for stat_file in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                # the parent pid is the second field after the parenthesised command name
                if int(stat_file.read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                    os.kill(int(stat_file.parent.name), signum)

    def freeze(self) -> None:
        """Stop every server process (SIGSTOP): connections stay open but nothing answers,
        as with a hung server or a network that drops packets."""
        self._signal_all(signal.SIGSTOP)

    def thaw(self) -> None:
        """Let a frozen server go on (SIGCONT)."""
        self._signal_all(signal.SIGCONT)

    def restart(self, mode: str, *, down: float = 1.0) -> None:
        """Stop (``mode`` as in :meth:`stop`), stay away ``down`` seconds, start again."""
        self.stop(mode)
        time.sleep(down)
        self.start()


@contextmanager
def own_postgres() -> Iterator[Postgres]:
    """A fresh server for the duration of the block."""
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) are not installed")
    root = Path(tempfile.mkdtemp(prefix="transfer-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    server = Postgres(root, pg_ctl, _free_port())
    try:
        server._as_postgres(initdb, "-D", str(server.data), "-A", "trust", "-U", "postgres")
        server.start()
        yield server
    finally:
        with contextlib.suppress(OSError):  # not running
            server.thaw()
        with contextlib.suppress(subprocess.SubprocessError):  # never started, or stopped
            server.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


async def item_rows(dsn: str, run: str) -> list[dict[str, Any]]:
    """Every item row of ``run`` in the store at ``dsn``, as the SQLite checks read them (none
    before a worker has created the tables)."""
    conn = await asyncpg.connect(dsn)
    try:
        if not await conn.fetchval("SELECT to_regclass('items') IS NOT NULL"):
            return []
        rows = await conn.fetch(
            "SELECT items.* FROM items JOIN runs ON runs.id = items.run_id "
            "WHERE runs.name = $1 ORDER BY items.id",
            run,
        )
    finally:
        await conn.close()
    return [dict(row) for row in rows]
