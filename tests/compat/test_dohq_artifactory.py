"""dohq-artifactory (``ArtifactoryPath``, pathlib-style, plus admin objects) against the emulator.

The library sleeps half a second after every admin write (``rest_delay``) to let a real cluster
settle; the tier replaces that pause with nothing so it stays fast. Nothing on the wire changes.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from urllib.parse import unquote

import dohq_artifactory.admin
import pytest
from artifactory import ArtifactoryPath
from compat_servers import ArtifactoryServer
from dohq_artifactory import Group, PermissionTarget, RepositoryLocal, Token, User
from dohq_artifactory.exception import ArtifactoryException

DATA = b"dohq payload\n" * 500
SHA1 = hashlib.sha1(DATA).hexdigest()
SHA256 = hashlib.sha256(DATA).hexdigest()
MD5 = hashlib.md5(DATA).hexdigest()


@pytest.fixture
def root(
    artifactory: ArtifactoryServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ArtifactoryPath]:
    monkeypatch.setattr(dohq_artifactory.admin, "rest_delay", lambda: None)
    path = ArtifactoryPath(
        artifactory.url, auth=("admin", artifactory.emulator.options.admin_password)
    )
    yield path
    path.session.close()  # every derived path shares this session


def test_repository_create_read_update_delete(root: ArtifactoryPath) -> None:
    repo = RepositoryLocal(root, "pypi-local", package_type=RepositoryLocal.PYPI)
    repo.create()
    assert repo.raw["key"] == "pypi-local"
    assert repo.raw["rclass"] == "local"
    assert repo.raw["packageType"] == "pypi"
    assert repo.raw["suppressPomConsistencyChecks"] is True

    repo.description = "Migrated from Bintray"
    repo.update()
    found = root.find_repository_local("pypi-local")
    assert found is not None
    assert found.description == "Migrated from Bintray"
    assert [r.name for r in root.get_repositories()] == ["pypi-local"]

    repo.delete()
    assert root.find_repository_local("pypi-local") is None


def test_deploy_stat_read_and_list(root: ArtifactoryPath, artifactory: ArtifactoryServer) -> None:
    artifactory.emulator.create_repository("generic-local")
    path = root / "generic-local" / "tools" / "1.0" / "tool 1.0+b.tar.gz"
    path.deploy(io.BytesIO(DATA), md5=MD5, sha1=SHA1, sha256=SHA256)

    stat = path.stat()
    assert stat.size == len(DATA)
    assert (stat.sha1, stat.sha256, stat.md5) == (SHA1, SHA256, MD5)
    assert stat.is_dir is False
    assert stat.repo == "generic-local"
    assert stat.created_by == "admin"
    assert path.exists()
    assert path.is_file()

    folder = root / "generic-local" / "tools"
    assert folder.is_dir()
    assert folder.stat().children == ["1.0"]
    assert [p.name for p in (root / "generic-local" / "tools" / "1.0").iterdir()] == [
        "tool 1.0+b.tar.gz"
    ]

    assert path.read_bytes() == DATA
    with path.open() as stream:
        assert stream.read() == DATA
    stats = path.download_stats()
    assert unquote(stats.uri).endswith("/api/storage/generic-local/tools/1.0/tool 1.0+b.tar.gz")
    assert artifactory.emulator.item("generic-local", "tools/1.0/tool 1.0+b.tar.gz") is not None

    path.unlink()
    assert not path.exists()


def test_deploy_with_wrong_checksum_is_refused(
    root: ArtifactoryPath, artifactory: ArtifactoryServer
) -> None:
    artifactory.emulator.create_repository("generic-local")
    path = root / "generic-local" / "bad.bin"
    with pytest.raises(ArtifactoryException):
        path.deploy(io.BytesIO(DATA), sha1="0" * 40)
    assert not path.exists()


def test_deploy_by_checksum(root: ArtifactoryPath, artifactory: ArtifactoryServer) -> None:
    artifactory.emulator.create_repository("generic-local")
    (root / "generic-local" / "a.bin").deploy(io.BytesIO(DATA), sha1=SHA1)

    by_sha1 = root / "generic-local" / "copies" / "b.bin"
    by_sha1.deploy_by_checksum(sha1=SHA1)
    by_sha256 = root / "generic-local" / "copies" / "c.bin"
    by_sha256.deploy_by_checksum(sha256=SHA256)
    assert by_sha1.stat().sha256 == SHA256
    assert by_sha256.read_bytes() == DATA
    assert artifactory.emulator.blob_count() == 1

    with pytest.raises(ArtifactoryException):
        (root / "generic-local" / "missing.bin").deploy_by_checksum(sha1="1" * 40)


def test_properties_on_deploy_set_update_and_delete(
    root: ArtifactoryPath, artifactory: ArtifactoryServer
) -> None:
    artifactory.emulator.create_repository("generic-local")
    path = root / "generic-local" / "p.bin"
    path.deploy(io.BytesIO(DATA), parameters={"bintray.package": ["core lib"], "os": ["a", "b"]})
    assert path.properties == {"bintray.package": ["core lib"], "os": ["a", "b"]}

    path.set_properties({"build": "42"})
    assert path.properties["build"] == ["42"]

    # PATCH /api/metadata with a null value removes that key (reference §4.4).
    path.update_properties({"os": None, "tier": ["gold"]})
    assert path.properties == {"bintray.package": ["core lib"], "build": ["42"], "tier": ["gold"]}

    path.del_properties(["build", "tier"])
    assert path.properties == {"bintray.package": ["core lib"]}
    assert artifactory.emulator.properties("generic-local", "p.bin") == path.properties


def test_users_groups_and_permission_targets(
    root: ArtifactoryPath, artifactory: ArtifactoryServer
) -> None:
    artifactory.emulator.create_repository("generic-local")
    user = User(root, "pat", email="pat@example.com", password="Str0ng-Passw0rd")
    user.create()
    assert user.raw["email"] == "pat@example.com"
    user.email = "pat@acme.example"
    user.update()
    assert root.find_user("pat").email == "pat@acme.example"
    assert sorted(u.name for u in root.get_users()) == ["admin", "pat"]

    group = Group(root, "publishers")
    group.description = "Bintray team publishers"
    group.users = ["pat"]
    group.create()
    assert group.raw["description"] == "Bintray team publishers"
    assert [g.name for g in root.get_groups()] == ["publishers"]

    target = PermissionTarget(root, "publish-generic", repositories=["generic-local"])
    target.add_user("pat", PermissionTarget.ROLE_DEPLOY)
    target.add_group("publishers", PermissionTarget.ROLE_READ)
    target.create()
    assert target.raw["repositories"] == ["generic-local"]
    assert sorted(target.raw["principals"]["users"]["pat"]) == ["n", "r", "w"]
    assert target.raw["principals"]["groups"]["publishers"] == ["r"]
    assert [p.name for p in root.get_permissions()] == ["publish-generic"]

    target.delete()
    group.delete()
    user.delete()
    assert root.find_user("pat") is None
    assert root.find_group("publishers") is None
    assert root.find_permission_target("publish-generic") is None


def test_legacy_tokens_create_list_and_revoke(
    root: ArtifactoryPath, artifactory: ArtifactoryServer
) -> None:
    token = Token(root, username="admin", expires_in=4 * 3600)
    token.create()
    assert token.token["token_type"] == "Bearer"
    assert token.token["expires_in"] == 4 * 3600
    assert token.token_id

    listing = Token(root, username="admin")
    listing.read()
    assert token.token_id in listing.tokens
    assert listing.tokens[token.token_id]["subject"].endswith("/users/admin")

    with_token = ArtifactoryPath(artifactory.url, token=token.jwt_token)
    try:
        assert [u.name for u in with_token.get_users()] == ["admin"]
    finally:
        with_token.session.close()

    Token(root, username="admin", token_id=token.token_id).delete()
    after = Token(root, username="admin")
    after.read()
    assert token.token_id not in after.tokens


def test_copy_and_move(root: ArtifactoryPath, artifactory: ArtifactoryServer) -> None:
    artifactory.emulator.create_repository("generic-local")
    artifactory.emulator.create_repository("release-local")
    source = root / "generic-local" / "builds" / "1.0"
    (source / "tool.tar.gz").deploy(io.BytesIO(DATA), sha1=SHA1)

    target = root / "release-local" / "production"
    (target / "README").write_bytes(b"promoted builds")
    report = source.copy(target, dry_run=True)
    assert report["messages"][0]["level"] == "INFO"
    assert report["messages"][0]["message"].endswith("1 artifacts and 1 folders were copied")
    assert not (target / "1.0").exists()

    source.copy(target)  # an existing target folder receives the source underneath
    assert (target / "1.0" / "tool.tar.gz").read_bytes() == DATA

    source.move(root / "generic-local" / "archive" / "1.0")
    assert not source.exists()
    assert (root / "generic-local" / "archive" / "1.0" / "tool.tar.gz").stat().sha1 == SHA1
