"""The Bintray emulator as the source tests use it: an organisation with more than one page of
packages, served over sockets, and a :class:`BintraySource` opened on it."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp.test_utils import TestServer

from transfer.http import RetryPolicy
from transfer.redaction import Secret
from transfer.sandbox.bintray import BintrayEmulator, BintrayOptions
from transfer.sandbox.generator import build_organization, credentials
from transfer.sandbox.layouts import Forge
from transfer.sandbox.orgdata import Organization
from transfer.sources.bintray import BintraySource

NO_RETRY = RetryPolicy(max_attempts=1)
MANY = 120  # packages in the extra repository: three pages of 50


def tiny_with_many_packages() -> Organization:
    """The tiny profile plus repository ``many`` with :data:`MANY` packages, a few with files."""
    org = build_organization("tiny", seed=1)
    forge = Forge(org, random.Random(7))
    repo = forge.add_repo("many", "generic", desc="More than one page of packages")
    for index in range(MANY):
        package = forge.add_package(repo, f"pkg {index:03d}+x")
        if index % 40 == 0:
            version = forge.add_version(package, "1.0")
            forge.add_file(repo, package, version, f"pkg-{index:03d}/1.0/file.bin", 1000 + index)
    return org


@asynccontextmanager
async def serving(
    org: Organization, options: BintrayOptions | None = None
) -> AsyncIterator[tuple[str, str]]:
    """The emulator's API and download hosts on loopback: (api URL, download URL)."""
    emulator = BintrayEmulator(org, options=options)
    async with TestServer(emulator.api_app) as api, TestServer(emulator.download_app) as dl:
        emulator.download_base_url = str(dl.make_url(""))
        yield str(api.make_url("")), str(dl.make_url(""))


def source_for(
    org: Organization, api: str, dl: str, *, user: str | None = None, key: str | None = None
) -> BintraySource:
    """A source on the emulator as the org's first admin (or ``user``), not retrying."""
    creds = credentials(org)
    return BintraySource(
        api,
        dl,
        org.name,
        user or creds["user"],
        Secret(key or (org.users[user].api_key if user else creds["api_key"])),
        retry_policy=NO_RETRY,
    )


def model_files(org: Organization) -> dict[tuple[str, str], tuple[int, bool]]:
    """(repository, path) → (size, published) of every file of the organisation."""
    return {
        (f.repo, f.path): (f.size, f.published and v.published)
        for repo in org.repos.values()
        for p in repo.packages.values()
        for v in p.versions
        for f in v.files
    }
