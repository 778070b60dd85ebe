"""One writer task that commits queued item outcomes in batches, for any store implementation.

Workers call :meth:`RecordWriter.put` for every outcome; that only appends to a bounded buffer. The
writer task (:meth:`RecordWriter.run`, started in the store's task group) commits the buffer when it
holds ``max_batch`` records or ``max_delay`` seconds after the first one arrived, whichever comes
first, or at once when someone waits in :meth:`RecordWriter.drain`.

Why losing an uncommitted batch in a crash is safe: an outcome is only ever recorded for an item the
worker holds in flight. Until the batch commits, the store still says ``in_flight`` with the old
lease; after a crash that lease expires, the item is claimed again with ``recheck=True``, and the
pipeline checks the target before sending anything. The work already done is found there
(``already_present``), so nothing is lost but the time of one check.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

import anyio

from transfer.errors import IllegalTransition, StoreError
from transfer.models import Rejection

__all__ = ["RecordWriter"]

T = TypeVar("T")

Commit = Callable[[list[T]], Awaitable[Sequence[Rejection]]]


class RecordWriter(Generic[T]):
    """Batches records for ``commit``, which writes one batch in one transaction.

    ``commit`` returns the records it refused; it raises :class:`StoreError` when the batch could
    not be written at all (that error then sticks: every later call raises it). The buffer holds
    at most ``max_pending`` records; :meth:`put` waits for room, so a slow disk slows the workers
    instead of growing memory.
    """

    def __init__(
        self,
        commit: Commit[T],
        *,
        max_batch: int = 200,
        max_delay: float = 0.05,
        max_pending: int = 2000,
    ) -> None:
        if max_batch < 1 or max_pending < max_batch:
            raise ValueError("need 1 <= max_batch <= max_pending")
        self._commit = commit
        self._max_batch = max_batch
        self._max_delay = max_delay
        self._max_pending = max_pending
        self._buffer: list[T] = []
        self._queued = 0
        self._settled = 0
        self._urgent = False
        self._stopped = False
        self._rejected: list[Rejection] = []
        self._fatal: StoreError | None = None
        self._wake = anyio.Event()
        self._progress = anyio.Event()

    async def put(self, record: T) -> None:
        """Queue ``record``, then raise errors found in earlier batches.

        After a fatal error nothing more is queued; after refused records, ``record`` itself is
        still queued (it is not the one at fault).
        """
        self._raise_fatal()
        while len(self._buffer) >= self._max_pending:
            if self._stopped:  # no writer task any more (see drain): write in this task
                batch, self._buffer = self._buffer, []
                await self._write(batch)
            else:
                self._wake.set()
                await self._wait_progress()
            self._raise_fatal()
        self._buffer.append(record)
        self._queued += 1
        if len(self._buffer) == 1 or len(self._buffer) >= self._max_batch:
            self._wake.set()
        self.raise_errors()

    async def drain(self) -> None:
        """Wait until every record queued before this call is committed (or refused).

        When the writer task is gone — cancelled together with the task group of the store's
        owner — the records still queued are committed here, in the calling task: the shielded
        cleanup of a cancelled run (handing its items back) must see its last outcomes, not an
        error.
        """
        target = self._queued
        while self._settled < target:
            if self._stopped:
                if self._buffer:
                    batch, self._buffer = self._buffer, []
                    await self._write(batch)
                else:
                    await self._wait_progress()  # another caller is writing the rest
                continue
            self._urgent = True
            self._wake.set()
            await self._wait_progress()

    async def flush(self) -> None:
        """:meth:`drain`, then raise what the writer found."""
        await self.drain()
        self.raise_errors()

    def raise_errors(self) -> None:
        """Raise the fatal error if any, else the refused records collected since the last call."""
        self._raise_fatal()
        if self._rejected:
            rejected, self._rejected = self._rejected, []
            raise IllegalTransition(rejected)

    async def run(self) -> None:
        """The writer loop; runs until cancelled. Never raises: errors are kept for callers."""
        try:
            while True:
                await self._wake.wait()
                self._wake = anyio.Event()
                if not self._buffer:
                    continue
                if not self._urgent and len(self._buffer) < self._max_batch:
                    with anyio.move_on_after(self._max_delay):
                        await self._wake.wait()
                    self._wake = anyio.Event()
                batch, self._buffer = self._buffer, []
                self._urgent = False
                await self._write(batch)
        finally:
            self._stopped = True
            # wake waiters so that they see the writer is gone instead of hanging
            self._progress.set()

    async def finish(self) -> None:
        """Commit what is still queued, in the calling task; for closing after :meth:`run` ended.

        Shielded, so that closing a store whose owner is being cancelled still records outcomes.
        """
        self._stopped = True
        self._progress.set()
        if self._buffer:
            batch, self._buffer = self._buffer, []
            await self._write(batch)

    async def _write(self, batch: list[T]) -> None:
        try:
            # Shielded: a started batch is accounted for even if the writer is cancelled meanwhile.
            with anyio.CancelScope(shield=True):
                rejected = await self._commit(batch)
        except StoreError as exc:
            # The transaction was rolled back: these items keep their previous state, which is
            # safe (see the module docstring). Later writes would most likely fail the same way.
            self._fatal = exc
        except Exception as exc:
            self._fatal = StoreError(f"recording outcomes failed: {exc!r}")
        else:
            self._rejected.extend(rejected)
        self._settled += len(batch)
        self._progress.set()
        self._progress = anyio.Event()

    def _raise_fatal(self) -> None:
        if self._fatal is not None:
            raise StoreError(str(self._fatal)) from self._fatal

    async def _wait_progress(self) -> None:
        await self._progress.wait()


class WriterTask:
    """Runs a store's :class:`RecordWriter` in a task of its own while the store is open.

    :meth:`stop` stops that task after its current batch, then commits whatever is still
    queued in the calling task, shielded from cancellation, so that a cancelled caller loses
    nothing; the store's own ``close`` runs last in any case.
    """

    def __init__(self) -> None:
        self._stack: contextlib.AsyncExitStack | None = None
        self._scope: anyio.CancelScope | None = None

    async def start(self, writer: RecordWriter[Any]) -> None:
        """Start ``writer.run`` in a task group owned by this object."""
        stack = contextlib.AsyncExitStack()
        group = await stack.enter_async_context(anyio.create_task_group())
        self._scope = group.cancel_scope
        group.start_soon(writer.run)
        self._stack = stack

    async def stop(
        self, writer: RecordWriter[Any] | None, close: Callable[[], Awaitable[None]]
    ) -> None:
        """Stop the task, commit what ``writer`` still holds (None: nothing to commit, a
        read-only store), then ``close``."""
        try:
            if self._stack is not None:
                assert self._scope is not None
                self._scope.cancel()
                await self._stack.aclose()
        finally:
            self._stack = self._scope = None
            with anyio.CancelScope(shield=True):
                try:
                    if writer is not None:
                        await writer.finish()
                finally:
                    await close()
