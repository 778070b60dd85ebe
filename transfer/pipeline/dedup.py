"""Identical content inside one run is streamed once; the other copies are checksum-deployed.

The first worker to reach a digest becomes its *leader* and streams it; workers that reach the
same digest meanwhile wait for the leader, then link the content with a checksum deploy.
Memory: one entry per distinct digest seen in this process, about 204 bytes (the 64-character
hex digest 113, the ordered dict's slot and link the rest; tracemalloc over 100,000 sha256
digests on CPython 3.11, 185-204 as the hash table fills), bounded by ``max_entries`` (oldest
forgotten first: about 41 MB at the default 200,000) so a million-file run stays flat.
"""

from __future__ import annotations

from collections import OrderedDict

import anyio

__all__ = ["ContentRegistry"]


class ContentRegistry:
    """Which digests the target already holds, and which are being streamed right now."""

    def __init__(self, max_entries: int = 200_000) -> None:
        self._in_target: OrderedDict[str, None] = OrderedDict()
        self._streaming: dict[str, anyio.Event] = {}
        self._max_entries = max_entries

    def in_target(self, digest: str) -> bool:
        """Whether this run stored content with ``digest`` in the target."""
        return bool(digest) and digest in self._in_target

    def mark_in_target(self, digest: str) -> None:
        """Remember that the target holds content with ``digest``."""
        if not digest:
            return
        self._in_target[digest] = None
        self._in_target.move_to_end(digest)
        while len(self._in_target) > self._max_entries:
            self._in_target.popitem(last=False)

    def lead(self, digest: str) -> anyio.Event | None:
        """Become the leader for ``digest`` (returns None) or get the leader's done-event."""
        event = self._streaming.get(digest)
        if event is not None:
            return event
        self._streaming[digest] = anyio.Event()
        return None

    def finish(self, digest: str, *, stored: bool) -> None:
        """The leader is done with ``digest`` (``stored``: the target now holds it)."""
        if stored:
            self.mark_in_target(digest)
        event = self._streaming.pop(digest, None)
        if event is not None:
            event.set()
