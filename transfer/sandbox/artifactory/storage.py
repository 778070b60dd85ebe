"""Content-addressed binary store: blobs live at ``blobs/<sha1[:2]>/<sha1>``, shared by every path.

Uploads stream into a temporary file while SHA-1, SHA-256 and MD5 are computed; the handler then
either commits the result (rename into place, or drop it when the blob already exists: dedup is
real) or discards it (checksum mismatch). In sink mode only sizes and checksums are kept.

Hashing and writing run in a worker thread on batches of about 1 MiB while the event loop reads
the next batch (hashlib releases the GIL on large buffers), so one upload uses two cores and many
uploads do not stall the loop. Measured on the 2-core box (256 MiB PUTs, client in the same
process): 1 upload 204 → 268 MiB/s, 4 concurrent 170 → 319 MiB/s against hashing in the loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

__all__ = ["Blob", "BlobStore", "PendingBlob"]

_BATCH = 1 << 20


@dataclass(frozen=True, slots=True)
class Blob:
    """Size and lower-case hex digests of one binary."""

    size: int
    sha1: str
    sha256: str
    md5: str


@dataclass(frozen=True, slots=True)
class PendingBlob:
    """A fully received upload not yet committed (``tmp`` is None in sink mode)."""

    blob: Blob
    tmp: Path | None


class _Hashers:
    def __init__(self) -> None:
        self.sha1 = hashlib.sha1(usedforsecurity=False)
        self.sha256 = hashlib.sha256()
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.size = 0

    def consume(self, out: IO[bytes] | None, batch: list[bytes]) -> None:
        data = batch[0] if len(batch) == 1 else b"".join(batch)
        self.sha1.update(data)
        self.sha256.update(data)
        self.md5.update(data)
        self.size += len(data)
        if out is not None:
            out.write(data)

    def blob(self) -> Blob:
        return Blob(self.size, self.sha1.hexdigest(), self.sha256.hexdigest(), self.md5.hexdigest())


class BlobStore:
    """Binaries by SHA-1 with reference counts; unreferenced blobs are deleted at once."""

    def __init__(self, root: Path | None, *, sink: bool) -> None:
        self._owned = root is None
        self.root = Path(tempfile.mkdtemp(prefix="artifactory-emu-")) if root is None else root
        self.sink = sink
        self._tmp = self.root / "tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)
        self._blobs: dict[str, Blob] = {}
        self._by_sha256: dict[str, str] = {}
        self._refs: dict[str, int] = {}
        self.offload = True
        self.received = 0
        """Body bytes taken in so far, as they arrive (uploads cut off included)."""

    def _final(self, sha1: str) -> Path:
        return self.root / "blobs" / sha1[:2] / sha1

    async def ingest(self, chunks: AsyncIterator[bytes]) -> PendingBlob:
        """Receive a whole body, hashing it and (unless sink) writing it to a temporary file."""
        tmp = None if self.sink else self._tmp / uuid.uuid4().hex
        out: IO[bytes] | None = None if tmp is None else open(tmp, "wb")  # noqa: SIM115, ASYNC230
        hashers = _Hashers()
        loop = asyncio.get_running_loop()
        inflight: asyncio.Future[None] | None = None
        batch: list[bytes] = []
        pending = 0
        try:
            async for chunk in chunks:
                batch.append(chunk)
                pending += len(chunk)
                self.received += len(chunk)
                if pending < _BATCH:
                    continue
                if not self.offload:
                    hashers.consume(out, batch)
                else:
                    if inflight is not None:
                        await inflight
                    inflight = loop.run_in_executor(None, hashers.consume, out, batch)
                batch, pending = [], 0
            if inflight is not None:
                await inflight
                inflight = None
            if batch:
                hashers.consume(out, batch)
            if out is not None:
                out.close()
        except BaseException:
            self._abandon(inflight, out, tmp)
            raise
        return PendingBlob(hashers.blob(), tmp)

    @staticmethod
    def _abandon(
        inflight: asyncio.Future[None] | None, out: IO[bytes] | None, tmp: Path | None
    ) -> None:
        def cleanup(fut: asyncio.Future[Any] | None = None) -> None:
            if fut is not None and not fut.cancelled():
                fut.exception()  # retrieved so asyncio does not warn about it
            if out is not None:
                out.close()
            if tmp is not None:
                tmp.unlink(missing_ok=True)

        # a batch still being written in a thread must finish before its file is closed
        if inflight is not None and not inflight.done():
            inflight.add_done_callback(cleanup)
        else:
            cleanup(inflight)

    def discard(self, pending: PendingBlob) -> None:
        """Forget an upload that will not be stored (checksum mismatch, conflict)."""
        if pending.tmp is not None:
            pending.tmp.unlink(missing_ok=True)

    def commit(self, pending: PendingBlob) -> Blob:
        """Move an upload into the store (dedup by SHA-1) and take one reference to it."""
        blob = pending.blob
        if pending.tmp is not None:
            final = self._final(blob.sha1)
            if blob.sha1 in self._blobs or final.exists():
                pending.tmp.unlink(missing_ok=True)
            else:
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(pending.tmp, final)
        self._blobs.setdefault(blob.sha1, blob)
        self._by_sha256.setdefault(blob.sha256, blob.sha1)
        self.acquire(blob.sha1)
        return blob

    def find(self, *, sha1: str | None = None, sha256: str | None = None) -> Blob | None:
        """A stored blob with that SHA-256 (preferred) or SHA-1."""
        if sha256 is not None:
            key = self._by_sha256.get(sha256.lower())
            return None if key is None else self._blobs.get(key)
        if sha1 is not None:
            return self._blobs.get(sha1.lower())
        return None

    def acquire(self, sha1: str) -> None:
        """One more path refers to this blob."""
        self._refs[sha1] = self._refs.get(sha1, 0) + 1

    def release(self, sha1: str) -> None:
        """One path less refers to this blob; the last one deletes it."""
        left = self._refs.get(sha1, 0) - 1
        if left > 0:
            self._refs[sha1] = left
            return
        self._refs.pop(sha1, None)
        blob = self._blobs.pop(sha1, None)
        if blob is not None:
            self._by_sha256.pop(blob.sha256, None)
        if not self.sink:
            self._final(sha1).unlink(missing_ok=True)

    def path(self, sha1: str) -> Path | None:
        """Where the bytes of a blob are (None in sink mode or when unknown)."""
        if self.sink or sha1 not in self._blobs:
            return None
        return self._final(sha1)

    def used_bytes(self) -> int:
        """Bytes of the distinct binaries stored (what a storage quota counts)."""
        return sum(blob.size for blob in self._blobs.values())

    def blob_count(self) -> int:
        """How many distinct binaries are stored."""
        return len(self._blobs)

    def close(self) -> None:
        """Delete the directory if this store created it."""
        if self._owned:
            shutil.rmtree(self.root, ignore_errors=True)
