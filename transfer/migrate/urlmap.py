"""The old → new URL map: for every migrated file, its Bintray download URL and its Artifactory
URL, as CSV, so users can fix READMEs, build files and scripts with search and replace.

Rows are streamed from the checkpoint store (files in state ``done``) and written in batches,
so the map of a large organisation is built in constant memory. A file of a package that was
linked into other repositories was served by Bintray under each of them too: it gets one row
per such URL, all pointing at the one copy. The file is written under a
temporary name and renamed, so a reader never sees half a map.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import quote

from transfer.checkpoint.base import CheckpointStore
from transfer.localfiles import write_csv_atomically
from transfer.migrate.links import linked_repositories
from transfer.models import ItemState

__all__ = [
    "URL_MAP_COLUMNS",
    "URL_MAP_NAME",
    "UrlMapResult",
    "artifactory_url",
    "bintray_url",
    "write_url_map",
]

URL_MAP_NAME: Final = "url-map.csv"
URL_MAP_COLUMNS: Final = ("bintray_url", "artifactory_url", "repo", "package", "version", "path",
                          "target_repo", "target_path", "size", "sha256")  # fmt: skip
# RFC 3986 allows these in a path segment; ";" stays encoded because Artifactory reads it as
# the start of matrix parameters.
_PATH_SAFE: Final = "/:@!$&'()*+,=~"


def _path(text: str) -> str:
    return quote(text.strip("/"), safe=_PATH_SAFE)


def bintray_url(download_url: str, subject: str, repo: str, path: str) -> str:
    """``https://dl.bintray.com/<subject>/<repo>/<path>``: where Bintray served the file."""
    return f"{download_url.rstrip('/')}/{_path(subject)}/{_path(repo)}/{_path(path)}"


def artifactory_url(base_url: str, repo_key: str, path: str) -> str:
    """``<base>/<repo key>/<path>``: where Artifactory serves it now."""
    return f"{base_url.rstrip('/')}/{_path(repo_key)}/{_path(path)}"


@dataclass(frozen=True, slots=True)
class UrlMapResult:
    """Where the map was written, how many rows it holds and how many files they cover
    (a linked package's file has a row per repository Bintray served it from)."""

    path: Path
    rows: int
    files: int = 0


async def write_url_map(
    store: CheckpointStore,
    path: Path,
    *,
    download_url: str,
    subject: str,
    target_url: str,
) -> UrlMapResult:
    """Write the map of every ``done`` file of the run to ``path`` (CSV with a header)."""
    await store.flush()
    links = await linked_repositories(store)
    files = 0

    async def rows() -> AsyncIterator[tuple[object, ...]]:
        nonlocal files
        async for item in store.iter_items(states=[ItemState.DONE]):
            spec = item.spec
            files += 1
            new_url = artifactory_url(target_url, spec.target_repo, spec.target_path)
            for old_repo in (spec.repo, *links.get((spec.repo, spec.package), ())):
                yield (
                    bintray_url(download_url, subject, old_repo, spec.path),
                    new_url,
                    spec.repo,
                    spec.package,
                    spec.version,
                    spec.path,
                    spec.target_repo,
                    spec.target_path,
                    spec.size,
                    spec.sha256,
                )

    rows_written = await write_csv_atomically(path, "the URL map", URL_MAP_COLUMNS, rows())
    return UrlMapResult(path, rows_written, files)
