"""Which differences in the target's identity make a run distrust its ``done`` items (pure)."""

from __future__ import annotations

from transfer.pipeline.target_truth import identity_changes, parse_identity

BEFORE = {"url": "http://a/artifactory", "service_id": "jfrt@1", "repo:libs": "2026-01-01"}


def test_a_first_run_and_an_unchanged_target_trust_the_store() -> None:
    assert identity_changes({}, BEFORE) is None
    assert identity_changes(BEFORE, dict(BEFORE)) is None
    # a repository first seen now, or a service id we may not read, is no change
    assert identity_changes(BEFORE, {**BEFORE, "repo:new": "x", "service_id": ""}) is None


def test_another_url_or_instance_distrusts_everything() -> None:
    moved = identity_changes(BEFORE, {**BEFORE, "url": "http://b/artifactory"})
    assert moved is not None
    assert moved.repos is None
    assert "target URL changed" in moved.reason
    reinstalled = identity_changes(BEFORE, {**BEFORE, "service_id": "jfrt@2"})
    assert reinstalled is not None
    assert reinstalled.repos is None


def test_a_recreated_or_deleted_repository_distrusts_that_repository() -> None:
    for now in ("2026-02-02", ""):
        change = identity_changes(BEFORE, {**BEFORE, "repo:libs": now})
        assert change is not None
        assert change.repos == frozenset({"libs"})


def test_an_unreadable_identity_is_no_identity() -> None:
    assert parse_identity(None) == {}
    assert parse_identity("not json") == {}
    assert parse_identity('["a"]') == {}
    assert parse_identity('{"url": "u"}') == {"url": "u"}
