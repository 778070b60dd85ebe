"""The resumable checkpoint store: the single source of truth of a migration run.

:class:`CheckpointStore` is the contract; :class:`SqliteStore` the implementation for one machine;
``transfer.checkpoint.postgres.PostgresStore`` shares a run between machines (import it from there:
its driver, asyncpg, is an optional dependency).
"""

from transfer.checkpoint.base import (
    META_CONFIG_FINGERPRINT,
    CheckpointStore,
    Counts,
    IllegalTransition,
    Item,
    ItemSpec,
    Outcome,
    Rejection,
    SideRecord,
    StateCount,
    StoreUnreachable,
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
    "IllegalTransition",
    "Item",
    "ItemSpec",
    "Outcome",
    "Rejection",
    "SideRecord",
    "SqliteStore",
    "StateCount",
    "StoreUnreachable",
    "UpsertCounts",
    "WorkItem",
    "WorkerInfo",
]
