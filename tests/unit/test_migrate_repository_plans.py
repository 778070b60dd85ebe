"""Repository plans and the anonymous-read permission plan: pure decisions, no sockets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from transfer.migrate.repositories import (
    ANONYMOUS_READ_PERMISSION,
    RepoAction,
    RepoPlan,
    plan_anonymous_read,
    plan_repositories,
)
from transfer.sources.base import SourceRepository, normalize_repo_type


def repo(
    name: str, kind: str = "generic", *, private: bool = False, **raw: Any
) -> SourceRepository:
    return SourceRepository(
        name=name,
        type=normalize_repo_type(kind),
        private=private,
        desc=f"{name} description",
        labels=("a", "b"),
        raw={"name": name, "type": kind, **raw},
    )


def plan(
    repos: list[SourceRepository],
    existing: Mapping[str, Mapping[str, Any] | None] | None = None,
    template: str = "{repo}",
) -> list[RepoPlan]:
    return plan_repositories(repos, existing or {}, subject="acme", repo_key_template=template)


@pytest.mark.parametrize(
    ("bintray", "package_type", "layout"),
    [
        ("maven", "maven", "maven-2-default"),
        ("debian", "debian", "simple-default"),
        ("deb", "debian", "simple-default"),
        ("rpm", "rpm", "simple-default"),
        ("npm", "npm", "npm-default"),
        ("nuget", "nuget", "nuget-default"),
        ("conan", "conan", "conan-default"),
        ("docker", "docker", "simple-default"),
        ("opkg", "opkg", "simple-default"),
        ("vagrant", "vagrant", "simple-default"),
        ("generic", "generic", "simple-default"),
        ("", "generic", "simple-default"),
    ],
)
def test_new_repository_is_created_local_with_type_layout_and_cdn(
    bintray: str, package_type: str, layout: str
) -> None:
    [decided] = plan([repo("r", bintray)])
    assert decided.action is RepoAction.CREATE
    assert decided.config["rclass"] == "local"
    assert decided.config["packageType"] == package_type
    assert decided.config["repoLayoutRef"] == layout
    assert decided.config["description"] == "r description"
    assert "cdnRedirect" not in decided.config  # enabled by the update that follows
    assert decided.changes == {"cdnRedirect": True}


def test_unknown_type_becomes_generic_with_a_note() -> None:
    [decided] = plan([repo("r", "cargo")])
    assert decided.package_type == "generic"
    assert decided.notes
    assert "cargo" in decided.notes[0]


def test_rpm_carries_yum_settings() -> None:
    [decided] = plan([repo("r", "rpm", yum_metadata_depth=2, yum_groups_file="comps.xml")])
    assert decided.config["yumRootDepth"] == 2
    assert decided.config["calculateYumMetadata"] is True
    assert decided.config["yumGroupFileNames"] == "comps.xml"


def test_compatible_existing_repository_is_kept_and_cdn_ensured() -> None:
    existing = {
        "r": {"rclass": "local", "packageType": "Maven", "cdnRedirect": False},
        "s": {"rclass": "local", "packageType": "generic", "cdnRedirect": True},
    }
    first, second = plan([repo("r", "maven"), repo("s")], existing)
    assert first.action is RepoAction.ENABLE_CDN
    assert first.changes == {"cdnRedirect": True}
    assert not first.config
    assert second.action is RepoAction.KEEP
    assert not second.changes


def test_layout_difference_is_kept_and_noted() -> None:
    existing = {
        "r": {"rclass": "local", "packageType": "maven", "repoLayoutRef": "x", "cdnRedirect": True}
    }
    [decided] = plan([repo("r", "maven")], existing)
    assert decided.action is RepoAction.KEEP
    assert any("x" in note for note in decided.notes)


@pytest.mark.parametrize(
    "current",
    [
        {"rclass": "local", "packageType": "generic"},
        {"rclass": "remote", "packageType": "maven"},
        {"rclass": "virtual", "packageType": "maven"},
    ],
)
def test_incompatible_existing_repository_is_a_conflict(current: dict[str, Any]) -> None:
    [decided] = plan([repo("r", "maven")], {"r": current})
    assert decided.action is RepoAction.CONFLICT
    assert not decided.usable
    assert not decided.changes
    assert not decided.config
    assert "maven" in decided.reason


def test_template_and_unmappable_and_case_clash() -> None:
    plans = plan([repo("libs"), repo("Libs"), repo("bad name")], template="{subject}-{repo}")
    assert [p.key for p in plans[:2]] == ["acme-libs", "acme-Libs"]
    assert plans[0].action is RepoAction.CREATE
    assert plans[1].action is RepoAction.CONFLICT
    assert "libs" in plans[1].reason
    assert plans[2].action is RepoAction.UNMAPPABLE
    assert plans[2].key == ""


def test_private_flag_decides_public() -> None:
    public, private = plan([repo("pub"), repo("priv", private=True)])
    assert public.public
    assert not private.public
    assert public.as_dict()["action"] == "create"


def test_anonymous_read_on_exactly_the_public_repositories() -> None:
    plans = plan([repo("pub"), repo("priv", private=True), repo("other")])
    permission = plan_anonymous_read(plans, None)
    assert permission.name == ANONYMOUS_READ_PERMISSION
    assert permission.action == "create"
    assert permission.repositories == ("other", "pub")
    section = permission.body["repo"]
    assert section["repositories"] == ["other", "pub"]
    assert section["actions"]["users"] == {"anonymous": ["read"]}
    assert section["include-patterns"] == ["**"]


def test_no_public_repository_means_no_permission_target() -> None:
    permission = plan_anonymous_read(plan([repo("priv", private=True)]), None)
    assert permission.action == "none"
    assert not permission.body


def test_existing_target_kept_when_equal_and_updated_preserving_others() -> None:
    plans = plan([repo("pub"), repo("now-private", private=True)])
    same = {
        "name": "x",
        "repo": {"repositories": ["pub"], "actions": {"users": {"anonymous": ["read"]}}},
    }
    assert plan_anonymous_read(plans, same).action == "keep"
    edited = {
        "name": ANONYMOUS_READ_PERMISSION,
        "repo": {
            "repositories": ["now-private", "from-another-run"],
            "include-patterns": ["public/**"],
            "actions": {"users": {"anonymous": ["read"], "alice": ["read", "write"]}},
        },
        "build": {"repositories": ["artifactory-build-info"]},
    }
    updated = plan_anonymous_read(plans, edited)
    assert updated.action == "update"
    assert updated.repositories == ("from-another-run", "pub")
    assert updated.body["repo"]["include-patterns"] == ["public/**"]
    assert updated.body["repo"]["actions"]["users"]["alice"] == ["read", "write"]
    assert updated.body["build"] == {"repositories": ["artifactory-build-info"]}
    assert "name" not in updated.body


def test_conflicting_public_repository_gets_no_anonymous_read() -> None:
    plans = plan([repo("pub", "maven")], {"pub": {"rclass": "remote", "packageType": "maven"}})
    assert plan_anonymous_read(plans, None).action == "none"


def test_maven_repositories_keep_inconsistent_poms_unless_told_otherwise() -> None:
    [maven, generic] = plan([repo("releases", "maven"), repo("files")])
    assert maven.config["suppressPomConsistencyChecks"] is True
    assert "suppressPomConsistencyChecks" not in generic.config
    [strict] = plan_repositories(
        [repo("releases", "maven")],
        {},
        subject="acme",
        repo_key_template="{repo}",
        suppress_pom_checks=False,
    )
    assert strict.config["suppressPomConsistencyChecks"] is False
    # an existing Maven repository is left as it is, with a note when it checks POMs
    existing = {"rclass": "local", "packageType": "maven", "cdnRedirect": True}
    [kept] = plan([repo("releases", "maven")], {"releases": existing})
    assert kept.action is RepoAction.KEEP
    assert any("checks POM consistency" in note for note in kept.notes)
    relaxed = {**existing, "suppressPomConsistencyChecks": True}
    [quiet] = plan([repo("releases", "maven")], {"releases": relaxed})
    assert not any("POM" in note for note in quiet.notes)
