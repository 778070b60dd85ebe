"""Seeded construction of repositories, packages, versions and files, and each format's layout.

:class:`Forge` owns the invariants every generated organisation keeps: files carry their
container's repo/package/version/owner, versions are kept newest first with increasing
``ordinal``, timestamps move forward and come from the seed (never the clock), and a path is
unique and safe within its repository. The ``*_files`` functions lay files out the way each
Bintray repository type stored them. Digests are never computed here: content is lazy.
"""

from __future__ import annotations

import hashlib
import random
import time
from typing import Any

from transfer.sandbox.awkward import check_path
from transfer.sandbox.orgdata import (
    BintrayFile,
    BintrayPackage,
    BintrayRepo,
    BintrayVersion,
    Organization,
)
from transfer.sandbox.poms import Pom, pom_xml

__all__ = [
    "DAY_MS",
    "KIB",
    "MIB",
    "Forge",
    "checksum_files",
    "conan_files",
    "debian_files",
    "docker_files",
    "iso_ms",
    "maven_files",
    "npm_files",
    "nuget_files",
    "rpm_files",
    "vagrant_files",
]

DAY_MS = 86_400_000
KIB = 1024
MIB = 1024 * KIB
# Bintray went read-only in 2021; every generated timestamp falls well before.
_EPOCH_2016_MS = 1_451_606_400_000


def iso_ms(ms: int) -> str:
    """Epoch milliseconds as Bintray's ISO-8601 form with milliseconds and ``Z``."""
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


class Forge:
    """Adds repos, packages, versions and files to an organisation with seeded values."""

    def __init__(self, org: Organization, rng: random.Random) -> None:
        self.org = org
        self.rng = rng
        self.base_ms = _EPOCH_2016_MS + rng.randrange(180) * DAY_MS + rng.randrange(DAY_MS)
        self._paths: set[tuple[str, str]] = set()
        self._clock: dict[int, int] = {}  # id(package or version) -> its latest time in ms

    def stamp(self) -> str:
        """A seeded timestamp within the organisation's lifetime (for date attributes)."""
        return iso_ms(self.base_ms + self.rng.randrange(900 * DAY_MS))

    def small_size(self) -> int:
        """1-200 KiB, log-uniform so that most files are small."""
        return int(KIB * 200 ** self.rng.random())

    def text_size(self) -> int:
        """A text file: 200 B to 40 KiB."""
        return int(200 * 205 ** self.rng.random())

    def big_size(self) -> int:
        """1-3 MiB: the few large files of the demo."""
        return self.rng.randint(MIB, 3 * MIB)

    def add_repo(self, name: str, type_: str, **fields: Any) -> BintrayRepo:
        """Create a repository owned by the organisation."""
        if name in self.org.repos:
            raise ValueError(f"duplicate repository {name!r}")
        created = iso_ms(self.base_ms + self.rng.randrange(DAY_MS))
        repo = BintrayRepo(name=name, type=type_, created=created, **fields)
        self.org.repos[name] = repo
        return repo

    def add_package(self, repo: BintrayRepo, name: str, **fields: Any) -> BintrayPackage:
        """Create a package in ``repo``, created some time after the repository."""
        if name in repo.packages:
            raise ValueError(f"duplicate package {name!r} in {repo.name!r}")
        start = self.base_ms + DAY_MS + self.rng.randrange(700 * DAY_MS)
        created = iso_ms(start)
        package = BintrayPackage(name=name, created=created, updated=created, **fields)
        repo.packages[name] = package
        self._clock[id(package)] = start
        return package

    def add_version(
        self,
        package: BintrayPackage,
        name: str,
        *,
        released: bool = True,
        downloads: bool = True,
        **fields: Any,
    ) -> BintrayVersion:
        """Add ``name`` as the newest version of ``package`` (versions stay newest first)."""
        if any(v.name == name for v in package.versions):
            raise ValueError(f"duplicate version {name!r} of {package.name!r}")
        rng = self.rng
        at = self._clock[id(package)] + rng.randint(1, 40) * DAY_MS + rng.randrange(DAY_MS)
        self._clock[id(package)] = at
        updated = iso_ms(at + rng.randrange(3_600_000))
        version = BintrayVersion(
            name=name,
            created=iso_ms(at),
            updated=updated,
            released=iso_ms(at - rng.randrange(DAY_MS)) if released else "",
            ordinal=len(package.versions) + 1,
            **fields,
        )
        self._clock[id(version)] = at
        package.versions.insert(0, version)
        package.updated = updated
        if downloads:
            package.download_counts[name] = rng.randrange(5000)
        return version

    def add_file(
        self,
        repo: BintrayRepo,
        package: BintrayPackage,
        version: BintrayVersion,
        path: str,
        size: int,
        *,
        kind: str = "binary",
        content_key: str | None = None,
        published: bool | None = None,
        data: bytes | None = None,
        **fields: Any,
    ) -> BintrayFile:
        """Add a file to ``version``; its content key defaults to its own ``repo/path``.

        ``data`` gives the exact bytes (``size`` is then their length), for files whose content
        must mean something: POMs, checksum files.
        """
        key = (repo.name, check_path(path))
        if key in self._paths:
            raise ValueError(f"duplicate path {path!r} in {repo.name!r}")
        self._paths.add(key)
        created = iso_ms(self._clock[id(version)] + self.rng.randrange(600_000))
        if content_key is None:
            content_key = f"{repo.name}/{path}"
        if data is not None:
            self.org.content.add_literal(content_key, data)
            size, kind = len(data), "text"
        file = BintrayFile(
            path=path,
            repo=repo.name,
            package=package.name,
            version=version.name,
            owner=self.org.name,
            size=size,
            content_key=content_key,
            kind=kind,
            created=created,
            published=version.published if published is None else published,
            **fields,
        )
        version.files.append(file)
        return file


Place = tuple[BintrayRepo, BintrayPackage, BintrayVersion]


def maven_files(
    forge: Forge,
    place: Place,
    pom: Pom,
    *,
    group: str = "",
    folder: str = "",
    classifiers: tuple[str, ...] = ("sources",),
) -> list[BintrayFile]:
    """``group/path/artifact/version/artifact-version.jar``, its POM and classifier jars.

    The path comes from the package and version (``folder`` overrides the artifact directory,
    as sbt plugins published under ``name_<scala>_<sbt>``) and ``group``, by default the group
    the POM declares or inherits. The POM's bytes are real
    (:func:`~transfer.sandbox.poms.pom_xml`); a ``pom`` packaging project has no jars.
    """
    _, package, version = place
    group = group or pom.group or (pom.parent.group if pom.parent else "")
    directory = f"{group.replace('.', '/')}/{folder or package.name}/{version.name}"
    stem = f"{directory}/{package.name}-{version.name}"
    if pom.packaging == "pom":
        return [forge.add_file(*place, f"{stem}.pom", 0, data=pom_xml(pom))]
    jar = forge.add_file(*place, f"{stem}.jar", forge.small_size())
    pom_file = forge.add_file(*place, f"{stem}.pom", 0, data=pom_xml(pom))
    extra = [forge.add_file(*place, f"{stem}-{c}.jar", forge.small_size()) for c in classifiers]
    return [jar, pom_file, *extra]


def checksum_files(forge: Forge, place: Place, file: BintrayFile, algorithms: str) -> None:
    """Checksum files next to ``file`` as some uploaders stored them: ``X.sha1`` with the bare
    hex (Maven), ``X.md5`` as ``sha1sum``-style ``<hex>  <name>``."""
    digests = forge.org.content.digests(file.content_key, file.size, kind=file.kind)
    for algorithm in algorithms.split():
        value = getattr(digests, algorithm)
        text = value if algorithm == "sha1" else f"{value}  {file.name}\n"
        forge.add_file(*place, f"{file.path}.{algorithm}", 0, data=text.encode())


def debian_files(
    forge: Forge,
    place: Place,
    archs: list[str],
    dists: list[str],
    component: str = "main",
    upstream: str | None = None,
) -> list[BintrayFile]:
    """``pool/<component>/<initial>/<pkg>/<pkg>_<ver>_<arch>.deb`` with upload coordinates.

    ``upstream`` is the version as it appears in the file name (an epoch ``1:`` never does).
    """
    _, package, version = place
    ver = upstream if upstream is not None else version.name
    pool = f"pool/{component}/{package.name[0]}/{package.name}"
    return [
        forge.add_file(
            *place,
            f"{pool}/{package.name}_{ver}_{arch}.deb",
            forge.small_size(),
            debian={
                "deb_distribution": list(dists),
                "deb_component": [component],
                "deb_architecture": [arch],
            },
        )
        for arch in archs
    ]


def npm_files(forge: Forge, place: Place, scope: str | None = None) -> list[BintrayFile]:
    """``[@scope/]name/-/name-version.tgz``."""
    _, package, version = place
    prefix = f"@{scope}/" if scope else ""
    path = f"{prefix}{package.name}/-/{package.name}-{version.name}.tgz"
    return [forge.add_file(*place, path, forge.small_size())]


def rpm_files(forge: Forge, place: Place, release: int = 1) -> list[BintrayFile]:
    """A binary rpm under its architecture directory and the source rpm."""
    _, package, version = place
    nvr = f"{package.name}-{version.name}-{release}"
    return [
        forge.add_file(*place, f"x86_64/{nvr}.x86_64.rpm", forge.small_size()),
        forge.add_file(*place, f"SRPMS/{nvr}.src.rpm", forge.small_size()),
    ]


def nuget_files(forge: Forge, place: Place) -> list[BintrayFile]:
    """``Name.Version.nupkg`` at the repository root."""
    _, package, version = place
    return [forge.add_file(*place, f"{package.name}.{version.name}.nupkg", forge.small_size())]


def conan_files(forge: Forge, place: Place) -> list[BintrayFile]:
    """``user/name/version/channel/{export,package/<id>}/...`` for package ``name:user``.

    Bintray named Conan packages ``name:user`` and versions ``version:channel``.
    """
    _, package, version = place
    name, user = package.name.split(":", 1)
    number, channel = version.name.split(":", 1)
    root = f"{user}/{name}/{number}/{channel}"
    package_id = hashlib.sha1(f"{package.name}/{version.name}".encode()).hexdigest()
    return [
        forge.add_file(*place, f"{root}/export/conanfile.py", forge.text_size(), kind="text"),
        forge.add_file(*place, f"{root}/export/conanmanifest.txt", forge.text_size(), kind="text"),
        forge.add_file(
            *place, f"{root}/package/{package_id}/conaninfo.txt", forge.text_size(), kind="text"
        ),
        forge.add_file(
            *place, f"{root}/package/{package_id}/conan_package.tgz", forge.small_size()
        ),
    ]


def docker_files(forge: Forge, place: Place, layers: list[tuple[str, int]]) -> list[BintrayFile]:
    """``image/tag/manifest.json`` plus ``image/tag/sha256__<hex>`` per layer.

    ``layers`` are ``(content_key, size)``; tags sharing a layer share its content. The hex is
    derived from the content key, not hashed from the bytes (digests stay lazy).
    """
    _, package, version = place
    root = f"{package.name.replace(':', '/')}/{version.name}"
    files = [forge.add_file(*place, f"{root}/manifest.json", forge.text_size(), kind="text")]
    for key, size in layers:
        digest = hashlib.sha256(key.encode()).hexdigest()
        files.append(forge.add_file(*place, f"{root}/sha256__{digest}", size, content_key=key))
    return files


def vagrant_files(forge: Forge, place: Place, providers: list[str]) -> list[BintrayFile]:
    """``box/version/box-version-provider.box``: one large box per provider."""
    _, package, version = place
    stem = f"{package.name}/{version.name}/{package.name}-{version.name}"
    return [forge.add_file(*place, f"{stem}-{p}.box", forge.big_size()) for p in providers]
