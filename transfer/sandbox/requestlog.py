"""The request log both emulators keep, so tests can count PUTs and bytes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["RequestLog", "RequestRecord"]


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
    """Append-only, bounded only by the test that reads it."""

    def __init__(self) -> None:
        self._records: list[RequestRecord] = []

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
        """Record one finished request."""
        self._records.append(
            RequestRecord(method, path, status, bytes_in, bytes_out, user, time.time())
        )

    def __iter__(self) -> Iterator[RequestRecord]:
        return iter(list(self._records))

    def __len__(self) -> int:
        return len(self._records)

    def count(
        self, method: str | None = None, path: str | None = None, status: int | None = None
    ) -> int:
        """How many records match every given field."""
        return sum(
            1
            for r in self._records
            if (method is None or r.method == method)
            and (path is None or r.path == path)
            and (status is None or r.status == status)
        )

    def clear(self) -> None:
        """Forget everything recorded so far."""
        self._records.clear()
