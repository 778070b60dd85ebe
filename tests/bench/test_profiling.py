"""The benchmark's profiler options: the command lines they build and the CPU summary of
py-spy's collapsed stacks (no profiler runs here: the stacks are written by hand)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.profiling import profiled_args, summarise, summarise_collapsed
from benchmarks.report import ratios

ARGS = ["/venv/bin/python", "-m", "transfer", "migrate", "-c", "t.toml"]


def test_each_profiler_wraps_the_same_transfer_command() -> None:
    spy = profiled_args(ARGS, Path("/r/x-large.py-spy.txt"))
    assert spy[1:3] == ["record", "--native"]
    assert spy[-len(ARGS) :] == ARGS
    assert spy[spy.index("--output") + 1] == "/r/x-large.py-spy.txt"
    perf = profiled_args(ARGS, Path("/r/x-large.perf.data"))
    assert perf[:2] == ["perf", "record"]
    assert perf[-len(ARGS) :] == ARGS
    text = profiled_args(ARGS, Path("/r/x-large.pyinstrument.text"))
    assert text[:3] == ["/venv/bin/python", "-m", "pyinstrument"]
    assert text[text.index("--renderer") + 1] == "text"
    assert text[-5:] == ARGS[1:]


def test_collapsed_stacks_are_sorted_by_where_the_cpu_goes(tmp_path: Path) -> None:
    stacks = tmp_path / "p.py-spy.txt"
    loop = "thread (1): MainThread;run (uvloop/__init__.py:92);Loop__run (loop.c:1)"
    worker = "thread (2): AnyIO worker thread;WorkerThread.run (anyio/_backends/_asyncio.py:1)"
    stacks.write_text(
        f"{worker};MultiHasher.update (transfer/integrity.py:99);SHA256_Update (libcrypto.so.3) 6\n"
        f"{loop};uv__read (stream.c:1);read (libc.so.6) 3\n"
        f"{loop};data_received (aiohttp/client_proto.py:359);0x7f (libc.so.6) 1\n"
        f"{worker};Queue.get (queue.py:171);Condition.wait (threading.py:327);"
        "PyThread_acquire_lock_timed (libpython3.11.so.1.0) 40\n"
        "thread (1);<module> (transfer/__main__.py:5);_find_and_load (<frozen>:1) 10\n",
        encoding="utf-8",
    )
    shares = summarise_collapsed(stacks)
    assert shares["busy_samples"] == 20  # the 40 samples of a worker waiting are idle
    assert shares["startup"] == 0.5
    assert shares["hashing"] == 0.3
    assert shares["socket reads (kernel copy)"] == 0.15
    assert shares["download reader (aiohttp)"] == 0.05
    assert summarise(stacks) == shares
    assert summarise(tmp_path / "p.pyinstrument.html") == {}


def _run(peer: str, server: str, mb_per_s: float, n: int = 16) -> dict[str, object]:
    return {
        "scenario": "large",
        "peer": peer,
        "server": server,
        "concurrency": n,
        "mb_per_s": mb_per_s,
    }


def test_transfer_between_emulators_is_held_to_the_naive_copy_between_them() -> None:
    runs = [
        _run("transfer", "nginx", 500.0),
        _run("naive", "nginx", 400.0, 1),
        {**_run("transfer (emulators)", "emulators", 90.0), "naive_copy": {"mb_per_s": 100.0}},
    ]
    rows = {row["peer"]: row for row in ratios(runs, 16)}
    assert rows["naive"]["ratio"] == 1.25
    assert rows["naive (emulators)"]["ratio"] == 0.9
    assert rows["naive (emulators)"]["target"] == 0.85
    assert rows["naive (emulators)"]["met"] is True
