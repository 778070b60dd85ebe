"""Users, groups and permission targets, and the permission check every handler asks.

Model: admins (user flag or a group with admin privileges) may do everything. Others get the
union of the repository actions granted to them, or to one of their groups, by permission
targets whose repositories (a key, ``ANY``, ``ANY LOCAL``, ``ANY REMOTE``) and include/exclude
patterns cover the path. ``manage`` implies every other action. A token scoped to groups acts
with those groups only.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from .antpath import any_match

__all__ = [
    "ANONYMOUS",
    "REPO_ACTIONS",
    "V1_LETTERS",
    "Group",
    "PermissionTarget",
    "Principal",
    "RepoSection",
    "SecurityStore",
    "User",
    "new_api_key",
]

REPO_ACTIONS = ("read", "write", "annotate", "delete", "manage", "managedXrayMeta", "distribute")
V1_LETTERS = {
    "r": "read",
    "n": "annotate",
    "w": "write",
    "d": "delete",
    "m": "manage",
    "x": "distribute",
    "mxm": "managedXrayMeta",
}
LOCAL_CLASSES = ("local", "federated")


def new_api_key() -> str:
    """An API key shaped like JFrog's (prefix ``AKCp8``, 73 characters)."""
    return "AKCp8" + secrets.token_urlsafe(51)[:68]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as, after authentication and token scoping."""

    name: str
    admin: bool = False
    groups: frozenset[str] = frozenset()
    anonymous: bool = False
    user_grants: bool = True
    token_id: str | None = None


ANONYMOUS = Principal("anonymous", anonymous=True)


@dataclass(slots=True)
class User:
    """A v1 security user; ``password`` is write-only."""

    name: str
    email: str
    password: str | None
    admin: bool = False
    profile_updatable: bool = True
    disable_ui_access: bool = False
    internal_password_disabled: bool = False
    groups: list[str] = field(default_factory=list)
    watch_manager: bool = False
    policy_manager: bool = False
    reports_manager: bool = False
    realm: str = "internal"
    api_key: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The v1 user body (no password)."""
        return {
            "name": self.name,
            "email": self.email,
            "admin": self.admin,
            "profileUpdatable": self.profile_updatable,
            "disableUIAccess": self.disable_ui_access,
            "internalPasswordDisabled": self.internal_password_disabled,
            "groups": sorted(self.groups),
            "realm": self.realm,
            "offlineMode": False,
            "status": "enabled",
            "watchManager": self.watch_manager,
            "policyManager": self.policy_manager,
            "reportsManager": self.reports_manager,
        }


@dataclass(slots=True)
class Group:
    """A v1 security group; members are stored on the users."""

    name: str
    description: str = ""
    auto_join: bool = False
    admin_privileges: bool = False
    realm: str = "internal"
    realm_attributes: str = ""
    external_id: str = ""
    watch_manager: bool = False
    policy_manager: bool = False
    reports_manager: bool = False

    def to_json(self) -> dict[str, Any]:
        """The v1 group body (``userNames`` is added by the handler on request)."""
        return {
            "name": self.name,
            "description": self.description,
            "autoJoin": self.auto_join,
            "adminPrivileges": self.admin_privileges,
            "realm": self.realm,
            "realmAttributes": self.realm_attributes,
            "externalId": self.external_id,
            "watchManager": self.watch_manager,
            "policyManager": self.policy_manager,
            "reportsManager": self.reports_manager,
        }


@dataclass(slots=True)
class RepoSection:
    """The ``repo`` section of a permission target."""

    repositories: list[str]
    include: list[str]
    exclude: list[str]
    users: dict[str, list[str]]
    groups: dict[str, list[str]]

    def covers(self, repo_key: str, rclass: str, path: str, *, folder: bool) -> bool:
        """Whether this section applies to the path."""
        keys = self.repositories
        if not (
            repo_key in keys
            or "ANY" in keys
            or ("ANY LOCAL" in keys and rclass in LOCAL_CLASSES)
            or ("ANY REMOTE" in keys and rclass == "remote")
        ):
            return False
        if not any_match(self.include, path, folder=folder):
            return False
        return not any_match(self.exclude, path)

    def actions_for(self, principal: Principal) -> set[str]:
        """Actions this section grants the principal directly or through its groups."""
        granted: set[str] = set()
        if principal.user_grants:
            granted.update(self.users.get(principal.name, ()))
        for group in principal.groups:
            granted.update(self.groups.get(group, ()))
        return granted


@dataclass(slots=True)
class PermissionTarget:
    """A permission target; build/release-bundle sections are kept as given."""

    name: str
    repo: RepoSection | None = None
    build: dict[str, Any] | None = None
    release_bundle: dict[str, Any] | None = None


class SecurityStore:
    """All security entities of the emulated instance."""

    def __init__(self, admin_user: str, admin_password: str) -> None:
        admin = User(admin_user, f"{admin_user}@example.com", admin_password, admin=True)
        admin.api_key = new_api_key()
        self.users: dict[str, User] = {admin.name: admin}
        self.groups: dict[str, Group] = {}
        self.targets: dict[str, PermissionTarget] = {}

    def check_password(self, name: str, password: str) -> User | None:
        """The user when name and password match (never for password-disabled users)."""
        user = self.users.get(name)
        if user is None or user.internal_password_disabled or user.password is None:
            return None
        return user if secrets.compare_digest(user.password, password) else None

    def user_by_api_key(self, key: str) -> User | None:
        """The owner of an API key."""
        for user in self.users.values():
            if user.api_key is not None and secrets.compare_digest(user.api_key, key):
                return user
        return None

    def user_groups(self, user: User) -> frozenset[str]:
        """The user's groups that exist."""
        return frozenset(g for g in user.groups if g in self.groups)

    def is_admin(self, user: User) -> bool:
        """Admin flag or membership of an admin-privileged group."""
        return user.admin or any(self.groups[g].admin_privileges for g in self.user_groups(user))

    def principal(self, user: User, *, token_id: str | None = None) -> Principal:
        """The principal for a user acting with its own permissions."""
        return Principal(user.name, self.is_admin(user), self.user_groups(user), token_id=token_id)

    def group_principal(
        self, name: str, groups: frozenset[str], *, token_id: str | None = None
    ) -> Principal:
        """A principal acting only with the permissions of ``groups`` (group-scoped token)."""
        known = frozenset(g for g in groups if g in self.groups)
        admin = any(self.groups[g].admin_privileges for g in known)
        return Principal(name, admin, known, user_grants=False, token_id=token_id)

    def members(self, group: str) -> list[str]:
        """Names of the users in a group."""
        return sorted(u.name for u in self.users.values() if group in u.groups)

    def actions(
        self, principal: Principal, repo_key: str, rclass: str, path: str, *, folder: bool = False
    ) -> set[str]:
        """Every repository action the principal holds on the path."""
        if principal.admin:
            return set(REPO_ACTIONS)
        granted: set[str] = set()
        for target in self.targets.values():
            if target.repo is not None and target.repo.covers(
                repo_key, rclass, path, folder=folder
            ):
                granted |= target.repo.actions_for(principal)
        if "manage" in granted:
            granted.update(REPO_ACTIONS)
        return granted

    def allowed(
        self,
        principal: Principal,
        action: str,
        repo_key: str,
        rclass: str,
        path: str,
        *,
        folder: bool = False,
    ) -> bool:
        """Whether the principal may perform ``action`` on the path."""
        return principal.admin or action in self.actions(
            principal, repo_key, rclass, path, folder=folder
        )
