"""Why files failed, in words a release engineer can act on (pure functions, no I/O).

A stored error names the file and the URL it was fetching ("HTTP 401 Unauthorized from GET
https://dl.example/acme/repo/a.jar: ..."). In a table that already has the path, that is noise
repeated per row, and 192 rows that differ only in the path hide the one thing that matters:
they all failed the same way. :func:`concise_reason` drops the repetition, keeping which service
answered; :func:`cause_of` names the cause shared by every file that failed the same way, so
the report can say "192 files: HTTP 401 from the download host" once.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from typing import Final
from urllib.parse import urlsplit

__all__ = ["CauseTally", "cause_of", "concise_reason", "describe", "service_names"]

_REQUEST: Final = re.compile(r" from (?:GET|PUT|HEAD|POST|PATCH|DELETE) (\S+?)(?=:? |:?$)")
_CAUSE_WORDS: Final = {
    # identifiers some reasons start with, in words
    "checksum_file_orphan": "checksum file of a file that is not in the target",
}
_STATUS: Final = re.compile(r"^HTTP (\d{3}) ")
_URL: Final = re.compile(r"https?://[^\s'\"]+")


def service_names(urls: Mapping[str, str]) -> dict[str, str]:
    """``{host:port: name}`` from ``{name: url}`` (the first name wins for a shared host)."""
    names: dict[str, str] = {}
    for name, url in urls.items():
        netloc = urlsplit(url).netloc
        if netloc:
            names.setdefault(netloc, name)
    return names


def _service(reason: str, services: Mapping[str, str]) -> str:
    if reason.startswith("download "):
        return "the download host"
    match = _URL.search(reason)
    return _name(match[0], services) if match else ""


def concise_reason(reason: str, services: Mapping[str, str], *paths: str) -> str:
    """``reason`` without the file's own path and request URL, which the row already says;
    a request URL becomes the name of the service that answered."""
    text = reason
    for path in paths:
        if path:
            text = text.replace(f" for {path}", "")
    text = _REQUEST.sub(lambda m: f" from {_name(m[1], services)}", text)
    return _URL.sub(lambda m: _name(m[0], services), text)


def cause_of(reason: str, http_status: int | None, services: Mapping[str, str]) -> str:
    """The cause shared by files that failed the same way, e.g. ``HTTP 401 from the download
    host`` or ``download sha1 mismatch``."""
    service = _service(reason, services)
    said = _STATUS.match(reason)
    http_status = http_status or (int(said[1]) if said else None)
    if http_status:
        return f"HTTP {http_status} from {service}" if service else f"HTTP {http_status}"
    named = _URL.sub(lambda m: _name(m[0], services), reason)
    head = re.split(r": | — |; | \(", named, maxsplit=1)[0]
    head = re.sub(r" for .*$", "", head).strip() or "unknown error"
    head = _CAUSE_WORDS.get(head, head)
    if service and service not in head and not head.startswith("download "):
        return f"{head} ({service})"
    return head


def _name(url: str, services: Mapping[str, str]) -> str:
    netloc = urlsplit(url).netloc
    return services.get(netloc, netloc)


class CauseTally:
    """Counts files per cause, keeping the first reason seen as its example."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.examples: dict[str, str] = {}

    def add(self, cause: str, example: str) -> None:
        """Count one more file failing for ``cause``."""
        self.counts[cause] += 1
        self.examples.setdefault(cause, example)

    def most_common(self) -> list[tuple[int, str, str]]:
        """``(files, cause, example reason)``, most frequent first."""
        return [(n, cause, self.examples[cause]) for cause, n in self.counts.most_common()]


def describe(count: int, cause: str, noun: str = "file") -> str:
    """``"192 files: HTTP 401 from the download host"``."""
    return f"{count} {noun}{'s' if count != 1 else ''}: {cause}"
