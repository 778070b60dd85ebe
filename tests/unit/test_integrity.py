"""MultiHasher, hashing() in flight (inline and offloaded) and verify_transfer."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import AsyncIterator

import pytest

from transfer.errors import ChecksumMismatch, IntegrityError, SizeMismatch
from transfer.integrity import (
    Buffer,
    MultiHasher,
    Verified,
    digests_to_compute,
    hashing,
    verify_transfer,
)
from transfer.models import Checksums

pytestmark = pytest.mark.anyio

DATA = bytes(range(256)) * 4099  # ~1 MiB, not a multiple of any chunk size


def expected(data: bytes) -> Checksums:
    return Checksums(
        sha1=hashlib.sha1(data).hexdigest(),
        sha256=hashlib.sha256(data).hexdigest(),
        md5=hashlib.md5(data).hexdigest(),
    )


def test_multi_hasher_matches_hashlib_over_mixed_buffers() -> None:
    hasher = MultiHasher()
    hasher.update(DATA[:1000])
    hasher.update(bytearray(DATA[1000:5000]))
    hasher.update(memoryview(DATA)[5000:])
    assert hasher.size == len(DATA)
    assert hasher.digests() == expected(DATA)


def test_multi_hasher_subset_leaves_others_empty() -> None:
    hasher = MultiHasher(("SHA256",))
    hasher.update(b"abc")
    assert hasher.algorithms == ("sha256",)
    assert hasher.digests() == Checksums(sha256=hashlib.sha256(b"abc").hexdigest())


def test_multi_hasher_rejects_unknown_algorithms() -> None:
    with pytest.raises(ValueError, match="crc32"):
        MultiHasher(("sha1", "crc32"))


async def chunked(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize("offload_threshold", [None, 1, 64 * 1024, 10**9])
async def test_hashing_passes_chunks_through_and_hashes_them(
    offload_threshold: int | None,
) -> None:
    hasher = MultiHasher()
    out = [
        c
        async for c in hashing(chunked(DATA, 100_000), hasher, offload_threshold=offload_threshold)
    ]
    assert b"".join(out) == DATA
    assert [len(c) for c in out] == [len(c) async for c in chunked(DATA, 100_000)]
    assert hasher.size == len(DATA)
    assert hasher.digests() == expected(DATA)


class ThreadSpy(MultiHasher):
    def __init__(self, algorithms: tuple[str, ...] = ("sha1", "sha256", "md5")) -> None:
        super().__init__(algorithms)
        self.threads: list[int] = []

    def update(self, chunk: Buffer) -> None:
        self.threads.append(threading.get_ident())
        super().update(chunk)


async def test_hashing_offloads_batches_of_chunks_to_a_thread() -> None:
    loop_thread = threading.get_ident()
    spy = ThreadSpy()
    sizes = [10, 5000, 3000, 2000, 10]

    async def chunks() -> AsyncIterator[bytes]:
        for size in sizes:
            yield b"z" * size

    handed_on = [len(c) async for c in hashing(chunks(), spy, offload_threshold=4096)]
    assert handed_on == sizes  # unchanged, in order
    # [10, 5000] and [3000, 2000] reach the threshold: a thread each; the short tail: inline
    on_loop = [t == loop_thread for t in spy.threads]
    assert on_loop == [False, False, False, False, True]
    assert spy.digests() == expected(b"z" * sum(sizes))
    inline = ThreadSpy()
    async for _ in hashing(chunks(), inline, offload_threshold=None):
        pass
    assert set(inline.threads) == {loop_thread}


@pytest.mark.parametrize(("offload_threshold", "counted"), [(None, 1000), (4096, 5000)])
async def test_hashing_counts_what_was_read_at_most_a_batch_ahead(
    offload_threshold: int | None, counted: int
) -> None:
    hasher = MultiHasher()
    stream = hashing(chunked(DATA, 1000), hasher, offload_threshold=offload_threshold)
    async for _ in stream:
        break
    await stream.aclose()  # type: ignore[attr-defined]
    assert hasher.size == counted


def test_verify_passes_and_reports_what_it_checked() -> None:
    ours = expected(DATA)
    result = verify_transfer(
        "a/b.jar",
        declared_size=len(DATA),
        declared=Checksums(sha1=ours.sha1.upper(), sha256=f" {ours.sha256} "),
        computed=ours,
        computed_size=len(DATA),
        target=Checksums(sha1=ours.sha1, md5=ours.md5.upper()),
    )
    assert result == Verified(size=True, declared=("sha256", "sha1"), target=("sha1", "md5"))


def test_size_mismatch_names_expected_and_actual() -> None:
    with pytest.raises(SizeMismatch) as info:
        verify_transfer(
            "a/b.jar",
            declared_size=10,
            declared=Checksums(),
            computed=expected(b"123456789"),
            computed_size=9,
        )
    err = info.value
    assert (err.what, err.expected, err.actual, err.path) == ("size", "10", "9", "a/b.jar")
    assert str(err) == "size mismatch for a/b.jar: expected 10, got 9"
    assert err.retryable


def test_declared_checksum_mismatch_names_the_algorithm() -> None:
    ours = expected(DATA)
    with pytest.raises(ChecksumMismatch) as info:
        verify_transfer(
            "x.bin",
            declared_size=None,
            declared=Checksums(sha1="A" * 40),
            computed=ours,
            computed_size=len(DATA),
        )
    err = info.value
    assert err.what == "sha1"
    assert err.expected == "a" * 40
    assert err.actual == ours.sha1
    assert ours.sha1 in str(err)
    assert isinstance(err, IntegrityError)


def test_strongest_algorithm_is_reported_first() -> None:
    with pytest.raises(ChecksumMismatch) as info:
        verify_transfer(
            "x",
            declared_size=None,
            declared=Checksums(sha1="1" * 40, sha256="2" * 64),
            computed=expected(b"x"),
            computed_size=1,
        )
    assert info.value.what == "sha256"


def test_only_algorithms_known_on_both_sides_are_compared() -> None:
    ours = Checksums(sha1=expected(b"x").sha1)
    result = verify_transfer(
        "x",
        declared_size=-1,
        declared=Checksums(sha256="f" * 64),
        computed=ours,
        computed_size=1,
        target=Checksums(md5="e" * 32),
    )
    assert result == Verified(size=False, declared=(), target=())


def test_target_mismatch_is_labelled_target() -> None:
    ours = expected(DATA)
    with pytest.raises(ChecksumMismatch) as info:
        verify_transfer(
            "x",
            declared_size=len(DATA),
            declared=Checksums(sha1=ours.sha1),
            computed=ours,
            computed_size=len(DATA),
            target=Checksums(sha256="0" * 64),
        )
    err = info.value
    assert err.what == "target sha256"
    assert (err.expected, err.actual) == (ours.sha256, "0" * 64)


def test_target_falls_back_to_declared_for_algorithms_not_computed() -> None:
    with pytest.raises(ChecksumMismatch) as info:
        verify_transfer(
            "x",
            declared_size=None,
            declared=Checksums(sha256="a" * 64),
            computed=Checksums(sha1="b" * 40),
            computed_size=1,
            target=Checksums(sha1="b" * 40, sha256="c" * 64),
        )
    assert info.value.what == "target sha256"


ART = ("sha1", "sha256", "md5")  # what Artifactory reports for a stored file


@pytest.mark.parametrize(
    ("declared", "reports", "computed"),
    [
        # declared and reported: the target hashes, the declaration is compared with it
        (Checksums(sha1="1" * 40, sha256="2" * 64), ART, ()),
        (Checksums(sha1="1" * 40), ART, ()),
        # declared, nothing reported (WebDAV): one declared digest, sha256 first
        (Checksums(sha1="1" * 40, sha256="2" * 64), (), ("sha256",)),
        (Checksums(sha1="1" * 40), (), ("sha1",)),
        # nothing declared: one digest the target reports
        (Checksums(), ART, ("sha256",)),
        (Checksums(), ("SHA1", "md5"), ("sha1",)),
        (Checksums(md5="3" * 32), ("md5",), ()),
        # nothing on either side: the size alone
        (Checksums(), (), ()),
    ],
)
def test_only_a_digest_something_compares_is_computed(
    declared: Checksums, reports: tuple[str, ...], computed: tuple[str, ...]
) -> None:
    assert digests_to_compute(declared, reports) == computed


async def test_counting_alone_stays_on_the_event_loop() -> None:
    hasher = ThreadSpy(())
    seen = [c async for c in hashing(chunked(DATA, 512 * 1024), hasher, offload_threshold=1)]
    assert b"".join(seen) == DATA
    assert hasher.size == len(DATA)
    assert set(hasher.threads) == {threading.get_ident()}
