"""Signed URLs: Artifactory signed URLs for Bintray ones, for files this migration moved."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from transfer.errors import ConfigError
from transfer.migrate.signed_urls import (
    SignedUrl,
    sign_urls,
    write_signed_url_map,
)
from transfer.runner.wiring import (
    open_store,
    open_target,
)
from transfer.settings import Settings


@dataclass(frozen=True, slots=True)
class SignedUrlsResult:
    """Signed URLs created (or refused) and where their map was written."""

    results: list[SignedUrl]
    csv_path: Path
    json_path: Path

    @property
    def refused(self) -> int:
        """Requests that got no signed URL."""
        return sum(1 for r in self.results if not r.ok)


async def signed_urls(
    settings: Settings, requests: Sequence[str], *, valid_for: int, out_dir: Path | None = None
) -> SignedUrlsResult:
    """Artifactory signed URLs for the migrated files ``requests`` name (Bintray URLs or
    paths), valid ``valid_for`` seconds; the old → new map goes to ``out_dir``."""
    async with open_store(settings, readonly=True) as store, open_target(settings) as target:
        if target.admin is None:
            raise ConfigError("signed URLs need a target with an admin API (artifactory)")
        results = await sign_urls(
            requests,
            store,
            target.admin,
            subject=settings.source.subject,
            target_url=settings.target.url,
            valid_for_secs=valid_for,
        )
    csv_path, json_path = await write_signed_url_map(
        results, out_dir or settings.report.output_dir, valid_for_secs=valid_for
    )
    return SignedUrlsResult(results, csv_path, json_path)
