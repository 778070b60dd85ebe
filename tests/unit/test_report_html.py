"""The report page's pure parts: the bounded timeline, escaping, redaction, the charts' SVG."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from transfer.reporting.charts import Timeline, repository_bars
from transfer.reporting.report_html import FailureRows, render_report_html


@given(st.lists(st.tuples(st.floats(0, 1e7), st.integers(0, 10**9), st.integers(0, 5))))
def test_timeline_stays_bounded_and_loses_nothing(
    finished: list[tuple[float, int, int]],
) -> None:
    timeline = Timeline(max_buckets=16)
    for at, size, retries in finished:
        timeline.add(at, size, retries)
    assert len(timeline.files) <= 16
    assert sum(timeline.files.values()) == len(finished)
    assert sum(timeline.bytes.values()) == sum(size for _, size, _ in finished)
    assert sum(timeline.retries.values()) == sum(r for _, _, r in finished)
    minutes, mbps, files, retries = timeline.series()
    assert len(minutes) == len(mbps) == len(files) == len(retries) <= 16


def _page(tmp_path: Path, repo: str, reason: str) -> str:
    csv = tmp_path / "failures.csv"
    csv.write_text(
        "repo,package,version,path,state,http_status,reason,attempts\n"
        f'{repo},p,1,a.jar,failed,401,"{reason}",2\n',
        encoding="utf-8",
    )
    timeline = Timeline()
    timeline.add(1000.0, 10, 1)
    data = {
        "generated_at": "2026-01-01T00:00:00Z",
        "run": "default",
        "items": {"done": {"items": 1, "bytes": 10}, "failed": {"items": 1, "bytes": 5}},
        "repositories": {repo: {"done": 1, "failed": 1}},
        "side_tasks": {
            "unmigratable": [{"key": "k", "what": "<b>bold</b>", "instead": "do this"}],
            "access_key": [
                {"key": "ci", "state": "needs_new_secret", "user": "ci", "distribute": "hand it"}
            ],
        },
    }
    return render_report_html(
        data, failures=FailureRows.read(csv), timeline=timeline, files=["failures.csv"]
    )


def test_names_and_reasons_are_escaped_and_urls_lose_their_credentials(tmp_path: Path) -> None:
    page = _page(
        tmp_path,
        repo="<script>alert(1)</script>",
        reason="HTTP 401 from GET https://user:s3cr3t-pass@dl.example/acme/a.jar",
    )
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "s3cr3t-pass" not in page
    assert "<b>bold</b>" not in page
    assert "<td>ci</td><td>ci</td>" in page
    assert page.count("<svg") == 2


def test_a_dollar_in_a_repository_name_is_drawn_as_written() -> None:
    svg = repository_bars({"$lib$": {"done": 3}, "a_b^c": {"failed": 1}})
    assert "$lib$" in svg
    assert "a_b^c" in svg
