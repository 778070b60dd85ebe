"""A migration SIGKILLed at several moments and resumed ends complete, and nothing recorded
``done`` is ever uploaded again (counted in the Artifactory emulator's request log)."""

from __future__ import annotations

import random
import signal
import sqlite3
import sys
from pathlib import Path
from typing import BinaryIO

import anyio
import pytest
from harness import REPO_ROOT, assert_target_matches_source, create_target_repos, write_cli_config

from transfer.sandbox.serve import Sandbox

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


def _done_paths(store: Path) -> set[str]:
    if not store.exists():
        return set()
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT target_repo, target_path FROM items WHERE state = 'done'")
        return {f"{repo}/{path}" for repo, path in rows}
    finally:
        db.close()


async def _run(
    config: Path, env: dict[str, str], kill_after: float | None, log: Path
) -> int | None:
    command = [
        sys.executable, "-m", "transfer", "migrate", "-c", str(config),
        "--only", "artifacts", "--no-progress", "--bandwidth", "2MiB/s",
    ]  # fmt: skip
    with log.open("ab") as output:
        return await _supervise(command, env, kill_after, output)


async def _supervise(
    command: list[str], env: dict[str, str], kill_after: float | None, output: BinaryIO
) -> int | None:
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


async def test_sigkill_at_random_moments_then_resume(tmp_path: Path) -> None:
    rng = random.Random(7)
    async with Sandbox("demo") as sandbox:
        create_target_repos(sandbox)
        config, env = write_cli_config(sandbox, tmp_path)
        store = tmp_path / "state.db"
        output = tmp_path / "runs.log"
        log = sandbox.artifactory.request_log
        done_at_kill: list[tuple[int, set[str]]] = []
        kills = 0
        for _ in range(5):
            code = await _run(config, env, kill_after=rng.uniform(0.8, 2.0), log=output)
            if code is not None:
                break  # finished before the kill came
            kills += 1
            done_at_kill.append((len(log), _done_paths(store)))
        code = await _run(config, env, kill_after=None, log=output)
        assert code == 0, output.read_text()[-2000:]
        assert kills >= 3, "the run finished too fast to be killed"

        uploads = [r for r in log if r.method == "PUT" and r.bytes_in > 0]
        records = list(log)
        for position, done in done_at_kill:
            for record in records[position:]:
                if record.method == "PUT" and record.bytes_in > 0:
                    target = record.path.removeprefix("/artifactory/")
                    assert target not in done, f"{target} was uploaded again after being done"
        assert_target_matches_source(sandbox)
        final_done = _done_paths(store)
        assert len(final_done) == sum(1 for _ in sandbox.org.iter_files())
        resent = len(uploads) - len({r.path for r in uploads})
        print(f"kills survived: {kills}; uploads: {len(uploads)}; re-sent files: {resent}")


@pytest.mark.parametrize(
    ("stop_how", "extra"),
    [("sigint", ()), ("sigterm", ()), ("max-duration", ("--max-duration", "1s"))],
)
async def test_soft_stop_exits_4_and_resumes(
    tmp_path: Path, stop_how: str, extra: tuple[str, ...]
) -> None:
    async with Sandbox("demo") as sandbox:
        create_target_repos(sandbox)
        config, env = write_cli_config(sandbox, tmp_path)
        command = [
            sys.executable, "-m", "transfer", "migrate", "-c", str(config),
            "--only", "artifacts", "--no-progress", "--bandwidth", "2MiB/s", *extra,
        ]  # fmt: skip
        output = tmp_path / "run.log"
        with output.open("ab") as sink:
            async with await anyio.open_process(
                command, env=env, cwd=REPO_ROOT, stdout=sink, stderr=sink
            ) as process:
                if stop_how != "max-duration":
                    await anyio.sleep(1.5)
                    process.send_signal(signal.SIGINT if stop_how == "sigint" else signal.SIGTERM)
                with anyio.fail_after(60):
                    code = await process.wait()
        text = output.read_text()
        assert code == 4, text[-2000:]
        assert "run the same command again to resume" in text
        assert "Traceback" not in text
        db = sqlite3.connect(tmp_path / "state.db")
        in_flight = db.execute("SELECT count(*) FROM items WHERE state = 'in_flight'").fetchone()
        db.close()
        assert in_flight == (0,)  # a clean stop hands everything back
        code = await _run(config, env, kill_after=None, log=output)
        assert code == 0, output.read_text()[-2000:]
        assert_target_matches_source(sandbox)
