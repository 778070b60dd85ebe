"""The migration report, written from the store: JSON, Markdown, a CSV of failures and a page
(:mod:`transfer.reporting.report_html`).

Everything is streamed from the store (items in id order), so a million-item run writes its
report in constant memory. Side records of kind ``unmigratable`` (products, statistics, reads
the source refused...) become the "what cannot move" section, each with what to do instead.
Failed files are grouped by cause (:mod:`transfer.reporting.causes`) so the report opens with
"192 files: HTTP 401 from the download host" instead of 192 rows to read.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import anyio

from transfer.checkpoint.base import META_LAST_VERIFY, CheckpointStore
from transfer.localfiles import check_writable_dir, write_csv_atomically, write_file_atomically
from transfer.models import ItemState
from transfer.reporting.causes import CauseTally, cause_of, concise_reason
from transfer.reporting.report_html import write_report_html
from transfer.reporting.report_markdown import render_markdown

__all__ = [
    "FAILURE_COLUMNS",
    "META_SESSIONS",
    "ReportPaths",
    "note_session",
    "write_report",
]

FAILURE_COLUMNS = (
    "repo",
    "package",
    "version",
    "path",
    "target_repo",
    "target_url",
    "state",
    "http_status",
    "cause",
    "reason",
    "attempts",
)
_UNFINISHED = (ItemState.FAILED, ItemState.CONFLICT, ItemState.SKIPPED, ItemState.PENDING)
META_SESSIONS: Final = "sessions"
"""Store meta key: when the run's first ``migrate`` started, its last ended, time spent."""


@dataclass(frozen=True, slots=True)
class ReportPaths:
    """Where the report files went."""

    json: Path
    markdown: Path
    failures_csv: Path
    html: Path


async def note_session(store: CheckpointStore, started: float, finished: float) -> None:
    """Add one ``migrate`` session (epoch seconds) to the run's duration in the store."""
    raw = await store.get_meta(META_SESSIONS)
    sessions: dict[str, Any] = json.loads(raw) if raw else {}
    sessions["first_started"] = min(sessions.get("first_started", started), started)
    sessions["last_finished"] = max(sessions.get("last_finished", finished), finished)
    sessions["seconds"] = sessions.get("seconds", 0.0) + max(0.0, finished - started)
    sessions["count"] = sessions.get("count", 0) + 1
    await store.set_meta(META_SESSIONS, json.dumps(sessions))


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


async def write_report(
    store: CheckpointStore,
    out_dir: Path,
    *,
    skip_kinds: Collection[str] = (),
    live_seconds: float | None = None,
    services: Mapping[str, str] | None = None,
    target_url: Callable[[str, str], str] | None = None,
) -> ReportPaths:
    """Write ``report.json``, ``report.md``, ``failures.csv`` and ``report.html`` into ``out_dir``.

    Side records of ``skip_kinds`` (per-file bookkeeping, which can number in the millions) are
    left out of the report. ``live_seconds`` makes report.html refresh itself that often (the
    page ``transfer status --serve`` serves). ``services`` names hosts
    (``{"host:port": "the download host"}``) in failure reasons; ``target_url(repo, path)``
    gives a failed file's URL in the target.
    """
    await anyio.to_thread.run_sync(check_writable_dir, out_dir, "the report directory")
    paths = ReportPaths(
        out_dir / "report.json",
        out_dir / "report.md",
        out_dir / "failures.csv",
        out_dir / "report.html",
    )
    counts = await store.counts()
    named = services or {}
    causes = CauseTally()

    async def failures() -> AsyncIterator[tuple[object, ...]]:
        async for item in store.iter_items(states=_UNFINISHED):
            spec = item.spec
            reason = concise_reason(
                item.last_error,
                named,
                f"{spec.repo}/{spec.path}",
                f"{spec.target_repo}/{spec.target_path}",
                spec.target_path,
                spec.path,
            )
            cause = ""
            if item.state in (ItemState.FAILED, ItemState.CONFLICT):
                cause = cause_of(item.last_error, item.http_status, named)
                if item.state is ItemState.CONFLICT:
                    cause = f"conflict: {cause}"
                causes.add(cause, reason)
            yield (
                spec.repo,
                spec.package,
                spec.version,
                spec.path,
                spec.target_repo,
                target_url(spec.target_repo, spec.target_path) if target_url else "",
                item.state.value,
                item.http_status or "",
                cause,
                reason,
                item.attempts,
            )

    await write_csv_atomically(paths.failures_csv, "the failures list", FAILURE_COLUMNS, failures())
    side: dict[str, list[dict[str, Any]]] = {}
    async for record in store.iter_side():
        if record.kind in skip_kinds:
            continue
        side.setdefault(record.kind, []).append(
            {"key": record.key, "state": record.state, **dict(record.detail)}
        )
    sessions = await store.get_meta(META_SESSIONS)
    data = {
        "generated_at": _iso(time.time()),
        "run": store.run,
        "duration": json.loads(sessions) if sessions else None,
        "verify": json.loads(await store.get_meta(META_LAST_VERIFY) or "null"),
        "items": {s.value: {"items": counts[s].items, "bytes": counts[s].bytes} for s in ItemState},
        "failure_causes": dict(causes.counts.most_common()),
        "repositories": {
            repo: {s.value: per[s].items for s in ItemState if per[s].items}
            for repo, per in sorted(counts.by_repo.items())
        },
        "side_tasks": side,
    }
    produced = await anyio.to_thread.run_sync(_produced, out_dir)
    document = json.dumps(data, indent=2, default=str)
    await anyio.to_thread.run_sync(write_file_atomically, paths.json, document, "the report")
    markdown = render_markdown(
        data,
        counts.total.items,
        causes=causes.most_common(),
        files=sorted({*produced, paths.json.name, paths.failures_csv.name, paths.html.name}),
    )
    await anyio.to_thread.run_sync(write_file_atomically, paths.markdown, markdown, "the report")
    await write_report_html(
        store, data, paths.html, failures_csv=paths.failures_csv, live_seconds=live_seconds
    )
    return paths


def _produced(out_dir: Path) -> list[str]:
    """The CSV and JSON files in the report directory (to link from report.md)."""
    return [
        p.name
        for p in sorted(out_dir.iterdir())
        if p.suffix in (".csv", ".json") and not p.name.startswith(".")
    ]
