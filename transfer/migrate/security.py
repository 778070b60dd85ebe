"""The organisation read from the source (:func:`read_org_snapshot`, I/O) and the whole security
plan decided from it (:func:`plan_security`, pure): what ``transfer plan`` prints and what the
security phase (:mod:`~transfer.migrate.security_phase`) carries out.

Reads the source refuses (no Premium plan, not an organisation admin) do not stop anything:
they become report entries saying what could not be read and what to do by hand.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeVar, runtime_checkable

from transfer.errors import NotFoundError, PermissionDenied, RateLimited
from transfer.migrate.access import (
    EntitlementInfo,
    GroupPlan,
    KeyInfo,
    OrgMember,
    OrgRepository,
    OrgSnapshot,
    OrgTeam,
    PermissionTargetPlan,
    UserPlan,
    plan_people,
)
from transfer.migrate.geo import GeoRestriction, geo_entries, parse_restrictions
from transfer.migrate.keys import (
    KeyPlan,
    TokenPlan,
    package_patterns,
    path_patterns,
    plan_keys,
    version_patterns,
)
from transfer.migrate.principals import Rename, rename_principals
from transfer.migrate.unmigratable import Unmigratable, restricted_entry
from transfer.models import SourceFile
from transfer.pipeline.planner import map_repo_key
from transfer.settings import SecuritySettings
from transfer.sources.base import Readable, Restricted, SourcePackage, SourceRepository

__all__ = ["OrganisationSource", "SecurityPlan", "plan_security", "read_org_snapshot"]

T = TypeVar("T")


@runtime_checkable
class OrganisationSource(Protocol):
    """The source reads the security phase needs (Bintray's organisation API)."""

    async def list_repositories(self) -> list[SourceRepository]:
        """Repositories the filters keep."""
        ...

    def iter_packages(self, repo: str) -> AsyncIterator[str]:
        """Package names of one repository (paged)."""
        ...

    async def get_package(self, repo: str, name: str) -> SourcePackage:
        """One package with its version names."""
        ...

    async def list_version_files(self, repo: str, package: str, version: str) -> list[SourceFile]:
        """The files of one version."""
        ...

    async def get_organization(self) -> dict[str, Any]:
        """Members (with roles for admins), owner, teams."""
        ...

    async def list_teams(self) -> Readable[list[str]]:
        """Team names."""
        ...

    async def get_team(self, team: str) -> Readable[dict[str, Any]]:
        """One team with ``members`` and ``permitted_repos``."""
        ...

    async def list_access_keys(self) -> Readable[list[str]]:
        """Access key ids."""
        ...

    async def get_access_key(self, key_id: str) -> Readable[dict[str, Any]]:
        """One access key (never its password)."""
        ...

    async def list_entitlements(
        self, repo: str, package: str = "", version: str = ""
    ) -> Readable[list[dict[str, Any]]]:
        """Entitlements on one scope."""
        ...

    async def search_entitlements(self, access_key: str) -> Readable[list[dict[str, Any]]]:
        """Every entitlement of one key."""
        ...

    async def get_geo_restrictions(self, repo: str) -> Readable[dict[str, Any]]:
        """Country allow/block lists of a repository."""
        ...

    async def get_ip_restrictions(self, repo: str) -> Readable[dict[str, Any]]:
        """Address allow/block lists of a repository."""
        ...


_INSTEAD = {
    "organisation": "list the members in the Bintray UI and create their users by hand",
    "teams": "teams need Bintray Premium and an organisation admin key; recreate the teams as "
    "groups by hand if there were any",
    "access keys": "access keys need an organisation admin key on a Premium plan; recreate "
    "them as users or tokens by hand if there were any",
    "entitlements": "grant the access keys' groups their paths by hand",
    "restrictions": "copy the repository's geo and IP restrictions from the Bintray UI into "
    "MyJFrog by hand",
}


async def _guarded(what: str, read: Callable[[], Awaitable[T]]) -> Readable[T]:
    try:
        return await read()
    except RateLimited:
        raise
    except PermissionDenied as error:
        return Restricted(what, error.status, str(error))


def _text_list(raw: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in raw) if isinstance(raw, list) else ()


def _key_info(key_id: str, raw: Mapping[str, Any]) -> KeyInfo:
    expiry = raw.get("expiry")
    check = raw.get("existence_check")
    return KeyInfo(
        id=key_id,
        expiry_ms=int(expiry) if isinstance(expiry, int | float) and expiry > 0 else None,
        api_only=raw.get("api_only") is not False,
        white_cidrs=_text_list(raw.get("white_cidrs")),
        black_cidrs=_text_list(raw.get("black_cidrs")),
        existence_check=dict(check) if isinstance(check, dict) else {},
    )


def _repo_name(raw: Any, subject: str) -> str:
    """``/acme/releases`` (search results) or ``releases`` → ``releases``."""
    parts = [p for p in str(raw or "").split("/") if p]
    if len(parts) >= 2 and parts[0] == subject:
        return parts[1]
    return parts[-1] if parts else ""


@dataclass(slots=True)
class _Reader:
    source: OrganisationSource
    subject: str
    restricted: list[Restricted] = field(default_factory=list)
    scopes: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)
    walked: dict[str, int] = field(default_factory=dict)

    def keep(self, found: Readable[T], default: T) -> T:
        if isinstance(found, Restricted):
            self.restricted.append(found)
            return default
        return found

    async def _listed(self, repo: str, package: str = "", version: str = "") -> list[str]:
        found = await self.source.list_entitlements(repo, package, version)
        return [] if isinstance(found, Restricted) else [str(e.get("id")) for e in found]

    async def scope_of(self, repo: str, ent_id: str) -> tuple[str, str] | None:
        """``(package, version)`` of the entitlement ``ent_id`` of ``repo`` (``("", "")`` for
        the repository scope), or None when no scope lists it.

        Search results say only which repository (reference §9.2), so the repository's own
        list is read first and, only when an id is not there, the lists of every package and
        version of that repository, once (an index per repository).
        """
        index = self.scopes.setdefault(repo, {})
        depth = self.walked.get(repo, 0)  # 1: the repository's list read; 2: every list read
        if ent_id in index or depth == 2:
            return index.get(ent_id)
        if depth == 0:
            self.walked[repo] = 1
            index.update(dict.fromkeys(await self._listed(repo), ("", "")))
            if ent_id in index:
                return index[ent_id]
        self.walked[repo] = 2
        try:
            async for package in self.source.iter_packages(repo):
                index.update(dict.fromkeys(await self._listed(repo, package), (package, "")))
                for version in (await self.source.get_package(repo, package)).versions:
                    listed = await self._listed(repo, package, version)
                    index.update(dict.fromkeys(listed, (package, version)))
        except NotFoundError:
            pass
        return index.get(ent_id)

    async def files(self, repo: str, package: str, version: str) -> list[str] | None:
        try:
            if version:
                versions: Sequence[str] = (version,)
            else:
                versions = (await self.source.get_package(repo, package)).versions
            paths: list[str] = []
            for name in versions:
                found = await self.source.list_version_files(repo, package, name)
                paths.extend(f.path for f in found)
            return paths
        except NotFoundError:
            return None

    async def entitlement(
        self, raw: Mapping[str, Any], repos: Mapping[str, OrgRepository]
    ) -> EntitlementInfo:
        ent_id = str(raw.get("id") or "")
        repo = _repo_name(raw.get("repo"), self.subject)
        package = str(raw.get("package") or "")
        version = str(raw.get("version") or "")
        path = str(raw.get("path") or "").strip("/")
        base = EntitlementInfo(
            id=ent_id,
            repo=repo,
            access="rw" if str(raw.get("access", "r")).lower() == "rw" else "r",
            access_keys=_text_list(raw.get("access_keys")),
            scope="repository",
            path=path,
            package=package,
            version=version,
            tags=_text_list(raw.get("tags")),
        )
        mapped = repos.get(repo)
        if mapped is None or not mapped.key:
            return base
        if not package:
            # Search results need not say package or version (reference §9.2): find the scope
            # that lists the id; one no scope lists is never widened to the whole repository.
            scope = await self.scope_of(repo, ent_id)
            if scope is None:
                return replace(base, scope="unresolved")
            package, version = scope
            base = replace(base, package=package, version=version)
        if package:
            paths = await self.files(repo, package, version)
            if paths is None:
                return replace(base, scope="unresolved")
            if version:
                return replace(base, scope="version", patterns=version_patterns(paths))
            return replace(base, scope="package", patterns=package_patterns(paths))
        return replace(base, scope="path" if path else "repository", patterns=path_patterns(path))


async def _members(reader: _Reader) -> tuple[str, list[OrgMember], list[str]]:
    org = reader.keep(await _guarded("organisation", reader.source.get_organization), {})
    owner = str(org.get("owner") or "")
    members = []
    hidden = False
    for raw in org.get("members") or []:
        if isinstance(raw, dict) and raw.get("name"):
            role = str(raw.get("type") or "").lower()
            hidden = hidden or not role
            members.append(OrgMember(str(raw["name"]), role))
    notes = []
    if hidden:
        notes.append(
            "member roles are hidden from this Bintray user (not an organisation admin): "
            "only the owner becomes an Artifactory admin"
        )
    return owner, members, notes


async def _teams(reader: _Reader) -> list[OrgTeam]:
    teams = []
    for name in reader.keep(await reader.source.list_teams(), []):
        raw = reader.keep(await reader.source.get_team(name), None)
        if raw is None:
            continue
        permissions = raw.get("permitted_repos")
        teams.append(
            OrgTeam(
                name=str(raw.get("name") or name),
                members=_text_list(raw.get("members")),
                permissions=(
                    {str(k): str(v) for k, v in permissions.items()}
                    if isinstance(permissions, dict)
                    else {}
                ),
            )
        )
    return teams


async def _keys(
    reader: _Reader, repos: Mapping[str, OrgRepository]
) -> tuple[list[KeyInfo], list[EntitlementInfo]]:
    keys: list[KeyInfo] = []
    found: dict[str, Mapping[str, Any]] = {}
    for key_id in reader.keep(await reader.source.list_access_keys(), []):
        raw = reader.keep(await reader.source.get_access_key(key_id), None)
        if raw is None:
            continue
        keys.append(_key_info(key_id, raw))
        for ent in reader.keep(await reader.source.search_entitlements(key_id), []):
            ent_id = str(ent.get("id") or "")
            if ent_id and ent_id not in found:
                found[ent_id] = ent
    entitlements = [await reader.entitlement(raw, repos) for raw in found.values()]
    return keys, entitlements


async def _restrictions(reader: _Reader, repos: Sequence[OrgRepository]) -> list[GeoRestriction]:
    found: list[GeoRestriction] = []
    refused: set[str] = set()
    for repo in repos:
        bodies: list[dict[str, Any] | None] = []
        for kind, read in (
            ("geo", reader.source.get_geo_restrictions),
            ("ip", reader.source.get_ip_restrictions),
        ):
            if kind in refused:
                bodies.append(None)
                continue
            body = await read(repo.name)
            if isinstance(body, Restricted):
                # the plan lacks the feature: one report entry, not one per repository
                refused.add(kind)
                reader.restricted.append(body)
                bodies.append(None)
            else:
                bodies.append(body)
        restriction = parse_restrictions(repo.name, bodies[0], bodies[1])
        if not restriction.empty:
            found.append(restriction)
    return found


async def read_org_snapshot(
    source: OrganisationSource, *, subject: str, repo_key_template: str
) -> OrgSnapshot:
    """Read members, teams, access keys with their entitlements, and the restrictions of
    every repository the migration covers; refused reads are kept as ``restricted``."""
    reader = _Reader(source, subject)
    repos: dict[str, OrgRepository] = {}
    for repo in await source.list_repositories():
        try:
            key = map_repo_key(
                repo_key_template, repo=repo.name, subject=subject, repo_type=repo.type
            )
            repos[repo.name] = OrgRepository(repo.name, key, repo.private)
        except ValueError as error:
            repos[repo.name] = OrgRepository(repo.name, "", repo.private, str(error))
    owner, members, notes = await _members(reader)
    teams = await _teams(reader)
    keys, entitlements = await _keys(reader, repos)
    geo = await _restrictions(reader, list(repos.values()))
    return OrgSnapshot(
        subject=subject,
        owner=owner,
        members=tuple(members),
        teams=tuple(teams),
        repositories=tuple(repos.values()),
        access_keys=tuple(keys),
        entitlements=tuple(entitlements),
        geo=tuple(geo),
        restricted=tuple(reader.restricted),
        notes=tuple(notes),
    )


def _instead(marker: Restricted) -> str:
    what = marker.what
    if what.startswith("team"):
        return _INSTEAD["teams"]
    if what.startswith("access key"):
        return _INSTEAD["access keys"]
    if what.startswith("entitlements"):
        return _INSTEAD["entitlements"]
    if "restrictions" in what:
        return _INSTEAD["restrictions"]
    return _INSTEAD.get(what, "read it in the Bintray UI and recreate it by hand")


@dataclass(frozen=True, slots=True)
class SecurityPlan:
    """Everything the security phase would create, and what it can only report.

    Holds no secret: users say *how* they will sign in, tokens are plans of tokens.
    """

    users: tuple[UserPlan, ...] = ()
    groups: tuple[GroupPlan, ...] = ()
    targets: tuple[PermissionTargetPlan, ...] = ()
    tokens: tuple[TokenPlan, ...] = ()
    keys: tuple[KeyPlan, ...] = ()
    entries: tuple[Unmigratable, ...] = ()
    notes: tuple[str, ...] = ()
    renames: tuple[Rename, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form for ``transfer plan --json``."""
        return {
            "users": [u.as_dict() for u in self.users],
            "groups": [g.as_dict() for g in self.groups],
            "permission_targets": [t.as_dict() for t in self.targets],
            "tokens": [t.as_dict() for t in self.tokens],
            "access_keys": {k.id: k.as_dict() for k in self.keys},
            "cannot_move": [{"key": e.key, **e.as_detail()} for e in self.entries],
            "notes": list(self.notes),
            "renamed": [r.as_dict() for r in self.renames],
        }

    def lines(self) -> list[str]:
        """Human lines for ``transfer plan``."""
        out = [
            f"security: {len(self.users)} users, {len(self.groups)} groups, "
            f"{len(self.targets)} permission targets, {len(self.tokens)} tokens"
        ]
        out.extend(f"  renamed: {rename.line()}" for rename in self.renames)
        for user in self.users:
            role = "admin" if user.admin else user.origin.replace("_", " ")
            how = {"password": "generated password", "sso": "SSO", "token": "token"}
            out.append(f"  user {user.name} ({role}; {how[user.credential]})")
        for group in self.groups:
            realm = f"; realm {group.realm}" if group.realm else ""
            members = ", ".join(group.members) or "no members"
            out.append(f"  group {group.name} ({members}{realm})")
        for target in self.targets:
            grants = "; ".join(f"{g}: {','.join(a)}" for g, a in sorted(target.groups.items()))
            patterns = ", ".join(target.include)
            out.append(
                f"  permission target {target.name} on {', '.join(target.repositories)} "
                f"[{patterns}] — {grants}"
            )
        for token in self.tokens:
            life = f"{token.expires_in} s" if token.expires_in else "no expiry"
            out.append(f"  token for {token.username} ({token.scope}; {life})")
        out.extend(f"  cannot move: {entry.what}" for entry in self.entries)
        out.extend(f"  note: {note}" for note in self.notes)
        out.append("  (passwords and tokens are generated when migrating, into the secrets file)")
        return out


def plan_security(snapshot: OrgSnapshot, settings: SecuritySettings, *, now: float) -> SecurityPlan:
    """Decide users, groups, permission targets and tokens from ``snapshot`` (pure), under
    names JFrog Cloud accepts (:mod:`~transfer.migrate.principals`)."""
    snapshot, renames = rename_principals(snapshot)
    users, groups, targets, entries = plan_people(snapshot, settings)
    keys = plan_keys(snapshot, settings, now=now, taken={u.name for u in users})
    restricted = [restricted_entry(m, _instead(m)) for m in snapshot.restricted]
    return SecurityPlan(
        users=tuple(users + keys.users),
        groups=tuple(groups + keys.groups),
        targets=tuple(targets + keys.targets),
        tokens=tuple(keys.tokens),
        keys=tuple(keys.keys),
        entries=tuple(entries + keys.entries + geo_entries(snapshot.geo) + restricted),
        notes=snapshot.notes,
        renames=renames,
    )
