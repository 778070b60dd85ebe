"""Checksum files (``X.sha1``, ``X.md5``, ``X.sha256``) against a target that computes its own.

Artifactory stores no such files: a deploy of one sets (and checks) the checksum of ``X``, and a
download of one is answered from ``X``'s checksums. So a source's checksum file is not copied; it
is read (a few bytes, verified like any download) and its value compared with what the target
holds for ``X``. Equal: the file is ``done`` (``how = "checksum_file"``) and Artifactory serves
the same value at the same URL. A different value, or no ``X`` in the target, is a failure of its
own category (the reason starts with :data:`CHECKSUM_FILE_MISMATCH` or
:data:`CHECKSUM_FILE_ORPHAN`); retrying would not change it.
"""

from __future__ import annotations

import re

from transfer.checkpoint.base import ItemSpec, Outcome
from transfer.integrity import MultiHasher, verify_transfer
from transfer.models import Checksums, ItemState
from transfer.sources.base import Source
from transfer.targets.base import Target

__all__ = [
    "CHECKSUM_FILE_MISMATCH",
    "CHECKSUM_FILE_ORPHAN",
    "MAX_CHECKSUM_FILE_SIZE",
    "check_checksum_file",
    "parse_checksum_file",
]

MAX_CHECKSUM_FILE_SIZE = 4096
"""Larger files named like checksum files are not read (no checksum file is that long)."""
CHECKSUM_FILE_MISMATCH = "checksum_file_mismatch"
"""Failure category (start of the reason) of a checksum file whose value is not its artifact's."""
CHECKSUM_FILE_ORPHAN = "checksum_file_orphan"
"""Failure category (start of the reason) of a checksum file whose artifact is not in the target."""

_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64}
_HEX = re.compile(r"^[0-9a-f]+$")


def parse_checksum_file(text: bytes, algorithm: str) -> str | None:
    """The hex value of a checksum file: its first word (``sha1sum`` writes ``<hex>  <name>``,
    Maven only ``<hex>``), lower-cased; None when that is not a ``algorithm`` value."""
    words = text.decode("utf-8", "replace").split()
    value = words[0].lower() if words else ""
    if len(value) != _LENGTHS[algorithm] or not _HEX.match(value):
        return None
    return value


def _failed(reason: str) -> Outcome:
    return Outcome(ItemState.FAILED, error=reason)


async def check_checksum_file(
    source: Source, target: Target, spec: ItemSpec, artifact: str, algorithm: str
) -> Outcome:
    """Compare the checksum file ``spec`` with the target's ``algorithm`` of ``artifact``."""
    name = spec.target_path.rsplit("/", 1)[-1]
    if spec.size > MAX_CHECKSUM_FILE_SIZE:
        return _failed(
            f"{CHECKSUM_FILE_MISMATCH}: {name} holds {spec.size} bytes, not a checksum "
            "(the target keeps no file of that name)"
        )
    found = await target.probe(spec.target_repo, artifact)
    if found is None:
        return _failed(
            f"{CHECKSUM_FILE_ORPHAN}: {spec.target_repo}/{artifact} is missing; the target "
            f"does not store {name} as a file (it serves checksum files of stored files itself)"
        )
    hasher = MultiHasher(("sha1", "sha256"))
    body = bytearray()
    async with source.open_download(spec.source) as download:
        async for chunk in download.chunks(MAX_CHECKSUM_FILE_SIZE):
            hasher.update(chunk)
            body += chunk
            if len(body) > MAX_CHECKSUM_FILE_SIZE:
                break  # more than declared: the size check below says so
    verify_transfer(
        spec.path,
        declared_size=spec.size,
        declared=Checksums(sha1=spec.sha1, sha256=spec.sha256),
        computed=hasher.digests(),
        computed_size=hasher.size,
    )
    value = parse_checksum_file(bytes(body), algorithm)
    actual = getattr(found.checksums, algorithm)
    if value is None:
        return _failed(f"{CHECKSUM_FILE_MISMATCH}: {name} holds no {algorithm} value")
    if not actual:
        return _failed(
            f"{CHECKSUM_FILE_MISMATCH}: the target reports no {algorithm} for {artifact}, so "
            f"{name} cannot be checked"
        )
    if value != actual.lower():
        return _failed(
            f"{CHECKSUM_FILE_MISMATCH}: {name} says {value}, the target's {algorithm} of "
            f"{artifact} is {actual.lower()}"
        )
    return Outcome(ItemState.DONE, how="checksum_file", bytes_transferred=0)
