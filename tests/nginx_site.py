"""Folders real nginx can serve, for the tests marked ``nginx``.

nginx's workers run as ``www-data`` when the tests run as root, and pytest's own ``tmp_path``
sits under a 0700 folder they cannot enter: these folders are made world-readable instead.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

__all__ = ["reachable_folder", "require_nginx", "write_tree"]


@contextmanager
def reachable_folder(prefix: str = "transfer-test-") -> Iterator[Path]:
    """A fresh temp folder every user can enter, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def write_tree(root: Path, files: Mapping[str, bytes]) -> None:
    """``files`` (relative path → bytes) under ``root``, readable by nginx's workers."""
    for relative, body in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def require_nginx() -> None:
    """Skip, saying how to get it, when Debian's nginx is not installed."""
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed (apt-get install nginx, or run scripts/test.sh)")
