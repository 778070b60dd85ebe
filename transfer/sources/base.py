"""What the engine needs from a source of files: the :class:`Source` protocol and its data.

A source lists repositories, packages, versions and files, reads their attributes, opens
downloads, and reads the organisation around them (members, teams, access keys...).  Bintray is
the first implementation (:mod:`transfer.sources.bintray`); others (a Bintray export on disk)
can follow without touching the pipeline.

Reading what the plan or the caller's rights do not allow
---------------------------------------------------------
Organisation-level reads (teams, permissions, access keys, entitlements, products, geo/IP
restrictions) are features that some plans lack and that need admin rights.  When the server
refuses one of them with 403 (but not an exhausted rate limit), or with Bintray's 400 "not
allowed for none-premium subject", the call returns a :class:`Restricted` marker instead of
raising, so a crawl records what could not be read and carries on.  Every other error raises
(401 :class:`~transfer.errors.AuthError` always does).  Fields the server hides from a caller
without enough rights (member ``type``, the org's ``teams``) are simply absent from the raw
dicts; :func:`hidden_fields` names them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from types import TracebackType
from typing import Any, Literal, Protocol, TypeAlias, TypeVar, runtime_checkable

from transfer.models import SourceFile

__all__ = [
    "AttributeKind",
    "Download",
    "ListsSkipped",
    "NoAttributes",
    "Readable",
    "Restricted",
    "SkippedFile",
    "Source",
    "SourceAttribute",
    "SourcePackage",
    "SourceRepository",
    "SourceVersion",
    "hidden_fields",
    "matches_globs",
    "normalize_attribute_type",
    "normalize_repo_type",
    "parse_bool",
]

AttributeKind = Literal["package", "version", "file"]
"""What an attribute belongs to."""

_REPO_TYPE_ALIASES = {"deb": "debian"}


def matches_globs(name: str, include: Iterable[str], exclude: Iterable[str] = ()) -> bool:
    """Whether ``name`` matches an ``include`` glob and no ``exclude`` glob (case-sensitive
    fnmatch, as the repository/package/version filters of every source use them)."""
    return any(fnmatchcase(name, p) for p in include) and not any(
        fnmatchcase(name, p) for p in exclude
    )


def normalize_repo_type(value: object) -> str:
    """A repository type in lower case, with Bintray's ``deb`` spelled ``debian``; default
    ``generic`` (Bintray's own default) when missing."""
    text = str(value).strip().lower() if value not in (None, "") else "generic"
    return _REPO_TYPE_ALIASES.get(text, text)


def normalize_attribute_type(value: object) -> str:
    """An attribute type in lower case (file attributes come back as ``STRING``); ``string``
    when missing, as Bintray infers."""
    text = str(value).strip().lower() if value not in (None, "") else "string"
    return text


def parse_bool(value: object, *, default: bool = False) -> bool:
    """``True``/``False`` from a JSON bool, ``"true"``/``"false"``, ``1``/``0``; ``default``
    for anything else (``null`` included)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no"):
            return False
    return default


@dataclass(frozen=True, slots=True)
class Restricted:
    """A read the server refused (plan lacks the feature, or not enough rights).

    ``what`` names the read (``"teams"``, ``"entitlements of releases"``), ``status`` is the
    HTTP status and ``message`` the server's text, ready for the migration report.
    """

    what: str
    status: int
    message: str


T = TypeVar("T")
Readable: TypeAlias = T | Restricted
"""A value, or the :class:`Restricted` marker saying why it could not be read."""


@dataclass(frozen=True, slots=True)
class SourceRepository:
    """One repository: normalised fields plus the raw JSON (unknown keys kept)."""

    name: str
    type: str
    private: bool
    desc: str
    labels: tuple[str, ...]
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True, slots=True)
class SourceAttribute:
    """A typed, multi-valued attribute; ``type`` is lower case, ``values`` always a list."""

    name: str
    type: str
    values: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class SourcePackage:
    """One package: its versions (as the source orders them) and the raw JSON.

    ``linked`` means the package was only linked into ``repo``: another repository,
    :attr:`owner_repo`, owns it and holds its files.
    """

    repo: str
    name: str
    versions: tuple[str, ...]
    linked: bool = False
    attributes: tuple[SourceAttribute, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def owner_repo(self) -> str:
        """The repository that owns the package (``repo`` unless it is linked)."""
        owner = self.raw.get("repo")
        return owner if self.linked and isinstance(owner, str) and owner else self.repo


@dataclass(frozen=True, slots=True)
class SourceVersion:
    """One version of a package; ``published`` is normalised to a bool."""

    repo: str
    package: str
    name: str
    published: bool
    attributes: tuple[SourceAttribute, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)


class Download(Protocol):
    """An open download: read its body with :meth:`chunks` exactly once."""

    @property
    def size(self) -> int | None:
        """``Content-Length`` of the body, or ``None`` when the server did not say."""
        ...

    @property
    def url(self) -> str:
        """The URL the bytes finally came from (after redirects), credentials redacted."""
        ...

    def chunks(self, chunk_size: int) -> AsyncIterator[bytes]:
        """The body in pieces of at most ``chunk_size`` bytes; transport failures raise
        :class:`~transfer.errors.TransientError`."""
        ...


@runtime_checkable
class Source(Protocol):
    """A place files are copied from.  Open it with ``async with`` before use."""

    async def __aenter__(self) -> Source: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def list_repositories(self) -> list[SourceRepository]:
        """Every repository the filters keep, with its details."""
        ...

    def iter_packages(self, repo: str) -> AsyncIterator[str]:
        """Names of the packages of ``repo`` the filters keep, page by page, each once."""
        ...

    async def get_package(self, repo: str, name: str) -> SourcePackage:
        """One package with its version names and attributes."""
        ...

    async def get_version(self, repo: str, package: str, version: str) -> SourceVersion:
        """One version with its attributes."""
        ...

    async def list_version_files(self, repo: str, package: str, version: str) -> list[SourceFile]:
        """The files of one version (unpublished ones too when configured)."""
        ...

    async def get_attributes(
        self,
        kind: AttributeKind,
        repo: str,
        package: str = "",
        version: str = "",
        path: str = "",
    ) -> list[SourceAttribute]:
        """Attributes of a package, a version (``package`` + ``version``) or a file (``path``)."""
        ...

    def open_download(self, file: SourceFile) -> AbstractAsyncContextManager[Download]:
        """Open the body of ``file`` for streaming (redirects followed)."""
        ...


@dataclass(frozen=True, slots=True)
class SkippedFile:
    """Something a source saw but will not hand out (a symbolic link, a FIFO, an unreadable
    file, a name that is not UTF-8), and why; ``path`` is relative to the repository (``""``:
    the repository itself), printable even when the name on disk is not."""

    repo: str
    path: str
    reason: str


@runtime_checkable
class ListsSkipped(Protocol):
    """A source that leaves some entries out of its listing and says which (for the report)."""

    def skipped_files(self) -> list[SkippedFile]:
        """Every entry left out by the listing so far, each once."""
        ...


class NoAttributes:
    """Mixin for a source whose content carries no attributes (plain files, properties that
    travel with each file): :meth:`Source.get_attributes` answers nothing."""

    async def get_attributes(
        self,
        kind: AttributeKind,
        repo: str,
        package: str = "",
        version: str = "",
        path: str = "",
    ) -> list[SourceAttribute]:
        """Nothing: this source has no attributes to read."""
        return []


_ORG_ADMIN_FIELDS = ("teams", "quota_used_bytes")


def hidden_fields(org: Mapping[str, Any]) -> list[str]:
    """Organisation fields Bintray shows only to admins that are missing from ``org``.

    ``members[].type`` counts as hidden when any member lacks it.
    """
    hidden = [name for name in _ORG_ADMIN_FIELDS if name not in org]
    members = org.get("members")
    if isinstance(members, Sequence) and any(
        not isinstance(m, Mapping) or "type" not in m for m in members
    ):
        hidden.append("members.type")
    return hidden
