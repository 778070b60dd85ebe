"""``transfer verify``: an independent audit of the target against a fresh source listing.

It trusts neither the checkpoint store nor earlier runs: it lists the source again, lists each
target repository (one deep listing per repository), and compares size, sha1 and sha256 per
path. Both listings go into a temporary SQLite file next to the report and are compared there
with SQL, so memory stays flat however many files there are. A source checksum file
(``X.sha1``...) counts as present when the target holds its ``X``: Artifactory lists no such
files, it serves them for every stored file (the migration checked their values).
"""

from __future__ import annotations

import csv
import functools
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import anyio

from transfer.errors import AuthError, TransferError, UnreachableError, UnusableService
from transfer.localfiles import AtomicFile, check_writable_dir
from transfer.pipeline.planner import checksum_file_of, map_repo_key
from transfer.sources.base import Source
from transfer.targets.base import TargetFile

__all__ = [
    "AUDIT_COLUMNS",
    "TARGET_TABLE",
    "AuditResult",
    "ListingTarget",
    "audit",
    "list_target",
    "scratch_database",
]

AUDIT_COLUMNS = (
    "status",
    "target_repo",
    "path",
    "source_repo",
    "package",
    "version",
    "source_size",
    "target_size",
    "source_sha1",
    "target_sha1",
    "source_sha256",
    "target_sha256",
    "detail",
)


class ListingTarget(Protocol):
    """A target that can list a whole repository (Artifactory's deep ``?list``)."""

    def iter_files(self, repo_key: str) -> AsyncIterator[TargetFile]:
        """Every file of the repository, one at a time as the listing arrives (none when it
        does not exist)."""
        ...


@dataclass(slots=True)
class AuditResult:
    """Counts per verdict and where the details went."""

    same: int = 0
    only_in_source: int = 0
    only_in_target: int = 0
    differs: int = 0
    errors: int = 0
    csv_path: Path | None = None
    error_details: list[str] = field(default_factory=list)
    reopened: int = 0
    """Items ``verify --repair`` sent back to pending."""

    @property
    def clean(self) -> bool:
        """True when every source file is in the target, equal, and nothing failed."""
        return not (self.only_in_source or self.differs or self.errors)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready counts."""
        return {
            "same": self.same,
            "only_in_source": self.only_in_source,
            "only_in_target": self.only_in_target,
            "differs": self.differs,
            "errors": self.errors,
            "csv": str(self.csv_path) if self.csv_path else None,
        }


TARGET_TABLE = """
CREATE TABLE tgt (target_repo TEXT, path TEXT, size INTEGER, sha1 TEXT, sha256 TEXT,
                  PRIMARY KEY (target_repo, path));
"""
"""The table :func:`list_target` fills: the files of target repositories, one row each."""

_SCHEMA = (
    """
CREATE TABLE src (target_repo TEXT, path TEXT, repo TEXT, package TEXT, version TEXT,
                  size INTEGER, sha1 TEXT, sha256 TEXT, artifact TEXT,
                  PRIMARY KEY (target_repo, path));
"""
    + TARGET_TABLE
)

_DIFFERS = """
SELECT 'differs', s.target_repo, s.path, s.repo, s.package, s.version, s.size, t.size,
       s.sha1, t.sha1, s.sha256, t.sha256, ''
FROM src s JOIN tgt t USING (target_repo, path)
WHERE (s.size IS NOT NULL AND t.size IS NOT NULL AND s.size != t.size)
   OR (s.sha1 != '' AND t.sha1 != '' AND lower(s.sha1) != lower(t.sha1))
   OR (s.sha256 != '' AND t.sha256 != '' AND lower(s.sha256) != lower(t.sha256))
"""
_ONLY_SOURCE = """
SELECT 'only_in_source', s.target_repo, s.path, s.repo, s.package, s.version, s.size, NULL,
       s.sha1, '', s.sha256, '', ''
FROM src s LEFT JOIN tgt t USING (target_repo, path) WHERE t.path IS NULL
AND NOT EXISTS (SELECT 1 FROM tgt a WHERE a.target_repo = s.target_repo AND a.path = s.artifact)
"""
_ONLY_TARGET = """
SELECT 'only_in_target', t.target_repo, t.path, '', '', '', NULL, t.size, '', t.sha1, '',
       t.sha256, ''
FROM tgt t LEFT JOIN src s USING (target_repo, path)
WHERE s.path IS NULL AND t.target_repo IN (SELECT DISTINCT target_repo FROM src)
"""
_SAME = """
SELECT (SELECT count(*) FROM src s JOIN tgt t USING (target_repo, path))
     + (SELECT count(*) FROM src s WHERE s.artifact != ''
        AND NOT EXISTS (SELECT 1 FROM tgt t
                        WHERE t.target_repo = s.target_repo AND t.path = s.path)
        AND EXISTS (SELECT 1 FROM tgt a
                    WHERE a.target_repo = s.target_repo AND a.path = s.artifact))
"""


async def audit(
    source: Source,
    target: ListingTarget,
    *,
    subject: str,
    repo_key_template: str,
    work_dir: Path,
    on_progress: Callable[[int], None] | None = None,
    checksum_files: bool = True,
) -> AuditResult:
    """Compare every source file with the target; write ``verify.csv`` into ``work_dir``.

    ``checksum_files``: the target serves checksum files itself (Artifactory) instead of
    storing them.
    """
    await anyio.to_thread.run_sync(check_writable_dir, work_dir, "the report directory")
    result = AuditResult(csv_path=work_dir / "verify.csv")
    async with scratch_database(work_dir / "verify.sqlite-tmp", _SCHEMA) as db:
        keys = await _list_source(
            source, db, (subject, repo_key_template, checksum_files), result, on_progress
        )
        for key in sorted(keys):
            try:
                await list_target(target, key, db)
            except (AuthError, UnreachableError, UnusableService):
                raise  # about the service, not this repository: the audit cannot go on
            except TransferError as error:
                result.errors += 1
                result.error_details.append(f"cannot list target repository {key}: {error}")
        await anyio.to_thread.run_sync(_compare, db, result)
    return result


@asynccontextmanager
async def scratch_database(path: Path, schema: str) -> AsyncIterator[sqlite3.Connection]:
    """A SQLite file at ``path`` for one job, made afresh with ``schema`` and removed after
    it: a listing too large for memory is compared there. Each call goes to whichever of
    anyio's worker threads is free, one at a time (hence ``check_same_thread=False``)."""
    await anyio.Path(path).unlink(missing_ok=True)
    connect = functools.partial(sqlite3.connect, str(path), check_same_thread=False)
    db = await anyio.to_thread.run_sync(connect)
    try:
        await anyio.to_thread.run_sync(db.executescript, schema)
        yield db
    finally:
        await anyio.to_thread.run_sync(db.close)
        await anyio.Path(path).unlink(missing_ok=True)


_TARGET_ROWS_PER_WRITE = 10_000
"""Target files written to the audit's database at once: what is held of a listing."""


async def list_target(target: ListingTarget, key: str, db: sqlite3.Connection) -> None:
    """Every file of target repository ``key`` into the ``tgt`` table (:data:`TARGET_TABLE`),
    a batch at a time as the listing arrives (a million-file repository is never held whole)."""
    rows: list[tuple[str, str, int | None, str | None, str | None]] = []

    async def write() -> None:
        await anyio.to_thread.run_sync(
            db.executemany, "INSERT OR REPLACE INTO tgt VALUES (?, ?, ?, ?, ?)", rows
        )
        rows.clear()

    async for f in target.iter_files(key):
        rows.append((key, f.path, f.size, f.checksums.sha1, f.checksums.sha256))
        if len(rows) >= _TARGET_ROWS_PER_WRITE:
            await write()
    await write()


def _artifact(path: str, checksum_files: bool) -> str:
    described = checksum_file_of(path) if checksum_files else None
    return described[0] if described else ""


async def _list_source(
    source: Source,
    db: sqlite3.Connection,
    mapping: tuple[str, str, bool],
    result: AuditResult,
    on_progress: Callable[[int], None] | None,
) -> set[str]:
    subject, template, checksum_files = mapping
    keys: set[str] = set()
    listed = 0
    for repo in await source.list_repositories():
        try:
            key = map_repo_key(template, repo=repo.name, subject=subject, repo_type=repo.type)
        except ValueError as error:
            result.errors += 1
            result.error_details.append(str(error))
            continue
        keys.add(key)
        async for package_name in source.iter_packages(repo.name):
            package = await source.get_package(repo.name, package_name)
            if package.linked:
                continue
            for version in package.versions:
                files = await source.list_version_files(repo.name, package.name, version)
                rows = [
                    (key, f.path, f.repo, f.package, f.version, f.size, f.sha1, f.sha256, side)
                    for f in files
                    for side in (_artifact(f.path, checksum_files),)
                ]
                await anyio.to_thread.run_sync(
                    db.executemany, "INSERT OR REPLACE INTO src VALUES (?,?,?,?,?,?,?,?,?)", rows
                )
                listed += len(rows)
                if on_progress is not None:
                    on_progress(listed)
    return keys


def _compare(db: sqlite3.Connection, result: AuditResult) -> None:
    assert result.csv_path is not None
    result.same = db.execute(_SAME).fetchone()[0]
    with AtomicFile(result.csv_path, "the verify report") as file:
        writer = csv.writer(file.handle)
        writer.writerow(AUDIT_COLUMNS)
        for query, attribute in (
            (_DIFFERS, "differs"),
            (_ONLY_SOURCE, "only_in_source"),
            (_ONLY_TARGET, "only_in_target"),
        ):
            count = 0
            for row in db.execute(query):
                writer.writerow(row)
                count += 1
            setattr(result, attribute, count)
        for detail in result.error_details:
            writer.writerow(("error", "", "", "", "", "", "", "", "", "", "", "", detail))
    result.same -= result.differs
