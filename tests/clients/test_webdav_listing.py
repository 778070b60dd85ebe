"""The WebDAV target's folder listing (PROPFIND, Depth 1): the multi-status answers real servers
give, read as they arrive; and against real nginx (the dav-ext module), one listing answering
for the files of a fresh folder instead of a HEAD each."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from byte_streams import digests, pieces
from nginx_site import reachable_folder, require_nginx

from transfer.http import RetryPolicy
from transfer.pipeline.folder_probe import FolderProbe
from transfer.targets.base import FolderListing
from transfer.targets.webdav import WebDavTarget
from transfer.targets.webdav_listing import NotAFolder, read_listing

pytestmark = pytest.mark.anyio

_HEAD = '<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:">'


def _response(href: str, *, folder: bool = False, size: int | None = None) -> str:
    kind = "<D:collection/>" if folder else ""
    length = f"<D:getcontentlength>{size}</D:getcontentlength>" if size is not None else ""
    return (
        f"<D:response><D:href>{href}</D:href><D:propstat><D:prop>"
        f"<D:resourcetype>{kind}</D:resourcetype>{length}</D:prop>"
        "<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
    )


async def _body(text: str, piece: int = 7) -> AsyncIterator[bytes]:
    """``text`` in small pieces, so elements are split across reads."""
    data = text.encode()
    for start in range(0, len(data), piece):
        yield data[start : start + piece]


async def _listing(text: str, *, folder: str = "lib/1.0", limit: int = 100) -> FolderListing | None:
    return await read_listing(
        _body(text), repo="r", folder=folder, folder_path=f"/dav/r/{folder}", limit=limit
    )


async def test_the_entries_directly_in_the_folder_whatever_shape_the_hrefs_take() -> None:
    answer = (
        _HEAD
        + _response("/dav/r/lib/1.0/", folder=True)
        + _response("/dav/r/lib/1.0/a%20b%2Bc.bin", size=3)  # percent-encoded
        + _response("http://host:8080/dav/r/lib/1.0/c.bin", size=0)  # a whole URL
        + _response("/dav/r/lib/1.0/sub/", folder=True)
        + _response("/dav/r/lib/1.0/sub/deeper.bin", size=9)  # a server that ignored Depth: 1
        + _response("/dav/r/lib/1.0/nosize.bin")
        + "</D:multistatus>"
    )
    listing = await _listing(answer)
    assert listing is not None
    assert listing.complete
    assert listing.folders == {"sub"}
    assert {n: (f.path, f.size) for n, f in listing.files.items()} == {
        "a b+c.bin": ("lib/1.0/a b+c.bin", 3),
        "c.bin": ("lib/1.0/c.bin", 0),
        "nosize.bin": ("lib/1.0/nosize.bin", None),
    }
    assert all(not f.checksums.known() for f in listing.files.values())


async def test_a_file_at_the_path_is_no_folder() -> None:
    answer = _HEAD + _response("/dav/r/lib/1.0", size=5) + "</D:multistatus>"
    with pytest.raises(NotAFolder):
        await _listing(answer)


async def test_an_answer_that_is_no_multistatus_cannot_be_used() -> None:
    assert await _listing("<html><body>Index of /</body></html>") is None
    assert await _listing("not xml at all <<<") is None


async def test_a_huge_folder_stops_being_read_at_the_limit() -> None:
    """A folder of a million names is not read whole: reading stops past ``limit`` names and
    the listing says it is incomplete."""
    read = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal read
        yield (_HEAD + _response("/dav/r/flat/", folder=True)).encode()
        for n in range(1_000_000):
            read += 1
            yield _response(f"/dav/r/flat/f{n}.bin", size=n).encode()

    listing = await read_listing(
        endless(), repo="r", folder="flat", folder_path="/dav/r/flat/", limit=50
    )
    assert listing is not None
    assert not listing.complete
    assert len(listing.files) == 51
    assert read == 51


@pytest.mark.nginx
async def test_one_propfind_answers_for_a_fresh_folder_on_real_nginx() -> None:
    """Fresh folders list empty (404) and each of their files is answered without a HEAD; a
    file already there is listed with its size, and is still asked about (no checksum listed)."""
    require_nginx()
    from benchmarks.nginx import DAV_EXT_MODULE, NginxServer

    if not DAV_EXT_MODULE.exists():
        pytest.skip("nginx's dav-ext module is not installed (libnginx-mod-http-dav-ext)")
    with reachable_folder() as site:
        (site / "data").mkdir()
        (site / "data").chmod(0o755)
        with NginxServer(site / "data", site / "upload", site / "nginx") as server:
            async with WebDavTarget(
                server.upload_url, retry_policy=RetryPolicy(max_attempts=1)
            ) as target:
                data = b"x" * 1000
                await target.deploy(
                    "r", "lib/1.0/a.bin", pieces(data), size=1000, checksums=digests(data)
                )
                probe = FolderProbe(target)
                for name in ("b.bin", "c.bin", "d.bin"):
                    assert await probe.probe("r", f"lib/1.0/{name}") is None
                    assert await probe.probe("r", f"lib/2.0/{name}") is None
                found = await probe.probe("r", "lib/1.0/a.bin")
                assert found is not None
                assert found.size == 1000
                # lib/1.0, lib/2.0 and, that being empty, lib (which shows no 2.0)
                assert (probe.listings, probe.answered) == (3, 6)
                assert probe.lists
                # a file is no folder to list
                assert await target.list_folder("r", "lib/1.0/a.bin") is None
