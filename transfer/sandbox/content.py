"""Deterministic file content: the bytes of a file are a pure function of (seed, key, size).

Nothing is stored, so a multi-GiB organisation costs no disk. Content is a 32-byte header
unique to the key followed by a long pseudo-random cycle starting at a key-dependent offset,
so any byte range can be produced directly (``Range`` requests) and distinct keys never share
content by accident. Files that should be identical share a ``content_key``. A few files whose
bytes must mean something (POMs, checksum files, uploads) are registered as literal bytes instead.
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["ContentKind", "ContentSource", "Digests"]

_BLOCK = 1 << 20
_HEADER = 32
_WORDS = (
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut "
    "labore et dolore magna aliqua artifact release bintray version package repository build "
    "checksum mirror deploy verify"
).split()

ContentKind = str  # "binary" or "text"


@dataclass(frozen=True, slots=True)
class Digests:
    """Size and hex digests of one generated file."""

    size: int
    sha1: str
    sha256: str
    md5: str


class ContentSource:
    """Generates file bytes from a seed; thread-safe, cheap to share."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        rng = random.Random(seed)
        binary = rng.randbytes(_BLOCK)
        words = rng.choices(_WORDS, k=_BLOCK // 64)
        line = (" ".join(words)).encode()
        # short lines so the content looks like a text file
        lines = [line[i : i + 71] for i in range(0, len(line), 71)]
        text = (b"\n".join(lines) * (_BLOCK // len(line) + 2))[:_BLOCK]
        self._blocks = {"binary": binary + binary, "text": text + text}
        self._digests: dict[tuple[str, int, str], Digests] = {}
        self._lock = threading.Lock()
        self._literal: dict[str, bytes] = {}

    def add_literal(self, key: str, data: bytes) -> None:
        """Serve exactly ``data`` for ``key`` (whatever size and kind are asked with it)."""
        with self._lock:
            self._literal[key] = bytes(data)
            self._digests = {k: v for k, v in self._digests.items() if k[0] != key}

    def _header(self, key: str, kind: ContentKind) -> bytes:
        digest = hashlib.blake2b(f"{self.seed}\0{key}".encode(), digest_size=32).digest()
        if kind == "text":
            return digest.hex()[: _HEADER - 1].encode() + b"\n"
        return digest

    def _offset(self, key: str) -> int:
        digest = hashlib.blake2b(f"{key}\0{self.seed}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") % _BLOCK

    def iter_bytes(
        self,
        key: str,
        size: int,
        *,
        kind: ContentKind = "binary",
        start: int = 0,
        end: int | None = None,
        chunk_size: int = 256 * 1024,
    ) -> Iterator[bytes | memoryview]:
        """Yield the bytes ``[start, end)`` of the file (``end`` defaults to ``size``)."""
        stop = size if end is None else min(end, size)
        pos = max(0, start)
        if pos >= stop:
            return
        literal = self._literal.get(key)
        if literal is not None:
            view = memoryview(literal)[pos:stop]
            for at in range(0, len(view), chunk_size):
                yield view[at : at + chunk_size]
            return
        header = self._header(key, kind)
        if pos < _HEADER:
            take = min(_HEADER, stop) - pos
            yield header[pos : pos + take]
            pos += take
        block = memoryview(self._blocks.get(kind, self._blocks["binary"]))
        base = self._offset(key)
        while pos < stop:
            at = (base + pos - _HEADER) % _BLOCK
            take = min(chunk_size, stop - pos, _BLOCK)
            yield block[at : at + take]
            pos += take

    def read(self, key: str, size: int, *, kind: ContentKind = "binary") -> bytes:
        """The whole file as bytes (for small files and tests)."""
        return b"".join(bytes(c) for c in self.iter_bytes(key, size, kind=kind))

    def digests(self, key: str, size: int, *, kind: ContentKind = "binary") -> Digests:
        """Size, sha1, sha256 and md5 of the file, computed once and memoised."""
        memo_key = (key, size, kind)
        with self._lock:
            cached = self._digests.get(memo_key)
        if cached is not None:
            return cached
        sha1, sha256, md5 = hashlib.sha1(), hashlib.sha256(), hashlib.md5()
        for chunk in self.iter_bytes(key, size, kind=kind, chunk_size=_BLOCK):
            sha1.update(chunk)
            sha256.update(chunk)
            md5.update(chunk)
        result = Digests(size, sha1.hexdigest(), sha256.hexdigest(), md5.hexdigest())
        with self._lock:
            self._digests[memo_key] = result
        return result
