"""The Bintray REST API host as one object: encoded paths, JSON, paging and rate headers.

Everything the Bintray source reads from the API host goes through :class:`BintrayApi`, so
percent-encoding, the paging loop (reference §1.5) and the rate-limit bookkeeping (§1.4) live in
one place.  Throttling itself (429, or 403 with ``X-RateLimit-Remaining: 0``) is the HTTP
layer's job: it raises :class:`~transfer.errors.RateLimited` and retries with backoff.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from transfer.http import HttpClient, RateLimitInfo, int_header
from transfer.http.artifactory import encode_name

__all__ = ["BintrayApi", "encode_segments"]


def encode_segments(*segments: str) -> str:
    """Each segment percent-encoded on its own (``:``, space, ``+``, ``;``, ``/``, unicode),
    joined by ``/``."""
    return "/".join(map(encode_name, segments))


class BintrayApi:
    """GETs against the API host of one subject, tracking the rate-limit headers."""

    def __init__(self, client: HttpClient, *, page_size: int = 50) -> None:
        self.client = client
        self.page_size = page_size
        self.rate_limit: RateLimitInfo | None = None
        """The ``X-RateLimit-*`` values of the last API response that carried them."""
        self.warnings: list[str] = []
        """Paged lists that ended in a way that suggests missing items."""

    def _note(self, headers: Mapping[str, str]) -> None:
        info = RateLimitInfo.from_headers(headers)
        if info is not None:
            self.rate_limit = info

    async def get(
        self,
        *segments: str,
        params: Mapping[str, str | int] | Sequence[tuple[str, str | int]] | None = None,
    ) -> tuple[Mapping[str, str], Any]:
        """GET the path made of ``segments`` (each encoded); the headers and the parsed JSON."""
        response = await self.client.request(
            "GET",
            encode_segments(*segments),
            params=params,
            headers={"Accept": "application/json"},
        )
        self._note(response.headers)
        return response.headers, response.json()

    async def get_json(
        self,
        *segments: str,
        params: Mapping[str, str | int] | Sequence[tuple[str, str | int]] | None = None,
    ) -> Any:
        """The parsed JSON of a GET (see :meth:`get`)."""
        _headers, body = await self.get(*segments, params=params)
        return body

    async def get_raw_path(
        self,
        prefix: Sequence[str],
        path: str,
        suffix: Sequence[str] = (),
        *,
        params: Mapping[str, str | int] | None = None,
    ) -> Any:
        """GET ``prefix/path/suffix`` where ``path`` is a repository path kept slash-separated."""
        segments = [*prefix, *path.split("/"), *suffix]
        return await self.get_json(*segments, params=params)

    async def paged(
        self, *segments: str, params: Mapping[str, str | int] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Every item of a paged list, following ``start_pos`` (reference §1.5).

        The loop: ask from ``start_pos``; stop when the answer carries no ``X-RangeLimit-*``
        headers, when a page is empty, or when ``EndPos + 1 >= Total`` (EndPos is inclusive);
        otherwise continue at ``EndPos + 1``.  A server whose EndPos does not move forward also
        ends the loop, so a misbehaving server cannot make it spin.  Items are not de-duplicated
        here (callers know the key).
        """
        start = 0
        label = "/".join(segments)
        while True:
            query: dict[str, str | int] = {**(params or {}), "start_pos": start}
            headers, page = await self.get(*segments, params=query)
            items = (
                [item for item in page if isinstance(item, dict)] if isinstance(page, list) else []
            )
            for item in items:
                yield item
            total = int_header(headers, "X-RangeLimit-Total")
            end = int_header(headers, "X-RangeLimit-EndPos")
            if total is None or end is None:
                if len(items) >= self.page_size and start == 0:
                    self.warnings.append(
                        f"{label}: a full page of {len(items)} items came without paging "
                        "headers; the list may be incomplete"
                    )
                return
            if not items or end + 1 >= total:
                return
            if end + 1 <= start:
                self.warnings.append(
                    f"{label}: paging stopped at {start}: EndPos {end} did not advance"
                )
                return
            start = end + 1
