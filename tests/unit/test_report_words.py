"""The words of the report: failure causes grouped and named by service, reasons said once,
report.md headings in words with every failed user or permission target and its reason."""

from __future__ import annotations

import pytest

from transfer.reporting.causes import CauseTally, cause_of, concise_reason, service_names
from transfer.reporting.report_markdown import duration_words, render_markdown

SERVICES = service_names(
    {
        "the download host": "https://dl.example.com",
        "the Bintray API": "https://api.example.com",
        "the target": "https://acme.jfrog.io/artifactory",
    }
)


@pytest.mark.parametrize(
    ("reason", "status", "cause"),
    [
        (
            "HTTP 401 Unauthorized from GET https://dl.example.com/acme/r/a.jar: Unauthorized — "
            "the credentials were refused",
            401,
            "HTTP 401 from the download host",
        ),
        (  # status only in the text (terminal events carry no status)
            "HTTP 503 Service Unavailable from PUT https://acme.jfrog.io/artifactory/r/a.jar",
            None,
            "HTTP 503 from the target",
        ),
        (
            "connection reset while talking to https://api.example.com/packages/acme/r",
            None,
            "connection reset while talking to the Bintray API",
        ),
        (
            "download from the source corrupted: sha1 mismatch for r/a.jar: expected 1, got 2",
            None,
            "download from the source corrupted",
        ),
        ("unsafe path refused: '..' path segment", None, "unsafe path refused"),
        (
            "checksum_file_orphan: r/a.jar is missing; the target serves r/a.jar.sha1",
            None,
            "checksum file of a file that is not in the target",
        ),
        (
            "HTTP 500 Internal Server Error from GET https://other.example/x",
            500,
            "HTTP 500 from other.example",
        ),
    ],
)
def test_causes_name_the_service_and_the_failure(
    reason: str, status: int | None, cause: str
) -> None:
    assert cause_of(reason, status, SERVICES) == cause


def test_a_reason_says_the_url_and_path_once() -> None:
    reason = (
        "HTTP 401 Unauthorized from GET https://dl.example.com/acme/r/a%20b.jar: Unauthorized "
        "for r/a b.jar"
    )
    assert concise_reason(reason, SERVICES, "r/a b.jar") == (
        "HTTP 401 Unauthorized from the download host: Unauthorized"
    )


def test_the_tally_counts_per_cause_most_common_first() -> None:
    tally = CauseTally()
    for _ in range(192):
        tally.add("HTTP 401 from the download host", "first reason")
    tally.add("download from the source corrupted", "other")
    assert tally.most_common() == [
        (192, "HTTP 401 from the download host", "first reason"),
        (1, "download from the source corrupted", "other"),
    ]


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(0.4, "0 s"), (42.6, "43 s"), (60, "1 min"), (3725, "1 h 2 min"), (200000, "2 d 7 h")],
)
def test_durations_are_rounded(seconds: float, words: str) -> None:
    assert duration_words(seconds) == words


def _data(**extra: object) -> dict[str, object]:
    items = {
        s: {"items": 0, "bytes": 0}
        for s in ("pending", "in_flight", "done", "failed", "skipped", "conflict")
    }
    items["done"] = {"items": 9, "bytes": 9000}
    items["failed"] = {"items": 192, "bytes": 192000}
    return {
        "run": "default",
        "generated_at": "2026-12-06T07:00:00Z",
        "items": items,
        "repositories": {"libs": {"done": 9, "failed": 192}},
        "side_tasks": {
            "user": [
                {"key": "alice", "state": "created"},
                {"key": "bob", "state": "failed", "error": "HTTP 400: password policy"},
            ],
            "permission_target": [
                {"key": "bintray-repo-libs", "state": "failed", "error": "HTTP 403: not admin"},
            ],
            "unmigratable": [{"key": "stats", "what": "download statistics", "instead": "x"}],
        },
        **extra,
    }


def test_report_md_reads_as_a_sign_off_document() -> None:
    markdown = render_markdown(
        _data(
            verify={"same": 9, "only_in_source": 192, "at": "2026-12-06T08:00:00Z"},
            duration={
                "first_started": 1796540400.0,
                "last_finished": 1796544000.0,
                "seconds": 3599.7,
                "count": 2,
            },
        ),
        201,
        causes=[
            (192, "HTTP 401 from the download host", "HTTP 401 Unauthorized from the download host")
        ],
        files=["failures.csv", "report.json", "url-map.csv", "verify.csv"],
    )
    top = markdown.split("## Why files failed")[0]
    assert "192 files: HTTP 401 from the download host" in top
    assert "`transfer verify` at 2026-12-06 08:00:00 UTC: **differences found**" in top
    assert "1 h of migration in 2 sessions" in top
    for link in ("[url-map.csv](url-map.csv)", "[verify.csv](verify.csv)"):
        assert link in top
    # headings are words, not store identifiers
    headings = [line for line in markdown.splitlines() if line.startswith("## ")]
    assert "## Permission targets" in headings
    assert "## Users" in headings
    assert not [h for h in headings if "_" in h]
    # every failure with its reason
    assert "- `bob`: failed — HTTP 400: password policy" in markdown
    assert "- `bintray-repo-libs`: failed — HTTP 403: not admin" in markdown
    assert "Needs attention:** 2" in top


def test_report_md_without_verify_says_so() -> None:
    markdown = render_markdown(_data(), 201)
    assert "**Verification:** not verified" in markdown
