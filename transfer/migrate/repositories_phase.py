"""The repositories phase, carried out: create or check every repository, enable CDN redirect,
grant anonymous read on the public ones, and record what cannot move.

1. read the target's configuration of every mapped key, and plan
   (:func:`~transfer.migrate.repositories.plan_repositories`);
2. create what is missing (``PUT``) and record it at once; then ``POST {"cdnRedirect": true}``
   and read the configuration back to confirm it took (it is a JFrog Cloud feature);
3. create or update the anonymous-read permission target when the plan says so;
4. record conflicts, CDN failures, the global anonymous-access switch, products and download
   statistics as "cannot move" entries (:mod:`transfer.migrate.unmigratable`).

Every repository is a side record of kind ``repository``; ``detail["created"]`` stays true for
repositories this migration created, in this run or an earlier one (:func:`created_repositories`),
so the copy workers skip the per-file existence probe there. A second run writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

from transfer.checkpoint.base import CheckpointStore
from transfer.errors import RemoteError
from transfer.http.retry import RetryPolicy, Sleep
from transfer.migrate.copied_repositories import (
    RepositoryConfigSource,
    plan_copied_repositories,
)
from transfer.migrate.repositories import (
    ANONYMOUS_READ_KIND,
    ANONYMOUS_READ_PERMISSION,
    REPOSITORY_KIND,
    PermissionPlan,
    RepoAction,
    RepoPlan,
    plan_anonymous_read,
    plan_repositories,
)
from transfer.migrate.unmigratable import (
    Unmigratable,
    collect_organisation_entries,
    record_unmigratable,
)
from transfer.reporting.events import EventBus, PhaseFinished, PhaseProgress, PhaseStarted
from transfer.sources.base import Source
from transfer.targets.admin import TargetAdmin

__all__ = [
    "RepositoriesPreview",
    "RepositoriesResult",
    "blocked_repositories",
    "created_repositories",
    "preview_repositories",
    "read_existing",
    "run_repositories_phase",
]


async def read_existing(
    admin: TargetAdmin, keys: Sequence[str]
) -> dict[str, dict[str, Any] | None]:
    """The target's configuration of each key (``None`` when absent)."""
    return {key: await admin.get_repository(key) for key in keys if key}


@dataclass(frozen=True, slots=True)
class RepositoriesPreview:
    """What the repositories phase would do, for ``transfer plan`` (nothing written)."""

    plans: list[RepoPlan]
    permission: PermissionPlan
    cannot_move: list[Unmigratable]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "repositories": [p.as_dict() for p in self.plans],
            "anonymous_read": self.permission.as_dict(),
            "cannot_move": [{"key": e.key, **e.as_detail()} for e in self.cannot_move],
        }


async def preview_repositories(
    source: Source,
    admin: TargetAdmin,
    *,
    subject: str,
    repo_key_template: str,
    suppress_pom_checks: bool = True,
) -> RepositoriesPreview:
    """Read the source and the target and plan, without writing anything anywhere."""
    if isinstance(source, RepositoryConfigSource):
        return await _preview_copied(source, admin, subject, repo_key_template)
    repos = await source.list_repositories()
    blank = plan_repositories(repos, {}, subject=subject, repo_key_template=repo_key_template)
    existing = await read_existing(admin, [plan.key for plan in blank])
    plans = plan_repositories(
        repos,
        existing,
        subject=subject,
        repo_key_template=repo_key_template,
        suppress_pom_checks=suppress_pom_checks,
    )
    permission = plan_anonymous_read(plans, await admin.get_permission(ANONYMOUS_READ_PERMISSION))
    conflicts = [_conflict_entry(p.key or p.source, p.reason) for p in plans if not p.usable]
    cannot_move = conflicts + await collect_organisation_entries(source, repos)
    return RepositoriesPreview(plans, permission, cannot_move)


async def _preview_copied(
    source: RepositoryConfigSource, admin: TargetAdmin, subject: str, repo_key_template: str
) -> RepositoriesPreview:
    """Another Artifactory's repositories, configurations copied (no anonymous-read target:
    the source's own permission targets travel in the security phase)."""
    configs = await source.list_repository_configs()
    blank = plan_copied_repositories(
        configs, {}, subject=subject, repo_key_template=repo_key_template
    )
    existing = await read_existing(admin, [plan.key for plan in blank])
    plans = plan_copied_repositories(
        configs, existing, subject=subject, repo_key_template=repo_key_template
    )
    conflicts = [_conflict_entry(p.key or p.source, p.reason) for p in plans if not p.usable]
    return RepositoriesPreview(
        plans, PermissionPlan(ANONYMOUS_READ_PERMISSION, "none", ()), conflicts
    )


async def created_repositories(store: CheckpointStore) -> set[str]:
    """Target keys of the repositories this migration created (in any run)."""
    return {
        record.key
        async for record in store.iter_side(REPOSITORY_KIND)
        if record.detail.get("created") is True and record.state in ("created", "kept")
    }


async def used_repositories(store: CheckpointStore) -> set[str]:
    """Target keys of the repositories the migration copies into (created or adopted)."""
    return {
        record.key
        async for record in store.iter_side(REPOSITORY_KIND)
        if record.state in ("created", "kept")
    }


async def blocked_repositories(store: CheckpointStore) -> dict[str, str]:
    """Target keys files must not be copied into (taken by an incompatible repository, or
    clashing with another Bintray repository), with the reason, as last recorded."""
    return {
        record.key: str(record.detail.get("reason", "repository conflict"))
        async for record in store.iter_side(REPOSITORY_KIND)
        if record.state == RepoAction.CONFLICT.value
    }


@dataclass(slots=True)
class RepositoriesResult:
    """What the repositories phase did."""

    plans: list[RepoPlan] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    cdn_enabled: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    conflicts: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    cdn_unsupported: dict[str, str] = field(default_factory=dict)
    """Repositories where CDN redirect is not on, and why."""
    permission: PermissionPlan | None = None
    reported: int = 0

    @property
    def changed(self) -> bool:
        """Whether anything was written to the target."""
        wrote_permission = self.permission is not None and self.permission.action in (
            "create",
            "update",
        )
        return bool(self.created or self.cdn_enabled or wrote_permission)

    def summary(self) -> dict[str, int]:
        """Counts for the phase-finished event."""
        return {
            "created (CDN redirect on)": len(self.created),
            "existing switched to CDN redirect": len(self.cdn_enabled),
            "unchanged": len(self.unchanged),
            "conflicts": len(self.conflicts),
            "failed": len(self.failed),
        }

    def note(self) -> str:
        """One line for the migration summary."""
        counts = ", ".join(f"{v} {k}" for k, v in self.summary().items())
        permission = self.permission.action if self.permission else "none"
        tail = "" if self.changed else "; nothing changed"
        return f"repositories: {counts}; anonymous read permission: {permission}{tail}"


def _not_visible_yet(error: BaseException) -> bool:
    return isinstance(error, RemoteError) and error.status in (400, 404)


_UNTIL_VISIBLE = RetryPolicy(max_attempts=5, base_delay=0.2, retry_on=_not_visible_yet)
"""A repository just created may take a moment to become visible (configuration propagation
in large instances): an update answered 400/404 is tried again, up to about three seconds."""


async def _update_when_visible(
    admin: TargetAdmin, key: str, changes: Mapping[str, Any], sleep: Sleep
) -> None:
    """POST ``changes``, tried again while the repository is not visible yet."""

    async def update(_attempt: int) -> None:
        await admin.update_repository(key, changes)

    await _UNTIL_VISIBLE.run(update, sleep=sleep)


async def _apply(
    plan: RepoPlan,
    admin: TargetAdmin,
    store: CheckpointStore,
    result: RepositoriesResult,
    sleep: Sleep,
) -> None:
    previous = await store.get_side(REPOSITORY_KIND, plan.key or plan.source)
    created = bool(previous and previous.detail.get("created") is True)
    detail: dict[str, Any] = {
        "source": plan.source,
        "package_type": plan.package_type,
        "layout": plan.layout,
        "public": plan.public,
        "notes": list(plan.notes),
    }
    if not plan.usable:
        result.conflicts[plan.key or plan.source] = plan.reason
        await store.record_side(
            REPOSITORY_KIND,
            plan.key or plan.source,
            plan.action.value,
            {**detail, "created": created, "reason": plan.reason},
        )
        return
    if plan.action is RepoAction.CREATE:
        try:
            await admin.create_repository(plan.key, plan.config)
        except RemoteError as error:
            result.failed[plan.key] = str(error)
            await store.record_side(
                REPOSITORY_KIND,
                plan.key,
                "failed",
                {**detail, "created": created, "error": str(error)},
            )
            return
        created = True
        # Recorded before anything else may fail: the copy workers rely on it.
        await store.record_side(REPOSITORY_KIND, plan.key, "created", {**detail, "created": True})
        result.created.append(plan.key)
    cdn = True
    if plan.changes:
        refused = await _enable_cdn(admin, plan.key, plan.changes, sleep)
        cdn = refused is None
        if refused is not None:
            result.cdn_unsupported[plan.key] = refused
        elif plan.action is RepoAction.ENABLE_CDN:
            result.cdn_enabled.append(plan.key)
    if plan.action is RepoAction.KEEP or (plan.action is RepoAction.ENABLE_CDN and not cdn):
        result.unchanged.append(plan.key)
    state = "created" if plan.action is RepoAction.CREATE else "kept"
    await store.record_side(
        REPOSITORY_KIND, plan.key, state, {**detail, "created": created, "cdn_redirect": cdn}
    )


async def _enable_cdn(
    admin: TargetAdmin, key: str, changes: Mapping[str, Any], sleep: Sleep
) -> str | None:
    """Send the update, then read the configuration back: ``None`` when CDN redirect is on,
    else why not.

    A target that refuses or ignores the field (it is a JFrog Cloud feature) leaves the
    repository usable; the caller reports it.
    """
    try:
        await _update_when_visible(admin, key, changes, sleep)
        current = await admin.get_repository(key)
    except RemoteError as error:
        return f"the update was refused: {error}"
    if current and current.get("cdnRedirect") is True:
        return None
    return "the target accepted the update but did not keep cdnRedirect"


def _conflict_entry(key: str, reason: str) -> Unmigratable:
    return Unmigratable(
        key=f"repository-conflict/{key}",
        category="repository_conflict",
        what=f"repository {key}: {reason}",
        instead="pick another key with target.repo_key_template, or rename or remove the "
        "existing repository, then run `transfer migrate` again; until then its files are "
        "not copied",
    )


def _entries(result: RepositoriesResult) -> list[Unmigratable]:
    entries = [_conflict_entry(key, reason) for key, reason in result.conflicts.items()]
    entries += [
        Unmigratable(
            key=f"cdn-redirect/{key}",
            category="cdn_redirect",
            what=f"CDN redirect could not be enabled on {key} ({reason})",
            instead="CDN redirect is a JFrog Cloud (Enterprise+) feature: enable it in MyJFrog "
            "and on the repository, or serve downloads without the CDN",
        )
        for key, reason in result.cdn_unsupported.items()
    ]
    permission = result.permission
    if permission is not None and permission.repositories:
        entries.append(
            Unmigratable(
                key="anonymous-access",
                category="anonymous_access",
                what="public Bintray repositories "
                f"({', '.join(permission.repositories)}) are readable by anonymous only once "
                "anonymous access is switched on globally",
                instead="Administration → User Management → Settings → Allow Anonymous Access "
                f"(permission target {permission.name} already grants anonymous read)",
                detail={"repositories": list(permission.repositories)},
            )
        )
    return entries


async def run_repositories_phase(
    source: Source,
    admin: TargetAdmin,
    store: CheckpointStore,
    *,
    subject: str,
    repo_key_template: str,
    bus: EventBus | None = None,
    sleep: Sleep = anyio.sleep,
    suppress_pom_checks: bool = True,
) -> RepositoriesResult:
    """Create or check every repository, grant anonymous read on the public ones, and record
    what cannot move. Idempotent: a second run writes nothing to the target."""
    if bus is not None:
        bus.emit(PhaseStarted(name="repositories"))
    preview = await preview_repositories(
        source,
        admin,
        subject=subject,
        repo_key_template=repo_key_template,
        suppress_pom_checks=suppress_pom_checks,
    )
    result = RepositoriesResult(plans=preview.plans)
    for done, plan in enumerate(result.plans, 1):
        await _apply(plan, admin, store, result, sleep)
        if bus is not None:
            bus.emit(PhaseProgress("repositories", done, len(result.plans), "repositories"))
    permission = plan_anonymous_read(
        [p for p in result.plans if p.key not in result.failed],
        await admin.get_permission(ANONYMOUS_READ_PERMISSION),
    )
    if permission.action in ("create", "update"):
        await admin.put_permission(permission.name, permission.body)
    if permission.action != "none":
        await store.record_side(
            ANONYMOUS_READ_KIND,
            permission.name,
            permission.action,
            {"repositories": list(permission.repositories), "actions": ["read"]},
        )
    result.permission = permission
    # conflicts come from _entries (with the ones found while applying); the rest as previewed
    organisation = [e for e in preview.cannot_move if e.category != "repository_conflict"]
    entries = _entries(result) + organisation
    await record_unmigratable(store, entries)
    result.reported = len(entries)
    if bus is not None:
        bus.emit(PhaseFinished(name="repositories", summary=result.summary()))
    return result
