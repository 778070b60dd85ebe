"""Bintray member, team and access-key names mapped to names JFrog Cloud accepts (pure)."""

from __future__ import annotations

import pytest

from transfer.migrate.access import EntitlementInfo, KeyInfo, OrgMember, OrgSnapshot, OrgTeam
from transfer.migrate.principals import VALID_NAME, map_names, rename_principals, valid_name
from transfer.migrate.security import plan_security
from transfer.settings import SecuritySettings


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("jdoe", "jdoe"),
        ("Ken.Adams", "ken.adams"),
        ("Ève Lefèvre", "eve-lefevre"),
        ("Deploy_Bot#2", "deploy_bot-2"),
        ("ci+eu@acme", "ci+eu@acme"),
        ("日本", "principal"),
        ("  QA Leads  ", "qa-leads"),
    ],
)
def test_valid_name(name: str, valid: str) -> None:
    assert valid_name(name) == valid
    assert VALID_NAME.match(valid_name(name))


def test_valid_names_win_and_collisions_get_deterministic_suffixes() -> None:
    names = ["bob", "Bob", "BOB", "b o b", "b-o-b"]
    mapped, renames = map_names("member", names)
    assert mapped == {"bob": "bob", "b-o-b": "b-o-b", "BOB": "bob-2", "Bob": "bob-3",
                      "b o b": "b-o-b-2"}  # fmt: skip
    assert len(set(mapped.values())) == len(names)
    assert {r.source for r in renames} == {"BOB", "Bob", "b o b"}
    by_source = {r.source: r for r in renames}
    assert "lower case" in by_source["Bob"].reason
    assert "'bob' was taken" in by_source["Bob"].reason
    assert "only a-z" in by_source["b o b"].reason
    # the same names in any order map the same way
    assert map_names("member", reversed(names))[0] == mapped
    assert map_names("member", ["x"], taken={"x"})[0] == {"x": "x-2"}


def test_rename_principals_follows_every_reference() -> None:
    snapshot = OrgSnapshot(
        subject="acme",
        owner="Jane",
        members=(OrgMember("Jane", "owner"), OrgMember("ken.adams"), OrgMember("Ken.Adams")),
        teams=(OrgTeam("QA Leads", ("Ken.Adams", "Jane"), {"releases": "read"}),),
        access_keys=(KeyInfo("Jane"), KeyInfo("CI Bot"), KeyInfo("jane-key")),
        entitlements=(EntitlementInfo("e1", "releases", "r", ("CI Bot", "Jane"), "repository"),),
    )
    renamed, renames = rename_principals(snapshot)
    assert renamed.owner == "jane"
    assert [m.name for m in renamed.members] == ["jane", "ken.adams", "ken.adams-2"]
    assert renamed.teams[0].name == "qa-leads"
    assert renamed.teams[0].members == ("ken.adams-2", "jane")
    # a key named like a member keeps pointing at that member's name (reported as a clash)
    assert [k.id for k in renamed.access_keys] == ["jane", "ci-bot", "jane-key"]
    assert renamed.entitlements[0].access_keys == ("ci-bot", "jane")
    assert {(r.kind, r.source, r.name) for r in renames} == {
        ("member", "Jane", "jane"),
        ("member", "Ken.Adams", "ken.adams-2"),
        ("access_key", "CI Bot", "ci-bot"),
        ("team", "QA Leads", "qa-leads"),
    }


def test_the_plan_lists_every_renamed_principal() -> None:
    snapshot = OrgSnapshot(
        subject="acme",
        owner="jdoe",
        members=(OrgMember("jdoe", "owner"), OrgMember("Ken.Adams")),
        teams=(OrgTeam("QA Leads", ("Ken.Adams",)),),
        access_keys=(KeyInfo("Deploy_Bot#2"),),
    )
    plan = plan_security(snapshot, SecuritySettings(), now=1_700_000_000.0)
    assert {u.name for u in plan.users} == {"jdoe", "ken.adams", "deploy_bot-2"}
    assert {g.name for g in plan.groups} == {"qa-leads", "accesskey-deploy_bot-2"}
    lines = "\n".join(plan.lines())
    assert "member 'Ken.Adams' becomes user 'ken.adams'" in lines
    assert "team 'QA Leads' becomes group 'qa-leads'" in lines
    assert "access key 'Deploy_Bot#2' becomes user 'deploy_bot-2'" in lines
    assert [r["bintray"] for r in plan.as_dict()["renamed"]] == [
        "Ken.Adams",
        "Deploy_Bot#2",
        "QA Leads",
    ]


def test_an_ldap_group_keeps_the_teams_own_name_in_its_realm_attributes() -> None:
    snapshot = OrgSnapshot(subject="acme", owner="jdoe", teams=(OrgTeam("QA Leads", ("jdoe",)),))
    plan = plan_security(snapshot, SecuritySettings(ldap=True), now=1_700_000_000.0)
    [group] = plan.groups
    assert group.name == "qa-leads"
    assert group.realm_attributes == "ldapGroupName=QA Leads"
