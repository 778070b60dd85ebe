"""``source.type = "directory"`` end to end, into the Artifactory emulator over real sockets:
a whole migration then ``verify`` clean, with the repositories created from the settings file
and every refused entry (links, a FIFO, a non-UTF-8 name, a stray root file) in the report; a
re-run sends nothing; a file rewritten at the same size is the only upload of the next run; and
``transfer migrate`` subprocesses SIGKILLed at random moments resume without uploading any
file completely twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import pytest
from checksum_files import is_checksum_file
from harness import artifact_uploads, supervise

from transfer.config_load import load_settings
from transfer.models import ItemState
from transfer.pipeline.engine import StopControl
from transfer.reporting.events import EventBus
from transfer.runner import PHASES, MigrationSummary, migrate, report, verify
from transfer.sandbox.serve import ARTIFACTORY_PASSWORD_ENV, Sandbox
from transfer.sandbox.tree import SampleTree, write_sample_tree
from transfer.settings import Settings

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@dataclass
class DirectoryCase:
    """A sample tree on disk and an empty Artifactory emulator to migrate it into."""

    sandbox: Sandbox
    tree: SampleTree

    def write_config(self, workdir: Path) -> tuple[Path, dict[str, str]]:
        """A CLI config (directory source → the emulator, default settings) and the
        environment it needs."""
        e = self.sandbox.endpoints
        config = workdir / "transfer.toml"
        config.write_text(
            f'[source]\ntype = "directory"\nroot = "{self.tree.root}"\n\n'
            f'[target]\nurl = "{e.artifactory_url}"\nuser = "{e.artifactory_user}"\n'
            f'password = "${{{ARTIFACTORY_PASSWORD_ENV}}}"\n\n'
            f'[store]\npath = "{workdir / "state.db"}"\n\n'
            f'[report]\noutput_dir = "{workdir / "report"}"\n\n'
            f'[security]\nsecrets_file = "{workdir / "secrets.json"}"\n'
        )
        return config, {**os.environ, ARTIFACTORY_PASSWORD_ENV: e.artifactory_password}

    def differences(self) -> list[str]:
        """Tree files missing or different in the target (target repo = folder name)."""
        problems = []
        target = self.sandbox.artifactory
        for (repo, path), body in self.tree.files.items():
            if is_checksum_file(path):  # served by the target from the file it describes
                stem, _, algorithm = path.rpartition(".")
                described = target.item(repo, stem)
                if described is None or getattr(described, algorithm) != body.decode():
                    problems.append(f"{repo}/{path}: not served from {stem}")
                continue
            stored = target.item(repo, path)
            digests = (len(body), hashlib.sha1(body).hexdigest(), hashlib.sha256(body).hexdigest())
            if stored is None:
                problems.append(f"{repo}/{path}: missing")
            elif (stored.size, stored.sha1, stored.sha256) != digests:
                problems.append(f"{repo}/{path}: differs")
        return problems

    def uploads(self) -> list[str]:
        """Paths of the artifact PUTs that carried bytes, in order."""
        return artifact_uploads(self.sandbox)


@asynccontextmanager
async def directory_case(root: Path, *, bulk: int = 0) -> AsyncIterator[DirectoryCase]:
    async with Sandbox("tiny", seed=3) as sandbox:
        yield DirectoryCase(sandbox, write_sample_tree(root, seed=3, bulk=bulk))


async def _migrate(settings: Settings) -> MigrationSummary:
    return await migrate(settings, bus=EventBus(), stop=StopControl(), phases=PHASES)


async def test_migrate_verify_rerun_and_a_changed_file(tmp_path: Path) -> None:
    async with directory_case(tmp_path / "tree") as case:
        config, env = case.write_config(tmp_path)
        settings = load_settings(config, environ=env)

        first = await _migrate(settings)
        assert first.counts is not None
        assert first.counts[ItemState.DONE].items == len(case.tree.files)
        assert case.differences() == []
        repos = case.sandbox.artifactory.repositories()
        assert repos["libs-release"]["packageType"] == "maven"
        assert repos["tools"]["packageType"] == "generic"
        assert repos["tools"]["description"] == "Command-line tools"
        audit = await verify(settings)
        assert audit.clean
        assert audit.same == len(case.tree.files)
        written = await report(settings)
        data = json.loads(written.json.read_text())
        skipped = {
            (entry["repo"], entry["path"])
            for entry in data["side_tasks"]["unmigratable"]
            if entry.get("category") == "skipped_in_source"
        }
        assert skipped == case.tree.refused
        # nothing Bintray-only (download statistics, publisher fields) is claimed missing
        entries = data["side_tasks"]["unmigratable"]
        assert {entry["category"] for entry in entries} == {"skipped_in_source"}
        assert not any("/etc/passwd" in path or "latest/" in path for path in case.uploads())

        sent = case.uploads()
        puts = case.sandbox.artifactory.request_log.count(method="PUT")
        await _migrate(settings)
        assert case.uploads() == sent  # no bytes again
        assert case.sandbox.artifactory.request_log.count(method="PUT") == puts

        # Same size, new bytes, a later modification time: only the time can tell.
        repo, path = "tools", "cli/1.0/cli-windows.zip"
        old = case.tree.files[repo, path]
        case.tree.write(repo, path, bytes(reversed(old)))
        stamp = os.stat(case.tree.root / repo / path).st_mtime_ns + 1_000_000_000
        os.utime(case.tree.root / repo / path, ns=(stamp, stamp))
        third = await _migrate(settings)
        assert third.counts is not None
        assert third.counts[ItemState.DONE].items == len(case.tree.files)
        assert case.uploads()[len(sent) :] == [f"{repo}/{path}"]
        assert case.differences() == []
        assert (await verify(settings)).clean


async def _run(
    config: Path, env: dict[str, str], kill_after: float | None, log: Path
) -> int | None:
    command = [
        sys.executable, "-m", "transfer", "migrate", "-c", str(config),
        "--no-progress", "--bandwidth", "256KiB/s",
    ]  # fmt: skip
    with log.open("ab") as output:
        return await supervise(command, env, kill_after, output)


def _done(db: Path) -> set[str]:
    """Files the store records done (none when a kill came before the store existed)."""
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT target_repo, target_path FROM items WHERE state = 'done'")
        return {f"{repo}/{path}" for repo, path in rows}
    except sqlite3.OperationalError:
        return set()
    finally:
        conn.close()


async def test_sigkill_at_random_moments_then_resume(tmp_path: Path) -> None:
    rng = random.Random(14)
    async with directory_case(tmp_path / "tree", bulk=40) as case:
        config, env = case.write_config(tmp_path)
        log = tmp_path / "runs.log"
        snapshots: list[tuple[int, set[str]]] = []
        for _ in range(3):
            if await _run(config, env, rng.uniform(1.0, 3.0), log) is not None:
                break
            snapshots.append((len(case.uploads()), _done(tmp_path / "state.db")))
        total = len(case.tree.files)
        assert any(0 < len(done) < total for _, done in snapshots), "no kill hit mid-copy"
        assert await _run(config, env, None, log) == 0, log.read_text()[-3000:]
        assert "Traceback" not in log.read_text()
        assert case.differences() == []
        sent = case.uploads()
        for position, done in snapshots:
            again = [path for path in sent[position:] if path in done]
            assert again == [], f"uploaded again after a kill saw them done: {again[:3]}"
        complete = [
            unquote(r.path)
            for r in case.sandbox.artifactory.request_log
            if r.method == "PUT" and r.bytes_in > 0 and r.status in (200, 201)
        ]
        assert len(complete) == len(set(complete)), "a file was uploaded completely twice"
