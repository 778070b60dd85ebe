"""The Bintray source against the Bintray emulator (and small hand-made servers) over sockets."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from bintray_kit import MANY, NO_RETRY, model_files, serving, source_for, tiny_with_many_packages

from transfer.errors import AuthError, RateLimited, RemoteError
from transfer.models import SourceFile
from transfer.redaction import Secret
from transfer.sandbox.bintray import BintrayOptions
from transfer.sandbox.generator import build_organization, credentials
from transfer.sources.base import (
    Restricted,
    Source,
    hidden_fields,
    normalize_repo_type,
    parse_bool,
)
from transfer.sources.bintray import BintraySource, parse_attributes
from transfer.sources.bintray_org import normalize_entitlement, normalize_team

pytestmark = pytest.mark.anyio


async def walk(source: BintraySource) -> list[SourceFile]:
    files: list[SourceFile] = []
    for repo in await source.list_repositories():
        async for name in source.iter_packages(repo.name):
            package = await source.get_package(repo.name, name)
            if package.linked:
                continue  # owned by another repository, walked there
            for version in package.versions:
                files += await source.list_version_files(repo.name, name, version)
    return files


async def test_walk_lists_every_file_with_awkward_names_and_unpublished_ones() -> None:
    org = tiny_with_many_packages()
    async with serving(org) as (api, dl), source_for(org, api, dl) as source:
        assert isinstance(source, Source)
        repos = await source.list_repositories()
        assert {r.name for r in repos} == set(org.repos)
        names = [name async for name in source.iter_packages("many")]
        files = await walk(source)
        rate = source.rate_limit
    assert len(names) == MANY
    assert names == sorted(set(names), key=names.index)
    assert set(names) == set(org.repos["many"].packages)
    assert rate is not None
    assert rate.limit == 1440
    expected = model_files(org)
    assert {(f.repo, f.path): (f.size, f.published) for f in files} == expected
    assert len(files) == len(expected)
    assert any(not f.published for f in files)
    assert any(" " in f.path and ":" in f.path for f in files)
    assert all(len(f.sha1) == 40 and len(f.sha256) == 64 for f in files)
    assert all(f.extra.get("owner") == org.name for f in files)


async def test_repository_and_package_details() -> None:
    org = build_organization("tiny", seed=1)
    options = BintrayOptions(report_debian_as_deb=True)
    async with serving(org, options) as (api, dl), source_for(org, api, dl) as source:
        repos = {r.name: r for r in await source.list_repositories()}
        package = await source.get_package("releases", "core-lib")
        version = await source.get_version("releases", "core-lib", package.versions[-1])
    debian = [r for r in repos.values() if org.repos[r.name].type == "debian"]
    assert debian
    assert all(r.type == "debian" and r.raw["type"] == "deb" for r in debian)
    for name, repo in repos.items():
        assert repo.private == org.repos[name].private
        assert repo.desc == (org.repos[name].desc or "")
    model = org.repos["releases"].packages["core-lib"]
    assert package.versions == tuple(v.name for v in model.versions)
    assert {a.name for a in package.attributes} == {a.name for a in model.attributes}
    assert all(a.type == a.type.lower() for a in package.attributes)
    assert version.name == model.versions[-1].name
    assert version.published is model.versions[-1].published


async def test_filters_keep_only_matching_repositories_packages_and_versions() -> None:
    org = tiny_with_many_packages()
    async with serving(org) as (api, dl):
        creds = credentials(org)
        async with BintraySource(
            api,
            dl,
            org.name,
            creds["user"],
            Secret(creds["api_key"]),
            repos=["m*", "releases"],
            exclude_repos=["releases"],
            packages=["pkg 00?+x"],
            versions=["nothing*"],
        ) as source:
            repos = [r.name for r in await source.list_repositories()]
            names = [n async for n in source.iter_packages("many")]
            package = await source.get_package("many", "pkg 000+x")
    assert repos == ["many"]
    assert names == [f"pkg {i:03d}+x" for i in range(10)]
    assert package.versions == ()
    assert package.raw["versions"] == ["1.0"]


async def test_downloads_hash_to_the_listed_checksums() -> None:
    org = build_organization("tiny", seed=1)
    async with serving(org) as (api, dl), source_for(org, api, dl) as source:
        files = await walk(source)
        assert any(not f.published for f in files)
        for file in files:
            sha1, sha256, size = hashlib.sha1(), hashlib.sha256(), 0
            async with source.open_download(file) as download:
                assert download.size == file.size
                assert "__gda__=***" in download.url or file.size == 0 or "_cdn" not in download.url
                async for chunk in download.chunks(64 * 1024):
                    assert len(chunk) <= 64 * 1024
                    sha1.update(chunk)
                    sha256.update(chunk)
                    size += len(chunk)
            assert (size, sha1.hexdigest(), sha256.hexdigest()) == (
                file.size,
                file.sha1,
                file.sha256,
            )


async def test_bad_credentials_raise_auth_error() -> None:
    org = build_organization("tiny", seed=1)
    async with serving(org) as (api, dl), source_for(org, api, dl, key="wrong") as source:
        with pytest.raises(AuthError) as caught:
            await source.list_repositories()
    assert caught.value.status == 401
    assert "wrong" not in str(caught.value)


@pytest.mark.parametrize("status", [429, 403])
async def test_exhausted_rate_limit_raises_rate_limited(status: int) -> None:
    org = build_organization("tiny", seed=1)
    options = BintrayOptions(rate_limit_budget=1, rate_limit_exhausted_status=status)
    async with serving(org, options) as (api, dl), source_for(org, api, dl) as source:
        await source.get_organization()
        with pytest.raises(RateLimited):
            await source.list_repositories()


async def test_organisation_reads_as_admin() -> None:
    org = build_organization("tiny", seed=1)
    async with serving(org) as (api, dl), source_for(org, api, dl) as source:
        details = await source.get_organization()
        teams = await source.list_teams()
        dev = await source.get_team("dev")
        permissions = await source.get_repo_permissions("releases")
        keys = await source.list_access_keys()
        key = await source.get_access_key("customer-42")
        grants = await source.list_entitlements("releases")
        searched = await source.search_entitlements("ci-uploader")
        products = await source.list_products()
        product = await source.get_product("widget-suite")
        geo = await source.get_geo_restrictions("releases")
        ip = await source.get_ip_restrictions("releases")
        version_grants = await source.list_entitlements("debs", "widget", "1.0-1")
    assert hidden_fields(details) == []
    assert {m["name"] for m in details["members"]} == {m.name for m in org.members}
    assert isinstance(teams, list)
    assert set(teams) == set(org.teams)
    assert isinstance(dev, dict)
    assert dev["permitted_repos"] == org.teams["dev"].permitted_repos
    assert isinstance(permissions, list)
    assert {"team": "dev", "permission": "publish"} in permissions
    assert isinstance(keys, list)
    assert set(keys) == set(org.access_keys)
    assert isinstance(key, dict)
    assert key["username"] == f"customer-42@{org.name}"
    assert "password" not in key
    assert isinstance(grants, list)
    assert [g["access_keys"] for g in grants] == [["customer-42"]]
    assert isinstance(searched, list)
    assert any(g["access"] == "rw" for g in searched)
    assert products == ["widget-suite"]
    assert isinstance(product, dict)
    assert "releases/core-lib" in product["packages"]
    for restriction in (geo, ip):
        assert isinstance(restriction, dict | Restricted)
    assert isinstance(ip, dict)
    assert set(ip) >= {"white_cidrs", "black_cidrs"}
    assert version_grants == []  # tiny has no version-level entitlements


async def test_organisation_reads_without_admin_rights_are_restricted() -> None:
    org = build_organization("tiny", seed=1)
    member = next(m.name for m in org.members if m.type == "member")
    async with serving(org) as (api, dl), source_for(org, api, dl, user=member) as source:
        details = await source.get_organization()
        teams = await source.list_teams()
        keys = await source.list_access_keys()
    assert "members.type" in hidden_fields(details)
    for result in (teams, keys):
        assert isinstance(result, Restricted)
        assert result.status in (400, 403)


def test_normalisers_accept_both_spellings() -> None:
    assert normalize_repo_type("deb") == "debian"
    assert normalize_repo_type(None) == "generic"
    assert normalize_repo_type("Maven") == "maven"
    assert parse_bool("true") is True
    assert parse_bool(False) is False
    assert parse_bool(None, default=True) is True
    team = normalize_team({"name": "dev", "permitted_repo": {"releases": "publish"}})
    assert team["permitted_repos"] == {"releases": "publish"}
    assert normalize_team({"name": "x", "permitted_repos": []})["permitted_repos"] == {}
    grant = normalize_entitlement({"id": "e", "download_keys": ["k"]})
    assert grant["access_keys"] == ["k"]
    assert grant["tags"] == []
    attrs = parse_attributes([{"name": "a", "type": "STRING", "values": "x"}, {"name": "b"}])
    assert [(a.name, a.type, a.values) for a in attrs] == [
        ("a", "string", ("x",)),
        ("b", "string", ()),
    ]
    assert parse_attributes({"c": [1, 2]})[0].values == (1, 2)


# --- hand-made servers for behaviours the emulator does not misbehave in ---------------------


def _basic(user: str, key: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{key}".encode()).decode()


async def test_paging_survives_overlapping_pages_and_a_stuck_end_position() -> None:
    names = [f"p{i}" for i in range(7)]

    async def packages(request: web.Request) -> web.Response:
        start = int(request.query.get("start_pos", "0"))
        if start >= 6:
            # EndPos that does not advance must not make the client spin
            page, end = names[5:], 5
        else:
            page, end = names[max(0, start - 1) : start + 3], start + 2  # one item repeated
        headers = {
            "X-RangeLimit-Total": str(len(names) + 5),
            "X-RangeLimit-StartPos": str(start),
            "X-RangeLimit-EndPos": str(end),
        }
        return web.json_response([{"name": n, "linked": False} for n in page], headers=headers)

    app = web.Application()
    app.router.add_get("/repos/acme/r/packages", packages)
    async with TestServer(app) as server:
        url = str(server.make_url(""))
        async with BintraySource(url, url, "acme", retry_policy=NO_RETRY) as source:
            got = [n async for n in source.iter_packages("r")]
            warnings = list(source.warnings)
    assert got == names
    assert any("did not advance" in w for w in warnings)


async def test_download_redirect_keeps_credentials_off_the_cdn_and_loops_fail_clearly() -> None:
    seen: dict[str, Any] = {}

    async def cdn(request: web.Request) -> web.Response:
        seen["cdn_auth"] = request.headers.get("Authorization")
        return web.Response(body=b"payload")

    app_cdn = web.Application()
    app_cdn.router.add_get("/blob", cdn)
    async with TestServer(app_cdn, host="127.0.0.1") as cdn_server:

        async def download(request: web.Request) -> web.Response:
            seen["dl_auth"] = request.headers.get("Authorization")
            seen.setdefault("dl_path", request.raw_path)
            if request.match_info["path"].startswith("loop"):
                raise web.HTTPFound(request.path_qs)
            raise web.HTTPFound(str(cdn_server.make_url("/blob")) + "?__gda__=secret-token")

        app_dl = web.Application()
        app_dl.router.add_get("/acme/repo/{path:.+}", download)
        # "localhost" vs "127.0.0.1": a different origin even on the same machine
        async with TestServer(app_dl, host="localhost") as dl_server:
            dl = str(dl_server.make_url(""))
            async with BintraySource(
                dl, dl, "acme", "jdoe", Secret("k3y"), retry_policy=NO_RETRY
            ) as source:
                file = SourceFile("repo", "p", "v", "dir/a b+c:d;e ü.bin", 7, published=False)
                async with source.open_download(file) as download:
                    body = b"".join([c async for c in download.chunks(4)])
                    final = download.url
                loop = SourceFile("repo", "p", "v", "loop.bin", 1)
                with pytest.raises(RemoteError, match="redirect") as caught:
                    async with source.open_download(loop):
                        pass
    assert body == b"payload"
    assert seen["dl_auth"] == _basic("jdoe", "k3y")
    assert seen["cdn_auth"] is None
    assert seen["dl_path"].startswith("/acme/repo/dir/a%20b%2Bc%3Ad%3Be%20%C3%BC.bin")
    assert seen["dl_path"].endswith("?include_unpublished=1")
    assert "secret-token" not in final
    assert not caught.value.retryable


async def test_linked_packages_are_known_from_the_list_and_from_the_owning_repo() -> None:
    org = build_organization("tiny")
    async with serving(org) as (api, dl):
        async with source_for(org, api, dl) as source:
            names = [n async for n in source.iter_packages("internal")]
            linked = await source.get_package("internal", "json-parser")
            owned = await source.get_package("releases", "json-parser")
        # a source that never read the list still sees the owner in the package object
        async with source_for(org, api, dl) as fresh:
            direct = await fresh.get_package("internal", "json-parser")
    assert "json-parser" in names
    assert (linked.linked, linked.owner_repo) == (True, "releases")
    assert (direct.linked, direct.owner_repo) == (True, "releases")
    assert (owned.linked, owned.owner_repo) == (False, "releases")
