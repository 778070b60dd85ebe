"""Knobs of the Artifactory emulator, chosen where the reference is uncertain."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["ArtifactoryOptions"]


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
