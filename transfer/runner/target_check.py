"""Whether the target is still the one the store remembers (see
:mod:`transfer.pipeline.target_truth`): checked when ``migrate`` starts, recorded when it ends."""

from __future__ import annotations

import json

from transfer.checkpoint.base import META_TARGET_IDENTITY, CheckpointStore
from transfer.migrate.repositories_phase import used_repositories
from transfer.pipeline.target_truth import (
    IdentifiedTarget,
    identity_changes,
    parse_identity,
    reopen_changed,
)
from transfer.settings import Settings
from transfer.targets.base import Target


async def _identity(settings: Settings, target: Target, store: CheckpointStore) -> dict[str, str]:
    if isinstance(target, IdentifiedTarget):
        return await target.identity(await used_repositories(store))
    return {"url": settings.target.url}


async def recheck_if_target_changed(
    settings: Settings, target: Target, store: CheckpointStore
) -> str:
    """Compare the target with the identity an earlier run recorded; when it changed, re-open
    the ``done`` items it no longer holds. Returns a note for the summary ("" when unchanged)."""
    current = await _identity(settings, target, store)
    previous = parse_identity(await store.get_meta(META_TARGET_IDENTITY))
    change = identity_changes(previous, current)
    reopened = 0
    if change is not None:
        reopened = await reopen_changed(
            store, target, repos=change.repos, reason=f"re-checked because {change.reason}"
        )
    # recorded only once re-checked: a run killed in between re-checks again
    await store.set_meta(META_TARGET_IDENTITY, json.dumps(current, sort_keys=True))
    if change is None:
        return ""
    return (
        f"{change.reason}: re-checked the files recorded done; {reopened} missing or "
        "different there are copied again"
    )


async def record_target_identity(
    settings: Settings, target: Target, store: CheckpointStore
) -> None:
    """Record the target's identity as the run leaves it (with the repositories it created)."""
    current = await _identity(settings, target, store)
    await store.set_meta(META_TARGET_IDENTITY, json.dumps(current, sort_keys=True))
