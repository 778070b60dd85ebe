"""The planner's decisions over every combination of inputs (hypothesis): the safety rules
hold whatever the target says, the policy is followed, and nothing is ever marked done on
evidence that does not prove it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from transfer.models import Checksums, ItemState
from transfer.pipeline.planner import (
    Action,
    ConflictPolicy,
    TargetFacts,
    checksums_agree,
    decide,
    unsafe_path_reason,
)

SHA1S = ["", "a" * 40, "A" * 40, "c" * 40]
SHA256S = ["", "b" * 64, "B" * 64, "d" * 64]
MD5S = ["", "e" * 32]

checksums = st.builds(
    Checksums,
    sha1=st.sampled_from(SHA1S),
    sha256=st.sampled_from(SHA256S),
    md5=st.sampled_from(MD5S),
)
paths = st.one_of(
    st.sampled_from(["com/acme/x.jar", "a b/c+d.txt", "日本/résumé.pdf"]),
    st.text(max_size=40),
    st.lists(st.sampled_from(["a", "..", ".", "", "b\\c", "x\x00", "/"]), max_size=4).map("/".join),
)
targets = st.one_of(
    st.none(),
    st.builds(
        TargetFacts,
        exists=st.booleans(),
        size=st.one_of(st.none(), st.integers(0, 10**6)),
        checksums=checksums,
    ),
)


@given(
    path=paths,
    declared=checksums,
    size=st.integers(0, 10**7),
    target=targets,
    policy=st.sampled_from(list(ConflictPolicy)),
    threshold=st.integers(0, 10**6),
    in_target=st.booleans(),
)
def test_decisions_are_safe_and_follow_the_policy(
    path: str,
    declared: Checksums,
    size: int,
    target: TargetFacts | None,
    policy: ConflictPolicy,
    threshold: int,
    in_target: bool,
) -> None:
    decision = decide(
        path=path,
        declared=declared,
        size=size,
        target=target,
        policy=policy,
        min_checksum_deploy_size=threshold,
        content_in_target=in_target,
    )
    unsafe = unsafe_path_reason(path)
    if unsafe is not None:
        # refused before anything else, whatever the target holds
        assert decision.action is Action.RECORD
        assert decision.state is ItemState.FAILED
        assert decision.reason == f"unsafe path refused: {unsafe}"
        return
    if decision.action is Action.RECORD:
        assert decision.state is not None
        assert decision.reason
    present = target is not None and target.exists
    if decision.action is Action.MARK_DONE:
        # done without sending only on proof: a shared checksum agrees, or (nothing declared)
        # the size does
        assert present
        assert target is not None
        agree = checksums_agree(declared, target.checksums)
        assert agree is True or (agree is None and not declared.known() and target.size == size)
        return
    if present:
        assert target is not None
        agree = checksums_agree(declared, target.checksums)
        if agree is False:
            expected = {
                ConflictPolicy.REPORT: ItemState.CONFLICT,
                ConflictPolicy.SKIP: ItemState.SKIPPED,
                ConflictPolicy.FAIL: ItemState.FAILED,
            }.get(policy)
            if expected is None:  # overwrite: send ours
                assert decision.action in (Action.STREAM, Action.TRY_CHECKSUM_DEPLOY)
            else:
                assert decision.action is Action.RECORD
                assert decision.state is expected
            return
    if decision.action is Action.TRY_CHECKSUM_DEPLOY:
        # a checksum deploy needs a digest to name the content
        assert declared.sha1 or declared.sha256
        assert in_target or size >= threshold
    elif decision.action is Action.STREAM:
        assert not ((declared.sha1 or declared.sha256) and (in_target or size >= threshold))


@given(st.text(max_size=60))
def test_unsafe_reason_is_stable_and_never_passes_traversal(path: str) -> None:
    reason = unsafe_path_reason(path)
    assert reason == unsafe_path_reason(path)
    segments = path.split("/")
    if reason is None:
        assert path
        assert not path.startswith("/")
        assert ".." not in segments
        assert "." not in segments
        assert "" not in segments
        assert "\\" not in path
        assert all(ord(c) >= 0x20 and ord(c) != 0x7F for c in path)
