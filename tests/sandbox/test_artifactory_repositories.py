"""Fidelity of the repositories API (reference §5)."""

from __future__ import annotations

import pytest
from artifactory_helpers import running

from transfer.sandbox.artifactory import ArtifactoryOptions

pytestmark = pytest.mark.anyio


async def test_create_returns_200_text_and_get_fills_defaults() -> None:
    async with running() as a:
        resp, body = await a.call(
            "PUT",
            "api/repositories/generic-local",
            json={
                "key": "generic-local",
                "rclass": "local",
                "packageType": "generic",
                "description": "d",
                "cdnRedirect": True,
            },
        )
        assert resp.status == 200
        assert resp.content_type == "text/plain"
        assert isinstance(body, str)
        resp, config = await a.call("GET", "api/repositories/generic-local")
        assert resp.status == 200
        assert config["key"] == "generic-local"
        assert config["rclass"] == "local"
        assert config["packageType"] == "generic"
        assert config["description"] == "d"
        assert config["cdnRedirect"] is True
        assert config["includesPattern"] == "**/*"
        assert config["excludesPattern"] == ""
        assert config["checksumPolicyType"] == "client-checksums"
        assert config["handleReleases"] is True
        assert config["handleSnapshots"] is True
        assert config["snapshotVersionBehavior"] == "unique"
        assert config["blackedOut"] is False
        assert config["xrayIndex"] is False
        assert config["dockerApiVersion"] == "V2"


async def test_create_existing_key_is_400() -> None:
    async with running() as a:
        await a.repo("r")
        resp, body = await a.call("PUT", "api/repositories/r", json={"rclass": "local"})
        assert resp.status == 400
        assert body["errors"][0]["status"] == 400
        resp, _ = await a.call("PUT", "api/repositories/R", json={"rclass": "local"})
        assert resp.status == 400


@pytest.mark.parametrize(
    ("key", "body"),
    [
        ("r1", {"packageType": "generic"}),
        ("r1", {"rclass": "bogus"}),
        ("r1", {"rclass": "local", "packageType": "nonsense"}),
        ("1starts-with-digit", {"rclass": "local"}),
        ("has space", {"rclass": "local"}),
        ("r1", {"rclass": "local", "key": "other"}),
        ("r1", {"rclass": "local", "handleReleases": "yes"}),
        ("r1", {"rclass": "local", "checksumPolicyType": "whatever"}),
        ("r1", {"rclass": "remote"}),
        ("r1", {"rclass": "virtual", "repositories": ["missing"]}),
    ],
)
async def test_invalid_create_is_400(key: str, body: dict[str, object]) -> None:
    async with running() as a:
        resp, answer = await a.call("PUT", f"api/repositories/{key}", json=body)
        assert resp.status == 400
        assert answer["errors"][0]["status"] == 400


async def test_package_types_are_lowercase_union() -> None:
    async with running() as a:
        for package_type in ("Maven", "docker", "helmoci", "huggingfaceml", "conda", "pypi"):
            key = f"{package_type.lower()}-local"
            resp, _ = await a.call(
                "PUT",
                f"api/repositories/{key}",
                json={"rclass": "local", "packageType": package_type},
            )
            assert resp.status == 200
        _, config = await a.call("GET", "api/repositories/maven-local")
        assert config["packageType"] == "maven"
        assert config["repoLayoutRef"] == "maven-2-default"


async def test_partial_update_and_fixed_fields() -> None:
    async with running() as a:
        await a.repo("r", description="before")
        resp, body = await a.call("POST", "api/repositories/r", json={"description": "after"})
        assert resp.status == 200
        assert isinstance(body, str)
        _, config = await a.call("GET", "api/repositories/r")
        assert config["description"] == "after"
        assert config["packageType"] == "generic"
        resp, _ = await a.call("POST", "api/repositories/r", json={"packageType": "maven"})
        assert resp.status == 400
        resp, _ = await a.call("POST", "api/repositories/r", json={"rclass": "remote"})
        assert resp.status == 400
        resp, _ = await a.call("POST", "api/repositories/r", json={"cdnRedirect": True})
        _, config = await a.call("GET", "api/repositories/r")
        assert config["cdnRedirect"] is True


async def test_get_unknown_uses_configured_status() -> None:
    async with running() as a:
        resp, body = await a.call("GET", "api/repositories/nope")
        assert resp.status == 400
        assert body["errors"][0]["status"] == 400
    async with running(ArtifactoryOptions(unknown_repo_status=404)) as a:
        resp, body = await a.call("GET", "api/repositories/nope")
        assert resp.status == 404
        assert body == {"errors": [{"status": 404, "message": body["errors"][0]["message"]}]}


async def test_list_casing_and_filters() -> None:
    async with running() as a:
        await a.repo("gen-local")
        await a.repo("mvn-local", packageType="maven", description="maven stuff")
        await a.call(
            "PUT",
            "api/repositories/mvn-remote",
            json={"rclass": "remote", "packageType": "maven", "url": "https://repo1.example/"},
        )
        await a.call(
            "PUT",
            "api/repositories/mvn",
            json={"rclass": "virtual", "packageType": "maven", "repositories": ["mvn-local"]},
        )
        resp, listing = await a.call("GET", "api/repositories")
        assert resp.status == 200
        by_key = {r["key"]: r for r in listing}
        assert by_key["gen-local"] == {
            "key": "gen-local",
            "type": "LOCAL",
            "description": "",
            "url": a.art("gen-local"),
            "packageType": "Generic",
        }
        assert by_key["mvn-local"]["packageType"] == "Maven"
        assert by_key["mvn-local"]["description"] == "maven stuff"
        assert by_key["mvn-remote"]["type"] == "REMOTE"
        assert by_key["mvn"]["type"] == "VIRTUAL"
        _, local = await a.call("GET", "api/repositories?type=local")
        assert {r["key"] for r in local} == {"gen-local", "mvn-local"}
        _, upper = await a.call("GET", "api/repositories?type=LOCAL&packageType=maven")
        assert [r["key"] for r in upper] == ["mvn-local"]
        _, none = await a.call("GET", "api/repositories?type=distribution")
        assert none == []


async def test_list_shows_only_repositories_with_some_permission() -> None:
    async with running() as a:
        await a.repo("a")
        await a.repo("b")
        dave = await a.user("dave")
        await a.grant("dave", ["b"], users={"dave": ["read"]})
        _, listing = await a.call("GET", "api/repositories", auth=dave)
        assert [r["key"] for r in listing] == ["b"]


async def test_delete_removes_content_and_is_admin_only() -> None:
    async with running() as a:
        await a.repo("r")
        await a.deploy("r/f.bin", b"content")
        erin = await a.user("erin")
        resp, _ = await a.call("DELETE", "api/repositories/r", auth=erin)
        assert resp.status == 403
        resp, _ = await a.call("PUT", "api/repositories/x", json={"rclass": "local"}, auth=erin)
        assert resp.status == 403
        resp, body = await a.call("DELETE", "api/repositories/r")
        assert resp.status == 200
        assert isinstance(body, str)
        assert a.emulator.blob_count() == 0
        assert "r" not in a.emulator.repositories()
        resp, _ = await a.call("GET", "api/repositories/r")
        assert resp.status == 400
