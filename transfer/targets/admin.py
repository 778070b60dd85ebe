"""The admin facet of a target: :class:`TargetAdmin`, what the repositories, security and
signed-URL phases need from a target that has repositories and users to manage.

A :class:`~transfer.targets.base.Target` offers it as ``target.admin`` (``None`` when it has no
such thing, as a WebDAV server): the runner asks for the facet, never for a class, so another
Artifactory-like target plugs in by offering one.  Every method answers the target's current
truth (``None`` for what does not exist) and raises the error tree's classes for the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

__all__ = ["TargetAdmin"]


class TargetAdmin(Protocol):
    """Repositories, users, groups, permission targets, access tokens and signed URLs."""

    async def get_repository(self, key: str) -> dict[str, Any] | None:
        """The configuration, or ``None`` when the repository does not exist."""
        ...

    async def create_repository(self, key: str, config: Mapping[str, Any]) -> None:
        """Create repository ``key`` with ``config``."""
        ...

    async def update_repository(self, key: str, changes: Mapping[str, Any]) -> None:
        """Change the given fields of repository ``key``."""
        ...

    async def get_user(self, name: str) -> dict[str, Any] | None:
        """A user, or ``None``."""
        ...

    async def put_user(self, name: str, user: Mapping[str, Any]) -> None:
        """Create or replace a user."""
        ...

    async def get_group(self, name: str, *, include_users: bool = True) -> dict[str, Any] | None:
        """A group (with ``userNames``), or ``None``."""
        ...

    async def put_group(self, name: str, group: Mapping[str, Any]) -> None:
        """Create or replace a group."""
        ...

    async def get_permission(self, name: str) -> dict[str, Any] | None:
        """A permission target, or ``None``."""
        ...

    async def create_permission(self, name: str, permission: Mapping[str, Any]) -> None:
        """Create a permission target (a conflict when it exists)."""
        ...

    async def put_permission(self, name: str, permission: Mapping[str, Any]) -> None:
        """Create or replace a permission target."""
        ...

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
        """Mint an access token (never retried: a lost answer must not mint two)."""
        ...

    async def get_access_token(self, token_id: str) -> dict[str, Any] | None:
        """A token's info, or ``None`` when the target does not keep it (unknown, revoked, or
        too short-lived for Access to persist)."""
        ...

    async def revoke_access_token(self, token_id: str) -> bool:
        """Revoke a token by id; ``False`` when the target does not know it."""
        ...

    async def create_signed_url(
        self,
        repo_key: str,
        path: str,
        *,
        valid_for_secs: int | None = None,
        expiry_ms: int | None = None,
    ) -> str:
        """A signed URL for ``repo_key/path``."""
        ...
