"""Shared helpers of the reliability tests: settings for a sandbox, the CLI as a subprocess,
and the checks every test makes after a run — the store holds no item in an impossible state,
every ``done`` item is verified in the target, and the target equals the source."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Container, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import anyio
from checksum_files import checksum_file_problem
from migration_cases import (
    MigrationCase,
    differences,
    finish_cli_config,
    is_upload,
    properties_on,
    uploads_to,
)
from sandbox_settings import sandbox_settings as sandbox_settings  # re-exported for the tests

from transfer.config_load import load_settings
from transfer.models import ItemState
from transfer.pipeline.engine import StopControl
from transfer.reporting.events import EventBus
from transfer.runner import PHASES, MigrationSummary, migrate
from transfer.sandbox.artifactory import ArtifactoryEmulator
from transfer.sandbox.requestlog import RequestRecord
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
    """Items of the store file ``db`` in a state no correct run can leave behind (see
    :func:`impossible_rows`); empty when the store is sane."""
    return impossible_rows(store_rows(db), live_owners=live_owners)


def impossible_rows(
    rows: Iterable[dict[str, Any]], *, live_owners: Iterable[str] = ()
) -> list[str]:
    """Item rows (of any store) in a state no correct run can leave behind; empty when sane.

    ``live_owners`` may still hold leases (a run in progress); nobody else may.
    """
    live = set(live_owners)
    problems: list[str] = []
    for row in rows:
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


def count_states(db: Path | Iterable[dict[str, Any]]) -> dict[str, int]:
    """Items per state, of the store file ``db`` or of item rows already read."""
    counts: dict[str, int] = {}
    for row in store_rows(db) if isinstance(db, Path) else db:
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


def done_at(rows: Iterable[dict[str, Any]]) -> dict[str, float]:
    """``target_repo/target_path`` → ``finished_at`` of every done item among ``rows``."""
    return {
        f"{row['target_repo']}/{row['target_path']}": float(row["finished_at"])
        for row in rows
        if row["state"] == ItemState.DONE
    }


def uploads_after_done(
    target: ArtifactoryEmulator,
    snapshots: Iterable[tuple[int, Container[str]]],
    finished: Mapping[str, float],
) -> list[str]:
    """Files uploaded again once the store had them done: after a snapshot — ``recorded`` of
    ``target``'s request log, taken just after reading the :func:`done_at` paths — saw them
    done, or after the ``finished_at`` the store ends with (``finished``). (The emulator logs a
    request before its response leaves, so the upload that made a file done is always logged
    before the snapshot that sees it done.)"""
    log = target.request_log
    records = list(log)
    assert log.recorded == len(records), "the request log forgot requests: raise its limit"
    problems = []
    for position, done in snapshots:
        again = [_artifact(r) for r in log.since(position) if is_upload(r)]
        problems += [
            f"{path} uploaded again after a snapshot saw it done" for path in again if path in done
        ]
    for record in filter(is_upload, records):
        path = _artifact(record)
        if path in finished and record.at > finished[path] + 0.001:
            problems.append(f"{path} uploaded after it was done")
    return problems


def completed_twice(target: ArtifactoryEmulator) -> list[str]:
    """Files whose upload the target accepted more than once."""
    complete = Counter(_artifact(r) for r in uploads_to(target) if r.status in (200, 201))
    return sorted(path for path, n in complete.items() if n > 1)


def _artifact(record: RequestRecord) -> str:
    return unquote(record.path.removeprefix("/artifactory/"))


async def compare_with_clean_run(
    case: AbstractAsyncContextManager[MigrationCase],
    workdir: Path,
    properties: Mapping[tuple[str, str], dict[str, list[str]]],
    sent: int,
) -> str:
    """Migrate ``case`` (a fresh copy of the source a torture test migrated) once, cleanly, in
    this process with a store under ``workdir``; assert its target ends with the same
    ``properties`` as the tortured one. Returns how many more bytes than the clean run the
    tortured run, which uploaded ``sent`` bytes, sent again."""
    async with case as clean:
        await anyio.Path(workdir).mkdir()
        config, env = clean.write_config(workdir)
        await migrate_once(load_settings(config, environ=env))
        assert differences(clean.target, clean.files) == []
        clean_props = properties_on(clean.target, clean.files)
        clean_bytes = sum(r.bytes_in for r in uploads_to(clean.target))
    differing = [key for key in clean_props if clean_props[key] != properties.get(key)]
    assert differing == [], f"{len(differing)} files differ in properties, e.g. {differing[:3]}"
    assert any(clean_props.values())  # the comparison compared something
    resent = sent - clean_bytes
    share = resent / max(clean_bytes, 1)
    return f"re-sent bytes {resent} ({share:.1%} of a clean run's {clean_bytes})"


# --------------------------------------------------------------------------- mounts


def mount(*args: str) -> bool:
    """``mount ARGS`` (``umount`` when the first is ``-u``); whether it worked."""
    command = ["umount", *args[1:]] if args[0] == "-u" else ["mount", *args]
    return subprocess.run(command, capture_output=True, check=False).returncode == 0


def read_only_mount(path: Path) -> bool:
    """A tmpfs at ``path`` that can be remounted read-only (root), else False."""
    path.mkdir()
    return mount("-t", "tmpfs", "-o", "size=8m", "tmpfs", str(path))
