"""Local files the tool reads and writes: configs, secrets, request lists, reports, logs.

Every one of them goes through here so that the edges of a file system answer the same way
everywhere — one :class:`~transfer.errors.ConfigError` line, never a traceback:

* a path that is a device, a pipe or a directory where a file is expected is refused before
  it is opened (reading ``/dev/zero`` as a config would otherwise run until the OOM killer);
* what is read is capped, so a wrong path cannot exhaust memory;
* text is UTF-8; a leading byte-order mark (as some Windows editors write) is accepted;
* what is written goes to a temporary file in the same directory, is flushed to disk and then
  renamed over the old one, so a full disk or a crash never leaves a half-written file that
  looks complete.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import os
import stat
import uuid
from collections.abc import AsyncIterable, Sequence
from pathlib import Path
from typing import Final

import anyio

from transfer.errors import ConfigError

__all__ = [
    "MAX_TEXT_FILE",
    "AtomicFile",
    "check_regular_file",
    "check_writable_dir",
    "decode_text",
    "fsync_directory",
    "read_text_file",
    "write_csv_atomically",
    "write_file_atomically",
]

MAX_TEXT_FILE: Final = 16 * 1024 * 1024
"""The most bytes read from a config, secret or request list (far above any real one)."""


def _reason(error: OSError) -> str:
    if error.errno == errno.EROFS:
        return "read-only file system"
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full (no space left on device); free space and run it again"
    return error.strerror or str(error)


def check_regular_file(path: Path, what: str, *, missing_ok: bool = False) -> bool:
    """Refuse ``path`` unless it is a regular file (following symlinks); ``False`` when it does
    not exist and ``missing_ok``."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        if missing_ok:
            return False
        raise ConfigError(f"cannot read {what} {path}: no such file") from None
    except OSError as error:
        raise ConfigError(f"cannot read {what} {path}: {_reason(error)}") from None
    if not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "a device or a pipe"
        raise ConfigError(f"cannot use {what} {path}: it is {kind}, not a regular file")
    return True


def read_text_file(path: Path, what: str, *, limit: int = MAX_TEXT_FILE) -> str:
    """The UTF-8 text of the regular file ``path`` (a leading BOM dropped), at most ``limit``
    bytes; anything else is one ``ConfigError`` naming ``what``."""
    check_regular_file(path, what)
    try:
        with path.open("rb") as handle:
            raw = handle.read(limit + 1)
    except OSError as error:
        raise ConfigError(f"cannot read {what} {path}: {_reason(error)}") from None
    return decode_text(raw, f"{what} {path}", limit=limit)


def decode_text(raw: bytes, where: str, *, limit: int = MAX_TEXT_FILE) -> str:
    """``raw`` as UTF-8 text (a leading BOM dropped), refusing more than ``limit`` bytes."""
    if len(raw) > limit:
        raise ConfigError(
            f"{where} is larger than {limit // (1024 * 1024)} MiB; is it the right file?"
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise ConfigError(f"{where} is not UTF-8 text (line {line})") from None


def check_writable_dir(directory: Path, what: str, *, file: Path | None = None) -> None:
    """Make ``directory`` (and parents) and prove a file can be created in it, or refuse,
    naming ``file`` (the file that will be written there) when given."""
    named = file or directory
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # unique per call: several workers of one process may probe the same folder at once
        probe = directory / f".transfer-probe.{os.getpid()}.{uuid.uuid4().hex}"
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.close(fd)
        probe.unlink()
    except FileExistsError:
        raise ConfigError(f"{what} {directory} is a file, not a directory") from None
    except OSError as error:
        raise ConfigError(f"cannot write {what} {named}: {_reason(error)}") from None


class AtomicFile:
    """A text file written whole or not at all: to a temporary file beside ``path``, flushed to
    disk and renamed over ``path`` by :meth:`commit`; :meth:`abort` (or leaving the ``with``
    block by an exception) removes it. Opening and every failure are one ``ConfigError``.

    Blocking I/O: inside async code, open, write and commit from a worker thread.
    """

    def __init__(self, path: Path, what: str, *, mode: int = 0o644) -> None:
        check_regular_file(path, what, missing_ok=True)
        self.path = path
        self.what = what
        # unique per writer: several workers of one process may write the same file at once
        self._temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # O_EXCL + mode at creation: a 0600 file is never readable by others, not even
            # for an instant.
            fd = os.open(self._temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        except OSError as error:
            raise self.error(error) from None
        self.handle = os.fdopen(fd, "w", encoding="utf-8", newline="")

    def error(self, error: OSError) -> ConfigError:
        """The one-line error for a failed write of this file."""
        return ConfigError(f"cannot write {self.what} {self.path}: {_reason(error)}")

    def write(self, text: str) -> None:
        """Append ``text``."""
        try:
            self.handle.write(text)
        except OSError as error:
            self.abort()
            raise self.error(error) from None

    def commit(self) -> None:
        """Flush to disk and put the file in place."""
        try:
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()
            os.replace(self._temporary, self.path)
        except OSError as error:
            self.abort()
            raise self.error(error) from None
        fsync_directory(self.path.parent)

    def abort(self) -> None:
        """Drop what was written; ``path`` keeps its old content."""
        with contextlib.suppress(OSError):
            self.handle.close()
        with contextlib.suppress(OSError):
            self._temporary.unlink()

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()
            if isinstance(rest[0], OSError):
                raise self.error(rest[0]) from None


def write_file_atomically(path: Path, text: str, what: str, *, mode: int = 0o644) -> None:
    """Write ``text`` to ``path`` whole or not at all (see :class:`AtomicFile`)."""
    with AtomicFile(path, what, mode=mode) as file:
        file.write(text)


def fsync_directory(directory: Path) -> None:
    """Flush a directory entry (a rename) to disk where the platform allows it."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


async def write_csv_atomically(
    path: Path,
    what: str,
    header: Sequence[str],
    rows: AsyncIterable[Sequence[object]],
    *,
    mode: int = 0o644,
    batch: int = 500,
) -> int:
    """Stream ``rows`` (after ``header``) into the CSV ``path`` whole or not at all, writing
    from a worker thread in batches; returns how many rows were written."""
    file = await anyio.to_thread.run_sync(lambda: AtomicFile(path, what, mode=mode))
    written = 0
    try:
        writer = csv.writer(file.handle)
        pending: list[Sequence[object]] = [header]
        async for row in rows:
            pending.append(row)
            written += 1
            if len(pending) >= batch:
                await anyio.to_thread.run_sync(writer.writerows, pending)
                pending = []
        await anyio.to_thread.run_sync(writer.writerows, pending)
        await anyio.to_thread.run_sync(file.commit)
    except OSError as error:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(file.abort)
        raise file.error(error) from None
    except BaseException:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(file.abort)
        raise
    return written
