"""Report entries for linked packages: what to do in Artifactory for each link (pure)."""

from __future__ import annotations

from transfer.migrate.links import LINK_CATEGORY, link_entry
from transfer.sources.base import SourcePackage, SourceRepository


def repo(name: str, kind: str) -> SourceRepository:
    return SourceRepository(name=name, type=kind, private=False, desc="", labels=())


LINKED = SourcePackage(
    repo="mirror", name="tool", versions=("1.0",), linked=True, raw={"repo": "tools"}
)


def entry(owner: SourceRepository | None, linking: SourceRepository) -> dict[str, object]:
    found = link_entry(LINKED, linking, owner, subject="acme", repo_key_template="{subject}-{repo}")
    assert found.category == LINK_CATEGORY
    assert found.what == "package tool of repository tools was linked into mirror"
    return {**found.as_detail(), "key": found.key}


def test_same_type_link_becomes_a_virtual_repository() -> None:
    found = entry(repo("tools", "generic"), repo("mirror", "generic"))
    assert found["advice"] == "virtual"
    assert found["key"] == "link/tools/tool/mirror"
    assert "a virtual repository over acme-tools and acme-mirror" in str(found["instead"])
    assert (found["owner_key"], found["linked_key"], found["copied"]) == (
        "acme-tools",
        "acme-mirror",
        True,
    )


def test_link_across_package_types_is_a_copy() -> None:
    found = entry(repo("tools", "maven"), repo("mirror", "generic"))
    assert found["advice"] == "copy"
    assert "POST /api/copy/acme-tools/<path>?to=/acme-mirror/<path>" in str(found["instead"])


def test_owner_left_out_of_the_migration_is_said() -> None:
    found = entry(None, repo("mirror", "generic"))
    assert (found["advice"], found["copied"]) == ("include", False)
    assert "include tools and migrate again" in str(found["instead"])
