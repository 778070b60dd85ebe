"""Shared setup for the Artifactory emulator fidelity tests: a real server on a loopback port."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from transfer.sandbox.artifactory import ArtifactoryEmulator, ArtifactoryOptions


def basic(user: str, password: str) -> dict[str, str]:
    """An Authorization header for Basic credentials."""
    return {"Authorization": aiohttp.encode_basic_auth(user, password)}


def bearer(token: str) -> dict[str, str]:
    """An Authorization header for an access token."""
    return {"Authorization": f"Bearer {token}"}


ADMIN = basic("admin", "password")


def digests(data: bytes) -> dict[str, str]:
    """sha1/sha256/md5 of some bytes."""
    return {
        "sha1": hashlib.sha1(data).hexdigest(),
        "sha256": hashlib.sha256(data).hexdigest(),
        "md5": hashlib.md5(data).hexdigest(),
    }


@dataclass
class Art:
    """A running emulator plus a client session pointed at it."""

    emulator: ArtifactoryEmulator
    server: TestServer
    session: aiohttp.ClientSession

    def url(self, path: str) -> str:
        """Absolute URL for a path relative to the server root (``/artifactory/...``)."""
        return str(self.server.make_url(path))

    def art(self, path: str) -> str:
        """Absolute URL for a path under ``/artifactory/``."""
        return self.url("/artifactory/" + path.lstrip("/"))

    async def repo(self, key: str, **fields: Any) -> None:
        """Create a local repository as admin."""
        body = {"key": key, "rclass": "local", "packageType": "generic", **fields}
        async with self.session.put(
            self.art(f"api/repositories/{key}"), json=body, headers=ADMIN
        ) as resp:
            assert resp.status == 200, await resp.text()

    async def user(self, name: str, password: str = "Secret-1", **fields: Any) -> dict[str, str]:
        """Create a user as admin; returns its Basic Authorization header."""
        body = {"email": f"{name}@example.com", "password": password, **fields}
        async with self.session.put(
            self.art(f"api/security/users/{name}"), json=body, headers=ADMIN
        ) as resp:
            assert resp.status in (200, 201), await resp.text()
        return basic(name, password)

    async def group(self, name: str, **fields: Any) -> None:
        """Create a group as admin."""
        async with self.session.put(
            self.art(f"api/security/groups/{name}"), json=fields, headers=ADMIN
        ) as resp:
            assert resp.status in (200, 201), await resp.text()

    async def grant(
        self,
        name: str,
        repos: list[str],
        *,
        users: dict[str, list[str]] | None = None,
        groups: dict[str, list[str]] | None = None,
        include: list[str] | None = None,
        exclude: list[str] | None = None,
    ) -> None:
        """Create a v2 permission target as admin."""
        repo: dict[str, Any] = {
            "repositories": repos,
            "actions": {"users": users or {}, "groups": groups or {}},
        }
        if include is not None:
            repo["include-patterns"] = include
        if exclude is not None:
            repo["exclude-patterns"] = exclude
        async with self.session.put(
            self.art(f"api/v2/security/permissions/{name}"),
            json={"name": name, "repo": repo},
            headers=ADMIN,
        ) as resp:
            assert resp.status in (200, 201), await resp.text()

    async def deploy(
        self,
        path: str,
        data: bytes,
        *,
        auth: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> aiohttp.ClientResponse:
        """PUT bytes to ``/artifactory/{path}`` (as admin unless ``auth``); response is read."""
        all_headers = {**(ADMIN if auth is None else auth), **(headers or {})}
        async with self.session.put(self.art(path), data=data, headers=all_headers) as resp:
            await resp.read()
            return resp

    async def call(
        self, method: str, path: str, *, auth: dict[str, str] | None = None, **kwargs: Any
    ) -> tuple[aiohttp.ClientResponse, Any]:
        """Any request under ``/artifactory/`` (or ``/access/`` when ``path`` starts with it);
        returns the response and its body (JSON when it parses, else text)."""
        url = self.url(path) if path.startswith("/access/") else self.art(path)
        headers = {**(ADMIN if auth is None else auth), **kwargs.pop("headers", {})}
        async with self.session.request(method, url, headers=headers, **kwargs) as resp:
            raw = await resp.read()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode()
        return resp, body


@asynccontextmanager
async def running(options: ArtifactoryOptions | None = None, **kwargs: Any) -> AsyncIterator[Art]:
    """Start an emulator on 127.0.0.1:0 and a session; clean everything up afterwards."""
    emulator = ArtifactoryEmulator(options, **kwargs)
    server = TestServer(emulator.app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            yield Art(emulator, server, session)
    finally:
        await server.close()
        emulator.close()
