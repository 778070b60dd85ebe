"""A disk that fills up under the store: the run stops cleanly (one line, exit 2, no traceback),
the store stays consistent, and once there is room again the same command finishes the job.

Two ways to fill it: a tiny tmpfs under the store file (needs root; the real thing, WAL file
and all), and SQLite's ``max_page_count`` (anywhere; the store's pragma hook).
"""

from __future__ import annotations

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
        db = small_disk / "state.db"
        config.write_text(config.read_text().replace(str(tmp_path / "state.db"), str(db)))
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
