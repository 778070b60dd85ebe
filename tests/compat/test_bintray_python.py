"""bintray-python 0.8.0 (the last release; Bintray closed in 2021) against the Bintray emulator.

Covers what a migration reads and what the organisations that used the library did with it:
repositories, packages (paged), versions and teams (read, create, update, delete), files,
uploads and publishing, attributes and attribute searches, team permissions, access keys and
download counts. Bytes
come through the library's own transport (``Requester.download``): its ``download_content``
always asks ``dl.bintray.com`` and cannot be pointed anywhere else.

The library takes its API root from the class attribute ``Bintray.BINTRAY_URL``; the tier sets
it to the emulator for each test. Every answer carries the library's own ``statusCode``/``error``
entries (appended to lists, merged into objects), which the checks strip.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

# scripts/test.sh installs bintray-python without its requests==2.22.0 pin (see pyproject.toml).
pytest.importorskip("bintray.bintray", reason="bintray-python is installed by scripts/test.sh")

from bintray.bintray import Bintray
from bintray.requester import Requester
from bintray_org import (
    ACCESS_KEY,
    AWK_PACKAGE,
    AWK_PATH,
    AWK_VERSION,
    JAR_PATH,
    KEYS,
    ORG,
    RC_PATH,
    TIMESTAMP,
)
from compat_servers import BintrayServer

from transfer.sandbox.orgdata import BintrayFile


def _body(answer: Any, status: int = 200) -> Any:
    """The service's answer without the library's status entry, which must show ``status``."""
    expected = {"statusCode": status, "error": False}
    if isinstance(answer, list):
        assert answer[-1] == expected
        return answer[:-1]
    assert {k: answer[k] for k in expected} == expected
    return {k: v for k, v in answer.items() if k not in expected}


@pytest.fixture
def owner(bintray: BintrayServer, monkeypatch: pytest.MonkeyPatch) -> Bintray:
    """The organisation's owner, with the library pointed at the emulator."""
    monkeypatch.setattr(Bintray, "BINTRAY_URL", bintray.api)
    return Bintray("olivia", KEYS["olivia"])


def _file(bintray: BintrayServer, path: str) -> BintrayFile:
    return next(f for f in bintray.emulator.org.iter_files() if f.path == path)


def test_subjects_repositories(owner: Bintray) -> None:
    org = _body(owner.get_organization(ORG))
    assert org["name"] == ORG
    assert org["owner"] == "olivia"
    assert org["repos"] == ["releases", "vault", "debs", "many", "free"]
    assert {"name": "pat", "type": "member"} in org["members"]

    user = _body(owner.get_user("pat"))
    assert user["name"] == "pat"
    assert user["organizations"] == [ORG]

    repos = _body(owner.get_repositories(ORG))
    assert repos == [{"name": n, "owner": ORG} for n in org["repos"]]
    repo = _body(owner.get_repository(ORG, "releases"))
    assert repo["type"] == "maven"
    assert repo["desc"] == "Release builds"
    assert repo["package_count"] == 2
    assert TIMESTAMP.match(repo["created"])
    vault = _body(owner.get_repository(ORG, "vault"))
    assert vault["private"] is True


def test_manage_repositories_packages_versions_and_teams(owner: Bintray) -> None:
    created = _body(owner.create_repository(ORG, "tools", "npm", "Node tools", labels=["js"]), 201)
    assert (created["name"], created["type"], created["desc"]) == ("tools", "npm", "Node tools")
    assert created["labels"] == ["js"]
    assert _body(owner.update_repository(ORG, "tools", description="CLI tools")) == {
        "message": "success"
    }
    assert _body(owner.get_repository(ORG, "tools"))["desc"] == "CLI tools"

    package = _body(
        owner.create_package(ORG, "tools", "cli", licenses=["MIT"], vcs_url="https://x/cli.git"),
        201,
    )
    assert (package["name"], package["repo"], package["licenses"]) == ("cli", "tools", ["MIT"])
    assert _body(owner.update_package(ORG, "tools", "cli", desc="The CLI"))["message"] == "success"
    assert _body(owner.get_package(ORG, "tools", "cli"))["desc"] == "The CLI"

    version = _body(owner.create_version(ORG, "tools", "cli", "1.0", description="First"), 201)
    assert (version["name"], version["desc"], version["package"]) == ("1.0", "First", "cli")
    assert _body(owner.update_version(ORG, "tools", "cli", "1.0", vcs_tag="v1.0")) == {
        "message": "success"
    }
    assert _body(owner.get_version(ORG, "tools", "cli", "1.0"))["vcs_tag"] == "v1.0"

    team = _body(owner.create_org_team(ORG, "node", ["pat"]), 201)
    assert (team["name"], team["members"], team["allow_repo_creation"]) == ("node", ["pat"], True)
    assert _body(owner.update_org_team(ORG, "node", members=["pat", "rita"]))["members"] == [
        "pat",
        "rita",
    ]
    assert (
        _body(owner.set_team_permissions(ORG, "tools", "node", "publish"))["message"] == "success"
    )
    assert _body(owner.get_team_permissions(ORG, "tools", "node"))["permission"] == "publish"

    assert _body(owner.delete_org_team(ORG, "node"))["message"] == "success"
    assert _body(owner.delete_version(ORG, "tools", "cli", "1.0"))["message"] == "success"
    assert _body(owner.delete_package(ORG, "tools", "cli"))["message"] == "success"
    assert _body(owner.delete_repository(ORG, "tools"))["message"] == "success"
    assert [r["name"] for r in _body(owner.get_repositories(ORG))] == [
        "releases",
        "vault",
        "debs",
        "many",
        "free",
    ]


def test_link_and_unlink_a_package(owner: Bintray) -> None:
    linked = owner.link_package(ORG, "releases", ORG, "free", "freebie", path_prefix="vendor")
    assert _body(linked, 201) == {"message": "success"}
    assert {"name": "freebie", "linked": True} in _body(owner.get_packages(ORG, "releases"))
    assert _body(owner.get_package(ORG, "free", "freebie"))["linked_to_repos"] == ["releases"]
    unlinked = owner.unlink_package(ORG, "releases", ORG, "free", "freebie")
    assert _body(unlinked) == {"message": "success"}
    assert _body(owner.get_package(ORG, "free", "freebie"))["linked_to_repos"] == []


def test_packages_are_paged_fifty_at_a_time(owner: Bintray) -> None:
    names = []
    for start in (0, 50, 100):
        page = _body(owner.get_packages(ORG, "many", start_pos=start))
        assert all(p["linked"] is False for p in page)
        names += [p["name"] for p in page]
    assert names == [f"pkg-{i:03d}" for i in range(120)]
    assert len(_body(owner.get_packages(ORG, "many"))) == 50
    prefixed = _body(owner.get_packages(ORG, "many", start_name="pkg-11"))
    assert [p["name"] for p in prefixed] == [f"pkg-{i}" for i in range(110, 120)]


def test_package_and_versions(owner: Bintray) -> None:
    package = _body(owner.get_package(ORG, "releases", "core-lib"))
    assert package["name"] == "core-lib"
    assert package["repo"] == "releases"
    assert package["versions"] == ["2.0.0-rc", "1.2.0", "1.1.0"]
    assert package["latest_version"] == "1.2.0"
    assert package["licenses"] == ["Apache-2.0"]
    assert package["linked_to_repos"] == ["debs"]
    assert {"name": "channel", "type": "string", "values": ["stable", "lts"]} in package[
        "attributes"
    ]

    version = _body(owner.get_version(ORG, "releases", "core-lib", "1.2.0"))
    assert version["name"] == "1.2.0"
    assert version["package"] == "core-lib"
    assert version["desc"] == "Spring release"
    assert version["vcs_tag"] == "v1.2.0"
    assert version["attributes"] == [{"name": "qa", "type": "boolean", "values": [True]}]
    assert _body(owner.get_version(ORG, "releases", "core-lib"))["name"] == "1.2.0"  # _latest

    awkward = _body(owner.get_version(ORG, "releases", AWK_PACKAGE, AWK_VERSION))
    assert awkward["name"] == AWK_VERSION
    assert awkward["package"] == AWK_PACKAGE


def test_files_of_packages_and_versions(owner: Bintray, bintray: BintrayServer) -> None:
    jar = _file(bintray, JAR_PATH)
    files = _body(owner.get_version_files(ORG, "releases", "core-lib", "1.2.0"))
    by_path = {f["path"]: f for f in files}
    listed = by_path[JAR_PATH]
    assert listed["name"] == "core-lib-1.2.0.jar"
    assert listed["size"] == jar.size
    assert listed["version"] == "1.2.0"
    digests = bintray.emulator.org.content.digests(jar.content_key, jar.size, kind=jar.kind)
    assert listed["sha1"] == digests.sha1
    assert listed["sha256"] == digests.sha256

    published = {f["path"] for f in _body(owner.get_package_files(ORG, "releases", "core-lib"))}
    assert RC_PATH not in published
    everything = _body(
        owner.get_package_files(ORG, "releases", "core-lib", include_unpublished=True)
    )
    assert RC_PATH in {f["path"] for f in everything}
    assert published < {f["path"] for f in everything}

    awkward = _body(owner.get_version_files(ORG, "releases", AWK_PACKAGE, AWK_VERSION))
    assert [f["path"] for f in awkward] == [AWK_PATH]


def test_file_bytes_through_the_library_transport(bintray: BintrayServer) -> None:
    jar = _file(bintray, JAR_PATH)
    expected = bintray.emulator.org.content.read(jar.content_key, jar.size, kind=jar.kind)
    requester = Requester("olivia", KEYS["olivia"])
    content = requester.download(f"{bintray.dl}/{ORG}/releases/{JAR_PATH}", add_status_code=False)
    assert hashlib.sha1(content).hexdigest() == hashlib.sha1(expected).hexdigest()
    assert len(content) == jar.size


def test_package_and_version_attributes_read_and_write(owner: Bintray) -> None:
    assert _body(owner.get_attributes(ORG, "releases", "core-lib", attributes=["build"])) == [
        {"name": "build", "type": "number", "values": [1234]}
    ]
    replaced = _body(
        owner.set_attributes(
            ORG, "releases", "core-lib", None, [{"name": "a", "values": ["1"], "type": "string"}]
        )
    )
    assert replaced == [{"name": "a", "type": "string", "values": ["1"]}]
    merged = _body(
        owner.update_attributes(
            ORG, "releases", "core-lib", None, [{"name": "b", "values": [2], "type": "number"}]
        )
    )
    assert merged == [
        {"name": "a", "type": "string", "values": ["1"]},
        {"name": "b", "type": "number", "values": [2]},
    ]
    assert _body(owner.delete_attributes(ORG, "releases", "core-lib", None, ["a"])) == {
        "message": "success"
    }
    assert _body(owner.get_attributes(ORG, "releases", "core-lib")) == [
        {"name": "b", "type": "number", "values": [2]}
    ]
    assert _body(owner.get_attributes(ORG, "releases", "core-lib", "1.2.0")) == [
        {"name": "qa", "type": "boolean", "values": [True]}
    ]


def test_file_attributes_read_and_write(owner: Bintray) -> None:
    # File attribute types come back upper-case (reference §7.2).
    assert _body(owner.get_file_attributes(ORG, "releases", JAR_PATH)) == [
        {"name": "origin", "type": "STRING", "values": ["ci"]}
    ]
    replaced = _body(
        owner.set_file_attributes(
            ORG, "releases", JAR_PATH, [{"name": "z", "values": ["1"], "type": "string"}]
        )
    )
    assert replaced == [{"name": "z", "type": "STRING", "values": ["1"]}]
    merged = _body(
        owner.update_file_attributes(
            ORG, "releases", JAR_PATH, [{"name": "y", "values": ["2"], "type": "string"}]
        )
    )
    assert [a["name"] for a in merged] == ["z", "y"]
    deleted = _body(owner.delete_file_attributes(ORG, "releases", JAR_PATH, ["z"]))
    assert deleted["message"].endswith(JAR_PATH)
    assert _body(owner.get_file_attributes(ORG, "releases", JAR_PATH)) == [
        {"name": "y", "type": "STRING", "values": ["2"]}
    ]


def test_searches_by_name_checksum_and_coordinates(owner: Bintray, bintray: BintrayServer) -> None:
    jar = _file(bintray, JAR_PATH)
    sha1 = bintray.emulator.org.content.digests(jar.content_key, jar.size, kind=jar.kind).sha1
    by_name = _body(owner.search_file_by_name("core-lib-1.2.?.jar", ORG))
    assert [(f["path"], f["sha1"]) for f in by_name] == [(JAR_PATH, sha1)]
    by_sha1 = _body(owner.search_file_by_checksum(sha1, ORG))
    assert [(f["path"], f["version"]) for f in by_sha1] == [(JAR_PATH, "1.2.0")]
    assert _body(owner.search_file_by_checksum("0" * 40, ORG)) == []

    assert "releases" in [r["name"] for r in _body(owner.search_repository(name="rel"))]
    assert "vault" not in [r["name"] for r in _body(owner.search_repository(name="vau"))]
    packages = _body(owner.search_package(package="core", subject=ORG))
    assert [(p["name"], p["repo"]) for p in packages] == [("core-lib", "releases")]
    maven = _body(owner.search_maven_package(group_id="com.acme", subject=ORG))
    assert [p["system_ids"] for p in maven] == [["com.acme:core-lib"]]


def test_attribute_searches(owner: Bintray) -> None:
    packages = _body(owner.search_attributes(ORG, "releases", None, [{"build": "[1000,2000]"}]))
    assert [p["name"] for p in packages] == ["core-lib"]
    assert {"name": "build", "type": "number", "values": [1234]} in packages[0]["attributes"]
    versions = _body(owner.search_attributes(ORG, "releases", "core-lib", [{"qa": [True]}]))
    assert [v["name"] for v in versions] == ["1.2.0"]
    files = _body(owner.search_file_attributes(ORG, "releases", [{"origin": ["ci"]}]))
    assert [f["path"] for f in files] == [JAR_PATH]
    assert _body(owner.search_attributes(ORG, "releases", None, [{"build": "]1234,]"}])) == []


def test_teams_and_repository_permissions(owner: Bintray) -> None:
    assert _body(owner.get_org_teams(ORG)) == {"teams": ["publishers", "readers"]}
    team = _body(owner.get_org_team(ORG, "publishers"))
    assert team["members"] == ["pat"]
    assert team["permitted_repos"] == {"releases": "publish", "vault": "read"}
    assert _body(owner.get_all_team_permissions(ORG, "vault")) == [
        {"team": "publishers", "permission": "read"},
        {"team": "readers", "permission": "read"},
    ]
    assert _body(owner.get_team_permissions(ORG, "releases", "publishers")) == {
        "team": "publishers",
        "permission": "publish",
    }


def test_team_permissions_set_and_delete(owner: Bintray) -> None:
    assert _body(owner.set_team_permissions(ORG, "releases", "readers", "read")) == {
        "message": "success"
    }
    assert _body(owner.get_team_permissions(ORG, "releases", "readers")) == {
        "team": "readers",
        "permission": "read",
    }
    assert _body(owner.delete_team_permission(ORG, "releases", "readers"))["message"] == "success"
    assert _body(owner.get_all_team_permissions(ORG, "releases")) == [
        {"team": "publishers", "permission": "publish"}
    ]


def test_access_keys(owner: Bintray) -> None:
    assert _body(owner.get_access_keys_org(ORG)) == {"access_keys": ["ci-key", "old-key"]}
    key = _body(owner.get_access_key_org(ORG, ACCESS_KEY[0]))
    assert key["id"] == ACCESS_KEY[0]
    assert key["username"] == f"{ACCESS_KEY[0]}@{ORG}"
    assert key["expiry"] == 4102444800000
    assert "password" not in key

    created = _body(owner.create_access_key_org(ORG, "deploy-bot", white_cidrs=["10.0.0.0/8"]), 201)
    assert created["username"] == f"deploy-bot@{ORG}"
    assert created["password"]
    assert _body(owner.get_access_key_org(ORG, "deploy-bot"))["white_cidrs"] == ["10.0.0.0/8"]
    assert _body(owner.delete_access_key_org(ORG, "deploy-bot")) == {"message": "success"}
    assert _body(owner.get_access_keys_org(ORG)) == {"access_keys": ["ci-key", "old-key"]}


def test_upload_publish_and_download(
    owner: Bintray, bintray: BintrayServer, tmp_path: Path
) -> None:
    local = tmp_path / "core-lib-3.0.0.jar"
    local.write_bytes(b"uploaded by bintray-python\n" * 40)
    path = "com/acme/core-lib/3.0.0/core-lib-3.0.0.jar"
    uploaded = owner.upload_content(
        ORG, "releases", "core-lib", "3.0.0", path, str(local), publish=False
    )
    assert _body(uploaded, 201) == {"message": "success"}
    assert "3.0.0" not in _body(Bintray().get_package(ORG, "releases", "core-lib"))["versions"]

    assert _body(owner.publish_uploaded_content(ORG, "releases", "core-lib", "3.0.0")) == {
        "files": 1
    }
    listed = _body(owner.get_version_files(ORG, "releases", "core-lib", "3.0.0"))
    assert [(f["path"], f["size"]) for f in listed] == [(path, local.stat().st_size)]
    content = Requester().download(f"{bintray.dl}/{ORG}/releases/{path}", add_status_code=False)
    assert content == local.read_bytes()


def test_restrictions_and_products(owner: Bintray) -> None:
    assert _body(owner.get_geo_restrictions(ORG, "vault")) == {
        "white_list": ["US", "CA"],
        "black_list": [],
    }
    # reference 3.5: a live answer also carried "hasWritePermission": null
    assert _body(owner.get_ip_restrictions(ORG, "vault")) == {
        "white_cidrs": ["10.0.0.0/8"],
        "black_cidrs": [],
        "hasWritePermission": None,
    }
    assert _body(owner.get_products(ORG)) == [{"name": "widget"}]
    product = _body(owner.get_product(ORG, "widget"))
    assert product["display_name"] == "Widget Suite"
    assert product["packages"] == ["releases/core-lib", "debs/widget-deb"]
    assert product["versions"] == ["1.0"]


def test_download_counts(owner: Bintray) -> None:
    totals = _body(owner.get_total_downloads(ORG, "releases", "core-lib"))
    assert {r["version"]: r["count"] for r in totals["records"]} == {
        "2.0.0-rc": 0,
        "1.2.0": 42,
        "1.1.0": 7,
    }
    one = _body(owner.get_total_downloads(ORG, "releases", "core-lib", "1.2.0"))
    assert one["records"] == [{"version": "1.2.0", "count": 42}]


def test_version_and_package_of_a_file(owner: Bintray) -> None:
    """GET /file_version and /file_package (reference §5.2, §4.3)."""
    version = _body(owner.version_for_file(ORG, "releases", JAR_PATH))
    assert version["name"] == "1.2.0"
    assert version["package"] == "core-lib"
    package = _body(owner.get_package_for_file(ORG, "releases", JAR_PATH))
    assert package["name"] == "core-lib"
    assert package["repo"] == "releases"
