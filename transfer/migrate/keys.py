"""Access keys and their entitlements, as users, groups, permission targets and tokens (pure).

Bintray gave outsiders an *access key* (``<id>@<org>`` plus a password) and granted it
*entitlements*: read (``r``) or read/write (``rw``) on a repository, a path inside one, a
package or a version. In Artifactory each key becomes:

* a user named after the key id (ids over 128 characters cannot be user names: reported), with
  UI access disabled when the key was API-only;
* a group ``accesskey-<id>`` holding that user, so that the key's rights live in one place;
* for each entitlement, one permission target ``bintray-entitlement-<repo>-<id>`` granting the
  groups of its keys the actions of Bintray's read (``r``) or publish (``rw``) mapping, with
  include patterns covering exactly the entitled path, package or version;
* optionally an access token for the user, scoped to the group, expiring when the key did.

The key's Bintray password cannot be read: the new secret (the generated password or the
token) goes to the secrets file and the report says, per key, what to hand out.
"""

from __future__ import annotations

import math
import posixpath
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from transfer.migrate.access import (
    EntitlementInfo,
    GroupPlan,
    KeyInfo,
    OrgSnapshot,
    PermissionTargetPlan,
    UserPlan,
    email_for,
    target_name,
)
from transfer.migrate.unmigratable import Unmigratable
from transfer.settings import SecuritySettings

__all__ = [
    "ENTITLEMENT_TARGET_PREFIX",
    "KEY_GROUP_PREFIX",
    "MAX_USER_NAME",
    "KeyPlan",
    "KeysPlan",
    "TokenPlan",
    "entitlement_target_name",
    "key_group",
    "literal_pattern",
    "package_patterns",
    "path_patterns",
    "plan_keys",
    "version_patterns",
]

MAX_USER_NAME: Final = 128
"""Artifactory's limit on user names (the migration guide's "128 characters")."""
KEY_GROUP_PREFIX: Final = "accesskey-"
ENTITLEMENT_TARGET_PREFIX: Final = "bintray-entitlement-"
_WILDCARDS: Final = str.maketrans({"*": "?", "?": "?", ",": "?"})


def key_group(key_id: str) -> str:
    """The group carrying access key ``key_id``'s entitlements."""
    return f"{KEY_GROUP_PREFIX}{key_id}"


def entitlement_target_name(repo_key: str, entitlement_id: str) -> str:
    """The permission target of one entitlement (at most 64 characters)."""
    return target_name(ENTITLEMENT_TARGET_PREFIX, f"{repo_key}-{entitlement_id[:12]}")


def literal_pattern(path: str) -> str:
    """``path`` as an Ant pattern matching itself: ``*``, ``?`` and ``,`` (a pattern list
    separator) cannot be escaped, so each becomes ``?`` (any one character)."""
    return path.strip("/").translate(_WILDCARDS)


def path_patterns(path: str) -> tuple[str, ...]:
    """Patterns for a repository-scope entitlement: everything, or the path as a file and as
    a folder (Bintray did not say which it was)."""
    clean = literal_pattern(path)
    if not clean:
        return ("**",)
    return (clean, f"{clean}/**")


def version_patterns(paths: Iterable[str]) -> tuple[str, ...]:
    """A version's files, each exactly (versions often share folders, e.g. a Debian pool)."""
    return tuple(sorted({literal_pattern(p) for p in paths if p.strip("/")}))


def package_patterns(paths: Iterable[str]) -> tuple[str, ...]:
    """The folder all of a package's files share (``<folder>/**``, so later versions are
    covered too); without a shared folder, each file's folder, and root files exactly."""
    files = sorted({p.strip("/") for p in paths if p.strip("/")})
    if not files:
        return ()
    folders = [posixpath.dirname(p) for p in files]
    if all(folders):
        common = posixpath.commonpath(folders)
        if common:
            return (f"{literal_pattern(common)}/**",)
    found: set[str] = set()
    for path, folder in zip(files, folders, strict=True):
        found.add(f"{literal_pattern(folder)}/**" if folder else literal_pattern(path))
    return tuple(sorted(found))


@dataclass(frozen=True, slots=True)
class TokenPlan:
    """An access token to create for an access key's user (``expires_in`` 0: never)."""

    key: str
    username: str
    scope: str
    expires_in: int
    description: str

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form (the plan of a token, not a token)."""
        return {
            "key": self.key,
            "username": self.username,
            "scope": self.scope,
            "expires_in": self.expires_in,
        }


@dataclass(frozen=True, slots=True)
class KeyPlan:
    """What becomes of one access key, for the report: ``migrated`` is false (with
    ``reason``) when it is only reported; ``distribute`` says what to hand its holders."""

    id: str
    migrated: bool
    user: str = ""
    group: str = ""
    targets: tuple[str, ...] = ()
    token: bool = False
    distribute: str = ""
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form (the side record's detail)."""
        return {
            "migrated": self.migrated,
            "user": self.user,
            "group": self.group,
            "permission_targets": list(self.targets),
            "token": self.token,
            "distribute": self.distribute,
            "reason": self.reason,
        }


@dataclass(slots=True)
class KeysPlan:
    """Everything the access keys become."""

    users: list[UserPlan] = field(default_factory=list)
    groups: list[GroupPlan] = field(default_factory=list)
    targets: list[PermissionTargetPlan] = field(default_factory=list)
    tokens: list[TokenPlan] = field(default_factory=list)
    keys: list[KeyPlan] = field(default_factory=list)
    entries: list[Unmigratable] = field(default_factory=list)


def _key_id_label(key_id: str) -> str:
    return key_id if len(key_id) <= 60 else f"{key_id[:57]}..."


def _distribute(key: KeyInfo, settings: SecuritySettings, token: bool) -> str:
    where = settings.secrets_file.name
    if token:
        return (
            f"hand the key's holders the access token in {where} (tokens → {key.id}); "
            f"they send it as 'Authorization: Bearer <token>', or as the password of user "
            f"{key.id}"
        )
    return (
        f"hand the key's holders user {key.id} and its generated password in {where} "
        f"(users → {key.id}); Bintray's password of the key cannot be read, so every client "
        "of the key needs the new one"
    )


def _restriction_entry(key: KeyInfo) -> Unmigratable | None:
    parts = []
    if key.white_cidrs:
        parts.append(f"allowed only from {', '.join(key.white_cidrs)}")
    if key.black_cidrs:
        parts.append(f"blocked from {', '.join(key.black_cidrs)}")
    check = str(key.existence_check.get("url") or "")
    if check:
        parts.append(f"checked for existence at {check}")
    if not parts:
        return None
    return Unmigratable(
        key=f"access-key-restrictions/{_key_id_label(key.id)}",
        category="access_key",
        what=f"access key {key.id} was {'; '.join(parts)}",
        instead="Artifactory users have no address lists or existence callbacks: restrict "
        "addresses in MyJFrog (IP Allowlist), and remove the user (or revoke its token) when "
        "the holder should lose access",
        detail={
            "white_cidrs": list(key.white_cidrs),
            "black_cidrs": list(key.black_cidrs),
            "existence_check": check,
        },
    )


def _entitlement_target(
    ent: EntitlementInfo,
    snapshot: OrgSnapshot,
    settings: SecuritySettings,
    migrated: set[str],
) -> PermissionTargetPlan | Unmigratable | None:
    label = f"entitlement {ent.id[:12]} ({ent.access} on {ent.repo}{_scope_text(ent)})"
    repo = snapshot.repository(ent.repo)
    if repo is None or not repo.key:
        reason = repo.reason if repo else "the repository is not part of this migration"
        return Unmigratable(
            key=f"entitlement/{ent.id}",
            category="entitlement",
            what=f"{label}: {reason}",
            instead="migrate the repository, then grant the keys' groups read on it",
            detail={"access_keys": list(ent.access_keys)},
        )
    if ent.scope == "unresolved" or not ent.patterns:
        return Unmigratable(
            key=f"entitlement/{ent.id}",
            category="entitlement",
            what=f"{label}: its package or files could not be determined, so it was not "
            "granted (granting the whole repository would give more than Bintray did)",
            instead="create a permission target for the keys' groups with include patterns "
            "for the package's files",
            detail={"access_keys": list(ent.access_keys)},
        )
    actions = settings.permissions.read if ent.access == "r" else settings.permissions.publish
    groups = {key_group(k): tuple(actions) for k in ent.access_keys if k in migrated}
    if not groups:
        return None
    return PermissionTargetPlan(
        name=entitlement_target_name(repo.key, ent.id),
        repositories=(repo.key,),
        include=ent.patterns,
        groups=groups,
        origin="entitlement",
        source=ent.id,
    )


def _scope_text(ent: EntitlementInfo) -> str:
    if ent.scope == "path" and ent.path:
        return f", path {ent.path}"
    if ent.scope == "package":
        return f", package {ent.package}"
    if ent.scope == "version":
        return f", version {ent.package} {ent.version}"
    return ""


def _key_user(key: KeyInfo, settings: SecuritySettings) -> UserPlan:
    return UserPlan(
        name=key.id,
        email=email_for(key.id, settings.email_domain),
        admin=False,
        origin="access_key",
        credential="token" if settings.create_tokens_for_access_keys else "password",
        disable_ui=key.api_only,
    )


def plan_keys(
    snapshot: OrgSnapshot,
    settings: SecuritySettings,
    *,
    now: float,
    taken: Collection[str] = (),
) -> KeysPlan:
    """Users, groups, permission targets and tokens for the access keys of ``snapshot``;
    ``now`` (epoch seconds) turns key expiries into token lifetimes; ``taken`` are user names
    already planned for members (a key with such an id is reported, not merged into them)."""
    plan = KeysPlan()
    migrated: set[str] = set()
    for key in sorted(snapshot.access_keys, key=lambda k: k.id):
        reason = ""
        if len(key.id) > MAX_USER_NAME:
            reason = f"its id has {len(key.id)} characters; Artifactory user names allow 128"
        elif key.expiry_ms is not None and key.expiry_ms / 1000 <= now:
            reason = "it has expired"
        elif key.id in taken:
            reason = f"a member is also called {key.id}, and that user name is theirs"
        entry = _restriction_entry(key)
        if entry is not None and not reason:
            plan.entries.append(entry)
        if reason:
            plan.keys.append(KeyPlan(key.id, False, reason=reason))
            plan.entries.append(
                Unmigratable(
                    key=f"access-key/{_key_id_label(key.id)}",
                    category="access_key",
                    what=f"access key {_key_id_label(key.id)} was not migrated: {reason}",
                    instead="create a user with a shorter name (or a token) by hand and "
                    "grant it the key's entitlements",
                    detail={"id": key.id},
                )
            )
            continue
        migrated.add(key.id)
        plan.users.append(_key_user(key, settings))
        plan.groups.append(
            GroupPlan(
                name=key_group(key.id),
                description=f"Bintray access key {key.id} of {snapshot.subject}",
                members=(key.id,),
                origin="access_key",
            )
        )
    targets_of: dict[str, list[str]] = {}
    for ent in sorted(snapshot.entitlements, key=lambda e: (e.repo, e.id)):
        found = _entitlement_target(ent, snapshot, settings, migrated)
        if isinstance(found, Unmigratable):
            plan.entries.append(found)
        elif found is not None:
            plan.targets.append(found)
            for key_id in ent.access_keys:
                if key_id in migrated:
                    targets_of.setdefault(key_id, []).append(found.name)
    token = settings.create_tokens_for_access_keys
    for key in sorted(snapshot.access_keys, key=lambda k: k.id):
        if key.id not in migrated:
            continue
        if token:
            plan.tokens.append(_token(key, settings, now))
        # in "what cannot move" too, so the Markdown report says what to hand out
        plan.entries.append(
            Unmigratable(
                key=f"access-key-secret/{key.id}",
                category="access_key_secret",
                what=f"the password of access key {key.id} (Bintray never reveals it)",
                instead=_distribute(key, settings, token),
                detail={"id": key.id, "secret": "access token" if token else "password"},
            )
        )
        plan.keys.append(
            KeyPlan(
                id=key.id,
                migrated=True,
                user=key.id,
                group=key_group(key.id),
                targets=tuple(targets_of.get(key.id, ())),
                token=token,
                distribute=_distribute(key, settings, token),
            )
        )
    return plan


def _token(key: KeyInfo, settings: SecuritySettings, now: float) -> TokenPlan:
    if key.expiry_ms is not None:
        expires_in = max(1, math.ceil(key.expiry_ms / 1000 - now))
    else:
        expires_in = settings.token_expiry
    return TokenPlan(
        key=key.id,
        username=key.id,
        scope=f"applied-permissions/groups:{key_group(key.id)}",
        expires_in=expires_in,
        description=f"migrated from Bintray access key {key.id}",
    )
