"""Knobs of the Artifactory emulator, chosen where the reference is uncertain."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = ["CDN_PLANS", "CLOUD_USER_NAME", "PLANS", "PROFILES", "ArtifactoryOptions"]

PROFILES: Final = ("self-hosted", "cloud")
PLANS: Final = ("pro", "enterprise", "enterprise_plus")
CDN_PLANS: Final = frozenset({"enterprise", "enterprise_plus"})
CLOUD_USER_NAME: Final = re.compile(r"^[a-z0-9._@+-]+$")
"""JFrog Cloud's user names (terraform-provider-artifactory's user validation)."""


@dataclass(slots=True)
class ArtifactoryOptions:
    """How the emulated Artifactory behaves.

    ``base_url`` is the server root used in returned URIs (``https://art.example.com``; a trailing
    ``/artifactory`` is accepted and ignored); ``None`` derives it from each request's host.
    ``sink`` keeps only sizes and checksums (no bytes): content GETs then answer 404 saying so.
    ``token_persistency_threshold``: tokens expiring sooner (seconds) are not persisted, so they
    cannot be read, listed or revoked (Access's default, 10 800 s); 0 persists every token.
    ``metadata_patch_status``: the success status of ``PATCH /api/metadata`` (undocumented;
    200 guessed, clients must accept any 2xx).
    ``response_nulls``: deploy answers carry the members 7.x sends as ``null`` (lastModified,
    modifiedBy, lastUpdated, properties, remoteUrl, unsent original checksums), as seen from
    repo.spring.io (spring-data-build#1468); other 7.x answers omit them (False).

    ``profile`` ``cloud`` enforces JFrog Cloud's rules (reference §13): user names matching
    :data:`CLOUD_USER_NAME`, a password on every v1 user create (even with the internal password
    disabled), no API keys (neither created nor accepted), token creation by a user+password
    login only with ``token_generation_via_api`` on, and ``cdnRedirect`` kept only on a ``plan``
    in :data:`CDN_PLANS` (elsewhere it reads back false), its repositories' downloads answered
    with a redirect to a short-lived signed URL (the CDN's, in the real service).

    Refusals a long migration meets (all may be changed while serving, from a test):
    ``storage_quota_bytes`` caps the distinct binaries stored; an upload past it is refused with
    413 and Artifactory's quota message ("Datastore disk space is too high: ..."), a checksum
    deploy still links what is stored. ``max_file_size`` refuses a larger upload with 413 (JFrog
    Cloud's per-file limit; the message is a guess). ``read_only_retry_after`` puts the
    service in a maintenance window: every write answers 503 with ``Retry-After`` of that many
    seconds, reads go on.
    """

    admin_user: str = "admin"
    admin_password: str = "password"
    storage_dir: Path | None = None
    sink: bool = False
    version: str = "7.77.5"
    anonymous_access: bool = False
    hide_unauthorized: bool = False
    unknown_repo_status: int = 400
    checksum_deploy_missing_status: int = 404
    rate_limit_rps: float | None = None
    base_url: str | None = None
    max_property_value_length: int = 2400
    token_persistency_threshold: int = 10_800
    metadata_patch_status: int = 200
    response_nulls: bool = True
    profile: str = "self-hosted"
    plan: str = "enterprise_plus"
    token_generation_via_api: bool = True
    storage_quota_bytes: int | None = None
    max_file_size: int | None = None
    read_only_retry_after: int | None = None

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"unknown profile {self.profile!r}; expected one of {PROFILES}")
        if self.plan not in PLANS:
            raise ValueError(f"unknown plan {self.plan!r}; expected one of {PLANS}")

    @property
    def cloud(self) -> bool:
        """Whether JFrog Cloud's rules apply."""
        return self.profile == "cloud"

    @property
    def keeps_cdn_redirect(self) -> bool:
        """Whether ``cdnRedirect: true`` is kept (everywhere but a Cloud plan without CDN)."""
        return not self.cloud or self.plan in CDN_PLANS
