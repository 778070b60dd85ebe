"""The emulators' own ceiling on this machine (issue 2 §8), measured from a separate process.

Three sandboxes, each ``transfer sandbox serve`` in its own process; this process is the client
(plain aiohttp, no hashing, no verification):

* ``bench-large --sink``: one large download (following the 302 to the CDN path), one large
  upload, and one large naive copy (the download streamed straight into the upload).
* ``bench-small --sink``: N small downloads, N small uploads, and N naive copies (GET → PUT),
  16 at a time.
* ``tiny`` with content stored on disk (normal mode): one large and N small uploads.

The naive copies are the baselines the engine figures are divided by: they move the same bytes
through the same emulators with the least client work possible.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.client import (
    Endpoints,
    create_target_repos,
    download,
    list_file_paths,
    open_session,
    repeat_bytes,
    run_concurrently,
    upload,
)
from benchmarks.procs import SandboxProcess, cpu_seconds

__all__ = ["CONCURRENCY", "measure_ceiling"]

CONCURRENCY = 16
SMALL_PUT_SIZE = 32 * 1024  # the mean size of bench-small's 1-64 KiB files
_SCRATCH = "ceiling"  # target repository the baselines write into
_MB = 1e6


async def _timed(
    sandbox: SandboxProcess, work: Callable[[], Awaitable[object]]
) -> tuple[float, float]:
    """(wall seconds, emulator CPU seconds) of ``work``."""
    cpu = cpu_seconds(sandbox.pid)
    started = time.perf_counter()
    await work()
    return time.perf_counter() - started, cpu_seconds(sandbox.pid) - cpu


def _rate(amount: float, seconds: float, emulator_cpu: float, unit: str) -> dict[str, Any]:
    return {
        "value": amount / seconds if seconds > 0 else 0.0,
        "unit": unit,
        "seconds": seconds,
        # ~1.0 means the emulator's event loop had a core to itself: the emulator is the limit
        # (above 1.0: its hashing or disk threads used some of the second core too)
        "emulator_cpu_share": emulator_cpu / seconds if seconds > 0 else 0.0,
    }


async def _large(sandbox: SandboxProcess, size: int) -> dict[str, Any]:
    ep = sandbox.endpoints
    repo, folder = "bench-large", "big-files/1.0.0"
    out: dict[str, Any] = {}
    async with open_session(4) as session:
        await create_target_repos(session, ep, [_SCRATCH])

        async def get() -> None:
            await download(session, ep, repo, f"{folder}/blob-0.bin")

        async def put() -> None:
            await upload(session, ep, _SCRATCH, "upload.bin", repeat_bytes(size), size)

        async def copy() -> None:
            async def into_upload(chunks: AsyncIterator[bytes]) -> int:
                await upload(session, ep, _SCRATCH, "copy.bin", chunks, size)
                return size

            await download(session, ep, repo, f"{folder}/blob-1.bin", sink=into_upload)

        for name, work in (
            ("large_download", get),
            ("large_upload_sink", put),
            ("large_copy_sink", copy),
        ):
            wall, cpu = await _timed(sandbox, work)
            out[name] = _rate(size / _MB, wall, cpu, "MB/s")
    return out


def _small_body(index: int) -> bytes:
    head = index.to_bytes(16, "big")
    return head + bytes(SMALL_PUT_SIZE - len(head))


async def _small_puts(
    session: aiohttp.ClientSession, ep: Endpoints, count: int, prefix: str
) -> None:
    async def put(i: int) -> None:
        path = f"{prefix}/f-{i:06d}.bin"
        await upload(session, ep, _SCRATCH, path, _small_body(i), SMALL_PUT_SIZE)

    await run_concurrently([partial(put, i) for i in range(count)], CONCURRENCY)


async def _small(sandbox: SandboxProcess, count: int) -> dict[str, Any]:
    ep = sandbox.endpoints
    out: dict[str, Any] = {}
    async with open_session(CONCURRENCY * 2) as session:
        await create_target_repos(session, ep, [_SCRATCH])
        files = await list_file_paths(session, ep, "bench")  # also warms the digests
        files = files[:count]

        async def gets() -> None:
            jobs = [partial(download, session, ep, "bench", p) for p, _ in files]
            await run_concurrently(jobs, CONCURRENCY)

        async def puts() -> None:
            await _small_puts(session, ep, len(files), "put")

        async def copies() -> None:
            async def copy(path: str, size: int) -> None:
                async def into_upload(chunks: AsyncIterator[bytes]) -> int:
                    await upload(session, ep, _SCRATCH, f"copy/{path}", chunks, size)
                    return size

                await download(session, ep, "bench", path, sink=into_upload)

            await run_concurrently([partial(copy, p, s) for p, s in files], CONCURRENCY)

        for name, work, unit in (
            ("small_download", gets, "files/s"),
            ("small_upload_sink", puts, "files/s"),
            ("small_copy_sink", copies, "files/s"),
        ):
            wall, cpu = await _timed(sandbox, work)
            out[name] = _rate(len(files), wall, cpu, unit)
            out[name]["files"] = len(files)
    # a download is two requests (the 302, then the CDN), a copy three
    out["small_download"]["requests_per_s"] = 2 * out["small_download"]["value"]
    out["small_copy_sink"]["requests_per_s"] = 3 * out["small_copy_sink"]["value"]
    return out


async def _disk(sandbox: SandboxProcess, size: int, count: int) -> dict[str, Any]:
    ep = sandbox.endpoints
    out: dict[str, Any] = {}
    async with open_session(CONCURRENCY * 2) as session:
        await create_target_repos(session, ep, [_SCRATCH])

        async def put() -> None:
            await upload(session, ep, _SCRATCH, "upload.bin", repeat_bytes(size, seed=7), size)

        async def puts() -> None:
            await _small_puts(session, ep, count, "disk")

        wall, cpu = await _timed(sandbox, put)
        out["large_upload_disk"] = _rate(size / _MB, wall, cpu, "MB/s")
        wall, cpu = await _timed(sandbox, puts)
        out["small_upload_disk"] = _rate(count, wall, cpu, "files/s")
        out["small_upload_disk"]["files"] = count
    return out


def measure_ceiling(workdir: Path, *, large_size: int, small_count: int) -> dict[str, Any]:
    """Every ceiling figure, keyed by name: ``{"value", "unit", "seconds", ...}``."""
    figures: dict[str, Any] = {}
    with SandboxProcess(
        workdir / "ceiling-large", "bench-large", sink=True, file_size=large_size
    ) as sandbox:
        figures.update(asyncio.run(_large(sandbox, large_size)))
    with SandboxProcess(
        workdir / "ceiling-small", "bench-small", sink=True, file_count=small_count
    ) as sandbox:
        figures.update(asyncio.run(_small(sandbox, small_count)))
    with SandboxProcess(workdir / "ceiling-disk", "tiny") as sandbox:
        figures.update(asyncio.run(_disk(sandbox, large_size, small_count)))
    return figures
