"""Hash bytes while they stream, then compare: size, declared checksums, target checksums.

One strong digest costs ~0.55 CPU s/GB (sha256 or sha1 with SHA-NI; md5 ~1.25), and
:func:`digests_to_compute` asks for no more than one.  Inline hashing holds the event loop
~0.5 ms per MiB; :func:`hashing` hands batches of ``offload_threshold`` bytes or more to a
worker thread instead: hashlib releases the GIL for inputs over 2047 bytes, so the loop keeps
serving other transfers meanwhile.  Measured on loopback (2 cores, server in another process)
with 1 MiB per hand-off: one stream, inline and offloaded are equal (~250-275 MiB/s); four
concurrent streams, offloading wins (~300-340 vs ~215-265 MiB/s).  A hand-off per 256 KiB socket
read instead cost ~0.2 CPU s/GB more than inline hashing (loaded machine, same run): hence
batches, a quarter of the hand-offs; they still cost ~0.1-0.15 CPU s/GB more than inline
(3 streams nginx → nginx, 2 loaded cores), for no clear gain in MB/s there.  ``None`` (inline)
is the cheaper choice where every core is busy anyway.

The copy workers hash inline (``CopyOptions.hash_offload_threshold = None``): measured again
after pieces were passed on as aiohttp reads them (3 × 1 GiB nginx → nginx, quiet 2 cores,
A/B back to back), inline moved as many MB/s as batches of 1 MiB on a thread (666 vs 663,
394 vs 384; one stream 360 vs 352) for 1.3-1.4 CPU s/GB against 1.5-1.6.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable, AsyncIterator, Collection, Iterable
from dataclasses import dataclass

import anyio.to_thread

from transfer.errors import ChecksumMismatch, SizeMismatch
from transfer.models import Checksums

__all__ = [
    "ALGORITHMS",
    "DEFAULT_OFFLOAD_THRESHOLD",
    "Buffer",
    "MultiHasher",
    "Verified",
    "digests_to_compute",
    "hashing",
    "verify_transfer",
]

ALGORITHMS: tuple[str, ...] = ("sha256", "sha1", "md5")
"""The algorithms :class:`Checksums` holds, strongest first (the order checks run in)."""

DEFAULT_OFFLOAD_THRESHOLD = 1024 * 1024
"""By default chunks are hashed off the event loop in batches of at least this many bytes."""

Buffer = bytes | bytearray | memoryview
"""What a chunk of file content may be."""

STRONG: tuple[str, ...] = ("sha256", "sha1")
"""Digests that prove the content (md5 only ever rides along), preferred first."""


def digests_to_compute(declared: Checksums, target_reports: Collection[str]) -> tuple[str, ...]:
    """What to hash while streaming so that one strong digest is checked end to end, and no
    more (each costs 0.5-1.2 CPU s/GB).

    ``target_reports`` are the algorithms the target returns for what it stored (Artifactory:
    sha1, sha256, md5; a WebDAV server: none).  In order:

    * the source declares a strong digest the target reports: nothing; the target hashes what
      arrived and :func:`verify_transfer` compares that with the declaration (both legs of the
      copy at once; Artifactory also refuses a mismatch with the checksum headers);
    * the source declares one the target cannot report: that one (sha256 before sha1);
    * nothing declared: one strong digest the target reports, to compare with it;
    * nothing to compare with on either side: nothing; only the size is checked.

    A source that learns a file's digests while reading it declares nothing beforehand, so
    the pipeline hashes for the target's sake only.
    """
    known = declared.known()
    reported = {a.lower() for a in target_reports}
    offered = [a for a in STRONG if a in known]
    if any(a in reported for a in offered):
        return ()
    if offered:
        return (offered[0],)
    return next(((a,) for a in STRONG if a in reported), ())


class MultiHasher:
    """Feeds every chunk to several hash algorithms at once and counts the bytes."""

    def __init__(self, algorithms: Iterable[str] = ("sha1", "sha256", "md5")) -> None:
        names = tuple(dict.fromkeys(a.lower() for a in algorithms))
        unknown = [a for a in names if a not in ALGORITHMS]
        if unknown:
            raise ValueError(f"unsupported hash algorithm(s): {', '.join(unknown)}")
        self._hashes = [hashlib.new(name) for name in names]
        self._names = names
        self._size = 0

    @property
    def algorithms(self) -> tuple[str, ...]:
        """The algorithms being computed."""
        return self._names

    @property
    def size(self) -> int:
        """Bytes hashed so far."""
        return self._size

    def update(self, chunk: Buffer) -> None:
        """Hash ``chunk`` with every algorithm."""
        for h in self._hashes:
            h.update(chunk)
        self._size += len(chunk) if not isinstance(chunk, memoryview) else chunk.nbytes

    def update_all(self, chunks: Iterable[Buffer]) -> None:
        """Hash each of ``chunks`` in turn (one call for a batch handed to a thread)."""
        for chunk in chunks:
            self.update(chunk)

    def digests(self) -> Checksums:
        """Hex digests of everything hashed so far (algorithms not computed stay empty)."""
        found = {name: h.hexdigest() for name, h in zip(self._names, self._hashes, strict=True)}
        return Checksums(**found)


async def hashing(
    chunks: AsyncIterable[Buffer],
    hasher: MultiHasher,
    *,
    offload_threshold: int | None = DEFAULT_OFFLOAD_THRESHOLD,
) -> AsyncIterator[Buffer]:
    """Pass ``chunks`` through unchanged, hashing each before it is handed on.

    With an ``offload_threshold``, chunks are gathered until they add up to at least that
    many bytes, hashed together in one worker-thread call, then handed on: the event loop
    serves other transfers meanwhile, and the thread hand-off (tens of microseconds, a wake-up
    of the loop) is paid once per batch, not once per socket read (pieces of up to 256 KiB).
    A last batch smaller than the threshold is hashed inline.  ``None`` hashes every chunk
    inline as it comes.  :attr:`MultiHasher.size` counts what was read and hashed: what the
    consumer received, plus at most the batch being handed on.
    """
    if not hasher.algorithms or offload_threshold is None:
        async for chunk in chunks:  # inline (counting alone is not worth a thread)
            hasher.update(chunk)
            yield chunk
        return
    batch: list[Buffer] = []
    held = 0
    async for chunk in chunks:
        batch.append(chunk)
        held += memoryview(chunk).nbytes
        if held >= offload_threshold:
            await anyio.to_thread.run_sync(hasher.update_all, batch)
            for each in batch:
                yield each
            batch, held = [], 0
    hasher.update_all(batch)
    for each in batch:
        yield each


@dataclass(frozen=True, slots=True)
class Verified:
    """What :func:`verify_transfer` could actually check (empty tuples: nothing to compare)."""

    size: bool
    declared: tuple[str, ...]
    target: tuple[str, ...]


def _norm(value: str) -> str:
    return value.strip().lower()


def _compare(expected: Checksums, actual: Checksums, *, label: str, path: str) -> tuple[str, ...]:
    want, got = expected.known(), actual.known()
    checked = []
    for algo in ALGORITHMS:
        if algo in want and algo in got:
            if _norm(want[algo]) != _norm(got[algo]):
                raise ChecksumMismatch(
                    f"{label}{algo}", _norm(want[algo]), _norm(got[algo]), path=path
                )
            checked.append(algo)
    return tuple(checked)


def verify_transfer(
    path: str,
    *,
    declared_size: int | None,
    declared: Checksums,
    computed: Checksums,
    computed_size: int,
    target: Checksums | None = None,
) -> Verified:
    """Check one copied file: size, then declared vs computed, then computed vs target.

    Raises :class:`SizeMismatch` or :class:`ChecksumMismatch` naming what differs, the expected
    and the actual value.  Only algorithms known on both sides are compared, ignoring case; a
    ``declared_size`` of ``None`` (or negative) means unknown.  The target is compared with what
    we computed (falling back to the declared digest for an algorithm we did not compute).
    """
    size_checked = declared_size is not None and declared_size >= 0
    if size_checked and computed_size != declared_size:
        raise SizeMismatch("size", str(declared_size), str(computed_size), path=path)
    declared_checked = _compare(declared, computed, label="", path=path)
    target_checked: tuple[str, ...] = ()
    if target is not None:
        ours = Checksums(
            sha1=computed.sha1 or declared.sha1,
            sha256=computed.sha256 or declared.sha256,
            md5=computed.md5 or declared.md5,
        )
        target_checked = _compare(ours, target, label="target ", path=path)
    return Verified(size=size_checked, declared=declared_checked, target=target_checked)
