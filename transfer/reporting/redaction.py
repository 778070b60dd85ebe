"""The process-wide set of strings that must never be written anywhere: log lines, error
messages, reports. Generated secrets are registered here the moment they exist.

Layer 2: the migration phases register what they generate; the logging setup (edge) scrubs
every line with :data:`_REGISTRY`.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Final

from transfer.settings import Secret

__all__ = ["REDACTED", "SecretRegistry", "register_secret"]

REDACTED: Final = "***"

_URL_PASSWORD = re.compile(r"(://[^/\s:@]+):[^/\s@]+@")
_BEARER = re.compile(r"\b(Bearer)\s+[A-Za-z0-9._~+/=-]{8,}")
_BASIC = re.compile(r"\bBasic\s+([A-Za-z0-9+/]{6,}={0,2})")


class SecretRegistry:
    """Strings that must never appear in a log line.

    Values shorter than :attr:`MIN_LENGTH` are not searched for inside other strings (a
    two-letter password would blank out ordinary words); they are still redacted when logged
    as a ``Secret`` or under a credential-like key.
    """

    MIN_LENGTH: Final = 4

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, value: str | Secret) -> None:
        """Scrub ``value`` (a ``Secret``'s clear text, for a ``Secret``) from now on."""
        text = value.reveal() if isinstance(value, Secret) else value
        if len(text) >= self.MIN_LENGTH and text not in self._values:
            self._values.add(text)
            # Longest first, so a secret containing another is replaced whole.
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    def clear(self) -> None:
        """Forget every registered value (tests)."""
        self._values.clear()
        self._pattern = None

    def scrub(self, text: str) -> str:
        """``text`` with registered values and recognisable credentials replaced by ``***``."""
        if self._pattern is not None:
            text = self._pattern.sub(REDACTED, text)
        if "://" in text:
            text = _URL_PASSWORD.sub(rf"\1:{REDACTED}@", text)
        if "Bearer" in text:
            text = _BEARER.sub(rf"\1 {REDACTED}", text)
        if "Basic" in text:
            text = _BASIC.sub(_basic_credentials, text)
        return text


def _basic_credentials(match: re.Match[str]) -> str:
    try:
        decoded = base64.b64decode(match[1], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return match[0]
    return f"Basic {REDACTED}" if ":" in decoded else match[0]


_REGISTRY: Final = SecretRegistry()


def register_secret(value: str | Secret) -> None:
    """Never log ``value``: every occurrence inside any logged string becomes ``***``."""
    _REGISTRY.add(value)
