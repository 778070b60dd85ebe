"""Finding items across repositories and rendering them as the storage API and deploy answer."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from .common import iso
from .state import State
from .tree import Item, RepoTree

__all__ = [
    "Located",
    "created_json",
    "file_info_json",
    "folder_info_json",
    "locate",
    "mime_type",
    "storage_uri",
]


_ARTIFACT_TYPES = {
    "pom": "application/x-maven-pom+xml",
    "jar": "application/java-archive",
    "war": "application/java-archive",
    "tgz": "application/x-gzip",
    "gem": "application/x-tar",
    "nupkg": "application/zip",
    "whl": "application/zip",
    "rpm": "application/x-rpm",
    "deb": "application/x-debian-package",
}


@dataclass(frozen=True, slots=True)
class Located:
    """Where a path resolved: the repository that holds it (a virtual's member) and the item."""

    key: str
    rclass: str
    tree: RepoTree
    item: Item | None


def locate(state: State, repo: str, path: str) -> Located | None:
    """Resolve ``repo/path``; a virtual repository answers with its first member holding it."""
    config = state.repos.configs.get(repo)
    if config is None:
        return None
    if config["rclass"] != "virtual":
        tree = state.repos.trees[repo]
        return Located(repo, config["rclass"], tree, tree.get(path))
    first: Located | None = None
    for member in config.get("repositories", []):
        found = locate(state, member, path)
        if found is not None and found.item is not None:
            return found
        first = first or found
    return first


def mime_type(name: str) -> str:
    """The MIME type Artifactory would report for a file name."""
    special = _ARTIFACT_TYPES.get(name.rsplit(".", 1)[-1].lower())
    if special is not None:
        return special
    guessed, encoding = mimetypes.guess_type(name, strict=False)
    if encoding == "gzip":
        return "application/x-gzip"
    return guessed or "application/octet-stream"


def _quoted(repo: str, path: str) -> str:
    return quote(repo) + ("/" + quote(path) if path else "")


def storage_uri(base: str, repo: str, path: str) -> str:
    """``{base}/api/storage/{repo}/{path}``."""
    return f"{base}/api/storage/{_quoted(repo, path)}"


def _checksums(item: Item) -> dict[str, str]:
    assert item.blob is not None
    return {"sha1": item.blob.sha1, "md5": item.blob.md5, "sha256": item.blob.sha256}


def _original(item: Item, *, nulls: bool) -> dict[str, str | None]:
    """What the client sent, plus the SHA-256 7.x always records as original (seen in 7.x
    answers to a deploy without checksum headers); unsent ones as ``null`` when ``nulls``."""
    assert item.blob is not None
    sent: dict[str, str | None] = {k: item.original.get(k) for k in ("sha1", "md5")}
    sent["sha256"] = item.original.get("sha256", item.blob.sha256)
    return sent if nulls else {k: v for k, v in sent.items() if v is not None}


_DEPLOY_NULLS: dict[str, None] = dict.fromkeys(
    ("lastModified", "modifiedBy", "lastUpdated", "properties")
)


def created_json(base: str, repo: str, item: Item, *, nulls: bool = False) -> dict[str, Any]:
    """The 201 body of a deploy (§2.5): ``uri`` equals ``downloadUri``; size is a string.
    ``nulls``: the fields 7.x serialises as ``null`` are there (reference §13)."""
    if item.folder:
        uri = f"{base}/{_quoted(repo, item.path)}/"
        return {
            "repo": repo,
            "path": f"/{item.path}/" if item.path else "/",
            "created": iso(item.created),
            "createdBy": item.created_by,
            "uri": uri,
        }
    assert item.blob is not None
    download = f"{base}/{_quoted(repo, item.path)}"
    return {
        "repo": repo,
        "path": f"/{item.path}",
        "created": iso(item.created),
        "createdBy": item.created_by,
        **(_DEPLOY_NULLS if nulls else {}),
        "downloadUri": download,
        **({"remoteUrl": None} if nulls else {}),
        "mimeType": mime_type(item.name),
        "size": str(item.blob.size),
        "checksums": _checksums(item),
        "originalChecksums": _original(item, nulls=nulls),
        "uri": download,
    }


def file_info_json(base: str, repo: str, item: Item) -> dict[str, Any]:
    """File info (§3.1); original checksums are those the client sent plus the SHA-256, as
    7.x reports them (a file deployed without checksums has no original SHA-1 or MD5:
    anancarv/python-artifactory#210)."""
    assert item.blob is not None
    actual = _checksums(item)
    original = _original(item, nulls=False)
    return {
        "repo": repo,
        "path": f"/{item.path}",
        "created": iso(item.created),
        "createdBy": item.created_by,
        "lastModified": iso(item.last_modified),
        "modifiedBy": item.modified_by,
        "lastUpdated": iso(item.last_updated),
        "downloadUri": f"{base}/{_quoted(repo, item.path)}",
        "mimeType": mime_type(item.name),
        "size": str(item.blob.size),
        "checksums": actual,
        "originalChecksums": original,
        "uri": storage_uri(base, repo, item.path),
    }


def folder_info_json(
    base: str, repo: str, item: Item, children: list[tuple[str, bool]]
) -> dict[str, Any]:
    """Folder info (§3.2): one level of children; the repository root's path is ``/``."""
    return {
        "repo": repo,
        "path": f"/{item.path}",
        "created": iso(item.created),
        "createdBy": item.created_by,
        "lastModified": iso(item.last_modified),
        "modifiedBy": item.modified_by,
        "lastUpdated": iso(item.last_updated),
        "children": [{"uri": f"/{name}", "folder": folder} for name, folder in children],
        "uri": storage_uri(base, repo, item.path),
    }
