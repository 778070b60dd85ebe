"""Many workers, one run: who discovers, who runs the side phases, and who is still alive.

Every ``transfer migrate`` started on the same store and run joins that run; the store's named
locks (:meth:`~transfer.checkpoint.base.CheckpointStore.exclusive`) decide the rest:

* **Discovery** runs in one worker at a time. A worker that finds the lock taken does not list
  the source again: it claims what the discoverer writes, and waits for the lock. When it gets
  it, either the pass is complete (nothing to do) or the discoverer died half-way, and this
  worker resumes that pass where it stopped (versions already marked are skipped).
* A worker that gets the lock at once and finds the last pass complete starts a new pass (to
  pick up what the source gained), unless other workers of the run are alive: then it is
  joining a migration in progress, whose discovery is already done.
* **Side phases** (repositories, security, properties) run under a lock each, one worker at a
  time. They are idempotent, so the next worker to get the lock finds the target already set
  up and its side records written, and writes nothing.

With SQLite the locks are process-local, so every process behaves as a lone worker, as before.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager

from transfer.checkpoint.base import CheckpointStore, WorkerInfo
from transfer.pipeline.discover import discovery_complete

__all__ = ["DISCOVERY_LOCK", "discover_shared", "live_workers", "phase_lock"]

DISCOVERY_LOCK = "discovery"
"""Name of the store lock held while a worker walks the source."""


def phase_lock(store: CheckpointStore, phase: str) -> AbstractAsyncContextManager[bool]:
    """The lock a side phase runs under, so that workers of one run take turns at it."""
    return store.exclusive(f"phase:{phase}")


async def live_workers(
    store: CheckpointStore, *, owner: str, within: float, now: float
) -> list[WorkerInfo]:
    """Other workers of the run whose last heartbeat is at most ``within`` seconds old and
    that have not said they finished; ``owner``'s own copy processes are not others."""
    return [
        w
        for w in await store.list_workers()
        if w.owner != owner
        and w.stats.get("parent") != owner
        and not w.stats.get("finished")
        and now - w.last_seen <= within
    ]


async def discover_shared(
    store: CheckpointStore,
    discovery: Callable[[], Awaitable[object]],
    *,
    owner: str,
    live_within: float | None,
    clock: Callable[[], float] = time.time,
) -> bool:
    """Run ``discovery`` unless another worker of the run runs or ran it (see the module
    docstring); returns whether this worker ran it. Returns once the run's discovery is done.

    Workers whose heartbeat is at most ``live_within`` seconds old count as alive; ``None``
    counts none (every start then begins a new pass after a complete one, as a lone worker).
    """
    async with store.exclusive(DISCOVERY_LOCK, wait=False) as free:
        if free:
            if live_within is not None and await discovery_complete(store):
                alive = await live_workers(store, owner=owner, within=live_within, now=clock())
                if alive:
                    return False
            await discovery()
            return True
    async with store.exclusive(DISCOVERY_LOCK):
        if await discovery_complete(store):
            return False
        await discovery()  # the discoverer stopped half-way: finish its pass
        return True
