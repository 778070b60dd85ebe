"""The plan use case: what a migration would do, decided by the same code, writing nothing
to the target."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import anyio

from transfer.checkpoint.base import (
    Item,
)
from transfer.migrate.copied_security import SecurityDirectorySource, plan_copied_directory
from transfer.migrate.properties import PROPERTY_RULES
from transfer.migrate.repositories_phase import (
    preview_repositories,
)
from transfer.migrate.security import (
    OrganisationSource,
    SecurityPlan,
    plan_security,
    read_org_snapshot,
)
from transfer.models import Checksums, ItemState
from transfer.pipeline.discover import DiscoveryResult, discover
from transfer.pipeline.planner import (
    Action,
    ConflictPolicy,
    Decision,
    TargetFacts,
    checksum_file_of,
    decide,
)
from transfer.reporting.events import (
    EventBus,
    PhaseStarted,
)
from transfer.runner.listing import discovery_progress
from transfer.runner.wiring import (
    _opened,
    open_source,
)
from transfer.settings import Settings
from transfer.sources.base import ListsSkipped


@dataclass(slots=True)
class PlanSummary:
    """What a migration would do with the files, decided by the same planner as ``migrate``."""

    discovery: DiscoveryResult | None = None
    actions: dict[str, dict[str, int]] = field(default_factory=dict)
    bytes_to_send: int = 0
    examples: dict[str, list[str]] = field(default_factory=dict)
    repositories: dict[str, Any] = field(default_factory=dict)
    property_rules: list[dict[str, str]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    """What the source left out of its listing (links, special files...), and why."""

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        found = self.discovery
        return {
            "files": found.files if found else 0,
            "bytes": found.bytes if found else 0,
            "repositories": found.repositories if found else 0,
            "unmappable_repositories": found.unmappable_repos if found else {},
            "linked_packages": found.links if found else 0,
            "actions": self.actions,
            "bytes_to_send": self.bytes_to_send,
            "examples": self.examples,
            "repository_plan": self.repositories,
            "property_rules": self.property_rules,
            "skipped_in_source": self.skipped,
        }


def _plan_verdict(decision: Decision) -> str:
    if decision.action is Action.RECORD:
        state = decision.state.value if decision.state else "failed"
        return "unsafe_path" if "unsafe path" in decision.reason else state
    return {
        Action.MARK_DONE: "already_present",
        Action.TRY_CHECKSUM_DEPLOY: "copy_or_link",
        Action.STREAM: "copy",
    }[decision.action]


async def plan(settings: Settings, *, bus: EventBus, probe_concurrency: int = 16) -> PlanSummary:
    """Discover the source (recording it in the store) and decide every pending file against
    what the target holds, without writing anything to the target."""
    summary = PlanSummary()
    async with _opened(settings) as (source, target, store):
        await target.check_access()
        bus.emit(PhaseStarted(name="plan"))
        if target.admin is not None:
            preview = await preview_repositories(
                source,
                target.admin,
                subject=settings.source.subject,
                repo_key_template=settings.target.repo_key_template,
                suppress_pom_checks=settings.target.suppress_pom_consistency_checks,
            )
            summary.repositories = preview.as_dict()
        summary.property_rules = [
            {"source": r.source, "key": r.key, "note": r.note} for r in PROPERTY_RULES
        ]
        summary.discovery = await discover(
            source,
            store,
            subject=settings.source.subject,
            repo_key_template=settings.target.repo_key_template,
            on_progress=lambda found: bus.emit(discovery_progress(found)),
        )
        bus.emit(discovery_progress(summary.discovery, complete=True))
        if isinstance(source, ListsSkipped):
            summary.skipped = [asdict(skipped) for skipped in source.skipped_files()]
        policy = ConflictPolicy(settings.target.conflict)
        slots = anyio.Semaphore(probe_concurrency)  # also bounds the tasks alive at once

        async def decide_one(item: Item) -> None:
            spec = item.spec
            if target.capabilities.checksum_files and checksum_file_of(spec.target_path):
                slots.release()  # checked against its artifact, never sent
                per_repo = summary.actions.setdefault(spec.repo, {})
                per_repo["check_checksum_file"] = per_repo.get("check_checksum_file", 0) + 1
                return
            try:
                found = await target.probe(spec.target_repo, spec.target_path)
            finally:
                slots.release()
            facts = TargetFacts(
                exists=found is not None,
                size=found.size if found else None,
                checksums=found.checksums if found else Checksums(),
            )
            verdict = _plan_verdict(
                decide(
                    path=spec.target_path,
                    declared=Checksums(sha1=spec.sha1, sha256=spec.sha256),
                    size=spec.size,
                    target=facts,
                    policy=policy,
                    min_checksum_deploy_size=settings.target.min_checksum_deploy_size,
                    written=item.target,
                )
            )
            per_repo = summary.actions.setdefault(spec.repo, {})
            per_repo[verdict] = per_repo.get(verdict, 0) + 1
            if verdict in ("copy", "copy_or_link"):
                summary.bytes_to_send += spec.size
            elif verdict not in ("already_present",):
                shown = summary.examples.setdefault(verdict, [])
                if len(shown) < 10:
                    shown.append(f"{spec.repo}/{spec.path}")

        async with anyio.create_task_group() as group:
            async for item in store.iter_items(states=[ItemState.PENDING, ItemState.FAILED]):
                await slots.acquire()
                group.start_soon(decide_one, item)
    return summary


async def security_plan(settings: Settings) -> SecurityPlan:
    """The users, groups, permission targets and tokens a migration would create (read from
    the source only; no secret is generated and nothing is written)."""
    async with open_source(settings) as source:
        if isinstance(source, SecurityDirectorySource):
            return await plan_copied_directory(source, settings)
        if not isinstance(source, OrganisationSource):
            return SecurityPlan(notes=("the source has no organisation to read users from",))
        snapshot = await read_org_snapshot(
            source,
            subject=settings.source.subject,
            repo_key_template=settings.target.repo_key_template,
        )
    return plan_security(snapshot, settings.security, now=time.time())
