"""A plain PUT target (nginx WebDAV or any server that stores a PUT body at its path), for
benchmarks that measure byte moving without Artifactory's bookkeeping.

Deploy is a PUT with ``Content-Length`` to ``{url}/{repo}/{path}``; probe is a HEAD (size
only); a folder is listed with PROPFIND (:mod:`~transfer.targets.webdav_listing`), so a fresh
folder costs one request, not a HEAD per file.  No checksum deploy, no properties, no server
checksums.  nginx needs
``create_full_put_path on`` for PUTs into folders that do not exist yet.
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from urllib.parse import unquote, urlsplit

from transfer.errors import AuthError, ConfigError, RemoteError
from transfer.http import BasicAuth, HttpClient, HttpClientOwner, RetryPolicy, Timeouts
from transfer.models import Checksums
from transfer.redaction import Secret
from transfer.targets.artifactory_paths import encode_item_path, encode_name
from transfer.targets.base import (
    LISTING_LIMIT,
    FolderListing,
    Properties,
    TargetCapabilities,
    TargetFile,
    TargetInfo,
    exactly,
)
from transfer.targets.webdav_listing import PROPFIND_BODY, NotAFolder, read_listing

__all__ = ["WebDavTarget"]

_CAPABILITIES = TargetCapabilities()
_CANNOT_LIST = frozenset({400, 403, 405, 409, 501})
_PROPFIND_HEADERS = {"Depth": "1", "Content-Type": 'application/xml; charset="utf-8"'}
_LISTING_CHUNK = 256 * 1024


class WebDavTarget(HttpClientOwner):
    """Files PUT under ``url``; ``user`` + ``password`` for Basic auth, if the server wants it."""

    def __init__(
        self,
        url: str,
        user: str | None = None,
        password: Secret | None = None,
        *,
        timeouts: Timeouts | None = None,
        verify_tls: bool = True,
        retry_policy: RetryPolicy | None = None,
        max_connections: int = 16,
        client: HttpClient | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        auth = BasicAuth(user or "", password) if password is not None else None
        self._client = client or HttpClient(
            self.url,
            auth=auth,
            user_agent="transfer/0.1 (webdav-target)",
            timeouts=timeouts,
            verify_tls=verify_tls,
            retry_policy=retry_policy,
            max_connections=max_connections,
        )

    @property
    def capabilities(self) -> TargetCapabilities:
        """Nothing beyond storing bytes."""
        return _CAPABILITIES

    @property
    def admin(self) -> None:
        """No repositories or users to manage."""
        return None

    async def ping(self) -> None:
        """Any answer but a 5xx or a refused credential will do: ``OPTIONS /``."""
        await self._client.request("OPTIONS", "", expected=tuple(range(200, 500)))

    async def check_access(self) -> TargetInfo:
        """Ping; a WebDAV server has no version worth checking."""
        await self.ping()
        return TargetInfo("webdav", "", _CAPABILITIES)

    async def probe(self, repo_key: str, path: str) -> TargetFile | None:
        """``HEAD``: the size, or ``None`` when the file is absent."""
        response = await self._client.request(
            "HEAD", encode_item_path(repo_key, path), expected=(200, 404)
        )
        if response.status == 404:
            return None
        length = response.headers.get("Content-Length")
        size = int(length) if length is not None and length.isdigit() else None
        return TargetFile(repo_key, path, size, Checksums())

    async def list_folder(self, repo_key: str, folder: str) -> FolderListing | None:
        """``PROPFIND`` with ``Depth: 1`` (RFC 4918 §9.1): the files (size only) and sub-folders
        directly in ``folder``, read as they arrive and at most :data:`LISTING_LIMIT` names;
        empty when it does not exist (404).  ``None`` when this folder or this server cannot be
        listed: a file at that path, a server without PROPFIND (405/501: nginx without the
        dav-ext module), a refusal (400/403/409) or an answer that is not a multi-status."""
        item = encode_item_path(repo_key, folder) if folder else encode_name(repo_key)
        asked = unquote(urlsplit(self._client.url_for(item)).path)
        try:
            async with self._client.stream(
                "PROPFIND",
                item,
                headers=_PROPFIND_HEADERS,
                data=PROPFIND_BODY,
                expected=(200, 207, 404),
            ) as response:
                if response.status == 404:
                    return FolderListing()
                if response.status != 207:
                    return None
                return await read_listing(
                    response.iter_chunks(_LISTING_CHUNK),
                    repo=repo_key,
                    folder=folder,
                    folder_path=asked,
                    limit=LISTING_LIMIT,
                )
        except NotAFolder:
            return None
        except RemoteError as error:
            if error.status in _CANNOT_LIST and not isinstance(error, AuthError):
                return None
            raise

    async def checksum_deploy(
        self,
        repo_key: str,
        path: str,
        checksums: Checksums,
        properties: Properties | None = None,
    ) -> TargetFile | None:
        """Not supported: always ``None`` (send the bytes)."""
        return None

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
        """PUT exactly ``size`` bytes with ``Content-Length``.  Properties are not stored:
        they come back as ``deferred_properties``."""
        await self._client.send(
            "PUT",
            encode_item_path(repo_key, path),
            data=exactly(chunks, size, path=path),
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
            expected=(200, 201, 204),
        )
        deferred = {k: tuple(v) for k, v in (properties or {}).items()}
        return TargetFile(repo_key, path, size, Checksums(), deferred_properties=deferred)

    async def set_properties(self, repo_key: str, path: str, properties: Properties) -> None:
        """Refused: a WebDAV target holds no properties."""
        raise ConfigError("a webdav target cannot hold properties; use an artifactory target")

    async def get_properties(self, repo_key: str, path: str) -> dict[str, list[str]]:
        """Always empty."""
        return {}
