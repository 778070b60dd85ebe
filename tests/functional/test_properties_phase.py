"""Attributes and Bintray metadata as Artifactory properties, read back through the storage API
(``GET /api/storage/...?properties``) and compared with the emulator's own organisation model."""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from harness import run_migration, settings_for

from transfer.redaction import Secret
from transfer.runner import open_store
from transfer.sandbox.awkward import LONG_ATTRIBUTE_NAME, LONG_VALUE_LENGTH, SEPARATOR_VALUE
from transfer.sandbox.orgdata import (
    Attribute,
    BintrayFile,
    BintrayPackage,
    BintrayRepo,
    BintrayVersion,
)
from transfer.sandbox.serve import Sandbox
from transfer.settings import Settings

pytestmark = pytest.mark.anyio

ALL = ("repositories", "artifacts", "properties")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _attributes(attributes: list[Attribute]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for attribute in attributes:
        values: list[str] = []
        for value in attribute.values:
            if _text(value) not in values:
                values.append(_text(value))
        found[attribute.name] = values
    return found


def _fields(prefix: str, fields: dict[str, Any]) -> dict[str, list[str]]:
    found = {}
    for name, value in fields.items():
        values = [str(v) for v in (value if isinstance(value, list) else [value]) if v]
        if values:
            found[f"{prefix}.{name}"] = values
    return found


def expected_properties(
    repo: BintrayRepo, package: BintrayPackage, version: BintrayVersion, file: BintrayFile
) -> dict[str, list[str]]:
    """What docs/properties.md promises for ``file``, worked out from the emulator's model."""
    props = {
        **_attributes(package.attributes),
        **_attributes(version.attributes),
        **_attributes(file.attributes),
    }
    props.update(
        _fields(
            "bintray.package",
            {
                "name": package.name,
                "desc": package.desc,
                "labels": package.labels,
                "licenses": package.licenses,
                "custom_licenses": package.custom_licenses,
                "vcs_url": package.vcs_url,
                "website_url": package.website_url,
                "issue_tracker_url": package.issue_tracker_url,
                "github_repo": package.github_repo,
                "maturity": package.maturity,
                # history: the subject that owns it (the organisation here), and when
                "owner": file.owner,
                "created": package.created,
                "updated": package.updated,
            },
        )
    )
    props.update(
        _fields(
            "bintray.version",
            {
                "name": version.name,
                "desc": version.desc,
                "vcs_tag": version.vcs_tag,
                "released": version.released,
                "labels": version.labels,
                "created": version.created,
                "updated": version.updated,
            },
        )
    )
    props.update(_fields("bintray.file", {"created": file.created, "owner": file.owner}))
    if file.debian:
        # Bintray's file lists do not expose upload-time distributions: the repo default
        assert repo.default_debian_distribution is not None
        props["deb.distribution"] = repo.default_debian_distribution.split(",")
        props["deb.component"] = file.debian["deb_component"]
        props["deb.architecture"] = file.debian["deb_architecture"]
    return {k: v for k, v in props.items() if all(len(x) <= 2400 for x in v)}


def _every_file(sandbox: Sandbox) -> list[tuple[Any, ...]]:
    return [
        (repo, package, version, file)
        for repo in sandbox.org.repos.values()
        for package in repo.packages.values()
        for version in package.versions
        for file in version.files
        # a checksum file is not stored in Artifactory: it is served from its artifact
        if not file.path.endswith((".sha1", ".md5"))
    ]


class StorageReader:
    """Reads properties back the way a user would: the storage API, as the admin."""

    def __init__(self, sandbox: Sandbox, session: aiohttp.ClientSession) -> None:
        e = sandbox.endpoints
        login = f"{e.artifactory_user}:{e.artifactory_password}".encode()
        self._headers = {"Authorization": "Basic " + base64.b64encode(login).decode()}
        self._base = e.artifactory_url
        self._session = session

    async def properties(self, repo: str, path: str) -> dict[str, list[str]]:
        url = f"{self._base}/api/storage/{quote(repo)}/{quote(path)}?properties"
        async with self._session.get(url, headers=self._headers) as response:
            if response.status == 404:
                return {}
            assert response.status == 200, await response.text()
            body = await response.json()
        found: dict[str, list[str]] = body["properties"]
        return found


async def _unmigratable(settings: Settings) -> dict[str, dict[str, Any]]:
    async with open_store(settings, readonly=True) as store:
        return {r.key: dict(r.detail) async for r in store.iter_side("unmigratable")}


async def test_attributes_and_metadata_read_back_equal(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox, aiohttp.ClientSession() as session:
        settings = settings_for(sandbox, tmp_path)
        await run_migration(settings, phases=ALL)
        reader = StorageReader(sandbox, session)
        with_attributes = 0
        for repo, package, version, file in _every_file(sandbox):
            found = await reader.properties(repo.name, file.path)
            assert found == expected_properties(repo, package, version, file), file.path
            with_attributes += bool(file.attributes)
        assert with_attributes >= 2  # the jar and the awkwardly named internal file

        core = sandbox.org.repos["releases"].packages["core-lib"]
        jar = core.versions[0].files[0]
        found = await reader.properties("releases", jar.path)
        assert SEPARATOR_VALUE in found["release.channel"]
        assert "line one\nline two" in found["notes"]
        assert "unicode: résumé 日本 🚀" in found["notes"]
        assert "pipe|and,comma" in found["tags"]
        assert "a=b;c=d" in found["scan.status"]
        assert found["certified"][0] in ("true", "false")
        # over-long values are never cut: left out and reported
        assert LONG_ATTRIBUTE_NAME not in found
        report = await _unmigratable(settings)
        [long_entry] = [e for e in report.values() if e.get("property") == LONG_ATTRIBUTE_NAME]
        assert long_entry["length"] == LONG_VALUE_LENGTH
        assert long_entry["where"] == "releases/core-lib"


async def test_already_present_files_get_their_properties_once(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox, aiohttp.ClientSession() as session:
        repo = sandbox.org.repos["releases"]
        package = repo.packages["core-lib"]
        version = package.versions[0]
        jar = version.files[0]
        # the target holds the jar already, without properties: no deploy will carry them
        sandbox.artifactory.create_repository("releases", "maven", cdnRedirect=True)
        reader = StorageReader(sandbox, session)
        e = sandbox.endpoints
        body = sandbox.org.content.read(jar.content_key, jar.size, kind=jar.kind)
        async with session.put(
            f"{e.artifactory_url}/releases/{quote(jar.path)}",
            data=body,
            headers=reader._headers,
        ) as response:
            assert response.status == 201
        assert await reader.properties("releases", jar.path) == {}

        settings = settings_for(sandbox, tmp_path)
        first = await run_migration(settings, phases=ALL)
        assert "properties: 1 applied, 0 unchanged, 0 failed" in first.notes
        expected = expected_properties(repo, package, version, jar)
        assert await reader.properties("releases", jar.path) == expected

        patches = sandbox.artifactory.request_log.count(method="PATCH")
        second = await run_migration(settings, phases=ALL)
        assert "properties: 0 applied, 1 unchanged, 0 failed; nothing changed" in second.notes
        assert sandbox.artifactory.request_log.count(method="PATCH") == patches


async def test_only_properties_brings_changed_metadata_up_to_date(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox, aiohttp.ClientSession() as session:
        settings = settings_for(sandbox, tmp_path)
        await run_migration(settings, phases=ALL)
        reader = StorageReader(sandbox, session)
        conan = sandbox.org.repos["conan"]
        package = next(iter(conan.packages.values()))
        package.attributes.append(Attribute("added.later", "string", ["x;y", "z"]))
        files = [f for v in package.versions for f in v.files]

        def file_attribute_reads() -> int:
            log = sandbox.bintray.request_log
            return sum(1 for r in log if "/files/" in r.path and r.path.endswith("/attributes"))

        reads = file_attribute_reads()
        assert reads == sum(1 for _ in sandbox.org.iter_files())
        # a plain re-run rediscovers the metadata but does not touch files already copied,
        # nor read file attributes again
        await run_migration(settings, phases=("artifacts", "properties"))
        assert file_attribute_reads() == reads
        for file in files:
            assert "added.later" not in await reader.properties("conan", file.path)

        applied = await run_migration(settings, phases=("properties",))
        # every file but the checksum files, which Artifactory serves from their artifact
        total = len(_every_file(sandbox))
        assert f"properties: {total} applied, 0 unchanged, 0 failed" in applied.notes
        for file in files:
            assert (await reader.properties("conan", file.path))["added.later"] == ["x;y", "z"]
        again = await run_migration(settings, phases=("properties",))
        assert f"properties: 0 applied, {total} unchanged, 0 failed; nothing changed" in again.notes


async def test_metadata_hidden_from_a_reader_key_is_reported(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox, aiohttp.ClientSession() as session:
        base = settings_for(sandbox, tmp_path)
        # carol is a member without publish rights on the public "releases" repository
        reader_key = sandbox.org.users["carol"].api_key
        source = dataclasses.replace(
            base.source, user="carol", api_key=Secret(reader_key), repos=("releases",)
        )
        settings = dataclasses.replace(base, source=source)
        await run_migration(settings, phases=ALL)
        jar = sandbox.org.repos["releases"].packages["core-lib"].versions[0].files[0]
        found = await StorageReader(sandbox, session).properties("releases", jar.path)
        assert "release.channel" in found
        assert "_internal.owner" not in found
        assert "bintray.version.vcs_tag" not in found
        report = await _unmigratable(settings)
        hidden = report["restricted/publisher-fields/releases"]
        assert hidden["category"] == "restricted"
        assert "publish rights" in hidden["instead"]
