"""``report.html``: the report people look at, one self-contained file (no network at view time).

It is drawn from the very data ``report.json`` holds, plus two things only the store and the
files beside it know: each finished file's time (throughput and retries over time) and the rows
of ``failures.csv`` (read back, so the table has whatever columns the CSV has). Jinja2 renders
it with autoescaping on, and every value printed passes through :mod:`transfer.redaction` first:
a URL's credentials or a registered secret cannot reach the page even if a record held one.
Charts are matplotlib SVG (:mod:`transfer.reporting.charts`); the only script sorts and
filters the table and, in the live page ``transfer status --serve`` serves, swaps in fresh
sections.
"""

from __future__ import annotations

import csv
import itertools
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Final

import anyio
import jinja2
import markupsafe

from transfer.checkpoint.base import CheckpointStore
from transfer.localfiles import write_file_atomically
from transfer.models import ItemState
from transfer.redaction import REGISTRY, redact_text
from transfer.reporting.charts import MAX_BARS, Timeline, repository_bars, throughput_chart

__all__ = [
    "MAX_FAILURE_ROWS",
    "FailureRows",
    "item_timeline",
    "render_report_html",
    "write_report_html",
]

MAX_FAILURE_ROWS: Final = 2000
"""Rows of ``failures.csv`` the page holds; the rest stay in the CSV it links to."""
SECURITY_KINDS: Final = ("user", "group", "permission_target", "token", "access_key")
_FINISHED: Final = (ItemState.DONE, ItemState.FAILED, ItemState.CONFLICT)


@dataclass(frozen=True, slots=True)
class FailureRows:
    """The first rows of ``failures.csv`` and what the table's filters offer."""

    csv: str
    columns: Sequence[str]
    rows: Sequence[Sequence[str]]
    total: int

    @classmethod
    def read(cls, path: Path, limit: int = MAX_FAILURE_ROWS) -> FailureRows:
        """Read the header, the first ``limit`` rows and the row count of a failures CSV."""
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            columns = next(reader, [])
            rows = list(itertools.islice(reader, limit))
            total = len(rows) + sum(1 for _ in reader)
        return cls(path.name, columns, rows, total)

    def _index(self, column: str) -> int:
        return self.columns.index(column) if column in self.columns else 0

    @property
    def state_index(self) -> int:
        """Which column holds the state."""
        return self._index("state")

    @property
    def status_index(self) -> int:
        """Which column holds the HTTP status."""
        return self._index("http_status")

    @property
    def states(self) -> list[str]:
        """The states present, for the state filter."""
        return sorted({row[self.state_index] for row in self.rows})

    @property
    def statuses(self) -> list[str]:
        """The HTTP statuses present, for the status filter."""
        return sorted({row[self.status_index] for row in self.rows} - {""})


async def item_timeline(store: CheckpointStore) -> Timeline:
    """Every finished file's time, bytes sent and retries, folded into a bounded timeline."""
    timeline = Timeline()
    async for item in store.iter_items(states=_FINISHED):
        if item.finished_at is not None:
            timeline.add(item.finished_at, item.bytes_transferred, max(item.attempts - 1, 0))
    return timeline


def _finalize(value: object) -> object:
    """Every value printed into the page: URL credentials and registered secrets removed
    (the charts, already markup, are SVG that matplotlib escaped)."""
    if isinstance(value, str) and not isinstance(value, markupsafe.Markup):
        return REGISTRY.scrub(redact_text(value))
    return value


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def _version() -> str:
    try:
        return metadata.version("transfer")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("transfer.reporting", "templates"),
        autoescape=True,
        finalize=_finalize,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    environment.filters["human"] = _human
    environment.filters["duration"] = _duration
    return environment


_ENVIRONMENT: Final = _environment()


def _security(side: Mapping[str, list[dict[str, Any]]]) -> dict[str, Any]:
    kinds = {
        kind: Counter(str(r["state"]) for r in side[kind])
        for kind in SECURITY_KINDS
        if kind in side
    }
    states = sorted({state for per in kinds.values() for state in per})
    recipients = [
        {
            "key": r["key"],
            "user": r.get("user", ""),
            "secret": r.get("secret", ""),
            "distribute": r.get("distribute", ""),
        }
        for r in side.get("access_key", [])
        if r["state"] == "needs_new_secret"
    ]
    failed = [
        {"kind": kind, "key": r["key"], "error": r.get("error", "")}
        for kind in SECURITY_KINDS
        for r in side.get(kind, [])
        if r["state"] == "failed"
    ]
    return {
        "kinds": kinds,
        "states": states,
        "recipients": recipients,
        "failed": failed,
        "renamed": side.get("renamed_principal", []),
    }


def render_report_html(
    data: Mapping[str, Any],
    *,
    failures: FailureRows,
    timeline: Timeline,
    files: Sequence[str],
    live_seconds: float | None = None,
) -> str:
    """The page for ``data`` (the dictionary ``report.json`` holds). ``live_seconds`` makes
    the page fetch itself again that often and swap in the fresh sections."""
    items = data["items"]
    side: Mapping[str, list[dict[str, Any]]] = data.get("side_tasks", {})
    repositories = data.get("repositories", {})
    return _ENVIRONMENT.get_template("report.html.j2").render(
        version=_version(),
        data=data,
        duration=data.get("duration"),
        last_verify=data.get("last_verify") if isinstance(data.get("last_verify"), dict) else None,
        states=[s.value for s in ItemState if s.value in items],
        total=sum(v["items"] for v in items.values()),
        moved=sum(timeline.bytes.values()),
        # matplotlib writes the SVG and escapes the names in it: markup as it stands
        repository_chart=markupsafe.Markup(repository_bars(repositories) if repositories else ""),
        hidden_repositories=max(0, len(repositories) - MAX_BARS),
        throughput_chart=markupsafe.Markup("" if timeline.empty else throughput_chart(timeline)),
        failures=failures,
        unmigratable=[
            {"what": e.get("what", e["key"]), "instead": e.get("instead", "")}
            for e in side.get("unmigratable", [])
        ],
        security=_security(side),
        files=files,
        live_seconds=live_seconds,
    )


async def write_report_html(
    store: CheckpointStore,
    data: Mapping[str, Any],
    path: Path,
    *,
    failures_csv: Path,
    live_seconds: float | None = None,
) -> Path:
    """Write ``report.html`` for ``data`` beside ``failures_csv``, linking the files there."""
    timeline = await item_timeline(store)
    failures = await anyio.to_thread.run_sync(FailureRows.read, failures_csv)
    files = await anyio.to_thread.run_sync(_linked_files, path.parent, path.name)
    page = await anyio.to_thread.run_sync(
        lambda: render_report_html(
            data, failures=failures, timeline=timeline, files=files, live_seconds=live_seconds
        )
    )
    await anyio.to_thread.run_sync(write_file_atomically, path, page, "the report page")
    return path


def _linked_files(folder: Path, own: str) -> list[str]:
    return sorted(
        p.name
        for p in folder.iterdir()
        if p.suffix in (".csv", ".json", ".md") and not p.name.startswith(".") and p.name != own
    )
