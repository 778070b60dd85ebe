"""Repository plans when the source is another Artifactory: its configurations, copied (pure).

Each source repository keeps its class (local, remote, virtual) and its configuration —
packageType, layout, includes/excludes, description, notes, checksum policy and the
package-specific settings (Maven snapshot handling, Debian layout, YUM depth, ...) — under the
key ``target.repo_key_template`` gives it.  A virtual repository's members and default
deployment repository are renamed the same way, and virtual repositories come last so their
members exist first.  What cannot travel is dropped with a note: the project binding
(``projectKey``, ``environments``: projects are not migrated) and a remote repository's
password (the source never returns it).  An existing repository of the same class and package
type is kept as it is; any other is a conflict, exactly as for Bintray repositories, and the
phase (:mod:`transfer.migrate.repositories_phase`) carries the plans out the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol, runtime_checkable

from transfer.migrate.repositories import RepoAction, RepoPlan
from transfer.pipeline.planner import map_repo_key

__all__ = ["RepositoryConfigSource", "plan_copied_repositories"]

_DROPPED: Mapping[str, str] = {
    "projectKey": "the project binding (projects are not migrated; assign it on the target)",
    "environments": "the project environments (projects are not migrated)",
    "password": "the remote password (the source never returns it; set it on the target)",
}
_ORDER = {"local": 0, "federated": 0, "remote": 1, "virtual": 2}


@runtime_checkable
class RepositoryConfigSource(Protocol):
    """A source that can give whole repository configurations (another Artifactory)."""

    async def list_repository_configs(self) -> list[dict[str, Any]]:
        """Local, remote and virtual configurations, each with ``key`` and ``rclass``."""
        ...


def _body(config: Mapping[str, Any], keys: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """The creation body (no ``key``) and the notes on what was left out or renamed."""
    body = {k: v for k, v in config.items() if k != "key" and k not in _DROPPED}
    notes = [f"left out {what}" for field, what in _DROPPED.items() if config.get(field)]
    if body.get("rclass") == "virtual":
        members = [str(m) for m in config.get("repositories") or []]
        body["repositories"] = [keys.get(m, m) for m in members]
        missing = [m for m in members if m not in keys]
        if missing:
            notes.append(f"members not migrated by this run: {', '.join(missing)}")
        deploy = config.get("defaultDeploymentRepo")
        if deploy:
            body["defaultDeploymentRepo"] = keys.get(str(deploy), str(deploy))
    return body, notes


def plan_copied_repositories(
    configs: Sequence[Mapping[str, Any]],
    existing: Mapping[str, Mapping[str, Any] | None],
    *,
    subject: str,
    repo_key_template: str,
) -> list[RepoPlan]:
    """Decide what to do with each source repository configuration (``existing``: the target's
    configuration per target key, ``None`` or absent when there is none)."""
    ordered = sorted(configs, key=lambda c: (_ORDER.get(str(c.get("rclass")), 3), str(c["key"])))
    keys: dict[str, str] = {}
    errors: dict[str, str] = {}
    for config in ordered:
        name = str(config["key"])
        package_type = str(config.get("packageType") or "generic").lower()
        try:
            keys[name] = map_repo_key(
                repo_key_template, repo=name, subject=subject, repo_type=package_type
            )
        except ValueError as error:
            errors[name] = str(error)
    plans: list[RepoPlan] = []
    taken: dict[str, str] = {}
    for config in ordered:
        name = str(config["key"])
        rclass = str(config.get("rclass") or "local").lower()
        package_type = str(config.get("packageType") or "generic").lower()
        body, notes = _body(config, keys)
        plan = RepoPlan(
            source=name,
            key=keys.get(name, ""),
            bintray_type=package_type,
            package_type=package_type,
            layout=str(config.get("repoLayoutRef") or ""),
            public=False,
            action=RepoAction.CREATE,
            config=body,
            notes=tuple(notes),
        )
        if name in errors:
            plans.append(
                replace(plan, action=RepoAction.UNMAPPABLE, reason=errors[name], config={})
            )
            continue
        clash = taken.setdefault(plan.key.lower(), name)
        if clash != name:
            reason = f"'{clash}' maps to the same key (Artifactory keys ignore case)"
            plans.append(replace(plan, action=RepoAction.CONFLICT, reason=reason, config={}))
            continue
        current = existing.get(plan.key)
        if current is None:
            plans.append(plan)
            continue
        have_class = str(current.get("rclass", "")).lower()
        have_type = str(current.get("packageType", "")).lower()
        if (have_class, have_type) != (rclass, package_type):
            reason = (
                f"'{plan.key}' exists as a {have_class or '?'} {have_type or '?'} repository; "
                f"a {rclass} {package_type} repository is needed"
            )
            plans.append(replace(plan, action=RepoAction.CONFLICT, reason=reason, config={}))
        else:
            plans.append(replace(plan, action=RepoAction.KEEP, config={}))
    return plans
