"""Discovery: walk the source and write every file into the store as an item, as it goes.

Streaming: one version's file list at a time is held in memory, never the whole listing.
Resumable: each version is marked discovered once its files are in the store, under the
current *pass*; a killed discovery continues with the next unmarked version. A new pass starts
when the previous one completed, so a re-run sees files the source gained since (the store's
upsert leaves unchanged items alone and re-opens changed ones).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

import anyio

from transfer.checkpoint.base import CheckpointStore, ItemSpec, UpsertCounts
from transfer.migrate.links import link_entry
from transfer.migrate.unmigratable import record_unmigratable
from transfer.models import SourceFile
from transfer.pipeline.planner import claim_phase, map_repo_key
from transfer.sources.base import Source, SourcePackage, SourceRepository, SourceVersion

__all__ = ["DiscoveryResult", "PropertyMapper", "discover", "discovery_complete"]

_PASS_KEY = "discovery_pass"
_PASS_DONE_KEY = "discovery_pass_complete"

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
    raw = await store.get_meta(_PASS_KEY)
    return bool(raw) and await store.get_meta(_PASS_DONE_KEY) == raw


async def discover(
    source: Source,
    store: CheckpointStore,
    *,
    subject: str,
    repo_key_template: str,
    properties: PropertyMapper | None = None,
    skip_repos: Mapping[str, str] | None = None,
    on_progress: Callable[[DiscoveryResult], Awaitable[None] | None] | None = None,
    concurrency: int = 4,
) -> DiscoveryResult:
    """Walk ``source`` (which applies the repository/package/version filters) and upsert
    every file into ``store``; returns what was found.

    Up to ``concurrency`` versions are listed at once; each version's files are written in
    one store call and the version is marked discovered right after. Repositories whose
    target key is in ``skip_repos`` (key → reason: the repositories phase found the key taken
    by an incompatible repository) are not walked and land in ``unmappable_repos``.
    """
    result = DiscoveryResult()
    pass_number = await _current_pass(store)
    # Acquired before a version task is spawned and released when it ends, so a repository
    # with a hundred thousand versions never has more than ``concurrency`` tasks alive.
    slots = anyio.Semaphore(max(1, concurrency))

    async def report() -> None:
        if on_progress is not None:
            maybe = on_progress(result)
            if maybe is not None:
                await maybe

    async def one_version(
        repo: SourceRepository, target_repo: str, package: SourcePackage, version: str
    ) -> None:
        scope = f"{pass_number}:{repo.name}/{package.name}/{version}"
        try:
            if await store.is_discovered(scope):
                result.versions_skipped += 1
                return
            files = await source.list_version_files(repo.name, package.name, version)
            mapped: Sequence[Mapping[str, Sequence[str]] | None] = [None] * len(files)
            if properties is not None and files:
                version_info = await source.get_version(repo.name, package.name, version)
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
            if specs:
                result.upserts += await store.upsert_items(specs)
            await store.mark_discovered(scope)
            result.versions += 1
            result.files += len(specs)
            result.bytes += sum(s.size for s in specs)
        finally:
            slots.release()
        await report()

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
        async with anyio.create_task_group() as group:
            async for package_name in source.iter_packages(repo.name):
                package = await source.get_package(repo.name, package_name)
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
                    continue
                result.packages += 1
                for version in package.versions:
                    await slots.acquire()
                    group.start_soon(one_version, repo, target_repo, package, version)
    await store.set_meta(_PASS_DONE_KEY, str(pass_number))
    await report()
    return result
