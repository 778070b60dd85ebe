"""The report page's charts, drawn by matplotlib as inline SVG (pure functions: data in, SVG out).

Why matplotlib: the project already uses it (benchmarks), it is well kept, and its SVG needs no
script, no network and no vendored JavaScript to show: the page opens offline, in a browser with
scripts blocked, and prints. Text stays text (``svg.fonttype = none``) so the SVG is small, and
math parsing is off so a repository named ``$lib`` is drawn as written. Only matplotlib's
object API is used (no pyplot): figures are independent, so a live server may draw them in a
worker thread. matplotlib (and numpy under it) is imported when a chart is drawn, not when the
command line starts: it takes a second to import, and ``transfer migrate`` must have its signal
handlers in place long before that.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["MAX_BARS", "STATE_COLOURS", "Timeline", "repository_bars", "throughput_chart"]

MAX_BARS: Final = 40
"""Repositories drawn at most; those with the most unfinished files come first."""
STATE_COLOURS: Final = {
    "done": "#2e7d32",
    "failed": "#c62828",
    "conflict": "#ef6c00",
    "skipped": "#757575",
    "pending": "#90caf9",
    "in_flight": "#1565c0",
}
_RC: Final[dict[Any, Any]] = {
    "svg.fonttype": "none",
    "svg.hashsalt": "transfer-report",  # stable ids: equal data gives equal SVG
    "text.parse_math": False,
    "font.size": 9,
    "font.family": "sans-serif",
}


@dataclass(slots=True)
class Timeline:
    """Finished files per time bucket, folded as the store streams them (in any order) so that
    memory stays bounded: buckets sit on a grid of epoch seconds, and when the files would span
    more than ``max_buckets`` of them the width doubles and neighbours merge.
    """

    max_buckets: int = 240
    width: float = 1.0
    files: dict[int, int] = field(default_factory=dict)
    bytes: dict[int, int] = field(default_factory=dict)
    retries: dict[int, int] = field(default_factory=dict)

    def add(self, finished_at: float, size: int, retries: int) -> None:
        """Count one finished file (``retries`` = its attempts beyond the first)."""
        slot = int(finished_at // self.width)
        while self.files and (
            max(slot, max(self.files)) - min(slot, min(self.files)) >= self.max_buckets
        ):
            self._coarsen()
            slot = int(finished_at // self.width)
        self.files[slot] = self.files.get(slot, 0) + 1
        self.bytes[slot] = self.bytes.get(slot, 0) + size
        if retries:
            self.retries[slot] = self.retries.get(slot, 0) + retries

    def _coarsen(self) -> None:
        self.width *= 2
        for counts in (self.files, self.bytes, self.retries):
            merged: dict[int, int] = {}
            for k, v in counts.items():
                merged[k // 2] = merged.get(k // 2, 0) + v
            counts.clear()
            counts.update(merged)

    @property
    def empty(self) -> bool:
        """True until a file has finished."""
        return not self.files

    def series(self) -> tuple[list[float], list[float], list[float], list[int]]:
        """Minutes since the first bucket, MB/s, files/s and retries per bucket (gaps as 0)."""
        if not self.files:
            return [], [], [], []
        slots = range(min(self.files), max(self.files) + 1)
        first = slots[0]
        minutes = [(k - first + 0.5) * self.width / 60 for k in slots]
        mbps = [self.bytes.get(k, 0) / self.width / 1e6 for k in slots]
        files = [self.files.get(k, 0) / self.width for k in slots]
        retries = [self.retries.get(k, 0) for k in slots]
        return minutes, mbps, files, retries


def _svg(figure: Figure) -> str:
    from matplotlib.backends.backend_svg import FigureCanvasSVG

    buffer = io.StringIO()
    FigureCanvasSVG(figure).print_svg(buffer, metadata={"Date": None})  # type: ignore[no-untyped-call]
    text = buffer.getvalue()
    # inline in HTML: the XML prolog and DOCTYPE belong to standalone files only
    return text[text.index("<svg") :]


def repository_bars(repositories: Mapping[str, Mapping[str, int]]) -> str:
    """Per repository, its files by state as one stacked horizontal bar."""
    ranked = sorted(
        repositories.items(),
        key=lambda kv: (-sum(n for s, n in kv[1].items() if s != "done"), kv[0]),
    )[:MAX_BARS]
    ranked.reverse()  # barh draws bottom-up: the worst repository on top
    names = [name for name, _ in ranked]
    states = [s for s in STATE_COLOURS if any(per.get(s) for _, per in ranked)]
    import matplotlib as mpl
    from matplotlib.figure import Figure

    with mpl.rc_context(_RC):
        figure = Figure(figsize=(8, 0.9 + 0.28 * max(len(names), 1)), layout="constrained")
        axes = figure.add_subplot()
        left = [0] * len(names)
        for state in states:
            values = [per.get(state, 0) for _, per in ranked]
            axes.barh(names, values, left=left, color=STATE_COLOURS[state], label=state)
            left = [a + b for a, b in zip(left, values, strict=True)]
        axes.set_xlabel("files")
        axes.spines[["top", "right"]].set_visible(False)
        if states:
            axes.legend(
                loc="lower left",
                bbox_to_anchor=(0, 1),
                ncols=len(states),
                fontsize=8,
                frameon=False,
            )
        return _svg(figure)


def throughput_chart(timeline: Timeline) -> str:
    """Megabytes and files per second over the run, and the retries they needed."""
    minutes, mbps, files, retries = timeline.series()
    width = timeline.width
    import matplotlib as mpl
    from matplotlib.figure import Figure

    with mpl.rc_context(_RC):
        figure = Figure(figsize=(8, 4.2), layout="constrained")
        top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(3, 1.3))
        top.plot(minutes, mbps, color="#1565c0", label="MB/s")
        top.fill_between(minutes, mbps, color="#1565c0", alpha=0.15)
        top.set_ylabel("MB/s")
        top.set_ylim(bottom=0)
        files_axes = top.twinx()
        files_axes.plot(minutes, files, color="#6a1b9a", linestyle="--", label="files/s")
        files_axes.set_ylabel("files/s")
        files_axes.set_ylim(bottom=0)
        handles = top.get_legend_handles_labels()[0] + files_axes.get_legend_handles_labels()[0]
        top.legend(handles=handles, loc="upper right", fontsize=8, frameon=False)
        bottom.bar(minutes, retries, width=width / 60 * 0.9, color="#ef6c00")
        bottom.set_ylabel("retries")
        bottom.set_ylim(bottom=0, top=max(1, *retries) * 1.1)
        if not any(retries):
            bottom.text(0.5, 0.5, "no retries", transform=bottom.transAxes, ha="center")
        bottom.set_xlabel(f"minutes since the first file finished ({_bucket(width)} buckets)")
        for axes in (top, bottom):
            axes.spines[["top", "right"]].set_visible(False)
        return _svg(figure)


def _bucket(seconds: float) -> str:
    return f"{seconds:g} s" if seconds < 120 else f"{seconds / 60:g} min"
