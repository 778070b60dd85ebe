"""Plain aiohttp against a running sandbox: set-up calls and the naive transfers baselines use.

Nothing here goes through ``transfer``'s own HTTP layer (no retries, no hashing, no
verification): it is the simplest client that can move the bytes, so what it reaches is the
ceiling the emulators allow on this machine.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from functools import partial
from typing import Any
from urllib.parse import quote

import aiohttp

__all__ = [
    "CHUNK",
    "Endpoints",
    "bintray_repos",
    "create_target_repos",
    "download",
    "download_url",
    "list_file_paths",
    "open_session",
    "repeat_bytes",
    "run_concurrently",
    "upload",
    "warm_digests",
    "warm_emulator",
]

CHUNK = 1 << 20
Endpoints = dict[str, Any]
_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=10, sock_read=60)


def open_session(concurrency: int = 64) -> aiohttp.ClientSession:
    """One session for the whole measurement; enough connections for ``concurrency``."""
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    return aiohttp.ClientSession(connector=connector, timeout=_TIMEOUT)


def _bintray_auth(ep: Endpoints) -> aiohttp.BasicAuth:
    return aiohttp.BasicAuth(ep["bintray_user"], ep["bintray_key"])


def _artifactory_auth(ep: Endpoints) -> aiohttp.BasicAuth:
    return aiohttp.BasicAuth(ep["artifactory_user"], ep["artifactory_password"])


async def bintray_repos(session: aiohttp.ClientSession, ep: Endpoints) -> list[str]:
    """Names of the organisation's repositories."""
    url = f"{ep['bintray_api']}/repos/{ep['subject']}"
    async with session.get(url, auth=_bintray_auth(ep)) as response:
        response.raise_for_status()
        return [repo["name"] for repo in await response.json()]


async def create_target_repos(
    session: aiohttp.ClientSession, ep: Endpoints, keys: Iterable[str]
) -> None:
    """A generic local Artifactory repository per key (400 = it exists already: fine)."""
    for key in keys:
        url = f"{ep['artifactory']}/api/repositories/{quote(key, safe='')}"
        body = {"key": key, "rclass": "local", "packageType": "generic"}
        async with session.put(url, json=body, auth=_artifactory_auth(ep)) as response:
            if response.status not in (200, 201, 400):
                response.raise_for_status()


async def _packages(session: aiohttp.ClientSession, ep: Endpoints, repo: str) -> list[str]:
    names: list[str] = []
    url = f"{ep['bintray_api']}/repos/{ep['subject']}/{quote(repo, safe='')}/packages"
    while True:
        params = {"start_pos": str(len(names))}
        async with session.get(url, params=params, auth=_bintray_auth(ep)) as response:
            response.raise_for_status()
            page = await response.json()
            total = int(response.headers.get("X-RangeLimit-Total", "0"))
        names += [p["name"] for p in page]
        if not page or len(names) >= total:
            return names


async def list_file_paths(
    session: aiohttp.ClientSession, ep: Endpoints, repo: str, *, concurrency: int = 8
) -> list[tuple[str, int]]:
    """(path, size) of every file of ``repo``, through the package file lists.

    As a side effect the emulator computes (and memoises) every file's digests, which it does
    lazily on the first listing: calling this before a timed run keeps that emulator-only work
    out of the measurement.
    """
    packages = await _packages(session, ep, repo)
    found: list[tuple[str, int]] = []

    async def files_of(package: str) -> None:
        url = (
            f"{ep['bintray_api']}/packages/{ep['subject']}/{quote(repo, safe='')}/"
            f"{quote(package, safe='')}/files"
        )
        params = {"include_unpublished": "1"}
        async with session.get(url, params=params, auth=_bintray_auth(ep)) as response:
            response.raise_for_status()
            found.extend((f["path"], int(f["size"])) for f in await response.json())

    await run_concurrently([partial(files_of, p) for p in packages], concurrency)
    return found


async def warm_digests(session: aiohttp.ClientSession, ep: Endpoints) -> int:
    """List every file of every repository (see :func:`list_file_paths`); returns the count."""
    count = 0
    for repo in await bintray_repos(session, ep):
        count += len(await list_file_paths(session, ep, repo))
    return count


def warm_emulator(ep: Endpoints) -> int:
    """:func:`warm_digests` over a session of its own, from synchronous code (the benchmarks'
    set-up, before the measured run); returns the number of files."""

    async def warm() -> int:
        async with open_session(16) as session:
            return await warm_digests(session, ep)

    return asyncio.run(warm())


async def run_concurrently(jobs: Sequence[Callable[[], Awaitable[Any]]], concurrency: int) -> None:
    """Run ``jobs`` with at most ``concurrency`` at once; the first failure propagates."""
    queue = list(reversed(jobs))

    async def lane() -> None:
        while queue:
            await queue.pop()()

    async with asyncio.TaskGroup() as group:
        for _ in range(min(concurrency, len(jobs))):
            group.create_task(lane())


def download_url(ep: Endpoints, repo: str, path: str) -> str:
    """The Bintray download-host URL of a file (it answers with a 302 to the CDN)."""
    return f"{ep['bintray_download']}/{ep['subject']}/{quote(repo)}/{quote(path)}"


async def download(
    session: aiohttp.ClientSession,
    ep: Endpoints,
    repo: str,
    path: str,
    sink: Callable[[AsyncIterator[bytes]], Awaitable[int]] | None = None,
) -> int:
    """GET a file (following the 302) and discard it, or hand its chunks to ``sink``."""
    url = download_url(ep, repo, path)
    async with session.get(url, auth=_bintray_auth(ep)) as response:
        response.raise_for_status()
        if sink is not None:
            return await sink(response.content.iter_chunked(CHUNK))
        total = 0
        async for chunk in response.content.iter_chunked(CHUNK):
            total += len(chunk)
        return total


async def upload(
    session: aiohttp.ClientSession,
    ep: Endpoints,
    repo: str,
    path: str,
    body: bytes | AsyncIterator[bytes],
    size: int,
) -> None:
    """PUT ``size`` bytes to Artifactory with no checksum headers."""
    url = f"{ep['artifactory']}/{quote(repo)}/{quote(path)}"
    headers = {"Content-Length": str(size), "Content-Type": "application/octet-stream"}
    async with session.put(url, data=body, headers=headers, auth=_artifactory_auth(ep)) as r:
        if r.status != 201:
            raise RuntimeError(f"PUT {path}: HTTP {r.status} {(await r.text())[:200]}")


async def repeat_bytes(size: int, seed: int = 0) -> AsyncIterator[bytes]:
    """``size`` bytes in 1 MiB chunks, one buffer reused: the client costs next to nothing."""
    block = hashlib.sha256(seed.to_bytes(8, "big")).digest() * (CHUNK // 32)
    left = size
    while left > 0:
        take = min(left, CHUNK)
        yield block if take == CHUNK else block[:take]
        left -= take
