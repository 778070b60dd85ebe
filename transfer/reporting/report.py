"""The migration report, written from the store: JSON, Markdown, a CSV of failures and a page
(:mod:`transfer.reporting.report_html`).

Everything is streamed from the store (items in id order), so a million-item run writes its
report in constant memory. Side records of kind ``unmigratable`` (products, statistics, reads
the source refused...) become the "what cannot move" section, each with what to do instead.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from transfer.checkpoint.base import META_LAST_VERIFY, CheckpointStore
from transfer.models import ItemState
from transfer.reporting.report_html import write_report_html

__all__ = ["FAILURE_COLUMNS", "ReportPaths", "write_report"]

FAILURE_COLUMNS = (
    "repo",
    "package",
    "version",
    "path",
    "state",
    "http_status",
    "reason",
    "attempts",
)
_UNFINISHED = (ItemState.FAILED, ItemState.CONFLICT, ItemState.SKIPPED, ItemState.PENDING)


@dataclass(frozen=True, slots=True)
class ReportPaths:
    """Where the report files went."""

    json: Path
    markdown: Path
    failures_csv: Path
    html: Path


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


async def write_report(
    store: CheckpointStore,
    out_dir: Path,
    *,
    skip_kinds: Collection[str] = (),
    live_seconds: float | None = None,
) -> ReportPaths:
    """Write ``report.json``, ``report.md``, ``failures.csv`` and ``report.html`` into ``out_dir``.

    Side records of ``skip_kinds`` (per-file bookkeeping, which can number in the millions) are
    left out of the report. ``live_seconds`` makes report.html refresh itself that often (the
    page ``transfer status --serve`` serves).
    """
    await anyio.Path(out_dir).mkdir(parents=True, exist_ok=True)
    paths = ReportPaths(
        out_dir / "report.json",
        out_dir / "report.md",
        out_dir / "failures.csv",
        out_dir / "report.html",
    )
    counts = await store.counts()
    handle = await anyio.to_thread.run_sync(
        lambda: paths.failures_csv.open("w", newline="", encoding="utf-8")
    )
    try:
        writer = csv.writer(handle)
        rows: list[tuple[object, ...]] = [FAILURE_COLUMNS]
        async for item in store.iter_items(states=_UNFINISHED):
            spec = item.spec
            rows.append(
                (
                    spec.repo,
                    spec.package,
                    spec.version,
                    spec.path,
                    item.state.value,
                    item.http_status or "",
                    item.last_error,
                    item.attempts,
                )
            )
            if len(rows) >= 500:
                await anyio.to_thread.run_sync(writer.writerows, rows)
                rows = []
        await anyio.to_thread.run_sync(writer.writerows, rows)
    finally:
        await anyio.to_thread.run_sync(handle.close)
    side: dict[str, list[dict[str, Any]]] = {}
    async for record in store.iter_side():
        if record.kind in skip_kinds:
            continue
        side.setdefault(record.kind, []).append(
            {"key": record.key, "state": record.state, **dict(record.detail)}
        )
    data = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "run": store.run,
        "items": {s.value: {"items": counts[s].items, "bytes": counts[s].bytes} for s in ItemState},
        "repositories": {
            repo: {s.value: per[s].items for s in ItemState if per[s].items}
            for repo, per in sorted(counts.by_repo.items())
        },
        "side_tasks": side,
        "last_verify": json.loads(await store.get_meta(META_LAST_VERIFY) or "null"),
    }
    await anyio.Path(paths.json).write_text(
        json.dumps(data, indent=2, default=str), encoding="utf-8"
    )
    await anyio.Path(paths.markdown).write_text(
        _markdown(data, counts.total.items), encoding="utf-8"
    )
    await write_report_html(
        store, data, paths.html, failures_csv=paths.failures_csv, live_seconds=live_seconds
    )
    return paths


def _done_lines(done: int, total: int, last_verify: Any) -> list[str]:
    """ "Verified" only for what a ``transfer verify`` run confirmed, with when it ran."""
    lines = [
        f"{done} of {total} files recorded done by the migration (when copied, their size, "
        "the source's checksums, the checksums computed in flight and the target's agreed)."
    ]
    if not isinstance(last_verify, dict):
        lines.append("Not verified: run `transfer verify` to audit the target against the source.")
        return lines
    problems = sum(int(last_verify.get(k) or 0) for k in ("only_in_source", "differs", "errors"))
    lines.append(
        f"Verified by `transfer verify` at {last_verify.get('at', '?')}: "
        f"{last_verify.get('same', 0)} files identical in source and target, "
        f"{last_verify.get('only_in_source', 0)} missing, {last_verify.get('differs', 0)} "
        f"different, {last_verify.get('errors', 0)} errors"
        + ("." if not problems else " — `transfer verify --repair` re-opens them for copying.")
    )
    return lines


def _markdown(data: dict[str, Any], total: int) -> str:
    items = data["items"]
    done = items["done"]
    lines = [
        f"# Migration report — run `{data['run']}`",
        "",
        f"Generated {data['generated_at']}.",
        "",
        "## Files",
        "",
        "| state | files | bytes |",
        "| --- | ---: | ---: |",
    ]
    lines += [f"| {state} | {v['items']} | {_human(v['bytes'])} |" for state, v in items.items()]
    lines += [
        "",
        *_done_lines(done["items"], total, data.get("last_verify")),
        "",
        "## Per repository",
    ]
    lines += [
        "",
        "| repository | " + " | ".join(s.value for s in ItemState) + " |",
        "| --- |" + " ---: |" * len(ItemState),
    ]
    for repo, per in data["repositories"].items():
        lines.append(
            f"| {repo} | " + " | ".join(str(per.get(s.value, 0)) for s in ItemState) + " |"
        )
    unfinished = sum(items[s.value]["items"] for s in _UNFINISHED)
    if unfinished:
        lines += [
            "",
            f"{unfinished} files are not done: see `failures.csv` (repo, package, version, path, "
            "state, HTTP status, reason, attempts). `transfer migrate --retry-failed` retries "
            "failed and conflicting files.",
        ]
    unmigratable = data["side_tasks"].get("unmigratable", [])
    if unmigratable:
        lines += ["", "## What cannot move, and what to do instead", ""]
        for entry in unmigratable:
            what = entry.get("what", entry["key"])
            instead = entry.get("instead", "")
            lines.append(f"- **{what}**" + (f" — {instead}" if instead else ""))
    other = {k: v for k, v in data["side_tasks"].items() if k != "unmigratable"}
    for kind, records in sorted(other.items()):
        lines += ["", f"## {kind}", ""]
        for entry in records:
            to = f" → `{entry['artifactory']}`" if "artifactory" in entry else ""
            lines.append(f"- `{entry['key']}`: {entry['state']}{to}")
    return "\n".join(lines) + "\n"
