"""JFrog Artifactory as the target: the hot path (probe, checksum deploy, streamed deploy) and
item properties.  Administration (repositories, users, groups, permission targets, tokens,
signed URLs) lives in :mod:`transfer.targets.artifactory_admin`, reachable as
:attr:`ArtifactoryTarget.admin` on the same connection pool.

A 409 answer to a deploy that carried checksum headers and names the checksum policy means the
bytes that arrived differ from the digests we declared: the copy was corrupted on the way, so
it becomes a (retryable) :class:`~transfer.errors.ChecksumMismatch`.  Any other 409 (include /
exclude patterns, a folder in the way) stays a :class:`~transfer.errors.ConflictError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Collection, Mapping
from typing import Any

from transfer.errors import (
    AnswerTooLarge,
    AuthError,
    ChecksumMismatch,
    ConflictError,
    NotFoundError,
    PermissionDenied,
    PomRejected,
    RemoteError,
    UnusableService,
)
from transfer.http import (
    HttpClient,
    HttpClientOwner,
    RetryPolicy,
    Timeouts,
)
from transfer.http.artifactory import (
    MINIMUM_VERSION,
    check_artifactory,
    choose_auth,
    parse_version,
    ping_artifactory,
)
from transfer.http.json_stream import MalformedJson, json_array_items
from transfer.models import Checksums
from transfer.redaction import Secret, redact_url
from transfer.targets.artifactory_admin import ArtifactoryAdmin
from transfer.targets.artifactory_paths import (
    checksum_headers,
    checksums_from_headers,
    checksums_from_json,
    encode_item_path,
    encode_name,
    matrix_parameters,
)
from transfer.targets.base import (
    FolderListing,
    Properties,
    TargetCapabilities,
    TargetFile,
    TargetInfo,
    exactly,
)

__all__ = ["MINIMUM_VERSION", "ArtifactoryTarget", "choose_auth", "parse_version"]

_USER_AGENT = "transfer/0.1 (artifactory-target)"
_OK = (200, 201, 202)
_ANY_2XX = tuple(range(200, 300))
"""``PATCH /api/metadata`` has no documented success status (reference §13): any 2xx is one."""
_CANNOT_LIST = frozenset({400, 403, 405, 501})
# A folder listing of LISTING_LIMIT names is about 2.8 MB (the emulator's answer: 276 bytes a
# file named with 15 characters, with size, date, sha1 and sha256); a larger answer is a
# folder probed path by path, never read whole.
_LISTING_BODY_LIMIT = 4 * 1024 * 1024
"""Statuses of a folder listing that mean "probe each path instead" (see ``list_folder``)."""
_CAPABILITIES = TargetCapabilities(
    checksum_deploy=True, properties=True, server_checksums=True, checksum_files=True
)


def _size(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _listed(repo_key: str, path: str, entry: dict[str, Any]) -> TargetFile:
    """A file entry of a ``?list`` answer: ``size`` a number, SHA-256 under ``sha2``."""
    return TargetFile(
        repo=repo_key,
        path=path,
        size=_size(entry.get("size")),
        checksums=Checksums(
            sha1=str(entry.get("sha1") or "").lower(), sha256=str(entry.get("sha2") or "").lower()
        ),
        raw=entry,
    )


class ArtifactoryTarget(HttpClientOwner):
    """An Artifactory instance at ``url`` (the base ending in ``/artifactory``).

    Give exactly one of ``password`` (with ``user``), ``token`` or ``api_key``; see
    :func:`choose_auth`.  Use as ``async with ArtifactoryTarget(...) as target:``.
    """

    def __init__(
        self,
        url: str,
        user: str | None = None,
        *,
        password: Secret | None = None,
        token: Secret | None = None,
        api_key: Secret | None = None,
        timeouts: Timeouts | None = None,
        verify_tls: bool = True,
        ca_bundle: str | None = None,
        retry_policy: RetryPolicy | None = None,
        max_connections: int = 16,
        client: HttpClient | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._client = client or HttpClient(
            self.url,
            auth=choose_auth(user, password, token, api_key),
            user_agent=_USER_AGENT,
            timeouts=timeouts,
            verify_tls=verify_tls,
            ca_bundle=ca_bundle,
            retry_policy=retry_policy,
            max_connections=max_connections,
        )
        self._api_key = api_key is not None
        self.admin = ArtifactoryAdmin(self._client, self.url)
        """The admin facet: repositories, users, groups, permission targets, tokens, signed
        URLs (:class:`~transfer.targets.admin.TargetAdmin`)."""
        self.version: str | None = None
        """The version :meth:`check_access` read."""

    @property
    def capabilities(self) -> TargetCapabilities:
        """Checksum deploy, properties and server checksums (administration: :attr:`admin`)."""
        return _CAPABILITIES

    async def ping(self) -> None:
        """``GET /api/system/ping`` must answer ``OK`` (plain text)."""
        await ping_artifactory(self._client, role="target")

    async def check_access(self) -> TargetInfo:
        """Ping, then ``GET /api/system/version`` (authenticated): a clear error for a wrong
        URL, refused credentials (:class:`~transfer.errors.AuthError`) or a version older
        than :data:`MINIMUM_VERSION`."""
        try:
            version = await check_artifactory(self._client, role="target")
        except AuthError as error:
            if not self._api_key:
                raise
            raise AuthError(
                f"{error} (JFrog Cloud no longer accepts API keys: set target.token to an "
                "access token instead)",
                status=error.status,
                url=error.url,
            ) from error
        self.version = version
        return TargetInfo("artifactory", version, _CAPABILITIES)

    async def identity(self, repo_keys: Collection[str]) -> dict[str, str]:
        """What tells this instance and its repositories from a re-created one: the base URL,
        the service id (``GET /api/system/service_id``, admin only: empty when refused) and,
        per repository, when its root folder was created (empty when it does not exist)."""
        found = {"url": self.url, "service_id": ""}
        try:
            response = await self._client.request("GET", "api/system/service_id")
            found["service_id"] = response.text().strip()
        except (PermissionDenied, NotFoundError):
            pass
        for key in sorted(repo_keys):
            try:
                info = await self._client.request_json("GET", f"api/storage/{encode_name(key)}")
            except NotFoundError:
                info = {}
            created = info.get("created", "") if isinstance(info, dict) else ""
            found[f"repo:{key}"] = str(created or "")
        return found

    async def probe(self, repo_key: str, path: str) -> TargetFile | None:
        """``HEAD`` the file: size and ``X-Checksum-*``; ``None`` when absent.

        Falls back to the file info (``GET /api/storage``) when the HEAD carries no checksum
        (a redirect to cloud storage, a proxy that strips headers); a folder at ``path`` is a
        :class:`~transfer.errors.ConflictError`.
        """
        item = encode_item_path(repo_key, path)
        response = await self._client.request(
            "HEAD", item, expected=(200, 301, 302, 303, 307, 308, 404), allow_redirects=False
        )
        if response.status == 404:
            return None
        checksums = checksums_from_headers(response.headers)
        if response.status == 200 and (checksums.sha1 or checksums.sha256):
            size = _size(response.headers.get("Content-Length"))
            return TargetFile(repo_key, path, size, checksums, raw=dict(response.headers))
        try:
            info = await self._client.request_json("GET", f"api/storage/{item}")
        except NotFoundError:
            return None
        if isinstance(info, dict) and "children" in info:
            raise ConflictError(
                f"{repo_key}/{path} is a folder in the target, not a file",
                status=409,
                url=redact_url(self._client.url_for(item)),
            )
        return self._file(repo_key, path, info)

    async def list_folder(self, repo_key: str, folder: str) -> FolderListing | None:
        """``GET /api/storage/{repo}/{folder}?list&deep=0&listFolders=1`` (reference §3.4): the
        files (size, sha1, sha256) and sub-folders directly in ``folder``; empty when it does
        not exist (404).  ``None`` when this folder or this server cannot be listed: 400 (the
        parent is a file, or parameters the server does not take), 403 (anonymous, no Pro, or
        not allowed), 405/501; every other error is raised as for a probe."""
        item = encode_item_path(repo_key, folder) if folder else encode_name(repo_key)
        try:
            body = await self._client.request_json(
                "GET",
                f"api/storage/{item}",
                params={"list": "", "deep": "0", "listFolders": "1"},
                max_body=_LISTING_BODY_LIMIT,
            )
        except NotFoundError:
            return FolderListing()
        except AnswerTooLarge:
            return FolderListing(complete=False)  # a flat folder of many files: probe by path
        except RemoteError as error:
            if error.status in _CANNOT_LIST and not isinstance(error, AuthError):
                return None
            raise
        files: dict[str, TargetFile] = {}
        folders: set[str] = set()
        entries = body.get("files") if isinstance(body, dict) else None
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict):
                continue
            name = str(entry.get("uri", "")).strip("/")
            if not name or "/" in name:
                continue  # not directly in the folder (a server that ignored deep=0)
            if str(entry.get("folder")).lower() == "true":  # a boolean; the docs print "true"
                folders.add(name)
                continue
            files[name] = _listed(repo_key, f"{folder}/{name}" if folder else name, entry)
        return FolderListing(files, frozenset(folders))

    async def iter_files(self, repo_key: str) -> AsyncIterator[TargetFile]:
        """Every file of ``repo_key`` as the deep ``?list`` answer arrives (one request; none
        for a repository that does not exist). Sizes and sha1/sha256 come from the listing.

        The API gives the whole repository in one answer, about 250 bytes a file (250 MB for
        a million): it is decoded an entry at a time (:func:`json_array_items`), so memory
        does not grow with it, and read whatever its size rather than failing a ``verify``."""
        async with self._client.stream_retried(
            "GET",
            f"api/storage/{encode_name(repo_key)}",
            params={"list": "", "deep": "1", "listFolders": "0"},
            expected=(200, 404),
        ) as response:
            if response.status == 404:
                return
            try:
                async for entry in json_array_items(response.iter_chunks(), "files"):
                    if isinstance(entry, dict) and not entry.get("folder"):
                        yield _listed(repo_key, str(entry.get("uri", "")).lstrip("/"), entry)
            except MalformedJson as error:
                raise UnusableService(
                    f"the listing of {repo_key} is not Artifactory's JSON: {error}"
                ) from None

    @staticmethod
    def _file(
        repo_key: str,
        path: str,
        body: Any,
        deferred: Mapping[str, tuple[str, ...]] | None = None,
    ) -> TargetFile:
        raw = body if isinstance(body, dict) else {}
        return TargetFile(
            repo=repo_key,
            path=path,
            size=_size(raw.get("size")),
            checksums=checksums_from_json(raw),
            deferred_properties=dict(deferred or {}),
            raw=raw,
        )

    @staticmethod
    def _split_properties(
        properties: Properties | None,
    ) -> tuple[str, dict[str, tuple[str, ...]]]:
        props = {k: tuple(v) for k, v in (properties or {}).items()}
        suffix = matrix_parameters(props)
        return ("", props) if suffix is None else (suffix, {})

    async def checksum_deploy(
        self,
        repo_key: str,
        path: str,
        checksums: Checksums,
        properties: Properties | None = None,
    ) -> TargetFile | None:
        """A body-less PUT with ``X-Checksum-Deploy: true``: the target links a binary it
        already stores.  ``None`` when it answers 404 or 400 (it lacks the binary, or the
        checksum header was refused): then send the bytes with :meth:`deploy`."""
        if not (checksums.sha1 or checksums.sha256):
            return None
        matrix, deferred = self._split_properties(properties)
        headers = {"X-Checksum-Deploy": "true", **checksum_headers(checksums)}
        try:
            body = await self._client.request_json(
                "PUT",
                encode_item_path(repo_key, path) + matrix,
                data=b"",
                headers=headers,
                expected=_OK,
            )
        except NotFoundError:
            return None
        except RemoteError as error:
            if error.status == 400:
                return None
            raise
        return self._file(repo_key, path, body, deferred)

    async def deploy(
        self,
        repo_key: str,
        path: str,
        chunks: AsyncIterable[bytes],
        *,
        size: int,
        checksums: Checksums,
        properties: Properties | None = None,
    ) -> TargetFile:
        """Stream ``size`` bytes with ``Content-Length`` and the declared checksum headers.

        The returned file carries the checksums Artifactory computed.  Not retried here (the
        chunks cannot be replayed).  Raises :class:`~transfer.errors.SizeMismatch` when the
        chunks do not add up to ``size`` (the request is aborted) and
        :class:`~transfer.errors.ChecksumMismatch` when the target's checksum policy rejects
        the bytes (409), and :class:`~transfer.errors.PomRejected` when a Maven repository's POM
        consistency check refuses a POM (409).
        """
        matrix, deferred = self._split_properties(properties)
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Length": str(size),
            **checksum_headers(checksums),
        }
        try:
            response = await self._client.send(
                "PUT",
                encode_item_path(repo_key, path) + matrix,
                data=exactly(chunks, size, path=path),
                headers=headers,
                expected=_OK,
            )
        except ConflictError as error:
            if checksums.known() and "checksum" in str(error).lower():
                declared = ", ".join(f"{k} {v}" for k, v in checksums.known().items())
                raise ChecksumMismatch(
                    "checksum (target)",
                    declared,
                    f"different bytes: {error}",
                    path=f"{repo_key}/{path}",
                ) from error
            if path.endswith(".pom") and "pom" in str(error).lower():
                raise PomRejected(
                    f"pom_rejected: the repository checks POM consistency "
                    f"(suppressPomConsistencyChecks is off): {error}",
                    status=error.status,
                    url=error.url,
                ) from error
            raise
        return self._file(repo_key, path, response.json(), deferred)

    async def set_properties(self, repo_key: str, path: str, properties: Properties) -> None:
        """``PATCH /api/metadata/{repo}/{path}`` with ``{"props": {k: [values]}}`` (not
        recursive): any character is safe in JSON; the given keys are replaced, others kept."""
        body = {"props": {k: list(v) for k, v in properties.items()}}
        await self._client.request(
            "PATCH",
            "api/metadata/" + encode_item_path(repo_key, path),
            params={"recursiveProperties": 0},
            json=body,
            expected=_ANY_2XX,
        )

    async def get_properties(self, repo_key: str, path: str) -> dict[str, list[str]]:
        """``GET /api/storage/{repo}/{path}?properties``; empty when there are none (the
        server's 404 "No properties could be found", also given for a missing item)."""
        try:
            body = await self._client.request_json(
                "GET", f"api/storage/{encode_item_path(repo_key, path)}?properties"
            )
        except NotFoundError:
            return {}
        found = body.get("properties") if isinstance(body, dict) else None
        if not isinstance(found, dict):
            return {}
        return {
            str(k): [str(v) for v in vs] if isinstance(vs, list) else [str(vs)]
            for k, vs in found.items()
        }
