"""The copy worker: one claimed item from the source into the target, verified three ways.

Per item: ask the target when it may already hold something (a resumed item, a repository this
run did not create), let the planner decide, try a checksum deploy when the content may already
be there, otherwise stream the download straight into the upload, hashing on the way. A file is
``done`` only when the declared size and checksums, the computed ones and the ones the target
returns agree. Retryable errors are retried here (:meth:`RetryPolicy.run`: backoff with jitter,
honouring ``Retry-After``); each 429/503 is told to the limiter of copies in flight, which
halves (the engine holds its slots and tells it of the copies that succeed).
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol, cast

import anyio

from transfer.checkpoint.base import ItemSpec, Outcome, WorkItem
from transfer.errors import ChecksumMismatch, IntegrityError, TransferError
from transfer.http.breaker import CircuitBreaker
from transfer.http.error_mapping import is_throttle
from transfer.http.pacing import AdaptiveLimiter
from transfer.http.retry import RetryPolicy, Sleep
from transfer.integrity import (
    STRONG,
    Buffer,
    MultiHasher,
    Verified,
    digests_to_compute,
    hashing,
    verify_transfer,
)
from transfer.models import Checksums, ItemState
from transfer.pipeline.bandwidth import BandwidthLimiter
from transfer.pipeline.checksum_files import check_checksum_file
from transfer.pipeline.dedup import ContentRegistry
from transfer.pipeline.folder_probe import DEFAULT_MAX_AGE, FolderProbe
from transfer.pipeline.planner import (
    Action,
    ConflictPolicy,
    Decision,
    TargetFacts,
    checksum_file_of,
    checksums_agree,
    decide,
    unsafe_path_reason,
)
from transfer.pipeline.source_drift import Changed, Gone, may_have_drifted, recheck_source
from transfer.sources.base import Source
from transfer.targets.base import Target

__all__ = ["CopyObserver", "CopyOptions", "CopyWorker"]


class CopyObserver(Protocol):
    """Where a worker reports what it is doing (progress counters, events)."""

    def bytes_moved(self, n: int) -> None:
        """``n`` more bytes went from the source into the target."""

    def retrying(self, item: WorkItem, attempt: int, delay: float, error: Exception) -> None:
        """A try failed with a retryable error; the next one starts after ``delay`` seconds."""

    def throttled(self, limit: int) -> None:
        """The target asked us to slow down; concurrency is now ``limit``."""


@dataclass(frozen=True, slots=True)
class CopyOptions:
    """How workers copy; built from the transfer and target settings."""

    conflict_policy: ConflictPolicy = ConflictPolicy.REPORT
    min_checksum_deploy_size: int = 10 * 1024
    # After ``probe_window`` size-based checksum deploys with a hit rate below ``min_hit_rate``
    # (a fresh target), only files of at least ``cold_min_size`` still try one first: the
    # probe costs a request per file and cannot succeed on an empty target.
    probe_window: int = 200
    min_hit_rate: float = 0.01
    cold_min_size: int = 1024 * 1024
    chunk_size: int = 1024 * 1024
    # Bytes hashed per worker-thread call, None: on the event loop as they pass (the default:
    # as fast here, and 0.1-0.3 CPU s/GB cheaper, see transfer.integrity).
    hash_offload_threshold: int | None = None
    # The digests the target returns for what it stored (Artifactory: all three; WebDAV:
    # none): each file hashes only what :func:`digests_to_compute` says is compared.
    target_checksums: tuple[str, ...] = ()
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # The target serves checksum files itself and refuses them as files (Artifactory): check
    # a source's X.sha1 / X.md5 / X.sha256 against the X in the target instead of copying it.
    checksum_files: bool = False
    # How long a folder listing answers "what is at this path" for the files in it (0: a HEAD
    # per file), see :mod:`~transfer.pipeline.folder_probe`.
    listing_max_age: float = DEFAULT_MAX_AGE


@dataclass(slots=True)
class _Try:
    """One try at an item: the error the source raised in it, if any (anything else that
    fails the try was the target's)."""

    source_error: TransferError | None = None
    first: bool = True  # the item's first try (a retry may follow an upload of ours)

    def blame(self, error: TransferError) -> tuple[str, TransferError]:
        """The service that failed this try, and its error."""
        if self.source_error is not None:
            return "source", self.source_error
        return "target", error


class ServiceDown(Exception):
    """The circuit breaker has tripped: the item goes back to ``pending``. Never retried."""

    retryable = False


class CopyWorker:
    """Copies claimed items; one instance is shared by every worker task of a process.

    Every failed try is reported to the ``breaker`` with the service that failed it (source or
    target); once it has tripped, items in hand go back to ``pending`` instead of ``failed``.
    A download that fails as if the source changed since listing lists the version again
    (:mod:`~transfer.pipeline.source_drift`): a file gone ends ``skipped``, a file replaced is
    handed to ``source_changed`` (the store re-opens it with the new facts).
    """

    def __init__(
        self,
        source: Source,
        target: Target,
        *,
        options: CopyOptions,
        limiter: AdaptiveLimiter,
        bandwidth: BandwidthLimiter,
        observer: CopyObserver,
        must_probe: Callable[[str], bool],
        breaker: CircuitBreaker | None = None,
        source_changed: Callable[[ItemSpec], Awaitable[None]] | None = None,
        dedup: ContentRegistry | None = None,
        rng: random.Random | None = None,
        sleep: Sleep = anyio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._target = target
        self._probe = FolderProbe(target, max_age=options.listing_max_age, clock=clock)
        self._options = options
        self._limiter = limiter
        self._bandwidth = bandwidth
        self._observer = observer
        self._must_probe = must_probe
        self._breaker = breaker or CircuitBreaker(0)
        self._source_changed = source_changed
        self._dedup = dedup or ContentRegistry()
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._clock = clock
        self._linked_tries = 0
        self._linked_hits = 0
        # Paths where our own upload reached the target but failed verification (a target
        # that does not check checksums itself), with the checksums the target gave for it: the
        # retry overwrites what is there as ours (like the copy an earlier run wrote, see
        # WorkItem.written), not as a conflicting file someone else put there.
        self._own_bad_uploads: dict[tuple[str, str], Checksums] = {}
        # Cleared for the rest of the run when the target's answer lacked the digest it was
        # trusted to report: from then on every file is hashed here.
        self._target_checksums = options.target_checksums

    async def copy(self, item: WorkItem) -> Outcome:
        """Copy one item, retrying what is worth retrying; returns the outcome to record."""
        started = self._clock()
        attempts = 0
        failed = ("target", TransferError())

        async def once(attempt: int) -> Outcome:
            nonlocal attempts, failed
            if self._breaker.tripped is not None:
                raise ServiceDown  # a service is down: leave the item for a later run
            attempts = attempt
            tried = _Try(first=attempt == 1)
            try:
                return await self._attempt(item, tried)
            except TransferError as error:
                drifted = await self._drifted(item, error, tried)
                if drifted is not None:
                    return drifted
                failed = tried.blame(error)
                if self._breaker.failure(*failed):
                    raise ServiceDown from error
                if is_throttle(error):
                    self._limiter.on_throttle()
                    self._observer.throttled(self._limiter.limit)
                raise

        try:
            outcome = await self._options.retry.run(
                once,
                on_retry=partial(self._observer.retrying, item),
                sleep=self._sleep,
                rng=self._rng,
            )
        except ServiceDown as down:
            cause = down.__cause__
            return Outcome(
                ItemState.PENDING, add_attempts=attempts, error=str(cause) if cause else None
            )
        except TransferError as error:
            self._breaker.gave_up(*failed, item.id)
            return Outcome(
                ItemState.FAILED,
                add_attempts=attempts,
                error=str(error),
                http_status=getattr(error, "status", None) or None,
                duration=self._clock() - started,
            )
        if outcome.state is ItemState.DONE:
            self._breaker.success()
        return Outcome(
            outcome.state,
            add_attempts=attempts,
            error=outcome.error,
            bytes_transferred=outcome.bytes_transferred,
            target=outcome.target,
            how=outcome.how,
            duration=self._clock() - started,
            http_status=outcome.http_status,
        )

    async def _drifted(self, item: WorkItem, error: TransferError, tried: _Try) -> Outcome | None:
        """The outcome when ``error`` came from the source changing since it was listed (the
        file replaced: re-opened with its new facts; gone: skipped), else None."""
        if not may_have_drifted(error, from_source=tried.source_error is not None):
            return None
        verdict = await recheck_source(self._source, item.spec)
        if isinstance(verdict, Gone):
            return Outcome(ItemState.SKIPPED, error=verdict.reason)
        if isinstance(verdict, Changed) and self._source_changed is not None:
            await self._source_changed(verdict.spec)
            return Outcome(
                ItemState.PENDING,
                error=f"changed at the source since it was listed ({error}); listed again",
            )
        return None

    def _written(self, item: WorkItem) -> Checksums | None:
        """What this migration wrote at the item's path, that a retry may overwrite as its own:
        this run's upload that failed verification, else the copy an earlier run wrote (empty
        when neither); None for an upload of this run of which the target gave no checksums."""
        spec = item.spec
        bad = self._own_bad_uploads.get((spec.target_repo, spec.target_path))
        if bad is None:
            return item.written
        return bad if bad.known() else None

    async def _facts(
        self, item: WorkItem, written: Checksums | None, tried: _Try
    ) -> TargetFacts | None:
        spec = item.spec
        if written is None:
            return None  # ours, from this run, and nothing to compare it by: overwritten
        # A path with a copy of ours is always asked about: someone else may have replaced that
        # copy since, and theirs is never overwritten blind.
        if not (item.recheck or written.known() or self._must_probe(spec.target_repo)):
            return None
        if unsafe_path_reason(spec.target_path) is not None:
            return None  # never sent anywhere, not even asked about: the planner refuses it
        found = await self._probe.probe(spec.target_repo, spec.target_path, first_try=tried.first)
        if found is None:
            return TargetFacts(exists=False)
        return TargetFacts(exists=True, size=found.size, checksums=found.checksums)

    async def _attempt(self, item: WorkItem, tried: _Try) -> Outcome:
        spec = item.spec
        described = checksum_file_of(spec.target_path) if self._options.checksum_files else None
        if described is not None:
            return await check_checksum_file(self._source, self._target, spec, *described)
        declared = Checksums(sha1=spec.sha1, sha256=spec.sha256)
        digest = spec.sha256 or spec.sha1
        written = self._written(item)
        facts = await self._facts(item, written, tried)
        decision = decide(
            path=spec.target_path,
            declared=declared,
            size=spec.size,
            target=facts,
            policy=self._options.conflict_policy,
            min_checksum_deploy_size=self._checksum_deploy_threshold(),
            content_in_target=self._dedup.in_target(digest),
            written=written,
        )
        if decision.action is Action.RECORD:
            assert decision.state is not None
            return Outcome(decision.state, error=decision.reason)
        if decision.action is Action.MARK_DONE:
            assert facts is not None
            self._dedup.mark_in_target(digest)
            return Outcome(ItemState.DONE, how="already_present", target=facts.checksums)
        outcome = await self._send(item, decision, tried)
        if decision.how and outcome.state is ItemState.DONE:
            outcome = dataclasses.replace(outcome, how=decision.how)
        return outcome

    async def _send(self, item: WorkItem, decision: Decision, tried: _Try) -> Outcome:
        """Put the item's bytes at its target path: linked by checksum when the decision says
        to try that and it works, streamed otherwise."""
        spec = item.spec
        declared = Checksums(sha1=spec.sha1, sha256=spec.sha256)
        digest = spec.sha256 or spec.sha1
        if decision.action is Action.TRY_CHECKSUM_DEPLOY:
            known = self._dedup.in_target(digest)
            linked = await self._checksum_deploy(item, declared)
            if not known:
                self._linked_tries += 1
                self._linked_hits += linked is not None
            if linked is not None:
                return linked
        if not digest or spec.size == 0:
            return await self._stream(item, declared, tried)
        waiting_for = self._dedup.lead(digest)
        if waiting_for is not None:
            # Another worker is streaming identical bytes: wait, then link them.
            await waiting_for.wait()
            if self._dedup.in_target(digest):
                linked = await self._checksum_deploy(item, declared, how="dedup")
                if linked is not None:
                    return linked
            return await self._stream(item, declared, tried)
        stored = False
        try:
            outcome = await self._stream(item, declared, tried)
            stored = outcome.state is ItemState.DONE
            return outcome
        finally:
            self._dedup.finish(digest, stored=stored)

    def _checksum_deploy_threshold(self) -> int:
        """The size from which a file tries a checksum deploy first, given how often that
        has worked in this run."""
        options = self._options
        if self._linked_tries < options.probe_window:
            return options.min_checksum_deploy_size
        if self._linked_hits >= options.min_hit_rate * self._linked_tries:
            return options.min_checksum_deploy_size
        return max(options.min_checksum_deploy_size, options.cold_min_size)

    async def _checksum_deploy(
        self, item: WorkItem, declared: Checksums, *, how: str = "checksum_deploy"
    ) -> Outcome | None:
        spec = item.spec
        found = await self._target.checksum_deploy(
            spec.target_repo, spec.target_path, declared, spec.properties
        )
        if found is None:
            return None
        if checksums_agree(declared, found.checksums) is False:
            # The target linked content that is not ours: never accept it as done.
            raise ChecksumMismatch(
                "target checksum",
                declared.sha256 or declared.sha1,
                found.checksums.sha256 or found.checksums.sha1,
                path=spec.target_path,
            )
        if found.deferred_properties:
            await self._target.set_properties(
                spec.target_repo, spec.target_path, found.deferred_properties
            )
        self._dedup.mark_in_target(spec.sha256 or spec.sha1)
        return Outcome(ItemState.DONE, how=how, target=found.checksums, bytes_transferred=0)

    async def _stream(self, item: WorkItem, declared: Checksums, tried: _Try) -> Outcome:
        spec = item.spec
        hasher = MultiHasher(digests_to_compute(declared, self._target_checksums))
        async with AsyncExitStack() as stack:
            try:
                download = await stack.enter_async_context(self._source.open_download(spec.source))
            except TransferError as error:
                tried.source_error = error
                raise
            chunks = self._counted(
                hashing(
                    self._bandwidth.throttle(
                        _blamed(download.chunks(self._options.chunk_size), tried)
                    ),
                    hasher,
                    offload_threshold=self._hash_batch(),
                )
            )
            try:
                stored = await self._target.deploy(
                    spec.target_repo,
                    spec.target_path,
                    chunks,
                    size=spec.size,
                    checksums=declared,
                    properties=spec.properties,
                )
            except IntegrityError as error:
                if hasher.size == spec.size:  # the whole download was read: was it intact?
                    _check_download(item, declared, hasher)
                    _blame_download_judged_by_target(item, declared, hasher, error)
                raise
        if stored.deferred_properties:
            await self._target.set_properties(
                spec.target_repo, spec.target_path, stored.deferred_properties
            )
        try:
            _check_download(item, declared, hasher)
            verified = _verify(item, declared, hasher, target=stored.checksums)
            self._check_verified(spec.target_path, declared, hasher, verified)
        except IntegrityError:
            self._own_bad_uploads[spec.target_repo, spec.target_path] = stored.checksums
            raise
        self._own_bad_uploads.pop((spec.target_repo, spec.target_path), None)
        return Outcome(
            ItemState.DONE, how="streamed", bytes_transferred=hasher.size, target=stored.checksums
        )

    def _hash_batch(self) -> int | None:
        """Bytes hashed per worker-thread call: at most ``chunk_size``, so that a copy holds
        less than two chunks (the settings' memory formula)."""
        threshold = self._options.hash_offload_threshold
        return None if threshold is None else min(threshold, self._options.chunk_size)

    def _check_verified(
        self, path: str, declared: Checksums, hasher: MultiHasher, verified: Verified
    ) -> None:
        """A file whose declared digest was left to the target must have been compared with
        what the target reported; if the answer lacked it, hash here from now on and retry."""
        if hasher.algorithms or not any(a in declared.known() for a in STRONG):
            return
        if set(verified.target) & set(STRONG):
            return
        self._target_checksums = ()
        raise IntegrityError(
            "target checksum",
            "/".join(a for a in STRONG if a in declared.known()),
            "none in the target's answer (hashing locally from now on)",
            path=path,
        )

    async def _counted(self, chunks: AsyncIterable[Buffer]) -> AsyncIterator[bytes]:
        async for chunk in chunks:
            self._observer.bytes_moved(memoryview(chunk).nbytes)
            yield cast(bytes, chunk)  # bytes-like: aiohttp and hashlib take any buffer


def _verify(
    item: WorkItem, declared: Checksums, hasher: MultiHasher, target: Checksums | None = None
) -> Verified:
    """Size, declared vs computed checksums and, given ``target``, computed vs target."""
    return verify_transfer(
        item.spec.target_path,
        declared_size=item.spec.size,
        declared=declared,
        computed=hasher.digests(),
        computed_size=hasher.size,
        target=target,
    )


def _check_download(item: WorkItem, declared: Checksums, hasher: MultiHasher) -> None:
    """Blame the download, not the target, when the bytes read differ from what the source
    declares (a corrupted or truncated download that the target then rightly refused)."""
    spec = item.spec
    try:
        _verify(item, declared, hasher)
    except IntegrityError as error:
        raise type(error)(
            f"download from the source corrupted: {error.what}",
            error.expected,
            error.actual,
            path=f"{spec.repo}/{spec.path}",
        ) from None


def _blame_download_judged_by_target(
    item: WorkItem, declared: Checksums, hasher: MultiHasher, error: IntegrityError
) -> None:
    """The target refused the upload over the declared digest that was left to it (not
    hashed here): it hashed exactly the bytes read, whole, so those differ from what the
    source declares — the download is to blame, not the target."""
    left = [a for a in STRONG if a in declared.known() and a not in hasher.algorithms]
    if not isinstance(error, ChecksumMismatch) or not left:
        return
    spec = item.spec
    raise ChecksumMismatch(
        f"download from the source corrupted: {'/'.join(left)}",
        "/".join(declared.known()[a] for a in left),
        "other bytes (hashed as they were uploaded)",
        path=f"{spec.repo}/{spec.path}",
    ) from None


async def _blamed(chunks: AsyncIterable[bytes], tried: _Try) -> AsyncIterator[bytes]:
    """``chunks``, noting in ``tried`` an error the source raised while they were read."""
    try:
        async for chunk in chunks:
            yield chunk
    except TransferError as error:
        tried.source_error = error
        raise
