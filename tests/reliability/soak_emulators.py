"""The soak's emulators, in a process of their own: ``python soak_emulators.py WORKDIR FILES``.

Serves ``bench-small`` with ``FILES`` generated files, Artifactory in sink mode (sizes and
checksums kept, no bytes) and the ``mix`` fault preset on every route, writes
``WORKDIR/transfer.toml`` (secrets in ``transfer.toml.env``) and prints ``ready``. A line on
stdin asks for the verdict: it is written to ``WORKDIR/verdict.json`` and the process exits.

The verdict is computed here, from what the emulators recorded, so the test process never holds
200,000 rows: the target against the source (every file present with the source's size, sha1 and
sha256), how many artifact PUTs carried bytes and how they ended, which paths were stored by
more than one completed PUT, and how many faults fired.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from migration_cases import differences, uploads_to
from reliability_kit import source_digests

from transfer.sandbox.serve import Sandbox, write_config

FAULTS = "mix"
EXAMPLES = 20


def verdict(sandbox: Sandbox) -> dict[str, Any]:
    """What the target holds against the source, and how it got there."""
    digests = source_digests(sandbox)
    missing_or_different = differences(sandbox.artifactory, digests)
    puts = uploads_to(sandbox.artifactory)
    complete = Counter(r.path for r in puts if r.status in (200, 201))
    twice = sorted(path for path, n in complete.items() if n > 1)
    return {
        "files": len(digests),
        "bytes": sum(size for size, _, _ in digests.values()),
        "problems": len(missing_or_different),
        "problem_examples": missing_or_different[:EXAMPLES],
        "puts": len(puts),
        "puts_by_status": {str(k): v for k, v in sorted(Counter(r.status for r in puts).items())},
        "stored_twice": len(twice),
        "stored_twice_examples": twice[:EXAMPLES],
        "faults": sandbox.faults.count(),
        "faults_by_kind": {
            f"{family}:{kind}": n for (family, kind), n in sorted(sandbox.faults.injected.items())
        },
    }


async def serve(workdir: Path, files: int) -> None:
    """Serve until a line arrives on stdin, then write the verdict."""
    sandbox = Sandbox("bench-small", sink=True, faults=FAULTS, file_count=files)
    async with sandbox:
        write_config(sandbox.endpoints, workdir / "transfer.toml", store_path="state.db")
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        # no more faults while the verdict is taken (nothing is asked of the emulators by then)
        sandbox.faults.disable()
        result = verdict(sandbox)
    (workdir / "verdict.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    asyncio.run(serve(Path(sys.argv[1]), int(sys.argv[2])))
