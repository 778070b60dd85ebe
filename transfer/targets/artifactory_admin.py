"""Artifactory administration for the side phases: repositories, users, groups, permission
targets (v2), access tokens and signed URLs (reference §5-§8).

Calls that look something up answer ``None`` when it does not exist (for repositories both 400
and 404 mean that, reference §5.3).  Creating calls that are not idempotent (repository
create, permission target create, token create) are not retried: a retry after a lost answer
would report "already exists" or mint a second token.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from transfer.errors import NotFoundError, RemoteError
from transfer.http import HttpClient

__all__ = ["ArtifactoryAdmin"]


def _name(value: str) -> str:
    return quote(value, safe="")


class ArtifactoryAdmin:
    """Admin REST calls on an Artifactory base URL, sharing the target's connection pool."""

    def __init__(self, client: HttpClient, base_url: str) -> None:
        self._client = client
        self._base_url = base_url.rstrip("/")

    @property
    def platform_url(self) -> str:
        """The JFrog platform root (the base URL without ``/artifactory``), where the Access
        APIs (``/access/api/...``) live."""
        if self._base_url.endswith("/artifactory"):
            return self._base_url[: -len("/artifactory")]
        return self._base_url

    async def _get_or_none(
        self,
        path: str,
        *,
        missing: tuple[int, ...] = (404,),
        params: Mapping[str, str] | None = None,
    ) -> Any:
        try:
            return await self._client.request_json("GET", path, params=params)
        except NotFoundError:
            return None
        except RemoteError as error:
            if error.status in missing:
                return None
            raise

    # --- repositories ------------------------------------------------------------------

    async def get_repository(self, key: str) -> dict[str, Any] | None:
        """The configuration of repository ``key``; ``None`` when unknown (400 or 404)."""
        found = await self._get_or_none(f"api/repositories/{_name(key)}", missing=(400, 404))
        return found if isinstance(found, dict) else None

    async def list_repositories(
        self, *, type: str | None = None, package_type: str | None = None
    ) -> list[dict[str, Any]]:
        """``[{"key", "type", "packageType", "url", ...}]``, optionally filtered."""
        params = {}
        if type:
            params["type"] = type
        if package_type:
            params["packageType"] = package_type
        found = await self._client.request_json("GET", "api/repositories", params=params or None)
        return [r for r in found if isinstance(r, dict)] if isinstance(found, list) else []

    async def create_repository(self, key: str, config: Mapping[str, Any]) -> None:
        """``PUT /api/repositories/{key}`` (400 when it exists; not retried)."""
        body = {"key": key, **config}
        await self._client.request(
            "PUT", f"api/repositories/{_name(key)}", json=body, expected=(200, 201), retry=False
        )

    async def update_repository(self, key: str, changes: Mapping[str, Any]) -> None:
        """``POST /api/repositories/{key}`` with only the fields to change."""
        await self._client.request(
            "POST", f"api/repositories/{_name(key)}", json=dict(changes), expected=(200, 201)
        )

    # --- users and groups --------------------------------------------------------------

    async def get_user(self, name: str) -> dict[str, Any] | None:
        """User ``name``; ``None`` when missing."""
        found = await self._get_or_none(f"api/security/users/{_name(name)}", missing=(400, 404))
        return found if isinstance(found, dict) else None

    async def put_user(self, name: str, user: Mapping[str, Any]) -> None:
        """Create or replace user ``name`` (``email`` and ``password`` needed on create)."""
        body = {"name": name, **user}
        await self._client.request(
            "PUT", f"api/security/users/{_name(name)}", json=body, expected=(200, 201)
        )

    async def list_users(self) -> list[dict[str, Any]]:
        """``[{"name", "uri", "realm"}]``."""
        found = await self._client.request_json("GET", "api/security/users")
        return [u for u in found if isinstance(u, dict)] if isinstance(found, list) else []

    async def get_group(self, name: str, *, include_users: bool = True) -> dict[str, Any] | None:
        """Group ``name`` (with ``userNames`` when ``include_users``); ``None`` when missing."""
        params = {"includeUsers": "true"} if include_users else None
        found = await self._get_or_none(
            f"api/security/groups/{_name(name)}", missing=(400, 404), params=params
        )
        return found if isinstance(found, dict) else None

    async def put_group(self, name: str, group: Mapping[str, Any]) -> None:
        """Create or replace group ``name`` (``userNames`` sets its members, 6.13+)."""
        body = {"name": name, **group}
        await self._client.request(
            "PUT", f"api/security/groups/{_name(name)}", json=body, expected=(200, 201)
        )

    # --- permission targets (v2) -------------------------------------------------------

    async def get_permission(self, name: str) -> dict[str, Any] | None:
        """Permission target ``name`` (v2 JSON); ``None`` when missing."""
        found = await self._get_or_none(f"api/v2/security/permissions/{_name(name)}")
        return found if isinstance(found, dict) else None

    async def create_permission(self, name: str, permission: Mapping[str, Any]) -> None:
        """``POST`` a new permission target; :class:`~transfer.errors.ConflictError` (409)
        when it exists.  Not retried."""
        body = {"name": name, **permission}
        await self._client.request(
            "POST",
            f"api/v2/security/permissions/{_name(name)}",
            json=body,
            expected=(200, 201),
            retry=False,
        )

    async def put_permission(self, name: str, permission: Mapping[str, Any]) -> None:
        """Create or fully replace permission target ``name`` (sections left out are
        deleted)."""
        body = {"name": name, **permission}
        await self._client.request(
            "PUT",
            f"api/v2/security/permissions/{_name(name)}",
            json=body,
            expected=(200, 201),
        )

    # --- tokens and signed URLs --------------------------------------------------------

    async def create_access_token(
        self,
        *,
        username: str | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        description: str | None = None,
        refreshable: bool | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``POST /access/api/v1/tokens`` (JSON): ``{"token_id", "access_token", ...}``.
        Not retried: a lost answer must not mint two tokens."""
        chosen = {
            "username": username,
            "scope": scope,
            "expires_in": expires_in,
            "description": description,
            "refreshable": refreshable,
        }
        body: dict[str, Any] = {
            **(extra or {}),
            **{k: v for k, v in chosen.items() if v is not None},
        }
        found = await self._client.request_json(
            "POST",
            f"{self.platform_url}/access/api/v1/tokens",
            json=body,
            expected=(200, 201),
            retry=False,
        )
        if not isinstance(found, dict) or "access_token" not in found:
            raise RemoteError(
                "the token endpoint answered without an access_token", url="/access/api/v1/tokens"
            )
        return found

    async def get_access_token(self, token_id: str) -> dict[str, Any] | None:
        """``GET /access/api/v1/tokens/{id}``: the token's info, or ``None`` when Access does
        not know it (unknown, revoked, or too short-lived to be persisted)."""
        found = await self._get_or_none(
            f"{self.platform_url}/access/api/v1/tokens/{_name(token_id)}"
        )
        return found if isinstance(found, dict) else None

    async def revoke_access_token(self, token_id: str) -> bool:
        """``DELETE /access/api/v1/tokens/{id}``: ``False`` when Access does not know the token
        (404: unknown, already revoked, or too short-lived to be persisted)."""
        try:
            await self._client.request(
                "DELETE",
                f"{self.platform_url}/access/api/v1/tokens/{_name(token_id)}",
                expected=(200, 204),
            )
        except NotFoundError:
            return False
        return True

    async def create_signed_url(
        self,
        repo_key: str,
        path: str,
        *,
        valid_for_secs: int | None = None,
        expiry_ms: int | None = None,
    ) -> str:
        """``POST /api/signed/url``: the signed URL (the body is the URL as plain text).

        ``repo_path`` is sent unencoded, as Artifactory expects it in JSON.
        """
        body: dict[str, Any] = {"repo_path": f"/{repo_key}/{path}"}
        if valid_for_secs is not None:
            body["valid_for_secs"] = valid_for_secs
        if expiry_ms is not None:
            body["expiry"] = expiry_ms
        response = await self._client.request(
            "POST", "api/signed/url", json=body, expected=(200, 201)
        )
        text = response.text().strip()
        # Some versions quote the URL as a JSON string.
        if text.startswith('"') and text.endswith('"'):
            text = text[1:-1]
        return text
