"""HMAC tokens: Bintray's signed download URLs and the CDN redirect tokens of the dl host.

Signed URLs are keyed by the organisation's ``url_signing_key`` so rotating it (``POST
/subjects/:s/keypair``) invalidates every outstanding URL. CDN tokens are keyed by a secret
private to the emulator and carry their expiry, like Akamai's ``__gda__=exp=..~hmac=..``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

__all__ = ["SignatureStatus", "cdn_token", "check_cdn_token", "check_signed_url", "sign_url"]


def _key_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _signature(key: str, resource: str, expiry: int, key_id: str) -> str:
    message = f"{resource}|{expiry}|{key_id}".encode()
    digest = hmac.new(key.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign_url(key: str, resource: str, expiry_ms: int) -> dict[str, str]:
    """Query parameters ``expiry``, ``id``, ``signature`` for ``resource`` (``s/r/path``)."""
    key_id = _key_id(key)
    return {
        "expiry": str(expiry_ms),
        "id": key_id,
        "signature": _signature(key, resource, expiry_ms, key_id),
    }


class SignatureStatus:
    """Outcomes of checking a signed URL."""

    ABSENT = "absent"
    VALID = "valid"
    INVALID = "invalid"
    EXPIRED = "expired"


def check_signed_url(key: str, resource: str, query: Mapping[str, str], now: float) -> str:
    """A :class:`SignatureStatus` for the ``expiry``/``id``/``signature`` parameters of a URL."""
    if "signature" not in query:
        return SignatureStatus.ABSENT
    try:
        expiry = int(query.get("expiry", ""))
    except ValueError:
        return SignatureStatus.INVALID
    key_id = query.get("id", "")
    if key_id != _key_id(key):
        return SignatureStatus.INVALID
    expected = _signature(key, resource, expiry, key_id)
    if not hmac.compare_digest(expected, query["signature"]):
        return SignatureStatus.INVALID
    if expiry <= now * 1000:
        return SignatureStatus.EXPIRED
    return SignatureStatus.VALID


def cdn_token(secret: bytes, resource: str, expires_at: int) -> str:
    """``exp=<epoch>~hmac=<hex>`` authorising ``resource`` until ``expires_at``."""
    mac = hmac.new(secret, f"{resource}|{expires_at}".encode(), hashlib.sha256).hexdigest()
    return f"exp={expires_at}~hmac={mac}"


def check_cdn_token(secret: bytes, resource: str, token: str, now: float) -> bool:
    """True when ``token`` was minted for ``resource`` and has not expired."""
    fields = dict(part.partition("=")[::2] for part in token.split("~"))
    try:
        expires_at = int(fields.get("exp", ""))
    except ValueError:
        return False
    if not hmac.compare_digest(cdn_token(secret, resource, expires_at), token):
        return False
    return expires_at >= now
