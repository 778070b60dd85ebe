"""Users, groups and permission targets when the source is another Artifactory (pure plan).

The source's directory is read whole (:func:`read_directory`; it needs an admin there) and
planned into the same :class:`~transfer.migrate.security.SecurityPlan` the Bintray path
builds, so :func:`~transfer.migrate.security_phase.apply_security_plan` carries it out with
the same guarantees (GET before every write, nothing created twice, rights only ever added):

* every user but ``anonymous`` becomes a user with its e-mail and admin flag; passwords cannot
  be read, so each gets a generated one in the 0600 secrets file — or, with ``security.sso``
  or when the source had the internal password disabled, none (internal password disabled);
  with ``security.ldap`` no user is created (they appear at first login);
* every group keeps its description, realm and members; admin privileges and auto-join are
  not granted by the tool (reported, to be ticked by hand);
* every v2 permission target keeps its name, include/exclude patterns and the actions of its
  users and groups, on the repositories this migration covers (renamed by
  ``target.repo_key_template``; ``ANY``, ``ANY LOCAL``, ``ANY REMOTE`` kept); build and
  release-bundle sections are reported, not copied.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from transfer.checkpoint.base import CheckpointStore
from transfer.migrate.access import (
    Credential,
    GroupPlan,
    PermissionTargetPlan,
    UserPlan,
    email_for,
)
from transfer.migrate.security import SecurityPlan
from transfer.migrate.security_phase import (
    PSEUDO_REPOSITORIES,
    SecurityResult,
    run_planned_security_phase,
)
from transfer.migrate.unmigratable import Unmigratable
from transfer.pipeline.planner import map_repo_key
from transfer.reporting.events import EventBus
from transfer.settings import SecuritySettings, Settings
from transfer.targets.admin import TargetAdmin

__all__ = [
    "Directory",
    "SecurityDirectorySource",
    "plan_copied_directory",
    "plan_copied_security",
    "read_directory",
    "run_copied_security_phase",
]

_SKIPPED_USERS = frozenset({"anonymous"})


@runtime_checkable
class SecurityDirectorySource(Protocol):
    """A source whose users, groups and permission targets can be read (another Artifactory)."""

    async def list_users(self) -> list[dict[str, Any]]:
        """Every user with its details."""
        ...

    async def list_groups(self) -> list[dict[str, Any]]:
        """Every group with its members (``userNames``)."""
        ...

    async def list_permissions(self) -> list[dict[str, Any]]:
        """Every v2 permission target."""
        ...

    async def list_repository_configs(self) -> list[dict[str, Any]]:
        """The repositories the migration covers (their keys are renamed in targets)."""
        ...


@dataclass(frozen=True, slots=True)
class Directory:
    """The source's users, groups and v2 permission targets, as it returned them."""

    users: tuple[Mapping[str, Any], ...] = ()
    groups: tuple[Mapping[str, Any], ...] = ()
    permissions: tuple[Mapping[str, Any], ...] = ()


async def read_directory(source: SecurityDirectorySource) -> Directory:
    """Read everything (a non-admin is refused with one clear line by the source)."""
    return Directory(
        tuple(await source.list_users()),
        tuple(await source.list_groups()),
        tuple(await source.list_permissions()),
    )


def _users(directory: Directory, settings: SecuritySettings) -> list[UserPlan]:
    if settings.ldap:
        return []
    plans = []
    for raw in directory.users:
        name = str(raw.get("name") or "")
        if not name or name in _SKIPPED_USERS:
            continue
        sso = settings.sso or raw.get("internalPasswordDisabled") is True
        credential: Credential = "sso" if sso else "password"
        plans.append(
            UserPlan(
                name=name,
                email=str(raw.get("email") or email_for(name, settings.email_domain)),
                admin=raw.get("admin") is True,
                origin="member",
                credential=credential,
                disable_ui=raw.get("disableUIAccess") is True,
            )
        )
    return sorted(plans, key=lambda u: u.name)


def _groups(directory: Directory) -> tuple[list[GroupPlan], list[Unmigratable]]:
    plans, entries = [], []
    for raw in directory.groups:
        name = str(raw.get("name") or "")
        if not name:
            continue
        realm = str(raw.get("realm") or "")
        plans.append(
            GroupPlan(
                name=name,
                description=str(raw.get("description") or ""),
                members=tuple(sorted({str(u) for u in raw.get("userNames") or []})),
                origin="team",
                realm="" if realm in ("", "internal", "artifactory") else realm,
                realm_attributes=str(raw.get("realmAttributes") or ""),
            )
        )
        granted = [f for f in ("adminPrivileges", "autoJoin") if raw.get(f) is True]
        if granted:
            entries.append(
                Unmigratable(
                    key=f"group-settings/{name}",
                    category="group_settings",
                    what=f"group {name} has {' and '.join(granted)} on the source; the "
                    "migrated group has neither",
                    instead="tick them on the group (Administration → User Management → "
                    "Groups) if the target should grant the same",
                    detail={"settings": granted},
                )
            )
    return sorted(plans, key=lambda g: g.name), entries


def _actions(raw: Any) -> dict[str, tuple[str, ...]]:
    found = raw if isinstance(raw, Mapping) else {}
    return {str(k): tuple(str(a) for a in v or ()) for k, v in found.items()}


def _target(
    raw: Mapping[str, Any], keys: Mapping[str, str]
) -> tuple[PermissionTargetPlan | None, list[Unmigratable]]:
    name = str(raw.get("name") or "")
    entries = [
        Unmigratable(
            key=f"permission-section/{name}/{section}",
            category="permission",
            what=f"permission target {name}'s {section} section (builds and release bundles "
            "are not migrated)",
            instead="re-create that section on the target once its builds or bundles exist",
        )
        for section in ("build", "releaseBundle")
        if raw.get(section)
    ]
    section = raw.get("repo")
    if not name or not isinstance(section, Mapping):
        return None, entries
    listed = [str(r) for r in section.get("repositories") or []]
    repositories = tuple(
        r if r in PSEUDO_REPOSITORIES else keys[r]
        for r in listed
        if r in keys or r in PSEUDO_REPOSITORIES
    )
    if not repositories:
        entries.append(
            Unmigratable(
                key=f"permission-target/{name}",
                category="permission",
                what=f"permission target {name} covers only repositories this migration "
                f"leaves out ({', '.join(listed) or 'none'})",
                instead="migrate those repositories too, or re-create the target by hand",
            )
        )
        return None, entries
    raw_actions = section.get("actions")
    actions: Mapping[str, Any] = raw_actions if isinstance(raw_actions, Mapping) else {}
    plan = PermissionTargetPlan(
        name=name,
        repositories=repositories,
        include=tuple(str(p) for p in section.get("include-patterns") or ["**"]),
        groups=_actions(actions.get("groups")),
        origin="repository",
        source=name,
        users=_actions(actions.get("users")),
        exclude=tuple(str(p) for p in section.get("exclude-patterns") or () if p),
    )
    return plan, entries


def plan_copied_security(
    directory: Directory, settings: SecuritySettings, *, repo_keys: Mapping[str, str]
) -> SecurityPlan:
    """The security plan for ``directory``; ``repo_keys`` maps the source repository keys
    this migration covers to their target keys."""
    users = _users(directory, settings)
    groups, entries = _groups(directory)
    targets: list[PermissionTargetPlan] = []
    for raw in directory.permissions:
        plan, found = _target(raw, repo_keys)
        entries.extend(found)
        if plan is not None:
            targets.append(plan)
    notes: Sequence[str] = ()
    if settings.ldap:
        notes = ("security.ldap is on: users are not created (they appear at first login)",)
    return SecurityPlan(
        users=tuple(users),
        groups=tuple(groups),
        targets=tuple(sorted(targets, key=lambda t: t.name)),
        entries=tuple(entries),
        notes=tuple(notes),
    )


async def plan_copied_directory(
    source: SecurityDirectorySource, settings: Settings
) -> SecurityPlan:
    """Read the source's directory and its repositories, and plan (nothing written)."""
    repo_keys: dict[str, str] = {}
    for config in await source.list_repository_configs():
        name = str(config["key"])
        package_type = str(config.get("packageType") or "generic").lower()
        try:
            repo_keys[name] = map_repo_key(
                settings.target.repo_key_template,
                repo=name,
                subject=settings.source.subject,
                repo_type=package_type,
            )
        except ValueError:
            continue  # reported by the repositories phase
    directory = await read_directory(source)
    return plan_copied_security(directory, settings.security, repo_keys=repo_keys)


async def run_copied_security_phase(
    source: SecurityDirectorySource,
    admin: TargetAdmin,
    store: CheckpointStore,
    *,
    settings: Settings,
    bus: EventBus | None = None,
    now: Callable[[], float] = time.time,
) -> SecurityResult:
    """Read, plan and apply (the same applier as the Bintray path)."""
    return await run_planned_security_phase(
        lambda: plan_copied_directory(source, settings),
        admin,
        store,
        settings=settings,
        bus=bus,
        now=now,
    )
