"""Reading a WebDAV ``PROPFIND`` (``Depth: 1``) answer into a :class:`FolderListing`.

The answer is a ``207 Multi-Status`` XML document with one ``<D:response>`` per resource: the
folder asked about and each entry directly in it, by ``href`` (percent-encoded, an absolute path
or a whole URL), with ``resourcetype`` (``<D:collection/>`` for a folder) and
``getcontentlength``.  It is parsed as it arrives, one response at a time, and each is dropped
once read, so a folder of a million files costs no more memory than one of ten: reading stops
after ``limit`` names and the listing says it is incomplete.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import AsyncIterable, Iterator
from dataclasses import dataclass
from typing import cast
from urllib.parse import unquote, urlsplit

from transfer.models import Checksums
from transfer.targets.base import FolderListing, TargetFile

__all__ = ["PROPFIND_BODY", "NotAFolder", "read_listing"]

PROPFIND_BODY = (
    b'<?xml version="1.0" encoding="utf-8"?>\n'
    b'<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getcontentlength/></D:prop>'
    b"</D:propfind>"
)
"""What a listing asks for: only the type and size of each entry."""

_DAV = "{DAV:}"


class NotAFolder(Exception):
    """The path asked about is a file: there is no folder there to list."""


@dataclass(frozen=True, slots=True)
class _Entry:
    path: str  # decoded, no leading or trailing slash
    folder: bool
    size: int | None


def _entry(response: ET.Element) -> _Entry | None:
    href = response.findtext(f"{_DAV}href")
    if not href:
        return None
    path = unquote(urlsplit(href.strip()).path).strip("/")
    prop = None
    for propstat in response.iter(f"{_DAV}propstat"):
        status = propstat.findtext(f"{_DAV}status") or ""
        if " 200 " in f"{status} ":  # "HTTP/1.1 200 OK": the properties the server has
            prop = propstat.find(f"{_DAV}prop")
            break
    if prop is None:
        return _Entry(path, folder=False, size=None)
    kind = prop.find(f"{_DAV}resourcetype")
    folder = kind is not None and kind.find(f"{_DAV}collection") is not None
    length = (prop.findtext(f"{_DAV}getcontentlength") or "").strip()
    return _Entry(path, folder, int(length) if length.isdigit() else None)


async def read_listing(
    body: AsyncIterable[bytes], *, repo: str, folder: str, folder_path: str, limit: int
) -> FolderListing | None:
    """The entries directly in ``folder`` of ``repo`` from a streamed ``PROPFIND`` answer.

    ``folder_path`` is the decoded URL path that was asked about (the server's ``href`` of the
    folder itself).  Entries elsewhere (a server that ignored ``Depth: 1``) are left out.
    Raises :class:`NotAFolder` when the path is a file; ``None`` when the answer is not a
    multi-status document (a listing only saves requests: the caller probes path by path).
    """
    asked = folder_path.strip("/")
    parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start", "end"))
    files: dict[str, TargetFile] = {}
    folders: set[str] = set()
    root: ET.Element | None = None
    try:
        async for chunk in body:
            parser.feed(chunk)
            for event, element in cast("Iterator[tuple[str, ET.Element]]", parser.read_events()):
                if event == "start":
                    root = element if root is None else root
                    continue
                if element.tag != f"{_DAV}response":
                    continue
                entry = _entry(element)
                if root is not None:
                    root.clear()  # each response is read once: memory stays flat
                if entry is None:
                    continue
                if entry.path == asked:
                    if not entry.folder:
                        raise NotAFolder(folder)
                    continue
                parent, _, name = entry.path.rpartition("/")
                if parent != asked or not name:
                    continue
                if entry.folder:
                    folders.add(name)
                else:
                    path = f"{folder}/{name}" if folder else name
                    files[name] = TargetFile(repo, path, entry.size, Checksums())
                if len(files) + len(folders) > limit:
                    return FolderListing(files, frozenset(folders), complete=False)
        parser.close()
    except ET.ParseError:
        return None
    if root is None or root.tag != f"{_DAV}multistatus":
        return None
    return FolderListing(files, frozenset(folders))
