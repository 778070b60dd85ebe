"""A userspace TCP relay that adds latency (and optionally a bandwidth cap) between a client and a
server, so every peer in a benchmark pays the same round trips.

Kernel queueing disciplines (``tc netem``) are not available on these machines, so the delay is
made here: each chunk read from one side is stamped with the time it arrived and written to the
other side ``delay`` seconds later, in order. A one-way delay of *d* in each direction makes every
request/response exchange cost at least ``2 d`` more, and a new TCP connection's first request
``2 d`` more again (the relay accepts at once, the client's first bytes still take *d* to arrive),
which is what a WAN link looks like to an HTTP client. With ``rate`` set, each direction is also
paced to that many bytes per second (a token bucket with one chunk of burst).

Run it in its own process (``python -m benchmarks.relay UPSTREAM_PORT --delay-ms 10``, or
:class:`RelayProcess`) so that its CPU is measured apart from the engine's; it prints
``listening PORT`` once it accepts connections.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

__all__ = ["LinkShape", "RelayProcess", "RelayedServer", "run_relay"]

_CHUNK = 256 * 1024
_READY_TIMEOUT = 15.0


@dataclass(frozen=True, slots=True)
class LinkShape:
    """What the relay adds: a one-way delay per direction and an optional rate cap (bytes/s)."""

    delay_up: float = 0.0  # client → server, seconds
    delay_down: float = 0.0  # server → client, seconds
    rate: float | None = None  # bytes per second in each direction; None: unlimited

    @classmethod
    def rtt(cls, milliseconds: float, rate: float | None = None) -> LinkShape:
        """A symmetric link whose added round-trip time is ``milliseconds``."""
        one_way = milliseconds / 2000.0
        return cls(one_way, one_way, rate)


class _Pacer:
    """A token bucket: ``take(n)`` returns how long to wait before ``n`` more bytes may go."""

    def __init__(self, rate: float | None) -> None:
        self._rate = rate
        self._ready_at = 0.0

    def take(self, size: int, now: float) -> float:
        if self._rate is None:
            return 0.0
        start = max(now, self._ready_at)
        self._ready_at = start + size / self._rate
        return start - now


async def _pump(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    delay: float,
    rate: float | None,
) -> None:
    """Copy one direction: read at once, write each chunk ``delay`` after it arrived, in order."""
    loop = asyncio.get_running_loop()
    pending: collections.deque[tuple[float, bytes]] = collections.deque()
    arrived = asyncio.Event()
    finished = False

    async def read_side() -> None:
        nonlocal finished
        try:
            while chunk := await reader.read(_CHUNK):
                pending.append((loop.time() + delay, chunk))
                arrived.set()
        except (ConnectionError, OSError):
            pass
        finally:
            finished = True
            arrived.set()

    async def write_side() -> None:
        pacer = _Pacer(rate)
        while True:
            while not pending:
                if finished:
                    return
                arrived.clear()
                await arrived.wait()
            due, chunk = pending.popleft()
            wait = due - loop.time()
            wait = max(wait, 0.0) + pacer.take(len(chunk), loop.time() + max(wait, 0.0))
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(chunk)
            await writer.drain()

    reading = asyncio.create_task(read_side())
    try:
        await write_side()
    except (ConnectionError, OSError):
        pass
    finally:
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading
        if writer.can_write_eof():
            with contextlib.suppress(OSError):
                writer.write_eof()


async def _relay_one(
    client_reader: asyncio.StreamReader,
    client_writer: asyncio.StreamWriter,
    upstream: tuple[str, int],
    shape: LinkShape,
) -> None:
    try:
        server_reader, server_writer = await asyncio.open_connection(*upstream)
    except OSError:
        client_writer.close()
        return
    try:
        await asyncio.gather(
            _pump(client_reader, server_writer, shape.delay_up, shape.rate),
            _pump(server_reader, client_writer, shape.delay_down, shape.rate),
        )
    finally:
        for writer in (client_writer, server_writer):
            writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await writer.wait_closed()


async def run_relay(
    upstream: tuple[str, int],
    shape: LinkShape,
    listen: tuple[str, int] = ("127.0.0.1", 0),
    ready: asyncio.Future[int] | None = None,
) -> None:
    """Serve until cancelled; ``ready`` (if given) receives the bound port. Cancelling also ends
    every connection still open, so nothing is left running behind it."""
    connections: set[asyncio.Task[None]] = set()

    def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(_relay_one(reader, writer, upstream, shape))
        connections.add(task)
        task.add_done_callback(connections.discard)

    server = await asyncio.start_server(accept, *listen, limit=_CHUNK)
    port = server.sockets[0].getsockname()[1]
    if ready is not None:
        ready.set_result(port)
    try:
        async with server:
            await server.serve_forever()
    finally:
        for task in list(connections):
            task.cancel()
        await asyncio.gather(*connections, return_exceptions=True)


class RelayProcess:
    """The relay in a child process for the duration of a ``with`` block; ``port`` is where to
    connect, ``cpu_seconds()`` what the relay itself has spent (so it is not counted as the
    engine's)."""

    def __init__(self, upstream_port: int, shape: LinkShape, host: str = "127.0.0.1") -> None:
        self._args = [
            sys.executable,
            "-m",
            "benchmarks.relay",
            str(upstream_port),
            "--host",
            host,
            "--delay-up-ms",
            str(shape.delay_up * 1000),
            "--delay-down-ms",
            str(shape.delay_down * 1000),
        ]
        if shape.rate is not None:
            self._args += ["--rate", str(shape.rate)]
        self._process: subprocess.Popen[str] | None = None
        self.port = 0

    def __enter__(self) -> RelayProcess:
        from benchmarks.procs import die_with_parent

        root = Path(__file__).resolve().parents[1]
        self._process = subprocess.Popen(
            self._args,
            cwd=root,
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=die_with_parent,
        )
        assert self._process.stdout is not None
        deadline = time.monotonic() + _READY_TIMEOUT
        line = self._process.stdout.readline()
        if not line.startswith("listening ") or time.monotonic() > deadline:
            self.__exit__(None, None, None)
            raise RuntimeError(f"relay did not start: {line!r}")
        self.port = int(line.split()[1])
        return self

    def cpu_seconds(self) -> float:
        """User + system CPU seconds the relay has used so far."""
        from benchmarks.procs import cpu_seconds

        return cpu_seconds(self._process.pid) if self._process else 0.0

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._process is None:
            return
        self._process.send_signal(signal.SIGTERM)
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._process = None


class RelayedServer:
    """A view of a benchmark server (nginx) whose URLs go through one relay per listener, for a
    ``with`` block: every peer given this view pays the same added latency. Everything but the
    URLs is the server's own."""

    _URLS = ("json_url", "html_url", "upload_url")

    def __init__(self, server: Any, shape: LinkShape) -> None:
        self._server = server
        self._shape = shape
        self._relays: list[RelayProcess] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)

    def __enter__(self) -> RelayedServer:
        try:
            for name in self._URLS:
                url = urlsplit(getattr(self._server, name))
                relay = RelayProcess(url.port or 80, self._shape, url.hostname or "127.0.0.1")
                self._relays.append(relay.__enter__())
                setattr(self, name, f"{url.scheme}://127.0.0.1:{relay.port}")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def relay_cpu_seconds(self) -> float:
        """CPU seconds all the relays have used so far."""
        return sum(relay.cpu_seconds() for relay in self._relays)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        while self._relays:
            self._relays.pop().__exit__(None, None, None)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m benchmarks.relay UPSTREAM_PORT [--delay-ms MS]``: serve until SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.relay", description=__doc__)
    parser.add_argument("upstream_port", type=int)
    parser.add_argument("--host", default="127.0.0.1", help="upstream host (loopback only)")
    parser.add_argument("--delay-ms", type=float, help="one-way delay in both directions")
    parser.add_argument("--delay-up-ms", type=float, default=0.0)
    parser.add_argument("--delay-down-ms", type=float, default=0.0)
    parser.add_argument("--rate", type=float, help="bytes per second in each direction")
    parser.add_argument("--port", type=int, default=0, help="where to listen (default: any)")
    args = parser.parse_args(argv)
    up = args.delay_ms if args.delay_ms is not None else args.delay_up_ms
    down = args.delay_ms if args.delay_ms is not None else args.delay_down_ms
    shape = LinkShape(up / 1000, down / 1000, args.rate)

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        ready: asyncio.Future[int] = loop.create_future()
        relay = asyncio.create_task(
            run_relay((args.host, args.upstream_port), shape, ("127.0.0.1", args.port), ready)
        )
        port = await ready
        print(f"listening {port}", flush=True)
        await stop.wait()
        relay.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relay

    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    if __package__ in (None, ""):
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
