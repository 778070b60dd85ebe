"""What the terminal says while and after a run: one warning per cause, not one per file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import anyio
import pytest

from transfer.sandbox.serve import Sandbox, config_environment, write_config

pytestmark = pytest.mark.anyio
REPO_ROOT = Path(__file__).resolve().parents[2]


async def _transfer(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    with anyio.fail_after(120):
        result = await anyio.run_process(
            [sys.executable, "-m", "transfer", *args], env=env, cwd=REPO_ROOT, check=False
        )
    return result.returncode, result.stdout.decode(), result.stderr.decode()


async def _config(sandbox: Sandbox, tmp_path: Path, extra: str = "") -> tuple[Path, dict[str, str]]:
    config = tmp_path / "transfer.toml"
    write_config(sandbox.endpoints, config, store_path=str(tmp_path / "state.db"))
    config.write_text(
        config.read_text() + f'\n[report]\noutput_dir = "{tmp_path / "report"}"\n' + extra
    )
    return config, config_environment(config)


async def test_one_warning_per_cause_not_per_file(tmp_path: Path) -> None:
    async with Sandbox("tiny", faults="bintray.download:503=1.0") as sandbox:
        # every download failing would trip the circuit breaker (exit 3): off, to see the files
        extra = "\n[transfer]\nmax_attempts = 1\nbreaker_threshold = 0\n"
        config, env = await _config(sandbox, tmp_path, extra)
        code, out, err = await _transfer(
            "migrate", "-c", str(config), "--only", "artifacts", "--no-progress", env=env
        )
    assert code == 1, err[-2000:]
    warnings = [line for line in err.splitlines() if "warning" in line]
    causes = [line.split("files are failing: ")[1].split(" (first: ")[0] for line in warnings]
    # one line per cause (the files, and the checksum files of the files that failed)
    assert len(causes) == len(set(causes)) <= 2, warnings
    assert "HTTP 503 from the download host" in causes
    failed = [line for line in out.splitlines() if line.startswith("failed: ")]
    assert len(failed) == len(causes)
    assert any(line.endswith("files: HTTP 503 from the download host") for line in failed)
    assert "item_finished" not in err


async def test_status_watch_waits_for_the_store_and_stamps_each_block(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox:
        config, env = await _config(sandbox, tmp_path)
        output = tmp_path / "watch.log"
        with output.open("wb") as sink:
            async with await anyio.open_process(
                [sys.executable, "-m", "transfer", "status", "-c", str(config), "--watch", "0.2"],
                env=env,
                cwd=REPO_ROOT,
                stdout=sink,
                stderr=sink,
            ) as watcher:
                try:
                    await anyio.sleep(1.5)  # no store yet: it waits, it does not fail
                    assert watcher.returncode is None, output.read_text()
                    code, _, err = await _transfer(
                        "migrate", "-c", str(config), "--no-progress", env=env
                    )
                    assert code == 0, err[-2000:]
                    with anyio.fail_after(30):
                        while "files done" not in output.read_text():  # noqa: ASYNC110
                            await anyio.sleep(0.1)
                finally:
                    if watcher.returncode is None:
                        watcher.terminate()
    text = output.read_text()
    assert text.count("waiting for a migration to start") == 1
    assert "Traceback" not in text
    stamped = [line for line in text.splitlines() if line[:4].isdigit() and line[4] == "-"]
    assert len(stamped) >= 2  # the waiting line and at least one block


async def test_status_from_another_terminal_is_right_within_seconds(tmp_path: Path) -> None:
    async with Sandbox("demo") as sandbox:
        config, env = await _config(sandbox, tmp_path)
        # the repositories first: copying into missing ones would trip the circuit breaker
        command = [
            sys.executable, "-m", "transfer", "migrate", "-c", str(config), "--only",
            "repositories", "--only", "artifacts", "--no-progress", "--bandwidth", "2MB/s",
        ]  # fmt: skip
        async with await anyio.open_process(command, env=env, cwd=REPO_ROOT) as migration:
            try:
                await anyio.sleep(5)
                code, out, err = await _transfer("status", "-c", str(config), "--json", env=env)
            finally:
                migration.terminate()
    assert code == 0, err
    workers = json.loads(out)["workers"]
    assert len(workers) == 1
    # the default lease is 5 minutes: its old heartbeat (every lease/3) said nothing for 100 s
    assert workers[0]["seconds_since_heartbeat"] < 4
    assert workers[0]["bytes_moved"] > 0
    assert workers[0]["alive"]


async def test_verify_shows_progress(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox:
        config, env = await _config(sandbox, tmp_path)
        code, _, err = await _transfer("migrate", "-c", str(config), "--no-progress", env=env)
        assert code == 0, err[-2000:]
        code, out, err = await _transfer("verify", "-c", str(config), env=env)
    assert code == 0, err[-2000:]
    assert "source files listed so far" in err
    assert "same: " in out
