"""Geo and IP restrictions: read per repository from Bintray, written into the report as a
checklist for the MyJFrog portal (which is not the Artifactory API, so nothing is applied).

Bintray restricted downloads per repository, by country (an allow list *or* a block list of
ISO-3166 alpha-2 codes, Enterprise) and by source address (CIDR allow and block lists).
JFrog Cloud restricts by country for the whole platform, in MyJFrog; IP allow lists likewise.
Each restricted repository becomes one report entry (a side record of kind ``unmigratable``)
saying which list, which countries or ranges, and where to enter them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from transfer.migrate.unmigratable import Unmigratable

__all__ = ["GeoRestriction", "geo_entries", "parse_restrictions"]


def _codes(raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(sorted({str(item).strip() for item in raw if str(item).strip()}))


@dataclass(frozen=True, slots=True)
class GeoRestriction:
    """Download restrictions of one repository: countries (``allow`` *or* ``block``) and
    address ranges (``allow_cidrs``, ``block_cidrs``)."""

    repo: str
    allow: tuple[str, ...] = ()
    block: tuple[str, ...] = ()
    allow_cidrs: tuple[str, ...] = ()
    block_cidrs: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """Whether the repository restricts nothing."""
        return not (self.allow or self.block or self.allow_cidrs or self.block_cidrs)


def parse_restrictions(
    repo: str, geo: Mapping[str, Any] | None, ip: Mapping[str, Any] | None
) -> GeoRestriction:
    """A restriction from Bintray's ``geo_restrictions`` (``white_list``/``black_list``) and
    ``ip_restrictions`` (``white_cidrs``/``black_cidrs``) bodies; either may be missing."""
    geo = geo or {}
    ip = ip or {}
    return GeoRestriction(
        repo=repo,
        allow=_codes(geo.get("white_list")),
        block=_codes(geo.get("black_list")),
        allow_cidrs=_codes(ip.get("white_cidrs")),
        block_cidrs=_codes(ip.get("black_cidrs")),
    )


def _country_entry(found: GeoRestriction) -> Unmigratable:
    if found.allow:
        mode, countries = "allow", found.allow
        what = f"repository {found.repo} allowed downloads only from {', '.join(countries)}"
    else:
        mode, countries = "block", found.block
        what = f"repository {found.repo} blocked downloads from {', '.join(countries)}"
    instead = (
        "MyJFrog → Settings → Geo Restriction: choose "
        + ("'Allow only these countries'" if mode == "allow" else "'Block these countries'")
        + f" and add {', '.join(countries)}. The rule applies to the whole JFrog platform, "
        "not to one repository: reconcile it with the other repositories' lists"
    )
    return Unmigratable(
        key=f"geo-restriction/{found.repo}",
        category="geo_restriction",
        what=what,
        instead=instead,
        detail={"repository": found.repo, "mode": mode, "countries": list(countries)},
    )


def _address_entry(found: GeoRestriction) -> Unmigratable:
    parts = []
    if found.allow_cidrs:
        parts.append(f"allowed only {', '.join(found.allow_cidrs)}")
    if found.block_cidrs:
        parts.append(f"blocked {', '.join(found.block_cidrs)}")
    return Unmigratable(
        key=f"ip-restriction/{found.repo}",
        category="ip_restriction",
        what=f"repository {found.repo} {' and '.join(parts)} (source addresses)",
        instead="MyJFrog → Settings → IP Allowlist for the allowed ranges (platform wide); "
        "Artifactory has no per-repository address block list: block at your edge or CDN",
        detail={
            "repository": found.repo,
            "allow_cidrs": list(found.allow_cidrs),
            "block_cidrs": list(found.block_cidrs),
        },
    )


def geo_entries(restrictions: Iterable[GeoRestriction]) -> list[Unmigratable]:
    """The checklist: one entry per repository and kind of restriction it had."""
    entries: list[Unmigratable] = []
    for found in sorted(restrictions, key=lambda r: r.repo):
        if found.allow or found.block:
            entries.append(_country_entry(found))
        if found.allow_cidrs or found.block_cidrs:
            entries.append(_address_entry(found))
    return entries
