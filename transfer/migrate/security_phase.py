"""The security phase, carried out: users, groups, permission targets and tokens in Artifactory,
generated secrets in the 0600 secrets file, and a side record for everything.

Order: users, then groups naming them, then permission targets naming the groups (on
repositories the repositories phase created), then tokens for access-key users. Each entity is
looked up (GET) before anything is written, so a second run creates nothing twice:

* a user or group that exists is left alone (a group only gains missing members); a user we
  did not create keeps its password, and is recorded as ``existing``;
* a permission target that exists only gains what is missing (repositories, patterns, group
  actions): re-runs add, they never take away rights someone granted by hand;
* a password or token already in the secrets file is reused or kept, never replaced. A token
  the store says was issued but the file no longer holds is reported, not re-issued; one the
  file cannot take (a full disk) is revoked at once and the run stops, so the next run issues
  it afresh and no token lives that nobody holds.

Side records (kinds :data:`USER_KIND`, :data:`GROUP_KIND`, :data:`PERMISSION_KIND`,
:data:`TOKEN_KIND`, :data:`ACCESS_KEY_KIND`) say what was done and, for access keys, which new
secret their holders need and how; they never hold a secret.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

import anyio

from transfer.checkpoint.base import CheckpointStore
from transfer.errors import (
    AuthError,
    ConfigError,
    ConflictError,
    PermissionDenied,
    RemoteError,
    StoreError,
)
from transfer.migrate.access import GroupPlan, PermissionTargetPlan, UserPlan
from transfer.migrate.keys import KeyPlan, TokenPlan
from transfer.migrate.secrets import SecretsFile, generate_password
from transfer.migrate.security import (
    OrganisationSource,
    SecurityPlan,
    plan_security,
    read_org_snapshot,
)
from transfer.migrate.unmigratable import record_unmigratable
from transfer.reporting.events import EventBus, PhaseFinished, PhaseProgress, PhaseStarted
from transfer.settings import Settings
from transfer.targets.admin import TargetAdmin

__all__ = [
    "ACCESS_KEY_KIND",
    "GROUP_KIND",
    "PERMISSION_KIND",
    "PSEUDO_REPOSITORIES",
    "RENAMED_KIND",
    "TOKEN_KIND",
    "USER_KIND",
    "SecurityResult",
    "apply_security_plan",
    "run_planned_security_phase",
    "run_security_phase",
]

_STEPS: Final = "users, groups, permission targets and access keys"
USER_KIND: Final = "user"
GROUP_KIND: Final = "group"
PERMISSION_KIND: Final = "permission_target"
TOKEN_KIND: Final = "token"
ACCESS_KEY_KIND: Final = "access_key"
RENAMED_KIND: Final = "renamed_principal"

PSEUDO_REPOSITORIES: Final = frozenset({"ANY", "ANY LOCAL", "ANY REMOTE", "ANY DISTRIBUTION"})
"""Permission-target repository names that stand for every repository of a kind."""
_GROUP_FIELDS: Final = ("description", "autoJoin", "adminPrivileges", "realm",
                         "realmAttributes", "externalId", "watchManager", "policyManager",
                         "reportsManager")  # fmt: skip
_CREDENTIAL_TEXT: Final = {
    "password": "generated password, in the secrets file",
    "sso": "single sign-on (internal password disabled)",
    "token": "access token, in the secrets file (internal password disabled)",
}


@dataclass(slots=True)
class SecurityResult:
    """What the security phase did, per kind of entity (``user``, ``group``, ...)."""

    created: dict[str, list[str]] = field(default_factory=dict)
    updated: dict[str, list[str]] = field(default_factory=dict)
    kept: dict[str, list[str]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    keys_to_distribute: list[str] = field(default_factory=list)
    reported: int = 0
    notes: list[str] = field(default_factory=list)

    def add(self, outcome: str, kind: str, name: str) -> None:
        """Count ``name`` of ``kind`` as created, updated or kept."""
        getattr(self, outcome).setdefault(kind, []).append(name)

    def summary(self) -> dict[str, int]:
        """Counts for the phase-finished event."""
        counts = {
            f"{kind}s_{outcome}": len(names)
            for outcome in ("created", "updated", "kept")
            for kind, names in getattr(self, outcome).items()
        }
        counts["failed"] = len(self.failed)
        counts["reported"] = self.reported
        return counts

    def note(self) -> str:
        """One line for the migration summary."""
        made = sum(len(v) for v in self.created.values())
        changed = sum(len(v) for v in self.updated.values())
        kinds = ", ".join(
            f"{len(self.created.get(k, []))} {k.replace('_', ' ')}s"
            for k in (USER_KIND, GROUP_KIND, PERMISSION_KIND, TOKEN_KIND)
        )
        text = f"security: created {kinds}; {changed} updated; {len(self.failed)} failed"
        if self.keys_to_distribute:
            text += (
                f"; {len(self.keys_to_distribute)} access keys need their new secret handed "
                "out (see the report)"
            )
        if not made and not changed:
            text += "; nothing changed"
        return "; ".join([text, *self.notes])


def _normal(permission: Mapping[str, Any]) -> dict[str, Any]:
    section = permission.get("repo") or {}
    actions = section.get("actions") or {}
    return {
        "repositories": sorted(set(section.get("repositories") or [])),
        "include": sorted(set(section.get("include-patterns") or ["**"])),
        "exclude": sorted(set(section.get("exclude-patterns") or []) - {""}),
        **{
            who: {k: sorted(set(v)) for k, v in (actions.get(who) or {}).items()}
            for who in ("users", "groups")
        },
    }


def _merged(existing: Mapping[str, Any], plan: PermissionTargetPlan) -> dict[str, Any]:
    """``existing`` with everything ``plan`` grants added (other sections kept: a PUT
    replaces the whole target)."""
    section = dict(existing.get("repo") or {})
    actions = dict(section.get("actions") or {})
    for who, wanted in (("groups", plan.groups), ("users", plan.users)):
        have = {k: list(v) for k, v in dict(actions.get(who) or {}).items()}
        for name, granted in wanted.items():
            have[name] = sorted({*have.get(name, []), *granted})
        if have or who == "groups":
            actions[who] = have
    excluded = {*section.get("exclude-patterns", []), *plan.exclude} - {""}
    section.update(
        {
            "repositories": sorted({*section.get("repositories", []), *plan.repositories}),
            "include-patterns": sorted({*section.get("include-patterns", []), *plan.include}),
            "exclude-patterns": sorted(excluded) or [""],
            "actions": actions,
        }
    )
    return {**dict(existing), "name": plan.name, "repo": section}


class _Applier:
    def __init__(
        self,
        admin: TargetAdmin,
        store: CheckpointStore,
        secrets: SecretsFile,
        now: Callable[[], float],
    ) -> None:
        self.admin = admin
        self.store = store
        self.secrets = secrets
        self.now = now
        self.result = SecurityResult()
        self.users: set[str] = set()
        self.groups: set[str] = set()
        self.repos: dict[str, bool] = {}

    def stamp(self) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.now()))

    async def fail(self, kind: str, name: str, error: str, detail: Mapping[str, Any]) -> None:
        self.result.failed[f"{kind}/{name}"] = error
        await self.store.record_side(kind, name, "failed", {**detail, "error": error})

    async def user(self, plan: UserPlan) -> None:
        detail: dict[str, Any] = {
            **plan.as_dict(),
            "credential": _CREDENTIAL_TEXT[plan.credential],
        }
        previous = await self.store.get_side(USER_KIND, plan.name)
        try:
            existing = await self.admin.get_user(plan.name)
            if existing is None:
                body = plan.body()
                if plan.credential == "password":
                    # on disk before it is sent; an entry from an interrupted run is reused
                    entry = await anyio.to_thread.run_sync(
                        self.secrets.add,
                        "users",
                        plan.name,
                        {"password": generate_password(), "created_at": self.stamp()},
                    )
                    body["password"] = entry["password"]
                else:
                    # Internal password disabled, but JFrog Cloud wants a password on every
                    # user create: a random one nobody keeps (it cannot be used to sign in).
                    body["password"] = generate_password()
                await self.admin.put_user(plan.name, body)
                created, outcome = True, "created"
            else:
                ours = await anyio.to_thread.run_sync(self.secrets.get, "users", plan.name)
                created = bool(previous and previous.detail.get("created")) or ours is not None
                outcome = "kept"
        except AuthError:
            raise
        except RemoteError as error:
            await self.fail(USER_KIND, plan.name, str(error), detail)
            return
        self.users.add(plan.name)
        self.result.add(outcome, USER_KIND, plan.name)
        state = "created" if created else "existing"
        await self.store.record_side(USER_KIND, plan.name, state, {**detail, "created": created})

    async def group(self, plan: GroupPlan) -> None:
        detail: dict[str, Any] = plan.as_dict()
        previous = await self.store.get_side(GROUP_KIND, plan.name)
        members = sorted(m for m in plan.members if plan.realm or m in self.users)
        missing = sorted(set(plan.members) - set(members))
        if missing:
            detail["members_not_created"] = missing
        try:
            existing = await self.admin.get_group(plan.name, include_users=True)
            if existing is None:
                body = plan.body()
                if not plan.realm:
                    body["userNames"] = members
                await self.admin.put_group(plan.name, body)
                created, outcome = True, "created"
            else:
                created = bool(previous and previous.detail.get("created"))
                outcome = "kept"
                have = {str(u) for u in existing.get("userNames") or []}
                if not plan.realm and not set(members) <= have:
                    body = {k: existing[k] for k in _GROUP_FIELDS if k in existing}
                    body["userNames"] = sorted(have | set(members))
                    await self.admin.put_group(plan.name, body)
                    outcome = "updated"
        except AuthError:
            raise
        except RemoteError as error:
            await self.fail(GROUP_KIND, plan.name, str(error), detail)
            return
        self.groups.add(plan.name)
        self.result.add(outcome, GROUP_KIND, plan.name)
        state = "created" if created else ("updated" if outcome == "updated" else "existing")
        await self.store.record_side(GROUP_KIND, plan.name, state, {**detail, "created": created})

    async def repository_exists(self, key: str) -> bool:
        if key not in self.repos:
            self.repos[key] = await self.admin.get_repository(key) is not None
        return self.repos[key]

    async def target(self, plan: PermissionTargetPlan) -> None:
        detail: dict[str, Any] = plan.as_dict()
        previous = await self.store.get_side(PERMISSION_KIND, plan.name)
        groups = {g: a for g, a in plan.groups.items() if g in self.groups}
        users = {u: a for u, a in plan.users.items() if u in self.users or u == "anonymous"}
        try:
            absent = [
                k
                for k in plan.repositories
                if k not in PSEUDO_REPOSITORIES and not await self.repository_exists(k)
            ]
            if absent:
                error = (
                    f"repository {', '.join(absent)} is not in Artifactory: run the "
                    "repositories phase first"
                )
                await self.fail(PERMISSION_KIND, plan.name, error, detail)
                return
            if not groups and not users:
                await self.fail(PERMISSION_KIND, plan.name, "none of its groups exist", detail)
                return
            plan = replace(plan, groups=groups, users=users)
            created, outcome = False, "kept"
            existing = await self.admin.get_permission(plan.name)
            if existing is None:
                try:
                    await self.admin.create_permission(plan.name, plan.body())
                    created, outcome = True, "created"
                except ConflictError:  # created since we looked
                    existing = await self.admin.get_permission(plan.name)
            if existing is not None:
                created = bool(previous and previous.detail.get("created"))
                merged = _merged(existing, plan)
                if _normal(merged) != _normal(existing):
                    await self.admin.put_permission(plan.name, merged)
                    outcome = "updated"
        except AuthError:
            raise
        except RemoteError as error:
            await self.fail(PERMISSION_KIND, plan.name, str(error), detail)
            return
        self.result.add(outcome, PERMISSION_KIND, plan.name)
        state = "created" if created else ("updated" if outcome == "updated" else "existing")
        await self.store.record_side(
            PERMISSION_KIND, plan.name, state, {**detail, "created": created}
        )

    async def token(self, plan: TokenPlan) -> bool:
        detail: dict[str, Any] = {**plan.as_dict(), "where": "secrets file (tokens)"}
        held = await anyio.to_thread.run_sync(self.secrets.get, "tokens", plan.key)
        previous = await self.store.get_side(TOKEN_KIND, plan.key)
        if held is not None:
            self.result.add("kept", TOKEN_KIND, plan.key)
            token_id = str(held.get("token_id") or "")
            await self.store.record_side(
                TOKEN_KIND, plan.key, "created", {**detail, "token_id": token_id}
            )
            return True
        if previous is not None and previous.state == "created":
            # Issued earlier, but the file lost it: never mint a second one silently.
            revoke = (
                "revoke it (token id in this record)"
                if previous.detail.get("revocable", True)
                else "it cannot be revoked (too short-lived for Artifactory to keep), so let it "
                "expire"
            )
            await self.fail(
                TOKEN_KIND,
                plan.key,
                "the token was issued by an earlier run but is no longer in the secrets file: "
                f"{revoke} and create a new one by hand",
                {**detail, "token_id": previous.detail.get("token_id", "")},
            )
            return False
        if plan.username not in self.users:
            await self.fail(TOKEN_KIND, plan.key, f"user {plan.username} does not exist", detail)
            return False
        try:
            issued = await self.admin.create_access_token(
                username=plan.username,
                scope=plan.scope,
                expires_in=plan.expires_in,
                description=plan.description,
                refreshable=False,
            )
        except AuthError:
            raise
        except PermissionDenied as error:
            # Every other token would be refused the same way: stop and say what to do.
            raise AuthError(
                "the target refused to create an access token (HTTP 403): JFrog Cloud lets a "
                "user+password login create tokens only with 'Token generation via API' on; "
                "set target.token to an admin access token (or switch that setting on)",
                status=error.status,
                url=error.url,
            ) from error
        except RemoteError as error:
            await self.fail(TOKEN_KIND, plan.key, str(error), detail)
            return False
        detail["token_id"] = token_id = str(issued.get("token_id") or "")
        # Access keeps no record of a token expiring within its persistency threshold (3 hours
        # by default): it works, but can be neither listed nor revoked, so say so.
        persisted = bool(token_id) and await self.admin.get_access_token(token_id) is not None
        detail["revocable"] = persisted
        if not persisted:
            detail["note"] = (
                f"the token expires in {plan.expires_in} s, too soon for Artifactory to keep a "
                "record of it: it cannot be listed or revoked, it simply expires"
            )
        entry = {
            "access_token": str(issued["access_token"]),
            "token_id": token_id,
            "username": plan.username,
            "scope": plan.scope,
            "expires_in": plan.expires_in,
            "revocable": persisted,
            "created_at": self.stamp(),
        }
        try:
            await anyio.to_thread.run_sync(self.secrets.add, "tokens", plan.key, entry)
        except ConfigError as error:
            raise await self.unsaved_token(plan, detail, error) from None
        self.result.add("created", TOKEN_KIND, plan.key)
        await self.store.record_side(
            TOKEN_KIND, plan.key, "created", {**detail, "token_id": token_id}
        )
        return True

    async def unsaved_token(
        self, plan: TokenPlan, detail: dict[str, Any], error: ConfigError
    ) -> ConfigError:
        """A token the target issued but the secrets file could not keep (a full disk): nobody
        will ever see its secret, so it is revoked at once and the next run issues a new one.
        One that cannot be revoked is recorded as issued, so no run mints a second behind it."""
        token_id = str(detail["token_id"])
        if not detail["revocable"]:
            fate = (
                f"the access token just created for {plan.key} cannot be revoked (too "
                f"short-lived for Artifactory to keep); unused, it expires in {plan.expires_in} s"
            )
            state = "failed"
        else:
            try:
                revoked = await self.admin.revoke_access_token(token_id)
            except RemoteError as failure:
                fate = (
                    f"the access token just created for {plan.key} could not be revoked "
                    f"({failure}): revoke token id {token_id} by hand"
                )
                state = "created"  # the next run then refuses to mint a second one
            else:
                gone = "was revoked" if revoked else "was already gone"
                fate = f"the access token just created for {plan.key} {gone} (id {token_id})"
                state = "failed"
        with contextlib.suppress(StoreError):  # the store may sit on the same full disk
            await self.store.record_side(
                TOKEN_KIND, plan.key, state, {**detail, "error": f"{error}; {fate}"}
            )
        return ConfigError(f"{error}; {fate}")

    async def key(self, plan: KeyPlan, token_ok: bool) -> None:
        detail = plan.as_dict()
        if not plan.migrated:
            await self.store.record_side(ACCESS_KEY_KIND, plan.id, "reported", detail)
            return
        ready = plan.user in self.users and plan.group in self.groups and token_ok
        if ready:
            self.result.keys_to_distribute.append(plan.id)
        detail["secret"] = "access token" if plan.token else "generated password"
        await self.store.record_side(
            ACCESS_KEY_KIND, plan.id, "needs_new_secret" if ready else "failed", detail
        )


async def apply_security_plan(
    plan: SecurityPlan,
    admin: TargetAdmin,
    store: CheckpointStore,
    secrets: SecretsFile,
    *,
    now: Callable[[], float] = time.time,
    bus: EventBus | None = None,
) -> SecurityResult:
    """Create what ``plan`` says (GET before every write) and record it all."""
    applier = _Applier(admin, store, secrets, now)
    for rename in plan.renames:
        label = f"{rename.kind}/{rename.source}"
        await anyio.to_thread.run_sync(secrets.add, "renamed", label, rename.as_dict())
        await store.record_side(RENAMED_KIND, label, "renamed", rename.as_dict())
    total = len(plan.users) + len(plan.groups) + len(plan.targets) + len(plan.tokens)
    total += len(plan.keys)
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if bus is not None:
            bus.emit(PhaseProgress("security", done, total, _STEPS))

    for user in plan.users:
        await applier.user(user)
        step()
    for group in plan.groups:
        await applier.group(group)
        step()
    for target in plan.targets:
        await applier.target(target)
        step()
    tokens = {}
    for token in plan.tokens:
        tokens[token.key] = await applier.token(token)
        step()
    for key in plan.keys:
        await applier.key(key, tokens.get(key.id, True))
        step()
    await record_unmigratable(store, plan.entries)
    result = applier.result
    result.reported = len(plan.entries)
    result.notes.extend(plan.notes)
    if plan.renames:
        result.notes.append(
            f"{len(plan.renames)} Bintray names were renamed to names JFrog Cloud accepts "
            "(listed in the report and the secrets file)"
        )
    result.notes.extend(secrets.warnings)
    return result


async def run_planned_security_phase(
    read_plan: Callable[[], Awaitable[SecurityPlan]],
    admin: TargetAdmin,
    store: CheckpointStore,
    *,
    settings: Settings,
    bus: EventBus | None = None,
    now: Callable[[], float] = time.time,
) -> SecurityResult:
    """The whole security phase around ``read_plan`` (which reads the source and plans):
    events, the secrets file, and the applier every source shares."""
    if bus is not None:
        bus.emit(PhaseStarted(name="security"))
    plan = await read_plan()
    secrets = SecretsFile(settings.security.secrets_file)
    result = await apply_security_plan(plan, admin, store, secrets, now=now, bus=bus)
    if bus is not None:
        bus.emit(PhaseFinished(name="security", summary=result.summary()))
    return result


async def run_security_phase(
    source: OrganisationSource,
    admin: TargetAdmin,
    store: CheckpointStore,
    *,
    settings: Settings,
    bus: EventBus | None = None,
    now: Callable[[], float] = time.time,
) -> SecurityResult:
    """Read the organisation, plan, and apply: the whole security phase."""

    async def read_plan() -> SecurityPlan:
        snapshot = await read_org_snapshot(
            source,
            subject=settings.source.subject,
            repo_key_template=settings.target.repo_key_template,
        )
        return plan_security(snapshot, settings.security, now=now())

    return await run_planned_security_phase(
        read_plan, admin, store, settings=settings, bus=bus, now=now
    )
