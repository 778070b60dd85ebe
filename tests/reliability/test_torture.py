"""Kill/resume torture, for every source (the Bintray demo organisation, a seeded source
Artifactory): ``transfer migrate`` subprocesses SIGKILLed at seeded random moments (every phase
can be hit), resumed each time.

At the end the target equals the source (paths, sizes, sha1, sha256) and carries the same
properties as a clean run of the same seed into a second sandbox; no file recorded ``done`` was
uploaded again (the Artifactory emulator's request log against the store's ``finished_at`` and
the ``done`` sets seen at each kill); and the store never held an impossible state.

``TRANSFER_TORTURE_KILLS`` sets the number of kills (default 8; the issue's 20 takes about a
minute), ``TRANSFER_TORTURE_SEED`` the seed of the kill moments.
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

import anyio
import pytest
from migration_cases import MIGRATION_CASES, differences, properties_on, uploads_to
from reliability_kit import (
    REPO_ROOT,
    compare_with_clean_run,
    completed_twice,
    count_states,
    done_at,
    impossible_states,
    store_rows,
    uploads_after_done,
)

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

KILLS = int(os.environ.get("TRANSFER_TORTURE_KILLS", "8"))
SEED = int(os.environ.get("TRANSFER_TORTURE_SEED", "20"))
DATA_SEED = 1


def _done(db: Path) -> dict[str, float]:
    """``repo/path`` → finished_at of every done item (empty before the store exists)."""
    return done_at(store_rows(db)) if db.exists() else {}


async def _run(
    config: Path, env: dict[str, str], kill_after: float | None, log: Path, rate_kib: int
) -> int | None:
    # Paced so that the artifacts phase outlasts the kills: with more kills, slower.
    rate = rate_kib if KILLS <= 10 else rate_kib * 3 // 4
    command = [
        sys.executable, "-m", "transfer", "migrate", "-c", str(config),
        "--no-progress", "--bandwidth", f"{rate}KiB/s",
    ]  # fmt: skip
    with log.open("ab") as output:
        async with await anyio.open_process(
            command, env=env, cwd=REPO_ROOT, stdout=output, stderr=output
        ) as process:
            if kill_after is None:
                with anyio.fail_after(90):
                    return await process.wait()
            with anyio.move_on_after(kill_after):
                return await process.wait()
            process.kill()
            await process.wait()
            return None


# ~20 s alone; each of its ten `transfer` subprocesses starts slowly on a loaded machine
@pytest.mark.timeout(300)
@pytest.mark.parametrize("source", sorted(MIGRATION_CASES))
async def test_sigkill_torture(tmp_path: Path, source: str) -> None:
    rng = random.Random(SEED)
    started = time.monotonic()
    async with MIGRATION_CASES[source](DATA_SEED) as case:
        config, env = case.write_config(tmp_path)
        db = tmp_path / "state.db"
        output = tmp_path / "runs.log"
        log = case.target.request_log
        kills, finished_early = 0, False
        snapshots: list[tuple[int, dict[str, float]]] = []
        progress: list[int] = []
        for _ in range(KILLS):
            code = await _run(config, env, rng.uniform(0.5, 2.0), output, case.rate_kib)
            if code is not None:
                assert code == 0, output.read_text()[-3000:]
                finished_early = True
                break
            kills += 1
            if db.exists():
                assert impossible_states(db) == [], f"after kill {kills}"
            done = _done(db)
            snapshots.append((log.recorded, done))
            progress.append(len(done))
        code = await _run(config, env, None, output, case.rate_kib)
        text = output.read_text()
        assert code == 0, text[-3000:]
        assert "Traceback" not in text

        total = len(case.files)
        assert count_states(db) == {"done": total}
        assert impossible_states(db) == []
        assert differences(case.target, case.files) == []

        # Nothing recorded done is uploaded again: not after a kill saw it done, and not after
        # the moment the store says it was finished.
        assert uploads_after_done(case.target, snapshots, _done(db)) == []
        assert completed_twice(case.target) == [], "a file was uploaded completely twice"
        sent = uploads_to(case.target)
        complete = [r.path for r in sent if r.status in (200, 201)]
        torture_props = properties_on(case.target, case.files)
        torture_bytes = sum(r.bytes_in for r in sent)

    # The same source migrated cleanly: same properties, and the bytes a clean run sends.
    clean = MIGRATION_CASES[source](DATA_SEED)
    resent = await compare_with_clean_run(clean, tmp_path / "clean", torture_props, torture_bytes)
    print(
        f"\ntorture ({source}): {kills} kills survived (seed {SEED}"
        f"{', finished before the last kill' if finished_early else ''}), "
        f"done after each kill {progress}, {len(sent)} uploads ({len(sent) - len(complete)} "
        f"cut by a kill) for {total} files, "
        f"{resent}, {time.monotonic() - started:.0f}s"
    )
    assert kills >= min(KILLS, 3), "the migration finished too fast to be killed"
