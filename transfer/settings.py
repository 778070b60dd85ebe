"""Frozen, validated settings for one migration; credentials in them are
:class:`~transfer.redaction.Secret` values.

Every settings class validates itself at construction, so a ``Settings`` value that exists is
usable: code further down never re-checks a worker count or a URL.  Problems raise
:class:`~transfer.errors.ConfigError` with a one-line message naming the offending key.

Reading a TOML file (``${VAR}`` substitution, unknown-key suggestions, relative paths) lives in
:mod:`transfer.config_load` (``load_settings``), which builds these classes; this module never
imports it back.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Final, Literal, NoReturn
from urllib.parse import urlsplit

from transfer.errors import ConfigFieldError
from transfer.redaction import REDACTED, Secret

__all__ = [
    "ARTIFACTORY_ACTIONS",
    "LdapRealm",
    "LoggingSettings",
    "PermissionMapping",
    "ReportSettings",
    "SecuritySettings",
    "Settings",
    "SourceSettings",
    "StoreSettings",
    "TargetSettings",
    "Timeouts",
    "TransferSettings",
]

KiB: Final = 1024
MiB: Final = 1024 * KiB
MAX_PROCESSES: Final = 64
"""Most copy processes one ``migrate`` starts (``transfer.processes``)."""
AUTO_PROCESSES: Final = 0
"""``transfer.processes = "auto"`` (the default): one process, and a second once the first's
event loop is what holds the copy back (:mod:`transfer.runner.copy_processes`)."""
AUTO_MAX_PROCESSES: Final = 2
"""How many processes ``"auto"`` copies with at most."""


# --------------------------------------------------------------------------- validation helpers


def _fail(key: str, problem: str) -> NoReturn:
    raise ConfigFieldError(key, problem)


def _at_least(key: str, value: float, minimum: float) -> None:
    if value < minimum:
        _fail(key, f"must be at least {minimum:g}, got {value:g}")


def _positive_or_none(key: str, value: float | None) -> None:
    if value is not None and value <= 0:
        _fail(key, f"must be greater than 0 (leave it out for no limit), got {value:g}")


def _http_url(key: str, url: str) -> str:
    """Check an http(s) URL and return it without a trailing slash."""
    if "://" not in url:
        _fail(key, f"'{url}' has no scheme — did you mean 'https://{url.lstrip('/')}'?")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        _fail(key, f"must be an http:// or https:// URL, got scheme '{parts.scheme}'")
    if not parts.hostname:
        _fail(key, f"'{url}' has no host")
    if parts.username is not None or parts.password is not None:
        _fail(key, "must not contain credentials (user:password@); use the user and secret keys")
    return url.rstrip("/")


def _globs(key: str, globs: tuple[str, ...]) -> None:
    for glob in globs:
        if not glob.strip():
            _fail(key, "must not contain empty patterns")


def _set(obj: object, name: str, value: object) -> None:
    # frozen dataclasses normalise their own fields in __post_init__ this way.
    object.__setattr__(obj, name, value)


def _meta(kind: str) -> dict[str, str]:
    """Field metadata telling the loader how to read a string value (size, duration, …)."""
    return {"kind": kind}


# --------------------------------------------------------------------------- sections


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeouts:
    """Network timeouts in seconds. ``read`` is the longest silence allowed while a body streams,
    not a limit on the whole transfer, so large files never time out while bytes keep flowing."""

    connect: float = field(default=30.0, metadata=_meta("duration"))
    read: float = field(default=120.0, metadata=_meta("duration"))

    def __post_init__(self) -> None:
        if self.connect <= 0:
            _fail("connect", f"must be greater than 0, got {self.connect:g}")
        if self.read <= 0:
            _fail("read", f"must be greater than 0, got {self.read:g}")


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceSettings:
    """Where to read from: a Bintray organisation (``subject``) and which of its content.

    ``type = "http"`` reads plain files from ``download_url`` (benchmarks); ``repos``,
    ``packages`` and ``versions`` are include globs, ``exclude_repos`` exclude globs.
    Without ``user``, Bintray clients authenticate as the subject itself.
    ``api_concurrency`` is the ceiling of Bintray API calls in flight; below it the number
    adapts by itself (more while round trips are long and steady, fewer when the service
    answers 429 or the rate-limit quota runs low), so it needs no tuning.

    ``type = "directory"`` reads a local tree ``root/<repository>/<path>``; ``manifest``
    (``path size checksum`` lines) declares checksums and ``repo_settings`` (TOML) the package
    type and description of each repository; both default to a file of that role in ``root``
    when it exists (:mod:`transfer.sources.directory`).  ``subject`` then only names the
    ``{subject}`` placeholder (default ``directory``).

    ``type = "artifactory"`` reads another Artifactory at ``url`` with ``token`` (Bearer) or
    ``user`` + ``password``, listing each repository with AQL in pages of ``aql_page_size``;
    ``subject`` is then only a name for the ``{subject}`` placeholder (default
    ``artifactory``).
    """

    type: Literal["bintray", "http", "directory", "artifactory"] = "bintray"
    api_url: str = field(default="https://api.bintray.com", metadata=_meta("url"))
    download_url: str = field(default="https://dl.bintray.com", metadata=_meta("url"))
    url: str = ""
    subject: str = ""
    user: str | None = None
    api_key: Secret | None = None
    token: Secret | None = None
    password: Secret | None = None
    aql_page_size: int = 5000
    root: Path | None = None
    manifest: Path | None = None
    repo_settings: Path | None = None
    repos: tuple[str, ...] = ("*",)
    exclude_repos: tuple[str, ...] = ()
    packages: tuple[str, ...] = ("*",)
    versions: tuple[str, ...] = ("*",)
    include_unpublished: bool = True
    file_attributes: bool = True
    page_size: int = 50
    api_concurrency: int = 256
    timeouts: Timeouts = field(default_factory=Timeouts)

    def __post_init__(self) -> None:
        if self.type == "directory":
            self._check_directory()
        elif self.type == "artifactory":
            self._check_artifactory()
        elif not self.subject.strip():
            _fail("subject", "must name the Bintray organisation (or user)")
        _set(self, "api_url", _http_url("api_url", self.api_url))
        _set(self, "download_url", _http_url("download_url", self.download_url))
        for name in ("repos", "exclude_repos", "packages", "versions"):
            _globs(name, getattr(self, name))
        _at_least("page_size", self.page_size, 1)
        _at_least("api_concurrency", self.api_concurrency, 1)

    def _check_directory(self) -> None:
        if self.root is None:
            _fail("root", 'is required with type = "directory" (the folder holding one folder '
                  "per repository)")  # fmt: skip
        if not self.subject.strip():
            _set(self, "subject", "directory")

    def _check_artifactory(self) -> None:
        if not self.url:
            _fail("url", 'is required with type = "artifactory" (the source\'s base URL, '
                  'ending in /artifactory)')  # fmt: skip
        _set(self, "url", _http_url("url", self.url))
        if not self.subject.strip():
            _set(self, "subject", "artifactory")
        if (self.token is None) == (self.password is None):
            _fail("", 'source: set one of token, password (token = "${SOURCE_TOKEN}")')
        if self.password is not None and not self.user:
            _fail("user", "is required with source.password")
        _at_least("aql_page_size", self.aql_page_size, 1)

    @property
    def login(self) -> str:
        """The user name sent with ``api_key``: ``user`` or, failing that, the subject."""
        return self.user or self.subject


_TEMPLATE_FIELDS: Final = ("repo", "subject", "type")
_REPO_KEY_LITERAL = re.compile(r"^[A-Za-z0-9._-]*$")


def _check_repo_key_template(template: str) -> None:
    key = "repo_key_template"
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        _fail(key, f"{template!r} is not a valid template: {exc}")
    names = set()
    for literal, name, spec, conversion in parsed:
        if not _REPO_KEY_LITERAL.match(literal):
            _fail(key, f"{template!r}: repository keys allow only letters, digits, '.', '_', '-'")
        if name is None:
            continue
        if name not in _TEMPLATE_FIELDS:
            allowed = "{repo}, {subject}, {type}"
            _fail(key, f"{template!r} uses unknown placeholder {{{name}}}; use {allowed}")
        if spec or conversion:
            _fail(key, f"{template!r}: placeholders take no format spec or conversion")
        names.add(name)
    if "repo" not in names:
        _fail(key, f"{template!r} must contain {{repo}} so that repositories stay apart")


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetSettings:
    """Where to write: an Artifactory base URL (``…/artifactory``) and one credential.

    Exactly one of ``password`` (needs ``user``), ``token`` (Bearer) or ``api_key`` (Basic with
    ``user``, else ``X-JFrog-Art-Api``) is required for Artifactory. ``type = "webdav"`` is a
    plain PUT target (no Artifactory-only calls; at most one credential), used by benchmarks.
    ``conflict`` says what to do when the target holds a different file at the same path.
    ``suppress_pom_consistency_checks`` is set on the Maven repositories the migration creates:
    Artifactory then keeps a POM whose coordinates do not match its path (sbt plugins) as it was.
    ``probe_created_repositories = false`` skips asking the target what a path holds in the
    repositories this migration created (one request less per file), at the price of
    overwriting a file someone else put there between their creation and the copy.
    ``folder_listing_max_age`` is how long one listing of a folder answers what each path in it
    holds (one request for the files of a version instead of a ``HEAD`` each); 0 probes each
    path with its own ``HEAD``, right before it is written.
    """

    type: Literal["artifactory", "webdav"] = "artifactory"
    url: str = field(metadata=_meta("url"))
    user: str | None = None
    password: Secret | None = None
    token: Secret | None = None
    api_key: Secret | None = None
    repo_key_template: str = "{repo}"
    verify_tls: bool = True
    ca_bundle: Path | None = None
    min_checksum_deploy_size: int = field(default=10 * KiB, metadata=_meta("size"))
    conflict: Literal["report", "skip", "overwrite", "fail"] = "report"
    suppress_pom_consistency_checks: bool = True
    probe_created_repositories: bool = True
    folder_listing_max_age: float = field(default=10.0, metadata=_meta("duration"))
    timeouts: Timeouts = field(default_factory=Timeouts)

    def __post_init__(self) -> None:
        _set(self, "url", _http_url("url", self.url))
        given = [n for n in ("password", "token", "api_key") if getattr(self, n) is not None]
        if len(given) > 1:
            _fail("", f"target: set only one of password, token, api_key (got {', '.join(given)})")
        if not given and self.type == "artifactory":
            _fail(
                "", 'target: set one of password, token, api_key (token = "${ARTIFACTORY_TOKEN}")'
            )
        if self.password is not None and not self.user:
            _fail("user", "is required with target.password")
        _check_repo_key_template(self.repo_key_template)
        _at_least("min_checksum_deploy_size", self.min_checksum_deploy_size, 0)
        _at_least("folder_listing_max_age", self.folder_listing_max_age, 0)


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferSettings:
    """How hard to push: concurrency, chunking, leases, retries and stop limits.

    ``workers`` is the ceiling of copies in flight, not a number to tune: a run starts with 8,
    doubles per round until the first 429/503 or sign of queueing (slow start) and adapts
    below the ceiling by itself, more while copies of small files take no longer
    than round trips (a distant service: 100 ms per call makes each copy wait on three), fewer
    when a service answers 429/503. The default ceiling, 128, is what 600 small files/s need
    at about 200 ms per copy; lower it to cap memory or the load on the services.

    Memory budget (STYLE #4). Bytes stream from the download into the upload, so what is held
    in memory is bounded by::

        in-flight bytes ≈ copies in flight × (chunk_size × 2 + read-ahead + socket buffers)
                          + queue_size × item record size,   copies in flight ≤ workers

    Each copy holds less than two ``chunk_size`` of pieces (each at most ``chunk_size``): the
    batch being hashed and handed to the upload, which the upload may not yet have written out.
    The read-ahead is what aiohttp keeps unread before it pauses the download socket: twice
    its ``read_bufsize`` of 1 MiB (:data:`transfer.http.client.STREAM_READ_BUFFER`). Socket
    buffers are the kernel's receive buffer of the download and send buffer of the upload,
    estimated at 256 KiB per copy (Linux autotuning can grow them on fast, distant links). A
    queued work item (a file record, not its bytes) is about 1 KiB. A small file holds no
    more than its own size, so the bound is reached only when every copy in flight is a
    large file. At the ceiling with
    the defaults (128 workers, 1 MiB chunks, queue of 256)::

        128 × (2 × 1 MiB + 2 MiB + 256 KiB) + 256 × 1 KiB = 557,312 KiB ≈ 544 MiB

    :meth:`memory_estimate` computes the same formula at the ceiling. ``queue_size = 0`` means
    twice ``workers``.

    ``processes`` is how many processes copy files. One process spends about one core at
    400-700 MB/s of large files (hashing and socket work), or at 600-700 small files a second
    across a WAN; to use more cores, ``migrate`` starts ``processes - 1`` copy processes beside
    itself, each with up to ``workers`` copies in flight and its share of the files
    (:class:`~transfer.checkpoint.base.Share`). The bandwidth cap is split between them;
    ``max_transfer`` counts all their bytes (``migrate`` stops them all); the memory above is
    per process (:meth:`memory_estimate` is all of them). ``"auto"`` (the default,
    :data:`AUTO_PROCESSES` here) starts with one and adds a second once the first's event loop
    has been busy for a few seconds with files waiting and half a core of the machine idle,
    room for both in a quarter of its memory and no bandwidth cap
    (:mod:`transfer.runner.copy_processes`); :meth:`memory_estimate` counts the one.
    """

    workers: int = 128
    processes: int = field(default=AUTO_PROCESSES, metadata=_meta("processes"))
    queue_size: int = 0
    chunk_size: int = field(default=1 * MiB, metadata=_meta("size"))
    claim_batch: int = 64
    lease_seconds: float = field(default=300.0, metadata=_meta("duration"))
    max_attempts: int = 6
    backoff_base: float = field(default=0.5, metadata=_meta("duration"))
    backoff_max: float = field(default=30.0, metadata=_meta("duration"))
    breaker_threshold: int = 10
    bandwidth_limit: int | None = field(default=None, metadata=_meta("rate"))
    max_transfer: int | None = field(default=None, metadata=_meta("size"))
    max_duration: float | None = field(default=None, metadata=_meta("duration"))

    BUFFERS_PER_STREAM: ClassVar[int] = 2
    READ_AHEAD: ClassVar[int] = 2 * MiB
    SOCKET_BUFFERS: ClassVar[int] = 256 * KiB
    ITEM_RECORD_SIZE: ClassVar[int] = 1 * KiB

    def __post_init__(self) -> None:
        _at_least("workers", self.workers, 1)
        if self.processes < AUTO_PROCESSES:
            _fail("processes", f'must be "auto" or at least 1, got {self.processes}')
        if self.processes > MAX_PROCESSES:
            _fail("processes", f"must be at most {MAX_PROCESSES}, got {self.processes}")
        _at_least("queue_size", self.queue_size, 0)
        if self.queue_size == 0:
            _set(self, "queue_size", 2 * self.workers)
        _at_least("chunk_size", self.chunk_size, 1)
        _at_least("claim_batch", self.claim_batch, 1)
        if self.lease_seconds <= 0:
            _fail("lease_seconds", f"must be greater than 0, got {self.lease_seconds:g}")
        _at_least("max_attempts", self.max_attempts, 1)
        _at_least("backoff_base", self.backoff_base, 0)
        if self.backoff_max < self.backoff_base:
            _fail("backoff_max", f"must be at least backoff_base ({self.backoff_base:g})")
        _at_least("breaker_threshold", self.breaker_threshold, 0)
        _positive_or_none("bandwidth_limit", self.bandwidth_limit)
        _positive_or_none("max_transfer", self.max_transfer)
        _positive_or_none("max_duration", self.max_duration)

    def memory_estimate(self) -> int:
        """Approximate peak in-flight bytes of all copy processes together, by the formula in
        the class docstring."""
        per_worker = (
            self.chunk_size * self.BUFFERS_PER_STREAM + self.READ_AHEAD + self.SOCKET_BUFFERS
        )
        per_process = self.workers * per_worker + self.queue_size * self.ITEM_RECORD_SIZE
        return max(self.processes, 1) * per_process

    @property
    def auto_processes(self) -> bool:
        """``processes = "auto"``: a second process joins when the first is saturated."""
        return self.processes == AUTO_PROCESSES

    def room_for_auto_processes(self, physical: int | None) -> bool:
        """Whether the :data:`AUTO_MAX_PROCESSES` of ``"auto"`` together stay within a
        quarter of ``physical`` bytes of memory (where the estimate would be warned about);
        unknown memory allows them."""
        return physical is None or AUTO_MAX_PROCESSES * self.memory_estimate() <= physical // 4


def physical_memory() -> int | None:
    """This machine's memory in bytes (``None`` where the platform does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


_PG_SCHEMES: Final = ("postgresql", "postgres")


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreSettings:
    """The checkpoint store: a SQLite file (``path``) or PostgreSQL (``url``, which wins).

    A PostgreSQL URL never carries a password: it comes from ``password`` (a ``Secret``, from
    the environment), ``PGPASSWORD`` or ``~/.pgpass``. ``run`` names the run inside the store.
    """

    path: Path = Path("transfer-state.db")
    url: str | None = field(default=None, metadata=_meta("dsn"))
    password: Secret | None = None
    run: str = "default"
    outage_timeout: float = field(default=300.0, metadata=_meta("duration"))
    """How long a PostgreSQL store that went away mid-run is waited for (workers pause and
    reconnect with backoff) before the run stops with exit 3, resumable."""

    def __post_init__(self) -> None:
        _at_least("outage_timeout", self.outage_timeout, 0)
        if self.url is not None:
            parts = urlsplit(self.url)
            if parts.scheme not in _PG_SCHEMES:
                _fail("url", f"must start with postgresql://, got scheme '{parts.scheme}'")
            if parts.password is not None:
                _fail("url", "must not contain a password — use PGPASSWORD or ${VAR}")
        if not self.run.strip():
            _fail("run", "must not be empty")

    @property
    def backend(self) -> Literal["sqlite", "postgres"]:
        """Which store implementation these settings select."""
        return "sqlite" if self.url is None else "postgres"


ARTIFACTORY_ACTIONS: Final = frozenset(
    {"read", "annotate", "write", "delete", "manage", "managedXrayMeta", "distribute"}
)
"""Permission target actions Artifactory understands (v2 names)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PermissionMapping:
    """Artifactory actions granted for each Bintray team permission on a repository."""

    read: tuple[str, ...] = ("read",)
    publish: tuple[str, ...] = ("read", "annotate", "write", "delete")
    admin: tuple[str, ...] = ("read", "annotate", "write", "delete", "manage")

    def __post_init__(self) -> None:
        for name in ("read", "publish", "admin"):
            for action in getattr(self, name):
                if action not in ARTIFACTORY_ACTIONS:
                    known = ", ".join(sorted(ARTIFACTORY_ACTIONS))
                    _fail(name, f"has unknown action {action!r}; use {known}")

    def actions_for(self, permission: str) -> tuple[str, ...]:
        """Actions for a Bintray permission (``read``/``publish``/``admin``); unknown → none."""
        return {"read": self.read, "publish": self.publish, "admin": self.admin}.get(
            permission.lower(), ()
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class LdapRealm:
    """How migrated groups are bound to LDAP when ``security.ldap`` is on: the group realm and
    the key used in the group's realm attributes (``ldapGroupName=<team>``)."""

    realm: str = "ldap"
    group_attribute: str = "ldapGroupName"


@dataclass(frozen=True, slots=True, kw_only=True)
class SecuritySettings:
    """Users, groups, permission targets and tokens (the security phase).

    With ``sso`` off, migrated users get a generated password, written to ``secrets_file``
    (mode 0600); with it on, internal passwords are disabled. ``token_expiry`` is in seconds
    (0: never, admin only). Bintray does not reveal members' e-mail addresses, yet Artifactory
    needs one per user: migrated users get ``<name>@<email_domain>`` (the default, a reserved
    ``.invalid`` domain, can never deliver mail; users correct it in their profile).
    """

    ldap: bool = False
    ldap_realm: LdapRealm = field(default_factory=LdapRealm)
    sso: bool = False
    create_tokens_for_access_keys: bool = False
    token_expiry: int = field(default=365 * 86400, metadata=_meta("duration"))
    permissions: PermissionMapping = field(default_factory=PermissionMapping)
    secrets_file: Path = Path("transfer-secrets.json")
    email_domain: str = "users.invalid"

    def __post_init__(self) -> None:
        _at_least("token_expiry", self.token_expiry, 0)
        domain = self.email_domain.strip()
        if not domain or "@" in domain or any(c.isspace() for c in domain) or "." not in domain:
            _fail("email_domain", f"must be a domain such as 'example.com', got {domain!r}")
        _set(self, "email_domain", domain.lower())


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportSettings:
    """Where the migration report (JSON + Markdown) is written."""

    output_dir: Path = Path("transfer-report")


@dataclass(frozen=True, slots=True, kw_only=True)
class LoggingSettings:
    """Log level of the console (and JSON file), and an optional JSON-lines log file."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    json_file: Path | None = None


SECTIONS: Final[dict[str, type]] = {
    "source": SourceSettings,
    "target": TargetSettings,
    "transfer": TransferSettings,
    "store": StoreSettings,
    "security": SecuritySettings,
    "report": ReportSettings,
    "logging": LoggingSettings,
}
"""Top-level TOML tables and the settings class each one builds."""


_FINGERPRINT_KEYS: Final = {
    "source": ("type", "api_url", "download_url", "url", "subject", "root", "repos",
               "exclude_repos",
               "packages", "versions", "include_unpublished"),
    "target": ("type", "url", "repo_key_template", "conflict"),
}  # fmt: skip
"""What decides which files are transferred and where they land (secrets never included)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything one run needs. Built once at the edge and passed down explicitly.

    ``warnings`` lists advice found while loading (secrets written inline, TLS checks off)
    for the CLI to print.
    """

    source: SourceSettings
    target: TargetSettings
    transfer: TransferSettings = field(default_factory=TransferSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    report: ReportSettings = field(default_factory=ReportSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    config_path: Path | None = None
    base_dir: Path = Path()
    warnings: tuple[str, ...] = ()

    def fingerprint(self) -> str:
        """A stable hash of the non-secret settings that decide *what* is transferred, and
        where to: a resumed run whose fingerprint changed was started with another config."""
        decisive = {
            f"{section}.{name}": _plain(getattr(getattr(self, section), name))
            for section, names in _FINGERPRINT_KEYS.items()
            for name in names
        }
        blob = json.dumps(decisive, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()

    def redacted_dict(self) -> dict[str, Any]:
        """The effective settings as plain JSON-able data, every secret shown as ``***``."""
        return {k: v for k, v in _plain(self).items() if k != "warnings"}

    def secrets(self) -> tuple[Secret, ...]:
        """Every secret in these settings, e.g. to register them for log redaction."""
        found: list[Secret] = []
        _collect_secrets(self, found)
        return tuple(found)


def _plain(value: Any) -> Any:
    if isinstance(value, Secret):
        return REDACTED
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _collect_secrets(value: Any, found: list[Secret]) -> None:
    if isinstance(value, Secret):
        found.append(value)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            _collect_secrets(getattr(value, f.name), found)
