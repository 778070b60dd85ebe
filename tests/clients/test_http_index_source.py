"""The plain-HTTP source against a tiny aiohttp server that answers like nginx: JSON autoindex
for folders (``autoindex_format json``), bytes for files, PUT stores a body (WebDAV's
``dav_methods PUT``). Real sockets; the whole engine runs through ``runner.migrate``."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from transfer.config_load import settings_from_mapping
from transfer.errors import RemoteError
from transfer.models import ItemState
from transfer.pipeline.engine import StopControl
from transfer.reporting.events import EventBus
from transfer.runner import migrate
from transfer.sources.http_index import HttpIndexSource, parse_autoindex, parse_manifest

pytestmark = pytest.mark.anyio

FILES = {
    "bench/pkg-a/1.0/a.bin": b"a" * 3000,
    "bench/pkg-a/1.0/deep/b.bin": b"b" * 70_000,
    "bench/pkg-b/c d+é.txt": b"hello world\n",
    "bench/top.bin": b"top",
    "other/x/y.bin": b"y" * 10,
    "readme.txt": b"root file",
}


class FakeNginx:
    """Serves ``files`` read-only under ``/`` and stores PUTs under ``/up/``."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = dict(files)
        self.stored: dict[str, bytes] = {}
        self.requests: list[str] = []
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self.handle)

    def index(self, folder: str) -> list[dict[str, Any]] | None:
        prefix = f"{folder}/" if folder else ""
        entries: dict[str, dict[str, Any]] = {}
        for path, body in self.files.items():
            if not path.startswith(prefix):
                continue
            head, _, rest = path[len(prefix) :].partition("/")
            if rest:
                entries[head] = {"name": head, "type": "directory", "mtime": "x"}
            else:
                entries[head] = {"name": head, "type": "file", "mtime": "x", "size": len(body)}
        return list(entries.values()) or None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = unquote(request.raw_path.split("?", 1)[0]).lstrip("/")
        self.requests.append(f"{request.method} {path}")
        if request.method == "PUT" and path.startswith("up/"):
            self.stored[path[3:]] = await request.read()
            return web.Response(status=201)
        if request.method == "HEAD" and path.startswith("up/"):
            body = self.stored.get(path[3:])
            if body is None:
                return web.Response(status=404)
            return web.Response(headers={"Content-Length": str(len(body))})
        if request.method in ("OPTIONS",):
            return web.Response(status=200)
        if request.method != "GET":
            return web.Response(status=405)
        if path in self.files:
            return web.Response(body=self.files[path], content_type="application/octet-stream")
        if path == "MANIFEST" and "MANIFEST" in self.stored:
            return web.Response(body=self.stored["MANIFEST"], content_type="text/plain")
        if path == "html/":  # nginx's default autoindex format
            return web.Response(text="<html><a href='x'>x</a></html>", content_type="text/html")
        if path.endswith("/") or not path:
            listing = self.index(path.rstrip("/"))
            if listing is not None:
                return web.json_response(listing)
        return web.Response(status=404)


@pytest.fixture
async def nginx() -> AsyncIterator[tuple[FakeNginx, str]]:
    fake = FakeNginx(FILES)
    async with TestServer(fake.app, host="127.0.0.1") as server:
        yield fake, str(server.make_url("")).rstrip("/")


def test_parse_autoindex_keeps_files_and_folders_only() -> None:
    folders, files = parse_autoindex(
        [
            {"name": "d", "type": "directory"},
            {"name": "f", "type": "file", "size": 5},
            {"name": "sock", "type": "other"},
            {"name": "..", "type": "directory"},
            {"name": "a/b", "type": "file", "size": 1},
        ]
    )
    assert (folders, files) == (["d"], [("f", 5)])
    with pytest.raises(TypeError):
        parse_autoindex({"name": "d"})


def test_parse_manifest_reads_sizes_and_checksums() -> None:
    sha256, sha1 = "ab" * 32, "CD" * 20
    rows = parse_manifest(f"# comment\n\nr/a%20b.bin 12 {sha256}\nr/c.bin 3 {sha1}\nr/d 0\n")
    assert rows == [
        ("r/a b.bin", 12, "", sha256),
        ("r/c.bin", 3, "cd" * 20, ""),
        ("r/d", 0, "", ""),
    ]
    with pytest.raises(ValueError, match="manifest line 2"):
        parse_manifest("r/a 1\nr/b notasize\n")
    with pytest.raises(ValueError, match="neither a sha256"):
        parse_manifest("r/a 1 abc\n")


async def test_autoindex_crawl_maps_folders_to_repositories_and_packages(
    nginx: tuple[FakeNginx, str],
) -> None:
    _, url = nginx
    async with HttpIndexSource(url, subject="acme") as source:
        repos = [r.name for r in await source.list_repositories()]
        assert repos == ["bench", "other", "acme"]
        assert [p async for p in source.iter_packages("bench")] == ["", "pkg-a", "pkg-b"]
        files = await source.list_version_files("bench", "pkg-a", "")
        assert [(f.path, f.size, f.package, f.version) for f in files] == [
            ("pkg-a/1.0/a.bin", 3000, "pkg-a", ""),
            ("pkg-a/1.0/deep/b.bin", 70_000, "pkg-a", ""),
        ]
        assert [f.path for f in await source.list_version_files("bench", "", "")] == ["top.bin"]
        [root] = await source.list_version_files("acme", "", "")
        assert (root.repo, root.path) == ("acme", "readme.txt")
        [odd] = await source.list_version_files("bench", "pkg-b", "")
        async with source.open_download(odd) as download:
            body = b"".join([c async for c in download.chunks(4)])
        assert body == b"hello world\n"
        assert download.size == len(body)
    async with HttpIndexSource(url, repos=("b*",), exclude_repos=("other",)) as source:
        assert [r.name for r in await source.list_repositories()] == ["bench"]
    # a top folder named like the subject is that repository; the root's own files stay out
    async with HttpIndexSource(url, subject="bench") as source:
        assert [r.name for r in await source.list_repositories()] == ["bench", "other"]
        assert [p async for p in source.iter_packages("bench")] == ["", "pkg-a", "pkg-b"]
        assert [f.path for f in await source.list_version_files("bench", "", "")] == ["top.bin"]


async def test_a_folder_that_is_not_a_json_autoindex_is_a_clear_error(
    nginx: tuple[FakeNginx, str],
) -> None:
    _, url = nginx
    async with HttpIndexSource(url + "/html") as source:
        with pytest.raises(RemoteError, match="JSON"):
            await source.list_repositories()


def _settings(url: str, workdir: Path, **source: Any) -> Any:
    return settings_from_mapping(
        {
            "source": {"type": "http", "download_url": url, "subject": "acme", **source},
            "target": {"type": "webdav", "url": f"{url}/up"},
            "store": {"path": str(workdir / "state.db")},
            "report": {"output_dir": str(workdir / "report")},
            "transfer": {"workers": 3, "backoff_base": 0.01, "backoff_max": 0.02},
        },
        base_dir=workdir,
    )


async def _migrate(settings: Any) -> Any:
    return await migrate(settings, bus=EventBus(), stop=StopControl(), phases=("artifacts",))


async def test_migrate_copies_every_listed_file_to_the_put_target(
    nginx: tuple[FakeNginx, str], tmp_path: Path
) -> None:
    fake, url = nginx
    summary = await _migrate(_settings(url, tmp_path))
    assert summary.counts[ItemState.DONE].items == len(FILES)
    assert fake.stored == {("acme/" + p if "/" not in p else p): b for p, b in FILES.items()}
    # a second run finds everything done in the store and moves nothing
    puts = sum(r.startswith("PUT") for r in fake.requests)
    again = await _migrate(_settings(url, tmp_path))
    assert again.counts[ItemState.DONE].items == len(FILES)
    assert sum(r.startswith("PUT") for r in fake.requests) == puts


async def test_manifest_checksums_are_verified(
    nginx: tuple[FakeNginx, str], tmp_path: Path
) -> None:
    fake, url = nginx
    good = FILES["bench/pkg-a/1.0/a.bin"]
    fake.stored["MANIFEST"] = (
        f"bench/pkg-a/1.0/a.bin {len(good)} {hashlib.sha256(good).hexdigest()}\n"
        f"other/x/y.bin 10 {hashlib.sha256(b'not y').hexdigest()}\n"
        "bench/top.bin 3\n"
    ).encode()
    summary = await _migrate(_settings(url, tmp_path, api_url=f"{url}/MANIFEST"))
    counts = summary.counts
    # the bytes that do not match the declared sha256 are never recorded as done; the retries
    # overwrite our own unverified upload (not a conflict) and the item ends failed
    assert counts[ItemState.DONE].items == 2
    assert counts[ItemState.FAILED].items == 1
    assert counts[ItemState.CONFLICT].items == 0
    assert fake.stored["bench/pkg-a/1.0/a.bin"] == good
    assert fake.stored["bench/top.bin"] == b"top"
