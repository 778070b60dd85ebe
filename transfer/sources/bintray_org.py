"""Organisation-level reads of a Bintray subject: members, teams, permissions, access keys,
entitlements, products, geo/IP restrictions (reference §2, §3.4-3.5, §8, §9).

Each read returns the server's JSON as plain dicts with the known naming drift smoothed over
(``permitted_repo`` → ``permitted_repos``, ``download_keys`` → ``access_keys``, products as an
array or one object, ...) and every unknown key kept.  A feature the plan lacks or the caller
may not see comes back as :class:`~transfer.sources.base.Restricted` (see that module's
docstring); other errors raise.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from transfer.errors import PermissionDenied, RateLimited, RemoteError
from transfer.sources.base import Readable, Restricted
from transfer.sources.bintray_api import BintrayApi

__all__ = ["BintrayOrganizationReads", "guarded", "normalize_entitlement", "normalize_team"]

T = TypeVar("T")


def _premium_refusal(error: RemoteError) -> bool:
    text = str(error).lower()
    return error.status == 400 and ("premium" in text or "not allowed" in text)


async def guarded(what: str, read: Callable[[], Awaitable[T]]) -> Readable[T]:
    """``await read()``, or :class:`Restricted` when the server refuses it for lack of plan or
    rights (403 that is not rate limiting; 400 "none-premium subject")."""
    try:
        return await read()
    except RateLimited:
        raise
    except PermissionDenied as error:
        return Restricted(what, error.status, str(error))
    except RemoteError as error:
        if _premium_refusal(error):
            return Restricted(what, error.status, str(error))
        raise


def _names(value: Any, *keys: str) -> list[str]:
    """A list of names from ``["a"]``, ``[{"name": "a"}]`` or ``{key: [...]}``."""
    if isinstance(value, dict):
        for key in keys:
            if key in value:
                return _names(value[key])
        if "name" in value:
            return [str(value["name"])]
        return []
    if isinstance(value, list):
        names = []
        for item in value:
            if isinstance(item, str):
                names.append(item)
            elif isinstance(item, dict):
                name = item.get("name", item.get("id"))
                if name is not None:
                    names.append(str(name))
        return names
    return []


def normalize_team(raw: dict[str, Any]) -> dict[str, Any]:
    """A team with ``permitted_repos`` as a repo → permission mapping (from either spelling,
    an empty list, or a list of ``{"repo"/"name", "permission"}``)."""
    team = dict(raw)
    found = raw.get("permitted_repos", raw.get("permitted_repo"))
    mapping: dict[str, str] = {}
    if isinstance(found, dict):
        mapping = {str(k): str(v) for k, v in found.items()}
    elif isinstance(found, list):
        for item in found:
            if isinstance(item, dict):
                repo = item.get("repo", item.get("name"))
                if repo is not None:
                    mapping[str(repo)] = str(item.get("permission", "read"))
    team["permitted_repos"] = mapping
    team.setdefault("members", [])
    return team


def normalize_entitlement(raw: dict[str, Any]) -> dict[str, Any]:
    """An entitlement with ``access_keys`` (also read from ``download_keys``) and ``tags`` lists."""
    item = dict(raw)
    keys = raw.get("access_keys", raw.get("download_keys"))
    item["access_keys"] = [str(k) for k in keys] if isinstance(keys, list) else []
    tags = raw.get("tags")
    item["tags"] = [str(t) for t in tags] if isinstance(tags, list) else []
    return item


def _permission_list(raw: Any) -> list[dict[str, Any]]:
    if isinstance(raw, list):
        return [dict(item) for item in raw if isinstance(item, dict)]
    if isinstance(raw, dict):
        inner = raw.get("permissions")
        if inner is not None:
            return _permission_list(inner)
        if "team" in raw:
            return [dict(raw)]
        # {"dev": "read", ...}
        return [{"team": str(k), "permission": str(v)} for k, v in raw.items()]
    return []


class BintrayOrganizationReads:
    """The organisation reads, mixed into :class:`~transfer.sources.bintray.BintraySource`."""

    _api: BintrayApi
    subject: str

    async def get_organization(self) -> dict[str, Any]:
        """``GET /orgs/:org``: members (with ``type`` only for admins), teams, repos."""
        raw = await self._api.get_json("orgs", self.subject)
        return dict(raw) if isinstance(raw, dict) else {"raw": raw}

    async def list_teams(self) -> Readable[list[str]]:
        """Team names (``GET /orgs/:org/teams``)."""

        async def read() -> list[str]:
            return _names(await self._api.get_json("orgs", self.subject, "teams"), "teams")

        return await guarded("teams", read)

    async def get_team(self, team: str) -> Readable[dict[str, Any]]:
        """One team: members and ``permitted_repos`` (normalised)."""

        async def read() -> dict[str, Any]:
            raw = await self._api.get_json("orgs", self.subject, "teams", team)
            return normalize_team(raw if isinstance(raw, dict) else {"name": team})

        return await guarded(f"team {team}", read)

    async def get_repo_permissions(self, repo: str) -> Readable[list[dict[str, Any]]]:
        """Team permissions on ``repo`` as ``[{"team", "permission"}]``."""

        async def read() -> list[dict[str, Any]]:
            raw = await self._api.get_json("repos", self.subject, repo, "permissions")
            return _permission_list(raw)

        return await guarded(f"permissions of {repo}", read)

    async def list_access_keys(self) -> Readable[list[str]]:
        """Access key ids (``{"access_keys": [...]}`` or the older ``download_keys``)."""

        async def read() -> list[str]:
            raw = await self._api.get_json("orgs", self.subject, "access_keys")
            return _names(raw, "access_keys", "download_keys")

        return await guarded("access keys", read)

    async def get_access_key(self, key_id: str) -> Readable[dict[str, Any]]:
        """One access key (never its password)."""

        async def read() -> dict[str, Any]:
            raw = await self._api.get_json("orgs", self.subject, "access_keys", key_id)
            return dict(raw) if isinstance(raw, dict) else {"id": key_id}

        return await guarded(f"access key {key_id}", read)

    async def list_entitlements(
        self, repo: str, package: str = "", version: str = ""
    ) -> Readable[list[dict[str, Any]]]:
        """Entitlements on a repository, a package or a version.

        Items of the list that lack ``access`` are completed with a GET by id (the list shape
        is uncertain, reference §9.2).
        """
        if version and not package:
            raise ValueError("a version entitlement needs its package")
        if package:
            base = ["packages", self.subject, repo, package]
            if version:
                base += ["versions", version]
        else:
            base = ["repos", self.subject, repo]
        scope = "/".join(part for part in (repo, package, version) if part)

        async def read() -> list[dict[str, Any]]:
            raw = await self._api.get_json(*base, "entitlements")
            items: list[dict[str, Any]] = []
            for entry in raw if isinstance(raw, list) else []:
                if isinstance(entry, str):
                    entry = {"id": entry}
                if not isinstance(entry, dict):
                    continue
                if "access" not in entry and entry.get("id"):
                    full = await self._api.get_json(*base, "entitlements", str(entry["id"]))
                    if isinstance(full, dict):
                        entry = {**entry, **full}
                items.append(normalize_entitlement(entry))
            return items

        return await guarded(f"entitlements of {scope}", read)

    async def search_entitlements(self, access_key: str) -> Readable[list[dict[str, Any]]]:
        """Every entitlement of one access key across the subject (``deep=true``)."""

        async def read() -> list[dict[str, Any]]:
            raw = await self._api.get_json(
                "search",
                "entitlements",
                params={"access_key": access_key, "scope": self.subject, "deep": "true"},
            )
            return (
                [normalize_entitlement(e) for e in raw if isinstance(e, dict)]
                if isinstance(raw, list)
                else []
            )

        return await guarded(f"entitlements of key {access_key}", read)

    async def list_products(self) -> Readable[list[str]]:
        """Product names (an array of ``{"name"}``, or the single object the doc shows)."""

        async def read() -> list[str]:
            return _names(await self._api.get_json("products", self.subject), "products")

        return await guarded("products", read)

    async def get_product(self, product: str) -> Readable[dict[str, Any]]:
        """One product with its ``packages`` (``"repo/package"``) and ``versions``."""

        async def read() -> dict[str, Any]:
            raw = await self._api.get_json("products", self.subject, product)
            return dict(raw) if isinstance(raw, dict) else {"name": product}

        return await guarded(f"product {product}", read)

    async def get_geo_restrictions(self, repo: str) -> Readable[dict[str, Any]]:
        """``{"white_list": [...], "black_list": [...]}`` of ``repo`` (Enterprise)."""

        async def read() -> dict[str, Any]:
            raw = await self._api.get_json("repos", self.subject, repo, "geo_restrictions")
            return dict(raw) if isinstance(raw, dict) else {}

        return await guarded(f"geo restrictions of {repo}", read)

    async def get_ip_restrictions(self, repo: str) -> Readable[dict[str, Any]]:
        """``{"white_cidrs": [...], "black_cidrs": [...]}`` of ``repo``."""

        async def read() -> dict[str, Any]:
            raw = await self._api.get_json("repos", self.subject, repo, "ip_restrictions")
            return dict(raw) if isinstance(raw, dict) else {}

        return await guarded(f"IP restrictions of {repo}", read)
