"""What cannot move to Artifactory, and what to do instead: report entries kept in the store.

Each entry is a side record of kind :data:`UNMIGRATABLE` whose detail holds ``what`` (the thing
that did not move), ``instead`` (what the admin can do) and ``category``; ``transfer report``
lists them under "What cannot move". Recording is idempotent: the key names the thing, so a
second run replaces an entry instead of adding another.

Organisation-level things found here: products (Artifactory has none), download statistics
(Artifactory counts from zero), and organisation reads the source refused (``Restricted``).
Other phases add their own entries (values too long for a property, repository conflicts...).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from transfer.checkpoint.base import CheckpointStore
from transfer.sources.base import Readable, Restricted, SkippedFile, SourceRepository

__all__ = [
    "UNMIGRATABLE",
    "ProductReader",
    "Unmigratable",
    "collect_organisation_entries",
    "deleted_in_source",
    "download_statistics_entry",
    "product_entries",
    "record_unmigratable",
    "restricted_entry",
    "skipped_entry",
]

UNMIGRATABLE = "unmigratable"
"""Side-record kind of every entry."""


@dataclass(frozen=True, slots=True)
class Unmigratable:
    """One thing that cannot move, with what to do instead."""

    key: str
    category: str
    what: str
    instead: str
    detail: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def as_detail(self) -> dict[str, Any]:
        """The side record's detail."""
        return {
            **self.detail,
            "category": self.category,
            "what": self.what,
            "instead": self.instead,
        }


@runtime_checkable
class ProductReader(Protocol):
    """The product reads of a source that has products (Bintray Premium)."""

    async def list_products(self) -> Readable[list[str]]:
        """Product names, or why they could not be read."""
        ...

    async def get_product(self, product: str) -> Readable[dict[str, Any]]:
        """One product with its ``packages`` (``"repo/package"``)."""
        ...


async def record_unmigratable(store: CheckpointStore, entries: Iterable[Unmigratable]) -> None:
    """Write each entry as a side record (replacing an earlier one with the same key)."""
    for entry in entries:
        await store.record_side(UNMIGRATABLE, entry.key, "reported", entry.as_detail())


def skipped_entry(skipped: SkippedFile) -> Unmigratable:
    """The entry for something the source left out of its listing (a link, a FIFO...)."""
    where = "/".join(part for part in (skipped.repo, skipped.path) if part)
    return Unmigratable(
        key=f"skipped-in-source/{where}",
        category="skipped_in_source",
        what=f"{where}: {skipped.reason}; not copied",
        instead="copy the file it stands for into the tree (or the repository) by hand, "
        "if it should move",
        detail={"repo": skipped.repo, "path": skipped.path, "reason": skipped.reason},
    )


def restricted_entry(marker: Restricted, instead: str) -> Unmigratable:
    """The entry for a read the source refused."""
    return Unmigratable(
        key=f"restricted/{marker.what}",
        category="restricted",
        what=f"{marker.what} could not be read from the source (HTTP {marker.status}: "
        f"{marker.message})",
        instead=instead,
        detail={"status": marker.status},
    )


def product_entries(products: Sequence[Mapping[str, Any]]) -> list[Unmigratable]:
    """One entry per product, naming its packages."""
    entries = []
    for product in products:
        name = str(product.get("name", ""))
        shown = str(product.get("display_name") or name)
        packages = [str(p) for p in product.get("packages", []) if p]
        entries.append(
            Unmigratable(
                key=f"product/{name}",
                category="product",
                what=f"product {shown} ({name}) with packages {', '.join(packages) or 'none'}",
                instead="Artifactory has no products: group the packages' repositories in a "
                "virtual repository, or search them by the bintray.package.name property; "
                "JFrog Distribution release bundles can carry versioned sets",
                detail={
                    "product": name,
                    "packages": packages,
                    "versions": [str(v) for v in product.get("versions", [])],
                },
            )
        )
    return entries


def download_statistics_entry(repos: Sequence[SourceRepository]) -> Unmigratable:
    """The one entry saying download statistics stay behind."""
    return Unmigratable(
        key="download-statistics",
        category="statistics",
        what="download statistics (per package, version and country)",
        instead="Artifactory counts downloads from the migration on; export the history "
        "with Bintray's stats API (POST /packages/:subject/:repo/:package/stats/"
        "total_downloads) before Bintray is gone",
        detail={"repositories": [r.name for r in repos]},
    )


def deleted_in_source(repo: str, path: str) -> Unmigratable:
    """A file the store holds (migrated, or due) that the source no longer has."""
    return Unmigratable(
        key=f"deleted-in-source/{repo}/{path}",
        category="deleted_in_source",
        what=f"{repo}/{path} was deleted on the source after an earlier pass listed it; the "
        "target keeps its copy (a migration never deletes)",
        instead="delete it on the target by hand if it should go too",
        detail={"repo": repo, "path": path},
    )


async def collect_organisation_entries(
    source: object, repos: Sequence[SourceRepository]
) -> list[Unmigratable]:
    """Products and download statistics of the organisation, and refused reads.

    Only a source with products (:class:`ProductReader`: a Bintray organisation) has either;
    a tree of files (a directory, a web server) has neither, and nothing is reported.
    """
    if not isinstance(source, ProductReader):
        return []
    entries = [download_statistics_entry(repos)] if repos else []
    names = await source.list_products()
    if isinstance(names, Restricted):
        instead = (
            "products need Bintray Premium and an organisation admin key; if there were "
            "any, list them in the Bintray UI and regroup their packages by hand"
        )
        return [*entries, restricted_entry(names, instead)]
    products: list[Mapping[str, Any]] = []
    for name in names:
        found = await source.get_product(name)
        if isinstance(found, Restricted):
            entries.append(restricted_entry(found, "read the product in the Bintray UI"))
        else:
            products.append(found)
    return [*entries, *product_entries(products)]
