"""The naive peer: what a team following the migration guide by hand would write.

``python benchmarks/naive.py MANIFEST SRC_URL DST_URL TIMES_OUT`` copies every file the
manifest lists (``path size [sha256]`` lines), one after the other: download it to a temporary
file, upload that file with PUT, delete it. Standard library only, a new connection per
request, no retries, no verification beyond the HTTP status. The seconds each file took go to
``TIMES_OUT``, one per line; the exit status is the number of failed files (capped at 100).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import urllib.request
from urllib.parse import quote, unquote


def copy_one(src: str, dst: str) -> None:
    """Download ``src`` to a temp file, then PUT it to ``dst``."""
    with tempfile.NamedTemporaryFile(delete=False) as tmp:
        with urllib.request.urlopen(src, timeout=60) as response:
            shutil.copyfileobj(response, tmp, 1 << 20)
        size = tmp.tell()
    try:
        with open(tmp.name, "rb") as body:
            request = urllib.request.Request(
                dst, data=body, method="PUT", headers={"Content-Length": str(size)}
            )
            with urllib.request.urlopen(request, timeout=60) as response:
                response.read()
    finally:
        os.unlink(tmp.name)


def main(argv: list[str]) -> int:
    """Copy every file of the manifest; print a summary line."""
    manifest, src, dst, times_out = argv
    with open(manifest, encoding="utf-8") as listing:
        paths = [line.split()[0] for line in listing if line.strip()]
    failed = 0
    with open(times_out, "w", encoding="utf-8") as times:
        for path in paths:
            encoded = quote(unquote(path))
            started = time.perf_counter()
            try:
                copy_one(f"{src}/{encoded}", f"{dst}/{encoded}")
            except OSError as error:  # urllib's errors are OSErrors
                failed += 1
                print(f"{path}: {error}", file=sys.stderr)
                continue
            times.write(f"{time.perf_counter() - started:.6f}\n")
    print(f"{len(paths) - failed} copied, {failed} failed")
    return min(failed, 100)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
