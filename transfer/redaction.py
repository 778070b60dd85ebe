"""The one place for secrets: the ``Secret`` type, redaction of URLs, DSNs and free text, and
the process-wide registry of generated secrets.

Everything that writes text a user or a log may see goes through here: error messages quote
URLs via :func:`redact_url` / :func:`redact_text`, store messages name servers via
:func:`redact_dsn`, clients drop the credentials they hold with :func:`scrub_values`, and the
logging setup (edge) scrubs every line with :data:`REGISTRY`, where the migration phases register
what they generate the moment it exists.

Layer 0: it imports nothing of ours but :mod:`transfer.errors`.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final, NoReturn, final
from urllib.parse import unquote, urlsplit, urlunsplit

from transfer.errors import ConfigError

__all__ = [
    "REDACTED",
    "REGISTRY",
    "Secret",
    "SecretRegistry",
    "credential_values",
    "redact_dsn",
    "redact_text",
    "redact_url",
    "register_secret",
    "scrub_values",
]

REDACTED: Final = "***"
"""What a secret looks like wherever it would have been written."""


@final
class Secret:
    """A credential. Prints as ``***`` everywhere; only :meth:`reveal` gives the value.

    Equality and hashing use the value, so two settings built from the same environment
    compare equal. Pickling is refused, and JSON encoders fail on it, so a secret is never
    serialised in clear by accident.
    """

    __slots__ = ("_value",)
    _value: str

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("Secret wraps a str")
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        """The clear value: call it only where the credential is put on the wire."""
        return self._value

    @classmethod
    def from_reference(
        cls,
        reference: str,
        *,
        environ: Mapping[str, str] | None = None,
        base_dir: Path | None = None,
    ) -> Secret:
        """Resolve ``env:NAME``, ``${NAME}`` or ``file:PATH`` to a secret.

        A file's trailing newline is dropped; a relative path resolves against ``base_dir``
        (default: the current directory). Raises ``ConfigError`` naming the reference (never
        the value) when the variable is unset, the file unreadable, or the result empty.
        """
        env = os.environ if environ is None else environ
        if reference.startswith("env:") or (reference.startswith("${") and reference.endswith("}")):
            name = reference[4:] if reference.startswith("env:") else reference[2:-1]
            if name not in env:
                raise ConfigError(f"environment variable {name} is not set")
            value = env[name]
        elif reference.startswith("file:"):
            path = Path(reference[5:]).expanduser()
            if not path.is_absolute():
                path = (base_dir or Path.cwd()) / path
            try:
                value = path.read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise ConfigError(f"cannot read secret file {path}: {exc.strerror}") from None
        else:
            # Not echoed: a malformed reference is often the secret itself, pasted by mistake.
            raise ConfigError("a secret reference must start with env:, file: or ${")
        if not value:
            raise ConfigError(f"secret from {reference} is empty")
        return cls(value)

    def __repr__(self) -> str:
        return REDACTED

    __str__ = __repr__

    def __format__(self, format_spec: str) -> str:
        return REDACTED

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("Secret is immutable")

    def __reduce__(self) -> NoReturn:
        raise TypeError("Secret values are never serialised")


# --------------------------------------------------------------------------- URLs and text

_SENSITIVE_PARAMS = frozenset(
    {
        "sig",
        "signature",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "__gda__",
        "hmac",
        "password",
        "passwd",
        "secret",
        "client_secret",
        "api_key",
        "apikey",
    }
)
_SENSITIVE_PREFIXES = ("x-amz-", "x-goog-")
_URL_IN_TEXT = re.compile(r"""(?i)\b(?:https?|wss?)://[^\s'"<>()\[\]{}]+""")


def _is_sensitive(name: str) -> bool:
    key = unquote(name).strip().lower()
    return key in _SENSITIVE_PARAMS or key.startswith(_SENSITIVE_PREFIXES)


def redact_url(url: object) -> str:
    """``url`` without user info and with the values of secret-bearing query parameters masked.

    Masks signatures and tokens (``sig``, ``signature``, ``token``, ``__gda__``, ``X-Amz-*``,
    ``password``, ``api_key`` and the like) as ``***``; leaves the rest byte-for-byte as given.
    """
    text = str(url)
    try:
        parts = urlsplit(text)
    except ValueError:
        return REDACTED
    netloc = parts.netloc.rpartition("@")[2]
    query = parts.query
    if query:
        pieces = []
        for piece in query.split("&"):
            name, eq, _value = piece.partition("=")
            pieces.append(f"{name}={REDACTED}" if eq and _is_sensitive(name) else piece)
        query = "&".join(pieces)
    # Matrix parameters and paths carry no credentials in the APIs we talk to.
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _redact_match(match: re.Match[str]) -> str:
    found = match.group(0)
    # Sentence punctuation after a URL in prose is not part of it.
    url = found.rstrip(".,;:!?")
    return redact_url(url) + found[len(url) :]


def redact_text(text: str) -> str:
    """``text`` with every URL in it passed through :func:`redact_url`."""
    return _URL_IN_TEXT.sub(_redact_match, text)


def redact_dsn(dsn: str) -> str:
    """``dsn`` as shown to users: scheme, user, host, port and database, no password/query."""
    try:
        parts = urlsplit(dsn)
        port = f":{parts.port}" if parts.port else ""
        user = f"{parts.username}@" if parts.username else ""
        host = parts.hostname or ""
    except ValueError:
        return "postgresql://(unparsable URL)"
    return f"{parts.scheme}://{user}{host}{port}{parts.path}"


def scrub_values(text: str, values: Iterable[str]) -> str:
    """``text`` with every one of ``values`` (credentials a client holds) replaced by ``***``."""
    for value in values:
        text = text.replace(value, REDACTED)
    return text


def credential_values(headers: Mapping[str, str]) -> list[str]:
    """Every form in which the credentials of ``headers`` could be quoted back at us: each
    header value, an ``Authorization`` credential without its scheme, and a Basic credential
    decoded (``user:password``) and its password alone."""
    values: list[str] = []
    for name, value in headers.items():
        values.append(value)
        if name.lower() == "authorization":
            scheme, _, credential = value.partition(" ")
            values.append(credential)
            if scheme.lower() == "basic":
                decoded = base64.b64decode(credential).decode("utf-8", "replace")
                values.extend((decoded, decoded.partition(":")[2]))
    return [v for v in values if v]


# --------------------------------------------------------------------------- the registry

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


REGISTRY: Final = SecretRegistry()
"""The process-wide registry: generated secrets and the configured ones."""


def register_secret(value: str | Secret) -> None:
    """Never log ``value``: every occurrence inside any logged string becomes ``***``."""
    REGISTRY.add(value)
