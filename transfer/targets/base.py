"""What the engine needs from a place files are copied to: the :class:`Target` protocol.

Artifactory (:mod:`transfer.targets.artifactory`) is the real target; a plain WebDAV server
(:mod:`transfer.targets.webdav`) moves bytes for benchmarks.  What a target offers beyond bytes
is said by :class:`TargetCapabilities` and by its optional admin facet
(:class:`~transfer.targets.admin.TargetAdmin`), never by its class.

Both targets stream uploads with a ``Content-Length`` (quota checks and nginx need it) and
check that the chunks add up to the declared size while sending.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol, runtime_checkable

from transfer.errors import SizeMismatch
from transfer.models import Checksums
from transfer.targets.admin import TargetAdmin

__all__ = [
    "LISTING_LIMIT",
    "FolderListing",
    "Properties",
    "Target",
    "TargetCapabilities",
    "TargetFile",
    "TargetInfo",
    "exactly",
]

Properties = Mapping[str, Sequence[str]]
"""Multi-valued properties: key → values."""

LISTING_LIMIT = 10_000
"""Names a folder listing reads before it stops (:attr:`FolderListing.complete` False): a larger
folder is asked about path by path (:mod:`~transfer.pipeline.folder_probe`)."""


@dataclass(frozen=True, slots=True)
class TargetCapabilities:
    """What a target can do beyond storing bytes at a path."""

    checksum_deploy: bool = False
    """Can link an already stored binary by its checksum, without the bytes."""
    properties: bool = False
    """Can hold key → values properties on files."""
    server_checksums: bool = False
    """Reports the checksums it computed for what it stored."""
    checksum_files: bool = False
    """Serves ``X.sha1``, ``X.md5`` and ``X.sha256`` for a stored ``X`` itself and does not
    store such files (Artifactory): a source's checksum files are checked, not copied."""


@dataclass(frozen=True, slots=True)
class TargetInfo:
    """What :meth:`Target.check_access` found: the product version and capabilities."""

    product: str
    version: str
    capabilities: TargetCapabilities


@dataclass(frozen=True, slots=True)
class TargetFile:
    """A file as the target holds it after a probe or a deploy.

    ``size`` is ``None`` when the target did not say; ``checksums`` are the target's own (the
    ``checksums`` map of Artifactory's answer, or its ``X-Checksum-*`` headers).
    ``deferred_properties`` are the properties that could not travel with the upload (values
    unsafe as matrix parameters): the caller sets them with :meth:`Target.set_properties`.
    """

    repo: str
    path: str
    size: int | None
    checksums: Checksums
    deferred_properties: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True, slots=True)
class FolderListing:
    """What one folder of the target holds directly, from one request: its files by name (size
    and checksums, as :meth:`Target.probe` gives them) and the names of its sub-folders.  A
    folder that does not exist is an empty listing."""

    files: Mapping[str, TargetFile] = field(default_factory=dict)
    folders: frozenset[str] = frozenset()
    complete: bool = True
    """False when the target stopped reading at :data:`LISTING_LIMIT` names: the folder holds
    more, and what is not listed is not known to be absent."""


@runtime_checkable
class Target(Protocol):
    """A place files are copied to.  Open it with ``async with`` before use."""

    @property
    def capabilities(self) -> TargetCapabilities:
        """What this target supports."""
        ...

    @property
    def admin(self) -> TargetAdmin | None:
        """Repositories, users, groups, permissions, tokens and signed URLs to manage, or
        ``None`` when the target has none (the runner then skips the phases that need them)."""
        ...

    async def __aenter__(self) -> Target: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def ping(self) -> None:
        """Raise unless the service answers as the expected product."""
        ...

    async def check_access(self) -> TargetInfo:
        """Ping, authenticate and read the version; a clear error when unusable."""
        ...

    async def probe(self, repo_key: str, path: str) -> TargetFile | None:
        """The file at ``path``, or ``None`` when there is none."""
        ...

    async def list_folder(self, repo_key: str, folder: str) -> FolderListing | None:
        """What ``folder`` (``""``: the repository root) holds directly, in one request, or
        ``None`` when the target cannot list it (then each path is probed)."""
        ...

    async def checksum_deploy(
        self,
        repo_key: str,
        path: str,
        checksums: Checksums,
        properties: Properties | None = None,
    ) -> TargetFile | None:
        """Store ``path`` from a binary the target already has; ``None``: send the bytes."""
        ...

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
        """Stream ``size`` bytes to ``path``; the target verifies the declared checksums."""
        ...

    async def set_properties(self, repo_key: str, path: str, properties: Properties) -> None:
        """Replace the values of the given keys on ``path`` (other keys are kept)."""
        ...

    async def get_properties(self, repo_key: str, path: str) -> dict[str, list[str]]:
        """Every property of ``path`` (empty when it has none)."""
        ...


async def exactly(
    chunks: AsyncIterable[bytes], size: int, *, path: str = ""
) -> AsyncIterator[bytes]:
    """Pass ``chunks`` through, raising :class:`SizeMismatch` as soon as they exceed ``size``
    or when they end short of it.

    An upload sent with ``Content-Length: size`` must carry exactly that many bytes: fewer
    leave the server waiting, more are cut off silently by aiohttp.  Raising inside the body
    aborts the request before the last byte, so the target never stores a wrong file.
    """
    iterator = aiter(chunks)
    sent = 0
    async for chunk in iterator:
        sent += len(chunk)
        if sent > size:
            raise SizeMismatch("size", str(size), f"more than {size} bytes", path=path)
        if sent == size:
            # Once Content-Length bytes are out the server stores the file, so surplus must
            # be found before the last chunk goes: look one chunk ahead.
            async for surplus in iterator:
                if surplus:
                    raise SizeMismatch("size", str(size), f"more than {size} bytes", path=path)
            yield chunk
            return
        yield chunk
    if sent != size:
        raise SizeMismatch("size", str(size), str(sent), path=path)
