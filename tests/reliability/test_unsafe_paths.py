"""Source files whose paths cannot be written safely (``..``, absolute, backslash, NUL, too
long) end ``failed`` with "unsafe path refused"; nothing is written to the target for them, and
every other file still migrates."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import pytest
from reliability_kit import (
    done_items_are_verified,
    impossible_states,
    migrate_once,
    sandbox_settings,
    store_rows,
)

from transfer.models import ItemState
from transfer.runner import report
from transfer.sandbox.serve import Sandbox

pytestmark = pytest.mark.anyio

UNSAFE = {
    "../escape.bin": "'..' path segment",
    "docs/../../etc/passwd": "'..' path segment",
    "/etc/absolute.bin": "absolute path",
    "dir\\windows.bin": "backslash",
    "nul\x00byte.bin": "control character U+0000",
    "newline\nname.bin": "control character U+000A",
    "deep/" + "n" * 300 + ".bin": "segment longer than 255 bytes",
    "/".join(["long"] * 300): "longer than 1024 characters",
    "double//slash.bin": "empty path segment",
    "./dot.bin": "'.' path segment",
}


async def test_unsafe_source_paths_are_refused_and_nothing_is_written(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox:
        repo = sandbox.org.repos["releases"]
        version = next(iter(repo.packages.values())).versions[0]
        template = version.files[0]
        for path in UNSAFE:
            version.files.append(replace(template, path=path, content_key=f"unsafe {path!r}"))
        settings = sandbox_settings(sandbox, tmp_path)
        summary = await migrate_once(settings)
        db = settings.store.path
        assert summary.counts is not None
        rows = {row["path"]: row for row in store_rows(db) if row["repo"] == "releases"}
        for path, why in UNSAFE.items():
            row = rows[path]
            assert row["state"] == ItemState.FAILED, (path, row["state"])
            assert row["last_error"].startswith("unsafe path refused:"), row["last_error"]
            assert why in row["last_error"], (path, row["last_error"])
        # Nothing was sent for them: no request of any kind names those paths.
        suspicious = ("escape.bin", "passwd", "absolute.bin", "windows.bin", "byte.bin",
                      "name.bin", "n" * 300, "long/long/long", "slash.bin", "dot.bin")  # fmt: skip
        for record in sandbox.artifactory.request_log:
            assert not any(s in record.path for s in suspicious), record
        for stored in sandbox.artifactory.files("releases"):
            assert not any(s in stored for s in suspicious), stored
        # ... and everything else migrated.
        others = sum(1 for _ in sandbox.org.iter_files()) - len(UNSAFE)
        assert summary.counts[ItemState.DONE].items == others
        assert summary.counts[ItemState.FAILED].items == len(UNSAFE)
        assert impossible_states(db) == []
        assert done_items_are_verified(sandbox, db) == []
        # The report names them with the reason, and a re-run does not try again.
        paths = await report(settings)
        with paths.failures_csv.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert [row["cause"] for row in rows] == ["unsafe path refused"] * len(UNSAFE)
        assert all(row["reason"].startswith("unsafe path refused: ") for row in rows)
        puts = sandbox.artifactory.request_log.count(method="PUT")
        again = await migrate_once(settings, phases=("artifacts",), retry_failed=True)
        assert again.counts is not None
        assert again.counts[ItemState.FAILED].items == len(UNSAFE)
        assert sandbox.artifactory.request_log.count(method="PUT") == puts
