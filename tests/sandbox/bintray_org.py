"""A small hand-made organisation with known values, and a harness serving it over sockets.

Names are deliberately awkward (spaces, ``+``, ``:``, ``%``, unicode) because real Bintray
organisations had them and naive URL handling breaks on them.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp.test_utils import BaseTestServer, TestServer
from yarl import URL

from transfer.sandbox.bintray import BintrayEmulator
from transfer.sandbox.documents import add_documents
from transfer.sandbox.orgdata import (
    AccessKey,
    Attribute,
    BintrayFile,
    BintrayPackage,
    BintrayRepo,
    BintrayVersion,
    Entitlement,
    Member,
    Organization,
    Product,
    Team,
    User,
)

ORG = "acme"
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")

# user name -> api key
KEYS = {
    "olivia": "olivia-api-key",  # owner
    "adam": "adam-api-key",  # admin
    "pat": "pat-api-key",  # member, publishes to releases and awk, reads vault
    "rita": "rita-api-key",  # member, reads vault
    "mona": "mona-api-key",  # member without a team
    "otto": "otto-api-key",  # not a member
}
ACCESS_KEY = ("ci-key", "ci-key-password")
EXPIRED_KEY = ("old-key", "old-key-password")

AWK_PACKAGE = "conan pkg:user+ü%"
AWK_VERSION = "1.0+build:5 ü"
AWK_PATH = "dir with space/a+b:c%d ü.txt"
SECRET_PATH = "secret-tool/1.0/secret-tool-1.0.tar.gz"
SECRET_SIZE = 3 * 1024 * 1024 + 17
DRAFT_PATH = "secret-tool/1.0/draft notes.txt"
JAR_PATH = "com/acme/core-lib/1.2.0/core-lib-1.2.0.jar"
RC_PATH = "com/acme/core-lib/2.0.0-rc/core-lib-2.0.0-rc.jar"


def _file(repo: str, package: str, version: str, path: str, size: int, **kw: Any) -> BintrayFile:
    return BintrayFile(
        path=path,
        repo=repo,
        package=package,
        version=version,
        owner=ORG,
        size=size,
        content_key=f"{repo}/{path}",
        created="2019-07-01T20:51:42.879Z",
        **kw,
    )


def _releases() -> BintrayRepo:
    core = BintrayPackage(
        name="core-lib",
        desc="Core library",
        labels=["java"],
        licenses=["Apache-2.0"],
        vcs_url="https://example.com/core.git",
        website_url="https://example.com",
        github_repo="acme/core-lib",
        github_release_notes_file="NOTES.md",
        maturity="Stable",
        system_ids=["com.acme:core-lib"],
        linked_to_repos=["debs"],
        attributes=[
            Attribute("build", "number", [1234]),
            Attribute("channel", "string", ["stable", "lts"]),
            Attribute("_internal", "date", ["2019-01-02T03:04:05.678Z"]),
        ],
        download_counts={"1.2.0": 42, "1.1.0": 7},
        versions=[
            BintrayVersion(
                name="2.0.0-rc",
                published=False,
                ordinal=3,
                files=[_file("releases", "core-lib", "2.0.0-rc", RC_PATH, 1000, published=False)],
            ),
            BintrayVersion(
                name="1.2.0",
                desc="Spring release",
                ordinal=2,
                released="2019-01-02T00:00:00.000Z",
                vcs_tag="v1.2.0",
                attributes=[Attribute("qa", "boolean", [True])],
                files=[
                    _file(
                        "releases",
                        "core-lib",
                        "1.2.0",
                        JAR_PATH,
                        48213,
                        attributes=[Attribute("origin", "string", ["ci"])],
                    ),
                    _file(
                        "releases",
                        "core-lib",
                        "1.2.0",
                        "com/acme/core-lib/1.2.0/core-lib-1.2.0.pom",
                        900,
                        kind="text",
                    ),
                ],
            ),
            BintrayVersion(
                name="1.1.0",
                ordinal=1,
                files=[
                    _file(
                        "releases",
                        "core-lib",
                        "1.1.0",
                        "com/acme/core-lib/1.1.0/core-lib-1.1.0.jar",
                        40000,
                    )
                ],
            ),
        ],
    )
    awk = BintrayPackage(
        name=AWK_PACKAGE,
        versions=[
            BintrayVersion(
                name=AWK_VERSION,
                files=[_file("releases", AWK_PACKAGE, AWK_VERSION, AWK_PATH, 321, kind="text")],
            )
        ],
    )
    return BintrayRepo(
        name="releases",
        type="maven",
        desc="Release builds",
        labels=["java"],
        created="2016-03-04T05:06:07.890Z",
        packages={core.name: core, awk.name: awk},
    )


def _vault() -> BintrayRepo:
    tool = BintrayPackage(
        name="secret-tool",
        versions=[
            BintrayVersion(
                name="1.0",
                files=[
                    _file("vault", "secret-tool", "1.0", SECRET_PATH, SECRET_SIZE),
                    _file(
                        "vault", "secret-tool", "1.0", DRAFT_PATH, 64, kind="text", published=False
                    ),
                ],
            )
        ],
    )
    return BintrayRepo(
        name="vault",
        type="generic",
        private=True,
        ip_restrictions={"white_cidrs": ["10.0.0.0/8"], "black_cidrs": []},
        geo_restrictions={"white_list": ["US", "CA"], "black_list": []},
        packages={tool.name: tool},
    )


def _debs() -> BintrayRepo:
    widget = BintrayPackage(
        name="widget-deb",
        versions=[
            BintrayVersion(
                name="1.0",
                files=[
                    _file(
                        "debs",
                        "widget-deb",
                        "1.0",
                        "pool/main/w/widget_1.0_amd64.deb",
                        2048,
                        debian={"deb_distribution": ["wheezy"], "deb_component": ["main"]},
                    )
                ],
            )
        ],
    )
    return BintrayRepo(
        name="debs",
        type="debian",
        default_debian_distribution="wheezy",
        default_debian_component="main",
        default_debian_architecture="amd64",
        packages={widget.name: widget},
    )


def _many() -> BintrayRepo:
    packages = {f"pkg-{i:03d}": BintrayPackage(name=f"pkg-{i:03d}") for i in range(120)}
    return BintrayRepo(name="many", type="generic", packages=packages)


def _free() -> BintrayRepo:
    pkg = BintrayPackage(
        name="freebie",
        versions=[
            BintrayVersion(name="0.1", files=[_file("free", "freebie", "0.1", "freebie.txt", 10)])
        ],
    )
    return BintrayRepo(name="free", type="generic", premium=False, packages={pkg.name: pkg})


def build_org() -> Organization:
    """A fresh organisation; tests may mutate it freely."""
    org = Organization(name=ORG, full_name="ACME Corp", owner="olivia", seed=7)
    org.users = {
        name: User(name=name, full_name=name.title(), api_key=key) for name, key in KEYS.items()
    }
    org.members = [
        Member("olivia", "owner"),
        Member("adam", "admin"),
        Member("pat", "member"),
        Member("rita", "member"),
        Member("mona", "member"),
    ]
    org.teams = {
        "publishers": Team("publishers", ["pat"], {"releases": "publish", "vault": "read"}),
        "readers": Team("readers", ["rita"], {"vault": "read"}),
    }
    org.repos = {r.name: r for r in (_releases(), _vault(), _debs(), _many(), _free())}
    org.access_keys = {
        ACCESS_KEY[0]: AccessKey(ACCESS_KEY[0], ACCESS_KEY[1], expiry=4102444800000),
        EXPIRED_KEY[0]: AccessKey(EXPIRED_KEY[0], EXPIRED_KEY[1], expiry=1000),
    }
    org.entitlements = [
        Entitlement("ent-repo", "r", ["ci-key"], repo="vault", path="secret-tool", tags=["gold"]),
        Entitlement("ent-pkg", "rw", ["ci-key"], repo="releases", package="core-lib"),
        Entitlement(
            "ent-ver", "r", ["old-key"], repo="releases", package="core-lib", version="1.2.0"
        ),
    ]
    org.products = {
        "widget": Product(
            "widget",
            "Widget Suite",
            desc="All widget deliverables",
            packages=["releases/core-lib", "debs/widget-deb"],
            versions=["1.0"],
        )
    }
    add_documents(org, repo="releases", package="core-lib", version="1.2.0", product="widget")
    return org


def basic(login: str, password: str) -> dict[str, str]:
    """An ``Authorization`` header for Basic credentials."""
    return {"Authorization": aiohttp.encode_basic_auth(login, password)}


def auth(user: str) -> dict[str, str]:
    """Basic credentials of a fixture user (or the ``id@acme`` access key) as headers."""
    if user == ACCESS_KEY[0]:
        return basic(f"{ACCESS_KEY[0]}@{ORG}", ACCESS_KEY[1])
    return basic(user, KEYS[user])


def encoded(*segments: str) -> str:
    """A path from segments, each percent-encoded (``/`` inside a segment included)."""
    return "/" + "/".join(quote(s, safe="") for s in segments)


def encoded_path(path: str) -> str:
    """A repository file path with each of its segments percent-encoded."""
    return "/".join(quote(s, safe="") for s in path.split("/"))


@dataclass
class Harness:
    """The emulator serving on two loopback servers, plus a client session."""

    emulator: BintrayEmulator
    api: BaseTestServer
    dl: BaseTestServer
    session: aiohttp.ClientSession

    def api_url(self, path: str, prefix: str = "") -> URL:
        """URL of an already-encoded API path."""
        return self.api.make_url(URL(prefix + path, encoded=True))

    def dl_url(self, path: str) -> URL:
        """URL of an already-encoded download-host path."""
        return self.dl.make_url(URL(path, encoded=True))

    async def get_json(self, path: str, user: str | None = None, **kw: Any) -> Any:
        """GET an API path expecting 200 and JSON."""
        async with self.session.get(
            self.api_url(path), headers=auth(user) if user else None, **kw
        ) as resp:
            assert resp.status == 200, (resp.status, await resp.text())
            return await resp.json()


@asynccontextmanager
async def running(org: Organization | None = None, **kwargs: Any) -> AsyncIterator[Harness]:
    """Serve a :class:`BintrayEmulator` on two loopback ports for the duration of a test."""
    emulator = BintrayEmulator(org or build_org(), **kwargs)
    async with TestServer(emulator.download_app) as dl, TestServer(emulator.api_app) as api:
        emulator.download_base_url = str(dl.make_url(""))
        async with aiohttp.ClientSession() as session:
            yield Harness(emulator, api, dl, session)
