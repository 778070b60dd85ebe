"""pyartifactory (typed, pydantic; sends ``null`` for unset optional fields) against the emulator.

Each call goes through the library's public API, unmodified; results are checked against the
Artifactory reference (status via the library's own error mapping, fields, bytes).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from compat_servers import ArtifactoryServer
from pyartifactory import Artifactory
from pyartifactory.exception import ArtifactNotFoundError, UserNotFoundError
from pyartifactory.models import (
    Group,
    LocalRepository,
    NewUser,
    Permission,
    PermissionV2,
    VirtualRepository,
)
from pyartifactory.models.artifact import ArtifactFileInfoResponse, ArtifactFolderInfoResponse
from pyartifactory.models.user import User
from pydantic import SecretStr

DATA = b"pyartifactory payload\n" * 300


def _close(art: Artifactory) -> None:
    """pyartifactory opens one requests.Session per API family and never closes them."""
    for family in vars(art).values():
        session = getattr(family, "session", None)
        if isinstance(session, requests.Session):
            session.close()


def _user(name: str) -> NewUser:
    return NewUser(name=name, email=f"{name}@example.com", password=SecretStr("Pw-12345678"))


@pytest.fixture
def clients(artifactory: ArtifactoryServer) -> Iterator[tuple[Artifactory, Artifactory]]:
    """Admin clients: API v1 permissions and v2 permissions."""
    auth = ("admin", SecretStr(artifactory.emulator.options.admin_password))
    v1 = Artifactory(url=artifactory.url, auth=auth)
    v2 = Artifactory(url=artifactory.url, auth=auth, api_version=2)
    yield v1, v2
    _close(v1)
    _close(v2)


@pytest.fixture
def art(clients: tuple[Artifactory, Artifactory]) -> Artifactory:
    return clients[0]


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    path = tmp_path / "lib-1.0.jar"
    path.write_bytes(DATA)
    return path


def test_repositories_create_read_update_list_delete(art: Artifactory) -> None:
    # The library serialises every unset optional field as null (reference §13).
    created = art.repositories.create_repo(LocalRepository(key="libs-local", packageType="maven"))
    assert created.key == "libs-local"
    assert created.rclass.value == "local"
    assert created.packageType.value == "maven"
    assert created.includesPattern == "**/*"
    assert created.checksumPolicyType.value == "client-checksums"

    updated = art.repositories.update_repo(
        LocalRepository(key="libs-local", packageType="maven", description="Migrated")
    )
    assert updated.description == "Migrated"
    assert art.repositories.get_repo("libs-local").description == "Migrated"

    virtual = art.repositories.create_repo(
        VirtualRepository(key="libs", packageType="maven", repositories=["libs-local"])
    )
    assert virtual.rclass.value == "virtual"
    assert virtual.repositories == ["libs-local"]

    listed = {r.key: r for r in art.repositories.list()}
    assert set(listed) == {"libs-local", "libs"}
    assert listed["libs-local"].type == "LOCAL"
    assert listed["libs-local"].description == "Migrated"
    assert listed["libs-local"].url.endswith("/artifactory/libs-local")

    art.repositories.delete("libs")
    assert "libs" not in {r.key for r in art.repositories.list()}


def test_deploy_stat_download_and_delete(
    art: Artifactory, artifactory: ArtifactoryServer, payload: Path, tmp_path: Path
) -> None:
    artifactory.emulator.create_repository("generic-local")
    info = art.artifacts.deploy(payload, "generic-local/org/lib/1.0/lib-1.0.jar")
    assert isinstance(info, ArtifactFileInfoResponse)
    assert info.repo == "generic-local"
    assert info.path == "/org/lib/1.0/lib-1.0.jar"
    assert int(info.size) == len(DATA)
    assert info.checksums.sha1 == hashlib.sha1(DATA).hexdigest()
    assert info.checksums.sha256 == hashlib.sha256(DATA).hexdigest()
    assert info.checksums.md5 == hashlib.md5(DATA).hexdigest()
    assert info.originalChecksums.sha1 == hashlib.sha1(DATA).hexdigest()
    assert info.createdBy == "admin"

    folder = art.artifacts.info("generic-local/org/lib")
    assert isinstance(folder, ArtifactFolderInfoResponse)
    assert [(c.uri, c.folder) for c in folder.children] == [("/1.0", True)]

    listing = art.artifacts.list("generic-local", recursive=True, list_folders=False)
    assert [(f.uri, f.size, f.sha1) for f in listing.files] == [
        ("/org/lib/1.0/lib-1.0.jar", len(DATA), hashlib.sha1(DATA).hexdigest())
    ]

    out = art.artifacts.download("generic-local/org/lib/1.0/lib-1.0.jar", str(tmp_path / "out"))
    assert out.read_bytes() == DATA
    assert b"".join(art.artifacts.stream("generic-local/org/lib/1.0/lib-1.0.jar")) == DATA

    stats = art.artifacts.stats("generic-local/org/lib/1.0/lib-1.0.jar")
    assert stats.uri.endswith("/api/storage/generic-local/org/lib/1.0/lib-1.0.jar")

    art.artifacts.delete("generic-local/org/lib/1.0/lib-1.0.jar")
    with pytest.raises(ArtifactNotFoundError):
        art.artifacts.info("generic-local/org/lib/1.0/lib-1.0.jar")


def test_deploy_by_checksum_links_existing_content_and_refuses_unknown(
    art: Artifactory, artifactory: ArtifactoryServer, payload: Path, tmp_path: Path
) -> None:
    artifactory.emulator.create_repository("generic-local")
    art.artifacts.deploy(payload, "generic-local/first/lib-1.0.jar")
    info = art.artifacts.deploy(payload, "generic-local/second/lib-1.0.jar", checksum_enabled=True)
    assert isinstance(info, ArtifactFileInfoResponse)
    assert info.checksums.sha256 == hashlib.sha256(DATA).hexdigest()
    assert artifactory.emulator.blob_count() == 1

    unknown = tmp_path / "unknown.bin"
    unknown.write_bytes(b"never deployed")
    # Reference §2.3: a checksum deploy of unknown content is 404, which the library names.
    with pytest.raises(ArtifactNotFoundError):
        art.artifacts.deploy(unknown, "generic-local/third/unknown.bin", checksum_enabled=True)
    assert artifactory.emulator.item("generic-local", "third/unknown.bin") is None


def test_properties_set_read_update_and_delete(
    art: Artifactory, artifactory: ArtifactoryServer, payload: Path
) -> None:
    artifactory.emulator.create_repository("generic-local")
    path = "generic-local/a/lib-1.0.jar"
    art.artifacts.deploy(payload, path, properties={"bintray.repo": ["releases"], "os": ["a", "b"]})
    assert art.artifacts.properties(path).properties == {
        "bintray.repo": ["releases"],
        "os": ["a", "b"],
    }

    after_set = art.artifacts.set_properties(path, {"build": ["42"]})
    assert after_set.properties["build"] == ["42"]

    only = art.artifacts.properties(path, ["os"])
    assert only.properties == {"os": ["a", "b"]}

    # PATCH /api/metadata: a null value deletes that property (reference §4.4).
    after_patch = art.artifacts.update_properties(path, {"os": None, "tier": ["gold"]})  # type: ignore[dict-item]
    assert after_patch.properties == {
        "bintray.repo": ["releases"],
        "build": ["42"],
        "tier": ["gold"],
    }
    assert (
        artifactory.emulator.properties("generic-local", "a/lib-1.0.jar") == after_patch.properties
    )


def test_users_create_read_update_list_delete(art: Artifactory) -> None:
    created = art.users.create(
        NewUser(name="pat", email="pat@example.com", password=SecretStr("Str0ng-Passw0rd"))
    )
    assert created.name == "pat"
    assert created.email == "pat@example.com"
    assert created.admin is False
    assert created.realm == "internal"

    updated = art.users.update(User(name="pat", email="pat@acme.example", groups=["readers"]))
    assert updated.email == "pat@acme.example"

    assert {u.name for u in art.users.list()} == {"admin", "pat"}
    art.users.delete("pat")
    with pytest.raises(UserNotFoundError):
        art.users.get("pat")


def test_groups_create_read_update_list_delete(art: Artifactory) -> None:
    art.users.create(
        NewUser(name="rita", email="rita@example.com", password=SecretStr("Pw-12345678"))
    )
    # realm, realmAttributes and userNames go out as null.
    created = art.groups.create(Group(name="readers"))
    assert created.name == "readers"
    assert created.description in ("", None)
    assert created.autoJoin is False

    updated = art.groups.update(Group(name="readers", description="Read only", userNames=["rita"]))
    assert updated.description == "Read only"
    assert updated.userNames == ["rita"]

    assert [g.name for g in art.groups.list()] == ["readers"]
    art.groups.delete("readers")
    assert art.groups.list() == []


def test_permission_targets_v1_and_v2(
    clients: tuple[Artifactory, Artifactory], artifactory: ArtifactoryServer
) -> None:
    v1, v2 = clients
    artifactory.emulator.create_repository("generic-local")
    v1.users.create(_user("pat"))

    created = v1.permissions.create(
        Permission(
            name="publish-generic",
            repositories=["generic-local"],
            principals={"users": {"pat": ["r", "w", "n"]}},
        )
    )
    assert created.repositories == ["generic-local"]
    assert sorted(p.value for p in created.principals.users["pat"]) == ["n", "r", "w"]

    created_v2 = v2.permissions.create(
        PermissionV2(
            name="read-generic",
            repo={
                "repositories": ["generic-local"],
                "actions": {"users": {"pat": ["read"]}},
                "include-patterns": ["org/**"],
            },
        )
    )
    assert created_v2.repo is not None
    assert created_v2.repo.includePatterns == ["org/**"]
    assert [a.value for a in created_v2.repo.actions.users["pat"]] == ["read"]

    assert {p.name for p in v2.permissions.list()} == {"publish-generic", "read-generic"}
    updated = v2.permissions.update(
        PermissionV2(
            name="read-generic",
            repo={
                "repositories": ["generic-local"],
                "actions": {"users": {"pat": ["read", "annotate"]}},
            },
        )
    )
    assert updated.repo is not None
    assert sorted(a.value for a in updated.repo.actions.users["pat"]) == ["annotate", "read"]
    v1.permissions.delete("publish-generic")
    assert {p.name for p in v1.permissions.list()} == {"read-generic"}


def test_access_tokens_create_use_and_revoke(
    art: Artifactory, artifactory: ArtifactoryServer
) -> None:
    art.users.create(
        NewUser(name="pat", email="pat@example.com", password=SecretStr("Pw-12345678"))
    )
    # Access lives at the platform root, beside /artifactory (reference §7.2): the security
    # client is pointed there, as the library's route "access/api/v1/tokens" expects.
    platform = Artifactory(
        url=artifactory.root, auth=("admin", SecretStr(artifactory.emulator.options.admin_password))
    )
    try:
        token = platform.security.create_access_token("pat", expires_in=4 * 3600)
        assert token.access_token.count(".") == 2  # a JWT
        assert token.token_type.lower() in ("bearer", "access_token")
        assert token.expires_in == 4 * 3600

        as_pat = Artifactory(url=artifactory.url, access_token=token.access_token)
        try:
            assert as_pat.users.get("pat").name == "pat"
        finally:
            _close(as_pat)

        assert platform.security.revoke_access_token(token.access_token) is True
        revoked = Artifactory(url=artifactory.url, access_token=token.access_token)
        try:
            with pytest.raises(requests.HTTPError) as refused:
                revoked.repositories.list()
            assert refused.value.response.status_code == 401
        finally:
            _close(revoked)
    finally:
        _close(platform)


def test_short_lived_token_works_but_cannot_be_revoked(
    art: Artifactory, artifactory: ArtifactoryServer
) -> None:
    platform = Artifactory(
        url=artifactory.root, auth=("admin", SecretStr(artifactory.emulator.options.admin_password))
    )
    try:
        # The library's default expiry (3600 s) is under Access's persistency threshold (3 h).
        token = platform.security.create_access_token("admin")
        as_admin = Artifactory(url=artifactory.url, access_token=token.access_token)
        try:
            assert {u.name for u in as_admin.users.list()} == {"admin"}
        finally:
            _close(as_admin)
        assert platform.security.revoke_access_token(token.access_token) is False
    finally:
        _close(platform)


def test_copy_and_move(art: Artifactory, artifactory: ArtifactoryServer, payload: Path) -> None:
    artifactory.emulator.create_repository("generic-local")
    artifactory.emulator.create_repository("release-local")
    art.artifacts.deploy(payload, "generic-local/a/lib-1.0.jar", properties={"tier": ["rc"]})

    copied = art.artifacts.copy("generic-local/a/lib-1.0.jar", "release-local/lib/lib-1.0.jar")
    assert isinstance(copied, ArtifactFileInfoResponse)
    assert copied.repo == "release-local"
    assert copied.path == "/lib/lib-1.0.jar"
    assert copied.checksums.sha256 == hashlib.sha256(DATA).hexdigest()
    assert art.artifacts.properties("release-local/lib/lib-1.0.jar").properties == {"tier": ["rc"]}

    moved = art.artifacts.move("generic-local/a/lib-1.0.jar", "generic-local/b/lib-1.0.jar")
    assert moved.path == "/b/lib-1.0.jar"
    with pytest.raises(ArtifactNotFoundError):
        art.artifacts.info("generic-local/a/lib-1.0.jar")
    assert artifactory.emulator.blob_count() == 1
