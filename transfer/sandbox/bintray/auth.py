"""Who is calling and what they may see: Basic credentials, team permissions, entitlements."""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass

from transfer.sandbox.orgdata import BintrayFile, BintrayRepo, Organization

__all__ = ["Caller", "InvalidCredentials", "Rights", "authenticate"]

_RANK = {"read": 1, "publish": 2, "admin": 3}


class InvalidCredentials(Exception):
    """The request carried credentials that match no user or live access key."""


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated principal: ``kind`` is ``anonymous``, ``user`` or ``key``."""

    kind: str
    name: str = ""

    @property
    def anonymous(self) -> bool:
        """True when no credentials were sent."""
        return self.kind == "anonymous"


ANONYMOUS = Caller("anonymous")


def authenticate(org: Organization, authorization: str | None, now: float) -> Caller:
    """Resolve an ``Authorization`` header; raise :class:`InvalidCredentials` on a mismatch.

    Bintray never falls back to anonymous: wrong credentials fail even on public resources.
    """
    if not authorization:
        return ANONYMOUS
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        raise InvalidCredentials
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidCredentials from exc
    username, sep, password = decoded.partition(":")
    if not sep:
        raise InvalidCredentials
    user = org.users.get(username)
    if user is not None and hmac.compare_digest(user.api_key, password):
        return Caller("user", username)
    key_id, at, subject = username.rpartition("@")
    if at and subject == org.name:
        key = org.access_keys.get(key_id)
        if (
            key is not None
            and hmac.compare_digest(key.password, password)
            and (key.expiry is None or key.expiry > now * 1000)
        ):
            return Caller("key", key_id)
    raise InvalidCredentials


class Rights:
    """What one caller may do inside the organisation."""

    def __init__(self, org: Organization, caller: Caller) -> None:
        self.org = org
        self.caller = caller

    @property
    def display_name(self) -> str:
        """The name the request log and download logs show."""
        if self.caller.kind == "key":
            return f"{self.caller.name}@{self.org.name}"
        return self.caller.name

    @property
    def is_member(self) -> bool:
        """A user who belongs to the organisation."""
        return self.caller.kind == "user" and self.org.member_type(self.caller.name) is not None

    @property
    def is_admin(self) -> bool:
        """The organisation's owner or one of its admins."""
        if self.caller.kind != "user":
            return False
        return self.org.member_type(self.caller.name) in ("owner", "admin")

    def repo_permission(self, repo: BintrayRepo) -> str | None:
        """The strongest of read/publish/admin the caller holds on ``repo``, or None.

        Org admins hold admin everywhere; members get what their teams grant; access keys read
        the repositories where an entitlement names them.
        """
        if self.is_admin:
            return "admin"
        if self.caller.kind == "key":
            for ent in self.org.entitlements:
                if ent.repo == repo.name and self.caller.name in ent.access_keys:
                    return "read"
            return None
        if not self.is_member:
            return None
        best: str | None = None
        for team in self.org.teams.values():
            if self.caller.name not in team.members:
                continue
            perm = team.permitted_repos.get(repo.name)
            if perm in _RANK and (best is None or _RANK[perm] > _RANK[best]):
                best = perm
        return best

    def can_read(self, repo: BintrayRepo) -> bool:
        """Public repositories are readable by everyone, private ones need a permission."""
        return not repo.private or self.repo_permission(repo) is not None

    def can_publish(self, repo: BintrayRepo) -> bool:
        """Publish rights: unpublished content, ``_`` attributes and publisher-only fields."""
        return self.repo_permission(repo) in ("publish", "admin")

    def can_download(self, repo: BintrayRepo, file: BintrayFile) -> bool:
        """Read access to one file; access keys need an entitlement that covers it."""
        if not repo.private:
            return True
        if self.caller.kind != "key":
            return self.repo_permission(repo) is not None
        for ent in self.org.entitlements:
            if ent.repo != repo.name or self.caller.name not in ent.access_keys:
                continue
            if ent.package is not None and ent.package != file.package:
                continue
            if ent.version is not None and ent.version != file.version:
                continue
            if ent.path:
                prefix = ent.path.strip("/")
                if file.path != prefix and not file.path.startswith(prefix + "/"):
                    continue
            return True
        return False
