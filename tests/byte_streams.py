"""Bytes as the targets take them: the checksums of a body, and a body as a chunk stream."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

from transfer.models import Checksums


def digests(data: bytes) -> Checksums:
    """sha1, sha256 and md5 of ``data``."""
    return Checksums(
        sha1=hashlib.sha1(data).hexdigest(),
        sha256=hashlib.sha256(data).hexdigest(),
        md5=hashlib.md5(data).hexdigest(),
    )


async def pieces(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    """``data`` in chunks of ``size`` bytes."""
    for start in range(0, len(data), size):
        yield data[start : start + size]
