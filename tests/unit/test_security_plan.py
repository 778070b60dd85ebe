"""The security plan decided without sockets: members, teams, access keys, entitlements, geo;
the secrets file; how Bintray URLs are recognised; URL formatting for the old → new map."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from transfer.errors import ConfigError
from transfer.migrate.access import (
    EntitlementInfo,
    KeyInfo,
    OrgMember,
    OrgRepository,
    OrgSnapshot,
    OrgTeam,
    target_name,
)
from transfer.migrate.geo import geo_entries, parse_restrictions
from transfer.migrate.keys import literal_pattern, package_patterns, path_patterns
from transfer.migrate.secrets import SecretsFile, generate_password
from transfer.migrate.security import plan_security
from transfer.migrate.signed_urls import candidates
from transfer.migrate.urlmap import artifactory_url, bintray_url
from transfer.settings import LdapRealm, PermissionMapping, SecuritySettings

NOW = 1_700_000_000.0


def _snapshot(**changes: object) -> OrgSnapshot:
    base: dict[str, object] = {
        "subject": "acme",
        "owner": "jdoe",
        "members": (OrgMember("jdoe", "owner"), OrgMember("bob", "admin"), OrgMember("eve")),
        "teams": (OrgTeam("dev", ("bob", "eve"), {"releases": "publish", "internal": "read"}),),
        "repositories": (
            OrgRepository("releases", "releases"),
            OrgRepository("internal", "acme-internal", private=True),
        ),
    }
    base.update(changes)
    return OrgSnapshot(**base)  # type: ignore[arg-type]


def test_members_teams_and_one_permission_target_per_repository() -> None:
    plan = plan_security(_snapshot(), SecuritySettings(), now=NOW)
    users = {u.name: u for u in plan.users}
    assert users["jdoe"].admin
    assert users["bob"].admin
    assert not users["eve"].admin
    assert users["eve"].email == "eve@users.invalid"
    assert users["eve"].body()["internalPasswordDisabled"] is False
    [group] = plan.groups
    assert group.body()["userNames"] == ["bob", "eve"]
    targets = {t.name: t for t in plan.targets}
    assert set(targets) == {"bintray-repo-releases", "bintray-repo-acme-internal"}
    body = targets["bintray-repo-acme-internal"].body()
    assert body["repo"]["repositories"] == ["acme-internal"]
    assert body["repo"]["actions"]["groups"] == {"dev": ["read"]}
    publish = targets["bintray-repo-releases"].body()["repo"]["actions"]["groups"]["dev"]
    assert publish == ["read", "annotate", "write", "delete"]


def test_mapping_is_configurable_and_unknown_permissions_are_reported() -> None:
    settings = SecuritySettings(permissions=PermissionMapping(read=("read", "annotate")))
    team = OrgTeam("qa", ("eve",), {"releases": "read", "internal": "owner"})
    plan = plan_security(_snapshot(teams=(team,)), settings, now=NOW)
    [target] = plan.targets
    assert target.groups == {"qa": ("read", "annotate")}
    assert any("unknown permission 'owner'" in e.what for e in plan.entries)


def test_ldap_makes_realm_groups_and_no_member_users() -> None:
    settings = SecuritySettings(ldap=True, ldap_realm=LdapRealm(group_attribute="cn"))
    plan = plan_security(_snapshot(), settings, now=NOW)
    assert plan.users == ()
    [group] = plan.groups
    body = group.body()
    assert (body["realm"], body["realmAttributes"]) == ("ldap", "cn=dev")
    assert "userNames" not in body
    assert any(e.key == "ldap-admins" for e in plan.entries)


def test_sso_users_have_internal_passwords_disabled() -> None:
    plan = plan_security(_snapshot(), SecuritySettings(sso=True), now=NOW)
    assert all(u.body()["internalPasswordDisabled"] for u in plan.users)


def _entitlement(**changes: object) -> EntitlementInfo:
    base: dict[str, object] = {
        "id": "e" * 40,
        "repo": "internal",
        "access": "rw",
        "access_keys": ("ci",),
        "scope": "path",
        "path": "tools/1.0",
        "patterns": path_patterns("tools/1.0"),
    }
    base.update(changes)
    return EntitlementInfo(**base)  # type: ignore[arg-type]


def test_access_keys_become_users_groups_targets_and_tokens() -> None:
    keys = (
        KeyInfo("ci", expiry_ms=int((NOW + 1000) * 1000), api_only=True),
        KeyInfo("x" * 129),
        KeyInfo("old", expiry_ms=int((NOW - 1) * 1000)),
        KeyInfo("eve"),
        KeyInfo("forever", white_cidrs=("10.0.0.0/8",)),
    )
    settings = SecuritySettings(create_tokens_for_access_keys=True, token_expiry=3600)
    snapshot = _snapshot(access_keys=keys, entitlements=(_entitlement(),))
    plan = plan_security(snapshot, settings, now=NOW)
    by_id = {k.id: k for k in plan.keys}
    assert {k for k, p in by_id.items() if p.migrated} == {"ci", "forever"}
    assert "128" in by_id["x" * 129].reason
    assert "expired" in by_id["old"].reason
    assert "member" in by_id["eve"].reason
    ci = next(u for u in plan.users if u.name == "ci")
    assert ci.credential == "token"
    assert ci.body()["disableUIAccess"] is True
    target = next(t for t in plan.targets if t.origin == "entitlement")
    assert target.groups == {"accesskey-ci": ("read", "annotate", "write", "delete")}
    assert target.include == ("tools/1.0", "tools/1.0/**")
    assert by_id["ci"].targets == (target.name,)
    tokens = {t.key: t for t in plan.tokens}
    assert tokens["ci"].expires_in == 1000
    assert tokens["ci"].scope == "applied-permissions/groups:accesskey-ci"
    assert tokens["forever"].expires_in == 3600
    assert any(e.key == "access-key-restrictions/forever" for e in plan.entries)


def test_unresolved_or_unmigrated_entitlements_are_reported_not_widened() -> None:
    entitlements = (
        _entitlement(id="a" * 40, scope="unresolved", patterns=()),
        _entitlement(id="b" * 40, repo="elsewhere"),
    )
    snapshot = _snapshot(access_keys=(KeyInfo("ci"),), entitlements=entitlements)
    plan = plan_security(snapshot, SecuritySettings(), now=NOW)
    assert not [t for t in plan.targets if t.origin == "entitlement"]
    reported = {e.key for e in plan.entries}
    assert {f"entitlement/{'a' * 40}", f"entitlement/{'b' * 40}"} <= reported


def test_patterns_cover_exactly_the_scope() -> None:
    assert path_patterns("") == ("**",)
    assert literal_pattern("a*b/c?d,e") == "a?b/c?d?e"
    maven = ["com/acme/lib/1.0/lib-1.0.jar", "com/acme/lib/2.0/lib-2.0.jar"]
    assert package_patterns(maven) == ("com/acme/lib/**",)
    assert package_patterns(["tool-1.0.zip", "docs/readme.txt"]) == ("docs/**", "tool-1.0.zip")
    long = target_name("bintray-repo-", "r" * 80)
    assert len(long) == 64
    assert long != target_name("bintray-repo-", "r" * 79 + "s")


def test_geo_and_ip_restrictions_become_a_checklist() -> None:
    found = [
        parse_restrictions("debs", {"white_list": [], "black_list": ["KP", "IR"]}, None),
        parse_restrictions("eu", {"white_list": ["FR", "DE"]}, {"white_cidrs": ["10.0.0.0/8"]}),
        parse_restrictions("open", {}, {}),
    ]
    entries = {e.key: e for e in geo_entries(found)}
    assert set(entries) == {"geo-restriction/debs", "geo-restriction/eu", "ip-restriction/eu"}
    assert entries["geo-restriction/debs"].detail["mode"] == "block"
    assert entries["geo-restriction/eu"].detail["countries"] == ["DE", "FR"]
    assert "MyJFrog" in entries["geo-restriction/eu"].instead


def test_secrets_file_is_0600_and_never_rotates(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "s.json"
    secrets = SecretsFile(path)
    first = secrets.add("users", "eve", {"password": "first-value"})
    assert secrets.add("users", "eve", {"password": "second-value"}) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["s.json"]  # no temporary left behind
    again = SecretsFile(path)
    assert again.get("users", "eve") == {"password": "first-value"}
    assert again.add("tokens", "ci", {"access_token": "tok"})["access_token"] == "tok"
    assert json.loads(path.read_text())["users"]["eve"]["password"] == "first-value"
    os.chmod(path, 0o644)
    widened = SecretsFile(path)
    assert widened.names("users") == ["eve"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert widened.warnings


def test_secrets_file_refuses_something_else(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"hello": 1}')
    with pytest.raises(ConfigError, match="not a transfer secrets file"):
        SecretsFile(path).names("users")


def test_generated_passwords_are_strong_and_distinct() -> None:
    values = {generate_password() for _ in range(50)}
    assert len(values) == 50
    for value in values:
        assert len(value) == 32
        assert any(c.isupper() for c in value)
        assert any(c.isdigit() for c in value)
        assert any(not c.isalnum() for c in value)


@pytest.mark.parametrize(
    ("request_text", "expected"),
    [
        ("https://dl.bintray.com/acme/releases/com/x.jar?signature=s", ("releases", "com/x.jar")),
        ("https://acme.bintray.com/releases/com/x.jar", ("releases", "com/x.jar")),
        ("https://api.bintray.com/content/acme/debs/pool/a%20b.deb", ("debs", "pool/a b.deb")),
        ("http://127.0.0.1:9/dl/acme/internal/c++ utils/x", ("internal", "c++ utils/x")),
        ("acme/releases/com/x.jar", ("releases", "com/x.jar")),
        ("releases/com/x.jar", ("releases", "com/x.jar")),
    ],
)  # fmt: skip
def test_bintray_urls_and_paths_are_recognised(
    request_text: str, expected: tuple[str, str]
) -> None:
    assert candidates(request_text, subject="acme")[0] == expected


def test_unrecognisable_requests_have_no_candidates() -> None:
    assert candidates("https://example.com/", subject="acme") == []
    assert candidates("lonely", subject="acme") == []


def test_url_map_urls_are_valid_and_readable() -> None:
    assert (
        bintray_url("https://dl.bintray.com/", "acme", "internal", "c++ utils/0.2/a;b 1.bin")
        == "https://dl.bintray.com/acme/internal/c++%20utils/0.2/a%3Bb%201.bin"
    )
    assert (
        artifactory_url("https://x.jfrog.io/artifactory", "debs", "pool/w/1:2.0~rc1.deb")
        == "https://x.jfrog.io/artifactory/debs/pool/w/1:2.0~rc1.deb"
    )
