"""The emulator's issued access tokens, kept apart from the HTTP handlers (:mod:`.tokens`) so
the shared :class:`~.state.State` can name the store without importing the handlers.

Tokens are JWT-shaped strings kept in memory; the store, not the signature, decides validity.
``groups`` on a record means "acts with these groups only"; None means the user's own rights.
A token expiring sooner than the persistency threshold is kept only to authenticate: it is not
listed, read or revoked (see :mod:`.tokens`).
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from dataclasses import dataclass, replace
from typing import Any

__all__ = ["SERVICE_ID", "TokenRecord", "TokenStore"]

SERVICE_ID = "jfrt@01emulator0000000000000000"


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """One issued token."""

    token_id: str
    access_token: str
    subject: str
    scope: str
    groups: frozenset[str] | None
    admin_scope: bool
    issued_at: float
    expires_at: float | None
    refresh_token: str | None
    transient: bool
    description: str = ""
    persisted: bool = True

    def to_json(self) -> dict[str, Any]:
        """The Access token-info body (``GET /access/api/v1/tokens/{id}``)."""
        return {
            "token_id": self.token_id,
            "subject": f"{SERVICE_ID}/users/{self.subject}",
            "expiry": int(self.expires_at) if self.expires_at else 0,
            "issued_at": int(self.issued_at),
            "issuer": SERVICE_ID,
            "description": self.description,
            "refreshable": self.refresh_token is not None,
        }


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


class TokenStore:
    """Issued tokens by value, id and refresh token."""

    def __init__(self, persistency_threshold: int = 10_800) -> None:
        self._by_token: dict[str, TokenRecord] = {}
        self.persistency_threshold = persistency_threshold

    def issue(
        self,
        subject: str,
        scope: str,
        *,
        groups: frozenset[str] | None,
        admin_scope: bool,
        expires_in: int,
        refreshable: bool,
        now: float,
        transient: bool,
        description: str = "",
    ) -> TokenRecord:
        """Mint and remember a token; ``expires_in`` 0 never expires. One expiring sooner than
        the persistency threshold is remembered only to authenticate (not listed or revoked)."""
        token_id = str(uuid.uuid4())
        payload = {
            "sub": f"{SERVICE_ID}/users/{subject}",
            "scp": scope,
            "aud": "*@*",
            "iss": SERVICE_ID,
            "iat": int(now),
            "jti": token_id,
        }
        if expires_in:
            payload["exp"] = int(now + expires_in)
        header = {"typ": "JWT", "alg": "RS256", "kid": "emulator"}
        token = f"{_b64(header)}.{_b64(payload)}.{secrets.token_urlsafe(48)}"
        record = TokenRecord(
            token_id,
            token,
            subject,
            scope,
            groups,
            admin_scope,
            now,
            now + expires_in if expires_in else None,
            secrets.token_urlsafe(32) if refreshable else None,
            transient,
            description,
            persisted=not expires_in or expires_in >= self.persistency_threshold,
        )
        self._by_token[token] = record
        return record

    def find(self, token: str) -> TokenRecord | None:
        """The record of a token value (expired ones included)."""
        return self._by_token.get(token)

    def expire_all(self, now: float) -> None:
        """Every token expires at ``now`` at the latest (a test's "N minutes later")."""
        for value, record in list(self._by_token.items()):
            if record.expires_at is None or record.expires_at > now:
                self._by_token[value] = replace(record, expires_at=now)

    def revoke(
        self, *, token: str | None = None, token_id: str | None = None
    ) -> TokenRecord | None:
        """Forget a persisted token by value or id; returns it, or None when unknown."""
        for value, record in list(self._by_token.items()):
            if record.persisted and (value == token or record.token_id == token_id):
                return self._by_token.pop(value)
        return None

    def forget(self, token: str) -> None:
        """Drop a token whatever its persistence (a refresh replaces it)."""
        self._by_token.pop(token, None)

    def by_refresh(self, refresh_token: str) -> TokenRecord | None:
        """The token a refresh token belongs to."""
        return next((r for r in self._by_token.values() if r.refresh_token == refresh_token), None)

    def all(self) -> list[TokenRecord]:
        """Every persisted record (what listing and lookup by id see)."""
        return [r for r in self._by_token.values() if r.persisted]

    def by_id(self, token_id: str) -> TokenRecord | None:
        """The persisted token with this id."""
        return next((r for r in self.all() if r.token_id == token_id), None)
