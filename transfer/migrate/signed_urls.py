"""Signed URLs again: Bintray's stop working with Bintray, so ``transfer signed-urls`` takes
the Bintray URLs (or paths) that were handed out and creates Artifactory signed URLs for the
same files, writing an old → new map as CSV and JSON.

A request is honoured only for a file the store says was migrated (state ``done``): anything
else is refused with the reason (unknown to the migration, not copied yet, failed...), because
a signed URL for a file that is not in Artifactory would only ever answer 404.

Accepted forms: ``https://dl.bintray.com/<subject>/<repo>/<path>`` (any host with that path:
the configured download host, a mirror), ``https://<subject>.bintray.com/<repo>/<path>``,
``https://api.bintray.com/content/<subject>/<repo>/<path>``, and plain ``<repo>/<path>`` or
``<subject>/<repo>/<path>``. Query strings (an old signature) are ignored.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import unquote, urlsplit

import anyio

from transfer.checkpoint.base import CheckpointStore, Item
from transfer.errors import AuthError, RemoteError
from transfer.localfiles import AtomicFile
from transfer.migrate.urlmap import artifactory_url
from transfer.models import ItemState
from transfer.targets.admin import TargetAdmin

__all__ = [
    "MAX_VALIDITY",
    "SIGNED_URLS_CSV",
    "SIGNED_URLS_JSON",
    "SignedUrl",
    "candidates",
    "sign_urls",
    "write_signed_url_map",
]

MAX_VALIDITY: Final = 365 * 86400
"""Artifactory's longest signed-URL validity (reference §8.1)."""
SIGNED_URLS_CSV: Final = "signed-urls.csv"
SIGNED_URLS_JSON: Final = "signed-urls.json"


@dataclass(frozen=True, slots=True)
class SignedUrl:
    """The answer to one request: ``signed_url`` set, or ``reason`` why it was refused."""

    request: str
    repo: str = ""
    path: str = ""
    artifactory_url: str = ""
    signed_url: str = ""
    reason: str = ""

    @property
    def ok(self) -> bool:
        """Whether a signed URL was created."""
        return bool(self.signed_url)

    def as_dict(self) -> dict[str, str]:
        """A JSON-ready form."""
        return {
            "request": self.request,
            "repo": self.repo,
            "path": self.path,
            "artifactory_url": self.artifactory_url,
            "signed_url": self.signed_url,
            "reason": self.reason,
        }


def candidates(request: str, *, subject: str) -> list[tuple[str, str]]:
    """The ``(repo, path)`` pairs a request may mean, most likely first."""
    text = request.strip()
    if "://" in text:
        parts = urlsplit(text)
        segments = [unquote(s) for s in parts.path.split("/") if s]
        host = (parts.hostname or "").lower()
        if host == f"{subject.lower()}.bintray.com":
            return [_pair(segments)] if len(segments) >= 2 else []
        if segments[:2] == ["content", subject]:
            segments = segments[2:]
        elif subject in segments[:-2]:
            # …/<subject>/<repo>/<path>, wherever the download host mounted it
            segments = segments[segments.index(subject) + 1 :]
        return [_pair(segments)] if len(segments) >= 2 else []
    segments = [s for s in text.split("?", 1)[0].split("/") if s]
    found = []
    if len(segments) >= 3 and segments[0] == subject:
        found.append(_pair(segments[1:]))
    if len(segments) >= 2:
        found.append(_pair(segments))
    return found


def _pair(segments: Sequence[str]) -> tuple[str, str]:
    return segments[0], "/".join(segments[1:])


def _refusal(item: Item) -> str:
    error = f": {item.last_error}" if item.last_error else ""
    if item.state is ItemState.SKIPPED:
        return f"not migrated: skipped{error}"
    if item.state is ItemState.PENDING:
        return "not migrated yet: run `transfer migrate` to copy it"
    return f"not migrated: {item.state.value}{error}"


async def sign_urls(
    requests: Iterable[str],
    store: CheckpointStore,
    signer: TargetAdmin,
    *,
    subject: str,
    target_url: str,
    valid_for_secs: int,
) -> list[SignedUrl]:
    """A signed URL for every request naming a migrated file; refusals say why."""
    results: list[SignedUrl] = []
    for request in requests:
        options = candidates(request, subject=subject)
        item = None
        for repo, path in options:
            item = await store.get_item(repo, path)
            if item is not None:
                break
        if item is None:
            reason = (
                "not a Bintray file URL or path"
                if not options
                else "not part of this migration (no such file in the migration store)"
            )
            repo, path = options[0] if options else ("", "")
            results.append(SignedUrl(request, repo, path, reason=reason))
            continue
        spec = item.spec
        plain = artifactory_url(target_url, spec.target_repo, spec.target_path)
        found = SignedUrl(request, spec.repo, spec.path, artifactory_url=plain)
        if item.state is not ItemState.DONE:
            results.append(_with(found, reason=_refusal(item)))
            continue
        try:
            signed = await signer.create_signed_url(
                spec.target_repo, spec.target_path, valid_for_secs=valid_for_secs
            )
        except AuthError:
            raise
        except RemoteError as error:
            results.append(_with(found, reason=f"Artifactory refused to sign it: {error}"))
            continue
        results.append(_with(found, signed_url=signed))
    return results


def _with(found: SignedUrl, **changes: str) -> SignedUrl:
    return SignedUrl(**{**found.as_dict(), **changes})


def _private_file(path: Path) -> AtomicFile:
    # Signed URLs grant access to whoever holds them: not for other local users to read.
    return AtomicFile(path, "the signed URL map", mode=0o600)


def _write(results: Sequence[SignedUrl], out_dir: Path, meta: Mapping[str, Any]) -> None:
    with _private_file(out_dir / SIGNED_URLS_CSV) as file:
        writer = csv.DictWriter(file.handle, fieldnames=list(SignedUrl("").as_dict()))
        writer.writeheader()
        writer.writerows(r.as_dict() for r in results)
    document = {
        **meta,
        "map": {r.request: r.signed_url for r in results if r.ok},
        "refused": {r.request: r.reason for r in results if not r.ok},
        "entries": [r.as_dict() for r in results],
    }
    with _private_file(out_dir / SIGNED_URLS_JSON) as file:
        file.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


async def write_signed_url_map(
    results: Sequence[SignedUrl], out_dir: Path, *, valid_for_secs: int, now: float | None = None
) -> tuple[Path, Path]:
    """Write ``signed-urls.csv`` and ``signed-urls.json`` (mode 0600) into ``out_dir``."""
    created = time.time() if now is None else now
    meta = {
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created)),
        "valid_for_secs": valid_for_secs,
        "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created + valid_for_secs)),
    }
    await anyio.to_thread.run_sync(_write, results, out_dir, meta)
    return out_dir / SIGNED_URLS_CSV, out_dir / SIGNED_URLS_JSON
