"""Helpers for whole-migration tests: settings for a running sandbox, one-call migrations,
and a comparison of target against source."""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote

import anyio
from checksum_files import checksum_file_problem, is_checksum_file
from sandbox_settings import sandbox_settings

from transfer.models import ItemState
from transfer.pipeline.engine import StopControl
from transfer.reporting.events import EventBus
from transfer.runner import MigrationSummary, migrate
from transfer.sandbox.serve import Sandbox, config_environment, write_config
from transfer.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]


def create_target_repos(sandbox: Sandbox) -> None:
    """Create a local repository for every Bintray repository (the artifacts phase needs them)."""
    for repo in sandbox.org.repos.values():
        if repo.name not in sandbox.artifactory.repositories():
            sandbox.artifactory.create_repository(repo.name, "generic")


def settings_for(sandbox: Sandbox, workdir: Path, **transfer: Any) -> Settings:
    """Settings that point at ``sandbox``, with the store and report under ``workdir``."""
    return sandbox_settings(sandbox, workdir, **transfer)


async def run_migration(
    settings: Settings, *, phases: tuple[str, ...] = ("artifacts",), retry_failed: bool = False
) -> MigrationSummary:
    """One ``migrate`` in this process."""
    return await migrate(
        settings, bus=EventBus(), stop=StopControl(), phases=phases, retry_failed=retry_failed
    )


def assert_target_matches_source(sandbox: Sandbox) -> int:
    """Every source file is in the target with equal size, sha1 and sha256; returns the count.

    A checksum file (``X.sha1``...) is not stored: the target holds ``X`` with that checksum.
    """
    checked = 0
    for file in sandbox.org.iter_files():
        if is_checksum_file(file.path):
            problem = checksum_file_problem(sandbox, file.repo, file.path)
            assert problem is None, problem
            checked += 1
            continue
        digests = sandbox.org.content.digests(file.content_key, file.size, kind=file.kind)
        stored = sandbox.artifactory.item(file.repo, file.path)
        assert stored is not None, f"{file.repo}/{file.path} missing in the target"
        assert (stored.size, stored.sha1, stored.sha256) == (
            digests.size,
            digests.sha1,
            digests.sha256,
        ), f"{file.repo}/{file.path} differs"
        checked += 1
    return checked


def artifact_uploads(sandbox: Sandbox) -> list[str]:
    """``repo/path`` of the artifact PUTs that carried bytes to the target, in order."""
    return [
        unquote(r.path.removeprefix("/artifactory/"))
        for r in sandbox.artifactory.request_log
        if r.method == "PUT" and r.bytes_in > 0 and not r.path.startswith("/artifactory/api/")
    ]


def done_count(summary: MigrationSummary) -> int:
    assert summary.counts is not None
    return summary.counts[ItemState.DONE].items


def write_cli_config(sandbox: Sandbox, workdir: Path) -> tuple[Path, dict[str, str]]:
    """A config file for the CLI and the environment holding its secrets."""
    config = workdir / "transfer.toml"
    write_config(sandbox.endpoints, config, store_path=str(workdir / "state.db"))
    return config, config_environment(config)


async def supervise(
    command: list[str], env: dict[str, str], kill_after: float | None, output: BinaryIO
) -> int | None:
    """Run ``command`` from the repository root; SIGKILL it after ``kill_after`` seconds
    (``None``: let it finish).  Returns its exit code, or ``None`` when it was killed."""
    async with await anyio.open_process(
        command, env=env, cwd=REPO_ROOT, stdout=output, stderr=output
    ) as process:
        if kill_after is None:
            return await process.wait()
        with anyio.move_on_after(kill_after):
            await process.wait()
            return process.returncode
        process.kill()
        await process.wait()
        return None
