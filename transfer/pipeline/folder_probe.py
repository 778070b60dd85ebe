"""Asking the target what paths hold, one folder listing for the files of a folder.

Never overwriting blind means asking the target about every path before writing it. One ``HEAD``
per file is a request and a round trip per file; the files of a version usually share a folder
and are copied within moments of each other, so one listing of that folder
(:meth:`Target.list_folder`) answers for all of them.

What keeps this as truthful as a probe per path:

* a listing answers only for ``max_age`` seconds after it was taken (then the folder is listed
  again), and for each name at most once (a path asked about again, e.g. a file re-opened in the
  same run, gets a ``HEAD``);
* only a first try uses it: a retry may follow an upload of ours that reached the target;
* a file listed without a checksum is probed (the probe falls back to the file info);
* a name is looked up in a listing only when it is plain ASCII (letters, digits, ``._~-``), so
  no encoding of the listing's ``uri`` can hide it; a name the listing holds in another case
  (a case-insensitive database), a sub-folder of that name, or any other name gets a ``HEAD``,
  which keeps the probe's own answers (a folder at the path is a conflict);
* a target that cannot list (``None`` three times in a row: WebDAV without PROPFIND, a 403
  without Pro) is probed path by path for the rest of the run;
* a folder that holds more than ``max_entries`` names (a flat repository of a million files), or
  that the target stopped listing part way (:attr:`FolderListing.complete`), is probed path by
  path from then on: listing it again every ``max_age`` would cost the target
  and this process more than a ``HEAD`` per file.

Several workers asking about one folder at once wait for the same listing.

A fresh target costs a few listings, not one per folder: when a folder lists empty (it is not
there yet), its parent is listed too, and so on up until a folder holds something.  While that
listing is fresh, every folder below it whose way down it does not show (no entry of that name,
in any case; plain ASCII names only) is known to be empty without asking, with the same rules
as a listing of its own.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio

from transfer.errors import TransferError
from transfer.targets.base import LISTING_LIMIT, FolderListing, Target, TargetFile

__all__ = ["DEFAULT_MAX_AGE", "FolderProbe"]

DEFAULT_MAX_AGE = 10.0
"""Seconds a folder listing answers for the files in it."""
_PLAIN_NAME = re.compile(r"[A-Za-z0-9._~-]+")
_GIVE_UP_AFTER = 3  # listings refused in a row before every path is probed on its own
_MAX_FOLDERS = 4096  # listings kept at once (the oldest go first)
MAX_ENTRIES = LISTING_LIMIT
"""Names a listing may hold to be kept; a larger folder is probed path by path."""


@dataclass(slots=True)
class _Listed:
    taken: float
    listing: FolderListing
    lowered: frozenset[str]
    asked: set[str] = field(default_factory=set)


class FolderProbe:
    """What the target holds at a path: from a recent listing of its folder, else a ``HEAD``.

    ``max_age <= 0`` probes every path on its own (``target.folder_listing_max_age = 0``).
    """

    def __init__(
        self,
        target: Target,
        *,
        max_age: float = DEFAULT_MAX_AGE,
        clock: Callable[[], float] = time.monotonic,
        max_folders: int = _MAX_FOLDERS,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self._target = target
        self._max_age = max_age
        self._clock = clock
        self._max_folders = max(1, max_folders)
        self._listed: dict[tuple[str, str], _Listed] = {}  # oldest first
        self._listing: dict[tuple[str, str], anyio.Event] = {}
        self._max_entries = max_entries
        self._too_large: dict[tuple[str, str], None] = {}  # folders probed path by path
        self._refused = 0
        self.listings = 0
        """Folder listings asked for (for tests and figures)."""
        self.answered = 0
        """Paths answered from a listing."""

    @property
    def lists(self) -> bool:
        """Whether paths are still answered from folder listings."""
        return self._max_age > 0 and self._refused < _GIVE_UP_AFTER

    async def probe(self, repo: str, path: str, *, first_try: bool = True) -> TargetFile | None:
        """The file at ``path`` in ``repo``, or ``None`` when there is none."""
        folder, _, name = path.rpartition("/")
        if not (first_try and self.lists and _PLAIN_NAME.fullmatch(name)):
            return await self._target.probe(repo, path)
        listed = await self._folder(repo, folder)
        if listed is None or name in listed.asked:
            return await self._target.probe(repo, path)
        listed.asked.add(name)
        found = listed.listing.files.get(name)
        if found is not None and (found.checksums.sha1 or found.checksums.sha256):
            self.answered += 1
            return found
        if found is not None:  # listed without a checksum: the probe falls back to file info
            return await self._target.probe(repo, path)
        if name.lower() in listed.lowered:
            # a sub-folder of that name, or a file the target may take for ours
            return await self._target.probe(repo, path)
        self.answered += 1
        return None

    async def _folder(self, repo: str, folder: str) -> _Listed | None:
        key = (repo, folder)
        if key in self._too_large:
            return None
        self._forget_old()
        listed = self._listed.get(key)
        if listed is not None:
            return listed
        absent = self._absent_below_a_listing(repo, folder)
        if absent is not None:
            self._listed[key] = absent
            return absent
        ongoing = self._listing.get(key)
        if ongoing is not None:
            await ongoing.wait()
            return self._listed.get(key)  # None: that listing failed or was refused
        done = self._listing[key] = anyio.Event()
        try:
            self.listings += 1
            listing = await self._target.list_folder(repo, folder)
        finally:
            del self._listing[key]
            done.set()
        if listing is None:
            self._refused += 1
            return None
        self._refused = 0
        names = (*listing.files, *listing.folders)
        if not listing.complete or len(names) > self._max_entries:
            self._too_large[key] = None
            if len(self._too_large) > self._max_folders:
                del self._too_large[next(iter(self._too_large))]
            return None
        listed = _Listed(self._clock(), listing, frozenset(n.lower() for n in names))
        self._listed[key] = listed
        if folder and not names:
            # Nothing there (a fresh target): the parent's listing says how far up that goes,
            # and then answers for every folder beside this one too.  Only a saving: a
            # failure to list the parent leaves each folder to be listed itself.
            with contextlib.suppress(TransferError):
                await self._folder(repo, folder.rpartition("/")[0])
        return listed

    def _absent_below_a_listing(self, repo: str, folder: str) -> _Listed | None:
        """An empty listing for ``folder`` when the listing of an ancestor, still fresh, has
        no entry on the way down to it (in any case): nothing can be there.  ``None`` when no
        such listing is known or the way down exists (then ``folder`` is listed itself)."""
        parts = folder.split("/") if folder else []
        for depth in range(len(parts) - 1, -1, -1):  # the nearest ancestor first
            ancestor = self._listed.get((repo, "/".join(parts[:depth])))
            if ancestor is None:
                continue
            child = parts[depth]
            if not _PLAIN_NAME.fullmatch(child) or child.lower() in ancestor.lowered:
                return None
            return _Listed(ancestor.taken, FolderListing(), frozenset())
        return None

    def _forget_old(self) -> None:
        oldest = self._clock() - self._max_age
        while self._listed:
            key, listed = next(iter(self._listed.items()))
            if listed.taken > oldest and len(self._listed) < self._max_folders:
                return
            del self._listed[key]
