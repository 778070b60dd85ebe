"""The implementations the Source behaviour suite runs over, one factory each.

A factory is an async context manager ``(workdir) -> SourceCase``: it starts whatever serves the
source (an emulator, nginx), opens the source, and says what the source must list.  To run the
suite over a new source (an Artifactory repository, a directory on disk), write one factory and
add it to ``SOURCE_CASES`` (with the marks of the services it needs); nothing else changes.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from bintray_kit import MANY, NO_RETRY, model_files, serving, source_for, tiny_with_many_packages
from nginx_site import reachable_folder, require_nginx, write_tree

from transfer.models import SourceFile
from transfer.redaction import Secret
from transfer.sandbox.artifactory_pair import ArtifactoryPair
from transfer.sandbox.generator import credentials
from transfer.sandbox.tree import write_sample_tree
from transfer.sources.artifactory import ArtifactorySource
from transfer.sources.base import Source
from transfer.sources.directory import DirectorySource
from transfer.sources.http_index import HttpIndexSource


@dataclass(frozen=True)
class SourceCase:
    """An opened source and the truth about it."""

    source: Source
    files: Mapping[tuple[str, str], int]
    """Every file the source must list, (repository, path) → size, and no other."""
    missing: SourceFile
    """A file the source does not hold (its download must fail as not found)."""
    paged_repo: str = ""
    """A repository with more packages than one page of the source's listing ("": none)."""
    paged_packages: int = 0
    secrets: tuple[str, ...] = ()
    """Credentials that must never show in a URL the source reports."""


CaseFactory = Callable[[Path], AbstractAsyncContextManager[SourceCase]]

# --------------------------------------------------------------------------- Bintray


@asynccontextmanager
async def bintray_case(workdir: Path) -> AsyncIterator[SourceCase]:
    """The Bintray source on the Bintray emulator: the tiny organisation (awkward names,
    unpublished files) plus a repository with more than one page of packages."""
    org = tiny_with_many_packages()
    async with serving(org) as (api, dl), source_for(org, api, dl) as source:
        yield SourceCase(
            source,
            {key: size for key, (size, _) in model_files(org).items()},
            missing=SourceFile("many", "pkg 000+x", "1.0", "pkg-000/1.0/absent.bin", 1),
            paged_repo="many",
            paged_packages=MANY,
            secrets=(credentials(org)["api_key"],),
        )


# --------------------------------------------------------------------------- plain HTTP (nginx)

_rng = random.Random(11)
HTTP_FILES = {
    "tools/cli/1.0/cli.bin": _rng.randbytes(200_000),
    "tools/cli/notes.txt": b"notes\n",
    "tools/top.bin": _rng.randbytes(3000),
    "tools/empty.bin": b"",
    "docs/guide/odd names/a b+c \u00e9.txt": b"odd\n",
    "readme.txt": b"root file\n",
}
"""Served by nginx; the first path segment is the repository, files at the root belong to the
repository named after the subject (``root``)."""


def _http_truth() -> dict[tuple[str, str], int]:
    truth = {}
    for path, body in HTTP_FILES.items():
        repo, inner = path.split("/", 1) if "/" in path else ("root", path)
        truth[repo, inner] = len(body)
    return truth


@asynccontextmanager
async def _nginx_source(workdir: Path, *, manifest: bool) -> AsyncIterator[SourceCase]:
    require_nginx()
    from benchmarks.nginx import NginxServer

    with reachable_folder() as site:
        write_tree(site / "data", HTTP_FILES)
        # started from this thread: nginx is told to die with the thread that started it
        with NginxServer(site / "data", site / "upload", site / "nginx") as server:
            manifest_url = None
            if manifest:
                lines = [
                    f"{quote(p, safe='/')} {len(b)} {hashlib.sha256(b).hexdigest()}"
                    for p, b in HTTP_FILES.items()
                ]
                write_tree(server.upload_dir, {"MANIFEST": "\n".join(lines).encode()})
                manifest_url = f"{server.upload_url}/MANIFEST"
            source = HttpIndexSource(
                server.json_url, subject="root", manifest_url=manifest_url, retry_policy=NO_RETRY
            )
            async with source:
                yield SourceCase(
                    source,
                    _http_truth(),
                    missing=SourceFile("tools", "cli", "", "cli/9.9/absent.bin", 1),
                )


def http_autoindex_case(workdir: Path) -> AbstractAsyncContextManager[SourceCase]:
    """The plain-HTTP source reading nginx's JSON autoindex (sizes only, no checksums)."""
    return _nginx_source(workdir, manifest=False)


def http_manifest_case(workdir: Path) -> AbstractAsyncContextManager[SourceCase]:
    """The plain-HTTP source reading a manifest with sha256s, files served by nginx."""
    return _nginx_source(workdir, manifest=True)


# --------------------------------------------------------------------------- local directory


@asynccontextmanager
async def directory_case(workdir: Path) -> AsyncIterator[SourceCase]:
    """A local tree (the sandbox's sample: a manifest declaring the Maven repository's sha256s,
    links, a FIFO and a non-UTF-8 name that must not be listed)."""
    tree = write_sample_tree(workdir / "tree", seed=5)
    async with DirectorySource(tree.root) as source:
        yield SourceCase(
            source,
            {key: len(body) for key, body in tree.files.items()},
            missing=SourceFile("tools", "cli", "", "cli/9.9/absent.bin", 1),
        )


# --------------------------------------------------------------------------- another Artifactory


@asynccontextmanager
async def artifactory_case(workdir: Path) -> AsyncIterator[SourceCase]:
    """The Artifactory source on the seeded source emulator of an Artifactory pair, with
    AQL pages of 3 files so the Maven repository (12 files) takes four pages."""
    async with ArtifactoryPair(seed=5) as pair:
        e = pair.endpoints
        source = ArtifactorySource(
            e.source_url,
            user=e.source_user,
            password=Secret(e.source_password),
            page_size=3,
            retry_policy=NO_RETRY,
        )
        async with source:
            yield SourceCase(
                source,
                {(f.repo, f.path): len(f.body) for f in pair.content.files},
                missing=SourceFile("generic-local", "", "", "absent/nothing.bin", 1),
                paged_repo="libs-release-local",
                paged_packages=4,
                secrets=(e.source_password,),
            )


SOURCE_FACTORIES: dict[str, CaseFactory] = {
    "bintray": bintray_case,
    "http-autoindex": http_autoindex_case,
    "http-manifest": http_manifest_case,
    "directory": directory_case,
    "artifactory": artifactory_case,
}
SOURCE_CASES: list[Any] = [
    "bintray",
    pytest.param("http-autoindex", marks=pytest.mark.nginx),
    pytest.param("http-manifest", marks=pytest.mark.nginx),
    "directory",
    "artifactory",
]
