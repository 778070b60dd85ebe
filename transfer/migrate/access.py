"""Who may do what: the organisation as read from Bintray, and the users, groups and permission
targets it becomes in Artifactory (pure decisions; :mod:`~transfer.migrate.security_phase`
carries them out).

* members become users; the owner and the admins become admin users. Without LDAP a user gets
  a generated password (kept only in the secrets file); with SSO, internal passwords are
  disabled; with LDAP no user is created at all (users appear at their first login);
* teams become groups with their members (with LDAP: groups of the LDAP realm, no members);
* team permissions (read, publish, admin) become, for each Bintray repository, **one**
  permission target ``bintray-repo-<key>`` naming every team's group with the actions
  :class:`~transfer.settings.PermissionMapping` gives that permission.

Access keys are planned in :mod:`~transfer.migrate.keys` with the same plan types.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from transfer.migrate.geo import GeoRestriction
from transfer.migrate.unmigratable import Unmigratable
from transfer.settings import SecuritySettings
from transfer.sources.base import Restricted

__all__ = [
    "ADMIN_ROLES",
    "MAX_TARGET_NAME",
    "REPO_TARGET_PREFIX",
    "EntitlementInfo",
    "GroupPlan",
    "KeyInfo",
    "OrgMember",
    "OrgRepository",
    "OrgSnapshot",
    "OrgTeam",
    "PermissionTargetPlan",
    "UserPlan",
    "email_for",
    "plan_people",
    "target_name",
]

ADMIN_ROLES: Final = frozenset({"owner", "admin"})
MAX_TARGET_NAME: Final = 64
"""Artifactory's limit on permission target names (reference §6.3)."""
REPO_TARGET_PREFIX: Final = "bintray-repo-"
"""Team permissions on a repository live in the permission target ``bintray-repo-<key>``."""

_EMAIL_LOCAL = re.compile(r"[^A-Za-z0-9._+-]")


# --------------------------------------------------------------------------- what Bintray has


@dataclass(frozen=True, slots=True)
class OrgMember:
    """A member of the organisation; ``role`` is owner, admin, member, or "" when Bintray hid
    it (the caller is not an organisation admin)."""

    name: str
    role: str = ""


@dataclass(frozen=True, slots=True)
class OrgTeam:
    """A team: its members and its permission (read, publish, admin) per Bintray repository;
    ``bintray_name`` is its name in Bintray when ``name`` had to change."""

    name: str
    members: tuple[str, ...]
    permissions: Mapping[str, str] = field(default_factory=dict, hash=False)
    bintray_name: str = ""


@dataclass(frozen=True, slots=True)
class OrgRepository:
    """A Bintray repository and its Artifactory key ("" with ``reason`` when it has none)."""

    name: str
    key: str
    private: bool = False
    reason: str = ""


@dataclass(frozen=True, slots=True)
class EntitlementInfo:
    """An entitlement: ``access`` (``r`` or ``rw``) for some access keys on a scope.

    ``scope`` is ``repository``, ``path``, ``package``, ``version`` or ``unresolved`` (the
    source did not say which package it covers); ``patterns`` are the include patterns
    (Ant style, repository-relative) that cover exactly the files of the scope.
    """

    id: str
    repo: str
    access: str
    access_keys: tuple[str, ...]
    scope: str
    path: str = ""
    package: str = ""
    version: str = ""
    patterns: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """An access key as Bintray describes it (its password is never readable)."""

    id: str
    expiry_ms: int | None = None
    api_only: bool = True
    white_cidrs: tuple[str, ...] = ()
    black_cidrs: tuple[str, ...] = ()
    existence_check: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class OrgSnapshot:
    """Everything the security phase reads from the source, before deciding anything.

    ``restricted`` lists the reads the source refused; ``notes`` what else is worth saying
    (member roles hidden, ...).
    """

    subject: str
    owner: str
    members: tuple[OrgMember, ...] = ()
    teams: tuple[OrgTeam, ...] = ()
    repositories: tuple[OrgRepository, ...] = ()
    access_keys: tuple[KeyInfo, ...] = ()
    entitlements: tuple[EntitlementInfo, ...] = ()
    geo: tuple[GeoRestriction, ...] = ()
    restricted: tuple[Restricted, ...] = ()
    notes: tuple[str, ...] = ()

    def repository(self, name: str) -> OrgRepository | None:
        """The repository named ``name`` in Bintray, if the migration covers it."""
        return next((r for r in self.repositories if r.name == name), None)


# --------------------------------------------------------------------------- what Artifactory gets

Origin = Literal["member", "team", "access_key", "repository", "entitlement"]
Credential = Literal["password", "sso", "token"]


@dataclass(frozen=True, slots=True)
class UserPlan:
    """A user to create. ``credential`` says how its holder signs in: a generated
    ``password`` (in the secrets file), ``sso`` (internal password disabled) or ``token``
    (internal password disabled, an access token in the secrets file)."""

    name: str
    email: str
    admin: bool
    origin: Origin
    credential: Credential
    disable_ui: bool = False

    def body(self) -> dict[str, Any]:
        """The v1 user JSON without the password (added at the last moment)."""
        return {
            "name": self.name,
            "email": self.email,
            "admin": self.admin,
            "profileUpdatable": self.origin == "member",
            "disableUIAccess": self.disable_ui,
            "internalPasswordDisabled": self.credential != "password",
        }

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form (never a secret: only how the user will sign in)."""
        return {
            "name": self.name,
            "email": self.email,
            "admin": self.admin,
            "origin": self.origin,
            "credential": self.credential,
        }


@dataclass(frozen=True, slots=True)
class GroupPlan:
    """A group to create with its members; ``realm`` "" is Artifactory's internal realm."""

    name: str
    description: str
    members: tuple[str, ...]
    origin: Origin
    realm: str = ""
    realm_attributes: str = ""

    def body(self) -> dict[str, Any]:
        """The v1 group JSON (``userNames`` only for internal groups: LDAP fills its own)."""
        body: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "autoJoin": False,
            "adminPrivileges": False,
        }
        if self.realm:
            body["realm"] = self.realm
            body["realmAttributes"] = self.realm_attributes
        else:
            body["userNames"] = list(self.members)
        return body

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "name": self.name,
            "origin": self.origin,
            "members": list(self.members),
            "realm": self.realm or "internal",
        }


@dataclass(frozen=True, slots=True)
class PermissionTargetPlan:
    """A v2 permission target on some repositories, granting actions to groups (and, when
    copied from another Artifactory, to users, with exclude patterns)."""

    name: str
    repositories: tuple[str, ...]
    include: tuple[str, ...]
    groups: Mapping[str, tuple[str, ...]]
    origin: Origin
    source: str
    users: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    exclude: tuple[str, ...] = ()

    def body(self) -> dict[str, Any]:
        """The v2 JSON."""
        actions: dict[str, Any] = {"groups": {g: list(a) for g, a in sorted(self.groups.items())}}
        if self.users:
            actions["users"] = {u: list(a) for u, a in sorted(self.users.items())}
        return {
            "name": self.name,
            "repo": {
                "repositories": list(self.repositories),
                "include-patterns": list(self.include),
                "exclude-patterns": list(self.exclude) or [""],
                "actions": actions,
            },
        }

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "name": self.name,
            "origin": self.origin,
            "source": self.source,
            "repositories": list(self.repositories),
            "include_patterns": list(self.include),
            "groups": {g: list(a) for g, a in sorted(self.groups.items())},
        }


# --------------------------------------------------------------------------- decisions


def email_for(name: str, domain: str) -> str:
    """``<name>@<domain>`` with characters an address cannot hold replaced by ``_``."""
    local = _EMAIL_LOCAL.sub("_", name).strip(".") or "user"
    return f"{local[:64]}@{domain}"


def target_name(prefix: str, name: str) -> str:
    """``prefix + name``, shortened with a hash suffix when longer than Artifactory allows."""
    full = f"{prefix}{name}"
    if len(full) <= MAX_TARGET_NAME:
        return full
    digest = hashlib.sha1(full.encode()).hexdigest()[:8]
    return f"{full[: MAX_TARGET_NAME - 9]}-{digest}"


def _roles(snapshot: OrgSnapshot) -> dict[str, str]:
    roles = {m.name: m.role for m in snapshot.members}
    if snapshot.owner:
        roles[snapshot.owner] = "owner"
    for team in snapshot.teams:
        for member in team.members:
            roles.setdefault(member, "member")
    return roles


def _team_group(team: OrgTeam, snapshot: OrgSnapshot, settings: SecuritySettings) -> GroupPlan:
    description = f"Bintray team {team.name} of {snapshot.subject}"
    if settings.ldap:
        realm = settings.ldap_realm
        return GroupPlan(
            name=team.name,
            description=description,
            members=tuple(sorted(team.members)),
            origin="team",
            realm=realm.realm,
            # the LDAP group keeps the team's own name, whatever the Artifactory group is called
            realm_attributes=f"{realm.group_attribute}={team.bintray_name or team.name}",
        )
    return GroupPlan(team.name, description, tuple(sorted(set(team.members))), "team")


def _repo_targets(
    snapshot: OrgSnapshot, settings: SecuritySettings
) -> tuple[list[PermissionTargetPlan], list[Unmigratable]]:
    grants: dict[str, dict[str, tuple[str, ...]]] = {}
    entries: list[Unmigratable] = []
    for team in snapshot.teams:
        for repo_name, permission in sorted(team.permissions.items()):
            repo = snapshot.repository(repo_name)
            if repo is None:
                continue  # filtered out of this migration
            if not repo.key:
                entries.append(
                    Unmigratable(
                        key=f"team-permission/{team.name}/{repo_name}",
                        category="permission",
                        what=f"team {team.name}'s {permission} permission on {repo_name}: "
                        f"the repository has no Artifactory key ({repo.reason})",
                        instead="migrate the repository, then grant the group in the UI",
                    )
                )
                continue
            actions = settings.permissions.actions_for(permission)
            if not actions:
                entries.append(
                    Unmigratable(
                        key=f"team-permission/{team.name}/{repo_name}",
                        category="permission",
                        what=f"team {team.name} has an unknown permission {permission!r} "
                        f"on {repo_name}",
                        instead="grant the group the right actions on permission target "
                        f"{target_name(REPO_TARGET_PREFIX, repo.key)} by hand",
                    )
                )
                continue
            grants.setdefault(repo.key, {})[team.name] = tuple(actions)
    targets = [
        PermissionTargetPlan(
            name=target_name(REPO_TARGET_PREFIX, key),
            repositories=(key,),
            include=("**",),
            groups=groups,
            origin="repository",
            source=next((r.name for r in snapshot.repositories if r.key == key), key),
        )
        for key, groups in sorted(grants.items())
    ]
    return targets, entries


def plan_people(
    snapshot: OrgSnapshot, settings: SecuritySettings
) -> tuple[list[UserPlan], list[GroupPlan], list[PermissionTargetPlan], list[Unmigratable]]:
    """Users for the members, groups for the teams, one permission target per repository."""
    users: list[UserPlan] = []
    if not settings.ldap:
        credential: Credential = "sso" if settings.sso else "password"
        for name, role in sorted(_roles(snapshot).items()):
            users.append(
                UserPlan(
                    name=name,
                    email=email_for(name, settings.email_domain),
                    admin=role in ADMIN_ROLES,
                    origin="member",
                    credential=credential,
                )
            )
    groups = [_team_group(team, snapshot, settings) for team in snapshot.teams]
    targets, entries = _repo_targets(snapshot, settings)
    admins = sorted(name for name, role in _roles(snapshot).items() if role in ADMIN_ROLES)
    if settings.ldap and admins:
        entries.append(
            Unmigratable(
                key="ldap-admins",
                category="admin_users",
                what=f"the organisation's owner and admins ({', '.join(admins)}) are not "
                "created with LDAP: their users appear at first login, as non-admins",
                instead="after their first login, tick Admin on each user (Administration → "
                "User Management → Users), or give an LDAP group admin privileges",
                detail={"users": admins},
            )
        )
    return users, groups, targets, entries
