"""Another Artifactory as the source (self-hosted to Cloud, over plain REST, no server plugin).

``source.type = "artifactory"`` reads a JFrog Artifactory at ``url`` with an access token
(Bearer) or a user and password:

* **Repositories**: ``GET /api/repositories?type=local`` lists the local repositories files are
  copied from (filtered by ``repos``/``exclude_repos``), each with its full configuration from
  ``GET /api/repositories/{key}``; :meth:`ArtifactorySource.list_repository_configs` adds the
  remote and virtual ones the repositories phase re-creates.
* **Files**: one AQL query per page (``POST /api/search/aql``), sorted by (path, name) and
  continued *after the last key seen* rather than at a growing offset, so every page costs the
  database the same whatever its depth, and a page is a stable unit of work.  Each page is one
  "package" of the Bintray-shaped model (named ``page:<digest of its first and last key>``,
  one version ``""``): discovery writes it to the store in one call and marks it done, so a
  killed listing resumes at the first page not written.  The page's files are cached between
  :meth:`iter_packages` and :meth:`list_version_files` (a few pages at most) and listed again
  by their key range when evicted.
* **Incremental**: :meth:`list_modified_since` restricts the listing to files updated after
  an instant, the moment the previous complete pass began.  AQL ``updated`` is used, which the
  server stamps, rather than ``modified``, which a deployer may set to any date.
  :meth:`server_time` reads the source's clock from its ``Date`` header (whole seconds, rounded
  down: a file updated in that second is listed again, never missed), so the clocks of the two
  machines never mix.
* **Properties and provenance**: every file carries its properties, and
  :meth:`file_properties` adds the source's own bookkeeping, which the target would otherwise
  replace with its own: :data:`PROVENANCE_PROPERTIES` (``artifactory.source.created``,
  ``.created_by``, ``.modified``, ``.modified_by``).
* **Security** (admin only): users, groups and v2 permission targets, read for the security
  phase; a refusal (403) is an :class:`~transfer.errors.UnusableService` saying that the phase
  needs an admin.

Opening the source pings it and reads its version: a URL that is not Artifactory, refused
credentials or a version older than 6.6 stop the run with one line (exit 3).
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from email.utils import parsedate_to_datetime
from typing import Any, Final, Self

from transfer.errors import PermissionDenied, UnusableService
from transfer.http import HttpClient, HttpClientOwner, RetryPolicy, Timeouts
from transfer.http.artifactory import (
    check_artifactory,
    choose_auth,
    encode_item_path,
    encode_name,
)
from transfer.models import SourceFile
from transfer.redaction import Secret
from transfer.settings import Settings
from transfer.sources.base import (
    NoAttributes,
    SourcePackage,
    SourceRepository,
    SourceVersion,
    matches_globs,
)
from transfer.sources.streamed import DOWNLOAD_HEADERS, StreamedDownload

__all__ = ["PROVENANCE_PROPERTIES", "ArtifactorySource", "aql_page_query"]

PROVENANCE_PROPERTIES: Final = {
    "created": "artifactory.source.created",
    "created_by": "artifactory.source.created_by",
    "modified": "artifactory.source.modified",
    "modified_by": "artifactory.source.modified_by",
}
"""AQL field → the property that keeps the source's value on the target (the target sets its
own created/modified/created_by when the file is deployed there)."""

_USER_AGENT = "transfer/0.1 (artifactory-source)"
_FIELDS: Final = ("repo", "path", "name", "type", "size", "sha256", "actual_sha1", "actual_md5",
                  "created", "created_by", "modified", "modified_by", "property")  # fmt: skip
_KEYS: Final = ("path", "name", "type")
_PAGE_CACHE = 16
_PAGE_PREFIX = "page:"

Key = tuple[str, str]
"""(path, name) of one file, the AQL sort key; path is ``"."`` at the repository root."""


def aql_page_query(
    repo: str,
    *,
    after: Key | None,
    limit: int | None,
    since: str | None = None,
    through: Key | None = None,
    inclusive: bool = False,
    fields: Sequence[str] = _FIELDS,
) -> str:
    """The AQL for one page of ``repo``'s files: sorted by (path, name), after ``after``
    (strictly, unless ``inclusive``), up to and including ``through``, updated after
    ``since``; at most ``limit``."""
    parts: list[dict[str, Any]] = [{"repo": repo}, {"type": "file"}]
    if after is not None:
        path, name = after
        above = {"$gte" if inclusive else "$gt": name}
        parts.append({"$or": [{"path": {"$gt": path}}, {"path": path, "name": above}]})
    if through is not None:
        path, name = through
        parts.append({"$or": [{"path": {"$lt": path}}, {"path": path, "name": {"$lte": name}}]})
    if since is not None:
        # ``updated`` is the server's own clock; ``modified`` may come from the deployer
        # (Last-Modified on deploy), so a file deployed with an old date would be missed.
        parts.append({"updated": {"$gt": since}})
    included = ",".join(json.dumps(f) for f in fields)
    query = (
        f"items.find({json.dumps({'$and': parts})}).include({included})"
        '.sort({"$asc":["path","name"]})'
    )
    return query + (f".limit({limit})" if limit is not None else "")


def _file_path(row: Mapping[str, Any]) -> str:
    path, name = str(row.get("path") or "."), str(row.get("name") or "")
    return name if path in (".", "") else f"{path}/{name}"


def _properties(raw: Any) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for entry in raw if isinstance(raw, list) else ():
        if isinstance(entry, dict) and "key" in entry:
            found.setdefault(str(entry["key"]), []).append(str(entry.get("value") or ""))
    return found


def _page_name(first: Key, last: Key) -> str:
    digest = hashlib.sha1(json.dumps([first, last]).encode()).hexdigest()[:16]
    return f"{_PAGE_PREFIX}{digest}"


class ArtifactorySource(NoAttributes, HttpClientOwner):
    """The Artifactory at ``url`` (its base, ending in ``/artifactory``) as a source.

    Give ``token`` or ``user`` + ``password``.  ``repos``/``exclude_repos`` are globs on
    repository keys; ``page_size`` is the AQL page.  Use as ``async with``.
    """

    def __init__(
        self,
        url: str,
        *,
        user: str | None = None,
        password: Secret | None = None,
        token: Secret | None = None,
        repos: Iterable[str] = ("*",),
        exclude_repos: Iterable[str] = (),
        page_size: int = 5000,
        timeouts: Timeouts | None = None,
        retry_policy: RetryPolicy | None = None,
        max_connections: int = 16,
        client: HttpClient | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._client = client or HttpClient(
            self.url,
            auth=choose_auth(user, password, token),
            user_agent=_USER_AGENT,
            timeouts=timeouts,
            retry_policy=retry_policy,
            max_connections=max_connections,
        )
        self._repos = tuple(repos)
        self._exclude = tuple(exclude_repos)
        self._page_size = max(1, page_size)
        self._since: str | None = None
        self._ranges: dict[tuple[str, str], tuple[Key, Key]] = {}
        self._pages: OrderedDict[tuple[str, str], list[SourceFile]] = OrderedDict()
        self.version: str | None = None
        """The source's version, read when it was opened."""

    @classmethod
    def from_settings(cls, settings: Settings) -> ArtifactorySource:
        """The source ``[source] type = "artifactory"`` describes."""
        s, t = settings.source, settings.transfer
        return cls(
            s.url,
            user=s.user,
            password=s.password,
            token=s.token,
            repos=s.repos,
            exclude_repos=s.exclude_repos,
            page_size=s.aql_page_size,
            timeouts=Timeouts(connect=s.timeouts.connect, sock_read=s.timeouts.read),
            retry_policy=RetryPolicy(
                max_attempts=t.max_attempts, base_delay=t.backoff_base, max_delay=t.backoff_max
            ),
            max_connections=max(16, 2 * t.workers),
        )

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        try:
            self.version = await check_artifactory(self._client, role="source")
        except BaseException:
            await self._client.__aexit__(None, None, None)
            raise
        return self

    # -- incremental listing ----------------------------------------------------------------

    def list_modified_since(self, instant: str | None) -> None:
        """List only files modified after ``instant`` (ISO 8601, the source's clock); ``None``
        lists everything."""
        self._since = instant

    async def server_time(self) -> str:
        """Now, by the source's clock (its ``Date`` header), in ISO 8601 UTC."""
        response = await self._client.request("GET", "api/system/ping")
        header = response.headers.get("Date")
        if not header:
            raise UnusableService(
                "the source sent no Date header, so incremental listing cannot be anchored",
                status=response.status,
                url=response.url,
            )
        return parsedate_to_datetime(header).strftime("%Y-%m-%dT%H:%M:%S.000Z")

    # -- repositories -----------------------------------------------------------------------

    async def _configs(self, rclass: str) -> list[dict[str, Any]]:
        listed = await self._client.request_json("GET", "api/repositories", params={"type": rclass})
        keys = sorted(_names(listed, "key"))
        configs = []
        for key in keys:
            if not matches_globs(key, self._repos, self._exclude):
                continue
            config = await self._client.request_json("GET", f"api/repositories/{key}")
            if isinstance(config, dict):
                configs.append({"key": key, **config, "rclass": rclass})
        return configs

    async def list_repository_configs(self) -> list[dict[str, Any]]:
        """Full configuration of every local, remote and virtual repository the filters keep,
        locals first and virtuals last (a virtual repository names the others)."""
        return [c for rclass in ("local", "remote", "virtual") for c in await self._configs(rclass)]

    async def list_repositories(self) -> list[SourceRepository]:
        """The local repositories the filters keep (files live only there)."""
        return [
            SourceRepository(
                name=config["key"],
                type=str(config.get("packageType") or "generic").lower(),
                private=True,
                desc=str(config.get("description") or ""),
                labels=(),
                raw=config,
            )
            for config in await self._configs("local")
        ]

    # -- files --------------------------------------------------------------------------------

    def _file(self, repo: str, package: str, row: Mapping[str, Any]) -> SourceFile:
        extra: dict[str, Any] = {
            field: str(row[field]) for field in PROVENANCE_PROPERTIES if row.get(field)
        }
        extra["md5"] = str(row.get("actual_md5") or "")
        extra["properties"] = _properties(row.get("properties"))
        size = row.get("size")
        return SourceFile(
            repo,
            package,
            "",
            _file_path(row),
            size if isinstance(size, int) and size >= 0 else -1,
            sha1=str(row.get("actual_sha1") or "").lower(),
            sha256=str(row.get("sha256") or "").lower(),
            extra=extra,
        )

    async def _query(self, query: str) -> list[dict[str, Any]]:
        answer = await self._client.request_json(
            "POST", "api/search/aql", data=query, headers={"Content-Type": "text/plain"}
        )
        rows = answer.get("results") if isinstance(answer, dict) else None
        if not isinstance(rows, list):
            raise UnusableService(
                "the source's AQL answer has no results list",
                status=200,
                url=self._client.url_for("api/search/aql"),
            )
        return [r for r in rows if isinstance(r, dict) and r.get("type", "file") == "file"]

    async def iter_packages(self, repo: str) -> AsyncIterator[str]:
        """One name per AQL page of ``repo``'s files, page after page (keyset paging)."""
        after: Key | None = None
        while True:
            rows = await self._query(
                aql_page_query(repo, after=after, limit=self._page_size, since=self._since)
            )
            if not rows:
                return
            first = (str(rows[0].get("path")), str(rows[0].get("name")))
            last = (str(rows[-1].get("path")), str(rows[-1].get("name")))
            name = _page_name(first, last)
            self._ranges[(repo, name)] = (first, last)
            self._pages[(repo, name)] = [self._file(repo, name, row) for row in rows]
            while len(self._pages) > _PAGE_CACHE:
                self._pages.popitem(last=False)
            yield name
            if len(rows) < self._page_size:
                return
            after = last

    async def iter_paths(self, repo: str) -> AsyncIterator[str]:
        """Every file path of ``repo`` (keys only, whatever the modified bound), page by
        page: what deletions are found against."""
        after: Key | None = None
        while True:
            query = aql_page_query(repo, after=after, limit=self._page_size, fields=_KEYS)
            rows = await self._query(query)
            for row in rows:
                yield _file_path(row)
            if len(rows) < self._page_size:
                return
            after = (str(rows[-1].get("path")), str(rows[-1].get("name")))

    async def get_package(self, repo: str, name: str) -> SourcePackage:
        """A page: one version ``""``."""
        return SourcePackage(repo, name, versions=("",))

    async def get_version(self, repo: str, package: str, version: str) -> SourceVersion:
        """The single, published version of a page."""
        return SourceVersion(repo, package, version, published=True)

    async def list_version_files(self, repo: str, package: str, version: str) -> list[SourceFile]:
        """The files of one page (from the cache, else listed again by its key range)."""
        cached = self._pages.pop((repo, package), None)
        if cached is not None:
            return cached
        bounds = self._ranges.get((repo, package))
        if bounds is None:
            return []
        first, last = bounds
        query = aql_page_query(
            repo, after=first, inclusive=True, through=last, limit=None, since=self._since
        )
        return [self._file(repo, package, row) for row in await self._query(query)]

    def file_properties(self, file: SourceFile) -> dict[str, list[str]]:
        """The properties ``file`` had on the source, plus :data:`PROVENANCE_PROPERTIES`."""
        raw = file.extra.get("properties")
        found = {str(k): [str(v) for v in vs] for k, vs in dict(raw or {}).items()}
        for field, key in PROVENANCE_PROPERTIES.items():
            if file.extra.get(field):
                found[key] = [str(file.extra[field])]
        return found

    @asynccontextmanager
    async def open_download(self, file: SourceFile) -> AsyncIterator[StreamedDownload]:
        """``GET {url}/{repo}/{path}`` with ``Accept-Encoding: identity``."""
        path = encode_item_path(file.repo, file.path)
        async with self._client.stream("GET", path, headers=DOWNLOAD_HEADERS) as response:
            yield StreamedDownload(response)

    # -- security (admin only) ----------------------------------------------------------------

    async def _admin_read(self, what: str, path: str, *, users: bool = False) -> Any:
        try:
            params = {"includeUsers": "true"} if users else None
            return await self._client.request_json("GET", path, params=params)
        except PermissionDenied as error:
            raise UnusableService(
                f"the source refused to list its {what} ({error.status}): the security phase "
                "needs an admin token or user on the source (or leave the phase out with "
                "--only repositories --only artifacts --only properties)",
                status=error.status,
                url=error.url,
            ) from None

    async def list_users(self) -> list[dict[str, Any]]:
        """Every user with its details (``GET /api/security/users/{name}``)."""
        listed = await self._admin_read("users", "api/security/users")
        return [
            await self._admin_read("users", f"api/security/users/{encode_name(n)}")
            for n in _names(listed)
        ]

    async def list_groups(self) -> list[dict[str, Any]]:
        """Every group with its members (``?includeUsers=true``)."""
        listed = await self._admin_read("groups", "api/security/groups")
        return [
            await self._admin_read("groups", f"api/security/groups/{encode_name(n)}", users=True)
            for n in _names(listed)
        ]

    async def list_permissions(self) -> list[dict[str, Any]]:
        """Every v2 permission target."""
        listed = await self._admin_read("permission targets", "api/v2/security/permissions")
        return [
            await self._admin_read(
                "permission targets",
                f"api/v2/security/permissions/{encode_name(n)}",
            )
            for n in _names(listed)
        ]


def _names(listed: Any, field: str = "name") -> Sequence[str]:
    """The ``field`` of each entry of a JSON list (entries without one left out)."""
    entries = listed if isinstance(listed, list) else []
    return [str(e[field]) for e in entries if isinstance(e, dict) and e.get(field)]
