"""The emulator's signed-URL key: mints and checks HS256 JWTs over a repository path.  Kept apart
from the HTTP handlers (:mod:`.signed_urls`) so the shared :class:`~.state.State` can name it
without importing the handlers; rotating the key voids every earlier URL."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any

__all__ = ["UrlSigner"]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class UrlSigner:
    """Mints and checks ``sig`` tokens with one current key."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)

    def rotate(self) -> None:
        """Replace the key: every earlier signature stops validating."""
        self._key = secrets.token_bytes(32)

    @staticmethod
    def _digest(repo: str, path: str) -> str:
        return hashlib.sha256(f"{repo}/{path}".encode()).hexdigest()

    def sign(self, repo: str, path: str, *, issuer: str, now: float, expires_at: float) -> str:
        """A signature granting GET of ``repo/path`` until ``expires_at``."""
        header = _b64(json.dumps({"typ": "JWT", "alg": "HS256"}).encode())
        claims = {
            "iss": issuer,
            "sum": self._digest(repo, path),
            "iat": int(now),
            "exp": int(expires_at),
        }
        payload = _b64(json.dumps(claims).encode())
        mac = hmac.new(self._key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64(mac)}"

    def verify(self, sig: str, repo: str, path: str, *, now: float) -> bool:
        """Whether ``sig`` is ours, for this path, and not expired."""
        try:
            header, payload, mac = sig.split(".")
            expected = hmac.new(self._key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(expected, _unb64(mac)):
                return False
            claims: dict[str, Any] = json.loads(_unb64(payload))
        except (ValueError, TypeError):
            return False
        return claims.get("sum") == self._digest(repo, path) and now < float(claims.get("exp", 0))
