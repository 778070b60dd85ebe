"""The Source behaviour suite: what every source promises the engine, run over each
implementation (``source_cases.SOURCE_CASES``), as rclone runs one conformance suite over
every backend.

Listing: repositories once each, packages once each across pages, exactly the files there are,
with packages and versions that agree with each other.  Streaming: the bytes of a download add
up to the listed size and hash to the declared checksums, in chunks no larger than asked, the
same bytes every time a download is opened.  Errors: a file that is not there is a not-found
error, classified as not worth retrying.  Attributes: typed, lower case, values as tuples.
"""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest
from source_cases import SourceCase

from transfer.errors import NotFoundError
from transfer.models import SourceFile
from transfer.sources.base import Source, SourceAttribute

pytestmark = pytest.mark.anyio

CHUNK = 16 * 1024


async def walk(source: Source) -> list[SourceFile]:
    """Every file, the way discovery reaches them: repositories → packages → versions."""
    files: list[SourceFile] = []
    for repo in await source.list_repositories():
        async for name in source.iter_packages(repo.name):
            package = await source.get_package(repo.name, name)
            assert (package.repo, package.name) == (repo.name, name)
            if package.linked:
                assert package.owner_repo != repo.name
                continue  # owned by another repository, whose walk lists its files
            for version in package.versions:
                found = await source.get_version(repo.name, name, version)
                assert (found.repo, found.package, found.name) == (repo.name, name, version)
                files += await source.list_version_files(repo.name, name, version)
    return files


async def read(source: Source, file: SourceFile) -> tuple[bytes, str]:
    async with source.open_download(file) as download:
        assert download.size in (None, file.size)
        chunks = [chunk async for chunk in download.chunks(CHUNK)]
        url = download.url
    assert all(0 < len(chunk) <= CHUNK for chunk in chunks)
    return b"".join(chunks), url


async def test_is_a_source_listing_repositories_once_each(source_case: SourceCase) -> None:
    source = source_case.source
    assert isinstance(source, Source)
    repos = await source.list_repositories()
    names = [r.name for r in repos]
    assert len(names) == len(set(names))
    assert {repo for repo, _ in source_case.files} <= set(names)
    assert all(r.type == r.type.lower() and r.type for r in repos)


async def test_packages_come_once_each_across_pages(source_case: SourceCase) -> None:
    source = source_case.source
    for repo in await source.list_repositories():
        names = [name async for name in source.iter_packages(repo.name)]
        assert not [n for n, seen in Counter(names).items() if seen > 1], repo.name
        if repo.name == source_case.paged_repo:
            assert len(names) == source_case.paged_packages


async def test_the_walk_lists_exactly_the_files_there_are(source_case: SourceCase) -> None:
    files = await walk(source_case.source)
    assert {(f.repo, f.path): f.size for f in files} == dict(source_case.files)
    assert len(files) == len(source_case.files)
    for file in files:
        assert file.sha1 == file.sha1.lower()
        assert len(file.sha1) in (0, 40)
        assert file.sha256 == file.sha256.lower()
        assert len(file.sha256) in (0, 64)


async def test_downloads_stream_the_declared_bytes(source_case: SourceCase) -> None:
    for file in await walk(source_case.source):
        body, url = await read(source_case.source, file)
        assert len(body) == file.size, file.path
        if file.sha1:
            assert hashlib.sha1(body).hexdigest() == file.sha1, file.path
        if file.sha256:
            assert hashlib.sha256(body).hexdigest() == file.sha256, file.path
        assert not [s for s in source_case.secrets if s in url]


async def test_a_download_gives_the_same_bytes_every_time(source_case: SourceCase) -> None:
    files = await walk(source_case.source)
    largest = max(files, key=lambda f: f.size)
    first, _ = await read(source_case.source, largest)
    again, _ = await read(source_case.source, largest)
    assert first == again
    assert len(first) == largest.size > 0


async def test_a_missing_file_is_not_found_and_not_retried(source_case: SourceCase) -> None:
    with pytest.raises(NotFoundError) as caught:
        await read(source_case.source, source_case.missing)
    assert not caught.value.retryable
    assert caught.value.status == 404


async def test_attributes_are_typed_lists(source_case: SourceCase) -> None:
    source = source_case.source
    files = await walk(source)
    found: list[SourceAttribute] = []
    for file in files[:8]:
        found += await source.get_attributes("package", file.repo, file.package)
        found += await source.get_attributes("version", file.repo, file.package, file.version)
        found += await source.get_attributes("file", file.repo, path=file.path)
    for attribute in found:
        assert attribute.name
        assert attribute.type == attribute.type.lower()
        assert isinstance(attribute.values, tuple)
