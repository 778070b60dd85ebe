"""Pure plans for an Artifactory source: repository configurations and the security directory."""

from __future__ import annotations

from transfer.migrate.copied_repositories import plan_copied_repositories
from transfer.migrate.copied_security import Directory, plan_copied_security
from transfer.migrate.repositories import RepoAction
from transfer.settings import SecuritySettings

CONFIGS = [
    {
        "key": "libs",
        "rclass": "virtual",
        "packageType": "maven",
        "repositories": ["libs-local", "central", "elsewhere"],
        "defaultDeploymentRepo": "libs-local",
    },
    {
        "key": "central",
        "rclass": "remote",
        "packageType": "maven",
        "url": "https://x/",
        "password": "enc",
    },
    {
        "key": "libs-local",
        "rclass": "local",
        "packageType": "Maven",
        "handleSnapshots": False,
        "checksumPolicyType": "server-generated-checksums",
        "projectKey": "p1",
        "excludesPattern": "**/*.tmp",
    },
]


def test_configurations_are_copied_in_dependency_order_under_mapped_keys() -> None:
    plans = plan_copied_repositories(CONFIGS, {}, subject="s", repo_key_template="{repo}-cloud")
    assert [(p.source, p.key, p.action) for p in plans] == [
        ("libs-local", "libs-local-cloud", RepoAction.CREATE),
        ("central", "central-cloud", RepoAction.CREATE),
        ("libs", "libs-cloud", RepoAction.CREATE),
    ]
    local, remote, virtual = plans
    assert local.config["handleSnapshots"] is False
    assert local.config["checksumPolicyType"] == "server-generated-checksums"
    assert local.config["excludesPattern"] == "**/*.tmp"
    assert "key" not in local.config
    assert "projectKey" not in local.config
    assert any("project" in note for note in local.notes)
    assert "password" not in remote.config
    assert any("password" in n for n in remote.notes)
    assert virtual.config["repositories"] == ["libs-local-cloud", "central-cloud", "elsewhere"]
    assert virtual.config["defaultDeploymentRepo"] == "libs-local-cloud"
    assert any("elsewhere" in note for note in virtual.notes)
    assert not any(p.changes for p in plans)  # no CDN switch: the source's setting travels


def test_an_existing_repository_is_kept_if_alike_and_a_conflict_otherwise() -> None:
    existing = {
        "libs-local": {"rclass": "local", "packageType": "maven"},
        "central": {"rclass": "local", "packageType": "maven"},
    }
    plans = {
        p.source: p
        for p in plan_copied_repositories(
            CONFIGS, existing, subject="s", repo_key_template="{repo}"
        )
    }
    assert plans["libs-local"].action is RepoAction.KEEP
    assert plans["central"].action is RepoAction.CONFLICT
    assert "a remote maven repository is needed" in plans["central"].reason
    assert plans["libs"].action is RepoAction.CREATE


def test_keys_that_differ_only_in_case_clash() -> None:
    configs = [{"key": "A", "rclass": "local"}, {"key": "a", "rclass": "local"}]
    plans = plan_copied_repositories(configs, {}, subject="s", repo_key_template="{repo}")
    assert [p.action for p in plans] == [RepoAction.CREATE, RepoAction.CONFLICT]


DIRECTORY = Directory(
    users=(
        {"name": "anonymous"},
        {"name": "alice", "email": "a@x.example", "admin": True},
        {"name": "bot", "internalPasswordDisabled": True},
    ),
    groups=(
        {"name": "devs", "description": "d", "userNames": ["alice", "bot"], "realm": "internal"},
        {"name": "ops", "adminPrivileges": True, "realm": "ldap", "realmAttributes": "cn=ops"},
    ),
    permissions=(
        {
            "name": "dev",
            "repo": {
                "repositories": ["libs-local", "not-migrated", "ANY REMOTE"],
                "include-patterns": ["com/**"],
                "exclude-patterns": ["**/secret/**"],
                "actions": {"groups": {"devs": ["read", "write"]}, "users": {"bot": ["read"]}},
            },
            "build": {"repositories": ["artifactory-build-info"]},
        },
        {"name": "elsewhere", "repo": {"repositories": ["not-migrated"], "actions": {}}},
    ),
)


def test_users_groups_and_permission_targets_are_planned_from_the_directory() -> None:
    plan = plan_copied_security(
        DIRECTORY, SecuritySettings(), repo_keys={"libs-local": "libs-local-cloud"}
    )
    users = {u.name: u for u in plan.users}
    assert set(users) == {"alice", "bot"}
    assert users["alice"].admin
    assert users["alice"].credential == "password"
    assert users["alice"].email == "a@x.example"
    assert users["bot"].credential == "sso"
    assert users["bot"].email.endswith("@users.invalid")
    groups = {g.name: g for g in plan.groups}
    assert groups["devs"].members == ("alice", "bot")
    assert groups["devs"].realm == ""
    assert groups["ops"].realm == "ldap"
    assert groups["ops"].realm_attributes == "cn=ops"
    [target] = plan.targets
    body = target.body()["repo"]
    assert body["repositories"] == ["libs-local-cloud", "ANY REMOTE"]
    assert body["include-patterns"] == ["com/**"]
    assert body["exclude-patterns"] == ["**/secret/**"]
    assert body["actions"] == {"groups": {"devs": ["read", "write"]}, "users": {"bot": ["read"]}}
    categories = sorted(e.key for e in plan.entries)
    assert categories == [
        "group-settings/ops",
        "permission-section/dev/build",
        "permission-target/elsewhere",
    ]


def test_with_sso_nobody_gets_a_password_and_with_ldap_nobody_is_created() -> None:
    sso = plan_copied_security(DIRECTORY, SecuritySettings(sso=True), repo_keys={})
    assert {u.credential for u in sso.users} == {"sso"}
    # only the "ANY REMOTE" grant is left when none of their repositories is migrated
    assert [t.repositories for t in sso.targets] == [("ANY REMOTE",)]
    ldap = plan_copied_security(DIRECTORY, SecuritySettings(ldap=True), repo_keys={})
    assert not ldap.users
    assert ldap.groups
