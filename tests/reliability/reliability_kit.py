"""Shared helpers of the reliability tests: settings for a sandbox, the CLI as a subprocess,
and the checks every test makes after a run — the store holds no item in an impossible state,
every ``done`` item is verified in the target, and the target equals the source."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from checksum_files import checksum_file_problem
from migration_cases import differences, finish_cli_config, properties_on, uploads_to
from sandbox_settings import sandbox_settings as sandbox_settings  # re-exported for the tests

from transfer.models import ItemState
from transfer.pipeline.engine import StopControl
from transfer.reporting.events import EventBus
from transfer.runner import PHASES, MigrationSummary, migrate
from transfer.sandbox.serve import Sandbox, write_config
from transfer.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
ALL_PHASES = PHASES
"""repositories, security, artifacts, properties."""

_STATES = {s.value for s in ItemState}


async def migrate_once(
    settings: Settings,
    *,
    phases: Iterable[str] = ALL_PHASES,
    retry_failed: bool = False,
    stop: StopControl | None = None,
) -> MigrationSummary:
    """One ``migrate`` in this process."""
    return await migrate(
        settings,
        bus=EventBus(),
        stop=stop or StopControl(),
        phases=tuple(phases),
        retry_failed=retry_failed,
    )


def write_cli_config(
    sandbox: Sandbox, workdir: Path, *, extra: str = "", security: str = ""
) -> tuple[Path, dict[str, str]]:
    """A config file for the CLI and the environment holding its secrets; ``security`` lines go
    into the ``[security]`` table, ``extra`` (more tables) at the end."""
    config = workdir / "transfer.toml"
    write_config(sandbox.endpoints, config, store_path=str(workdir / "state.db"))
    return finish_cli_config(config, workdir, extra=extra, security=security)


@dataclass(frozen=True, slots=True)
class CliResult:
    """How one ``transfer`` subprocess ended."""

    code: int
    out: str
    err: str

    @property
    def error_lines(self) -> list[str]:
        """The ``transfer: error:`` lines on stderr."""
        return [line for line in self.err.splitlines() if line.startswith("transfer: error:")]

    def assert_clean_error(self, code: int, *needles: str) -> str:
        """Exit ``code``, exactly one error line containing every needle, no traceback."""
        both = self.out + self.err
        assert self.code == code, f"exit {self.code}, wanted {code}\n{both[-3000:]}"
        assert "Traceback" not in both, both[-3000:]
        assert len(self.error_lines) == 1, both[-3000:]
        line = self.error_lines[0]
        for needle in needles:
            assert needle.lower() in line.lower(), line
        print(f"\n[exit {self.code}] {line}")  # the figures of the note, with -s
        return line


async def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, deadline: float = 90
) -> CliResult:
    """``python -m transfer ARGS`` to the end."""
    with anyio.fail_after(deadline):
        result = await anyio.run_process(
            [sys.executable, "-m", "transfer", *args],
            env=env,
            cwd=cwd or REPO_ROOT,
            check=False,
        )
    return CliResult(result.returncode, result.stdout.decode(), result.stderr.decode())


# --------------------------------------------------------------------------- store checks


def store_rows(db: Path) -> list[dict[str, Any]]:
    """Every item row of the store file (read-only connection); none when the file exists but a
    process was killed before it created its tables."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        tables = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'items'")
        if tables.fetchone() is None:
            return []
        return [dict(row) for row in conn.execute("SELECT * FROM items ORDER BY id")]
    finally:
        conn.close()


def impossible_states(db: Path, *, live_owners: Iterable[str] = ()) -> list[str]:
    """Items in a state no correct run can leave behind; empty when the store is sane.

    ``live_owners`` may still hold leases (a run in progress); nobody else may.
    """
    live = set(live_owners)
    problems: list[str] = []
    for row in store_rows(db):
        where = f"item {row['id']} {row['repo']}/{row['path']} ({row['state']})"
        state = row["state"]
        if state not in _STATES:
            problems.append(f"{where}: unknown state")
            continue
        leased = row["lease_owner"] is not None or row["lease_expires"] is not None
        if state == ItemState.IN_FLIGHT:
            if row["lease_owner"] is None or row["lease_expires"] is None:
                problems.append(f"{where}: in flight without a lease")
            elif row["lease_owner"] not in live and live:
                problems.append(f"{where}: leased by {row['lease_owner']}, not a live owner")
        elif leased:
            problems.append(f"{where}: holds a lease outside in_flight")
        if state == ItemState.DONE:
            # a checksum file is checked against its artifact; nothing is stored at its path
            if not (row["target_sha1"] or row["target_sha256"] or row["how"] == "checksum_file"):
                problems.append(f"{where}: done without target checksums")
            for algo in ("sha1", "sha256"):
                declared, target = row[algo], row[f"target_{algo}"]
                if declared and target and declared.lower() != target.lower():
                    problems.append(f"{where}: done but target {algo} differs from declared")
            if row["finished_at"] is None:
                problems.append(f"{where}: done without finished_at")
        if state in (ItemState.FAILED, ItemState.CONFLICT) and not row["last_error"]:
            problems.append(f"{where}: {state} without a reason")
        if row["attempts"] < 0 or row["bytes_transferred"] < 0:
            problems.append(f"{where}: negative counters")
    return problems


def count_states(db: Path) -> dict[str, int]:
    """Items per state."""
    counts: dict[str, int] = {}
    for row in store_rows(db):
        counts[row["state"]] = counts.get(row["state"], 0) + 1
    return counts


# --------------------------------------------------------------------------- target checks


def source_digests(sandbox: Sandbox) -> dict[tuple[str, str], tuple[int, str, str]]:
    """(repo, path) → (size, sha1, sha256) of every source file."""
    found = {}
    for file in sandbox.org.iter_files():
        d = sandbox.org.content.digests(file.content_key, file.size, kind=file.kind)
        found[(file.repo, file.path)] = (d.size, d.sha1, d.sha256)
    return found


def done_items_are_verified(sandbox: Sandbox, db: Path) -> list[str]:
    """Every ``done`` item is in the target with the source's size, sha1 and sha256."""
    expected = source_digests(sandbox)
    problems = []
    for row in store_rows(db):
        if row["state"] != ItemState.DONE:
            continue
        key = (row["repo"], row["path"])
        if row["how"] == "checksum_file":
            problem = checksum_file_problem(sandbox, row["target_repo"], row["target_path"])
            problems += [problem] if problem else []
            continue
        stored = sandbox.artifactory.item(row["target_repo"], row["target_path"])
        if stored is None:
            problems.append(f"{key}: done but absent from the target")
        elif key in expected and (stored.size, stored.sha1, stored.sha256) != expected[key]:
            problems.append(f"{key}: done but the target holds different bytes")
    return problems


def target_differences(sandbox: Sandbox) -> list[str]:
    """Source files missing or different in the target (target repo = source repo)."""
    return differences(
        sandbox.artifactory,
        source_digests(sandbox),
        checksum_problem=lambda repo, path: checksum_file_problem(sandbox, repo, path),
    )


def target_properties(sandbox: Sandbox) -> dict[tuple[str, str], dict[str, list[str]]]:
    """Properties the target stores on each source file."""
    return properties_on(sandbox.artifactory, ((f.repo, f.path) for f in sandbox.org.iter_files()))


def uploads(sandbox: Sandbox) -> list[Any]:
    """Artifact PUTs that carried bytes (not API calls, not checksum deploys)."""
    return uploads_to(sandbox.artifactory)


# --------------------------------------------------------------------------- mounts


def mount(*args: str) -> bool:
    """``mount ARGS`` (``umount`` when the first is ``-u``); whether it worked."""
    command = ["umount", *args[1:]] if args[0] == "-u" else ["mount", *args]
    return subprocess.run(command, capture_output=True, check=False).returncode == 0


def read_only_mount(path: Path) -> bool:
    """A tmpfs at ``path`` that can be remounted read-only (root), else False."""
    path.mkdir()
    return mount("-t", "tmpfs", "-o", "size=8m", "tmpfs", str(path))
