"""Which failed downloads may mean the source changed since listing (pure)."""

from __future__ import annotations

from transfer.errors import ChecksumMismatch, NotFoundError, SizeMismatch, TransientError
from transfer.pipeline.source_drift import may_have_drifted


def test_bytes_that_differ_from_the_listing_may_mean_a_re_upload() -> None:
    assert may_have_drifted(ChecksumMismatch("sha1", "a", "b"), from_source=False)
    assert may_have_drifted(SizeMismatch("size", "1", "2"), from_source=True)
    assert may_have_drifted(ChecksumMismatch("checksum (target)", "a", "b"), from_source=False)


def test_a_target_disagreeing_with_our_bytes_is_not_the_source() -> None:
    assert not may_have_drifted(ChecksumMismatch("target sha1", "a", "b"), from_source=False)


def test_a_404_means_gone_only_when_the_source_said_it() -> None:
    assert may_have_drifted(NotFoundError("404", status=404), from_source=True)
    assert not may_have_drifted(NotFoundError("404", status=404), from_source=False)
    assert not may_have_drifted(TransientError("503", status=503), from_source=True)
