"""The floor peer: the least a Python client can do to stream files from one server to another.

``python benchmarks/stream_copy.py [--sha256] [-n N] MANIFEST SRC_URL DST_URL TIMES_OUT``
copies every file the manifest lists (``path size sha256`` lines), ``N`` at a time, each GET
streamed straight into its PUT with aiohttp on uvloop, the pieces handed on as the socket
gives them: no store, no retries, no progress, no checks beyond the HTTP status. With
``--sha256`` each file's bytes are also hashed on the way (inline, as ``transfer`` does) and
compared with the manifest: the least verifying every byte costs in the same language.

It is a ceiling for ``transfer``, not a rival: divided by it, a large-file figure shows what
``transfer``'s own machinery costs, apart from what Python, aiohttp and the hashing cost here.
The seconds each file took go to ``TIMES_OUT``, one per line; the exit status is the number of
failed files (capped at 100).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
import time
from collections.abc import AsyncIterator
from urllib.parse import quote, unquote

import aiohttp
import uvloop


async def _copy(
    session: aiohttp.ClientSession, src: str, dst: str, size: int, sha256: str | None
) -> None:
    digest = hashlib.sha256() if sha256 is not None else None
    async with session.get(src) as response:
        response.raise_for_status()

        async def body() -> AsyncIterator[bytes]:
            read = response.content.readchunk
            while True:
                piece, _ = await read()
                if not piece:
                    return
                if digest is not None:
                    digest.update(piece)
                yield piece

        headers = {"Content-Length": str(size)}
        async with session.put(dst, data=body(), headers=headers) as stored:
            await stored.read()
            stored.raise_for_status()
    if digest is not None and digest.hexdigest() != sha256:
        raise ValueError(f"sha256 {digest.hexdigest()}, the manifest says {sha256}")


async def _copy_all(
    files: list[tuple[str, int, str]], src: str, dst: str, n: int, verify: bool, times: list[float]
) -> int:
    gate = asyncio.Semaphore(n)
    failed = 0

    async def one(path: str, size: int, sha256: str) -> None:
        nonlocal failed
        encoded = quote(unquote(path))
        async with gate:
            started = time.perf_counter()
            try:
                expected = sha256 if verify else None
                await _copy(session, f"{src}/{encoded}", f"{dst}/{encoded}", size, expected)
            except (aiohttp.ClientError, OSError, ValueError) as error:
                failed += 1
                print(f"{path}: {error}", file=sys.stderr)
                return
            times.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(limit=2 * n)
    # the same read buffer as transfer's (transfer.http.client.STREAM_READ_BUFFER)
    async with aiohttp.ClientSession(
        connector=connector, read_bufsize=1 << 20, auto_decompress=False
    ) as session:
        await asyncio.gather(*(one(*file) for file in files))
    return failed


def main(argv: list[str]) -> int:
    """Copy every file of the manifest; print a summary line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sha256", action="store_true", help="hash and check every file")
    parser.add_argument("-n", type=int, default=16, help="files at a time (16)")
    parser.add_argument("manifest")
    parser.add_argument("src")
    parser.add_argument("dst")
    parser.add_argument("times_out")
    args = parser.parse_args(argv)
    with open(args.manifest, encoding="utf-8") as listing:
        files = [(p, int(s), h) for p, s, h in (line.split() for line in listing if line.strip())]
    times: list[float] = []
    failed = uvloop.run(_copy_all(files, args.src, args.dst, args.n, args.sha256, times))
    with open(args.times_out, "w", encoding="utf-8") as out:
        out.writelines(f"{t:.6f}\n" for t in times)
    print(f"{len(files) - failed} copied, {failed} failed")
    return min(failed, 100)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
