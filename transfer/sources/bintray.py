"""The Bintray source: walks an organisation's repositories, packages, versions and files, and
streams file bodies from the download host.

One :class:`~transfer.http.HttpClient` (one connection pool) per host: the API host and the
download host.  Names are percent-encoded segment by segment (Conan's ``name:user``, spaces,
``+``, unicode).  The walk follows the reference's crawl plan (§12): packages page by page,
versions from each package's ``versions`` array, files per version with
``include_unpublished=1``.

Every API call of the source passes one :class:`~transfer.http.AdaptiveLimiter` (the
:attr:`BintraySource.api_limiter`): callers may ask for as much as they like at once, and the
number of calls in flight follows what the service shows — it grows while round trips stay
short of queueing, halves on 429 (or a spent rate limit) and when the quota runs low.
Package and version attributes ride on the package and version objects
(``attribute_values=1``), one call instead of two; when the answer does not carry them as a
list, the dedicated attributes endpoint is asked as before.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from types import TracebackType
from typing import Any

import anyio

from transfer.errors import ConfigError, NotFoundError
from transfer.http import (
    AdaptiveLimiter,
    Auth,
    BasicAuth,
    HttpClient,
    RateLimitInfo,
    RetryPolicy,
    Timeouts,
)
from transfer.models import SourceFile
from transfer.redaction import Secret
from transfer.sources.base import (
    AttributeKind,
    SourceAttribute,
    SourcePackage,
    SourceRepository,
    SourceVersion,
    matches_globs,
    normalize_attribute_type,
    normalize_repo_type,
    parse_bool,
)
from transfer.sources.bintray_api import BintrayApi
from transfer.sources.bintray_download import open_bintray_download
from transfer.sources.bintray_org import BintrayOrganizationReads
from transfer.sources.streamed import StreamedDownload

__all__ = ["BintraySource", "HttpFactory", "parse_attributes", "source_file"]

HttpFactory = Callable[[str, Auth | None], HttpClient]
"""Builds the (unopened) client for one host from its base URL and credentials."""

_USER_AGENT = "transfer/0.1 (bintray-source)"
API_CONCURRENCY = 256
"""The default ceiling of Bintray API calls in flight; the limiter finds the working level."""
_API_START = 16  # calls in flight before the service has said anything
_API_GROW_AFTER = 4  # successes in a row per extra call in flight
_API_LATENCY_TOLERANCE = 2.0  # round trips this much above the fastest: the service queues


def parse_attributes(raw: Any) -> list[SourceAttribute]:
    """``[{name, type, values}]`` → attributes with lower-case types and list values.

    Also accepts the object form ``{"name": [values]}`` the doc shows for ``attribute_values=1``.
    """
    if isinstance(raw, dict):
        raw = [{"name": k, "values": v} for k, v in raw.items()]
    attributes = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict) or "name" not in item:
            continue
        values = item.get("values")
        if not isinstance(values, list):
            values = [] if values is None else [values]
        attributes.append(
            SourceAttribute(
                name=str(item["name"]),
                type=normalize_attribute_type(item.get("type")),
                values=tuple(values),
            )
        )
    return attributes


def _size(value: Any) -> int:
    """Bytes from an int, a float or a decimal string; -1 (unknown) otherwise."""
    if isinstance(value, bool):
        return -1
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return -1


def source_file(
    raw: dict[str, Any], *, repo: str, package: str, version: str, published: bool
) -> SourceFile:
    """A :class:`SourceFile` from one file-list entry; keys it does not model go to ``extra``."""
    known = {"path", "repo", "package", "version", "size", "sha1", "sha256"}
    return SourceFile(
        repo=str(raw.get("repo") or repo),
        package=str(raw.get("package") or package),
        version=str(raw.get("version") or version),
        path=str(raw["path"]),
        size=_size(raw.get("size")),
        sha1=str(raw.get("sha1") or "").lower(),
        sha256=str(raw.get("sha256") or "").lower(),
        published=parse_bool(raw.get("published"), default=published),
        extra={k: v for k, v in raw.items() if k not in known},
    )


class BintraySource(BintrayOrganizationReads):
    """A Bintray organisation (``subject``) read through its REST API and download host.

    ``user`` + ``api_key`` authenticate with Basic auth (without ``user`` the subject is the
    login, as Bintray clients do); without ``api_key`` the source is anonymous.  ``repos``,
    ``exclude_repos``, ``packages`` and ``versions`` are case-sensitive fnmatch globs.
    ``page_size`` is the server's page size: a full page without paging headers is noted in
    :attr:`warnings`.  ``api_concurrency`` caps the API calls in flight (the adaptive limit
    moves below it); ``download_connections`` the connections of the download client, which
    follows each download's redirect to the CDN host (one copy in flight holds one, kept alive
    between files).  Use as ``async with BintraySource(...) as source:``.
    """

    def __init__(
        self,
        api_url: str,
        download_url: str,
        subject: str,
        user: str | None = None,
        api_key: Secret | None = None,
        *,
        page_size: int = 50,
        include_unpublished: bool = True,
        repos: Iterable[str] = ("*",),
        exclude_repos: Iterable[str] = (),
        packages: Iterable[str] = ("*",),
        versions: Iterable[str] = ("*",),
        timeouts: Timeouts | None = None,
        verify_tls: bool = True,
        retry_policy: RetryPolicy | None = None,
        http_factory: HttpFactory | None = None,
        api_concurrency: int = API_CONCURRENCY,
        download_connections: int = 16,
    ) -> None:
        self.subject = subject
        self.include_unpublished = include_unpublished
        self._repos = tuple(repos)
        self._exclude_repos = tuple(exclude_repos)
        self._packages = tuple(packages)
        self._versions = tuple(versions)
        auth = BasicAuth(user or subject, api_key) if api_key is not None else None

        self.api_limiter = AdaptiveLimiter(
            max(1, api_concurrency),
            initial=min(_API_START, max(1, api_concurrency)),
            increase_after=_API_GROW_AFTER,
            latency_tolerance=_API_LATENCY_TOLERANCE,
            slow_start=True,
        )
        """Paces every API call (not downloads): calls in flight, adapted to the service."""

        def default_factory(base_url: str, auth: Auth | None) -> HttpClient:
            return HttpClient(
                base_url,
                auth=auth,
                user_agent=_USER_AGENT,
                timeouts=timeouts,
                verify_tls=verify_tls,
                retry_policy=retry_policy,
                # the API host sees as many connections as calls may be in flight
                max_connections=(
                    max(16, api_concurrency) if base_url == api_url else download_connections
                ),
            )

        factory = http_factory or default_factory
        self._api_client = factory(api_url, auth)
        if self._api_client.limiter is None:
            self._api_client.limiter = self.api_limiter
        else:
            self.api_limiter = self._api_client.limiter
        self._dl_client = factory(download_url, auth)
        self._api = BintrayApi(self._api_client, page_size=page_size)
        self._stack: AsyncExitStack | None = None
        # (repo, package) the package lists marked ``linked``: only the list says so (§4.1)
        self._linked: set[tuple[str, str]] = set()

    async def __aenter__(self) -> BintraySource:
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(self._api_client)
            await stack.enter_async_context(self._dl_client)
            self._stack = stack.pop_all()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    @property
    def rate_limit(self) -> RateLimitInfo | None:
        """``X-RateLimit-Limit``/``-Remaining`` of the last API answer that carried them."""
        return self._api.rate_limit

    @property
    def warnings(self) -> list[str]:
        """Notes about lists that may be incomplete, for the migration report."""
        return self._api.warnings

    async def list_repositories(self) -> list[SourceRepository]:
        """``GET /repos/:subject`` then ``GET /repos/:subject/:repo`` for each kept name.

        A subject Bintray does not know is a configuration error (exit 2), not a failure."""
        try:
            listing = await self._api.get_json("repos", self.subject)
        except NotFoundError as error:
            raise ConfigError(
                f"source.subject {self.subject!r} was not found at {error.url}: "
                "check the organisation (or user) name"
            ) from None
        names: list[str] = []
        for item in listing if isinstance(listing, list) else []:
            name = item.get("name") if isinstance(item, dict) else item
            if (
                isinstance(name, str)
                and name not in names
                and matches_globs(name, self._repos, self._exclude_repos)
            ):
                names.append(name)
        found: dict[str, SourceRepository] = {}

        async def one(name: str) -> None:
            raw = await self._api.get_json("repos", self.subject, name)
            raw = raw if isinstance(raw, dict) else {"name": name}
            labels = raw.get("labels")
            found[name] = SourceRepository(
                name=name,
                type=normalize_repo_type(raw.get("type")),
                private=parse_bool(raw.get("private")),
                desc=str(raw.get("desc") or ""),
                labels=tuple(str(x) for x in labels) if isinstance(labels, list) else (),
                raw=raw,
            )

        # all at once: the API limiter decides how many are in flight
        async with anyio.create_task_group() as group:
            for name in names:
                group.start_soon(one, name)
        return [found[name] for name in names]

    async def iter_packages(self, repo: str) -> AsyncIterator[str]:
        """Package names of ``repo`` kept by the filters, page by page, each name once.

        The list's ``linked`` flag is remembered for :meth:`get_package`: the single-package
        object has no ``linked`` field, only ``linked_to_repos`` and its owner's ``repo``.
        """
        seen: set[str] = set()
        async for item in self._api.paged("repos", self.subject, repo, "packages"):
            name = item.get("name")
            if isinstance(name, str) and name not in seen:
                seen.add(name)
                if parse_bool(item.get("linked")):
                    self._linked.add((repo, name))
                if matches_globs(name, self._packages):
                    yield name

    async def list_package_summaries(self, repo: str) -> list[dict[str, Any]]:
        """Every ``{"name", "linked"}`` item of ``repo``'s package list, de-duplicated."""
        seen: dict[str, dict[str, Any]] = {}
        async for item in self._api.paged("repos", self.subject, repo, "packages"):
            name = item.get("name")
            if isinstance(name, str):
                seen.setdefault(name, item)
        return list(seen.values())

    async def get_package(self, repo: str, name: str) -> SourcePackage:
        """The package (``versions`` filtered by the version globs) and its attributes.

        It is ``linked`` (owned by another repository, its files live there) when ``repo``'s
        package list said so, or when the package object names another owning ``repo``.
        """
        raw = await self._api.get_json(
            "packages", self.subject, repo, name, params={"attribute_values": 1}
        )
        raw = raw if isinstance(raw, dict) else {"name": name}
        owner = raw.get("repo")
        elsewhere = isinstance(owner, str) and owner not in ("", repo)
        linked = (repo, name) in self._linked or elsewhere
        versions = raw.get("versions")
        names = [str(v) for v in versions] if isinstance(versions, list) else []
        attributes = await self._inline_attributes(raw, "package", repo, name)
        return SourcePackage(
            repo=repo,
            name=name,
            versions=tuple(v for v in names if matches_globs(v, self._versions)),
            linked=linked,
            attributes=tuple(attributes),
            raw=raw,
        )

    async def get_version(self, repo: str, package: str, version: str) -> SourceVersion:
        """The version (``published`` as a bool, from ``true`` or ``"true"``) and its attributes."""
        raw = await self._api.get_json(
            "packages",
            self.subject,
            repo,
            package,
            "versions",
            version,
            params={"attribute_values": 1},
        )
        raw = raw if isinstance(raw, dict) else {"name": version}
        attributes = await self._inline_attributes(raw, "version", repo, package, version)
        return SourceVersion(
            repo=repo,
            package=package,
            name=version,
            published=parse_bool(raw.get("published"), default=True),
            attributes=tuple(attributes),
            raw=raw,
        )

    async def _inline_attributes(
        self, raw: dict[str, Any], kind: AttributeKind, *names: str
    ) -> list[SourceAttribute]:
        """The attributes an ``attribute_values=1`` answer carried as a ``[{name, type,
        values}]`` list; otherwise (no such key, or the typeless object form the doc also
        shows) read from the attributes endpoint, which always names the types."""
        inline = raw.get("attributes")
        if isinstance(inline, list):
            return parse_attributes(inline)
        return await self.get_attributes(kind, *names)

    async def list_version_files(self, repo: str, package: str, version: str) -> list[SourceFile]:
        """Files of one version.

        With ``include_unpublished`` the list is read twice, with and without
        ``include_unpublished=1``: Bintray's file objects do not say whether a file is
        published, and a file only the first list holds must be downloaded with the same flag.
        """
        segments = ("packages", self.subject, repo, package, "versions", version, "files")
        if not self.include_unpublished:
            published_only = await self._api.get_json(*segments)
            return self._files(published_only, repo, package, version, None)
        lists: dict[bool, Any] = {}

        async def read(unpublished: bool) -> None:
            params = {"include_unpublished": 1} if unpublished else None
            lists[unpublished] = await self._api.get_json(*segments, params=params)

        async with anyio.create_task_group() as group:  # both lists at once
            group.start_soon(read, True)
            group.start_soon(read, False)
        everything, published = lists[True], lists[False]
        published_paths = (
            {str(item.get("path")) for item in published if isinstance(item, dict)}
            if isinstance(published, list)
            else set()
        )
        return self._files(everything, repo, package, version, published_paths)

    @staticmethod
    def _files(
        raw: Any, repo: str, package: str, version: str, published: set[str] | None
    ) -> list[SourceFile]:
        files: list[SourceFile] = []
        seen: set[str] = set()
        for item in raw if isinstance(raw, list) else []:
            if not isinstance(item, dict) or not item.get("path") or item["path"] in seen:
                continue
            seen.add(str(item["path"]))
            is_published = published is None or str(item["path"]) in published
            files.append(
                source_file(
                    item, repo=repo, package=package, version=version, published=is_published
                )
            )
        return files

    async def get_attributes(
        self,
        kind: AttributeKind,
        repo: str,
        package: str = "",
        version: str = "",
        path: str = "",
    ) -> list[SourceAttribute]:
        """Attributes of a package, a version or a file (types lower-cased, reference §7)."""
        if kind == "package":
            raw = await self._api.get_json("packages", self.subject, repo, package, "attributes")
        elif kind == "version":
            raw = await self._api.get_json(
                "packages", self.subject, repo, package, "versions", version, "attributes"
            )
        elif kind == "file":
            raw = await self._api.get_raw_path(("files", self.subject, repo), path, ("attributes",))
        else:
            raise ValueError(f"unknown attribute kind {kind!r}")
        return parse_attributes(raw)

    def open_download(self, file: SourceFile) -> AbstractAsyncContextManager[StreamedDownload]:
        """Open ``file`` on the download host, following the redirect to the CDN."""
        return open_bintray_download(self._dl_client, self.subject, file)
