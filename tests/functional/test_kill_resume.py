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
