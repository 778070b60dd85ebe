"""One small migration per fault kind, and one with every kind mixed: each run either completes
or ends the affected items ``failed`` with a clear reason; a file is ``done`` only when the
target holds exactly the source's bytes; the store never holds an impossible state; and a
second run without faults (``--retry-failed``) completes whatever the first left.

Run with ``-s`` to see what the tool did per kind (the figures of the reliability note).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from reliability_kit import (
    ALL_PHASES,
    done_items_are_verified,
    impossible_states,
    migrate_once,
    sandbox_settings,
    store_rows,
    target_differences,
)

from transfer.errors import TransientError
from transfer.http.client import Timeouts
from transfer.models import Checksums, ItemState
from transfer.pipeline.engine import StopControl
from transfer.redaction import Secret
from transfer.reporting.events import EventBus, Retrying
from transfer.runner import migrate
from transfer.sandbox.serve import Sandbox
from transfer.targets.artifactory import ArtifactoryTarget

pytestmark = pytest.mark.anyio

# kind → (fault spec, settings overrides, what a failed item's reason must say)
FAULTS: dict[str, tuple[str, dict[str, Any], tuple[str, ...]]] = {
    "5xx_burst": (
        "bintray.download:5xx=1x8;artifactory.deploy:5xx=1x8;bintray.api:5xx=1x4;"
        "artifactory.storage:5xx=1x4",
        {},
        ("HTTP 5",),
    ),
    "429_storm": (
        "artifactory.deploy:429=1@0.2x9;bintray.download:429=0.5@0.1x9;bintray.api:429=1@0.1x4",
        {},
        ("429",),
    ),
    "reset_before_body": (
        "bintray.download:reset=0.3;artifactory.deploy:reset=0.2;bintray.api:reset=0.05",
        {},
        ("closed the connection", "reset"),
    ),
    "reset_mid_body": (
        "bintray.download:reset_mid_body=0.3;artifactory.deploy:reset_mid_body=0.3",
        {},
        ("cut short", "reset", "closed"),
    ),
    "truncate": ("bintray.download:truncate=0.4", {}, ("cut short", "size")),
    "corrupt": (
        "bintray.download:corrupt=0.3;artifactory.deploy:corrupt=0.3",
        {},
        ("mismatch",),
    ),
    "slow": (
        # The largest download takes longer than the read timeout: slow is not hung. (Uploads
        # are not paced here: aiohttp starts the read timeout once the body is in the kernel's
        # buffers, which a slow server may take longer than 0.5 s to drain.)
        "*:latency=0.005-0.02;bintray.download:bandwidth=128k",
        {"timeouts": {"connect": 2, "read": 0.5}},
        (),
    ),
    "hang": (
        "bintray.download:hang=0.12@30;artifactory.deploy:hang=0.08@30;bintray.api:hang=1@30x2",
        {"timeouts": {"connect": 2, "read": 0.4}},
        ("timed out",),
    ),
    # the download host accepts connections and never answers: every file fails, clearly
    "dead_download_host": (
        "bintray.download:hang=1@30",
        {"timeouts": {"connect": 2, "read": 0.25}, "max_attempts": 2, "workers": 8},
        ("timed out",),
    ),
    "redirect_loop": ("bintray.download:redirect_loop=0.3", {}, ("redirect",)),
    "mixed": (
        "mix;bintray.download:hang=0.04@30,redirect_loop=0.05,latency=0.005-0.02;"
        "artifactory.deploy:hang=0.03@30,corrupt=0.05,reset=0.03",
        {"timeouts": {"connect": 2, "read": 0.4}},
        (
            "HTTP 5",
            "429",
            "closed the connection",
            "reset",
            "cut short",
            "size",
            "mismatch",
            "timed out",
            "redirect",
        ),
    ),
}

# Faults that are not worth retrying: the affected items may end failed on the first run.
PERMANENT = {"redirect_loop", "dead_download_host", "mixed"}


@pytest.mark.parametrize("kind", list(FAULTS))
async def test_fault_kind(tmp_path: Path, kind: str) -> None:
    spec, overrides, reasons = FAULTS[kind]
    async with Sandbox("tiny", faults=spec, seed=5) as sandbox:
        # Enough attempts that no item can lose every try to a fault that is worth retrying: a
        # burst (at most 9 per family, 2 families per item) or a 50% chance per try.
        settings = sandbox_settings(sandbox, tmp_path, **{"max_attempts": 20, **overrides})
        bus = EventBus()
        retries: list[Retrying] = []
        bus.subscribe(lambda event: retries.append(event) if isinstance(event, Retrying) else None)
        started = time.monotonic()
        first = await migrate(settings, bus=bus, stop=StopControl(), phases=ALL_PHASES)
        took = time.monotonic() - started
        db = settings.store.path
        assert first.counts is not None
        assert first.counts[ItemState.IN_FLIGHT].items == 0
        assert impossible_states(db) == []
        assert done_items_are_verified(sandbox, db) == []
        failed = [row for row in store_rows(db) if row["state"] == ItemState.FAILED]
        for row in failed:
            reason = row["last_error"]
            if reason.startswith("checksum_file_orphan"):  # its artifact failed before it
                artifact = row["path"].rpartition(".")[0]
                assert any(other["path"] == artifact for other in failed), reason
                continue
            assert any(r.lower() in reason.lower() for r in reasons), reason
            assert "Traceback" not in reason
            assert len(reason) < 600
        if kind not in PERMANENT:
            assert failed == [], [r["last_error"] for r in failed]
        if kind == "dead_download_host":
            # every download fails the same way: the circuit breaker stops the run (exit 3)
            # and leaves the files pending, none failed
            assert first.tripped is not None
            assert first.tripped.service == "source"
            assert failed == []
            assert first.counts[ItemState.PENDING].items > 0
        else:
            assert first.counts[ItemState.PENDING].items == 0
        if kind == "429_storm":
            throttled = [e for e in retries if "429" in e.reason]
            assert throttled
            assert all(e.delay >= 0.1 for e in throttled)  # Retry-After honoured
        injected = sandbox.faults.count()
        if kind != "slow":
            assert injected > 0
        # what the tool did, for the note
        why = Counter(_short(row["last_error"]) for row in failed)
        done = first.counts[ItemState.DONE].items
        print(
            f"\n[{kind}] faults injected {injected}, retries {len(retries)}, {took:.1f}s: "
            f"{done} done, {len(failed)} failed {dict(why)}"
        )

        sandbox.faults.disable()
        second = await migrate_once(settings, retry_failed=True)
        assert second.counts is not None
        assert second.counts[ItemState.DONE].items == second.counts.total.items
        assert impossible_states(db) == []
        assert target_differences(sandbox) == []


def _short(reason: str) -> str:
    for needle in (
        "too many redirects",
        "timed out",
        "mismatch",
        "cut short",
        "reset",
        "closed the connection",
        "HTTP 429",
        "HTTP 5",
    ):
        if needle.lower() in reason.lower():
            return needle
    return reason[:60]


async def test_an_upload_fed_by_a_slow_download_is_not_a_stalled_server() -> None:
    # The stall clock runs while a chunk is with the server, not while the upload waits for
    # the next chunk from its own source: pauses longer than the limit between chunks pass.
    async with Sandbox("tiny", seed=5) as sandbox:
        sandbox.artifactory.create_repository("slow-local", "generic")
        e = sandbox.endpoints
        target = ArtifactoryTarget(
            e.artifactory_url,
            e.artifactory_user,
            password=Secret(e.artifactory_password),
            timeouts=Timeouts(connect=2, sock_read=0.2),
        )
        pieces = [bytes([n]) * 100_000 for n in range(4)]

        async def slow_download() -> AsyncIterator[bytes]:
            for piece in pieces:
                await anyio.sleep(0.35)
                yield piece

        async with target:
            stored = await target.deploy(
                "slow-local", "slow.bin", slow_download(), size=400_000, checksums=Checksums()
            )
        assert stored.checksums.sha256 == hashlib.sha256(b"".join(pieces)).hexdigest()


async def test_upload_to_a_server_that_stops_reading_times_out() -> None:
    # Larger than any socket buffer: the client blocks writing, where aiohttp's own read
    # timeout does not run yet. The upload must still end, as a retryable error.
    release = anyio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await release.wait()  # accept the connection, never read a byte
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    target = ArtifactoryTarget(
        f"http://127.0.0.1:{port}/artifactory",
        "admin",
        password=Secret("secret"),
        timeouts=Timeouts(connect=2, sock_read=0.5),
    )

    async def chunks() -> AsyncIterator[bytes]:
        block = bytes(1024 * 1024)
        for _ in range(64):
            yield block

    try:
        async with target:
            with anyio.fail_after(10):
                with pytest.raises(TransientError, match="stalled"):
                    await target.deploy(
                        "r", "big.bin", chunks(), size=64 * 1024 * 1024, checksums=Checksums()
                    )
    finally:
        release.set()
        server.close()
        await server.wait_closed()
