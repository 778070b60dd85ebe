"""Authentication, visibility by role and rate-limit headers of the Bintray emulator (1.2, 1.4)."""

from __future__ import annotations

import pytest
from bintray_org import ACCESS_KEY, EXPIRED_KEY, ORG, auth, basic, running

from transfer.sandbox.bintray import BintrayOptions

pytestmark = pytest.mark.anyio

UNAUTHENTICATED = {"message": "This resource requires authentication"}


@pytest.mark.parametrize("prefix", ["", "/api/v1"])
async def test_wrong_credentials_get_401_json_even_on_public_data(prefix: str) -> None:
    async with running() as h:
        bad = basic("pat", "not-the-key")
        url = h.api_url(f"/packages/{ORG}/releases/core-lib/files", prefix)
        async with h.session.get(url, headers=bad) as resp:
            assert resp.status == 401
            assert resp.content_type == "application/json"
            assert await resp.json() == UNAUTHENTICATED
            assert resp.headers["X-RateLimit-Limit"] == "1440"
        async with h.session.get(url) as resp:
            assert resp.status == 200


async def test_unknown_user_and_malformed_header_are_401() -> None:
    async with running() as h:
        url = h.api_url(f"/repos/{ORG}/releases")
        async with h.session.get(url, headers=basic("nobody", "x")) as resp:
            assert resp.status == 401
        async with h.session.get(url, headers={"Authorization": "Basic !!!"}) as resp:
            assert resp.status == 401
            assert await resp.json() == UNAUTHENTICATED


@pytest.mark.parametrize("path", ["/users/pat", f"/orgs/{ORG}"])
async def test_user_and_org_need_an_authenticated_caller(path: str) -> None:
    async with running() as h:
        async with h.session.get(h.api_url(path)) as resp:
            assert resp.status == 401
            assert await resp.json() == UNAUTHENTICATED
        async with h.session.get(h.api_url(path), headers=auth("otto")) as resp:
            assert resp.status == 200


async def test_access_key_logs_in_as_id_at_subject_and_expired_keys_fail() -> None:
    async with running() as h:
        url = h.api_url(f"/repos/{ORG}/vault")
        async with h.session.get(url, headers=auth(ACCESS_KEY[0])) as resp:
            assert resp.status == 200
            assert (await resp.json())["private"] is True
        expired = basic(f"{EXPIRED_KEY[0]}@{ORG}", EXPIRED_KEY[1])
        async with h.session.get(url, headers=expired) as resp:
            assert resp.status == 401
        wrong_subject = basic(f"{ACCESS_KEY[0]}@other", ACCESS_KEY[1])
        async with h.session.get(url, headers=wrong_subject) as resp:
            assert resp.status == 401
        records = [r for r in h.emulator.request_log if r.status == 200]
        assert records[0].user == f"{ACCESS_KEY[0]}@{ORG}"


async def test_admin_only_resources_answer_forbidden_to_members() -> None:
    async with running() as h:
        for user, status in (("mona", 403), ("pat", 403), ("adam", 200), ("olivia", 200)):
            async with h.session.get(h.api_url(f"/orgs/{ORG}/teams"), headers=auth(user)) as resp:
                assert resp.status == status, user
                if status == 403:
                    assert await resp.json() == {"message": "forbidden"}
        async with h.session.get(h.api_url(f"/orgs/{ORG}/teams")) as resp:
            assert resp.status == 401


async def test_org_hides_member_type_teams_and_quota_from_non_admins() -> None:
    async with running() as h:
        as_member = await h.get_json(f"/orgs/{ORG}", "mona")
        as_admin = await h.get_json(f"/orgs/{ORG}", "adam")
    assert all(set(m) == {"name"} for m in as_member["members"])
    assert "teams" not in as_member
    assert "quota_used_bytes" not in as_member
    assert {"name": "olivia", "type": "owner"} in as_admin["members"]
    assert as_admin["teams"] == ["publishers", "readers"]
    assert isinstance(as_admin["quota_used_bytes"], int)
    assert as_admin["quota_used_bytes"] > 0
    # a member without a team does not see the private repository
    assert "vault" not in as_member["repos"]
    assert "vault" in as_admin["repos"]


async def test_rate_limit_headers_on_every_api_response_unlimited_by_default() -> None:
    async with running() as h:
        for path in (f"/repos/{ORG}", f"/repos/{ORG}/nope", "/no/such/route"):
            for _ in range(3):
                async with h.session.get(h.api_url(path)) as resp:
                    assert resp.headers["X-RateLimit-Limit"] == "1440"
                    assert resp.headers["X-RateLimit-Remaining"] == "1440"
        async with h.session.get(h.api_url("/no/such/route")) as resp:
            assert resp.status == 404
            assert await resp.json() == {"message": "Not Found"}


@pytest.mark.parametrize("exhausted_status", [429, 403])
async def test_exhausted_budget_answers_the_configured_status(exhausted_status: int) -> None:
    options = BintrayOptions(
        rate_limit=100, rate_limit_budget=3, rate_limit_exhausted_status=exhausted_status
    )
    async with running(options=options) as h:
        remaining = []
        for _ in range(3):
            async with h.session.get(h.api_url(f"/repos/{ORG}")) as resp:
                assert resp.status == 200
                remaining.append(resp.headers["X-RateLimit-Remaining"])
        assert remaining == ["2", "1", "0"]
        async with h.session.get(h.api_url(f"/repos/{ORG}")) as resp:
            assert resp.status == exhausted_status
            assert resp.headers["X-RateLimit-Limit"] == "100"
            assert resp.headers["X-RateLimit-Remaining"] == "0"
            assert (await resp.json())["message"].startswith("You have exceeded your API call")
