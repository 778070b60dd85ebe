"""report.md: the migration report as a sign-off document (pure rendering, no I/O).

It opens with what a release engineer signs off on — how many files moved, whether an
independent ``transfer verify`` confirmed them and when, how long the run took, what failed and
why (grouped by cause) — then the details: files per state and repository, every repository,
user, group and permission target with its outcome (each failure with its reason), and what
cannot move with what to do instead. Headings are words, not the store's identifiers.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Final

from transfer.models import ItemState
from transfer.reporting.causes import describe

Cause = tuple[int, str, str]

__all__ = ["SIDE_HEADINGS", "STATE_WORDS", "duration_words", "format_bytes", "render_markdown"]

STATE_WORDS: Final = {
    "pending": "waiting",
    "in_flight": "in progress",
    "done": "done",
    "failed": "failed",
    "skipped": "skipped",
    "conflict": "conflict (the target holds a different file)",
}
SIDE_HEADINGS: Final = {
    "repository": "Repositories",
    "anonymous_read": "Anonymous read access",
    "user": "Users",
    "group": "Groups",
    "permission_target": "Permission targets",
    "access_key": "Access keys",
    "token": "Access tokens",
    "renamed_principal": "Names changed to ones JFrog Cloud accepts",
}
_LIST_ALL_UP_TO: Final = 60  # longer lists show their failures and a count of the rest
_FILE_NOTES: Final = {
    "url-map.csv": "the Bintray URL and the Artifactory URL of every migrated file",
    "verify.csv": "every file `transfer verify` found missing or different",
    "failures.csv": "every file not done: target repository and URL, HTTP status, cause, reason",
    "report.json": "this report as data",
    "signed-urls.csv": "Artifactory signed URLs for Bintray ones handed out",
}
_FAILED_STATES: Final = ("failed", "conflict", "refused")
_OUTCOME_WORDS: Final = {
    "create": "created",
    "needs_new_secret": "need their new secret handed out (see below)",
    "reported": "reported",
}


def format_bytes(n: float) -> str:
    """1536 → '1.5 KiB'."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def duration_words(seconds: float) -> str:
    """``3725`` → ``1 h 2 min``; ``42.4`` → ``42 s`` (rounded: no false precision)."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def _clock(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def _readable(iso: str) -> str:
    """``2026-12-06T07:01:37Z`` → ``2026-12-06 07:01:37 UTC``."""
    return iso.replace("T", " ").replace("Z", " UTC") if iso.endswith("Z") else iso


def _verification(verify: Any) -> str:
    """ "Verified" only for what a ``transfer verify`` run confirmed (the store keeps its result
    and time, so any machine running ``report`` sees it), otherwise "not verified"."""
    if not isinstance(verify, dict):
        return (
            "- **Verification:** not verified — `transfer verify` compares every source file "
            "with the target independently of this run's records."
        )
    when = _readable(str(verify.get("at", "an unknown time")))
    problems = verify.get("only_in_source") or verify.get("differs") or verify.get("errors")
    verdict = (
        "**differences found**"
        if problems
        else "every source file is in the target with equal size and checksums"
    )
    repair = " `transfer verify --repair` re-opens them for copying." if problems else ""
    return (
        f"- **Verification:** verified by `transfer verify` at {when}: {verdict} — "
        f"{verify.get('same', 0)} identical, {verify.get('only_in_source', 0)} missing, "
        f"{verify.get('differs', 0)} different, {verify.get('only_in_target', 0)} only in the "
        f"target, {verify.get('errors', 0)} errors ([verify.csv](verify.csv)).{repair}"
    )


def _summary(
    data: Mapping[str, Any], total: int, causes: Sequence[Cause], files: Sequence[str]
) -> list[str]:
    items = data["items"]
    done = items["done"]
    waiting = items["pending"]["items"] + items["in_flight"]["items"]
    lines = [
        f"- **Files:** {done['items']} of {total} recorded done by the migration "
        f"({format_bytes(done['bytes'])}; size and checksums agreed when each was copied); "
        f"{items['failed']['items']} failed, {items['conflict']['items']} conflicts, "
        f"{items['skipped']['items']} skipped, {waiting} not attempted yet.",
        _verification(data.get("verify")),
    ]
    duration = data.get("duration")
    if duration:
        sessions = duration.get("count", 1)
        lines.append(
            f"- **Duration:** {duration_words(duration.get('seconds', 0))} of migration in "
            f"{sessions} session{'s' if sessions != 1 else ''}, from "
            f"{_clock(duration['first_started'])} to {_clock(duration['last_finished'])}."
        )
    outcome = []
    for kind, heading in SIDE_HEADINGS.items():
        records = data["side_tasks"].get(kind)
        if records:
            outcome.append(f"{heading[0].lower()}{heading[1:]}: {_by_state(records)}")
    if outcome:
        lines.append(f"- **Set up in the target:** {'; '.join(outcome)}.")
    if causes:
        said = "; ".join(describe(n, cause) for n, cause, _ in causes)
        lines.append(f"- **Why files failed:** {said} (details below).")
    side_failed = sum(
        1
        for kind in SIDE_HEADINGS
        for r in data["side_tasks"].get(kind, [])
        if r["state"] in _FAILED_STATES
    )
    if side_failed:
        lines.append(
            f"- **Needs attention:** {side_failed} repositories, users, groups, permission "
            "targets or tokens failed (each listed below with its reason)."
        )
    to_do = len(data["side_tasks"].get("unmigratable", []))
    if to_do:
        lines.append(
            f"- **To do by hand:** {to_do} things Artifactory cannot take over as they were "
            '(see "What cannot move" below, each with what to do instead).'
        )
    links = ", ".join(f"[{name}]({name})" for name in files)
    lines.append(f"- **Files of this report:** {links}.")
    return lines


def render_markdown(
    data: Mapping[str, Any],
    total: int,
    *,
    causes: Sequence[Cause] = (),
    files: Sequence[str] = (),
) -> str:
    """report.md from the report's data (``report.json``); ``causes`` are ``(files, cause,
    example reason)``, most frequent first."""
    items = data["items"]
    done = items["done"]
    lines = [
        f"# Migration report — run `{data['run']}`",
        "",
        f"Generated {_readable(data['generated_at'])}.",
        "",
        "## Summary",
        "",
        *_summary(data, total, causes, files),
    ]
    if causes:
        lines += ["", "## Why files failed", ""]
        for n, cause, example in causes:
            said = f" — for example: {example}" if example and example != cause else ""
            lines.append(f"- **{describe(n, cause)}**{said}")
        lines += [
            "",
            "Each file is in [failures.csv](failures.csv) with its target repository and URL, "
            "HTTP status and reason. `transfer migrate --retry-failed` retries failed and "
            "conflicting files.",
        ]
    unmigratable = data["side_tasks"].get("unmigratable", [])
    if unmigratable:
        lines += ["", "## What cannot move, and what to do instead", ""]
        for entry in unmigratable:
            what = entry.get("what", entry["key"])
            instead = entry.get("instead", "")
            lines.append(f"- **{what}**" + (f" — {instead}" if instead else ""))
    lines += [
        "",
        "## Files by state",
        "",
        "| state | files | bytes |",
        "| --- | ---: | ---: |",
    ]
    lines += [
        f"| {STATE_WORDS.get(state, state)} | {v['items']} | {format_bytes(v['bytes'])} |"
        for state, v in items.items()
    ]
    lines += [
        "",
        f"{done['items']} of {total} files are in the target and verified "
        "(size, source checksums, computed checksums and the target's checksums agree).",
        "",
        "## Files per repository",
        "",
        "| repository | "
        + " | ".join(STATE_WORDS[s.value].split(" (")[0] for s in ItemState)
        + " |",
        "| --- |" + " ---: |" * len(ItemState),
    ]
    for repo, per in data["repositories"].items():
        lines.append(
            f"| {repo} | " + " | ".join(str(per.get(s.value, 0)) for s in ItemState) + " |"
        )
    unfinished = sum(items[s]["items"] for s in ("failed", "conflict", "skipped", "pending"))
    if unfinished and not causes:
        lines += [
            "",
            f"{unfinished} files are not done: see [failures.csv](failures.csv).",
        ]
    for kind, heading in SIDE_HEADINGS.items():
        records = data["side_tasks"].get(kind)
        if records:
            lines += ["", f"## {heading}", "", *_side_lines(records)]
    other = {
        k: v
        for k, v in data["side_tasks"].items()
        if k != "unmigratable" and k not in SIDE_HEADINGS
    }
    for kind, records in sorted(other.items()):
        lines += ["", f"## {kind.replace('_', ' ').capitalize()}", "", *_side_lines(records)]
    return "\n".join(lines) + "\n"


def _side_lines(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per record (failures with their reason); a long list shows its failures and
    counts the rest by outcome."""
    failed = [r for r in records if r["state"] in _FAILED_STATES]
    shown = records if len(records) <= _LIST_ALL_UP_TO else failed
    lines = []
    for record in shown:
        reason = record.get("error") or record.get("reason") or ""
        state = str(record["state"]).replace("_", " ")
        # a Bintray name mapped to one JFrog Cloud accepts says what it became
        to = f" → `{record['artifactory']}`" if "artifactory" in record else ""
        lines.append(f"- `{record['key']}`: {state}{to}" + (f" — {reason}" if reason else ""))
    if len(shown) < len(records):
        rest = _by_state([r for r in records if r not in failed])
        lines.append(f"- … and {len(records) - len(shown)} more: {rest}")
    return lines


def _by_state(records: Sequence[Mapping[str, Any]]) -> str:
    """``"11 created, 1 failed"``."""
    tally = Counter(str(r["state"]) for r in records)
    return ", ".join(f"{n} {_outcome(state)}" for state, n in sorted(tally.items()))


def _outcome(state: str) -> str:
    return _OUTCOME_WORDS.get(state, state.replace("_", " "))
