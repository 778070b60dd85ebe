"""The implementations the Target behaviour suite runs over, one factory each.

A factory is an async context manager ``(workdir) -> TargetCase``: it starts whatever serves the
target (an emulator, nginx), opens the target, and gives a way to read what the service holds
*around* the target (so the suite checks stored bytes, not the target's own word).  To run the
suite over a new target, write one factory and add it to ``TARGET_CASES`` (with the marks of
the services it needs); nothing else changes.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from nginx_site import reachable_folder, require_nginx

from transfer.http import RetryPolicy
from transfer.redaction import Secret
from transfer.sandbox.artifactory import ArtifactoryEmulator, ArtifactoryOptions
from transfer.targets.artifactory import ArtifactoryTarget
from transfer.targets.base import Target
from transfer.targets.webdav import WebDavTarget

NO_RETRY = RetryPolicy(max_attempts=1)


@dataclass(frozen=True)
class TargetCase:
    """An opened target, a repository to write into, and the service's own view of it."""

    target: Target
    repo: str
    """A repository that exists and is empty."""
    stored: Callable[[str, str], bytes | None]
    """The bytes the service holds at ``(repo, path)``, read around the target; None: none."""
    unauthorised: Callable[[], Target] | None = None
    """A target on the same service with a wrong credential (None: the service has no auth)."""


CaseFactory = Callable[[Path], AbstractAsyncContextManager[TargetCase]]


@asynccontextmanager
async def artifactory_case(workdir: Path) -> AsyncIterator[TargetCase]:
    """The Artifactory target on the Artifactory emulator (checksum deploy, properties,
    server checksums, the admin facet)."""
    emulator = ArtifactoryEmulator(
        ArtifactoryOptions(admin_user="admin", admin_password="password")
    )
    emulator.create_repository("generic-local")

    def stored(repo: str, path: str) -> bytes | None:
        item = emulator.item(repo, path)
        if item is None or item.folder or item.sha1 is None:
            return None
        blob = emulator.blob_path(item.sha1)
        assert blob is not None
        return blob.read_bytes()

    try:
        async with TestServer(emulator.app) as server:
            url = str(server.make_url("/artifactory"))

            def target(password: str) -> ArtifactoryTarget:
                return ArtifactoryTarget(
                    url, "admin", password=Secret(password), retry_policy=NO_RETRY
                )

            async with target("password") as opened:
                yield TargetCase(
                    opened, "generic-local", stored, unauthorised=lambda: target("wrong")
                )
    finally:
        emulator.close()


@asynccontextmanager
async def webdav_case(workdir: Path) -> AsyncIterator[TargetCase]:
    """The WebDAV target PUTting into real nginx (``dav_methods PUT``): bytes only."""
    require_nginx()
    from benchmarks.nginx import NginxServer

    with reachable_folder() as site:
        (site / "data").mkdir()
        (site / "data").chmod(0o755)
        # started from this thread: nginx is told to die with the thread that started it
        with NginxServer(site / "data", site / "upload", site / "nginx") as server:

            def stored(repo: str, path: str) -> bytes | None:
                file = server.upload_dir / repo / path
                return file.read_bytes() if file.is_file() else None

            async with WebDavTarget(server.upload_url, retry_policy=NO_RETRY) as opened:
                yield TargetCase(opened, f"repo-{uuid.uuid4().hex[:8]}", stored)


TARGET_FACTORIES: dict[str, CaseFactory] = {
    "artifactory": artifactory_case,
    "webdav-nginx": webdav_case,
}
TARGET_CASES: list[Any] = [
    "artifactory",
    pytest.param("webdav-nginx", marks=pytest.mark.nginx),
]
