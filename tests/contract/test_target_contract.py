"""The Target behaviour suite: what every target promises the engine, run over each
implementation (``target_cases.TARGET_CASES``), as rclone runs one conformance suite over
every backend.

Probe: ``None`` for nothing, the size (and the target's checksums, when it reports them) for a
file.  Deploy: exactly the bytes sent are stored, under awkward names too; again is harmless,
new bytes replace old; a body that does not add up to its size is refused before anything is
stored.  Checksum deploy: links what the target already holds, ``None`` otherwise.
Properties: stored when the target can hold them, handed back as deferred when it cannot.
Capabilities and the admin facet say truthfully what the target does; a wrong credential is
an authentication error.
"""

from __future__ import annotations

import inspect
import random
from typing import Any

import pytest
from byte_streams import digests, pieces
from target_cases import TargetCase

from transfer.errors import AuthError, SizeMismatch
from transfer.models import Checksums
from transfer.targets.admin import TargetAdmin
from transfer.targets.base import Target, TargetFile

pytestmark = pytest.mark.anyio

AWKWARD = "odd names/a b+c é ;x=1,(1).bin"


def body(seed: int, size: int = 20_000) -> bytes:
    return random.Random(seed).randbytes(size)


async def put(case: TargetCase, path: str, data: bytes, **kwargs: Any) -> TargetFile:
    return await case.target.deploy(
        case.repo, path, pieces(data), size=len(data), checksums=digests(data), **kwargs
    )


async def test_is_a_target_whose_access_check_tells_its_capabilities(
    target_case: TargetCase,
) -> None:
    target = target_case.target
    assert isinstance(target, Target)
    await target.ping()
    info = await target.check_access()
    assert info.product
    assert info.capabilities == target.capabilities


async def test_probe_finds_nothing_where_nothing_is(target_case: TargetCase) -> None:
    assert await target_case.target.probe(target_case.repo, "absent/file.bin") is None


@pytest.mark.parametrize("path", ["dir/file.bin", AWKWARD])
async def test_deploy_stores_exactly_the_bytes_and_probe_sees_them(
    target_case: TargetCase, path: str
) -> None:
    target, data = target_case.target, body(1)
    stored = await target.deploy(
        target_case.repo, path, pieces(data), size=len(data), checksums=digests(data)
    )
    assert (stored.repo, stored.path, stored.size) == (target_case.repo, path, len(data))
    assert target_case.stored(target_case.repo, path) == data
    found = await target.probe(target_case.repo, path)
    assert found is not None
    assert found.size in (None, len(data))
    if target.capabilities.server_checksums:
        expected = digests(data)
        for reported in (stored.checksums, found.checksums):
            assert (reported.sha1, reported.sha256) == (expected.sha1, expected.sha256)


async def test_deploying_again_is_harmless_and_new_bytes_replace_old(
    target_case: TargetCase,
) -> None:
    first, second = body(2), body(3, 5000)
    await put(target_case, "again.bin", first)
    await put(target_case, "again.bin", first)
    assert target_case.stored(target_case.repo, "again.bin") == first
    await put(target_case, "again.bin", second)
    assert target_case.stored(target_case.repo, "again.bin") == second
    found = await target_case.target.probe(target_case.repo, "again.bin")
    assert found is not None
    assert found.size in (None, len(second))


@pytest.mark.parametrize("declared", [19, 21])
async def test_a_body_that_does_not_add_up_is_refused_and_nothing_stored(
    target_case: TargetCase, declared: int
) -> None:
    with pytest.raises(SizeMismatch) as caught:
        await target_case.target.deploy(
            target_case.repo, "short.bin", pieces(b"x" * 20, 5), size=declared,
            checksums=Checksums(),
        )  # fmt: skip
    assert caught.value.retryable
    assert target_case.stored(target_case.repo, "short.bin") is None
    assert await target_case.target.probe(target_case.repo, "short.bin") is None


async def test_checksum_deploy_links_only_what_the_target_holds(target_case: TargetCase) -> None:
    target, data = target_case.target, body(4)
    await put(target_case, "original.bin", data)
    linked = await target.checksum_deploy(target_case.repo, "copy.bin", digests(data))
    if target.capabilities.checksum_deploy:
        assert linked is not None
        assert (linked.path, linked.size) == ("copy.bin", len(data))
        assert target_case.stored(target_case.repo, "copy.bin") == data
    else:
        assert linked is None
    unknown = digests(b"never stored anywhere")
    assert await target.checksum_deploy(target_case.repo, "none.bin", unknown) is None
    assert target_case.stored(target_case.repo, "none.bin") is None


async def test_properties_are_stored_or_handed_back(target_case: TargetCase) -> None:
    target, data = target_case.target, body(5, 100)
    wanted = {"bintray.repo": ["libs"], "multi": ["a", "b"], "unsafe": ["x;y=z|w"]}
    stored = await put(target_case, "props.bin", data, properties=wanted)
    assert target_case.stored(target_case.repo, "props.bin") == data
    deferred = stored.deferred_properties
    if target.capabilities.properties:
        if deferred:
            await target.set_properties(target_case.repo, "props.bin", deferred)
        held = await target.get_properties(target_case.repo, "props.bin")
        assert {k: sorted(v) for k, v in held.items() if k in wanted} == wanted
    else:
        assert {k: list(v) for k, v in deferred.items()} == wanted
        assert await target.get_properties(target_case.repo, "props.bin") == {}


async def test_the_admin_facet_is_absent_or_whole(target_case: TargetCase) -> None:
    admin = target_case.target.admin
    if admin is None:
        return
    members = [n for n, v in vars(TargetAdmin).items() if inspect.iscoroutinefunction(v)]
    assert members
    for name in members:
        assert inspect.iscoroutinefunction(getattr(admin, name)), name
    assert await admin.get_repository(target_case.repo) is not None
    assert await admin.get_repository("no-such-repository") is None


async def test_a_wrong_credential_is_an_authentication_error(target_case: TargetCase) -> None:
    if target_case.unauthorised is None:
        return  # the service asks for no credential (nginx's WebDAV here): nothing to refuse
    async with target_case.unauthorised() as target:
        with pytest.raises(AuthError):
            await target.check_access()


async def test_a_folder_listing_says_what_probes_would(target_case: TargetCase) -> None:
    """A listing holds exactly the files directly in the folder,
    with the size and checksums a probe reports, and names its sub-folders; a folder that does
    not exist lists empty, and a file is no folder to list."""
    target, repo = target_case.target, target_case.repo
    for path, seed in (("lib/1.0/a.bin", 1), ("lib/1.0/b.bin", 2), ("lib/1.0/sub/c.bin", 3)):
        await put(target_case, path, body(seed))
    listing = await target.list_folder(repo, "lib/1.0")
    assert listing is not None  # every target here lists (nginx: PROPFIND, the dav-ext module)
    assert listing.complete
    assert set(listing.files) == {"a.bin", "b.bin"}
    assert listing.folders == {"sub"}
    for name, listed in listing.files.items():
        probed = await target.probe(repo, f"lib/1.0/{name}")
        assert probed is not None
        assert (listed.repo, listed.path, listed.size) == (repo, f"lib/1.0/{name}", probed.size)
        assert (listed.checksums.sha1, listed.checksums.sha256) == (
            probed.checksums.sha1,
            probed.checksums.sha256,
        )
    root = await target.list_folder(repo, "")
    assert root is not None
    assert (root.folders, dict(root.files)) == ({"lib"}, {})
    absent = await target.list_folder(repo, "lib/2.0")
    assert absent is not None
    assert (absent.folders, dict(absent.files)) == (frozenset(), {})
    assert await target.list_folder(repo, "lib/1.0/a.bin") is None
