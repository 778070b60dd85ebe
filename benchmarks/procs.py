"""The processes a benchmark runs: the sandbox (``transfer sandbox serve``) and the migration.

Both are children of the runner, each in its own process, so the runner measures them from the
outside: wall time, peak RSS (the kernel's own high-water mark, ``ru_maxrss`` from ``wait4`` on
exactly that pid, cross-checked by polling ``VmHWM``) and CPU seconds. Children get
``PR_SET_PDEATHSIG`` so that a runner killed with SIGKILL does not leave servers behind.
"""

from __future__ import annotations

import ctypes
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = [
    "REPO_ROOT",
    "ProcessStats",
    "SandboxProcess",
    "cpu_seconds",
    "die_with_parent",
    "new_workdir",
    "run_measured",
    "status_bytes",
    "transfer_args",
]

REPO_ROOT = Path(__file__).resolve().parents[1]
_PR_SET_PDEATHSIG = 1
_READY_TIMEOUT = 60.0
_STOP_TIMEOUT = 10.0


def fresh_workdir(path: Path) -> Path:
    """``path`` emptied (made if missing): a run's logs and store, never an earlier run's.

    With ``--workdir`` a second run reuses the same folders; a store left there by the first
    one would be resumed (its items done, its target URL another) instead of measured anew."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def new_workdir(prefix: str, parent: Path | None = None) -> Path:
    """A new temporary work folder (under ``parent``, else the temp folder) that nginx's
    workers (www-data when run as root) can enter: a scenario's files go under it when the
    tmpfs has no room for them, and ``mkdtemp``'s 0700 answered every request with 403."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    path.chmod(0o755)
    return path


def die_with_parent() -> None:
    """In the child, before exec: get SIGTERM when the runner dies (Linux only)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # not Linux: the runner's finally blocks still stop the children


def _transfer_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "transfer", *args]


def machine_cpu() -> tuple[float, float]:
    """(busy, all) CPU seconds of every core since boot, from ``/proc/stat`` (idle and
    iowait are not busy); ``(0, 0)`` where there is no ``/proc/stat``."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return 0.0, 0.0
    ticks = [int(f) for f in fields[:8]]  # user nice system idle iowait irq softirq steal
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(ticks) - ticks[3] - ticks[4]) / tick, sum(ticks) / tick


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a live process has used so far (0.0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    # fields[0] is the state (field 3 of stat); utime and stime are fields 14 and 15
    return (int(fields[11]) + int(fields[12])) / ticks


def status_bytes(pid: int, field: str) -> int | None:
    """A memory field of a live process's ``/proc/PID/status`` (``VmRSS``, ``VmHWM``...) in
    bytes; None once the process is gone (or the kernel does not report that field)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024  # the kernel writes kB (KiB)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _read_env_file(path: Path) -> dict[str, str]:
    """The ``export NAME=value`` lines ``transfer sandbox serve`` writes next to its config."""
    environ: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, _, value = words[1].partition("=")
            environ[name] = value
    return environ


class SandboxProcess:
    """``transfer sandbox serve`` in a child process for the duration of a ``with`` block.

    ``config`` is the transfer configuration it writes (store and report land next to it);
    ``env`` holds its secrets; ``endpoints`` the parsed URLs and logins; ``faults`` is a fault
    spec (:mod:`transfer.sandbox.faultspec`), e.g. per route family latency; ``ready_timeout``
    how long building the organisation and binding may take (a million files take ~30 s).
    """

    def __init__(
        self,
        workdir: Path,
        profile: str,
        *,
        sink: bool = False,
        file_count: int | None = None,
        file_size: int | None = None,
        seed: int = 1,
        faults: str = "",
        ready_timeout: float = _READY_TIMEOUT,
    ) -> None:
        self.workdir = workdir
        self.ready_timeout = ready_timeout
        self.config = workdir / "transfer.toml"
        args = ["sandbox", "serve", "--profile", profile, "--seed", str(seed)]
        args += ["--host", "127.0.0.1", "--write-config", str(self.config)]
        if sink:
            args.append("--sink")
        else:
            args += ["--storage-dir", str(workdir / "artifactory-storage")]
        if file_count is not None:
            args += ["--file-count", str(file_count)]
        if file_size is not None:
            args += ["--file-size", str(file_size)]
        if faults:
            args += ["--faults", faults]
        self.command = _transfer_command(*args)
        self.env: dict[str, str] = {}
        self.endpoints: dict[str, Any] = {}
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """The serving process's pid."""
        assert self._process is not None
        return self._process.pid

    def __enter__(self) -> SandboxProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = (self.workdir / "sandbox.log").open("wb")
        try:
            self._process = subprocess.Popen(
                self.command,
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent,
            )
        finally:
            log.close()
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.ready_timeout
        log = self.workdir / "sandbox.log"
        # The config is written before the URLs are printed, and the secrets before the config.
        while "Artifactory login" not in log.read_text(errors="replace"):
            if self._process.poll() is not None:
                raise RuntimeError(f"the sandbox exited early:\n{log.read_text(errors='replace')}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the sandbox did not start within {self.ready_timeout:g} s")
            time.sleep(0.05)
        self.env = _read_env_file(self.config.with_name(self.config.name + ".env"))
        config = tomllib.loads(self.config.read_text(encoding="utf-8"))
        self.endpoints = {
            "bintray_api": config["source"]["api_url"],
            "bintray_download": config["source"]["download_url"],
            "subject": config["source"]["subject"],
            "bintray_user": config["source"]["user"],
            "bintray_key": next(v for k, v in self.env.items() if "BINTRAY" in k),
            "artifactory": config["target"]["url"],
            "artifactory_user": config["target"]["user"],
            "artifactory_password": next(v for k, v in self.env.items() if "ARTIFACTORY" in k),
        }

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a grace period; idempotent."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@dataclass(slots=True)
class ProcessStats:
    """How one measured child process ran."""

    command: list[str]
    returncode: int
    wall_seconds: float
    peak_rss_bytes: int  # the larger of the two readings below
    maxrss_bytes: int  # ru_maxrss of exactly this child, from wait4
    polled_hwm_bytes: int  # the largest VmHWM seen while polling (a lower bound, a cross-check)
    cpu_seconds: float
    stdout: str
    stderr_tail: str
    samples: int = 0
    machine_busy: float | None = None  # the share of all cores busy while it ran, anyone's
    extra: dict[str, Any] = field(default_factory=dict)


def run_measured(
    args: Sequence[str],
    *,
    cwd: Path,
    env: dict[str, str],
    timeout: float,
    poll_interval: float = 0.1,
    on_poll: Callable[[int], None] | None = None,
) -> ProcessStats:
    """Run ``args`` to completion and measure it; killed (and reported) after ``timeout`` s.

    ``on_poll`` is called with the child's pid on every poll (a sampler of its own).
    """
    environ = {**os.environ, **env}
    stdout_path, stderr_path = cwd / "child.stdout", cwd / "child.stderr"
    machine_before = machine_cpu()
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(args),
            cwd=cwd,
            env=environ,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )
    hwm, samples, status = 0, 0, 0
    deadline = started + timeout
    try:
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            hwm = max(hwm, status_bytes(process.pid, "VmHWM") or 0)
            if on_poll is not None:
                on_poll(process.pid)
            samples += 1
            if time.perf_counter() > deadline:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(poll_interval)
    except BaseException:
        process.kill()
        process.wait()
        raise
    wall = time.perf_counter() - started
    machine_after = machine_cpu()
    machine_all = machine_after[1] - machine_before[1]
    # wait4 reaped it: tell Popen, so it does not try again
    process.returncode = os.waitstatus_to_exitcode(status)
    return ProcessStats(
        command=list(args),
        returncode=process.returncode,
        wall_seconds=wall,
        # The kernel's RSS counters are batched per CPU, so the two readings of the same
        # high-water mark can differ by a few hundred KiB: keep the larger.
        peak_rss_bytes=max(usage.ru_maxrss * 1024, hwm),  # ru_maxrss is in KiB on Linux
        maxrss_bytes=usage.ru_maxrss * 1024,
        polled_hwm_bytes=hwm,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        stdout=stdout_path.read_text(errors="replace"),
        stderr_tail=stderr_path.read_text(errors="replace")[-4000:],
        samples=samples,
        machine_busy=(machine_after[0] - machine_before[0]) / machine_all if machine_all else None,
    )


def transfer_args(*args: str) -> list[str]:
    """``python -m transfer ARGS`` with this interpreter."""
    return _transfer_command(*args)
