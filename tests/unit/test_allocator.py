"""keep_freed_memory: streamed buffers reuse their pages instead of faulting them in anew."""

from __future__ import annotations

import random
import resource
import sys

import pytest

from transfer.runner.allocator import keep_freed_memory

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")


def _faults_streaming(pieces: int) -> int:
    """Minor page faults while ``pieces`` buffers of 64 KiB-2 MiB are read and handed on,
    three at a time, in no fixed order (as concurrent streams do)."""
    rng = random.Random(1)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    held: list[bytes] = []
    for _ in range(pieces):
        held.append(b"\x01" * rng.randrange(64 * 1024, 2 * 1024 * 1024))
        if len(held) > 3:
            held.pop(rng.randrange(len(held)))
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def test_freed_buffers_are_reused_without_page_faults() -> None:
    assert keep_freed_memory()
    _faults_streaming(8)  # the working set, faulted in once
    # ~200 MiB through the same few buffers: glibc's defaults fault ~13,000 pages in anew
    assert _faults_streaming(200) < 2_000
