"""The request log both emulators keep, so tests can count PUTs and bytes."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice

__all__ = ["REQUEST_LOG_LIMIT", "RequestLog", "RequestRecord"]

REQUEST_LOG_LIMIT = 100_000
"""How many requests an emulator's log keeps, the newest: more than any test's run makes, and
about 33 MB of records (~330 bytes each with a 100-character path); a run past it (a million
files) forgets the oldest instead of growing without bound."""


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request as the emulator saw it (path without query, decoded)."""

    method: str
    path: str
    status: int
    bytes_in: int
    bytes_out: int
    user: str
    at: float


class RequestLog:
    """The newest ``limit`` requests, and how many were ever recorded.

    Tests read a run whole (iterate, :meth:`count`, ``len``, :meth:`clear`), which holds while
    the run makes at most ``limit`` requests; past that the oldest are forgotten, so the log
    stays bounded however long an emulator serves.  A reader following new requests (the
    Bintray event stream) keeps a position, :attr:`recorded` when it last read, and asks for
    what came :meth:`since`: positions count every request, so forgetting does not shift them.
    """

    def __init__(self, limit: int = REQUEST_LOG_LIMIT) -> None:
        if limit < 1:
            raise ValueError("a request log keeps at least one request")
        self._limit = limit
        self._records: deque[RequestRecord] = deque(maxlen=limit)
        self.recorded = 0
        """Requests recorded since the log was made (cleared and forgotten ones included)."""

    @property
    def limit(self) -> int:
        """How many requests are kept at most."""
        return self._limit

    def add(
        self,
        method: str,
        path: str,
        status: int,
        *,
        bytes_in: int = 0,
        bytes_out: int = 0,
        user: str = "",
    ) -> None:
        """Record one finished request (forgetting the oldest kept one when full)."""
        self._records.append(
            RequestRecord(method, path, status, bytes_in, bytes_out, user, time.time())
        )
        self.recorded += 1

    def since(self, position: int) -> list[RequestRecord]:
        """The kept requests recorded after the first ``position`` (a :attr:`recorded` read
        earlier), oldest first; those forgotten or cleared meanwhile are missing."""
        newer = min(max(self.recorded - position, 0), len(self._records))
        return list(islice(reversed(self._records), newer))[::-1]

    def __iter__(self) -> Iterator[RequestRecord]:
        return iter(list(self._records))

    def __len__(self) -> int:
        return len(self._records)

    def count(
        self, method: str | None = None, path: str | None = None, status: int | None = None
    ) -> int:
        """How many kept records match every given field."""
        return sum(
            1
            for r in self._records
            if (method is None or r.method == method)
            and (path is None or r.path == path)
            and (status is None or r.status == status)
        )

    def clear(self) -> None:
        """Forget everything kept so far (:attr:`recorded` goes on counting)."""
        self._records.clear()
