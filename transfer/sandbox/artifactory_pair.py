"""Two Artifactory emulators for the Artifactory → Artifactory path: a seeded *source* (a
self-hosted instance that has been in use for years) and an empty *target*.

:func:`source_content` builds the source's content deterministically from a seed: local
repositories of several package types (a Maven one with its snapshot and checksum settings,
a Debian one with its trivial layout, a generic one with awkward names and a file at the
root), a remote and a virtual repository, files with properties (several values, separators,
non-ASCII) and old timestamps by several users, users (one with its internal password
disabled), groups (one auto-join) and v2 permission targets (groups and users, include and
exclude patterns).  :func:`seed_source` writes it into a running emulator **over its REST
API** — the same calls an administrator's scripts make — with the admin-only
``X-Artifactory-Created``/``-Last-Modified``/``-Created-By`` headers for the timestamps.

:class:`ArtifactoryPair` serves both on loopback; ``transfer sandbox serve --profile
artifactory`` and ``transfer demo --source artifactory`` use it.
"""

from __future__ import annotations

import asyncio
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web
from yarl import URL

from transfer.sandbox.artifactory import ArtifactoryEmulator, ArtifactoryOptions
from transfer.sandbox.listen import serve_app, toml_string, write_sandbox_config

__all__ = [
    "ARTIFACTORY_PROFILE",
    "SOURCE_PASSWORD_ENV",
    "TARGET_PASSWORD_ENV",
    "ArtifactoryPair",
    "PairEndpoints",
    "SeedFile",
    "SourceContent",
    "describe_pair",
    "seed_source",
    "source_content",
    "write_pair_config",
]

ARTIFACTORY_PROFILE = "artifactory"
"""The sandbox profile name that serves an :class:`ArtifactoryPair`."""
SOURCE_PASSWORD_ENV = "TRANSFER_SOURCE_PASSWORD"
TARGET_PASSWORD_ENV = "TRANSFER_ARTIFACTORY_PASSWORD"
_EPOCH = 1_500_000_000_000  # 2017-07-14, in milliseconds: "years of use"
_PLAIN = re.compile(r"[A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class SeedFile:
    """One file of the source: where, what bytes, its properties and provenance."""

    repo: str
    path: str
    body: bytes
    properties: dict[str, list[str]] = field(default_factory=dict)
    created_ms: int = _EPOCH
    modified_ms: int = _EPOCH
    created_by: str = "admin"


@dataclass(frozen=True, slots=True)
class SourceContent:
    """Everything :func:`seed_source` writes."""

    repositories: list[dict[str, Any]]
    files: list[SeedFile]
    users: list[dict[str, Any]]
    groups: list[dict[str, Any]]
    permissions: list[dict[str, Any]]


def _repositories() -> list[dict[str, Any]]:
    return [
        {
            "key": "libs-release-local",
            "rclass": "local",
            "packageType": "maven",
            "description": "Released libraries",
            "notes": "internal: owned by the build team",
            "repoLayoutRef": "maven-2-default",
            "handleReleases": True,
            "handleSnapshots": False,
            "checksumPolicyType": "server-generated-checksums",
            "suppressPomConsistencyChecks": True,
            "includesPattern": "**/*",
            "excludesPattern": "**/*.tmp",
        },
        {
            "key": "debian-local",
            "rclass": "local",
            "packageType": "debian",
            "description": "apt packages",
            "repoLayoutRef": "simple-default",
            "debianTrivialLayout": True,
        },
        {
            "key": "generic-local",
            "rclass": "local",
            "packageType": "generic",
            "description": "Everything else (awkward names included)",
            "repoLayoutRef": "simple-default",
        },
        {
            "key": "maven-remote",
            "rclass": "remote",
            "packageType": "maven",
            "url": "https://repo1.maven.org/maven2/",
            "description": "Maven Central, cached",
            "repoLayoutRef": "maven-2-default",
        },
        {
            "key": "libs",
            "rclass": "virtual",
            "packageType": "maven",
            "repositories": ["libs-release-local", "maven-remote"],
            "defaultDeploymentRepo": "libs-release-local",
            "description": "Resolve from here",
            "repoLayoutRef": "maven-2-default",
        },
    ]


def _files(rng: random.Random, count: int) -> list[SeedFile]:
    users = ("alice", "bob", "ci-bot")
    files: list[SeedFile] = []

    def add(repo: str, path: str, size: int, properties: dict[str, list[str]]) -> None:
        created = _EPOCH + rng.randrange(0, 200 * 86_400_000)
        files.append(
            SeedFile(
                repo,
                path,
                rng.randbytes(size),
                properties,
                created,
                created + rng.randrange(0, 30 * 86_400_000),
                rng.choice(users),
            )
        )

    for index in range(count):
        version = f"1.{index}"
        base = f"com/acme/lib/{version}/lib-{version}"
        revision = f"{rng.getrandbits(40):010x}"
        add("libs-release-local", f"{base}.jar", rng.randrange(1_000, 60_000),
            {"build.number": [str(100 + index)], "vcs.revision": [revision]})  # fmt: skip
        add("libs-release-local", f"{base}.pom", 400, {})
    add("debian-local", "pool/main/h/hello/hello_2.10-2_amd64.deb", 24_000,
        {"deb.distribution": ["bullseye", "bookworm"], "deb.component": ["main"],
         "deb.architecture": ["amd64"]})  # fmt: skip
    add("generic-local", "readme.txt", 64, {"owner": ["team é"]})
    add("generic-local", "odd names/a b+c (1).bin", 3_000,
        {"note": ["semi;colon,comma|pipe=equals"], "empty": [""]})  # fmt: skip
    add("generic-local", "tools/cli/2.0/cli-linux.tar.gz", 150_000, {"os": ["linux"]})
    add("generic-local", "tools/cli/2.0/empty.txt", 0, {})
    return files


def _security() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    users: list[dict[str, Any]] = [
        {"name": "alice", "email": "alice@acme.example", "admin": False},
        {"name": "bob", "email": "bob@acme.example", "admin": True},
        {"name": "ci-bot", "email": "ci@acme.example", "internalPasswordDisabled": True},
    ]
    groups: list[dict[str, Any]] = [
        {"name": "developers", "description": "People who ship", "userNames": ["alice", "bob"]},
        {"name": "readers", "description": "Everyone may read", "autoJoin": True},
    ]
    permissions: list[dict[str, Any]] = [
        {
            "name": "dev-write",
            "repo": {
                "repositories": ["libs-release-local", "generic-local"],
                "include-patterns": ["**"],
                "exclude-patterns": ["**/secret/**"],
                "actions": {
                    "groups": {"developers": ["read", "write", "annotate"]},
                    "users": {"ci-bot": ["read", "write"]},
                },
            },
        },
        {
            "name": "read-debian",
            "repo": {
                "repositories": ["debian-local"],
                "include-patterns": ["pool/**"],
                "exclude-patterns": [""],
                "actions": {"groups": {"readers": ["read"]}},
            },
        },
    ]
    return users, groups, permissions


def source_content(seed: int = 1, *, files: int = 6) -> SourceContent:
    """The source's content for ``seed``; ``files`` Maven versions (two files each) plus a
    handful of Debian and generic files."""
    rng = random.Random(seed)
    users, groups, permissions = _security()
    return SourceContent(_repositories(), _files(rng, files), users, groups, permissions)


def _matrix(properties: dict[str, list[str]]) -> str:
    return "".join(
        f";{quote(k, safe='')}={','.join(quote(v, safe='') for v in values)}"
        for k, values in properties.items()
    )


async def seed_source(url: str, user: str, password: str, content: SourceContent) -> None:
    """Write ``content`` into the Artifactory at ``url`` (its ``/artifactory`` base) as an admin:
    repositories, users, groups, permission targets, then every file with its properties."""
    basic = {"Authorization": aiohttp.encode_basic_auth(user, password)}
    async with aiohttp.ClientSession(headers=basic, raise_for_status=True) as http:
        for config in content.repositories:
            await http.put(f"{url}/api/repositories/{config['key']}", json=config)
        for raw in content.users:
            body = {"password": f"Seed-{raw['name']}-Passw0rd!", **raw}
            await http.put(f"{url}/api/security/users/{raw['name']}", json=body)
        for raw in content.groups:
            await http.put(f"{url}/api/security/groups/{raw['name']}", json=raw)
        for raw in content.permissions:
            await http.put(f"{url}/api/v2/security/permissions/{raw['name']}", json=raw)
        for file in content.files:
            path = "/".join(quote(p, safe="") for p in file.path.split("/"))
            headers = {
                "X-Artifactory-Created": str(file.created_ms),
                "X-Artifactory-Last-Modified": str(file.modified_ms),
                "X-Artifactory-Created-By": file.created_by,
                "X-Artifactory-Modified-By": file.created_by,
            }
            plain = all(_PLAIN.fullmatch(v) for vs in file.properties.values() for v in vs)
            matrix = _matrix(file.properties) if plain else ""
            target = URL(f"{url}/{file.repo}/{path}{matrix}", encoded=True)
            await http.put(target, data=file.body, headers=headers)
            if not plain:
                # values with separators cannot ride as matrix parameters: set them as JSON
                body = {"props": file.properties}
                await http.patch(
                    URL(f"{url}/api/metadata/{file.repo}/{path}", encoded=True), json=body
                )


@dataclass(frozen=True, slots=True)
class PairEndpoints:
    """Where the two emulators listen and the admin login of each."""

    source_url: str  # ends with /artifactory
    target_url: str
    source_user: str
    source_password: str
    target_user: str
    target_password: str


class ArtifactoryPair:
    """A seeded source Artifactory (self-hosted rules) and an empty target (JFrog Cloud's
    rules unless ``target_options`` say otherwise), served on loopback inside ``async with``;
    ``ports`` are (source, target), 0 meaning any free port."""

    def __init__(
        self,
        *,
        seed: int = 1,
        files: int = 6,
        host: str = "127.0.0.1",
        ports: tuple[int, int] = (0, 0),
        target_options: ArtifactoryOptions | None = None,
        content: SourceContent | None = None,
    ) -> None:
        self.host = host
        self.ports = ports
        self.content = content or source_content(seed, files=files)
        self.source = ArtifactoryEmulator(
            ArtifactoryOptions(
                admin_password="source-Passw0rd!", version="7.71.11", profile="self-hosted"
            )
        )
        self.target = ArtifactoryEmulator(target_options or ArtifactoryOptions(profile="cloud"))
        self._runners: list[web.AppRunner] = []
        self._endpoints: PairEndpoints | None = None

    @property
    def endpoints(self) -> PairEndpoints:
        """URLs and logins; only valid inside the ``async with`` block."""
        if self._endpoints is None:
            raise RuntimeError("the Artifactory pair is not running")
        return self._endpoints

    async def _serve(self, app: web.Application, port: int) -> str:
        return await serve_app(self._runners, app, self.host, port) + "/artifactory"

    async def __aenter__(self) -> ArtifactoryPair:
        try:
            source = await self._serve(self.source.app, self.ports[0])
            target = await self._serve(self.target.app, self.ports[1])
            s, t = self.source.options, self.target.options
            self._endpoints = PairEndpoints(
                source, target, s.admin_user, s.admin_password, t.admin_user, t.admin_password
            )
            await seed_source(source, s.admin_user, s.admin_password, self.content)
        except BaseException:
            await self._stop()
            raise
        return self

    async def _stop(self) -> None:
        runners, self._runners = self._runners, []
        self._endpoints = None
        try:
            for runner in reversed(runners):
                await runner.cleanup()
        finally:
            self.source.close()
            self.target.close()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.shield(self._stop())


def write_pair_config(
    endpoints: PairEndpoints, path: Path, *, store_path: str = "transfer-state.db"
) -> None:
    """A ``transfer`` config for the pair at ``path``, the two passwords in ``<path>.env``
    (mode 0600), as :func:`transfer.sandbox.serve.write_config` does for Bintray."""
    write_sandbox_config(
        path,
        source={
            "type": '"artifactory"',
            "url": toml_string(endpoints.source_url),
            "user": toml_string(endpoints.source_user),
            "password": f'"${{{SOURCE_PASSWORD_ENV}}}"',
        },
        target=(endpoints.target_url, endpoints.target_user, TARGET_PASSWORD_ENV),
        secrets={
            SOURCE_PASSWORD_ENV: endpoints.source_password,
            TARGET_PASSWORD_ENV: endpoints.target_password,
        },
        store_path=store_path,
    )


def describe_pair(endpoints: PairEndpoints) -> str:
    """Human-readable URLs and logins of a running pair (this local sandbox's own generated
    logins, guarding nothing but loopback emulators)."""
    return (
        f"source Artifactory {endpoints.source_url}\n"
        f"target Artifactory {endpoints.target_url}\n"
        f"source login       {endpoints.source_user} / {endpoints.source_password}\n"
        f"target login       {endpoints.target_user} / {endpoints.target_password}\n"
    )
