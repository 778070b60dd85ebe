"""A local tree as a source: ``root/<repository>/<path>``, for example a backup of Bintray.

``source.type = "directory"`` reads files from disk with aiofiles, one chunk at a time (memory
stays bounded by the chunk size, whatever the file's size); the pipeline hashes the chunks as
they pass, so nothing is read twice.

Layout.  Every folder directly under ``root`` is a repository (filtered by ``repos`` /
``exclude_repos``).  Inside it the first path segment is the package (``""`` for files lying
directly in the repository folder) and each folder under the package that holds files is a
version, named by its path inside the package (``root/tools/cli/1.0/x`` is package ``cli``,
version ``1.0``; a Bintray backup keeps Bintray's ``package/version/file`` layout this way).
A version lists only the files lying directly in its folder, so discovery holds one folder's
listing at a time and resumes folder by folder.  A file's path is what follows the repository
folder, so ``root/libs/a/b.jar`` lands at ``{target}/{repo_key}/a/b.jar``.  Files lying
directly in ``root`` belong to no repository and are reported (the manifest and the repository
settings live there).

Checksums.  An optional **manifest** (``manifest``, default ``root/.transfer-manifest`` when it
exists) declares them, one file per line, ``path size [checksum]`` with paths relative to
``root`` — the format of the ``http`` source, parsed by the same function
(:func:`transfer.sources.http_index.parse_manifest`; a path with spaces is percent-encoded,
so a literal ``%`` is written ``%25``).  A file the manifest lists is declared
with its sha256 (or sha1) and verified against it; a file whose size on disk differs from the
manifest's, and a manifest line with no file on disk, are reported and not copied.  Without a
manifest a file is verified end to end by its size and by the digests computed while reading,
compared with what the target reports.

Changes.  Each listed file carries its modification time (``extra["revision"]``).  Opening it
checks the open file still has the listed size and time, and so does reaching its end; a file
that changed in between fails the item (:class:`~transfer.errors.SourceChanged`, not retried)
and the next run lists it anew.  A re-run lists the tree again (``stat`` only, no reads) and
the store re-opens exactly the files whose size or modification time changed.

Repository settings.  An optional TOML file (``repo_settings``, default
``root/.transfer-repos.toml`` when it exists) gives each repository a package type, a
description and whether it is public (anonymous read on the target)::

    [repositories.libs-release]
    package_type = "maven"        # default "generic"
    description = "Releases kept from Bintray"
    public = false                # default false

What is never followed.  Symbolic links (even those pointing inside ``root``: a link is a
second name for bytes copied elsewhere, or an escape), FIFOs, sockets, devices, unreadable
files or folders and names that are not valid UTF-8 are left out and reported
(:meth:`DirectorySource.skipped_files`).  Reading walks the path one component at a time with
``O_NOFOLLOW``, so a link put in place after the listing is refused too, and a FIFO is opened
non-blocking and refused.
"""

from __future__ import annotations

import errno
import os
import stat
import tomllib
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import aiofiles
import anyio
from aiofiles.threadpool.binary import AsyncBufferedReader

from transfer.checkpoint.base import REVISION
from transfer.errors import ConfigError, NotFoundError, SourceChanged, UnreadableFile
from transfer.models import SourceFile
from transfer.settings import Settings
from transfer.sources.base import (
    NoAttributes,
    SkippedFile,
    SourcePackage,
    SourceRepository,
    SourceVersion,
    matches_globs,
    normalize_repo_type,
)
from transfer.sources.http_index import parse_manifest

__all__ = [
    "DEFAULT_MANIFEST",
    "DEFAULT_REPO_SETTINGS",
    "DirectorySource",
    "RepositorySettings",
    "load_repo_settings",
]

DEFAULT_MANIFEST: Final = ".transfer-manifest"
"""The manifest read from ``root`` when ``manifest`` is not set and this file exists."""
DEFAULT_REPO_SETTINGS: Final = ".transfer-repos.toml"
"""The repository settings read from ``root`` when ``repo_settings`` is not set."""

_SETTINGS_KEYS: Final = frozenset({"package_type", "description", "public"})
_NOFOLLOW: Final = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK: Final = getattr(os, "O_NONBLOCK", 0)
_DIRECTORY: Final = getattr(os, "O_DIRECTORY", 0)

Declared = tuple[int, str, str]
"""(size, sha1, sha256) a manifest declares for one file."""


@dataclass(frozen=True, slots=True)
class RepositorySettings:
    """What the repository settings file says about one repository."""

    package_type: str = "generic"
    description: str = ""
    public: bool = False


def load_repo_settings(path: Path) -> dict[str, RepositorySettings]:
    """Repository name → settings, from ``[repositories.<name>]`` tables; a file that is not
    valid TOML or holds an unknown key is a :class:`~transfer.errors.ConfigError`."""
    try:
        tree = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the repository settings: {error}") from None
    tables = tree.get("repositories", {})
    unknown = sorted(set(tree) - {"repositories"})
    if unknown or not isinstance(tables, dict):
        raise ConfigError(f"{path}: expected only [repositories.<name>] tables, got {unknown}")
    found: dict[str, RepositorySettings] = {}
    for name, table in tables.items():
        where = f"{path}: [repositories.{name}]"
        if not isinstance(table, dict):
            raise ConfigError(f"{where} must be a table")
        extra = sorted(set(table) - _SETTINGS_KEYS)
        if extra:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(extra)}; use {_keys()}")
        package_type = table.get("package_type", "generic")
        description = table.get("description", "")
        public = table.get("public", False)
        if not isinstance(package_type, str) or not isinstance(description, str):
            raise ConfigError(f"{where}: package_type and description are strings")
        if not isinstance(public, bool):
            raise ConfigError(f"{where}: public is true or false")
        found[name] = RepositorySettings(normalize_repo_type(package_type), description, public)
    return found


def _keys() -> str:
    return ", ".join(sorted(_SETTINGS_KEYS))


def _printable(name: str) -> str:
    """A name from disk as text, undecodable bytes shown as ``\\xNN``."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def _name_problem(name: str) -> str | None:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "name is not valid UTF-8"
    return None


def _kind_problem(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "symbolic link (never followed)"
    if stat.S_ISFIFO(mode):
        return "FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device file"
    return "not a regular file"


@dataclass(slots=True)
class _Scan:
    """One folder read from disk: sub-folders, files ``(name, size, mtime_ns)``, and what was
    left out ``(name, reason)``."""

    folders: list[str]
    files: list[tuple[str, int, int]]
    skipped: list[tuple[str, str]]


def _scan(folder: Path) -> _Scan:
    """Read one folder without following links (blocking: run in a worker thread)."""
    found = _Scan([], [], [])
    with os.scandir(folder) as entries:
        for entry in entries:
            problem = _name_problem(entry.name)
            if problem is not None:
                found.skipped.append((entry.name, problem))
                continue
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError as error:
                found.skipped.append((entry.name, f"cannot be read: {error.strerror}"))
                continue
            if stat.S_ISDIR(info.st_mode):
                found.folders.append(entry.name)
            elif not stat.S_ISREG(info.st_mode):
                found.skipped.append((entry.name, _kind_problem(info.st_mode)))
            elif not os.access(entry.path, os.R_OK):
                found.skipped.append((entry.name, "cannot be read: permission denied"))
            else:
                found.files.append((entry.name, info.st_size, info.st_mtime_ns))
    found.folders.sort()
    found.files.sort()
    return found


def _folders(top: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """The folders under ``top`` that hold files, as paths relative to it (``""``: ``top``
    itself), sorted, and every entry left out on the way as ``(relative path, reason)``;
    links are never followed (blocking: run in a worker thread)."""
    holding: list[str] = []
    skipped: list[tuple[str, str]] = []
    pending = [(top, "")]
    while pending:
        folder, inner = pending.pop()
        try:
            scan = _scan(folder)
        except OSError as error:
            skipped.append((inner, f"folder cannot be read: {error.strerror}"))
            continue
        if scan.files:
            holding.append(inner)
        skipped += [(_joined(inner, _printable(name)), why) for name, why in scan.skipped]
        pending += [(folder / name, _joined(inner, name)) for name in reversed(scan.folders)]
    holding.sort()
    return holding, skipped


def _joined(*parts: str) -> str:
    return "/".join(part for part in parts if part)


def _open_beneath(root: Path, parts: list[str]) -> int:
    """A read-only descriptor of ``root/parts...``, refusing a link at every step, a special
    file, and any component that could leave ``root`` (blocking)."""
    if not parts or any(part in ("", ".", "..") or "/" in part for part in parts):
        raise FileNotFoundError(errno.ENOENT, "not a path inside the root", "/".join(parts))
    fd = os.open(root, os.O_RDONLY | _DIRECTORY)
    try:
        for part in parts[:-1]:
            child = os.open(part, os.O_RDONLY | _DIRECTORY | _NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = child
        leaf = os.open(parts[-1], os.O_RDONLY | _NOFOLLOW | _NONBLOCK, dir_fd=fd)
    finally:
        os.close(fd)
    mode = os.fstat(leaf).st_mode
    if not stat.S_ISREG(mode):
        os.close(leaf)
        raise SourceChanged(f"{'/'.join(parts)} is now a {_kind_problem(mode)}")
    os.set_blocking(leaf, True)
    return leaf


def _os_error(error: OSError, where: str) -> Exception:
    """The engine's error for a failed open or read of a local file (never a service error:
    one unreadable file says nothing about the others)."""
    if isinstance(error, FileNotFoundError | NotADirectoryError):
        return NotFoundError(f"{where}: no such file", status=404, url=where)
    if error.errno == errno.ELOOP:
        return SourceChanged(f"{where}: a symbolic link is in the way (never followed)")
    return UnreadableFile(f"{where}: {error.strerror or error}")


class FileDownload:
    """One open local file (see :class:`transfer.sources.base.Download`); its end checks the
    file still is what the listing saw."""

    def __init__(self, handle: AsyncBufferedReader, file: SourceFile, where: str) -> None:
        self._handle = handle
        self._file = file
        self._where = where

    @property
    def size(self) -> int | None:
        """The listed size (checked against the open file)."""
        return self._file.size

    @property
    def url(self) -> str:
        """``file://`` and the path under the root (no absolute path: it may name a user)."""
        return f"file://{self._where}"

    async def chunks(self, chunk_size: int) -> AsyncIterator[bytes]:
        """The bytes in chunks of at most ``chunk_size``; then the size and time are checked."""
        while True:
            try:
                chunk = await self._handle.read(chunk_size)
            except OSError as error:
                raise _os_error(error, self._where) from error
            if not chunk:
                break
            yield chunk
        await self.check_unchanged()

    async def check_unchanged(self) -> None:
        """:class:`SourceChanged` unless the open file has the listed size and mtime."""
        info = await anyio.to_thread.run_sync(os.fstat, self._handle.fileno())
        revision = self._file.extra.get(REVISION)
        if info.st_size != self._file.size or (
            revision is not None and str(info.st_mtime_ns) != str(revision)
        ):
            raise SourceChanged(
                f"{self._where} changed after it was listed (size {self._file.size} → "
                f"{info.st_size}, or its modification time); the next run lists it again"
            )


class DirectorySource(NoAttributes):
    """Files under ``root``, one folder per repository (see the module docstring).

    ``manifest`` and ``repo_settings`` are optional files (``None``: the default names in
    ``root``, when present).  Use as ``async with DirectorySource(root) as source:``.
    """

    def __init__(
        self,
        root: Path,
        *,
        manifest: Path | None = None,
        repo_settings: Path | None = None,
        repos: Iterable[str] = ("*",),
        exclude_repos: Iterable[str] = (),
    ) -> None:
        self.root = root
        self._manifest_path = manifest
        self._settings_path = repo_settings
        self._repos = tuple(repos)
        self._exclude = tuple(exclude_repos)
        # repo -> package -> path inside the repository -> declared (size, sha1, sha256)
        self._declared: dict[str, dict[str, dict[str, Declared]]] = {}
        self._settings: dict[str, RepositorySettings] = {}
        self._skipped: dict[tuple[str, str], SkippedFile] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> DirectorySource:
        """The source ``[source] type = "directory"`` describes."""
        s = settings.source
        assert s.root is not None  # SourceSettings requires it for this type
        return cls(
            s.root,
            manifest=s.manifest,
            repo_settings=s.repo_settings,
            repos=s.repos,
            exclude_repos=s.exclude_repos,
        )

    async def __aenter__(self) -> DirectorySource:
        if not await anyio.to_thread.run_sync(self.root.is_dir):
            raise ConfigError(f"source.root {self.root} is not a folder")
        manifest = self._manifest_path or self.root / DEFAULT_MANIFEST
        if self._manifest_path is not None or await anyio.to_thread.run_sync(manifest.is_file):
            self._declared = await anyio.to_thread.run_sync(self._read_manifest, manifest)
        settings = self._settings_path or self.root / DEFAULT_REPO_SETTINGS
        if self._settings_path is not None or await anyio.to_thread.run_sync(settings.is_file):
            self._settings = await anyio.to_thread.run_sync(load_repo_settings, settings)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    @staticmethod
    def _read_manifest(path: Path) -> dict[str, dict[str, dict[str, Declared]]]:
        try:
            rows = parse_manifest(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise ConfigError(f"{path}: cannot read the manifest: {error}") from None
        tree: dict[str, dict[str, dict[str, Declared]]] = {}
        for full, size, sha1, sha256 in rows:
            repo, _, inner = full.partition("/")
            folder = inner.rpartition("/")[0]
            tree.setdefault(repo, {}).setdefault(folder, {})[inner] = (size, sha1, sha256)
        return tree

    # -- what was left out -------------------------------------------------------------------

    def _skip(self, repo: str, path: str, reason: str) -> None:
        self._skipped.setdefault((repo, path), SkippedFile(repo, path, reason))

    def skipped_files(self) -> list[SkippedFile]:
        """Every entry the listing left out so far, and why (for the report)."""
        return list(self._skipped.values())

    # -- listing -----------------------------------------------------------------------------

    async def _scan(self, folder: Path, repo: str, inner: str) -> _Scan:
        try:
            scan = await anyio.to_thread.run_sync(_scan, folder)
        except OSError as error:
            self._skip(repo, inner, f"folder cannot be read: {error.strerror}")
            return _Scan([], [], [])
        for name, why in scan.skipped:
            self._skip(repo, _joined(inner, _printable(name)), why)
        return scan

    async def list_repositories(self) -> list[SourceRepository]:
        """Every folder under ``root`` the filters keep, with its settings; files lying in
        ``root`` itself (other than the manifest and settings) are reported."""
        scan = await self._scan(self.root, "", "")
        own = {DEFAULT_MANIFEST, DEFAULT_REPO_SETTINGS}
        for name, _, _ in scan.files:
            if name not in own and (self.root / name) not in (
                self._manifest_path,
                self._settings_path,
            ):
                self._skip("", name, "lies in the root, outside any repository folder")
        kept = [name for name in scan.folders if matches_globs(name, self._repos, self._exclude)]
        for repo in sorted(set(self._declared) - set(scan.folders)):
            if matches_globs(repo, self._repos, self._exclude):
                self._skip(repo, "", "listed in the manifest, but no such folder")
        return [self._repository(name) for name in kept]

    def _repository(self, name: str) -> SourceRepository:
        found = self._settings.get(name, RepositorySettings())
        return SourceRepository(
            name,
            found.package_type,
            private=not found.public,
            desc=found.description,
            labels=(),
            raw={"package_type": found.package_type},
        )

    async def iter_packages(self, repo: str) -> AsyncIterator[str]:
        """The sub-folders of the repository folder, and ``""`` when it holds files itself."""
        scan = await self._scan(self.root / repo, repo, "")
        declared = self._declared.get(repo, {})
        if scan.files or "" in declared:
            yield ""
        for name in scan.folders:
            yield name
        listed = {folder.split("/", 1)[0] for folder in declared if folder}
        for package in sorted(listed - set(scan.folders)):
            self._skip(repo, package, "listed in the manifest, but no such folder")

    async def get_package(self, repo: str, name: str) -> SourcePackage:
        """A package whose versions are the folders under it that hold files, named by their
        path inside the package (``""``: the package folder itself); the repository's own
        files (package ``""``) form the single version ``""``."""
        if not name:
            return SourcePackage(repo, name, versions=("",))
        try:
            holding, left_out = await anyio.to_thread.run_sync(_folders, self.root / repo / name)
        except OSError as error:
            self._skip(repo, name, f"folder cannot be read: {error.strerror}")
            holding, left_out = [], []
        for path, why in left_out:
            self._skip(repo, _joined(name, path), why)
        found = {_joined(name, version) for version in holding}
        for folder, declared in self._declared.get(repo, {}).items():
            if (folder == name or folder.startswith(f"{name}/")) and folder not in found:
                for path in sorted(declared):
                    self._skip(repo, path, "listed in the manifest, but not on disk")
        return SourcePackage(repo, name, versions=tuple(holding))

    async def get_version(self, repo: str, package: str, version: str) -> SourceVersion:
        """A published version (a folder has no other state)."""
        return SourceVersion(repo, package, version, published=True)

    async def list_version_files(self, repo: str, package: str, version: str) -> list[SourceFile]:
        """The files lying directly in the version's folder (links never followed), with the
        manifest's checksums where it has them."""
        folder = _joined(package, version)
        scan = await self._scan(self.root / repo / folder, repo, folder)
        declared = dict(self._declared.get(repo, {}).get(folder, {}))
        files = []
        for name, size, mtime_ns in scan.files:
            path = _joined(folder, name)
            expected = declared.pop(path, None)
            if expected is not None and expected[0] != size:
                self._skip(repo, path, f"{size} bytes on disk, the manifest says {expected[0]}")
                continue
            sha1, sha256 = (expected[1], expected[2]) if expected else ("", "")
            revision = {REVISION: str(mtime_ns)}
            files.append(
                SourceFile(repo, package, version, path, size, sha1, sha256, extra=revision)
            )
        for path in sorted(declared):
            self._skip(repo, path, "listed in the manifest, but not on disk")
        return files

    @asynccontextmanager
    async def open_download(self, file: SourceFile) -> AsyncIterator[FileDownload]:
        """The file opened beneath ``root`` (no link followed on the way), checked to be the
        regular file of the listed size and time."""
        where = f"{file.repo}/{file.path}"
        parts = [file.repo, *file.path.split("/")]
        try:
            fd = await anyio.to_thread.run_sync(_open_beneath, self.root, parts)
        except OSError as error:
            raise _os_error(error, where) from error
        try:
            handle = await aiofiles.open(fd, "rb")
        except BaseException:
            os.close(fd)
            raise
        try:
            download = FileDownload(handle, file, where)
            await download.check_unchanged()
            yield download
        finally:
            with anyio.CancelScope(shield=True):
                await handle.close()
