"""The resumable checkpoint store: the single source of truth of a migration run.

:class:`CheckpointStore` is the contract; :class:`SqliteStore` the implementation for one machine;
``transfer.checkpoint.postgres.PostgresStore`` shares a run between machines (import it from there:
its driver, asyncpg, is an optional dependency). Both are one store class
(:class:`~transfer.checkpoint.store.SqlStore`) over a backend that differs only where its SQL does.
"""

from transfer.checkpoint.base import (
    META_CONFIG_FINGERPRINT,
    CheckpointStore,
    Counts,
    Item,
    ItemSpec,
    Outcome,
    SideRecord,
    StateCount,
    UpsertCounts,
    WorkerInfo,
    WorkItem,
)
from transfer.checkpoint.schema import SCHEMA_VERSION
from transfer.checkpoint.sqlite import SqliteStore

__all__ = [
    "META_CONFIG_FINGERPRINT",
    "SCHEMA_VERSION",
    "CheckpointStore",
    "Counts",
    "Item",
    "ItemSpec",
    "Outcome",
    "SideRecord",
    "SqliteStore",
    "StateCount",
    "UpsertCounts",
    "WorkItem",
    "WorkerInfo",
]
