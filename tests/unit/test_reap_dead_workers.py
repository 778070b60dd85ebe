"""A restarted run expires the leases of killed runs on this host at once
(:func:`transfer.runner.reap_dead_workers`), including a run killed between its first claim and
its first heartbeat: seen under load in tests/reliability/test_torture.py, where the next run
otherwise waited out the 5-minute leases of 64 files."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from transfer.checkpoint import SqliteStore
from transfer.checkpoint.base import ItemSpec
from transfer.runner import reap_dead_workers

pytestmark = pytest.mark.anyio


def _spec(n: int) -> ItemSpec:
    path = f"org/pkg/1.0/file-{n}.jar"
    return ItemSpec(
        repo="maven", package="pkg", version="1.0", path=path, size=10, sha1=f"{n:040x}",
        target_repo="maven-local", target_path=path,
    )  # fmt: skip


def _dead_pid() -> int:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    return gone.pid


async def test_leases_of_a_killed_run_that_never_heartbeated_are_expired(tmp_path: Path) -> None:
    here = socket.gethostname()
    async with SqliteStore(tmp_path / "state.db", run="default") as store:
        await store.upsert_items([_spec(n) for n in range(4)])
        ids = [item.id async for item in store.iter_items()]
        killed = f"{here}:{_dead_pid()}:abc123"
        await store.claim_batch(killed, 2, 600)  # killed before its first heartbeat
        await store.claim_batch(f"{here}:{os.getpid()}:me", 1, 600)  # alive: this process
        await store.claim_batch(f"elsewhere:{_dead_pid()}:def456", 1, 600)  # another host
        assert [w.owner for w in await store.list_workers()] == []
        assert await reap_dead_workers(store) == 2
        again = await store.claim_batch("next", 10, 60)
        assert [(w.id, w.recheck) for w in again] == [(ids[0], True), (ids[1], True)]
