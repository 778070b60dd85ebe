"""Before a migration touches anything: the local files it will write can be written.

A read-only or missing report directory, or a secrets file on a read-only file system or
pointing at a device, is found here — exit 2 before the first request — rather than after
hours of copying (the URL map is written at the end) or after the repositories phase has
already created repositories (the secrets file is first written by the security phase).
"""

from __future__ import annotations

from collections.abc import Sequence

import anyio

from transfer.localfiles import check_regular_file, check_writable_dir
from transfer.settings import Settings

__all__ = ["check_local_files"]


def _check(settings: Settings, phases: Sequence[str]) -> None:
    if "artifacts" in phases:
        check_writable_dir(settings.report.output_dir, "the report directory")
    if "security" in phases:
        secrets = settings.security.secrets_file
        check_regular_file(secrets, "the secrets file", missing_ok=True)
        check_writable_dir(secrets.parent, "the secrets file", file=secrets)


async def check_local_files(settings: Settings, phases: Sequence[str]) -> None:
    """Raise ``ConfigError`` (one line) when a file the ``phases`` write cannot be written."""
    await anyio.to_thread.run_sync(_check, settings, phases)
