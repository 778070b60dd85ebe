"""Repository plans: what the repositories phase does with each Bintray repository (pure).

Every Bintray repository becomes an Artifactory **local** repository: the Bintray type is mapped
to a ``packageType`` (:data:`PACKAGE_TYPES`, ``deb`` an alias of debian) and a layout
(:data:`LAYOUTS`), the description is carried, and CDN redirect is switched on by updating the
configuration after creating it (``POST {"cdnRedirect": true}``, as JFrog's migration guide says).
An existing repository of the same class and package type is kept (CDN redirect still ensured);
any other is a conflict and is never changed. Public repositories get anonymous read through one
permission target (:data:`ANONYMOUS_READ_PERMISSION`). Maven repositories are created with
``suppressPomConsistencyChecks`` as configured (on by default: a migration keeps the bytes it
found, and Bintray-era POMs, sbt plugins above all, often do not match their paths).

Nothing here does I/O: ``transfer plan`` prints these plans and
:mod:`transfer.migrate.repositories_phase` carries them out, so the two never disagree.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from transfer.pipeline.planner import map_repo_key
from transfer.sources.base import SourceRepository

__all__ = [
    "ANONYMOUS_READ_KIND",
    "ANONYMOUS_READ_PERMISSION",
    "LAYOUTS",
    "PACKAGE_TYPES",
    "REPOSITORY_KIND",
    "PermissionPlan",
    "RepoAction",
    "RepoPlan",
    "plan_anonymous_read",
    "plan_repositories",
]

REPOSITORY_KIND = "repository"
"""Side-record kind of one repository (key: the target key, or the Bintray name if unmappable)."""
ANONYMOUS_READ_KIND = "anonymous_read"
"""Side-record kind of the anonymous-read permission target."""
ANONYMOUS_READ_PERMISSION = "bintray-public-read"
"""The permission target granting ``read`` to ``anonymous`` on the public repositories."""

PACKAGE_TYPES: Mapping[str, str] = {
    "maven": "maven",
    "debian": "debian",
    "deb": "debian",
    "rpm": "rpm",
    "npm": "npm",
    "nuget": "nuget",
    "conan": "conan",
    "docker": "docker",
    "opkg": "opkg",
    "vagrant": "vagrant",
    "generic": "generic",
}
"""Bintray repository type → Artifactory ``packageType``."""

LAYOUTS: Mapping[str, str] = {
    "maven": "maven-2-default",
    "npm": "npm-default",
    "nuget": "nuget-default",
    "conan": "conan-default",
}
"""``repoLayoutRef`` per package type; anything else uses ``simple-default``."""
_DEFAULT_LAYOUT = "simple-default"
_CDN = {"cdnRedirect": True}


class RepoAction(enum.StrEnum):
    """What the phase does with one Bintray repository."""

    CREATE = "create"
    ENABLE_CDN = "enable_cdn"
    KEEP = "keep"
    CONFLICT = "conflict"
    UNMAPPABLE = "unmappable"


@dataclass(frozen=True, slots=True)
class RepoPlan:
    """The decision for one Bintray repository.

    ``config`` is the creation body (without ``key``); ``changes`` the update sent after
    creating or to an existing repository (``{"cdnRedirect": true}``), empty when none.
    """

    source: str
    key: str
    bintray_type: str
    package_type: str
    layout: str
    public: bool
    action: RepoAction
    config: Mapping[str, Any] = field(default_factory=dict)
    changes: Mapping[str, Any] = field(default_factory=dict)
    reason: str = ""
    notes: tuple[str, ...] = ()

    @property
    def usable(self) -> bool:
        """Whether files will land in this repository (it exists or will, compatibly)."""
        return self.action in (RepoAction.CREATE, RepoAction.ENABLE_CDN, RepoAction.KEEP)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form for ``transfer plan``."""
        return {
            "source": self.source,
            "key": self.key,
            "bintray_type": self.bintray_type,
            "package_type": self.package_type,
            "layout": self.layout,
            "public": self.public,
            "action": self.action.value,
            "config": dict(self.config),
            "changes": dict(self.changes),
            "reason": self.reason,
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class PermissionPlan:
    """The anonymous-read permission target: ``action`` is create, update, keep or none."""

    name: str
    action: str
    repositories: tuple[str, ...]
    body: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form for ``transfer plan``."""
        return {
            "name": self.name,
            "action": self.action,
            "repositories": list(self.repositories),
            "grants": {"anonymous": ["read"]},
        }


_POM_CHECKED = frozenset({"maven", "gradle", "ivy", "sbt"})
"""Package types whose repositories check POM consistency (``suppressPomConsistencyChecks``)."""


def _desired_config(
    repo: SourceRepository, package_type: str, layout: str, suppress_pom_checks: bool
) -> dict[str, Any]:
    labels = f" Labels: {', '.join(repo.labels)}." if repo.labels else ""
    config: dict[str, Any] = {
        "rclass": "local",
        "packageType": package_type,
        "repoLayoutRef": layout,
        "description": repo.desc,
        "notes": f"Migrated from Bintray repository {repo.name}.{labels}",
    }
    if package_type in _POM_CHECKED:
        config["suppressPomConsistencyChecks"] = suppress_pom_checks
    if package_type == "rpm":
        depth = repo.raw.get("yum_metadata_depth")
        config["calculateYumMetadata"] = True
        if isinstance(depth, int) and not isinstance(depth, bool):
            config["yumRootDepth"] = depth
        groups = repo.raw.get("yum_groups_file")
        if groups:
            config["yumGroupFileNames"] = str(groups)
    return config


def _plan_one(
    repo: SourceRepository,
    key: str,
    current: Mapping[str, Any] | None,
    suppress_pom_checks: bool = True,
) -> RepoPlan:
    package_type = PACKAGE_TYPES.get(repo.type, "generic")
    layout = LAYOUTS.get(package_type, _DEFAULT_LAYOUT)
    notes: list[str] = []
    if repo.type not in PACKAGE_TYPES:
        notes.append(f"unknown Bintray type '{repo.type}': created as generic")
    plan = RepoPlan(
        source=repo.name,
        key=key,
        bintray_type=repo.type,
        package_type=package_type,
        layout=layout,
        public=not repo.private,
        action=RepoAction.CREATE,
    )
    if current is None:
        config = _desired_config(repo, package_type, layout, suppress_pom_checks)
        return replace(plan, config=config, changes=_CDN, notes=tuple(notes))
    rclass = str(current.get("rclass", "")).lower()
    current_type = str(current.get("packageType", "")).lower()
    if rclass != "local" or current_type != package_type:
        reason = (
            f"'{key}' exists as a {rclass or '?'} {current_type or '?'} repository; "
            f"a local {package_type} repository is needed"
        )
        return replace(plan, action=RepoAction.CONFLICT, reason=reason, notes=tuple(notes))
    current_layout = str(current.get("repoLayoutRef", ""))
    if current_layout and current_layout != layout:
        notes.append(f"kept its layout {current_layout} (we would use {layout})")
    if package_type in _POM_CHECKED and current.get("suppressPomConsistencyChecks") is not True:
        notes.append(
            "checks POM consistency: a POM whose coordinates do not match its path is refused "
            "(set suppressPomConsistencyChecks on it to keep such POMs)"
        )
    if current.get("cdnRedirect") is True:
        return replace(plan, action=RepoAction.KEEP, notes=tuple(notes))
    return replace(plan, action=RepoAction.ENABLE_CDN, changes=_CDN, notes=tuple(notes))


def plan_repositories(
    repos: Sequence[SourceRepository],
    existing: Mapping[str, Mapping[str, Any] | None],
    *,
    subject: str,
    repo_key_template: str,
    suppress_pom_checks: bool = True,
) -> list[RepoPlan]:
    """Decide, for each Bintray repository, what to do in the target.

    ``existing`` maps target keys to their current configuration (``None`` or absent: no such
    repository); ``suppress_pom_checks`` goes into new Maven repositories. Pure: the same
    inputs always give the same plans.
    """
    plans: list[RepoPlan] = []
    taken: dict[str, str] = {}
    for repo in repos:
        try:
            key = map_repo_key(
                repo_key_template, repo=repo.name, subject=subject, repo_type=repo.type
            )
        except ValueError as error:
            plan = _plan_one(repo, "", None)
            plans.append(replace(plan, action=RepoAction.UNMAPPABLE, reason=str(error)))
            continue
        clash = taken.get(key.lower())
        if clash is not None:
            plan = _plan_one(repo, key, None)
            reason = f"'{clash}' maps to the same key (Artifactory keys ignore case)"
            plans.append(replace(plan, action=RepoAction.CONFLICT, reason=reason))
            continue
        taken[key.lower()] = repo.name
        plans.append(_plan_one(repo, key, existing.get(key), suppress_pom_checks))
    return plans


def plan_anonymous_read(
    plans: Sequence[RepoPlan], existing: Mapping[str, Any] | None
) -> PermissionPlan:
    """The permission target granting anonymous read on exactly the public repositories.

    Repositories this run sees as public are added, those it sees as private (or that are not
    ours: conflicts) are removed, any other repository already listed is left alone (another
    run with other repository filters put it there). Other principals and settings of an
    existing target are preserved.
    """
    public = {p.key for p in plans if p.public and p.usable}
    not_public = {p.key for p in plans if p.key and not (p.public and p.usable)}
    section = dict(existing.get("repo") or {}) if existing else {}
    listed = {str(r) for r in section.get("repositories", [])}
    wanted = tuple(sorted((listed - not_public) | public))
    actions = dict(section.get("actions") or {})
    users = {k: list(v) for k, v in dict(actions.get("users") or {}).items()}
    has_read = "read" in users.get("anonymous", [])
    if existing is None and not wanted:
        return PermissionPlan(ANONYMOUS_READ_PERMISSION, "none", ())
    if existing is not None and set(wanted) == listed and has_read:
        return PermissionPlan(ANONYMOUS_READ_PERMISSION, "keep", wanted)
    users["anonymous"] = sorted({*users.get("anonymous", []), "read"})
    actions["users"] = users
    section.update(
        {
            "repositories": list(wanted),
            "include-patterns": section.get("include-patterns") or ["**"],
            "exclude-patterns": section.get("exclude-patterns") or [""],
            "actions": actions,
        }
    )
    body = {k: v for k, v in (existing or {}).items() if k != "name"}
    body["repo"] = section
    return PermissionPlan(
        ANONYMOUS_READ_PERMISSION, "create" if existing is None else "update", wanted, body
    )
