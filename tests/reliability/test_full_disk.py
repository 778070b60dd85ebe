"""A disk that fills up under the store, the secrets file or the report directory: the run
stops cleanly (one line, exit 2, no traceback, no secret), nothing half-written sits at a final
name, and once there is room again the same command finishes the job.

Two ways to fill it: a tiny tmpfs (needs root, as CI runs; the real thing, WAL file and all),
and SQLite's ``max_page_count`` (anywhere; the store's pragma hook).
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from reliability_kit import (
    count_states,
    impossible_states,
    migrate_once,
    run_cli,
    sandbox_settings,
    target_differences,
    write_cli_config,
)

from transfer.checkpoint.sqlite import SqliteStore
from transfer.errors import StoreError
from transfer.runner import wiring
from transfer.sandbox.serve import Sandbox
from transfer.settings import Settings

pytestmark = pytest.mark.anyio


def _first(error: BaseException, kind: type[BaseException]) -> BaseException | None:
    """``error`` itself or the first ``kind`` inside (nested) exception groups."""
    if isinstance(error, kind):
        return error
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            found = _first(inner, kind)
            if found is not None:
                return found
    return None


def _free(mount: Path) -> int:
    found = os.statvfs(mount)
    return found.f_bavail * found.f_frsize


def _fill(mount: Path, *, leave: int = 0) -> Path:
    """Fill the disk at ``mount`` up to (about) the last ``leave`` bytes; returns the filler:
    remove it and there is room again."""
    filler = mount / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for chunk in (1 << 16, 1 << 12):
            while _free(mount) >= leave + chunk:
                try:
                    os.write(fd, bytes(chunk))
                except OSError as error:
                    if error.errno != errno.ENOSPC:
                        raise
                    break
    finally:
        os.close(fd)
    return filler


def _leftovers(folder: Path) -> list[str]:
    """Temporary files a failed write left behind (a ``.tmp`` could pass for complete)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def _grow(mount: Path) -> None:
    """Make room: the tmpfs grows to 32 MiB."""
    subprocess.run(["mount", "-o", "remount,size=32m", str(mount)], check=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


async def test_full_disk_under_the_store_stops_cleanly_and_resumes(
    tmp_path: Path, small_disk: Path
) -> None:
    async with Sandbox("demo") as sandbox:
        config, env = write_cli_config(sandbox, tmp_path)
        db = _onto(small_disk, config, "state.db")
        result = await run_cli("migrate", "-c", str(config), "--no-progress", env=env)
        result.assert_clean_error(2, "disk is full", str(db))
        assert impossible_states(db) == []
        stopped_at = count_states(db)

        _grow(small_disk)
        result = await run_cli("migrate", "-c", str(config), "--no-progress", env=env)
        assert result.code == 0, result.err[-3000:]
        assert impossible_states(db) == []
        total = sum(1 for _ in sandbox.org.iter_files())
        assert count_states(db) == {"done": total}
        assert target_differences(sandbox) == []
        print(f"\nfull disk: stopped with {stopped_at}, resumed to {total} done")


async def test_store_hitting_max_page_count_stops_cleanly_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def capped(settings: Settings, *, readonly: bool = False, **_: object) -> SqliteStore:
        # A store that may not grow beyond 40 pages of 4 KiB: the "disk" fills mid-run.
        return SqliteStore(settings.store.path, pragmas={"max_page_count": 40})

    async with Sandbox("demo") as sandbox:
        settings = sandbox_settings(sandbox, tmp_path)
        with monkeypatch.context() as patch:
            patch.setattr(wiring, "open_store", capped)
            with pytest.raises(BaseException) as raised:  # a group or not
                await migrate_once(settings)
        error = _first(raised.value, StoreError)
        assert error is not None, raised.value
        assert "disk is full" in str(error)
        db = settings.store.path
        assert impossible_states(db) == []
        summary = await migrate_once(settings)
        assert summary.counts is not None
        assert summary.counts.total.items == summary.counts["done"].items  # type: ignore[index]
        assert impossible_states(db) == []
        assert target_differences(sandbox) == []


def _live_tokens(sandbox: Sandbox) -> dict[str, str]:
    """Token id → subject of every token the target keeps (what it lists and could revoke)."""
    return {r.token_id: r.subject for r in sandbox.artifactory._state.tokens.all()}


def _onto(disk: Path, config: Path, name: str) -> Path:
    """Move the CLI config's ``name`` (the store, the secrets file, the report directory) from
    beside the config onto ``disk``; returns its new path."""
    moved = disk / name
    config.write_text(config.read_text().replace(str(config.parent / name), str(moved)))
    return moved


async def test_full_disk_under_the_secrets_file_keeps_no_password_it_did_not_save(
    tmp_path: Path, small_disk: Path
) -> None:
    """A generated password is saved before the user is created: a full disk stops the run
    before the target holds an account whose password nobody knows."""
    async with Sandbox("tiny") as sandbox:
        config, env = write_cli_config(sandbox, tmp_path)
        secrets = _onto(small_disk, config, "secrets.json")
        filler = _fill(small_disk)
        users = sandbox.artifactory._state.security.users
        result = await run_cli("migrate", "-c", str(config), "--no-progress", env=env)
        result.assert_clean_error(2, "cannot write the secrets file", str(secrets), "disk is full")
        assert _leftovers(small_disk) == []
        assert not secrets.exists()
        assert not set(sandbox.org.users) & set(users), "a user was created without its password"

        filler.unlink()
        result = await run_cli("migrate", "-c", str(config), "--no-progress", env=env)
        assert result.code == 0, result.err[-3000:]
        assert _leftovers(small_disk) == []
        passwords = json.loads(secrets.read_text())["users"]
        assert passwords
        assert set(passwords) <= set(users)
        for name, entry in passwords.items():  # the target holds what the file says
            assert users[name].password == entry["password"], name
            assert entry["password"] not in result.out + result.err
        assert target_differences(sandbox) == []


async def test_full_disk_under_the_secrets_file_revokes_the_token_it_could_not_save(
    tmp_path: Path, small_disk: Path
) -> None:
    """An access token is only known once the target issued it: when the secrets file cannot
    take it, the token is revoked at once, so no token lives that nobody holds, and the next run
    issues it afresh."""
    async with Sandbox("tiny") as sandbox:
        config, env = write_cli_config(
            sandbox, tmp_path, security="sso = true\ncreate_tokens_for_access_keys = true"
        )
        secrets = _onto(small_disk, config, "secrets.json")
        before = _live_tokens(sandbox)
        filler = _fill(small_disk)
        result = await run_cli("migrate", "-c", str(config), "--no-progress", env=env)
        line = result.assert_clean_error(
            2, "cannot write the secrets file", "disk is full", "was revoked"
        )
        assert "eyJ" not in result.out + result.err  # no token (a JWT) is printed
        assert _leftovers(small_disk) == []
        assert not secrets.exists()
        assert _live_tokens(sandbox) == before, line  # the unsaved token is gone
        minted = sandbox.artifactory.request_log.count(method="POST", path="/access/api/v1/tokens")
        assert minted == 1  # the run stopped at the first one

        filler.unlink()
        result = await run_cli("migrate", "-c", str(config), "--no-progress", env=env)
        assert result.code == 0, result.err[-3000:]
        assert "eyJ" not in result.out + result.err
        tokens = json.loads(secrets.read_text())["tokens"]
        assert len(tokens) == 2
        live = _live_tokens(sandbox)
        store = sandbox.artifactory._state.tokens
        for key, entry in tokens.items():  # every token the file holds is one the target honours
            record = store.find(entry["access_token"])
            assert record is not None, key
            assert record.subject == entry["username"], key
            assert not entry["revocable"] or live.get(entry["token_id"]) == entry["username"]
        # and the target keeps no token of the migration that the file does not hold
        kept = {e["token_id"] for e in tokens.values() if e["revocable"]}
        assert set(live) - set(before) == kept


async def test_full_report_directory_leaves_no_half_written_report(
    tmp_path: Path, small_disk: Path
) -> None:
    async with Sandbox("tiny") as sandbox:
        config, env = write_cli_config(sandbox, tmp_path)
        report = _onto(small_disk, config, "report")
        result = await run_cli("migrate", "-c", str(config), "--no-progress", env=env)
        assert result.code == 0, result.err[-3000:]
        url_map = (report / "url-map.csv").read_bytes()

        # a migration that ends on a full disk: its URL map is not written, the old one stands
        filler = _fill(small_disk)
        result = await run_cli("migrate", "-c", str(config), "--no-progress", env=env)
        result.assert_clean_error(2, "cannot write the url map", "disk is full")
        assert (report / "url-map.csv").read_bytes() == url_map
        # a report that fills the disk part way: every file is there whole, or not at all
        # (the tiny profile's report.json takes 16 KiB, report.md 8, report.html 48)
        for leave, stops_at in ((12, "report.json"), (32, "report.html")):
            filler.unlink()
            filler = _fill(small_disk, leave=leave * 1024)
            result = await run_cli("report", "-c", str(config), env=env)
            result.assert_clean_error(2, f"{stops_at}: the disk is full")
            assert _leftovers(report) == []
            _whole_or_absent(report)

        filler.unlink()
        result = await run_cli("report", "-c", str(config), env=env)
        assert result.code == 0, result.err[-3000:]
        assert _leftovers(report) == []
        names = _whole_or_absent(report)
        assert {"report.json", "report.md", "report.html", "failures.csv"} <= names


def _whole_or_absent(report: Path) -> set[str]:
    """The report files present, each checked complete; returns their names."""
    names = {p.name for p in report.iterdir()}
    if "report.json" in names:
        assert "items" in json.loads((report / "report.json").read_text())
    if "report.html" in names:
        assert (report / "report.html").read_text().rstrip().endswith("</html>")
    for table in ("failures.csv", "url-map.csv"):
        if table in names:
            assert (report / table).read_text().endswith("\n")
    return names
