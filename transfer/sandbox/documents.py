"""The non-file content of a seeded organisation: a readme and release notes, download logs, a
product EULA and a signature of it, a GPG public key and usage thresholds.

Small and fixed, so every profile that calls :func:`add_documents` serves the same text; none
of it is a file, so file counts do not change. The GPG key is a constant armored block (never
generated at runtime); the emulator only hands it out.
"""

from __future__ import annotations

from transfer.sandbox.orgdata import (
    DownloadLog,
    Eula,
    Organization,
    SignedEula,
    UsageThreshold,
)

__all__ = ["GPG_PUBLIC_KEY", "add_documents", "download_log"]

GPG_PUBLIC_KEY = """-----BEGIN PGP PUBLIC KEY BLOCK-----

mDMEXEcE6RYJKwYBBAHaRw8BAQdAcV0yC6JQr4nO1y0wJHfQ0d3Qj6mS9cKcq2rS
Zv1n3x20HkFDTUUgU2lnbmluZyA8c2lnbkBhY21lLmV4YW1wbGU+iJAEExYIADgW
IQRnTl0kq5pC0Xk6e3u4Yy5tKQHc9AUCXEcE6QIbAwULCQgHAgYVCgkICwIEFgID
AQIeAQIXgAAKCRC4Yy5tKQHc9N7GAP0Zx0f6b1eO7V8c0l1o5m5y0fJtY8bZ1J6k
=AcMe
-----END PGP PUBLIC KEY BLOCK-----
"""
"""A fixed armored block shaped like an Ed25519 public key (its bytes are not a usable key)."""

README = """# core-lib

The ACME core library. See the *release notes* for what changed.
"""
RELEASE_NOTES = "Every release of core-lib, newest first.\n"
VERSION_NOTES = "## 1.2.0\n\n* Spring release: faster parsing ü.\n"
EULA_TEXT = "By downloading you accept the ACME license terms."


def download_log(subject: str, repo: str, path: str, users: list[str], day: str) -> list[str]:
    """Apache-style download lines, one per user: ``ip - user [time] "GET ..." status size``."""
    return [
        f"203.0.113.{n + 7} - {user} [{day}:10:{n:02d}:00 +0000] "
        f'"GET /{subject}/{repo}/{path} HTTP/1.1" 200 1024 "-" "Maven/3.6.3"'
        for n, user in enumerate(users)
    ]


def add_documents(
    org: Organization, *, repo: str, package: str, version: str, product: str
) -> None:
    """Seed ``repo/package`` and its ``version`` (whose first file the logs show downloaded),
    the organisation, its owner and ``product`` with the documents above."""
    pkg = org.repos[repo].packages[package]
    ver = next(v for v in pkg.versions if v.name == version)
    ver.release_notes = VERSION_NOTES
    path = ver.files[0].path
    pkg.readme = README
    pkg.release_notes = RELEASE_NOTES
    pkg.download_logs = [
        DownloadLog(
            f"downloads-{day.replace('/', '-')}.log.gz",
            update,
            download_log(org.name, repo, path, users, day),
        )
        for day, update, users in (
            ("05/Nov/2020", 1604620800000, ["anonymous", org.owner]),
            ("06/Nov/2020", 1604707200000, ["anonymous"]),
        )
    ]
    target = org.products[product]
    target.eulas = [
        Eula("acme-eula", EULA_TEXT, created=target.created, versions=[version]),
    ]
    target.signed_eulas = [
        SignedEula(org.owner, "acme-eula", version, "2020-11-05T10:00:00.000Z"),
    ]
    org.gpg_public_key = GPG_PUBLIC_KEY
    org.users[org.owner].gpg_public_key = GPG_PUBLIC_KEY
    limits = UsageThreshold(
        monthly_storage_bytes=10 * 2**30,
        monthly_download_bytes=100 * 2**30,
        daily_download_bytes=5 * 2**30,
        alert_to_emails=[f"ops@{org.name}.example.com"],
    )
    org.usage_thresholds = {"organization": limits, f"repo/{repo}": limits}
    units = sorted({t.business_unit for t in org.teams.values() if t.business_unit})
    for unit in units[:1]:
        org.usage_thresholds[f"business_unit/{unit}"] = limits
