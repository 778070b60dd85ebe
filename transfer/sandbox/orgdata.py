"""The in-memory model of a Bintray organisation that the Bintray emulator serves.

The generator (:mod:`transfer.sandbox.generator`) builds one from a profile and a seed; the
emulator reads and mutates it. Field names follow the Bintray REST API so that rendering to
JSON stays a thin step. File bytes are never stored: a file names its ``content_key`` and the
:class:`~transfer.sandbox.content.ContentSource` produces the bytes and digests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from transfer.sandbox.content import ContentSource

__all__ = [
    "AccessKey",
    "Attribute",
    "BintrayFile",
    "BintrayPackage",
    "BintrayRepo",
    "BintrayVersion",
    "DownloadLog",
    "Entitlement",
    "Eula",
    "Member",
    "Organization",
    "Product",
    "SignedEula",
    "Team",
    "UsageThreshold",
    "User",
]


@dataclass
class Attribute:
    """A typed, multi-valued attribute: type is string, date, number, boolean or version."""

    name: str
    type: str
    values: list[Any]


@dataclass
class User:
    """A Bintray user; ``api_key`` is its Basic-auth password."""

    name: str
    full_name: str
    api_key: str
    email: str = ""
    registered: str = "2015-01-01T00:00:00.000Z"
    gravatar_id: str = ""
    gpg_public_key: str = ""  # ASCII-armored; "" when the user has none


@dataclass
class Member:
    """A user's membership of the organisation: type is owner, admin or member."""

    name: str
    type: str


@dataclass
class Team:
    """A team: its members and its permission (read, publish, admin) per repository."""

    name: str
    members: list[str]
    permitted_repos: dict[str, str]
    allow_repo_creation: bool = False
    business_unit: str = ""


@dataclass
class BintrayFile:
    """A file inside a version. ``path`` is the path inside the repository."""

    path: str
    repo: str
    package: str
    version: str
    owner: str
    size: int
    content_key: str
    kind: str = "binary"
    created: str = "2019-01-01T00:00:00.000Z"
    published: bool = True
    attributes: list[Attribute] = field(default_factory=list)
    # Debian coordinates given at upload time (deb_distribution, deb_component, deb_architecture).
    debian: dict[str, list[str]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The last path segment."""
        return self.path.rsplit("/", 1)[-1]


@dataclass
class BintrayVersion:
    """A version of a package with its files."""

    name: str
    desc: str | None = None
    labels: list[str] = field(default_factory=list)
    published: bool = True
    created: str = "2019-01-01T00:00:00.000Z"
    updated: str = "2019-01-01T00:00:00.000Z"
    released: str = ""
    ordinal: float = 0
    vcs_tag: str = ""
    github_release_notes_file: str = ""
    github_use_tag_release_notes: bool = False
    rating_count: int = 0
    attributes: list[Attribute] = field(default_factory=list)
    files: list[BintrayFile] = field(default_factory=list)
    release_notes: str = ""  # markdown; "" when the version has none


@dataclass
class DownloadLog:
    """One daily download log of a package: Apache-style lines, served gzipped."""

    name: str
    update: int  # epoch ms
    lines: list[str]


@dataclass
class BintrayPackage:
    """A package; ``versions`` is kept newest first, as Bintray lists them."""

    name: str
    desc: str | None = None
    labels: list[str] = field(default_factory=list)
    licenses: list[str] = field(default_factory=list)
    custom_licenses: list[str] = field(default_factory=list)
    vcs_url: str | None = None
    website_url: str | None = None
    issue_tracker_url: str | None = None
    github_repo: str = ""
    github_release_notes_file: str = ""
    public_download_numbers: bool = False
    public_stats: bool = True
    maturity: str = ""
    followers_count: int = 0
    rating: int = 0
    rating_count: int = 0
    created: str = "2016-01-01T00:00:00.000Z"
    updated: str = "2019-01-01T00:00:00.000Z"
    linked_to_repos: list[str] = field(default_factory=list)
    permissions: list[str] = field(default_factory=list)
    system_ids: list[str] = field(default_factory=list)
    attributes: list[Attribute] = field(default_factory=list)
    versions: list[BintrayVersion] = field(default_factory=list)
    # downloads per version name, for the (premium) statistics endpoints
    download_counts: dict[str, int] = field(default_factory=dict)
    readme: str = ""  # markdown; "" when the package has none
    release_notes: str = ""
    download_logs: list[DownloadLog] = field(default_factory=list)

    @property
    def latest_version(self) -> str | None:
        """Newest version name, or None when there is none."""
        return self.versions[0].name if self.versions else None


@dataclass
class Entitlement:
    """Access granted to access keys on a repository (optionally a path), package or version."""

    id: str
    access: str  # "r" or "rw"
    access_keys: list[str]
    repo: str
    package: str | None = None
    version: str | None = None
    path: str | None = None
    tags: list[str] = field(default_factory=list)


@dataclass
class BintrayRepo:
    """A repository and everything inside it."""

    name: str
    type: str
    private: bool = False
    premium: bool = True
    desc: str = ""
    labels: list[str] = field(default_factory=list)
    created: str = "2016-01-01T00:00:00.000Z"
    business_unit: str = ""
    gpg_sign_metadata: bool = False
    gpg_sign_files: bool = False
    gpg_use_owner_key: bool = False
    default_debian_distribution: str | None = None
    default_debian_component: str | None = None
    default_debian_architecture: str | None = None
    yum_metadata_depth: int | None = None
    yum_groups_file: str | None = None
    version_update_max_days: int | None = None
    packages: dict[str, BintrayPackage] = field(default_factory=dict)
    geo_restrictions: dict[str, list[str]] = field(
        default_factory=lambda: {"white_list": [], "black_list": []}
    )
    ip_restrictions: dict[str, list[str]] = field(
        default_factory=lambda: {"white_cidrs": [], "black_cidrs": []}
    )


@dataclass
class AccessKey:
    """An access key (Premium): authenticates as ``<id>@<org>`` with ``password``."""

    id: str
    password: str
    expiry: int | None = None  # epoch ms
    existence_check: dict[str, Any] = field(default_factory=dict)
    white_cidrs: list[str] = field(default_factory=list)
    black_cidrs: list[str] = field(default_factory=list)
    api_only: bool = True


@dataclass
class Eula:
    """A product EULA; ``versions`` are the product versions it applies to."""

    name: str
    content: str
    syntax: str = "markdown"
    created: str = "2017-01-01T00:00:00.000Z"
    versions: list[str] = field(default_factory=list)


@dataclass
class SignedEula:
    """Someone's acceptance of a EULA for one product version."""

    username: str
    eula_name: str
    product_version_name: str
    date_signed: str


@dataclass
class UsageThreshold:
    """Enterprise usage alert limits for the organisation, a repository or a business unit."""

    monthly_storage_bytes: int
    monthly_download_bytes: int
    daily_download_bytes: int
    alert_to_emails: list[str] = field(default_factory=list)
    alert_to_admins: bool = True


@dataclass
class Product:
    """A product: a named set of ``"<repo>/<package>"`` entries."""

    name: str
    display_name: str
    desc: str = ""
    created: str = "2017-01-01T00:00:00.000Z"
    website_url: str = ""
    vcs_url: str = ""
    packages: list[str] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)
    eulas: list[Eula] = field(default_factory=list)
    signed_eulas: list[SignedEula] = field(default_factory=list)


@dataclass
class Organization:
    """The whole organisation the emulator serves, plus every known user.

    ``users`` holds every user the emulator can authenticate (members and outsiders);
    ``members`` says which of them belong to the organisation and with what role.
    """

    name: str
    full_name: str
    owner: str
    seed: int
    users: dict[str, User] = field(default_factory=dict)
    members: list[Member] = field(default_factory=list)
    teams: dict[str, Team] = field(default_factory=dict)
    repos: dict[str, BintrayRepo] = field(default_factory=dict)
    access_keys: dict[str, AccessKey] = field(default_factory=dict)
    entitlements: list[Entitlement] = field(default_factory=list)
    products: dict[str, Product] = field(default_factory=dict)
    registered: str = "2016-01-01T00:00:00.000Z"
    premium: bool = True
    url_signing_key: str = "initial-signing-key"
    gpg_public_key: str = ""  # ASCII-armored; "" when the subject has none
    # "organization", "repo/<name>" or "business_unit/<name>" -> limits
    usage_thresholds: dict[str, UsageThreshold] = field(default_factory=dict)
    content: ContentSource = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.content = ContentSource(self.seed)

    def member_type(self, user: str) -> str | None:
        """owner, admin or member for a member of the organisation, else None."""
        for member in self.members:
            if member.name == user:
                return member.type
        return None

    def iter_files(self) -> Any:
        """Every file of every version of every package of every repository."""
        for repo in self.repos.values():
            for package in repo.packages.values():
                for version in package.versions:
                    yield from version.files
