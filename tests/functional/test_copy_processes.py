"""``transfer.processes``: one ``migrate`` copying in several processes on one SQLite store.

Each file arrives once and intact, every process copies its share, a copy process killed
mid-run loses nothing (its share is copied by ``migrate``), and a Ctrl-C stops them all with
nothing left in flight, the next run resuming. With ``"auto"`` (the default) a copy process
joins once ``migrate``'s event loop is saturated with files waiting and a core spare, and not
while the files only wait on round trips or the other cores are busy.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import signal
import socket
import sqlite3
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import pytest
from harness import (
    REPO_ROOT,
    artifact_uploads,
    assert_target_matches_source,
    create_target_repos,
    run_migration,
    settings_for,
    write_cli_config,
)

from transfer.checkpoint.base import Share
from transfer.config_load import settings_from_mapping
from transfer.pipeline.engine import StopControl
from transfer.reporting.events import EventBus
from transfer.runner import migrate
from transfer.runner.copy_process import read_job
from transfer.runner.copy_processes import CopyJob, encode_job, usable_cpus
from transfer.runner.wiring import open_store
from transfer.sandbox.serve import Sandbox
from transfer.settings import StoreSettings

pytestmark = [pytest.mark.anyio]

MIB = 1 << 20


def _children(pid: int) -> list[int]:
    """The copy processes ``pid`` started (Linux: every thread's ``children`` list). Not its
    other children: finding libc at start-up runs ``ldconfig -p`` for a moment, which a test
    once took for the copy process to kill, and then waited a minute for it to copy."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                command = Path(f"/proc/{child}/cmdline").read_bytes()
            except OSError:  # gone already
                continue
            if b"transfer.runner.copy_process" in command:
                found.append(int(child))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def _held_by(db: Path, pid: int) -> int:
    """Items in flight under the lease of the worker whose process is ``pid``."""
    if not db.exists():
        return 0
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        owner = f"{socket.gethostname()}:{pid}:%"
        query = "SELECT count(*) FROM items WHERE state = 'in_flight' AND lease_owner LIKE ?"
        return int(conn.execute(query, (owner,)).fetchone()[0])
    except sqlite3.OperationalError:  # no tables yet
        return 0
    finally:
        conn.close()


def test_the_job_crosses_the_pipe_with_its_secrets_and_nowhere_else(tmp_path: Path) -> None:
    settings = settings_from_mapping(
        {
            "source": {
                "api_url": "http://b.example",
                "subject": "acme",
                "user": "u",
                "api_key": "${BINTRAY_API_KEY}",
            },
            "target": {
                "url": "http://a.example/artifactory",
                "user": "admin",
                "password": "${ARTIFACTORY_PASSWORD}",
            },
            "transfer": {"processes": 3},
        },
        base_dir=tmp_path,
        environ={"BINTRAY_API_KEY": "s3cr3t-key", "ARTIFACTORY_PASSWORD": "s3cr3t-pw"},
    )
    assert settings.secrets()
    read, write = os.pipe()
    try:
        os.write(write, encode_job(CopyJob(settings, Share(1, 3))))
        os.write(write, b"discovered\n")
        job = read_job(read)
        assert os.read(read, 100) == b"discovered\n"  # the lines after it are left unread
    finally:
        os.close(read)
        os.close(write)
    assert job == CopyJob(settings, Share(1, 3))
    assert [s.reveal() for s in job.settings.secrets()] == [s.reveal() for s in settings.secrets()]
    with pytest.raises(TypeError, match="never serialised"):  # anywhere but this pipe
        pickle.dumps(settings)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
async def test_three_processes_copy_every_file_once(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    async with _with_repositories("demo") as sandbox:
        settings = settings_for(sandbox, tmp_path, processes=3)
        if backend == "postgres":  # a fresh run: the server outlives the test
            run = f"processes-{uuid.uuid4().hex[:10]}"
            store = StoreSettings(url=request.getfixturevalue("dsn"), run=run)
            settings = dataclasses.replace(settings, store=store)
        bus = EventBus()
        summary = await migrate(settings, bus=bus, stop=StopControl(), phases=("artifacts",))
        files = assert_target_matches_source(sandbox)
        uploads = artifact_uploads(sandbox)
        assert len(uploads) == len(set(uploads))  # nothing copied twice
        assert any(note.startswith("copy processes: 3") for note in summary.notes)
        async with open_store(settings) as opened:
            workers = await opened.list_workers()
            done = (await opened.counts()).total.items
        finished = [int(w.stats.get("files_finished", 0)) for w in workers]
        assert len(finished) == 3
        assert sum(finished) == done
        # each copy process copied (migrate copies nothing while it lists the source)
        children = [w for w in workers if w.stats.get("parent")]
        assert len(children) == 2
        assert all(int(w.stats["files_finished"]) > 0 for w in children), finished
        assert bus.counters.files_done == done  # the others' progress reached this process
        assert files > 100


@asynccontextmanager
async def _with_repositories(profile: str, faults: str = "") -> AsyncIterator[Sandbox]:
    """The emulators of ``profile``, the target already holding the source's repositories."""
    async with Sandbox(profile, faults=faults) as sandbox:
        create_target_repos(sandbox)
        yield sandbox


_LOG = "run.log"
"""What the CLI runs of a test write, in its ``tmp_path``."""


async def _migrate(
    sandbox: Sandbox,
    workdir: Path,
    *extra: str,
    copying: bool = True,
    config_tail: str = "",
) -> tuple[anyio.abc.Process, list[int]]:
    """``transfer migrate --only artifacts ...extra`` started from the CLI (``config_tail``
    appended to its config file, its output appended to :data:`_LOG` in ``workdir``) and,
    with ``copying``, every copy process it starts holding files; returns it and the pids of
    its copy processes."""
    config, env = write_cli_config(sandbox, workdir)
    with config.open("a", encoding="utf-8") as out:
        out.write(config_tail)
    command = [
        sys.executable, "-m", "transfer", "migrate", "-c", str(config), "--only", "artifacts",
        "--no-progress", *extra,
    ]  # fmt: skip
    with (workdir / _LOG).open("ab") as sink:
        process = await anyio.open_process(
            command, env=env, cwd=REPO_ROOT, stdout=sink, stderr=sink
        )
    if not copying:
        return process, []
    wanted = int(extra[extra.index("--processes") + 1]) - 1
    with anyio.fail_after(60):
        while len(children := _children(process.pid)) < wanted:  # noqa: ASYNC110
            await anyio.sleep(0.05)
        while not all(_held_by(workdir / "state.db", c) for c in children):  # noqa: ASYNC110
            await anyio.sleep(0.05)
    return process, children


async def _ended(process: anyio.abc.Process, workdir: Path, within: float) -> tuple[int, str]:
    """``process``'s exit code, waited for ``within`` seconds at most, and everything the
    test's CLI runs wrote (:data:`_LOG`), which holds no traceback."""
    async with process:
        with anyio.fail_after(within):
            code = await process.wait()
    text = await (anyio.Path(workdir) / _LOG).read_text()
    assert "Traceback" not in text
    return code, text


def _count(db: Path, state: str) -> int:
    """Items in ``state`` in the store file ``db``."""
    conn = sqlite3.connect(db)
    try:
        query = "SELECT count(*) FROM items WHERE state = ?"
        return int(conn.execute(query, (state,)).fetchone()[0])
    finally:
        conn.close()


@pytest.mark.slow
async def test_a_killed_copy_process_loses_nothing(tmp_path: Path) -> None:
    async with _with_repositories("demo") as sandbox:
        extra = ("--processes", "2", "--bandwidth", "4MiB/s")
        process, [child] = await _migrate(sandbox, tmp_path, *extra)
        os.kill(child, signal.SIGKILL)
        code, text = await _ended(process, tmp_path, 120)
        assert code == 0, text[-2000:]
        assert "copy process 1 ended with exit code -9" in text
        assert_target_matches_source(sandbox)
        # only what the killed process was sending can have been sent twice
        twice = [path for path, n in Counter(artifact_uploads(sandbox)).items() if n > 1]
        assert len(twice) <= 8  # its copies in flight (2 MiB/s left few at once)


@pytest.mark.slow
async def test_ctrl_c_stops_every_copy_process_and_the_next_run_resumes(tmp_path: Path) -> None:
    async with _with_repositories("demo") as sandbox:
        extra = ("--processes", "3", "--bandwidth", "3MiB/s")
        process, children = await _migrate(sandbox, tmp_path, *extra)
        process.send_signal(signal.SIGINT)  # as a terminal does: to migrate alone
        code, text = await _ended(process, tmp_path, 60)
        assert code == 4, text[-2000:]
        assert not any(_alive(c) for c in children)
        db = tmp_path / "state.db"
        assert _count(db, "in_flight") == 0  # every process handed back what it held
        assert _count(db, "pending") > 0
        config, env = write_cli_config(sandbox, tmp_path)
        status = await anyio.run_process(
            [sys.executable, "-m", "transfer", "status", "-c", str(config)],
            env=env,
            cwd=REPO_ROOT,
        )
        said = status.stdout.decode()
        assert said.count(" (copy process of ") == 2, said  # `status` names them as such
        process, _ = await _migrate(sandbox, tmp_path, "--processes", "3", copying=False)
        code, text = await _ended(process, tmp_path, 120)
        assert code == 0, text[-2000:]
        assert_target_matches_source(sandbox)


@pytest.mark.slow
async def test_max_transfer_counts_every_processs_bytes(tmp_path: Path) -> None:
    """``--max-transfer`` is the whole run's: migrate stops them all once their bytes
    together reach it, not once its own part of it is reached by everyone's."""
    async with _with_repositories("demo") as sandbox:
        extra = ("--processes", "2", "--workers", "2", "--bandwidth", "4MiB/s")
        extra += ("--max-transfer", "8MiB")
        process, _ = await _migrate(sandbox, tmp_path, *extra, copying=False)
        code, text = await _ended(process, tmp_path, 120)
        assert code == 4, text[-2000:]
        assert "--max-transfer" in text
        conn = sqlite3.connect(tmp_path / "state.db")
        done = conn.execute("SELECT coalesce(sum(size), 0) FROM items WHERE state = 'done'")
        moved = done.fetchone()[0]
        conn.close()
        assert 7 * MIB <= moved < 15 * MIB, moved  # about 8 MiB and the files in hand (17.8 all)
        assert _count(tmp_path / "state.db", "pending") > 0


async def test_copy_processes_log_at_the_level_of_the_command_line(tmp_path: Path) -> None:
    # The config asks for warnings only and -v for more: every process follows -v, so the
    # JSON log holds one item_finished line per file, whichever process copied it.
    async with _with_repositories("tiny") as sandbox:
        json_log = tmp_path / "log.jsonl"
        process, _ = await _migrate(
            sandbox, tmp_path, "--processes", "2", "-v", "--log-json", str(json_log),
            copying=False, config_tail='\n[logging]\nlevel = "warning"\n',
        )  # fmt: skip
        code, _ = await _ended(process, tmp_path, within=120)
        assert code == 0
        lines = [json.loads(line) for line in json_log.read_text().splitlines()]
        finished = [(x["repo"], x["path"]) for x in lines if x["event"] == "item_finished"]
        assert len(finished) == len(set(finished)) == _count(tmp_path / "state.db", "done")
        conn = sqlite3.connect(tmp_path / "state.db")
        try:
            stats = [json.loads(row[0]) for row in conn.execute("SELECT stats FROM workers")]
        finally:
            conn.close()
        [child] = [each for each in stats if each.get("parent")]
        assert int(child["files_finished"]) > 0, stats  # the copy process logged its files


async def _keep_the_loop_busy(share: float) -> None:
    """Spend ``share`` of every 50 ms of this event loop's thread on the CPU, as a loop
    saturated by its own copying would."""
    while True:
        ends = time.thread_time() + 0.05 * share
        while time.thread_time() < ends:
            pass
        await anyio.sleep(0.05 * (1 - share))


async def _auto_run(tmp_path: Path, *, busy: float | None) -> tuple[dict[str, Any], list[int]]:
    """``migrate`` with ``processes = "auto"`` (the default), 16 copies at a time against
    emulators answering in 50 ms (a few seconds of files waiting), this event loop kept
    ``busy`` meanwhile (or left to the run); its ``--json`` summary, and the files each process
    finished (``migrate``'s first)."""
    async with _with_repositories("demo", faults="*:latency=0.05") as sandbox:
        settings = settings_for(sandbox, tmp_path, workers=16, processes="auto")
        assert settings.transfer.auto_processes
        async with anyio.create_task_group() as group:
            if busy is not None:
                group.start_soon(_keep_the_loop_busy, busy)
            summary = await run_migration(settings)
            group.cancel_scope.cancel()
        assert_target_matches_source(sandbox)
        uploads = artifact_uploads(sandbox)
        assert len(uploads) == len(set(uploads))  # nothing copied twice
        async with open_store(settings) as opened:
            workers = await opened.list_workers()
    finished = [int(w.stats["files_finished"]) for w in workers if not w.stats.get("parent")]
    finished += [int(w.stats["files_finished"]) for w in workers if w.stats.get("parent")]
    return summary.as_dict(), finished


@pytest.mark.serial  # it needs the idle core that a test beside it would take
@pytest.mark.skipif(usable_cpus() < 2, reason="auto adds a process only beside a free core")
async def test_auto_adds_a_copy_process_once_this_one_is_saturated(tmp_path: Path) -> None:
    summary, finished = await _auto_run(tmp_path, busy=0.8)
    notes = summary["notes"]
    assert any("a copy process joined after" in note for note in notes), notes
    assert any(note.startswith("copy processes: 2") for note in notes), notes
    assert summary["processes"]["copying"] == 2
    assert summary["processes"]["joined_after_seconds"] > 0
    assert len(finished) == 2
    assert all(finished), finished  # each copied: migrate before it joined, it after


@pytest.mark.serial  # its own spinning processes, and nothing else, keep the cores busy
@pytest.mark.skipif(usable_cpus() < 2, reason="auto adds a process only beside a free core")
async def test_auto_adds_none_when_the_other_cores_are_busy(tmp_path: Path) -> None:
    # every other core spinning in a process of its own, as servers beside it would keep them
    spin = [sys.executable, "-c", "while True: pass"]
    spinners = [await anyio.open_process(spin) for _ in range(usable_cpus() - 1)]
    try:
        summary, finished = await _auto_run(tmp_path, busy=0.8)
    finally:
        for spinner in spinners:
            spinner.kill()
            await spinner.aclose()
    assert not any("copy process" in note for note in summary["notes"]), summary["notes"]
    assert summary["processes"] == {"copying": 1, "joined_after_seconds": None}
    assert len(finished) == 1


@pytest.mark.serial  # a loaded machine slows its loop: only the round trips may be measured
async def test_auto_adds_none_while_the_files_wait_on_round_trips(tmp_path: Path) -> None:
    # migrate in a process of its own, its loop left to the run alone (the emulators here, in
    # this test's loop, would keep a shared one busy serving it)
    async with _with_repositories("demo", faults="*:latency=0.05") as sandbox:
        process, _ = await _migrate(sandbox, tmp_path, "--workers", "16", copying=False)
        code, text = await _ended(process, tmp_path, within=120)
        assert code == 0, text[-2000:]
        assert_target_matches_source(sandbox)
    assert "copies in flight" in text  # the summary's notes are there
    assert "copy process" not in text, text[-2000:]
