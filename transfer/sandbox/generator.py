"""Seeded Bintray organisations for the emulator: ``build_organization(profile, seed=...)``.

Profiles:

* ``tiny`` — the shape of ``demo`` in about thirty files, for tests.
* ``demo`` — a few hundred files over every repository type, messy names and values included.
* ``bench-small`` — 10,000 files of 1-64 KiB in one generic repository (``file_count``).
* ``bench-large`` — three files of 1 GiB in one generic repository (``file_size``).

Everything is a function of the seed: one ``random.Random(seed)``, timestamps offset from a fixed
epoch, secrets hashed from the seed. Digests are never computed here (content is lazy), so even
the benchmark profiles build in well under a second.
"""

from __future__ import annotations

import hashlib
import random

from transfer.sandbox.catalogue import populate
from transfer.sandbox.documents import add_documents
from transfer.sandbox.layouts import DAY_MS, KIB, Forge, iso_ms
from transfer.sandbox.orgdata import (
    AccessKey,
    BintrayRepo,
    Entitlement,
    Member,
    Organization,
    Product,
    Team,
    User,
)

__all__ = ["ORG_NAME", "PROFILES", "build_organization", "credentials"]

PROFILES: tuple[str, ...] = ("tiny", "demo", "bench-small", "bench-large")
ORG_NAME = "acme"

_BENCH_SMALL_FILES = 10_000
_BENCH_LARGE_SIZE = 1 << 30
_BENCH_LARGE_FILES = 3
_FILES_PER_VERSION = 10
_VERSIONS_PER_PACKAGE = 10
# far in the future so the emulator, which compares with the wall clock, never revokes them
_KEY_EXPIRY_MS = 2_051_222_400_000  # 2035-01-01

# name, full name, role ("" = an outsider: a known user who is not a member)
_TINY_PEOPLE = (
    ("jdoe", "Jane Doe", "owner"),
    ("bob", "Bob Müller", "admin"),
    ("eve", "Ève Lefèvre", "member"),
    ("carol", "Carol 日本", "member"),
    ("mallory", "Mallory Outsider", ""),
)
_DEMO_PEOPLE = (
    ("frank", "Frank O'Neil", "admin"),
    ("grace", "Grace Hopper", "member"),
    ("heidi", "Heidi Świątek", "member"),
    ("ivan", "Ivan Petrov", "member"),
    # names JFrog Cloud refuses as they are (upper case, a space-free but capitalised login)
    ("Ken.Adams", "Ken Adams", "member"),
    ("trent", "Trent Stranger", ""),
)


def secret(seed: int, purpose: str, name: str) -> str:
    """40 hex characters derived from the seed: API keys, passwords, entitlement ids."""
    return hashlib.sha1(f"{seed}\0{purpose}\0{name}".encode()).hexdigest()


def build_organization(
    profile: str,
    *,
    seed: int = 1,
    file_count: int | None = None,
    file_size: int | None = None,
) -> Organization:
    """Build the organisation of ``profile`` from ``seed``.

    ``file_count`` overrides the number of files of ``bench-small`` and ``file_size`` the size
    of the ``bench-large`` files; passing either to another profile is an error.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
    if file_count is not None and (profile != "bench-small" or file_count < 0):
        raise ValueError("file_count applies to the bench-small profile only and must be >= 0")
    if file_size is not None and (profile != "bench-large" or file_size < 0):
        raise ValueError("file_size applies to the bench-large profile only and must be >= 0")
    rng = random.Random(seed)
    org = Organization(name=ORG_NAME, full_name="ACME Corporation", owner="jdoe", seed=seed)
    forge = Forge(org, rng)
    org.registered = iso_ms(forge.base_ms - 30 * DAY_MS)
    demo = profile == "demo"
    _add_people(org, forge, _TINY_PEOPLE + (_DEMO_PEOPLE if demo else ()))
    if profile == "bench-small":
        _bench_small(forge, _BENCH_SMALL_FILES if file_count is None else file_count)
    elif profile == "bench-large":
        _bench_large(forge, _BENCH_LARGE_SIZE if file_size is None else file_size)
    else:
        populate(forge, demo=demo)
        _add_teams(org, demo)
        _add_access(org, demo)
        _add_products(org, demo)
        add_documents(
            org, repo="releases", package="core-lib", version="1.2.0", product="widget-suite"
        )
    return org


def credentials(org: Organization) -> dict[str, str]:
    """The owner's user name and API key: what a migration of ``org`` should log in with."""
    return {"user": org.owner, "api_key": org.users[org.owner].api_key}


def _add_people(org: Organization, forge: Forge, people: tuple[tuple[str, str, str], ...]) -> None:
    for name, full_name, role in people:
        org.users[name] = User(
            name=name,
            full_name=full_name,
            api_key=secret(org.seed, "api_key", name),
            email=f"{name}@acme.example.com",
            registered=iso_ms(forge.base_ms - forge.rng.randrange(400) * DAY_MS),
            gravatar_id=hashlib.md5(name.encode()).hexdigest(),
        )
        if role:
            org.members.append(Member(name, role))


def _add_teams(org: Organization, demo: bool) -> None:
    teams = [
        Team("dev", ["bob", "eve"], {"releases": "publish", "internal": "read"}),
        Team("ops", ["carol"], {"debs": "admin", "conan": "publish", "internal": "publish"}),
    ]
    if demo:
        teams += [
            Team(
                "qa",
                ["eve", "grace", "heidi"],
                {repo: "read" for repo in ("releases", "debs", "npm-registry", "docker")},
            ),
            Team(
                "release-eng",
                ["frank", "ivan"],
                {"npm-registry": "admin", "rpms": "publish", "nuget": "publish", "tools": "admin"},
                allow_repo_creation=True,
                business_unit="Platform & Tools",
            ),
            Team("QA Leads", ["Ken.Adams", "grace"], {"releases": "read"}),
        ]
    org.teams = {team.name: team for team in teams}


def _add_access(org: Organization, demo: bool) -> None:
    keys = [
        AccessKey(
            "customer-42",
            secret(org.seed, "access_key", "customer-42"),
            expiry=_KEY_EXPIRY_MS,
            existence_check={
                "url": "https://crm.example.com/check?u=:username",
                "cache_for_secs": 300,
            },
            white_cidrs=["127.0.0.0/8", "203.0.113.0/24"],
        ),
        AccessKey("ci-uploader", secret(org.seed, "access_key", "ci-uploader")),
    ]
    grants = [
        Entitlement("", "r", ["customer-42"], "releases", tags=["gold"]),
        Entitlement(
            "", "rw", ["ci-uploader"], "internal", path="c++ utils/0.2", tags=["ci", "uploads"]
        ),
    ]
    if demo:
        keys.append(
            AccessKey(
                "partner.portal",
                secret(org.seed, "access_key", "partner.portal"),
                black_cidrs=["198.51.100.0/24"],
                api_only=False,
            )
        )
        keys.append(AccessKey("Deploy_Bot#2", secret(org.seed, "access_key", "Deploy_Bot#2")))
        npm_package = next(iter(org.repos["npm-registry"].packages))
        grants += [
            Entitlement(
                "", "r", ["partner.portal", "customer-42"], "debs", "widget", "1.0-1", tags=["gold"]
            ),
            Entitlement("", "r", ["partner.portal"], "npm-registry", npm_package, tags=[]),
            Entitlement("", "rw", ["ci-uploader"], "tools", path="tool-00", tags=["ci", "uploads"]),
            Entitlement("", "r", ["Deploy_Bot#2"], "tools", path="tool-01", tags=[]),
        ]
    for index, grant in enumerate(grants):
        grant.id = secret(org.seed, "entitlement", str(index))
    org.access_keys = {key.id: key for key in keys}
    org.entitlements = grants


def _add_products(org: Organization, demo: bool) -> None:
    products = [
        Product(
            "widget-suite",
            "Widget Suite",
            desc="All widget deliverables",
            created=org.repos["releases"].created,
            website_url="https://acme.example.com/widget",
            packages=["releases/core-lib", "debs/widget", "conan/widget:acme"],
            versions=["1.2.0", "1.0-1"],
        )
    ]
    if demo:
        products.append(
            Product(
                "dev-tools",
                "Developer Tools (Ω edition)",
                desc="CLI, agent & boxes",
                created=org.repos["tools"].created,
                packages=["tools/tool-00", "rpms/acme-cli", "boxes/acme-dev-box"],
                versions=["1.0.0"],
            )
        )
    org.products = {product.name: product for product in products}


def _bench_repo(forge: Forge, name: str) -> BintrayRepo:
    return forge.add_repo(name, "generic", desc="Benchmark data")


def _bench_small(forge: Forge, count: int) -> None:
    """``count`` files of 1-64 KiB as packages x versions x files (100 x 10 x 10 by default)."""
    repo = _bench_repo(forge, "bench")
    rng = forge.rng
    per_package = _FILES_PER_VERSION * _VERSIONS_PER_PACKAGE
    for p in range(-(-count // per_package)):
        package = forge.add_package(repo, f"pkg-{p:04d}")
        left = min(per_package, count - p * per_package)
        for v in range(-(-left // _FILES_PER_VERSION)):
            number = f"1.0.{v}"
            version = forge.add_version(package, number)
            for f in range(min(_FILES_PER_VERSION, left - v * _FILES_PER_VERSION)):
                path = f"pkg-{p:04d}/{number}/file-{f:02d}.bin"
                forge.add_file(repo, package, version, path, rng.randint(KIB, 64 * KIB))


def _bench_large(forge: Forge, size: int) -> None:
    """Three files of ``size`` bytes (1 GiB by default) in one version."""
    repo = _bench_repo(forge, "bench-large")
    package = forge.add_package(repo, "big-files")
    version = forge.add_version(package, "1.0.0")
    for index in range(_BENCH_LARGE_FILES):
        forge.add_file(repo, package, version, f"big-files/1.0.0/blob-{index}.bin", size)
