"""Maven repositories and checksum files on the Artifactory emulator (reference §2.4, §13)."""

from __future__ import annotations

import pytest
from artifactory_helpers import ADMIN, digests, running

pytestmark = pytest.mark.anyio

POM_PATH = "com/acme/core-lib/1.0/core-lib-1.0.pom"
INHERITED = b"""<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <parent><groupId>com.acme</groupId><artifactId>acme-parent</artifactId>
    <version>1.0</version></parent>
  <artifactId>core-lib</artifactId>
  <properties><lib.version>${project.version}</lib.version></properties>
</project>
"""
# an sbt plugin as published in the Bintray era: the path carries the Scala/sbt suffix
SBT_PATH = "com/acme/sbt-acme_2.12_1.0/0.3.1/sbt-acme-0.3.1.pom"
SBT_POM = b"""<project><modelVersion>4.0.0</modelVersion><groupId>com.acme</groupId>
<artifactId>sbt-acme</artifactId><version>0.3.1</version><packaging>jar</packaging></project>"""


async def test_pom_matching_its_path_is_stored_with_inherited_coordinates() -> None:
    async with running() as a:
        await a.repo("libs", packageType="maven")
        response = await a.deploy(f"libs/{POM_PATH}", INHERITED)
        assert response.status == 201


async def test_inconsistent_pom_is_refused_with_409_unless_checks_are_suppressed() -> None:
    async with running() as a:
        await a.repo("libs", packageType="maven")
        await a.repo("lenient", packageType="maven", suppressPomConsistencyChecks=True)
        await a.repo("files")  # generic: no POM check
        resp, body = await a.call("PUT", f"libs/{SBT_PATH}", data=SBT_POM)
        assert resp.status == 409
        [error] = body["errors"]
        assert error["status"] == 409
        assert error["message"].startswith(
            f"The target deployment path '{SBT_PATH}' does not match the POM's expected path "
            "prefix 'com/acme/sbt-acme/0.3.1'."
        )
        assert a.emulator.item("libs", SBT_PATH) is None
        resp, body = await a.call("PUT", f"libs/{POM_PATH}", data=b"<project><broken>")
        assert resp.status == 409
        assert body["errors"][0]["message"].startswith(f"Failed to read POM for '{POM_PATH}'")
        for repo in ("lenient", "files"):
            assert (await a.deploy(f"{repo}/{SBT_PATH}", SBT_POM)).status == 201
        # a checksum deploy of the same bytes into the checking repository is refused too
        sums = digests(SBT_POM)
        resp, _ = await a.call(
            "PUT",
            f"libs/{SBT_PATH}",
            headers={"X-Checksum-Deploy": "true", "X-Checksum-Sha1": sums["sha1"]},
        )
        assert resp.status == 409


async def test_checksum_files_set_and_check_the_artifacts_checksum_and_are_served() -> None:
    data = b"jar bytes"
    sums = digests(data)
    async with running() as a:
        await a.repo("libs", packageType="maven")
        await a.repo("trusting", checksumPolicyType="server-generated-checksums")
        jar = "com/acme/x/1/x-1.jar"
        # no X yet: nothing to set the checksum on
        resp, body = await a.call("PUT", f"libs/{jar}.sha1", data=sums["sha1"].encode())
        assert resp.status == 404
        assert "Target file to set checksum on doesn't exist" in body["errors"][0]["message"]
        assert (await a.deploy(f"libs/{jar}", data)).status == 201
        for algorithm in ("sha1", "md5", "sha256"):
            # sha1sum's "<hex>  <name>" is accepted as well as the bare value
            text = f"{sums[algorithm].upper()}  x-1.jar\n".encode()
            assert (await a.deploy(f"libs/{jar}.{algorithm}", text)).status == 201
        resp, body = await a.call("PUT", f"libs/{jar}.md5", data=b"0" * 32)
        assert resp.status == 409
        assert "rejected" in body["errors"][0]["message"]
        # nothing of that was stored as a file; the listing holds the jar only
        resp, listing = await a.call("GET", "api/storage/libs?list&deep=1")
        assert [f["uri"] for f in listing["files"]] == [f"/{jar}"]
        resp, info = await a.call("GET", f"api/storage/libs/{jar}")
        assert info["originalChecksums"]["md5"] == sums["md5"]
        for algorithm in ("sha1", "md5", "sha256"):
            resp, text = await a.call("GET", f"libs/{jar}.{algorithm}")
            assert (resp.status, text) == (200, sums[algorithm])
            async with a.session.head(a.art(f"libs/{jar}.{algorithm}"), headers=ADMIN) as head:
                assert head.status == 200
        resp, _ = await a.call("GET", "libs/com/acme/x/1/missing.jar.sha1")
        assert resp.status == 404
        # a repository that trusts only its own checksums ignores a wrong one
        assert (await a.deploy(f"trusting/{jar}", data)).status == 201
        assert (await a.deploy(f"trusting/{jar}.md5", b"0" * 32)).status == 201
