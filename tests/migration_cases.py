"""Whole-migration cases, one per source, for the scenarios every source must pass (migrate
then verify clean, a re-run sends nothing, a changed file is the only upload, SIGKILLs at
random moments): a running source and Artifactory target, the truth about the source, a CLI
config for both, and a way to change one source file.

To run the scenarios over a new source, write one factory and add it to ``MIGRATION_CASES``.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
from checksum_files import checksum_file_problem, is_checksum_file

from transfer.sandbox.artifactory import ArtifactoryEmulator
from transfer.sandbox.artifactory_pair import ArtifactoryPair, write_pair_config
from transfer.sandbox.requestlog import RequestRecord
from transfer.sandbox.serve import Sandbox, config_environment, write_config

Digests = dict[tuple[str, str], tuple[int, str, str]]
"""(repo, path) → (size, sha1, sha256)."""


def _digests(body: bytes) -> tuple[int, str, str]:
    return len(body), hashlib.sha1(body).hexdigest(), hashlib.sha256(body).hexdigest()


def finish_cli_config(
    config: Path, workdir: Path, *, extra: str = "", security: str = ""
) -> tuple[Path, dict[str, str]]:
    """Report and secrets file under ``workdir`` added to a sandbox's config (``security``
    lines in ``[security]``, ``extra`` tables at the end); returns it with the environment
    holding its secrets."""
    text = config.read_text()
    text += f'\n[report]\noutput_dir = "{workdir / "report"}"\n'
    text += f'\n[security]\nsecrets_file = "{workdir / "secrets.json"}"\n{security}\n'
    config.write_text(text + extra)
    return config, config_environment(config)


@dataclass(frozen=True)
class MigrationCase:
    """A running source and Artifactory target (target repository = source repository)."""

    target: ArtifactoryEmulator
    files: Digests
    """What the source holds; :attr:`change_file` keeps it true."""
    write_config: Callable[[Path], tuple[Path, dict[str, str]]]
    change_file: Callable[[], Awaitable[tuple[str, str]]]
    """Give one source file new bytes; returns its (repo, path)."""
    checksum_problem: Callable[[str, str], str | None] | None = None
    """Checks a source checksum file against its artifact in the target (see differences)."""
    rate_kib: int = 1024
    """A bandwidth cap under which the artifacts phase lasts a few seconds."""


@asynccontextmanager
async def bintray_migration(seed: int, profile: str = "demo") -> AsyncIterator[MigrationCase]:
    """The demo organisation (or another sandbox ``profile``) on the Bintray emulator."""
    async with Sandbox(profile, seed=seed) as sandbox:
        org = sandbox.org
        files: Digests = {}
        for f in org.iter_files():
            d = org.content.digests(f.content_key, f.size, kind=f.kind)
            files[f.repo, f.path] = (d.size, d.sha1, d.sha256)

        def config(workdir: Path) -> tuple[Path, dict[str, str]]:
            path = workdir / "transfer.toml"
            write_config(sandbox.endpoints, path, store_path=str(workdir / "state.db"))
            return finish_cli_config(path, workdir)

        async def change() -> tuple[str, str]:
            for repo in org.repos.values():
                for package in repo.packages.values():
                    for version in package.versions:
                        for index, file in enumerate(version.files):
                            if (
                                file.size > 0
                                and file.published
                                and not (
                                    is_checksum_file(file.path)
                                    or file.path.endswith(".pom")
                                    or package.linked_to_repos
                                )
                            ):
                                new = replace(file, content_key=file.content_key + "-changed")
                                version.files[index] = new
                                d = org.content.digests(new.content_key, new.size, kind=new.kind)
                                files[new.repo, new.path] = (d.size, d.sha1, d.sha256)
                                return new.repo, new.path
            raise AssertionError("no file to change")

        yield MigrationCase(
            sandbox.artifactory,
            files,
            config,
            change,
            checksum_problem=lambda repo, path: checksum_file_problem(sandbox, repo, path),
        )


@asynccontextmanager
async def artifactory_migration(seed: int) -> AsyncIterator[MigrationCase]:
    """A seeded source Artifactory (40 Maven versions and the rest) and an empty target."""
    async with ArtifactoryPair(seed=seed, files=40) as pair:
        e = pair.endpoints
        files = {(f.repo, f.path): _digests(f.body) for f in pair.content.files}

        def config(workdir: Path) -> tuple[Path, dict[str, str]]:
            path = workdir / "transfer.toml"
            write_pair_config(e, path, store_path=str(workdir / "state.db"))
            return finish_cli_config(path, workdir)

        async def change() -> tuple[str, str]:
            repo, path = "generic-local", "tools/cli/2.0/cli-linux.tar.gz"
            body = b"a new build of the same file\n" * 100
            auth = {"Authorization": aiohttp.encode_basic_auth(e.source_user, e.source_password)}
            async with (
                aiohttp.ClientSession(headers=auth, raise_for_status=True) as http,
                http.put(f"{e.source_url}/{repo}/{path}", data=body),
            ):
                pass
            files[repo, path] = _digests(body)
            return repo, path

        yield MigrationCase(pair.target, files, config, change, rate_kib=128)


MIGRATION_CASES: dict[str, Callable[[int], Any]] = {
    "bintray": bintray_migration,
    "artifactory": artifactory_migration,
}
"""Every source the whole-migration scenarios run over."""


def differences(
    target: ArtifactoryEmulator,
    files: Digests,
    *,
    checksum_problem: Callable[[str, str], str | None] | None = None,
) -> list[str]:
    """Source files missing or different in the target (target repo = source repo).  A
    checksum file (``X.sha1``...) is not stored but checked against ``X``: by
    ``checksum_problem`` when the case can read its value, else only that nothing is stored."""
    problems = []
    for (repo, path), digests in files.items():
        if is_checksum_file(path):
            problem = (
                checksum_problem(repo, path)
                if checksum_problem is not None
                else (f"{repo}/{path}: stored as a file" if target.item(repo, path) else None)
            )
            problems += [problem] if problem else []
            continue
        stored = target.item(repo, path)
        if stored is None:
            problems.append(f"{repo}/{path}: missing")
        elif (stored.size, stored.sha1, stored.sha256) != digests:
            problems.append(f"{repo}/{path}: differs")
    return problems


def properties_on(
    target: ArtifactoryEmulator, files: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, list[str]]]:
    """Properties the target stores on each of ``files`` (checksum files have none)."""
    return {
        (repo, path): target.properties(repo, path)
        for repo, path in files
        if not is_checksum_file(path)
    }


def uploads_to(target: ArtifactoryEmulator) -> list[Any]:
    """Artifact PUTs that carried bytes (not API calls, not checksum deploys)."""
    return [r for r in target.request_log if is_upload(r)]


def is_upload(record: RequestRecord) -> bool:
    """Whether ``record`` is an artifact PUT that carried bytes."""
    return (
        record.method == "PUT"
        and record.bytes_in > 0
        and not record.path.startswith(("/artifactory/api/", "/access/"))
    )
