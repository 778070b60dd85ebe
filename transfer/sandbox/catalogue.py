"""The repositories of the ``tiny`` and ``demo`` profiles: one shape, two sizes.

Both sizes hold a Maven, a Debian, a Conan and a private generic repository with every awkward
case (names with spaces, ``+``, ``:``, ``%``, ``@``, ``~``, parentheses and unicode; a ``+``
version; zero-byte files; content shared across versions and repositories; an unpublished
version and an unpublished file; attributes of every type with awkward and over-long values).
``demo`` adds npm (more than 50 packages, so listing pages), RPM, NuGet, Docker, Vagrant and a
public generic repository, with a few files of 1-3 MiB. ``releases``' json-parser is linked into
``internal`` (and, in ``demo``, ``tools``); in ``demo`` ``tools``' tool-01 into ``internal``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from transfer.sandbox import awkward
from transfer.sandbox.layouts import (
    Forge,
    checksum_files,
    conan_files,
    debian_files,
    docker_files,
    maven_files,
    npm_files,
    nuget_files,
    rpm_files,
    vagrant_files,
)
from transfer.sandbox.orgdata import BintrayFile, BintrayPackage, BintrayRepo, BintrayVersion
from transfer.sandbox.poms import Coordinates, Pom

__all__ = ["populate"]

_MATURITY = ("Official", "Stable", "Development", "Experimental", "")
_WORDS_A = (
    "fast", "tiny", "blue", "quiet", "lazy", "brave", "shiny", "rusty", "noisy", "clever",
    "silent", "happy", "sharp", "plain", "smart", "swift",
)  # fmt: skip
_WORDS_B = (
    "parser", "logger", "router", "cache", "queue", "widget", "client", "server", "bundle",
    "loader", "mapper", "runner", "picker", "tracker", "builder", "encoder",
)  # fmt: skip
SHARED_LICENSE_KEY = "shared/LICENSE.txt"
_LICENSE_SIZE = 11_357  # the Apache-2.0 text, byte for byte the same everywhere


def populate(forge: Forge, *, demo: bool) -> None:
    """Add every repository of the ``tiny`` (``demo=False``) or ``demo`` profile."""
    jar = _maven(forge, demo)
    _debian(forge, demo)
    _conan(forge, demo)
    _internal(forge, demo, jar)
    if demo:
        _npm(forge)
        _rpm(forge)
        _nuget(forge)
        _docker(forge)
        _vagrant(forge)
        _tools(forge)
        _sprinkle_file_attributes(forge)
    _link(forge, demo)


def _link(forge: Forge, demo: bool) -> None:
    """Link packages into other repositories, as jcenter-era orgs did: the files stay with the
    owner; the others only list the package (``linked: true``). ``releases``' json-parser goes
    into generic repositories (another package type), and in ``demo`` a tool of ``tools`` into
    ``internal`` (the same type)."""
    repos = forge.org.repos
    repos["releases"].packages["json-parser"].linked_to_repos = (
        ["internal", "tools"] if demo else ["internal"]
    )
    if demo:
        repos["tools"].packages["tool-01"].linked_to_repos = ["internal"]


def _package(forge: Forge, repo: BintrayRepo, name: str, **extra: Any) -> BintrayPackage:
    rng = forge.rng
    slug = quote(name, safe="")
    fields: dict[str, Any] = {
        "desc": f"{name} — built by ACME" if rng.random() < 0.8 else None,
        "labels": rng.sample(["cli", "lib", "tools", "legacy", "日本", "c++"], rng.randint(0, 3)),
        "licenses": ["Apache-2.0"] if rng.random() < 0.7 else ["MIT", "BSD-3-Clause"],
        "custom_licenses": ["ACME-EULA"] if rng.random() < 0.3 else [],
        "vcs_url": f"https://git.example.com/acme/{slug}.git",
        "website_url": f"https://acme.example.com/{slug}" if rng.random() < 0.5 else None,
        "issue_tracker_url": f"https://jira.example.com/{slug}" if rng.random() < 0.3 else None,
        "maturity": rng.choice(_MATURITY),
        "followers_count": rng.randrange(30),
        "rating": rng.randrange(6),
        "rating_count": rng.randrange(12),
        "public_download_numbers": rng.random() < 0.5,
    }
    fields.update(extra)
    return forge.add_package(repo, name, **fields)


def _version(forge: Forge, package: BintrayPackage, name: str, **extra: Any) -> BintrayVersion:
    rng = forge.rng
    fields: dict[str, Any] = {
        "desc": f"Release {name}" if rng.random() < 0.7 else None,
        "vcs_tag": f"v{name}",
        "labels": ["release"] if rng.random() < 0.3 else [],
        "rating_count": rng.randrange(4),
        # real data held versions whose "released" was an empty string
        "released": rng.random() >= 0.15,
    }
    fields.update(extra)
    return forge.add_version(package, name, **fields)


def _series(forge: Forge, count: int) -> list[str]:
    """``count`` increasing semantic versions."""
    rng = forge.rng
    major, minor, patch = rng.randint(0, 2), rng.randint(0, 5), 0
    names = []
    for _ in range(count):
        names.append(f"{major}.{minor}.{patch}")
        roll = rng.random()
        if roll < 0.6:
            patch += 1
        elif roll < 0.9:
            minor, patch = minor + 1, 0
        else:
            major, minor, patch = major + 1, 0, 0
    return names


_PARENT = Coordinates("com.acme", "acme-parent", "1.0.0")
_JUNIT = Coordinates("junit", "junit", "${junit.version}")


def _maven(forge: Forge, demo: bool) -> BintrayFile:
    """Maven repository with real POMs; returns core-lib's newest jar (mirrored into the
    generic repo).

    ``com.acme`` artifacts inherit their group from ``acme-parent`` (properties, dependency
    management); the others declare their own. As found in the wild, the sbt plugin's POM does
    not match its path (``sbt-acme_2.12_1.0``), nor, in ``demo``, does legacy-api's group.
    Core-lib's newest version carries ``.sha1`` / ``.md5`` checksum files.
    """
    repo = forge.add_repo("releases", "maven", desc="Release builds", labels=["java", "jvm"])
    parent = _package(forge, repo, _PARENT.artifact, system_ids=["com.acme:acme-parent"])
    parent_pom = Pom(
        _PARENT.artifact,
        group=_PARENT.group,
        version=_PARENT.version,
        packaging="pom",
        properties={"java.version": "11", "junit.version": "4.13.2"},
        managed=[Coordinates("junit", "junit", "${junit.version}")],
    )
    version = _version(forge, parent, _PARENT.version)
    maven_files(forge, (repo, parent, version), parent_pom)
    artifacts: list[tuple[str, str, list[str]]] = [
        ("com.acme", "core-lib", ["1.0.0", "1.1.0", "1.2.0"] if demo else ["1.0.0", "1.2.0"]),
        ("com.acme", "json-parser", ["0.9.1"]),
    ]
    if demo:
        for group, name in [
            ("com.acme", "http-client"),
            ("com.acme", "cli-tool"),
            ("com.acme.tools", "gradle-plugin"),
            ("com.acme.tools", "codegen"),
            ("org.acme.legacy", "legacy-api"),
            ("com.acme", "metrics"),
        ]:
            artifacts.append((group, name, _series(forge, forge.rng.randint(2, 4))))
    for group, name, versions in artifacts:
        package = _package(forge, repo, name, system_ids=[f"{group}:{name}"])
        for number in versions:
            pom = _pom(group, name, number, demo)
            classifiers = ("sources", "javadoc") if demo and name == "http-client" else ("sources",)
            place = (repo, package, _version(forge, package, number))
            maven_files(forge, place, pom, group=group, classifiers=classifiers)
    _sbt_plugin(forge, repo, ["0.3.0", "0.3.1"] if demo else ["0.3.1"])
    core = repo.packages["core-lib"]
    newest = core.versions[0]
    jar, pom_file = newest.files[0], newest.files[1]
    checksum_files(forge, (repo, core, newest), jar, "sha1")
    checksum_files(forge, (repo, core, newest), pom_file, "md5")
    core.attributes = [
        *awkward.package_attributes(forge.rng, forge.stamp),
        awkward.long_attribute(),
    ]
    core.versions[0].attributes = awkward.version_attributes(
        forge.rng, forge.stamp, core.versions[0].name
    )
    jar.attributes = awkward.file_attributes(forge.rng, forge.stamp)
    return jar


def _pom(group: str, name: str, number: str, demo: bool) -> Pom:
    if group == _PARENT.group:
        # group inherited from the parent; a sibling dependency through a property
        deps = [_JUNIT] if name != "json-parser" else []
        if name == "core-lib":
            deps = [Coordinates("${project.groupId}", "json-parser", "0.9.1"), *deps]
        return Pom(name, version=number, parent=_PARENT, dependencies=deps)
    if demo and name == "legacy-api":
        # relocated long ago: the POM still names the old group, the path the new one
        return Pom(name, group="acme.legacy", version=number)
    return Pom(name, group=group, version=number, properties={"maven.compiler.release": "8"})


def _sbt_plugin(forge: Forge, repo: BintrayRepo, versions: list[str]) -> None:
    """An sbt plugin as sbt published it: under ``sbt-acme_2.12_1.0`` with a POM that says
    ``sbt-acme`` — Artifactory's POM consistency check refuses it unless suppressed."""
    package = _package(forge, repo, "sbt-acme", system_ids=["com.acme:sbt-acme_2.12_1.0"])
    for number in versions:
        pom = Pom(
            "sbt-acme",
            group="com.acme",
            version=number,
            properties={"sbtVersion": "1.0", "scalaVersion": "2.12"},
        )
        place = (repo, package, _version(forge, package, number))
        maven_files(forge, place, pom, folder="sbt-acme_2.12_1.0")


def _debian(forge: Forge, demo: bool) -> None:
    repo = forge.add_repo(
        "debs",
        "debian",
        desc="APT packages",
        labels=["deb"],
        default_debian_distribution="focal",
        default_debian_component="main",
        default_debian_architecture="amd64,i386",
        gpg_sign_metadata=True,
        geo_restrictions={"white_list": [], "black_list": ["KP", "IR", "SY"]},
    )
    widget = _package(forge, repo, "widget")
    first = _version(forge, widget, "1.0-1")
    debian_files(forge, (repo, widget, first), ["amd64", "i386"], ["focal", "jammy"])
    # an epoch never appears in the pool file name; "~" sorts before the release
    second = _version(forge, widget, "1:2.0~rc1-1")
    debian_files(forge, (repo, widget, second), ["amd64", "i386"], ["jammy"], upstream="2.0~rc1-1")
    second.attributes = awkward.version_attributes(forge.rng, forge.stamp, second.name)
    widget.attributes = awkward.package_attributes(forge.rng, forge.stamp)
    doc = _package(forge, repo, "widget-doc")
    debian_files(forge, (repo, doc, _version(forge, doc, "1.0-1")), ["all"], ["focal"])
    if not demo:
        return
    for name in ("libacme", "acme-agent", "acme-cli", "python3-acme"):
        package = _package(forge, repo, name)
        component = forge.rng.choice(["main", "contrib"])
        for number in _series(forge, forge.rng.randint(2, 3)):
            version = _version(forge, package, f"{number}-1")
            archs = ["amd64", "arm64"] if forge.rng.random() < 0.5 else ["amd64"]
            debian_files(forge, (repo, package, version), archs, ["focal", "buster"], component)


def _conan(forge: Forge, demo: bool) -> None:
    repo = forge.add_repo("conan", "conan", desc="C/C++ packages", labels=["c++"])
    packages: list[tuple[str, list[str]]] = [("widget:acme", ["1.0:stable"])]
    if demo:
        packages = [
            ("widget:acme", ["1.0:stable", "1.1:testing"]),
            ("zlib:conan", ["1.2.11:stable"]),
            ("boost:acme", ["1.75.0:stable", "1.76.0:stable"]),
            ("openssl:_", ["1.1.1k:_"]),  # conan's "_/_" for no user and no channel
        ]
    for name, versions in packages:
        package = _package(forge, repo, name)
        for number in versions:
            conan_files(forge, (repo, package, _version(forge, package, number)))


def _license(
    forge: Forge, place: tuple[BintrayRepo, BintrayPackage, BintrayVersion], path: str
) -> None:
    forge.add_file(*place, path, _LICENSE_SIZE, kind="text", content_key=SHARED_LICENSE_KEY)


def _internal(forge: Forge, demo: bool, jar: BintrayFile) -> None:
    """Private generic repository holding the awkward names."""
    repo = forge.add_repo(
        "internal",
        "generic",
        private=True,
        desc="Internal files — not for customers",
        ip_restrictions={
            "white_cidrs": ["127.0.0.0/8", "10.0.0.0/8"],
            "black_cidrs": ["198.51.100.0/24"],
        },
    )
    tools = _package(forge, repo, "résumé tools")
    build = _version(forge, tools, "1.0.0+build.5")
    place = (repo, tools, build)
    root = "résumé tools/1.0.0+build.5"
    forge.add_file(*place, f"{root}/release notes (final).txt", forge.text_size(), kind="text")
    forge.add_file(*place, f"{root}/résumé-1.0.0+build.5.bin", forge.small_size())
    forge.add_file(*place, f"{root}/empty file.txt", 0, kind="text")
    forge.add_file(
        *place, f"{root}/mirror/{jar.name}", jar.size, kind=jar.kind, content_key=jar.content_key
    )
    beta = _version(forge, tools, "2.0~rc1 (beta)", published=False, released=False)
    forge.add_file(
        repo, tools, beta, "résumé tools/2.0~rc1 (beta)/résumé 2.0~rc1.bin", forge.small_size()
    )
    tools.attributes = awkward.package_attributes(forge.rng, forge.stamp)
    beta.attributes = awkward.version_attributes(forge.rng, forge.stamp, beta.name)

    utils = _package(forge, repo, "c++ utils")
    old = _version(forge, utils, "0.1")
    forge.add_file(repo, utils, old, "c++ utils/0.1/100% done.bin", forge.small_size())
    forge.add_file(repo, utils, old, "c++ utils/0.1/user@host~backup.tar.gz", forge.small_size())
    _license(forge, (repo, utils, old), "c++ utils/0.1/LICENSE.txt")
    new = _version(forge, utils, "0.2")
    place = (repo, utils, new)
    forge.add_file(*place, "c++ utils/0.2/日本/データ 1.bin", forge.small_size())
    odd = forge.add_file(*place, "c++ utils/0.2/a:b@c (copy).bin", forge.small_size())
    odd.attributes = awkward.file_attributes(forge.rng, forge.stamp)
    _license(forge, place, "c++ utils/0.2/LICENSE.txt")
    forge.add_file(
        *place, "c++ utils/0.2/draft (unpublished).bin", forge.small_size(), published=False
    )
    forge.add_file(*place, "c++ utils/0.2/logs/.keep", 0, kind="text")
    if demo:
        dumps = _package(forge, repo, "backups")
        dated = _version(forge, dumps, "2019-12-31")
        forge.add_file(repo, dumps, dated, "backups/db dump (2019).tar.gz", forge.big_size())
        forge.add_file(
            repo, dumps, dated, "backups/Ωmega ~ notes.md", forge.text_size(), kind="text"
        )


def _npm(forge: Forge) -> None:
    repo = forge.add_repo("npm-registry", "npm", desc="JavaScript packages", labels=["js"])
    names = [f"{a}-{b}" for a in _WORDS_A for b in _WORDS_B]
    chosen = forge.rng.sample(names, 60)
    for index, name in enumerate(chosen):
        package = _package(forge, repo, name)
        scope = "acme" if index % 20 == 0 else None
        numbers = _series(forge, forge.rng.randint(1, 2))
        if index == 7:
            numbers.append(numbers[-1] + "-beta.1+exp.sha.5114f85")
        for number in numbers:
            npm_files(forge, (repo, package, _version(forge, package, number)), scope)


def _rpm(forge: Forge) -> None:
    repo = forge.add_repo("rpms", "rpm", desc="YUM repository", yum_metadata_depth=1)
    for name in ("widget", "acme-agent", "acme-cli", "libacme", "acme-docs"):
        package = _package(forge, repo, name)
        for number in _series(forge, forge.rng.randint(2, 3)):
            rpm_files(forge, (repo, package, _version(forge, package, number)))


def _nuget(forge: Forge) -> None:
    repo = forge.add_repo("nuget", "nuget", desc=".NET packages")
    for name in ("Acme.Widget", "Acme.Core", "Acme.Http", "Acme.Json", "Acme.Logging"):
        package = _package(forge, repo, name)
        for number in _series(forge, forge.rng.randint(2, 3)):
            nuget_files(forge, (repo, package, _version(forge, package, number)))


def _docker(forge: Forge) -> None:
    repo = forge.add_repo("docker", "docker", desc="Container images")
    # one base layer shared by every tag of every image: identical content, many paths
    base = ("docker/layers/base", forge.small_size())
    for name in ("widget", "tools:builder", "base-image"):
        package = _package(forge, repo, name)
        shared = (f"docker/layers/{name}/deps", forge.small_size())
        for number in _series(forge, forge.rng.randint(2, 3)):
            # the first base-image tag carries the one large layer
            big = name == "base-image" and not package.versions
            own = (
                f"docker/layers/{name}/{number}/app",
                forge.big_size() if big else forge.small_size(),
            )
            docker_files(
                forge, (repo, package, _version(forge, package, number)), [base, shared, own]
            )


def _vagrant(forge: Forge) -> None:
    repo = forge.add_repo("boxes", "vagrant", desc="Vagrant boxes")
    package = _package(forge, repo, "acme-dev-box")
    for number in ("1.0.0", "1.1.0"):
        vagrant_files(forge, (repo, package, _version(forge, package, number)), ["virtualbox"])


def _tools(forge: Forge) -> None:
    repo = forge.add_repo("tools", "generic", desc="Public downloads", labels=["tools"])
    rng = forge.rng
    for index in range(12):
        name = f"tool-{index:02d}"
        package = _package(forge, repo, name)
        for number in _series(forge, rng.randint(2, 4)):
            version = _version(forge, package, number)
            place = (repo, package, version)
            forge.add_file(
                *place, f"{name}/{number}/{name}-{number}-linux.tar.gz", forge.small_size()
            )
            forge.add_file(*place, f"{name}/{number}/README.md", forge.text_size(), kind="text")
            if rng.random() < 0.4:
                _license(forge, place, f"{name}/{number}/LICENSE.txt")


def _sprinkle_file_attributes(forge: Forge) -> None:
    """Give about one file in twenty attributes, so file-attribute copying is exercised widely."""
    for repo in forge.org.repos.values():
        for package in repo.packages.values():
            for version in package.versions:
                for file in version.files:
                    if not file.attributes and forge.rng.random() < 0.05:
                        file.attributes = awkward.file_attributes(forge.rng, forge.stamp)
