"""The source changed under the run: tell a file replaced or deleted at the source since it was
listed from a corrupt or failed download.

A long migration meets an organisation that is still in use: between discovery and the copy a
file may be re-uploaded (its bytes no longer match the checksums listed), or its version, package
or repository deleted, renamed or hidden (the download answers 404). Retrying such an item as
corrupt only fails it after every attempt. So when a download fails that way, the version is
listed again and compared with what the store holds:

* the file is listed with other checksums or another size → :class:`Changed`: the item is
  re-opened with the new facts (the next claim copies the new content);
* the file, its version, package or repository is gone → :class:`Gone`: the item ends
  ``skipped`` with a reason saying so, not retried and not counted as a failure of the tool;
* the file is listed as before → ``None``: the failure was the transfer's, retried as usual.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from transfer.checkpoint.base import ItemSpec
from transfer.errors import IntegrityError, NotFoundError, PermissionDenied, TransferError
from transfer.sources.base import Source

__all__ = [
    "GONE_FROM_SOURCE",
    "Changed",
    "Gone",
    "may_have_drifted",
    "not_there",
    "recheck_source",
]

GONE_FROM_SOURCE = "gone from the source"
"""How every reason of an item skipped because its file no longer exists at the source starts."""


@dataclass(frozen=True, slots=True)
class Changed:
    """The source lists the file with other content: ``spec`` holds the new facts."""

    spec: ItemSpec


@dataclass(frozen=True, slots=True)
class Gone:
    """The file is no longer at the source; ``reason`` says what went (for the item's row)."""

    reason: str


def may_have_drifted(error: TransferError, *, from_source: bool) -> bool:
    """Whether ``error`` may mean the source changed since listing: a download that answered
    404 or 403, or bytes that do not match the declared size or checksums (not the target's)."""
    if isinstance(error, IntegrityError):
        return not error.what.startswith("target")
    return from_source and isinstance(error, NotFoundError | PermissionDenied)


def not_there(error: BaseException) -> NotFoundError | PermissionDenied | None:
    """The 404 or 403 that ``error`` is or holds (a source may list in parallel, raising an
    exception group), else None."""
    if isinstance(error, NotFoundError | PermissionDenied):
        return error
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            found = not_there(inner)
            if found is not None:
                return found
    return None


async def recheck_source(source: Source, spec: ItemSpec) -> Changed | Gone | None:
    """List ``spec``'s version again and say what became of its file (see the module doc)."""
    where = f"{spec.repo}/{spec.package}/{spec.version}"
    try:
        files = await source.list_version_files(spec.repo, spec.package, spec.version)
    except Exception as error:
        refused = not_there(error)
        if refused is None:
            raise
        return Gone(
            f"{GONE_FROM_SOURCE}: version {where} cannot be listed any more "
            f"(deleted, renamed or made private; HTTP {refused.status})"
        )
    now = next((f for f in files if f.path == spec.path), None)
    if now is None:
        return Gone(f"{GONE_FROM_SOURCE}: {spec.path} is no longer a file of {where}")
    if (now.size, now.sha1, now.sha256) == (spec.size, spec.sha1, spec.sha256):
        return None
    return Changed(replace(spec, size=now.size, sha1=now.sha1, sha256=now.sha256))
