"""The planner's decisions, without sockets (property-based where it pays)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from transfer.models import Checksums, ItemState
from transfer.pipeline.planner import (
    CHECKSUM_FILE_PHASE,
    METADATA_PHASE,
    Action,
    ConflictPolicy,
    TargetFacts,
    checksum_file_of,
    checksums_agree,
    claim_phase,
    decide,
    map_repo_key,
    unsafe_path_reason,
)

SHA1 = "a" * 40
SHA256 = "b" * 64


def _decide(**kw: object) -> object:
    args: dict[str, object] = {
        "path": "com/acme/x.jar",
        "declared": Checksums(sha1=SHA1, sha256=SHA256),
        "size": 50_000,
        "target": None,
        "policy": ConflictPolicy.REPORT,
        "min_checksum_deploy_size": 10_240,
    }
    args.update(kw)
    return decide(**args)  # type: ignore[arg-type]


def test_large_file_tries_checksum_deploy_first() -> None:
    assert _decide().action is Action.TRY_CHECKSUM_DEPLOY


def test_small_file_streams_unless_content_already_in_target() -> None:
    assert _decide(size=100).action is Action.STREAM
    assert _decide(size=100, content_in_target=True).action is Action.TRY_CHECKSUM_DEPLOY


def test_no_declared_checksum_always_streams() -> None:
    assert _decide(declared=Checksums()).action is Action.STREAM


def test_same_file_in_target_is_done_without_sending() -> None:
    target = TargetFacts(exists=True, size=50_000, checksums=Checksums(sha1=SHA1.upper()))
    decision = _decide(target=target)
    assert decision.action is Action.MARK_DONE
    assert decision.state is ItemState.DONE


@pytest.mark.parametrize(
    ("policy", "action", "state"),
    [
        (ConflictPolicy.REPORT, Action.RECORD, ItemState.CONFLICT),
        (ConflictPolicy.SKIP, Action.RECORD, ItemState.SKIPPED),
        (ConflictPolicy.FAIL, Action.RECORD, ItemState.FAILED),
        (ConflictPolicy.OVERWRITE, Action.TRY_CHECKSUM_DEPLOY, None),
    ],
)
def test_different_file_in_target_follows_policy(
    policy: ConflictPolicy, action: Action, state: ItemState | None
) -> None:
    target = TargetFacts(exists=True, size=3, checksums=Checksums(sha1="c" * 40))
    decision = _decide(target=target, policy=policy)
    assert decision.action is action  # type: ignore[attr-defined]
    assert decision.state is state  # type: ignore[attr-defined]


def test_absent_target_is_not_a_conflict() -> None:
    assert _decide(target=TargetFacts(exists=False)).action is Action.TRY_CHECKSUM_DEPLOY


OURS = Checksums(sha1="d" * 40, sha256="e" * 64)
"""What an earlier run wrote at the path of an item re-opened because its source changed."""


@pytest.mark.parametrize("declared", [Checksums(sha1=SHA1, sha256=SHA256), Checksums()])
def test_reopened_item_replaces_its_own_earlier_copy(declared: Checksums) -> None:
    target = TargetFacts(exists=True, size=50_000, checksums=OURS)
    decision = _decide(declared=declared, target=target, written=OURS)
    assert decision.action in (Action.TRY_CHECKSUM_DEPLOY, Action.STREAM)  # type: ignore[attr-defined]
    assert decision.how == "replaced_own_copy"  # type: ignore[attr-defined]


@pytest.mark.parametrize("declared", [Checksums(sha1=SHA1, sha256=SHA256), Checksums()])
def test_reopened_item_never_overwrites_someone_elses_file(declared: Checksums) -> None:
    theirs = TargetFacts(exists=True, size=50_000, checksums=Checksums(sha1="c" * 40))
    decision = _decide(declared=declared, target=theirs, written=OURS)
    assert (decision.action, decision.state) == (Action.RECORD, ItemState.CONFLICT)  # type: ignore[attr-defined]


def test_reopened_item_with_nothing_at_its_path_uploads() -> None:
    decision = _decide(declared=Checksums(), target=TargetFacts(exists=False), written=OURS)
    assert (decision.action, decision.how) == (Action.STREAM, "")  # type: ignore[attr-defined]


def test_reopened_item_is_not_already_present_by_size_alone() -> None:
    # No checksums declared (a local directory) and our old copy has the new file's size: only
    # a checksum comparison may accept what is there, and it shows the copy is the old one.
    same_size = TargetFacts(exists=True, size=50_000, checksums=OURS)
    assert _decide(declared=Checksums(), target=same_size).action is Action.MARK_DONE
    decision = _decide(declared=Checksums(), target=same_size, written=OURS)
    assert decision.action is Action.STREAM  # type: ignore[attr-defined]
    unknown = TargetFacts(exists=True, size=50_000)
    decision = _decide(declared=Checksums(), target=unknown, written=OURS)
    assert decision.state is ItemState.CONFLICT  # type: ignore[attr-defined]


def test_reopened_item_whose_new_content_is_there_is_already_present() -> None:
    target = TargetFacts(exists=True, size=50_000, checksums=Checksums(sha256=SHA256))
    assert _decide(target=target, written=OURS).action is Action.MARK_DONE  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "path",
    ["../etc/passwd", "a/../b", "/abs/path", "a\\b", "a\x00b", "a/\nb", "a//b", "a/./b", "", "a/"],
)
def test_unsafe_paths_are_refused(path: str) -> None:
    assert unsafe_path_reason(path) is not None
    decision = _decide(path=path)
    assert decision.action is Action.RECORD  # type: ignore[attr-defined]
    assert decision.state is ItemState.FAILED  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "path",
    ["a b/c+d/e:f/%41/résumé 日本.txt", "pool/main/w/widget_1.0+b5_amd64.deb", "x;y=z,1|2"],
)
def test_awkward_but_safe_paths_pass(path: str) -> None:
    assert unsafe_path_reason(path) is None


def test_over_long_paths_and_segments_are_refused() -> None:
    assert unsafe_path_reason("a/" * 600 + "b") is not None
    assert unsafe_path_reason("é" * 200) is not None


segment = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="/\\"),
    min_size=1,
    max_size=30,
).filter(lambda s: s not in (".", ".."))


@given(st.lists(segment, min_size=1, max_size=8))
def test_paths_built_from_clean_segments_are_safe(segments: list[str]) -> None:
    assert unsafe_path_reason("/".join(segments)) is None


@given(st.lists(segment, min_size=1, max_size=5), st.sampled_from(["..", ".", ""]))
def test_inserting_a_dot_segment_is_always_refused(segments: list[str], bad: str) -> None:
    path = "/".join([*segments, bad, *segments])
    assert unsafe_path_reason(path) is not None


@given(
    st.builds(Checksums, sha1=st.sampled_from(["", SHA1]), sha256=st.sampled_from(["", SHA256])),
    st.builds(
        Checksums,
        sha1=st.sampled_from(["", SHA1, "c" * 40]),
        sha256=st.sampled_from(["", SHA256, "d" * 64]),
    ),
    st.sampled_from(list(ConflictPolicy)),
)
def test_never_marks_done_when_a_shared_checksum_differs(
    declared: Checksums, held: Checksums, policy: ConflictPolicy
) -> None:
    target = TargetFacts(exists=True, size=1, checksums=held)
    decision = _decide(declared=declared, target=target, policy=policy)
    if checksums_agree(declared, held) is False:
        assert decision.action is not Action.MARK_DONE  # type: ignore[attr-defined]


def test_repo_key_template() -> None:
    assert map_repo_key("{repo}", repo="releases", subject="acme", repo_type="maven") == "releases"
    assert (
        map_repo_key("{subject}-{repo}-{type}", repo="debs", subject="acme", repo_type="debian")
        == "acme-debs-debian"
    )
    with pytest.raises(ValueError, match="not a valid Artifactory key"):
        map_repo_key("{repo}", repo="my repo", subject="acme", repo_type="generic")
    with pytest.raises(ValueError, match="not a valid Artifactory key"):
        map_repo_key("{repo}", repo="1st", subject="acme", repo_type="generic")


@pytest.mark.parametrize(
    ("path", "phase"),
    [
        ("com/acme/x/1.0/x-1.0.jar", 0),
        ("com/acme/x/1.0/x-1.0-sources.jar", 0),
        ("com/acme/x/1.0/x-1.0.pom", METADATA_PHASE),
        ("project/pom.xml", METADATA_PHASE),
        ("com/acme/x/maven-metadata.xml", METADATA_PHASE),
        ("widget/1.0/manifest.json", METADATA_PHASE),
        ("widget/list.manifest.json", METADATA_PHASE),
        ("acme/w/1.0/stable/export/conanfile.py", METADATA_PHASE),
        ("notes/manifest.json.txt", 0),
        ("com/acme/x/1.0/x-1.0.jar.sha1", CHECKSUM_FILE_PHASE),
        ("com/acme/x/1.0/x-1.0.pom.MD5", CHECKSUM_FILE_PHASE),
        ("com/acme/x/maven-metadata.xml.sha256", CHECKSUM_FILE_PHASE),
        ("dist/.sha1", 0),
        ("dist/file.sha512", 0),
    ],
)
def test_claim_phase_holds_back_metadata_then_checksum_files(path: str, phase: int) -> None:
    assert claim_phase(path) == phase


def test_checksum_file_names_its_artifact_and_algorithm() -> None:
    assert checksum_file_of("a/b.jar.sha256") == ("a/b.jar", "sha256")
    assert checksum_file_of("a/b.jar.Sha1") == ("a/b.jar", "sha1")
    assert checksum_file_of("a/b.jar") is None
    assert checksum_file_of(".md5") is None


def test_control_characters_are_unicodes_cc_category_exactly() -> None:
    for code in [*range(0x3000), 0xFEFF, 0xFFFD, 0x1F600, 0xE0001]:
        char = chr(code)
        if char in "/\\":
            continue
        reason = unsafe_path_reason(f"a{char}b") or ""
        assert reason.startswith("control character") == (unicodedata.category(char) == "Cc")
        if reason:
            assert reason == f"control character U+{code:04X} in path"
