"""Linked packages: Bintray let a repository show a package another repository owns.

Artifactory has no such link. The files are copied once, into the owning repository's target,
and every link becomes a report entry (category :data:`LINK_CATEGORY`) saying what to do in
Artifactory. Between repositories of one package type: a virtual repository over both keys
serves the files from one URL without a copy (a copy only if the linking repository must own
them). Across package types a virtual repository cannot hold both (Artifactory's virtual
repositories aggregate one package type), so the advice is a copy (``POST /api/copy``). The URL
map reads the same entries to list the linking repository's old URLs as well.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from transfer.checkpoint.base import CheckpointStore
from transfer.migrate.unmigratable import UNMIGRATABLE, Unmigratable
from transfer.pipeline.planner import map_repo_key
from transfer.sources.base import SourcePackage, SourceRepository

__all__ = ["LINK_CATEGORY", "link_entry", "linked_repositories"]

LINK_CATEGORY = "linked_package"
"""Category of the report entry of one link."""


def _key(template: str, repo: str, subject: str, repo_type: str) -> str:
    try:
        return map_repo_key(template, repo=repo, subject=subject, repo_type=repo_type)
    except ValueError:
        return ""


def link_entry(
    package: SourcePackage,
    linking: SourceRepository,
    owner: SourceRepository | None,
    *,
    subject: str,
    repo_key_template: str,
) -> Unmigratable:
    """The report entry for ``package`` (owned by :attr:`~SourcePackage.owner_repo`) linked
    into ``linking``; ``owner`` is the owning repository when this migration includes it."""
    owner_name = package.owner_repo
    owner_key = _key(repo_key_template, owner_name, subject, owner.type if owner else linking.type)
    linking_key = _key(repo_key_template, linking.name, subject, linking.type)
    what = f"package {package.name} of repository {owner_name} was linked into {linking.name}"
    copy = (
        f"POST /api/copy/{owner_key or owner_name}/<path>?to=/{linking_key or linking.name}/<path>"
    )
    if owner is None:
        advice = "include"
        instead = (
            f"repository {owner_name} is not part of this migration (source filters), so the "
            f"package's files were not copied: include {owner_name} and migrate again"
        )
    elif owner.type == linking.type:
        advice = "virtual"
        instead = (
            f"its files were copied once, into {owner_key}. Recommended: a virtual repository "
            f"over {owner_key} and {linking_key} (no copy; resolves from both). Copy the "
            f"package's folders into {linking_key} ({copy}) only if that repository must "
            "hold its own files"
        )
    else:
        advice = "copy"
        instead = (
            f"its files were copied once, into {owner_key}. A virtual repository cannot join "
            f"{owner_key} ({owner.type}) and {linking_key} ({linking.type}): copy the "
            f"package's folders into {linking_key} ({copy}) if its users need them there"
        )
    return Unmigratable(
        key=f"link/{owner_name}/{package.name}/{linking.name}",
        category=LINK_CATEGORY,
        what=what,
        instead=instead,
        detail={
            "package": package.name,
            "owner_repo": owner_name,
            "linked_repo": linking.name,
            "owner_key": owner_key,
            "linked_key": linking_key,
            "copied": owner is not None,
            "advice": advice,
        },
    )


async def linked_repositories(store: CheckpointStore) -> Mapping[tuple[str, str], Sequence[str]]:
    """``(owning repository, package)`` → the repositories it was linked into, as recorded."""
    links: dict[tuple[str, str], list[str]] = {}
    async for record in store.iter_side(UNMIGRATABLE):
        detail = record.detail
        if detail.get("category") != LINK_CATEGORY:
            continue
        pair = (str(detail.get("owner_repo", "")), str(detail.get("package", "")))
        links.setdefault(pair, []).append(str(detail.get("linked_repo", "")))
    return links
