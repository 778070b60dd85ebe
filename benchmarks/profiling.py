"""Profilers for the measured ``transfer`` process, and summaries of where its CPU goes.

* pyinstrument (``*.text``, ``*.html``) samples the main thread's wall clock: where the event
  loop waits and works, in Python frames.
* py-spy (``*.py-spy.txt``) samples every thread with native frames (``--native``): Python
  call paths down into aiohttp's C parser, uvloop and the socket calls.
  :func:`summarise_collapsed` sorts its samples into :data:`CATEGORIES`.  Two caveats: its idle
  detection does not work with native frames (a thread blocked on a lock counts as busy), so
  samples whose innermost frames wait (a lock, a queue, epoll) are dropped as idle; and it
  cannot unwind OpenSSL's assembly, so hashing is under-counted (use perf for shares).
* perf (``*.perf.data``) samples CPU by instruction address, kernel included, with no
  unwinding: :func:`summarise_perf` gives each shared object's share of the process's CPU
  (``libcrypto``: hashing; ``[kernel]``: socket copies and TCP; ``libpython``: the
  interpreter; ``libc``: ``memmove`` copies and ``malloc``), the truest split of CPU s/GB.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

__all__ = ["CATEGORIES", "profiled_args", "summarise", "summarise_collapsed", "summarise_perf"]

IDLE = (
    "PyThread_acquire_lock_timed",
    "epoll_wait",
    "epoll_pwait",
    "Condition.wait",
    "_queue_SimpleQueue_get",
    "sem_timedwait",
    "pthread_cond_timedwait",
    "Queue.get (queue",
)
"""A sample with one of these among its innermost frames is a thread waiting, not working."""

STARTUP = ("_find_and_load", "_get_module_details", "<frozen importlib")
"""A sample with one of these anywhere in its stack is start-up (imports, module code)."""

CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("hashing", ("EVP_", "SHA256", "SHA1", "MD5", "_hashlib", "hashlib", "MultiHasher.update")),
    ("socket reads (kernel copy)", ("read (libc", "uv__read", "recv")),
    ("socket writes (kernel copy)", ("write (libc", "writev", "uv__write", "uv_try_write")),
    ("download reader (aiohttp)", ("client_proto", "http_parser", "streams.py", "iter_chunks")),
    ("upload writer (aiohttp)", ("http_writer", "payload.py", "client_reqrep")),
    ("thread hand-off", ("to_thread", "_threads", "futures/thread", "worker_thread", "getpid")),
    ("checkpoint store", ("sqlite", "checkpoint/")),
    ("event loop and tasks", ("uvloop", "loop.c", "asyncio", "anyio", "core.c", "sniffio")),
)
"""(category, substrings of a frame): the first frame from the innermost out that matches a
category's substring names the category; samples matching none are ``other``."""


def profiled_args(args: Sequence[str], out: Path) -> list[str]:
    """``args`` (``python -m transfer ...``) run under the profiler ``out``'s name asks for:
    ``*.py-spy.txt`` py-spy's collapsed stacks (every thread, native frames), ``*.html`` or
    ``*.text`` pyinstrument's report of the main thread's wall clock."""
    python, rest = args[0], list(args[1:])
    if out.name.endswith(".py-spy.txt"):
        return [
            *(_py_spy(python), "record", "--native", "--threads", "--rate", "250"),
            *("--format", "raw", "--output", str(out), "--", python, *rest),
        ]
    if out.name.endswith(".perf.data"):
        return ["perf", "record", "--freq", "999", "--output", str(out), "--", python, *rest]
    renderer = out.suffix.lstrip(".") or "text"
    return [python, "-m", "pyinstrument", "--renderer", renderer, "--outfile", str(out), *rest]


def _py_spy(python: str) -> str:
    beside = Path(python).parent / "py-spy"  # installed in the same virtual environment
    return str(beside) if beside.exists() else shutil.which("py-spy") or "py-spy"


def summarise_collapsed(path: Path) -> dict[str, float]:
    """Share of the busy samples in each category (``startup``, :data:`CATEGORIES`,
    ``other``), largest first, and ``busy_samples``: how many were counted."""
    counts: Counter[str] = Counter()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if n.isdigit():
            frames = stack.split(";")
            if not any(i in f for f in frames[-6:] for i in IDLE):
                counts[_category(frames)] += int(n)
    total = sum(counts.values())
    shares = {k: round(v / total, 3) for k, v in counts.most_common()} if total else {}
    return {**shares, "busy_samples": total}


def summarise_perf(path: Path, *, limit: float = 0.5) -> dict[str, float]:
    """Share of the process's CPU samples in each shared object (``[kernel]``, ``libcrypto``,
    ``libpython``, ...) above ``limit`` percent, largest first."""
    report = subprocess.run(
        ["perf", "report", "--input", str(path), "--no-children", "--sort", "dso", "--stdio"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    shares: dict[str, float] = {}
    for line in report.stdout.splitlines():
        words = line.split()
        if len(words) == 2 and words[0].endswith("%") and not line.startswith("#"):
            share = float(words[0].rstrip("%"))
            if share >= limit:
                name = words[1].split(".so")[0].replace("[kernel.kallsyms]", "[kernel]")
                shares[name] = round(share / 100, 3)
    return shares


def summarise(path: Path) -> dict[str, float]:
    """The summary that fits the profiler that wrote ``path`` (empty for pyinstrument's)."""
    if path.name.endswith(".py-spy.txt"):
        return summarise_collapsed(path)
    if path.name.endswith(".perf.data"):
        return summarise_perf(path)
    return {}


def _category(frames: list[str]) -> str:
    if any(s in f for f in frames for s in STARTUP):
        return "startup"
    for frame in reversed(frames):
        for name, needles in CATEGORIES:
            if any(n in frame for n in needles):
                return name
    return "other"


if __name__ == "__main__":
    import sys

    for name in sys.argv[1:]:
        print(name)
        for category, share in summarise(Path(name)).items():
            print(f"  {category:30s} {share}")
