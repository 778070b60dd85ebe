"""A plain HTTP server as a source: files listed by nginx's JSON autoindex, or by a manifest.

``source.type = "http"`` reads files from any server that answers ``GET {download_url}/{path}``
(nginx, a CDN, an S3 website).  The listing comes from one of two places:

* **autoindex** (the default, ``api_url`` left unset or equal to ``download_url``): directories
  are crawled through nginx's ``autoindex on; autoindex_format json;`` answers
  (``[{"name", "type": "file"|"directory", "size"}]``); sizes come from the listing, no
  checksums are declared, so a file is verified by its size, and by a digest computed while
  streaming only when the target reports one to compare it with.
* **manifest** (``api_url`` set to another URL that does not answer JSON): one file per line,
  ``path size [checksum]``, the checksum a 64-hex sha256 or a 40-hex sha1, ``#`` comments and
  blank lines ignored, paths relative to ``download_url`` and percent-encoded or not (a path
  with spaces must be percent-encoded).  Declared checksums are then verified too.

The Bintray model is derived from the path, simply: the first path segment is the repository
(filtered by ``repos``/``exclude_repos``), the second the package (``""`` for files directly in
the repository folder), the version is always ``""``, and the file's path is what follows the
repository segment, so ``{download_url}/{repo}/{path}`` lands at ``{target}/{repo_key}/{path}``.
Files at the very root belong to a repository named after ``subject`` (unless a top folder
has that name: then the folder is the repository and the root's own files are left out).
There are no attributes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote, unquote

import anyio

from transfer.errors import RemoteError
from transfer.http import BasicAuth, HttpClient, HttpClientOwner, RetryPolicy, Timeouts
from transfer.models import SourceFile
from transfer.redaction import redact_url
from transfer.settings import Settings, SourceSettings
from transfer.sources.base import (
    NoAttributes,
    SourcePackage,
    SourceRepository,
    SourceVersion,
    matches_globs,
)
from transfer.sources.streamed import DOWNLOAD_HEADERS, StreamedDownload

__all__ = ["HttpIndexSource", "parse_autoindex", "parse_manifest"]

_USER_AGENT = "transfer/0.1 (http-source)"
_DEFAULT_API_URL = str(SourceSettings.__dataclass_fields__["api_url"].default)
_HEX = frozenset("0123456789abcdef")


def parse_autoindex(entries: Any) -> tuple[list[str], list[tuple[str, int]]]:
    """(sub-directory names, (file name, size) pairs) of one nginx JSON autoindex answer.

    Entries of another type (``other``: sockets, broken links) and names that could escape the
    folder (``.``, ``..``, a ``/``) are left out.
    """
    if not isinstance(entries, list):
        raise TypeError("an nginx JSON autoindex is a list of entries")
    folders: list[str] = []
    files: list[tuple[str, int]] = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        name = str(entry.get("name", ""))
        if name in ("", ".", "..") or "/" in name:
            continue
        if entry.get("type") == "directory":
            folders.append(name)
        elif entry.get("type") == "file":
            size = entry.get("size")
            files.append((name, size if isinstance(size, int) and size >= 0 else -1))
    return folders, files


def _checksum(word: str) -> tuple[str, str]:
    """(sha1, sha256) from a manifest's optional third word."""
    digest = word.lower()
    if not set(digest) <= _HEX or len(digest) not in (40, 64):
        raise ValueError(f"{word!r} is neither a sha256 (64 hex) nor a sha1 (40 hex)")
    return (digest, "") if len(digest) == 40 else ("", digest)


def _manifest_row(words: list[str]) -> tuple[str, int, str, str]:
    if len(words) not in (2, 3) or not words[1].isdigit():
        raise ValueError("expected `path size [sha256]`")
    sha1, sha256 = _checksum(words[2]) if len(words) == 3 else ("", "")
    return unquote(words[0]).strip("/"), int(words[1]), sha1, sha256


def parse_manifest(text: str) -> list[tuple[str, int, str, str]]:
    """(path, size, sha1, sha256) per line of ``path size [checksum]``; errors name the line."""
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        try:
            rows.append(_manifest_row(words))
        except ValueError as error:
            raise ValueError(f"manifest line {number}: {error}: {line[:120]!r}") from None
    return rows


def _encoded(path: str) -> str:
    return "/".join(quote(segment, safe="") for segment in path.split("/"))


class HttpIndexSource(NoAttributes, HttpClientOwner):
    """Files under ``download_url``, listed by autoindex or by the manifest at ``manifest_url``.

    ``repos``/``exclude_repos`` are fnmatch globs on the first path segment; ``subject`` names
    the repository of files at the root; ``crawl_concurrency`` bounds the autoindex requests
    one package listing has in flight.  Use as ``async with HttpIndexSource(...) as source:``.
    """

    def __init__(
        self,
        download_url: str,
        *,
        subject: str = "root",
        manifest_url: str | None = None,
        repos: Iterable[str] = ("*",),
        exclude_repos: Iterable[str] = (),
        client: HttpClient | None = None,
        timeouts: Timeouts | None = None,
        retry_policy: RetryPolicy | None = None,
        max_connections: int = 16,
        crawl_concurrency: int = 8,
    ) -> None:
        self.download_url = download_url.rstrip("/")
        self.subject = subject
        self.manifest_url = manifest_url
        self._repos = tuple(repos)
        self._exclude = tuple(exclude_repos)
        self._client = client or HttpClient(
            self.download_url,
            user_agent=_USER_AGENT,
            timeouts=timeouts,
            retry_policy=retry_policy,
            max_connections=max_connections,
        )
        self._crawl_slots = anyio.Semaphore(max(1, crawl_concurrency))
        # manifest mode: repo -> package -> files, read once
        self._manifest: dict[str, dict[str, list[SourceFile]]] | None = None
        self._root_files: bool | None = None  # autoindex mode: see _root_is_repo

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpIndexSource:
        """The source ``[source] type = "http"`` describes (``api_url``: a manifest, if set)."""
        s, t = settings.source, settings.transfer
        listing = s.api_url if s.api_url not in (_DEFAULT_API_URL, s.download_url) else None
        client = HttpClient(
            s.download_url,
            auth=BasicAuth(s.login, s.api_key) if s.api_key is not None else None,
            user_agent=_USER_AGENT,
            timeouts=Timeouts(connect=s.timeouts.connect, sock_read=s.timeouts.read),
            retry_policy=RetryPolicy(
                max_attempts=t.max_attempts, base_delay=t.backoff_base, max_delay=t.backoff_max
            ),
            max_connections=max(16, 2 * t.workers),
        )
        return cls(
            s.download_url,
            subject=s.subject,
            manifest_url=listing,
            repos=s.repos,
            exclude_repos=s.exclude_repos,
            client=client,
        )

    # -- listing ------------------------------------------------------------------------------

    async def _index(self, folder: str) -> tuple[list[str], list[tuple[str, int]]]:
        """One autoindex answer; ``folder`` is a decoded path relative to the root."""
        path = _encoded(folder) + "/" if folder else ""
        async with self._crawl_slots:
            response = await self._client.request("GET", self._client.url_for(path))
        try:
            return parse_autoindex(response.json())
        except TypeError as error:
            raise RemoteError(
                f"{redact_url(response.url)} is not an nginx JSON autoindex "
                "(`autoindex on; autoindex_format json;`)",
                status=response.status,
                url=redact_url(response.url),
            ) from error

    async def _load_manifest(self) -> dict[str, dict[str, list[SourceFile]]]:
        if self._manifest is None:
            assert self.manifest_url is not None
            response = await self._client.request("GET", self.manifest_url)
            tree: dict[str, dict[str, list[SourceFile]]] = {}
            try:
                rows = parse_manifest(response.text())
            except ValueError as error:
                url = redact_url(response.url)
                raise RemoteError(f"{url}: {error}", status=response.status, url=url) from None
            for path, size, sha1, sha256 in rows:
                repo, package, inner = self._split(path)
                tree.setdefault(repo, {}).setdefault(package, []).append(
                    self._file(repo, package, inner, path, size, sha1, sha256)
                )
            self._manifest = tree
        return self._manifest

    def _split(self, path: str) -> tuple[str, str, str]:
        """(repository, package, path inside the repository) of a root-relative path."""
        if "/" not in path:
            return self.subject, "", path
        repo, inner = path.split("/", 1)
        return repo, inner.split("/", 1)[0] if "/" in inner else "", inner

    def _file(
        self, repo: str, package: str, inner: str, full: str, size: int, sha1: str, sha256: str
    ) -> SourceFile:
        return SourceFile(
            repo, package, "", inner, size, sha1=sha1, sha256=sha256, extra={"url": _encoded(full)}
        )

    async def _root_is_repo(self) -> bool:
        """Whether files at the root form repository ``subject`` (a top folder of that name
        wins: its files are listed, the root's are not)."""
        if self._root_files is None:
            folders, files = await self._index("")
            self._root_files = bool(files) and self.subject not in folders
        return self._root_files

    async def list_repositories(self) -> list[SourceRepository]:
        """Every top folder the filters keep (plus ``subject`` when the root holds files)."""
        if self.manifest_url is not None:
            names = sorted(await self._load_manifest())
        else:
            folders, _ = await self._index("")
            names = sorted(folders) + ([self.subject] if await self._root_is_repo() else [])
        return [
            SourceRepository(name, "generic", private=False, desc="", labels=())
            for name in names
            if matches_globs(name, self._repos, self._exclude)
        ]

    async def iter_packages(self, repo: str) -> AsyncIterator[str]:
        """The sub-folders of the repository folder, and ``""`` when it holds files itself."""
        if self.manifest_url is not None:
            for name in sorted((await self._load_manifest()).get(repo, {})):
                yield name
            return
        if repo == self.subject and await self._root_is_repo():
            yield ""
            return
        folders, files = await self._index(repo)
        if files:
            yield ""
        for name in sorted(folders):
            yield name

    async def get_package(self, repo: str, name: str) -> SourcePackage:
        """A package with its single version ``""``."""
        return SourcePackage(repo, name, versions=("",))

    async def get_version(self, repo: str, package: str, version: str) -> SourceVersion:
        """The single, published version."""
        return SourceVersion(repo, package, version, published=True)

    async def list_version_files(self, repo: str, package: str, version: str) -> list[SourceFile]:
        """Every file of the package: its folder crawled recursively (autoindex), or the
        manifest's lines under it."""
        if self.manifest_url is not None:
            return list((await self._load_manifest()).get(repo, {}).get(package, []))
        if repo == self.subject and await self._root_is_repo():
            _, files = await self._index("")
            return [self._file(repo, "", n, n, size, "", "") for n, size in files]
        if not package:
            _, files = await self._index(repo)
            return [self._file(repo, "", n, f"{repo}/{n}", s, "", "") for n, s in files]
        found: list[SourceFile] = []

        async def crawl(inner: str) -> None:
            folders, files = await self._index(f"{repo}/{inner}")
            found.extend(
                self._file(repo, package, f"{inner}/{n}", f"{repo}/{inner}/{n}", s, "", "")
                for n, s in files
            )
            async with anyio.create_task_group() as group:
                for folder in folders:
                    group.start_soon(crawl, f"{inner}/{folder}")

        await crawl(package)
        found.sort(key=lambda f: f.path)
        return found

    @asynccontextmanager
    async def open_download(self, file: SourceFile) -> AsyncIterator[StreamedDownload]:
        """``GET {download_url}/{path}`` with ``Accept-Encoding: identity``."""
        url = str(file.extra.get("url") or _encoded(f"{file.repo}/{file.path}"))
        async with self._client.stream("GET", url, headers=DOWNLOAD_HEADERS) as response:
            yield StreamedDownload(response)
