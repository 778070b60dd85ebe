"""bintraypy 0.1.1 against the Bintray emulator: its upload, the one call it gets right.

Its other call, ``create_package``, sends the package fields as query parameters with no body;
Bintray's ``POST /packages/:s/:r`` takes a JSON body (reference 4.3), so that call is a library
bug and is not tested.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from bintray_org import KEYS, ORG
from bintraypy.bintray import Bintray
from compat_servers import BintrayServer

DATA = b"bintraypy upload\n" * 64


def test_upload_generic_publishes_and_downloads(
    bintray: BintrayServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    local = tmp_path / "core-lib-3.0.0.jar"
    local.write_bytes(DATA)
    client = Bintray("pat", KEYS["pat"], url=bintray.api)
    client.upload_generic(ORG, "releases", "core-lib", "3.0.0", str(local), publish=True)
    assert "Uploaded successfully" in capsys.readouterr().out

    package = bintray.emulator.org.repos["releases"].packages["core-lib"]
    version = next(v for v in package.versions if v.name == "3.0.0")
    assert version.published
    (file,) = version.files
    assert (file.path, file.size, file.published) == ("core-lib-3.0.0.jar", len(DATA), True)
    digests = bintray.emulator.org.content.digests(file.content_key, file.size)
    assert digests.sha1 == hashlib.sha1(DATA).hexdigest()


def test_upload_generic_refuses_an_existing_path_without_override(
    bintray: BintrayServer, tmp_path: Path
) -> None:
    local = tmp_path / "notes.txt"
    local.write_bytes(DATA)
    client = Bintray("pat", KEYS["pat"], url=bintray.api)
    client.upload_generic(ORG, "releases", "core-lib", "3.0.0", str(local), "docs/notes.txt")
    with pytest.raises(Exception, match="409"):
        client.upload_generic(ORG, "releases", "core-lib", "3.0.0", str(local), "docs/notes.txt")
    local.write_bytes(b"second")
    client.upload_generic(
        ORG, "releases", "core-lib", "3.0.0", str(local), "docs/notes.txt", override=True
    )
    ref = bintray.emulator.org.repos["releases"].packages["core-lib"].versions[0]
    assert [(f.path, f.size, f.published) for f in ref.files] == [("docs/notes.txt", 6, False)]


def test_upload_generic_needs_publish_rights(bintray: BintrayServer, tmp_path: Path) -> None:
    local = tmp_path / "x.bin"
    local.write_bytes(DATA)
    client = Bintray("rita", KEYS["rita"], url=bintray.api)
    with pytest.raises(Exception, match="403"):
        client.upload_generic(ORG, "vault", "secret-tool", "2.0", str(local))
