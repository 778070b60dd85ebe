"""The one :class:`~transfer.sources.base.Download` every HTTP source hands out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Final

from transfer.http import StreamedResponse
from transfer.redaction import redact_url

__all__ = ["DOWNLOAD_HEADERS", "StreamedDownload"]

DOWNLOAD_HEADERS: Final = {"Accept-Encoding": "identity"}
"""Asked on every download: aiohttp would transparently gunzip a body sent with
``Content-Encoding: gzip``, and the bytes would no longer hash to the declared checksums."""


class StreamedDownload:
    """One open download over HTTP (see :class:`transfer.sources.base.Download`)."""

    def __init__(self, response: StreamedResponse) -> None:
        self._response = response

    @property
    def size(self) -> int | None:
        """``Content-Length`` of the body, or ``None``."""
        return self._response.content_length

    @property
    def url(self) -> str:
        """The URL the bytes came from after redirects, credentials and signatures masked."""
        return redact_url(self._response.url)

    def chunks(self, chunk_size: int) -> AsyncIterator[bytes]:
        """The body in chunks of ``chunk_size`` bytes (the last may be shorter)."""
        return self._response.iter_chunks(chunk_size)
