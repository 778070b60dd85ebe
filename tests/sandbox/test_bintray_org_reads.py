"""Fidelity of the remaining organisation reads (reference 2.2, 11): followers, licenses,
webhooks."""

from __future__ import annotations

import pytest
from bintray_org import ORG, auth, running

pytestmark = pytest.mark.anyio


async def test_followers_are_a_paged_list() -> None:
    async with running() as h:
        async with h.session.get(h.api_url("/users/adam/followers")) as resp:
            assert resp.status == 200
            assert await resp.json() == []
            assert resp.headers["X-RangeLimit-Total"] == "0"
        async with h.session.get(h.api_url("/users/nobody-here/followers")) as resp:
            assert resp.status == 404


async def test_licenses_oss_and_proprietary() -> None:
    async with running() as h:
        oss = await h.get_json("/licenses/oss_licenses")
        proprietary = await h.get_json(f"/orgs/{ORG}/licenses", "adam")
        async with h.session.get(h.api_url(f"/orgs/{ORG}/licenses"), headers=auth("pat")) as r:
            assert r.status == 403
    assert {"name", "longname", "url"} == set(oss[0])
    assert "Apache-2.0" in {entry["name"] for entry in oss}
    assert proprietary == []


async def test_webhooks_need_an_admin_and_a_known_repository() -> None:
    async with running() as h:
        assert await h.get_json(f"/webhooks/{ORG}", "adam") == []
        assert await h.get_json(f"/webhooks/{ORG}/releases", "adam") == []
        async with h.session.get(h.api_url(f"/webhooks/{ORG}/nope"), headers=auth("adam")) as r:
            assert r.status == 404
        async with h.session.get(h.api_url(f"/webhooks/{ORG}")) as r:
            assert r.status == 401
