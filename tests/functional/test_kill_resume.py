"""Soft stops (SIGINT, SIGTERM, --max-duration) exit 4 with nothing left in flight, and the
next run resumes. SIGKILLs at random moments are tested by the kill/resume torture in
``tests/reliability/test_torture.py`` (which replaced the five-kill test that lived here)."""

from __future__ import annotations

import signal
import sqlite3
import sys
from pathlib import Path

import anyio
import pytest
from harness import (
    REPO_ROOT,
    assert_target_matches_source,
    create_target_repos,
    supervise,
    write_cli_config,
)

from transfer.sandbox.serve import Sandbox

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


async def _run(
    config: Path, env: dict[str, str], kill_after: float | None, log: Path
) -> int | None:
    command = [
        sys.executable, "-m", "transfer", "migrate", "-c", str(config),
        "--only", "artifacts", "--no-progress", "--bandwidth", "2MiB/s",
    ]  # fmt: skip
    with log.open("ab") as output:
        return await supervise(command, env, kill_after, output)


async def _copying_began(db: Path) -> None:
    """Wait until the run has claimed files (a stop during start-up is another test's case:
    a loaded machine can take seconds to import)."""

    def claimed() -> bool:
        if not db.exists():
            return False
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            query = "SELECT count(*) FROM items WHERE state <> 'pending'"
            return bool(conn.execute(query).fetchone()[0])
        except sqlite3.OperationalError:  # the tables are not there yet
            return False
        finally:
            conn.close()

    with anyio.fail_after(60):
        while not claimed():  # noqa: ASYNC110 (another process)
            await anyio.sleep(0.2)


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
                    await _copying_began(tmp_path / "state.db")
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


async def test_a_second_ctrl_c_stops_the_security_phase_at_once(tmp_path: Path) -> None:
    # every Artifactory API call takes 0.2 s: the security phase takes many seconds
    async with Sandbox("demo", faults="artifactory.api:latency=0.2") as sandbox:
        config, env = write_cli_config(sandbox, tmp_path)
        # with the repositories, or the permission targets on them fail (exit 1)
        command = [
            sys.executable, "-m", "transfer", "migrate", "-c", str(config),
            "--only", "repositories", "--only", "security", "--no-progress",
        ]  # fmt: skip
        log = sandbox.artifactory.request_log

        def users_created() -> int:
            return sum(1 for r in log if r.method == "PUT" and "/api/security/users/" in r.path)

        output = tmp_path / "run.log"
        with output.open("ab") as sink:
            async with await anyio.open_process(
                command, env=env, cwd=REPO_ROOT, stdout=sink, stderr=sink
            ) as process:
                with anyio.fail_after(60):
                    while users_created() == 0:  # noqa: ASYNC110 (another process)
                        await anyio.sleep(0.05)
                process.send_signal(signal.SIGINT)
                await anyio.sleep(0.3)
                process.send_signal(signal.SIGINT)
                stopped_at = users_created()
                with anyio.fail_after(5):  # at once: not after the remaining users
                    code = await process.wait()
        text = output.read_text()
        assert code == 4, text[-2000:]
        assert "Traceback" not in text
        assert "during security" in text
        planned = len(sandbox.org.users) + len(sandbox.org.access_keys)
        assert users_created() <= stopped_at + 1 < planned
        # the next run finishes the phase (without the latency: nothing left to time)
        with output.open("ab") as sink, sandbox.faults.paused():
            code = await supervise(command, env, None, sink)
        assert code == 0, output.read_text()[-2000:]
