"""Fidelity of the documented non-file reads (reference 8, 11): readme, release notes, download
logs, EULAs, signed EULAs, the GPG public key, usage thresholds and the event stream."""

from __future__ import annotations

import asyncio
import gzip

import orjson
import pytest
from bintray_org import JAR_PATH, ORG, Harness, auth, build_org, running

from transfer.sandbox.bintray.options import BintrayOptions
from transfer.sandbox.documents import GPG_PUBLIC_KEY

pytestmark = pytest.mark.anyio

_CORE = f"/packages/{ORG}/releases/core-lib"


async def _status(h: Harness, path: str, user: str | None = None) -> int:
    async with h.session.get(h.api_url(path), headers=auth(user) if user else None) as resp:
        return resp.status


async def test_readme_and_release_notes_are_public() -> None:
    async with running() as h:
        readme = await h.get_json(_CORE + "/readme")
        notes = await h.get_json(_CORE + "/release_notes")
        version_notes = await h.get_json(_CORE + "/versions/1.2.0/release_notes")
        assert await _status(h, f"/packages/{ORG}/debs/widget-deb/readme") == 404
        assert await _status(h, _CORE + "/versions/1.1.0/release_notes") == 404
        assert await _status(h, f"/packages/{ORG}/vault/secret-tool/readme") == 404
    assert readme["package"] == "core-lib"
    assert readme["repo"] == "releases"
    assert readme["owner"] == ORG
    assert readme["bintray"]["syntax"] == "markdown"
    assert readme["bintray"]["content"].startswith("# core-lib")
    assert set(notes) == {"package", "repo", "owner", "bintray"}
    assert version_notes["version"] == "1.2.0"
    assert "1.2.0" in version_notes["bintray"]["content"]


async def test_github_variants_point_at_github() -> None:
    org = build_org()
    core = org.repos["releases"].packages["core-lib"]
    core.readme = core.release_notes = ""
    async with running(org) as h:
        readme = await h.get_json(_CORE + "/readme")
        notes = await h.get_json(_CORE + "/release_notes")
    assert readme["github"] == {"github_repo": "acme/core-lib"}
    assert notes["github"] == {"github_release_notes_file": "NOTES.md"}


async def test_download_logs_are_gzipped_apache_lines_for_publishers() -> None:
    async with running() as h:
        logs = await h.get_json(_CORE + "/logs", "pat")
        name = logs[0]["name"]
        async with h.session.get(h.api_url(f"{_CORE}/logs/{name}"), headers=auth("pat")) as r:
            assert r.status == 200
            assert r.headers["Content-Type"] == "application/gzip"
            raw = await r.read()
        assert await _status(h, _CORE + "/logs") == 401
        assert await _status(h, _CORE + "/logs", "rita") == 403
        assert await _status(h, f"/packages/{ORG}/free/freebie/logs", "adam") == 403
        assert await _status(h, _CORE + "/logs/nope.log.gz", "pat") == 404
    assert [set(entry) for entry in logs] == [{"name", "size", "update"}] * 2
    assert logs[0]["update"] > logs[1]["update"]
    assert logs[0]["size"] == len(raw)
    line = gzip.decompress(raw).decode().splitlines()[0]
    assert f'"GET /{ORG}/releases/{JAR_PATH} HTTP/1.1" 200' in line
    assert line.startswith("203.0.113.")


async def test_product_eulas_and_the_eula_of_a_file() -> None:
    async with running() as h:
        eulas = await h.get_json(f"/products/{ORG}/widget/eulas")
        eula = await h.get_json(f"/products/{ORG}/widget/eulas/acme-eula")
        of_file = await h.get_json(f"/file_eula/{ORG}/releases/{JAR_PATH}")
        assert await _status(h, f"/products/{ORG}/widget/eulas/nope") == 404
        assert await _status(h, f"/products/{ORG}/nope/eulas") == 404
        other = "com/acme/core-lib/1.1.0/core-lib-1.1.0.jar"
        assert await _status(h, f"/file_eula/{ORG}/releases/{other}") == 404
    assert eulas == [{"name": "acme-eula", "created": eula["created"], "versions": ["1.2.0"]}]
    assert eula["syntax"] == "markdown"
    assert eula["content"]
    assert of_file == eula


async def test_signed_eulas_need_an_admin() -> None:
    async with running() as h:
        one = await h.get_json(f"/products/{ORG}/widget/signed_eulas", "adam")
        every = await h.get_json(f"/products/{ORG}/_all/signed_eulas", "adam")
        nobody = await h.get_json(
            f"/products/{ORG}/widget/signed_eulas", "adam", params={"username": "otto"}
        )
        assert await _status(h, f"/products/{ORG}/widget/signed_eulas") == 401
        assert await _status(h, f"/products/{ORG}/_all/signed_eulas", "pat") == 403
    assert one == every
    assert one["widget"] == [
        {
            "date_signed": "2020-11-05T10:00:00.000Z",
            "username": "olivia",
            "product_version_name": "1.2.0",
            "eula_name": "acme-eula",
        }
    ]
    assert nobody == {"widget": []}


async def test_gpg_public_key_is_public_armored_text() -> None:
    async with running() as h:
        for path in (f"/orgs/{ORG}/keys/gpg/public.key", "/users/olivia/keys/gpg/public.key"):
            async with h.session.get(h.api_url(path)) as resp:
                assert resp.status == 200
                assert resp.headers["Content-Type"].startswith("application/pgp-keys")
                assert await resp.text() == GPG_PUBLIC_KEY
        assert await _status(h, "/users/otto/keys/gpg/public.key") == 404
        assert await _status(h, "/users/nobody/keys/gpg/public.key") == 404


async def test_usage_thresholds_are_admin_only_and_enterprise() -> None:
    org = build_org()
    org.usage_thresholds["business_unit/Platform"] = org.usage_thresholds["organization"]
    async with running(org) as h:
        mine = await h.get_json(f"/usage_threshold/organization/{ORG}", "adam")
        repo = await h.get_json(f"/usage_threshold/repo/{ORG}/releases", "adam")
        unit = await h.get_json(f"/usage_threshold/business_unit/{ORG}/Platform", "adam")
        assert await _status(h, f"/usage_threshold/repo/{ORG}/debs", "adam") == 404
        assert await _status(h, f"/usage_threshold/repo/{ORG}/nope", "adam") == 404
        assert await _status(h, f"/usage_threshold/organization/{ORG}") == 401
        assert await _status(h, f"/usage_threshold/organization/{ORG}", "pat") == 403
        org.premium = False
        assert await _status(h, f"/usage_threshold/organization/{ORG}", "adam") == 403
    assert mine == repo == unit
    assert {k: type(v) for k, v in mine.items()} == {
        "monthly_storage_bytes": int,
        "monthly_download_bytes": int,
        "daily_download_bytes": int,
        "alert_to_emails": list,
        "alert_to_admins": bool,
    }


async def test_event_stream_sends_recorded_events_and_keepalives() -> None:
    options = BintrayOptions(stream_keepalive=0.05, redirect_downloads=False)
    async with running(options=options) as h:
        async with h.session.get(h.dl_url(f"/{ORG}/releases/{JAR_PATH}")) as resp:
            assert resp.status == 200
            await resp.read()
        url = h.api_url(f"/stream/{ORG}")
        streams = [await h.session.get(url, headers=auth("adam")) for _ in range(3)]
        try:
            first = streams[0]
            assert first.status == 200
            assert first.headers["Transfer-Encoding"] == "chunked"
            event = await asyncio.wait_for(first.content.readline(), 5)
            keepalive = await asyncio.wait_for(first.content.readline(), 5)
            assert await _status(h, f"/stream/{ORG}", "adam") == 429
        finally:
            for stream in streams:
                stream.close()
        assert await _status(h, f"/stream/{ORG}") == 401
        assert await _status(h, f"/stream/{ORG}", "pat") == 403
    assert event.endswith(b"\r\n")
    assert keepalive == b"\r\n"
    body = orjson.loads(event)
    assert body["type"] == "download"
    assert (body["subject"], body["repo"], body["path"]) == (ORG, "releases", JAR_PATH)
    assert body["username"] == "anonymous"
