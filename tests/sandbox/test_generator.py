"""The seeded organisation generator: determinism, invariants, profile shapes, awkward data."""

from __future__ import annotations

import dataclasses
import functools
import re
import time
from collections import Counter, defaultdict
from typing import Any

import pytest

from transfer.sandbox.awkward import check_path
from transfer.sandbox.generator import ORG_NAME, PROFILES, build_organization, credentials
from transfer.sandbox.orgdata import Attribute, BintrayFile, Organization

KIB = 1024
MIB = 1024 * KIB
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
SMALL_BENCH = {"file_count": 237}


@pytest.fixture
def tiny() -> Organization:
    return build("tiny")


@pytest.fixture
def demo() -> Organization:
    return build("demo")


def snapshot(org: Organization) -> dict[str, Any]:
    """Everything in the organisation but the content source (which holds a lock)."""
    return {
        f.name: _plain(getattr(org, f.name)) for f in dataclasses.fields(org) if f.name != "content"
    }


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def all_files(org: Organization) -> list[BintrayFile]:
    return list(org.iter_files())


def all_attributes(org: Organization) -> dict[str, list[Attribute]]:
    """Attributes per level: package, version, file."""
    levels: dict[str, list[Attribute]] = defaultdict(list)
    for repo in org.repos.values():
        for package in repo.packages.values():
            levels["package"] += package.attributes
            for version in package.versions:
                levels["version"] += version.attributes
                for file in version.files:
                    levels["file"] += file.attributes
    return levels


def fresh(profile: str) -> Organization:
    """A newly built organisation of ``profile`` (small overrides for the bench profiles)."""
    if profile == "bench-large":
        return build_organization(profile, file_size=5 * KIB)
    if profile == "bench-small":
        return build_organization(profile, **SMALL_BENCH)
    return build_organization(profile)


@functools.cache
def build(profile: str) -> Organization:
    """A shared, read-only organisation of ``profile``: tests must not mutate it."""
    return fresh(profile)


# --- API edges ------------------------------------------------------------------------------


def test_unknown_profile_is_a_clear_value_error() -> None:
    with pytest.raises(ValueError, match=r"unknown profile 'huge'.*tiny, demo"):
        build_organization("huge")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"profile": "demo", "file_count": 5},
        {"profile": "tiny", "file_size": 5},
        {"profile": "bench-small", "file_count": -1},
        {"profile": "bench-large", "file_size": -1},
    ],
)
def test_overrides_are_refused_where_they_do_not_apply(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="file_"):
        build_organization(**kwargs)


@pytest.mark.parametrize("profile", PROFILES)
def test_every_profile_builds_quickly(profile: str) -> None:
    started = time.perf_counter()
    org = (
        build_organization(profile, file_size=KIB)
        if profile == "bench-large"
        else build_organization(profile)
    )
    # generous for a loaded 2-core machine; most of it is the content source's set-up
    assert time.perf_counter() - started < 2.0
    assert org.name == ORG_NAME
    assert all_files(org)


def test_credentials_are_the_owner_api_key(tiny: Organization) -> None:
    creds = credentials(tiny)
    assert creds["user"] == tiny.owner
    assert tiny.member_type(creds["user"]) in {"owner", "admin"}
    assert creds["api_key"] == tiny.users[tiny.owner].api_key
    assert re.fullmatch(r"[0-9a-f]{40}", creds["api_key"])


# --- determinism ----------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["tiny", "demo", "bench-small"])
def test_same_seed_gives_identical_organisations(profile: str) -> None:
    first, second = fresh(profile), fresh(profile)
    assert snapshot(first) == snapshot(second)
    for a, b in list(zip(all_files(first), all_files(second), strict=True))[::29][:8]:
        assert first.content.digests(a.content_key, a.size, kind=a.kind) == second.content.digests(
            b.content_key, b.size, kind=b.kind
        )


def test_different_seed_gives_different_organisations(tiny: Organization) -> None:
    other = build_organization("tiny", seed=2)
    assert snapshot(other) != snapshot(tiny)
    assert credentials(other)["api_key"] != credentials(tiny)["api_key"]
    assert [f.size for f in all_files(other)] != [f.size for f in all_files(tiny)]
    file = next(f for f in all_files(tiny) if f.size > 0)
    assert tiny.content.digests(file.content_key, file.size) != other.content.digests(
        file.content_key, file.size
    )


# --- invariants -----------------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_containment_ordering_and_uniqueness(profile: str) -> None:
    org = build(profile)
    for repo in org.repos.values():
        paths: set[str] = set()
        assert ISO.match(repo.created)
        for name, package in repo.packages.items():
            assert package.name == name
            assert package.latest_version == package.versions[0].name
            ordinals = [v.ordinal for v in reversed(package.versions)]
            assert ordinals == sorted(ordinals)
            assert len(set(ordinals)) == len(ordinals)
            created = [v.created for v in reversed(package.versions)]
            assert created == sorted(created)
            assert package.created <= created[0]
            assert package.updated == package.versions[0].updated
            assert set(package.download_counts) <= {v.name for v in package.versions}
            for version in package.versions:
                assert ISO.match(version.created)
                assert ISO.match(version.updated)
                assert version.released == "" or ISO.match(version.released)
                for file in version.files:
                    assert (file.repo, file.package, file.version, file.owner) == (
                        repo.name,
                        package.name,
                        version.name,
                        org.name,
                    )
                    assert ISO.match(file.created)
                    assert file.kind in {"binary", "text"}
                    assert check_path(file.path) == file.path
                    assert file.path not in paths
                    paths.add(file.path)


@pytest.mark.parametrize("profile", ["tiny", "demo"])
def test_people_keys_and_products_reference_what_exists(profile: str) -> None:
    org = build(profile)
    members = {m.name for m in org.members}
    assert members <= set(org.users)
    assert Counter(m.type for m in org.members).keys() == {"owner", "admin", "member"}
    assert org.member_type(org.owner) == "owner"
    assert set(org.users) - members, "an outsider user who is not a member"
    for team in org.teams.values():
        assert set(team.members) <= members
        assert team.permitted_repos
        assert set(team.permitted_repos) <= set(org.repos)
        assert set(team.permitted_repos.values()) <= {"read", "publish", "admin"}
    assert len(org.access_keys) >= 2
    for key in org.access_keys.values():
        assert re.fullmatch(r"[0-9a-f]{40}", key.password)
    assert any(e.access == "r" and not (e.package or e.path) for e in org.entitlements)
    assert any(e.access == "rw" and e.path for e in org.entitlements)
    for ent in org.entitlements:
        assert re.fullmatch(r"[0-9a-f]{40}", ent.id)
        assert set(ent.access_keys) <= set(org.access_keys)
        repo = org.repos[ent.repo]
        if ent.package is not None:
            package = repo.packages[ent.package]
            if ent.version is not None:
                assert ent.version in {v.name for v in package.versions}
                assert repo.type != "maven", "no version entitlements on Maven repositories"
        if ent.path is not None:
            files = [f.path for p in repo.packages.values() for v in p.versions for f in v.files]
            assert any(f == ent.path or f.startswith(ent.path + "/") for f in files)
    assert len({e.id for e in org.entitlements}) == len(org.entitlements)
    assert org.products
    for product in org.products.values():
        for entry in product.packages:
            repo_name, package_name = entry.split("/", 1)
            assert package_name in org.repos[repo_name].packages
        names = {
            v.name
            for entry in product.packages
            for v in org.repos[entry.split("/", 1)[0]].packages[entry.split("/", 1)[1]].versions
        }
        assert set(product.versions) <= names


# --- shapes ---------------------------------------------------------------------------------


def test_tiny_is_small(tiny: Organization) -> None:
    assert 3 <= len(tiny.repos) <= 4
    assert 25 <= len(all_files(tiny)) <= 40


def test_demo_shape(demo: Organization) -> None:
    files = all_files(demo)
    sizes = [f.size for f in files]
    assert 300 <= len(files) <= 500
    assert sum(sizes) < 60 * 1000 * 1000
    types = {r.type for r in demo.repos.values()}
    assert {"maven", "debian", "npm", "rpm", "nuget", "conan", "docker", "generic"} <= types
    assert types & {"opkg", "vagrant"}
    assert max(len(r.packages) for r in demo.repos.values()) > 50
    assert {f.kind for f in files} == {"binary", "text"}
    assert sizes.count(0) >= 2
    assert 2 <= sum(MIB <= s <= 3 * MIB for s in sizes) <= 6
    assert max(sizes) <= 3 * MIB
    assert sum(KIB // 5 <= s <= 200 * KIB for s in sizes) > 0.9 * len(files)
    assert any(r.private for r in demo.repos.values())
    assert any(
        r.geo_restrictions["white_list"] or r.geo_restrictions["black_list"]
        for r in demo.repos.values()
    )
    assert any(r.ip_restrictions["white_cidrs"] for r in demo.repos.values())
    assert all(p.download_counts for r in demo.repos.values() for p in r.packages.values())
    longest = max(len(str(v)) for a in all_attributes(demo)["package"] for v in a.values)
    assert longest > 2400


def test_bench_small_default_is_ten_thousand_small_files() -> None:
    org = build_organization("bench-small")
    files = all_files(org)
    assert len(files) == 10_000
    assert all(KIB <= f.size <= 64 * KIB for f in files)
    assert len({f.content_key for f in files}) == 10_000
    (repo,) = org.repos.values()
    assert repo.type == "generic"
    assert len(repo.packages) == 100
    assert all(len(p.versions) == 10 for p in repo.packages.values())


@pytest.mark.parametrize("count", [0, 1, 10, 237, 1000])
def test_bench_small_file_count_override(count: int) -> None:
    assert len(all_files(build_organization("bench-small", file_count=count))) == count


def test_bench_large_is_three_one_gib_files_unless_overridden() -> None:
    assert [f.size for f in all_files(build_organization("bench-large"))] == [1 << 30] * 3
    org = build_organization("bench-large", file_size=4 * KIB)
    files = all_files(org)
    assert [f.size for f in files] == [4 * KIB] * 3
    assert len(org.content.read(files[0].content_key, files[0].size)) == 4 * KIB


# --- awkward cases --------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["tiny", "demo"])
def test_awkward_cases_are_present(profile: str) -> None:
    org = build(profile)
    files = all_files(org)
    paths = " ".join(f.path for f in files)
    for char in (" ", "+", ":", "%", "@", "~", "(", ")", "é", "日本"):
        assert char in paths, char
    names = [p.name for r in org.repos.values() for p in r.packages.values()]
    versions = [v.name for r in org.repos.values() for p in r.packages.values() for v in p.versions]
    assert any(" " in n for n in names)
    assert any(":" in n for n in names)
    assert any(not n.isascii() for n in names)
    assert any("+" in v for v in versions)
    assert any("~" in v for v in versions)
    assert any(" " in f.name for f in files)
    assert any(f.size == 0 for f in files)
    assert any(
        not v.released for r in org.repos.values() for p in r.packages.values() for v in p.versions
    )

    by_content: dict[tuple[str, int, str], list[BintrayFile]] = defaultdict(list)
    for f in files:
        by_content[(f.content_key, f.size, f.kind)].append(f)
    shared = [group for group in by_content.values() if len(group) > 1]
    assert any(len({f.repo for f in group}) > 1 for group in shared), "across repositories"
    assert any(len({f.version for f in group}) > 1 for group in shared), "across versions"
    assert all(
        len({(f.size, f.kind) for f in by_content_key}) == 1
        for by_content_key in _group_by_key(files).values()
    ), "a content key always means the same bytes"

    unpublished = [
        v
        for r in org.repos.values()
        for p in r.packages.values()
        for v in p.versions
        if not v.published
    ]
    assert unpublished
    assert all(not f.published for v in unpublished for f in v.files)
    assert any(
        not f.published
        for r in org.repos.values()
        for p in r.packages.values()
        for v in p.versions
        if v.published
        for f in v.files
    )

    levels = all_attributes(org)
    for level in ("package", "version", "file"):
        assert any(a.name.startswith("_") for a in levels[level]), level
        assert any(len(a.values) > 1 for a in levels[level]), level
    types = {a.type for attrs in levels.values() for a in attrs}
    assert {"string", "date", "number", "boolean"} <= types
    values = [str(v) for attrs in levels.values() for a in attrs for v in a.values]
    for char in (";", ",", "|", "=", "\\", "\n", "日本"):
        assert any(char in v for v in values), char
    assert any(len(v) > 2400 for v in values)
    for attrs in levels.values():
        for a in attrs:
            if a.type == "date":
                assert all(ISO.match(v) for v in a.values)


def _group_by_key(files: list[BintrayFile]) -> dict[str, list[BintrayFile]]:
    groups: dict[str, list[BintrayFile]] = defaultdict(list)
    for f in files:
        groups[f.content_key].append(f)
    return groups


@pytest.mark.parametrize("profile", ["tiny", "demo"])
def test_format_layouts(profile: str) -> None:
    org = build(profile)
    by_type = {r.type: r for r in org.repos.values()}
    maven = by_type["maven"]
    assert all(p.system_ids for p in maven.packages.values())
    maven_paths = {f.path for p in maven.packages.values() for v in p.versions for f in v.files}
    core = maven.packages["core-lib"]
    stem = f"com/acme/core-lib/{core.latest_version}/core-lib-{core.latest_version}"
    assert {f"{stem}.jar", f"{stem}.pom", f"{stem}-sources.jar"} <= maven_paths

    debian = by_type["debian"]
    assert debian.default_debian_distribution
    assert debian.default_debian_component
    assert debian.default_debian_architecture
    for package in debian.packages.values():
        for version in package.versions:
            for file in version.files:
                assert file.path.startswith(f"pool/{file.debian['deb_component'][0]}/")
                assert file.path.endswith(".deb")
                assert set(file.debian) == {"deb_distribution", "deb_component", "deb_architecture"}
                assert all(file.debian.values())

    conan = by_type["conan"]
    for name, package in conan.packages.items():
        assert ":" in name
        assert all(":" in v.name for v in package.versions)
    assert all(
        not f.debian
        for r in org.repos.values()
        if r.type != "debian"
        for p in r.packages.values()
        for v in p.versions
        for f in v.files
    )


def test_demo_docker_and_npm_layouts(demo: Organization) -> None:
    docker = demo.repos["docker"]
    for package in docker.packages.values():
        for version in package.versions:
            names = sorted(f.name for f in version.files)
            assert "manifest.json" in names
            assert all(
                re.fullmatch(r"sha256__[0-9a-f]{64}", n) for n in names if n != "manifest.json"
            )
    npm_paths = [f.path for f in all_files(demo) if f.repo == "npm-registry"]
    assert all(re.fullmatch(r"(@acme/)?[^/]+/-/[^/]+\.tgz", p) for p in npm_paths)
    assert any(p.startswith("@acme/") for p in npm_paths)


@pytest.mark.parametrize(
    "path", ["", "/abs", "a/../b", "a//b", "a/./b", "dir/", "a\\b", "tab\there", "nl\nx"]
)
def test_check_path_refuses_unsafe_paths(path: str) -> None:
    with pytest.raises(ValueError, match="unsafe"):
        check_path(path)
