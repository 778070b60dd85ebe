"""A plain PUT target (nginx WebDAV or any server that stores a PUT body at its path), for
benchmarks that measure byte moving without Artifactory's bookkeeping.

Deploy is a PUT with ``Content-Length`` to ``{url}/{repo}/{path}``; probe is a HEAD (size
only).  No checksum deploy, no properties, no server checksums.  nginx needs
``create_full_put_path on`` for PUTs into folders that do not exist yet.
"""

from __future__ import annotations

from collections.abc import AsyncIterable

from transfer.errors import ConfigError
from transfer.http import BasicAuth, HttpClient, HttpClientOwner, RetryPolicy, Timeouts
from transfer.models import Checksums
from transfer.redaction import Secret
from transfer.targets.artifactory_paths import encode_item_path
from transfer.targets.base import (
    FolderListing,
    Properties,
    TargetCapabilities,
    TargetFile,
    TargetInfo,
    exactly,
)

__all__ = ["WebDavTarget"]

_CAPABILITIES = TargetCapabilities()


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
        """None: a plain WebDAV server is probed path by path."""
        return None

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
