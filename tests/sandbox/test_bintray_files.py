"""File lists and file attributes (reference 6.1, 7.2)."""

from __future__ import annotations

import hashlib

import pytest
from bintray_org import (
    AWK_PACKAGE,
    AWK_PATH,
    DRAFT_PATH,
    JAR_PATH,
    ORG,
    RC_PATH,
    SECRET_PATH,
    TIMESTAMP,
    auth,
    encoded,
    encoded_path,
    running,
)

pytestmark = pytest.mark.anyio

FILE_KEYS = {
    "name",
    "path",
    "repo",
    "package",
    "version",
    "owner",
    "created",
    "size",
    "sha1",
    "sha256",
}
CORE = f"/packages/{ORG}/releases/core-lib"


async def test_file_objects_have_exactly_the_ten_keys_and_true_digests() -> None:
    async with running() as h:
        files = await h.get_json(CORE + "/versions/1.2.0/files")
        org = h.emulator.org
    assert [f["path"] for f in files] == [JAR_PATH, "com/acme/core-lib/1.2.0/core-lib-1.2.0.pom"]
    for entry in files:
        assert set(entry) == FILE_KEYS
        assert isinstance(entry["size"], int)
        assert TIMESTAMP.match(entry["created"])
        model = next(f for f in org.iter_files() if f.path == entry["path"])
        data = org.content.read(model.content_key, model.size, kind=model.kind)
        assert entry["size"] == len(data) == model.size
        assert entry["sha1"] == hashlib.sha1(data).hexdigest()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    jar = files[0]
    assert jar["name"] == "core-lib-1.2.0.jar"
    assert (jar["repo"], jar["package"], jar["version"], jar["owner"]) == (
        "releases",
        "core-lib",
        "1.2.0",
        ORG,
    )


@pytest.mark.parametrize("user", [None, "mona", "pat"])
async def test_package_files_skip_unpublished_unless_publisher_asks(user: str | None) -> None:
    async with running() as h:
        default = await h.get_json(CORE + "/files?include_unpublished=0", user)
        asked = await h.get_json(CORE + "/files?include_unpublished=1", user)
    assert RC_PATH not in {f["path"] for f in default}
    assert len(default) == 3
    if user == "pat":
        assert RC_PATH in {f["path"] for f in asked}
        assert len(asked) == 4
    else:
        assert asked == default


async def test_unpublished_file_inside_a_published_version() -> None:
    async with running() as h:
        url = f"/packages/{ORG}/vault/secret-tool/versions/1.0/files"
        reader = await h.get_json(url + "?include_unpublished=1", "rita")
        admin = await h.get_json(url + "?include_unpublished=1", "adam")
        async with h.session.get(h.api_url(url)) as resp:
            assert resp.status == 404  # private repository, anonymous caller
    assert [f["path"] for f in reader] == [SECRET_PATH]
    assert [f["path"] for f in admin] == [SECRET_PATH, DRAFT_PATH]


async def test_awkward_file_path_listing() -> None:
    async with running() as h:
        files = await h.get_json(encoded("packages", ORG, "releases", AWK_PACKAGE, "files"))
    assert [f["path"] for f in files] == [AWK_PATH]
    assert files[0]["name"] == "a+b:c%d ü.txt"
    assert files[0]["package"] == AWK_PACKAGE


async def test_file_attributes_use_upper_case_types() -> None:
    async with running() as h:
        base = f"/files/{ORG}/releases/{encoded_path(JAR_PATH)}/attributes"
        assert await h.get_json(base) == [{"name": "origin", "type": "STRING", "values": ["ci"]}]
        awk = f"/files/{ORG}/releases/{encoded_path(AWK_PATH)}/attributes"
        async with h.session.post(
            h.api_url(awk),
            headers=auth("pat"),
            json=[{"name": "att1", "values": ["val1"], "type": "string"}],
        ) as resp:
            assert resp.status == 200
            assert await resp.json() == [{"name": "att1", "type": "STRING", "values": ["val1"]}]
        async with h.session.patch(
            h.api_url(awk),
            headers=auth("pat"),
            json=[{"name": "when", "values": ["2019-01-02T03:04:05.678Z"]}],
        ) as resp:
            assert [a["type"] for a in await resp.json()] == ["STRING", "DATE"]
        async with h.session.delete(h.api_url(awk + "?names=att1"), headers=auth("pat")) as resp:
            assert await resp.json() == {
                "message": "Attributes were deleted successfully from the following file path: "
                + AWK_PATH
            }
        assert [a["name"] for a in await h.get_json(awk)] == ["when"]
        async with h.session.get(
            h.api_url(f"/files/{ORG}/releases/no/such.jar/attributes")
        ) as resp:
            assert resp.status == 404
        async with h.session.get(
            h.api_url(f"/files/{ORG}/releases/{encoded_path(RC_PATH)}/attributes")
        ) as resp:
            assert resp.status == 404  # unpublished: only publishers see it
        async with h.session.get(
            h.api_url(f"/files/{ORG}/releases/{encoded_path(RC_PATH)}/attributes"),
            headers=auth("pat"),
        ) as resp:
            assert resp.status == 200


async def test_file_package_and_file_version_name_the_owners_of_a_file() -> None:
    async with running() as h:
        package = await h.get_json(f"/file_package/{ORG}/releases/{encoded_path(JAR_PATH)}")
        version = await h.get_json(f"/file_version/{ORG}/releases/{encoded_path(JAR_PATH)}")
        same_package = await h.get_json(CORE)
        same_version = await h.get_json(CORE + "/versions/1.2.0")
        awkward = await h.get_json(f"/file_version/{ORG}/releases/{encoded_path(AWK_PATH)}")
        for lookup in ("file_package", "file_version"):
            async with h.session.get(h.api_url(f"/{lookup}/{ORG}/releases/no/such.jar")) as r:
                assert r.status == 404
                assert "message" in await r.json()
            # a private repository's files do not exist for an anonymous caller
            url = h.api_url(f"/{lookup}/{ORG}/vault/{encoded_path(SECRET_PATH)}")
            async with h.session.get(url) as r:
                assert r.status == 404
        private = await h.get_json(f"/file_version/{ORG}/vault/{encoded_path(SECRET_PATH)}", "rita")
    assert package == same_package
    assert version == same_version
    assert awkward["package"] == AWK_PACKAGE
    assert private["name"] == "1.0"
