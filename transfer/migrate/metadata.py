"""Metadata at discovery, and the properties phase for files whose properties did not travel.

:class:`MetadataMapper` is discovery's property hook: for each version it computes the
properties of every file (rules in :mod:`transfer.migrate.properties`) and they are stored on
the items, so they ride on the deploy — as matrix parameters when every value is safe there,
otherwise as one ``PATCH /api/metadata`` per file right after the deploy (the target client
defers them, the copy worker sends them). Package and version data come from the
``get_package``/``get_version`` calls discovery makes anyway: no extra request per file. File
attributes cost one Bintray call per file; they are remembered per version in the store, so a
re-run does not read them again.

:func:`apply_properties` is the properties phase: files recorded ``done`` as
``already_present`` (the target held them already, so no deploy carried their properties) get
one ``PATCH`` each, once; with ``everything`` (``transfer migrate --only properties``) every
done file is brought up to date with the properties now in the store.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import anyio

from transfer.checkpoint.base import CheckpointStore
from transfer.errors import NotFoundError, PermissionDenied, RateLimited, TransferError
from transfer.http.breaker import CircuitBreaker
from transfer.migrate.properties import (
    MAX_PROPERTY_VALUE_LENGTH,
    Properties,
    attribute_properties,
    debian_properties,
    file_properties,
    package_properties,
    property_key,
    split_long,
    version_properties,
)
from transfer.migrate.unmigratable import Unmigratable, record_unmigratable
from transfer.models import ItemState, SourceFile
from transfer.reporting.events import EventBus, PhaseFinished, PhaseProgress, PhaseStarted
from transfer.sources.base import (
    Source,
    SourceAttribute,
    SourcePackage,
    SourceRepository,
    SourceVersion,
)
from transfer.targets.base import Target

__all__ = [
    "APPLIED_PROPERTIES_KIND",
    "BOOKKEEPING_KINDS",
    "FILE_ATTRIBUTES_KIND",
    "CarriedPropertiesMapper",
    "FilePropertySource",
    "MetadataMapper",
    "PropertiesResult",
    "apply_properties",
]

FILE_ATTRIBUTES_KIND = "file_attributes"
"""Side-record kind remembering the file attributes read for one version."""
APPLIED_PROPERTIES_KIND = "properties"
"""Side-record kind of a file whose properties the properties phase set (key: repo/path)."""
BOOKKEEPING_KINDS = frozenset({FILE_ATTRIBUTES_KIND, APPLIED_PROPERTIES_KIND})
"""Side-record kinds that are caches, not results: a report shows counts of them at most."""
_PACKAGE_CACHE_SIZE = 256


def _encode_attributes(attributes: Sequence[SourceAttribute]) -> list[dict[str, Any]]:
    return [{"name": a.name, "type": a.type, "values": list(a.values)} for a in attributes]


def _decode_attributes(raw: Any) -> list[SourceAttribute]:
    if not isinstance(raw, list):
        return []
    return [
        SourceAttribute(str(a["name"]), str(a.get("type", "string")), tuple(a.get("values", ())))
        for a in raw
        if isinstance(a, dict) and "name" in a
    ]


class MetadataMapper:
    """The discovery hook (:data:`transfer.pipeline.discover.PropertyMapper`): the properties
    of every file of one version, from data discovery already fetched plus file attributes.

    Problems (values too long, renamed keys, data the source hid) are collected as
    :class:`Unmigratable` entries; :meth:`flush` writes them to the store as side records.
    ``file_attributes=False`` skips the one Bintray call per file that file attributes cost.
    """

    def __init__(
        self,
        source: Source,
        store: CheckpointStore,
        *,
        file_attributes: bool = True,
        concurrency: int = 4,
        max_value_length: int = MAX_PROPERTY_VALUE_LENGTH,
    ) -> None:
        self._source = source
        self._store = store
        self._file_attributes = file_attributes
        self._concurrency = max(1, concurrency)
        self._limit = max_value_length
        self._packages: OrderedDict[tuple[str, str], tuple[Properties, Properties]] = OrderedDict()
        self._written: set[str] = set()
        self.issues: dict[str, Unmigratable] = {}
        """Problems found so far, by side-record key."""

    def _note(self, entry: Unmigratable) -> None:
        self.issues.setdefault(entry.key, entry)

    def _package_level(
        self, repo: SourceRepository, package: SourcePackage
    ) -> tuple[Properties, Properties]:
        """(attributes, ``bintray.package.*`` fields) of a package, computed once."""
        cache_key = (repo.name, package.name)
        cached = self._packages.get(cache_key)
        if cached is None:
            cached = (
                self._renamed(package.attributes, f"{repo.name}/{package.name}"),
                package_properties(package),
            )
            self._packages[cache_key] = cached
            # Discovery finishes a package's versions before moving on: a few suffice.
            while len(self._packages) > _PACKAGE_CACHE_SIZE:
                self._packages.popitem(last=False)
            if package.raw and "github_repo" not in package.raw:  # empty: no such metadata
                self._note(_hidden_fields(repo.name))
        return cached

    def _renamed(self, attributes: Sequence[SourceAttribute], scope: str) -> Properties:
        for attribute in attributes:
            key = property_key(attribute.name)
            if not key:
                self._note(
                    Unmigratable(
                        key=f"property-key/{scope}/{attribute.name}",
                        category="property_key_empty",
                        what=f"an attribute of {scope} has an empty name; not set",
                        instead="Artifactory refuses a property without a key; name the "
                        "attribute in Bintray before migrating, or set the property by hand",
                    )
                )
            elif key != attribute.name:
                self._note(
                    Unmigratable(
                        key=f"property-key/{scope}/{attribute.name}",
                        category="property_key_renamed",
                        what=f"attribute '{attribute.name}' of {scope} is property '{key}'",
                        instead="Artifactory forbids some characters in property keys; "
                        "search for the new key (or rename the attribute's users)",
                    )
                )
        return attribute_properties(attributes)

    async def __call__(
        self,
        repo: SourceRepository,
        package: SourcePackage,
        version: SourceVersion,
        files: Sequence[SourceFile],
    ) -> list[Properties]:
        """The properties of each of ``files`` (one version), in the same order."""
        scope = f"{repo.name}/{package.name}/{version.name}"
        package_attributes, package_fields = self._package_level(repo, package)
        version_attributes = self._renamed(version.attributes, scope)
        version_fields = version_properties(version)
        if version.raw and "vcs_tag" not in version.raw:
            self._note(_hidden_fields(repo.name))
        by_path = await self._read_file_attributes(repo, package, version, files)
        mapped: list[Properties] = []
        for file in files:
            file_attributes = self._renamed(by_path.get(file.path, ()), f"{repo.name}/{file.path}")
            # Least specific first; the documented bintray.*/deb.* keys last so they always win.
            merged = {**package_attributes, **version_attributes, **file_attributes}
            merged.update(package_fields)
            merged.update(version_fields)
            merged.update(file_properties(file))
            merged.update(debian_properties(repo, file))
            sendable, too_long = split_long(merged, self._limit)
            for key, length in too_long.items():
                # Reported once where the value comes from, not once per file.
                if key in file_attributes:
                    where = f"{repo.name}/{file.path}"
                elif key in version_attributes or key in version_fields:
                    where = scope
                else:
                    where = f"{repo.name}/{package.name}"
                self._note(_too_long(key, where, length, self._limit))
            mapped.append(sendable)
        await self._write_issues()
        return mapped

    async def _write_issues(self) -> None:
        """Record new problems now: a version marked discovered is never mapped again."""
        fresh = [entry for key, entry in self.issues.items() if key not in self._written]
        if fresh:
            await record_unmigratable(self._store, fresh)
            self._written.update(entry.key for entry in fresh)

    async def _read_file_attributes(
        self,
        repo: SourceRepository,
        package: SourcePackage,
        version: SourceVersion,
        files: Sequence[SourceFile],
    ) -> dict[str, Sequence[SourceAttribute]]:
        if not self._file_attributes or not files:
            return {}
        record_key = f"{repo.name}/{package.name}/{version.name}"
        known = await self._store.get_side(FILE_ATTRIBUTES_KIND, record_key)
        read: set[str] = set()
        found: dict[str, Sequence[SourceAttribute]] = {}
        if known is not None:
            read = set(known.detail.get("read", ()))
            for path, raw in dict(known.detail.get("attributes", {})).items():
                found[path] = _decode_attributes(raw)
        missing = [f.path for f in files if f.path not in read]
        if not missing:
            return found
        slots = anyio.Semaphore(self._concurrency)

        async def one(path: str) -> None:
            try:
                attributes = await self._source.get_attributes(
                    "file", repo.name, package.name, version.name, path
                )
            except NotFoundError:
                attributes = []
            except RateLimited:
                raise
            except PermissionDenied as error:
                self._note(_refused(repo.name, error))
                return
            except TransferError as error:
                # Not marked read: the next run asks again.
                self._note(_unreadable(repo.name, path, error))
                return
            finally:
                slots.release()
            read.add(path)
            if attributes:
                found[path] = attributes

        async with anyio.create_task_group() as group:
            for path in missing:
                # Acquired before spawning, so a version of 10,000 files never has more than
                # ``concurrency`` tasks alive.
                await slots.acquire()
                group.start_soon(one, path)
        await self._store.record_side(
            FILE_ATTRIBUTES_KIND,
            record_key,
            "read",
            {
                "read": sorted(read),
                "attributes": {p: _encode_attributes(a) for p, a in sorted(found.items())},
            },
        )
        return found

    async def flush(self) -> int:
        """Write any problem not yet recorded; returns how many were found in all."""
        await self._write_issues()
        return len(self.issues)


@runtime_checkable
class FilePropertySource(Protocol):
    """A source whose files carry their own properties (another Artifactory)."""

    def file_properties(self, file: SourceFile) -> dict[str, list[str]]:
        """The properties ``file`` should have on the target."""
        ...


class CarriedPropertiesMapper:
    """The discovery hook for a :class:`FilePropertySource`: each file's own properties,
    as they are, minus values too long for the target (reported once per key and file)."""

    def __init__(
        self,
        source: FilePropertySource,
        store: CheckpointStore,
        *,
        max_value_length: int = MAX_PROPERTY_VALUE_LENGTH,
    ) -> None:
        self._source = source
        self._store = store
        self._limit = max_value_length
        self.issues: list[Unmigratable] = []

    async def __call__(
        self,
        repo: SourceRepository,
        package: SourcePackage,
        version: SourceVersion,
        files: Sequence[SourceFile],
    ) -> list[Properties]:
        """The properties of each of ``files``, in the same order."""
        mapped: list[Properties] = []
        fresh: list[Unmigratable] = []
        for file in files:
            sendable, too_long = split_long(self._source.file_properties(file), self._limit)
            where = f"{repo.name}/{file.path}"
            fresh.extend(_too_long(k, where, n, self._limit) for k, n in too_long.items())
            mapped.append(sendable)
        if fresh:
            await record_unmigratable(self._store, fresh)
            self.issues.extend(fresh)
        return mapped

    async def flush(self) -> int:
        """Problems are written as found; returns how many."""
        return len(self.issues)


def _too_long(key: str, where: str, length: int, limit: int) -> Unmigratable:
    return Unmigratable(
        key=f"property-too-long/{where}/{key}",
        category="property_too_long",
        what=f"property '{key}' of {where}: {length} characters, over the {limit} "
        "Artifactory accepts; not set",
        instead="keep the text in a file next to the artifact (release notes) or shorten it "
        "in Bintray before migrating",
        detail={"where": where, "property": key, "length": length},
    )


def _hidden_fields(repo: str) -> Unmigratable:
    return Unmigratable(
        key=f"restricted/publisher-fields/{repo}",
        category="restricted",
        what=f"publisher-only metadata of {repo} (github_repo, vcs_tag, '_'-prefixed "
        "attributes) was hidden from the source credentials",
        instead="re-run `transfer migrate` with a key that has publish rights on the "
        "repository, then `transfer migrate --only properties` to update files already copied",
        detail={"repo": repo},
    )


def _refused(repo: str, error: TransferError) -> Unmigratable:
    return Unmigratable(
        key=f"restricted/file-attributes/{repo}",
        category="restricted",
        what=f"file attributes of {repo} could not be read: {error}",
        instead="run with a key that may read file attributes, then `--only properties`",
        detail={"repo": repo},
    )


def _unreadable(repo: str, path: str, error: TransferError) -> Unmigratable:
    return Unmigratable(
        key=f"unreadable/file-attributes/{repo}/{path}",
        category="restricted",
        what=f"attributes of {repo}/{path} could not be read: {error}",
        instead="re-run the migration (they are read again), then `--only properties`",
        detail={"repo": repo, "path": path},
    )


@dataclass(slots=True)
class PropertiesResult:
    """What the properties phase did."""

    applied: int = 0
    unchanged: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    skipped: str = ""

    def summary(self) -> dict[str, int]:
        """Counts for the phase-finished event."""
        return {"applied": self.applied, "unchanged": self.unchanged, "failed": len(self.failed)}

    def note(self) -> str:
        """One line for the migration summary."""
        if self.skipped:
            return f"properties: skipped ({self.skipped})"
        counts = ", ".join(f"{v} {k}" for k, v in self.summary().items())
        tail = "" if self.applied else "; nothing changed"
        return f"properties: {counts}{tail}"


def _digest(properties: Mapping[str, Sequence[str]]) -> str:
    blob = json.dumps({k: list(v) for k, v in properties.items()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


async def apply_properties(
    store: CheckpointStore,
    target: Target,
    *,
    everything: bool = False,
    concurrency: int = 8,
    bus: EventBus | None = None,
    breaker: CircuitBreaker | None = None,
) -> PropertiesResult:
    """Set the stored properties on done files that did not get them with their deploy.

    Without ``everything`` only files recorded ``already_present`` are considered (no deploy
    carried their properties); with it, every done file but checksum files (not stored). A
    file is patched once per distinct property set (a side record remembers a digest of what
    was set), so a re-run sends nothing.
    Failures that are about the target rather than one file go to ``breaker``; once it trips,
    the phase stops sending (what is left is done by the next run).
    """
    result = PropertiesResult()
    if not target.capabilities.properties:
        result.skipped = "the target does not hold properties"
        return result
    if bus is not None:
        bus.emit(PhaseStarted(name="properties"))
    slots = anyio.Semaphore(max(1, concurrency))

    async def one(repo: str, path: str, properties: Mapping[str, Sequence[str]]) -> None:
        key = f"{repo}/{path}"
        digest = _digest(properties)
        try:
            known = await store.get_side(APPLIED_PROPERTIES_KIND, key)
            if known is not None and known.detail.get("digest") == digest:
                result.unchanged += 1
                return
            try:
                await target.set_properties(repo, path, properties)
            except TransferError as error:
                if breaker is not None and breaker.failure("target", error):
                    return
                result.failed[key] = str(error)
                await store.record_side(
                    APPLIED_PROPERTIES_KIND, key, "failed", {"error": str(error)}
                )
                return
            await store.record_side(
                APPLIED_PROPERTIES_KIND, key, "set", {"digest": digest, "keys": len(properties)}
            )
            result.applied += 1
            if breaker is not None:
                breaker.success()
        finally:
            slots.release()
            if bus is not None:
                steps = result.applied + result.unchanged + len(result.failed)
                bus.emit(PhaseProgress("properties", steps, 0, "files' properties"))

    async with anyio.create_task_group() as group:
        async for item in store.iter_items(states=[ItemState.DONE]):
            spec = item.spec
            if not spec.properties or not (everything or item.how == "already_present"):
                continue
            if breaker is not None and breaker.tripped is not None:
                break
            if item.how == "checksum_file":
                continue  # not a file in the target: Artifactory serves it from its artifact
            await slots.acquire()
            group.start_soon(one, spec.target_repo, spec.target_path, spec.properties)
    if bus is not None:
        bus.emit(PhaseFinished(name="properties", summary=result.summary()))
    return result
