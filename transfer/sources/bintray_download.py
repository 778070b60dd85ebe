"""Downloads from the Bintray download host: ``{dl}/{owner}/{repo}/{path}`` (reference §6.2).

The download host answers a file with the bytes or with a 302 to a short-lived CDN URL; the
HTTP layer follows it and attaches our credentials only to requests for the download host's own
origin, so the CDN never sees them.  A redirect loop ends in a non-retryable
:class:`~transfer.errors.RemoteError` naming the URL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from transfer.http import HttpClient
from transfer.models import SourceFile
from transfer.sources.bintray_api import encode_segments
from transfer.sources.streamed import DOWNLOAD_HEADERS, StreamedDownload

__all__ = ["download_path", "open_bintray_download"]


def download_path(subject: str, file: SourceFile) -> str:
    """The encoded path of ``file`` on the download host: owner, repo, then the file path.

    Package and version are not part of it (reference §15.1); the owner is the file's own
    ``owner`` when the listing gave one (a linked package's files live with their owner).
    """
    owner = file.extra.get("owner") or subject
    return encode_segments(str(owner), file.repo, *file.path.split("/"))


@asynccontextmanager
async def open_bintray_download(
    client: HttpClient, subject: str, file: SourceFile
) -> AsyncIterator[StreamedDownload]:
    """Open ``file`` for streaming; unpublished files are asked for with
    ``include_unpublished=1`` (honoured for publishers only)."""
    params = None if file.published else {"include_unpublished": 1}
    async with client.stream(
        "GET", download_path(subject, file), params=params, headers=DOWNLOAD_HEADERS
    ) as response:
        yield StreamedDownload(response)
