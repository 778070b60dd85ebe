"""Every stage cancelled mid-flight (STYLE #6): discovery, the claimer, a copy worker in the
middle of a stream, the store's writer, and the repositories, security and properties phases.

Faults add latency or slow bodies so that the cancel lands inside the stage (each test checks
that it did). Afterwards the store holds no impossible state and nothing in flight (the engine
hands its items back, shielded from the cancellation), and a following ``migrate`` completes
with the target equal to the source.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from reliability_kit import (
    count_states,
    impossible_states,
    migrate_once,
    sandbox_settings,
    store_rows,
    target_differences,
)

from transfer.checkpoint.base import ItemSpec, Outcome
from transfer.checkpoint.sqlite import SqliteStore
from transfer.models import Checksums, ItemState
from transfer.pipeline.engine import StopControl
from transfer.reporting.events import (
    DiscoveryProgress,
    EventBus,
    ItemFinished,
    PhaseFinished,
    PhaseStarted,
)
from transfer.runner import migrate
from transfer.sandbox.serve import Sandbox
from transfer.settings import Settings

pytestmark = pytest.mark.anyio

Ready = Callable[[list[Any]], bool]


async def _cancel_when(
    settings: Settings, ready: Ready, *, phases: tuple[str, ...], moved: list[int] | None = None
) -> tuple[list[Any], EventBus]:
    """Run ``migrate`` and cancel it as soon as ``ready(events so far)`` says the stage under
    test is under way (polled every few milliseconds); ``moved[0]`` follows the bytes moved.

    Returns the events seen. Fails when the migration finished before the cancel landed.
    """
    bus = EventBus()
    seen: list[Any] = []
    bus.subscribe(seen.append)
    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as group:

            async def canceller() -> None:
                while True:
                    if moved is not None:
                        moved[:] = [bus.counters.bytes_moved]
                    if ready(seen):
                        break
                    await anyio.sleep(0.005)
                scope.cancel()

            group.start_soon(canceller)
            await migrate(settings, bus=bus, stop=StopControl(), phases=phases)
            group.cancel_scope.cancel()
    assert scope.cancelled_caught, "the migration finished before the cancel landed"
    return seen, bus


def _started(events: list[Any], name: str) -> bool:
    return any(isinstance(e, PhaseStarted) and e.name == name for e in events)


def _finished(events: list[Any], name: str) -> bool:
    return any(isinstance(e, PhaseFinished) and e.name == name for e in events)


async def _resume_completes(sandbox: Sandbox, settings: Settings) -> None:
    sandbox.faults.disable()
    db = settings.store.path
    assert impossible_states(db) == []
    assert count_states(db).get(ItemState.IN_FLIGHT, 0) == 0  # handed back, shielded
    summary = await migrate_once(settings)
    assert summary.counts is not None
    assert summary.counts[ItemState.DONE].items == summary.counts.total.items
    assert impossible_states(db) == []
    assert target_differences(sandbox) == []


async def test_cancel_during_discovery(tmp_path: Path) -> None:
    async with Sandbox("tiny", faults="bintray.api:latency=0.02") as sandbox:
        settings = sandbox_settings(sandbox, tmp_path)
        await _cancel_when(
            settings,
            lambda seen: any(isinstance(e, DiscoveryProgress) for e in seen),
            phases=("repositories", "artifacts"),
        )
        db = settings.store.path
        meta = dict(_meta(db))
        assert meta.get("discovery_pass_complete") != meta.get("discovery_pass")  # mid-pass
        assert len(store_rows(db)) < sum(1 for _ in sandbox.org.iter_files())
        await _resume_completes(sandbox, settings)


def _meta(db: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [(str(k), str(v)) for k, v in conn.execute("SELECT key, value FROM meta")]
    finally:
        conn.close()


async def test_cancel_copy_workers_mid_stream(tmp_path: Path) -> None:
    async with Sandbox("tiny", faults="bintray.download:bandwidth=96k") as sandbox:
        # small chunks, so that bytes are counted as they stream, not per file
        settings = sandbox_settings(sandbox, tmp_path, workers=4, chunk_size="4KiB")
        bus_bytes: list[int] = []

        def streaming(seen: list[Any]) -> bool:
            finished = sum(e.bytes for e in seen if isinstance(e, ItemFinished))
            moving = bus_bytes[0] if bus_bytes else 0
            return finished > 0 and moving > finished + 16 * 1024

        _, bus = await _cancel_when(
            settings, streaming, phases=("repositories", "artifacts"), moved=bus_bytes
        )
        db = settings.store.path
        done_bytes = sum(r["size"] for r in store_rows(db) if r["state"] == ItemState.DONE)
        assert bus.counters.bytes_moved > done_bytes  # files were cut mid-stream
        # nothing half-written reached the target
        for row in store_rows(db):
            stored = sandbox.artifactory.item(row["target_repo"], row["target_path"])
            if row["state"] != ItemState.DONE:
                assert stored is None or stored.size == row["size"], row["path"]
        await _resume_completes(sandbox, settings)


async def test_cancel_while_the_claimer_holds_claimed_items(tmp_path: Path) -> None:
    # One worker, a queue of one, batches of eight: the claimer is blocked on a full stream
    # holding claimed items that no worker has started.
    async with Sandbox("tiny", faults="bintray.download:latency=0.05") as sandbox:
        settings = sandbox_settings(sandbox, tmp_path, workers=1, queue_size=1, claim_batch=8)
        held: list[int] = []

        def claimed_beyond_workers(seen: list[Any]) -> bool:
            if not any(isinstance(e, ItemFinished) for e in seen):
                return False
            held.append(count_states(settings.store.path).get(ItemState.IN_FLIGHT, 0))
            return held[-1] > 2

        await _cancel_when(settings, claimed_beyond_workers, phases=("repositories", "artifacts"))
        assert max(held) > 2
        await _resume_completes(sandbox, settings)


async def test_cancel_the_store_writer_with_outcomes_queued(tmp_path: Path) -> None:
    db = tmp_path / "writer.db"
    specs = [ItemSpec(repo="r", package="p", version="1", path=f"f{i}", size=i) for i in range(50)]
    async with SqliteStore(db) as store:
        await store.upsert_items(specs)
    released: list[int] = []
    # A writer that would wait 30 s before committing: every outcome is still queued when the
    # owner's scope is cancelled, which cancels the writer task too. The owner's shielded
    # cleanup (what the engine does) must still commit them and hand the rest back.
    with anyio.CancelScope() as scope:
        async with SqliteStore(db, batch_size=1000, batch_interval=30) as store:
            claimed = await store.claim_batch("me", 50, 60)
            try:
                for item in claimed[:40]:
                    done = Outcome(ItemState.DONE, target=Checksums(sha1="a" * 40), how="streamed")
                    await store.record(item.id, done, owner="me")
                scope.cancel()
                await anyio.sleep(1)
            finally:
                with anyio.CancelScope(shield=True):
                    released.append(await store.release("me"))
    assert scope.cancelled_caught
    assert released == [10]
    assert count_states(db) == {"done": 40, "pending": 10}
    assert impossible_states(db) == []


async def test_cancel_during_the_repositories_phase(tmp_path: Path) -> None:
    async with Sandbox("tiny", faults="artifactory.api:latency=0.03") as sandbox:
        settings = sandbox_settings(sandbox, tmp_path)
        events, _ = await _cancel_when(
            settings,
            lambda seen: len(sandbox.artifactory.repositories()) > 0,
            phases=("repositories", "artifacts"),
        )
        assert not _finished(events, "repositories")
        created = len(sandbox.artifactory.repositories())
        assert 0 < created < len(sandbox.org.repos)  # some, not all: mid-phase
        await _resume_completes(sandbox, settings)
        assert len(sandbox.artifactory.repositories()) >= len(sandbox.org.repos)


async def test_cancel_during_the_security_phase(tmp_path: Path) -> None:
    async with Sandbox("tiny", faults="artifactory.api:latency=0.03") as sandbox:
        settings = sandbox_settings(sandbox, tmp_path)
        security = sandbox.artifactory._state.security  # the emulator's own user table
        before = len(security.users)
        events, _ = await _cancel_when(
            settings,
            lambda seen: _started(seen, "security") and len(security.users) > before,
            phases=("repositories", "security"),
        )
        assert not _finished(events, "security")
        _every_created_user_has_its_password(sandbox, settings)
        await _resume_completes(sandbox, settings)
        _every_created_user_has_its_password(sandbox, settings)


def _every_created_user_has_its_password(sandbox: Sandbox, settings: Settings) -> None:
    """A user created with a generated password has it in the secrets file: a cancel must
    never leave an account whose password nobody knows."""
    path = settings.security.secrets_file
    known = json.loads(path.read_text())["users"] if path.exists() else {}
    security = sandbox.artifactory._state.security  # the emulator's own user table
    migrated = [name for name in sandbox.org.users if security.users.get(name) is not None]
    for name in migrated:
        assert name in known, f"user {name} exists but its password was not kept"


async def test_cancel_during_the_properties_phase(tmp_path: Path) -> None:
    async with Sandbox("tiny", faults="artifactory.storage:latency=0.05") as sandbox:
        settings = sandbox_settings(sandbox, tmp_path)
        await migrate_once(settings, phases=("repositories", "artifacts"))
        wiped = _wipe_properties(sandbox, settings)
        # checksum files are served from their artifact: no properties of their own
        stored = [r for r in store_rows(settings.store.path) if r["how"] != "checksum_file"]
        files = [(r["target_repo"], r["target_path"]) for r in stored]
        assert not any(sandbox.artifactory.properties(*f) for f in files)
        events, _ = await _cancel_when(
            settings,
            lambda seen: any(sandbox.artifactory.properties(*f) for f in files),
            phases=("properties",),
        )
        assert not _finished(events, "properties")
        # a file recorded as having its properties really has them
        recorded = {
            row["key"]
            for row in _side(settings.store.path, "applied_properties")
            if row["state"] == "set"
        }
        restored = sum(1 for f in files if sandbox.artifactory.properties(*f))
        assert 0 < restored < wiped  # mid-phase
        expected = {
            f"{r['target_repo']}/{r['target_path']}": json.loads(r["properties"]) for r in stored
        }
        for key in recorded:
            repo, _, path = key.partition("/")
            assert sandbox.artifactory.properties(repo, path) == expected[key]
        sandbox.faults.disable()
        await migrate_once(settings, phases=("properties",))
        for key, props in expected.items():
            repo, _, path = key.partition("/")
            if props:
                assert sandbox.artifactory.properties(repo, path) == props, key
        assert impossible_states(settings.store.path) == []


def _wipe_properties(sandbox: Sandbox, settings: Settings) -> int:
    """Drop every property of every migrated file in the emulator: the properties phase then
    has a file's worth of work for each."""
    trees = sandbox.artifactory._state.repos.trees  # the emulator's own storage
    wiped = 0
    for row in store_rows(settings.store.path):
        item = trees[row["target_repo"]].get(row["target_path"])
        if item is not None and item.properties:
            item.properties.clear()
            wiped += 1
    return wiped


def _side(db: Path, kind: str) -> list[dict[str, Any]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM side WHERE kind = ?", (kind,))]
    finally:
        conn.close()
