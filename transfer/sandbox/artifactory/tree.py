"""The item tree of one repository: files and folders with timestamps, checksums and properties."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .storage import Blob

__all__ = ["Item", "PathConflict", "RepoTree", "RepositoryStore", "normalize_path"]


class PathConflict(Exception):
    """A file would replace a folder, or a path would pass through a file."""


def normalize_path(path: str) -> str:
    """Repository-relative path without leading/trailing or doubled slashes ("" is the root)."""
    parts = [p for p in path.split("/") if p and p != "."]
    if ".." in parts:
        raise ValueError(f"illegal path {path!r}")
    return "/".join(parts)


@dataclass(slots=True)
class Item:
    """One file or folder. ``path`` is repository-relative without leading slash."""

    path: str
    folder: bool
    created: float
    created_by: str
    last_modified: float
    modified_by: str
    last_updated: float
    blob: Blob | None = None
    original: dict[str, str] = field(default_factory=dict)
    properties: dict[str, list[str]] = field(default_factory=dict)
    properties_modified: float | None = None

    @property
    def name(self) -> str:
        """Last path segment ("" for the repository root)."""
        return self.path.rsplit("/", 1)[-1]


def _parent(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


class RepoTree:
    """Items by path plus a child index so listings never scan the whole repository."""

    def __init__(self, now: float, user: str) -> None:
        self.items: dict[str, Item] = {"": Item("", True, now, user, now, user, now)}
        self._children: dict[str, set[str]] = {"": set()}

    def get(self, path: str) -> Item | None:
        """The item at a normalized path."""
        return self.items.get(path)

    def child_names(self, path: str) -> list[str]:
        """Names directly under a folder, sorted."""
        return sorted(self._children.get(path, ()))

    def _ensure_folders(self, path: str, now: float, user: str) -> None:
        missing: list[str] = []
        cur = path
        while cur not in self.items:
            missing.append(cur)
            cur = _parent(cur)
        if not self.items[cur].folder:
            raise PathConflict(f"{cur} is a file")
        for folder in reversed(missing):
            self.items[folder] = Item(folder, True, now, user, now, user, now)
            self._children[folder] = set()
            self._children[_parent(folder)].add(folder.rsplit("/", 1)[-1])

    def put_folder(self, path: str, now: float, user: str) -> Item:
        """Create a folder and its parents (existing folders are kept)."""
        self._ensure_folders(path, now, user)
        item = self.items[path]
        if not item.folder:
            raise PathConflict(f"{path} is a file")
        return item

    def check_file_path(self, path: str) -> None:
        """Raise PathConflict unless a file may be stored at ``path``."""
        existing = self.items.get(path)
        if existing is not None and existing.folder:
            raise PathConflict(f"{path} is a folder")
        cur = _parent(path)
        while cur not in self.items:
            cur = _parent(cur)
        if not self.items[cur].folder:
            raise PathConflict(f"{cur} is a file")

    def put_file(self, item: Item) -> Item | None:
        """Store a file item, creating parent folders; returns the file it replaced."""
        self.check_file_path(item.path)
        parent = _parent(item.path)
        self._ensure_folders(parent, item.created, item.created_by)
        old = self.items.get(item.path)
        self.items[item.path] = item
        self._children[parent].add(item.name)
        return old

    def remove(self, path: str) -> list[Item]:
        """Delete an item and everything under it; returns the removed items."""
        if path not in self.items:
            return []
        removed = list(self.walk(path, include_self=True))
        for item in removed:
            self._children.pop(item.path, None)
            if item.path:
                del self.items[item.path]
        if path:
            self._children[_parent(path)].discard(path.rsplit("/", 1)[-1])
        else:
            self.items[""].properties.clear()
            self._children[""] = set()
        return removed

    def walk(self, path: str, *, include_self: bool = False) -> Iterator[Item]:
        """Depth-first, name-sorted walk of the items under ``path``."""
        item = self.items.get(path)
        if item is None:
            return
        if include_self:
            yield item
        if not item.folder:
            return
        for name in self.child_names(path):
            yield from self.walk(f"{path}/{name}" if path else name, include_self=True)


class RepositoryStore:
    """Repository configurations plus the item tree of every repository that stores content."""

    def __init__(self) -> None:
        self.configs: dict[str, dict[str, Any]] = {}
        self.trees: dict[str, RepoTree] = {}

    def rclass(self, key: str) -> str | None:
        """The class of a repository, or None when unknown."""
        config = self.configs.get(key)
        return None if config is None else str(config["rclass"])
