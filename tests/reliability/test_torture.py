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
from urllib.parse import unquote

import anyio
import pytest
from migration_cases import MIGRATION_CASES, differences, properties_on, uploads_to
from reliability_kit import REPO_ROOT, count_states, impossible_states, migrate_once, store_rows

from transfer.config_load import load_settings

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

KILLS = int(os.environ.get("TRANSFER_TORTURE_KILLS", "8"))
SEED = int(os.environ.get("TRANSFER_TORTURE_SEED", "20"))
DATA_SEED = 1


def _done(db: Path) -> dict[str, float]:
    """``repo/path`` → finished_at of every done item (empty before the store exists)."""
    if not db.exists():
        return {}
    return {
        f"{row['target_repo']}/{row['target_path']}": float(row["finished_at"])
        for row in store_rows(db)
        if row["state"] == "done"
    }


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
            snapshots.append((len(log), done))
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
        records = list(log)
        for position, done in snapshots:
            for record in records[position:]:
                if record.method == "PUT" and record.bytes_in > 0:
                    path = unquote(record.path.removeprefix("/artifactory/"))
                    assert path not in done, f"{path} uploaded again after a kill saw it done"
        finished = _done(db)
        sent = uploads_to(case.target)
        for record in sent:
            path = unquote(record.path.removeprefix("/artifactory/"))
            assert record.at <= finished[path] + 0.001, f"{path} uploaded after it was done"
        complete = [r.path for r in sent if r.status in (200, 201)]
        assert len(complete) == len(set(complete)), "a file was uploaded completely twice"
        torture_props = properties_on(case.target, case.files)
        torture_bytes = sum(r.bytes_in for r in sent)

    # The same source migrated cleanly: same properties, and the bytes a clean run sends.
    async with MIGRATION_CASES[source](DATA_SEED) as clean:
        (tmp_path / "clean").mkdir()
        clean_config, clean_env = clean.write_config(tmp_path / "clean")
        await migrate_once(load_settings(clean_config, environ=clean_env))
        assert differences(clean.target, clean.files) == []
        clean_props = properties_on(clean.target, clean.files)
        clean_bytes = sum(r.bytes_in for r in uploads_to(clean.target))
    differing = [key for key in clean_props if clean_props[key] != torture_props.get(key)]
    assert differing == [], f"{len(differing)} files differ in properties, e.g. {differing[:3]}"
    assert any(clean_props.values())  # the comparison compared something

    resent = torture_bytes - clean_bytes
    print(
        f"\ntorture ({source}): {kills} kills survived (seed {SEED}"
        f"{', finished before the last kill' if finished_early else ''}), "
        f"done after each kill {progress}, {len(sent)} uploads ({len(sent) - len(complete)} "
        f"cut by a kill) for {total} files, "
        f"re-sent bytes {resent} ({resent / max(clean_bytes, 1):.1%} of a clean run's "
        f"{clean_bytes}), {time.monotonic() - started:.0f}s"
    )
    assert kills >= min(KILLS, 3), "the migration finished too fast to be killed"
