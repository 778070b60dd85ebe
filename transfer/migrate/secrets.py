"""The secrets file of a run: generated passwords and access tokens, and nowhere else.

A JSON document ``{"version": 1, "users": {name: {...}}, "tokens": {key id: {...}}}`` at
``security.secrets_file``. It is only ever written whole, through a temporary file created with
``os.open(..., 0o600)`` in the same directory and renamed over the old one, so the file is never
readable by anyone else, not even for an instant, and a crash leaves the previous version
intact. An entry, once written, is never replaced: a second run reuses it, so a secret the
migration issued is never rotated behind its holders' backs.

Every value read or written is registered for log redaction
(:func:`transfer.redaction.register_secret`), and neither the values nor the file's
content ever go to the checkpoint store: side records say only *that* a secret is here.
"""

from __future__ import annotations

import json
import os
import secrets as random_secrets
import stat
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, Literal

from transfer.errors import ConfigError
from transfer.localfiles import check_regular_file, read_text_file, write_file_atomically
from transfer.redaction import register_secret

__all__ = ["SECRETS_VERSION", "SecretKind", "SecretsFile", "generate_password"]

SECRETS_VERSION: Final = 1
SecretKind = Literal["users", "tokens", "renamed"]
"""Sections of the file: passwords of users, access tokens of access keys, and the Bintray
names that were given another one (so holders find their entries)."""

_ALPHABET: Final = string.ascii_letters + string.digits + "-_.~"
_SECRET_FIELDS: Final = ("password", "access_token", "refresh_token")


def generate_password(length: int = 32) -> str:
    """A strong random password (about 190 bits), with the character classes password
    policies usually ask for, and no character that needs quoting in a shell or a URL."""
    while True:
        value = "".join(random_secrets.choice(_ALPHABET) for _ in range(length))
        if (
            any(c.islower() for c in value)
            and any(c.isupper() for c in value)
            and any(c.isdigit() for c in value)
            and any(not c.isalnum() for c in value)
        ):
            return value


class SecretsFile:
    """The 0600 JSON file holding the secrets this migration generated.

    Reads are cached; :meth:`add` writes through at once (with ``fsync``), so a secret is on
    disk before it is sent to Artifactory. The methods do blocking file I/O: call them from a
    worker thread (``anyio.to_thread.run_sync``) inside async code.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._data: dict[str, Any] | None = None
        self.warnings: list[str] = []

    def _load(self) -> dict[str, Any]:
        if self._data is not None:
            return self._data
        if not check_regular_file(self.path, "the secrets file", missing_ok=True):
            self._data = {"version": SECRETS_VERSION, "users": {}, "tokens": {}}
            return self._data
        mode = self.path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            # Someone widened it: close it again before reading, and say so.
            os.chmod(self.path, 0o600)
            self.warnings.append(
                f"{self.path} was readable by others (mode {stat.S_IMODE(mode):o}); "
                "it is 0600 again, but its secrets may have been seen"
            )
        text = read_text_file(self.path, "the secrets file")
        try:
            data = json.loads(text)
        except ValueError as error:
            raise ConfigError(f"cannot read the secrets file {self.path}: {error}") from None
        if not isinstance(data, dict) or data.get("version") != SECRETS_VERSION:
            raise ConfigError(f"{self.path} is not a transfer secrets file (version 1)")
        for section in ("users", "tokens"):
            if not isinstance(data.setdefault(section, {}), dict):
                raise ConfigError(f"{self.path}: '{section}' must be an object")
            for entry in data[section].values():
                _register(entry)
        self._data = data
        return data

    def get(self, kind: SecretKind, name: str) -> dict[str, Any] | None:
        """The entry ``name`` of section ``kind`` (a copy), or ``None``."""
        entry = self._load().get(kind, {}).get(name)
        return dict(entry) if isinstance(entry, dict) else None

    def names(self, kind: SecretKind) -> list[str]:
        """Names present in section ``kind``, sorted."""
        return sorted(self._load().get(kind, {}))

    def add(self, kind: SecretKind, name: str, entry: Mapping[str, Any]) -> dict[str, Any]:
        """Store ``entry`` under ``name`` unless one is already there; returns the entry now
        in the file (the existing one wins: secrets are never rotated)."""
        data = self._load()
        existing = data.setdefault(kind, {}).get(name)
        if isinstance(existing, dict):
            return dict(existing)
        _register(entry)
        data[kind][name] = dict(entry)
        try:
            self._write(data)
        except BaseException:
            del data[kind][name]  # not on disk, so not held: a later get must not find it
            raise
        return dict(entry)

    def _write(self, data: Mapping[str, Any]) -> None:
        text = json.dumps(data, indent=2, sort_keys=True) + "\n"
        write_file_atomically(self.path, text, "the secrets file", mode=0o600)


def _register(entry: object) -> None:
    if isinstance(entry, Mapping):
        for field in _SECRET_FIELDS:
            value = entry.get(field)
            if isinstance(value, str) and value:
                register_secret(value)
