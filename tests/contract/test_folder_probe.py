"""FolderProbe over the Artifactory emulator: one listing answers for the files of a folder,
and every case a listing could get wrong is asked with a ``HEAD`` instead (the emulator's request
log counts both)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
from aiohttp.test_utils import TestServer
from byte_streams import digests, pieces

from transfer.errors import ConflictError
from transfer.http import RetryPolicy
from transfer.pipeline.folder_probe import FolderProbe
from transfer.redaction import Secret
from transfer.sandbox.artifactory import ArtifactoryEmulator, ArtifactoryOptions
from transfer.targets.artifactory import ArtifactoryTarget

pytestmark = pytest.mark.anyio

REPO = "generic-local"


@dataclass
class Site:
    emulator: ArtifactoryEmulator
    target: ArtifactoryTarget

    async def put(self, path: str, seed: int) -> bytes:
        data = random.Random(seed).randbytes(2000)
        await self.target.deploy(REPO, path, pieces(data), size=len(data), checksums=digests(data))
        return data

    def asked(self) -> tuple[int, int]:
        """(listings, HEADs) the emulator answered since the last call."""
        log = self.emulator.request_log
        heads = log.count(method="HEAD")
        listings = sum(
            1 for r in log if r.method == "GET" and r.path.startswith("/artifactory/api/storage/")
        )
        log.clear()
        return listings, heads


@asynccontextmanager
async def site(options: ArtifactoryOptions | None = None) -> AsyncIterator[Site]:
    emulator = ArtifactoryEmulator(
        options or ArtifactoryOptions(admin_user="admin", admin_password="password")
    )
    emulator.create_repository(REPO)
    try:
        async with TestServer(emulator.app) as server:
            url = str(server.make_url("/artifactory"))
            async with ArtifactoryTarget(
                url, "admin", password=Secret("password"), retry_policy=RetryPolicy(max_attempts=1)
            ) as target:
                yield Site(emulator, target)
    finally:
        emulator.close()


async def test_one_listing_answers_for_the_files_of_a_folder() -> None:
    async with site() as s:
        theirs = await s.put("lib/1.0/a.bin", 1)
        s.asked()
        probe = FolderProbe(s.target)
        found = await probe.probe(REPO, "lib/1.0/a.bin")
        assert found is not None
        assert (found.size, found.checksums.sha256) == (len(theirs), digests(theirs).sha256)
        for name in ("b.bin", "c.bin", "d.bin"):
            assert await probe.probe(REPO, f"lib/1.0/{name}") is None
        assert await probe.probe(REPO, "lib/2.0/a.bin") is None  # a folder not there yet
        assert s.asked() == (3, 0)  # lib/1.0, lib/2.0 and, that being empty, lib
        assert (probe.listings, probe.answered) == (3, 5)


async def test_what_a_listing_could_get_wrong_is_asked_with_a_head() -> None:
    async with site() as s:
        await s.put("lib/1.0/a.bin", 1)
        await s.put("lib/1.0/sub/x.bin", 2)
        await s.put("lib/1.0/Upper.bin", 3)
        s.asked()
        probe = FolderProbe(s.target)
        assert await probe.probe(REPO, "lib/1.0/a.bin") is not None
        assert s.asked() == (1, 0)
        # asked again (a re-opened file), a retry, a name not plain ASCII: a HEAD each
        assert await probe.probe(REPO, "lib/1.0/a.bin") is not None
        assert await probe.probe(REPO, "lib/1.0/e.bin", first_try=False) is None
        assert await probe.probe(REPO, "lib/1.0/a b+c é.bin") is None
        # the same name in another case (a case-insensitive database would say it is there)
        assert await probe.probe(REPO, "lib/1.0/upper.bin") is None
        assert s.asked() == (0, 4)
        # a folder where the file goes: the probe's own answer, a conflict
        with pytest.raises(ConflictError):
            await probe.probe(REPO, "lib/1.0/sub")


async def test_a_listing_answers_only_while_it_is_fresh() -> None:
    now = [0.0]
    async with site() as s:
        probe = FolderProbe(s.target, max_age=10.0, clock=lambda: now[0])
        assert await probe.probe(REPO, "lib/1.0/a.bin") is None
        await s.put("lib/1.0/b.bin", 2)  # someone writes after the listing was taken
        now[0] = 10.5
        s.asked()
        assert await probe.probe(REPO, "lib/1.0/b.bin") is not None  # listed again
        assert s.asked() == (1, 0)


async def test_max_age_zero_probes_every_path() -> None:
    async with site() as s:
        probe = FolderProbe(s.target, max_age=0)
        for name in ("a.bin", "b.bin"):
            assert await probe.probe(REPO, f"lib/1.0/{name}") is None
        assert s.asked() == (0, 2)


async def test_a_target_that_cannot_list_is_probed_path_by_path() -> None:
    """A file where the folder should be refuses a listing (400): that path gets a HEAD;
    after three refusals in a row every path does."""
    async with site() as s:
        for n in range(3):
            await s.put(f"f{n}", n)
        s.asked()
        probe = FolderProbe(s.target)
        for n in range(3):
            assert await probe.probe(REPO, f"f{n}/x.bin") is None
        assert s.asked() == (3, 3)
        assert not probe.lists
        assert await probe.probe(REPO, "lib/1.0/a.bin") is None
        assert s.asked() == (0, 1)


async def test_a_folder_too_large_to_list_again_is_probed_path_by_path() -> None:
    async with site() as s:
        for n in range(3):
            await s.put(f"flat/f{n}.bin", n)
        s.asked()
        probe = FolderProbe(s.target, max_entries=2)
        assert await probe.probe(REPO, "flat/f0.bin") is not None
        assert await probe.probe(REPO, "flat/new.bin") is None
        assert s.asked() == (1, 2)  # listed once, then a HEAD per path
        assert probe.lists  # other folders are still listed
        assert await probe.probe(REPO, "lib/1.0/a.bin") is None
        assert s.asked() == (3, 0)  # lib/1.0 and lib empty: the root's listing shows no lib


async def test_a_fresh_target_costs_a_few_listings_not_one_per_folder() -> None:
    """Folders that are not there are known from a listing further up: an empty repository
    costs three listings (the first folder, its parent, the root) for files in a dozen folders,
    while a folder that is there, or whose name a listing cannot vouch for, is listed itself."""
    now = [0.0]
    async with site() as s:
        await s.put("old/1.0/a.bin", 1)
        await s.put("Case/x.bin", 2)
        s.asked()
        probe = FolderProbe(s.target, max_age=10.0, clock=lambda: now[0])
        for package in range(4):
            for version in range(3):
                assert await probe.probe(REPO, f"pkg{package}/{version}.0/f.bin") is None
        assert s.asked() == (3, 0)
        assert probe.answered == 12
        # there: listed itself (and its file found); another case, or a name not plain: listed
        assert await probe.probe(REPO, "old/1.0/a.bin") is not None
        assert await probe.probe(REPO, "case/1.0/f.bin") is None
        assert await probe.probe(REPO, "pkg é/1.0/f.bin") is None
        # old/1.0; case/1.0 and case (empty, so its parent too); the same for "pkg é"
        assert s.asked() == (5, 0)
        # the root's listing is stale after max_age: asked again, once
        now[0] = 10.5
        assert await probe.probe(REPO, "pkg9/1.0/f.bin") is None
        assert await probe.probe(REPO, "pkg9/2.0/f.bin") is None
        assert s.asked() == (3, 0)
