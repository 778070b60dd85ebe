"""Discovery: walk the source and write every file into the store as an item, as it goes.

Parallel: repositories, packages and versions are walked at once, so one slow listing never
holds up the next; how many API calls are really in flight is the source's business (the
Bintray source paces them with an adaptive limit). Here only the number of *tasks alive* is
bounded: at most ``concurrency`` versions and ``concurrency // 2`` packages are being read at
once, and at most ``concurrency`` listed versions wait for the store writer.

Memory: versions being read × their file lists, plus the writer's queue (versions) and one
batch (at most ``batch_items`` files) — never a whole repository, let alone the organisation.

Batched writes: one writer task takes listed versions from a bounded stream and writes them
together (one ``upsert_items`` for up to ``batch_items`` files), then marks each version
discovered — after its files are in the store, so a kill never loses a version.

Resumable: each version is marked discovered under the current *pass*, and each package once
all its versions are (the writer keeps the order, so a package's mark follows its versions'
files); a killed discovery skips marked packages without asking the source, and marked
versions without listing them. A new pass starts when the previous one completed, so a re-run
sees files the source gained since (the store's upsert leaves unchanged items alone and
re-opens changed ones).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from transfer.checkpoint.base import CheckpointStore, ItemSpec, UpsertCounts
from transfer.migrate.links import link_entry
from transfer.migrate.unmigratable import record_unmigratable
from transfer.models import SourceFile
from transfer.pipeline.planner import claim_phase, map_repo_key
from transfer.pipeline.source_drift import not_there
from transfer.sources.base import Source, SourcePackage, SourceRepository, SourceVersion

__all__ = [
    "DiscoveryResult",
    "PropertyMapper",
    "discover",
    "discovery_complete",
    "discovery_state",
]

_PASS_KEY = "discovery_pass"
_PASS_DONE_KEY = "discovery_pass_complete"
DEFAULT_CONCURRENCY = 64
"""Versions read at once by default; the source's own limiter decides the calls in flight."""
_BATCH_ITEMS = 2000

PropertyMapper = Callable[
    [SourceRepository, SourcePackage, SourceVersion, Sequence[SourceFile]],
    Awaitable[Sequence[Mapping[str, Sequence[str]]]],
]
"""Computes the target properties of the files of one version, in the order given (the
metadata phase plugs in here: :class:`transfer.migrate.metadata.MetadataMapper`)."""


@dataclass(slots=True)
class DiscoveryResult:
    """What one discovery pass found and wrote."""

    repositories: int = 0
    packages: int = 0
    versions: int = 0
    versions_skipped: int = 0
    files: int = 0
    bytes: int = 0
    upserts: UpsertCounts = field(default_factory=UpsertCounts)
    unmappable_repos: dict[str, str] = field(default_factory=dict)
    links: int = 0
    """Linked packages seen (their files are copied once, from the owning repository)."""
    packages_skipped: int = 0


@dataclass(frozen=True, slots=True)
class _Listed:
    """What the writer gets: a scope to mark discovered, and the files to write before."""

    scope: str
    specs: Sequence[ItemSpec] = ()
    is_version: bool = True


async def _current_pass(store: CheckpointStore) -> int:
    """The pass number to work under; starts a new pass when the previous one completed."""
    raw = await store.get_meta(_PASS_KEY)
    number = int(raw) if raw else 0
    if number == 0 or await store.get_meta(_PASS_DONE_KEY) == str(number):
        number += 1
        await store.set_meta(_PASS_KEY, str(number))
    return number


async def discovery_complete(store: CheckpointStore) -> bool:
    """Whether the run's latest discovery pass ran to its end (a new one has not started)."""
    return bool(await discovery_state(store))


async def discovery_state(store: CheckpointStore) -> bool | None:
    """Whether the run's latest discovery pass is complete; ``None`` before the first began."""
    raw = await store.get_meta(_PASS_KEY)
    if not raw:
        return None
    return await store.get_meta(_PASS_DONE_KEY) == raw


class _Writer:
    """The store side of discovery: batches listed versions into few writes, in order."""

    def __init__(
        self,
        store: CheckpointStore,
        result: DiscoveryResult,
        report: Callable[[], Awaitable[None]],
        batch_items: int,
    ) -> None:
        self._store = store
        self._result = result
        self._report = report
        self._batch_items = max(1, batch_items)

    async def run(self, listed: MemoryObjectReceiveStream[_Listed]) -> None:
        """Write until every sender is closed; each round takes what is queued, up to a batch."""
        async with listed:
            async for first in listed:
                batch = [first]
                size = len(first.specs)
                while size < self._batch_items:
                    try:
                        more = listed.receive_nowait()
                    except (anyio.WouldBlock, anyio.EndOfStream):
                        break
                    batch.append(more)
                    size += len(more.specs)
                await self._write(batch)

    async def _write(self, batch: list[_Listed]) -> None:
        specs = [spec for entry in batch for spec in entry.specs]
        result = self._result
        if specs:
            result.upserts += await self._store.upsert_items(specs)
        for entry in batch:
            await self._store.mark_discovered(entry.scope)
            if entry.is_version:
                result.versions += 1
        result.files += len(specs)
        result.bytes += sum(s.size for s in specs)
        await self._report()


async def _hand_over(out: MemoryObjectSendStream[_Listed], listed: _Listed) -> None:
    """Queue ``listed`` for the writer; a writer that is gone failed, and its own error is the
    one the task group raises, so this task just stops."""
    with contextlib.suppress(anyio.BrokenResourceError):
        await out.send(listed)


async def discover(
    source: Source,
    store: CheckpointStore,
    *,
    subject: str,
    repo_key_template: str,
    properties: PropertyMapper | None = None,
    skip_repos: Mapping[str, str] | None = None,
    on_progress: Callable[[DiscoveryResult], Awaitable[None] | None] | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    batch_items: int = _BATCH_ITEMS,
) -> DiscoveryResult:
    """Walk ``source`` (which applies the repository/package/version filters) and upsert
    every file into ``store``; returns what was found.

    Repositories, packages and versions are read in parallel (see the module docstring for
    the bounds). Repositories whose target key is in ``skip_repos`` (key → reason: the
    repositories phase found the key taken by an incompatible repository) are not walked and
    land in ``unmappable_repos``.
    """
    result = DiscoveryResult()
    pass_number = await _current_pass(store)
    width = max(1, concurrency)
    # Acquired before a task is spawned and released when it ends: a repository with a
    # hundred thousand versions never has more than ``width`` version tasks alive.
    version_slots = anyio.Semaphore(width)
    package_slots = anyio.Semaphore(max(1, width // 2))

    async def report() -> None:
        if on_progress is not None:
            maybe = on_progress(result)
            if maybe is not None:
                await maybe

    async def read_version(
        repo: SourceRepository, package: SourcePackage, version: str
    ) -> tuple[list[SourceFile], SourceVersion | None]:
        """The version's files and, when properties need it, the version (both at once)."""
        files: list[SourceFile] = []
        about: SourceVersion | None = None

        async def list_files() -> None:
            nonlocal files
            files = await source.list_version_files(repo.name, package.name, version)

        async def get_version() -> None:
            nonlocal about
            about = await source.get_version(repo.name, package.name, version)

        async with anyio.create_task_group() as group:
            group.start_soon(list_files)
            if properties is not None:
                group.start_soon(get_version)
        return files, about

    async def one_version(
        out: MemoryObjectSendStream[_Listed],
        repo: SourceRepository,
        target_repo: str,
        package: SourcePackage,
        version: str,
    ) -> None:
        scope = f"{pass_number}:{repo.name}/{package.name}/{version}"
        try:
            async with out:
                if await store.is_discovered(scope):
                    result.versions_skipped += 1
                    return
                try:
                    files, version_info = await read_version(repo, package, version)
                except Exception as error:
                    if not_there(error) is None:
                        raise
                    # deleted at the source since its package was listed: nothing to list
                    # (files listed by an earlier pass end skipped when their copy finds them gone)
                    files, version_info = [], None
                mapped: Sequence[Mapping[str, Sequence[str]] | None] = [None] * len(files)
                if properties is not None and files and version_info is not None:
                    mapped = await properties(repo, package, version_info, files)
                specs = [
                    ItemSpec.from_source(
                        f,
                        target_repo=target_repo,
                        target_path=f.path,
                        properties=props,
                        phase=claim_phase(f.path),
                    )
                    for f, props in zip(files, mapped, strict=True)
                ]
                await _hand_over(out, _Listed(scope, specs))
        finally:
            version_slots.release()

    async def one_package(
        out: MemoryObjectSendStream[_Listed], repo: SourceRepository, target_repo: str, name: str
    ) -> None:
        # Scopes of versions have one more segment, so a package's scope never equals one.
        scope = f"{pass_number}:{repo.name}/{name}"
        try:
            async with out:
                if await store.is_discovered(scope):
                    result.packages_skipped += 1
                    return
                try:
                    package = await source.get_package(repo.name, name)
                except Exception as error:
                    if not_there(error) is None:
                        raise
                    return  # deleted at the source since the repository was listed
                if package.linked:
                    entry = link_entry(
                        package,
                        repo,
                        kept.get(package.owner_repo),
                        subject=subject,
                        repo_key_template=repo_key_template,
                    )
                    await record_unmigratable(store, [entry])
                    result.links += 1
                    return
                result.packages += 1
                async with anyio.create_task_group() as group:
                    for version in package.versions:
                        await version_slots.acquire()
                        group.start_soon(
                            one_version, out.clone(), repo, target_repo, package, version
                        )
                # after every version of the package: the writer keeps this order
                await _hand_over(out, _Listed(scope, is_version=False))
        finally:
            package_slots.release()

    async def one_repository(
        out: MemoryObjectSendStream[_Listed], repo: SourceRepository, target_repo: str
    ) -> None:
        async with out, anyio.create_task_group() as group:
            try:
                async for name in source.iter_packages(repo.name):
                    await package_slots.acquire()
                    group.start_soon(one_package, out.clone(), repo, target_repo, name)
            except Exception as error:
                if not_there(error) is None:
                    raise
                # renamed, deleted or hidden at the source since the listing of repositories

    send, receive = anyio.create_memory_object_stream[_Listed](width)
    writer = _Writer(store, result, report, batch_items)
    async with anyio.create_task_group() as stages:
        stages.start_soon(writer.run, receive)
        async with send, anyio.create_task_group() as walkers:
            repositories = await source.list_repositories()
            kept = {repo.name: repo for repo in repositories}
            for repo in repositories:
                try:
                    target_repo = map_repo_key(
                        repo_key_template, repo=repo.name, subject=subject, repo_type=repo.type
                    )
                except ValueError as error:
                    result.unmappable_repos[repo.name] = str(error)
                    continue
                if skip_repos and target_repo in skip_repos:
                    result.unmappable_repos[repo.name] = skip_repos[target_repo]
                    continue
                result.repositories += 1
                walkers.start_soon(one_repository, send.clone(), repo, target_repo)
    await store.set_meta(_PASS_DONE_KEY, str(pass_number))
    await report()
    return result
