"""Repository path → file lookups for the download host and the file endpoints."""

from __future__ import annotations

from dataclasses import dataclass

from transfer.sandbox.orgdata import BintrayFile, BintrayPackage, BintrayRepo, BintrayVersion

__all__ = ["FileIndex", "FileRef"]


@dataclass(frozen=True, slots=True)
class FileRef:
    """A file with the package and version that hold it."""

    package: BintrayPackage
    version: BintrayVersion
    file: BintrayFile


class FileIndex:
    """Repository path → file lookups without scanning the organisation per request.

    The model can change under the emulator (uploads, fixtures), so every hit is checked to be
    still in place and a miss rebuilds the repository's index once.
    """

    def __init__(self) -> None:
        self._by_repo: dict[str, dict[str, FileRef]] = {}

    def _rebuild(self, repo: BintrayRepo) -> dict[str, FileRef]:
        index: dict[str, FileRef] = {}
        for package in repo.packages.values():
            for version in package.versions:
                for file in version.files:
                    index.setdefault(file.path, FileRef(package, version, file))
        self._by_repo[repo.name] = index
        return index

    @staticmethod
    def _still_there(repo: BintrayRepo, ref: FileRef) -> bool:
        return (
            repo.packages.get(ref.package.name) is ref.package
            and any(v is ref.version for v in ref.package.versions)
            and any(f is ref.file for f in ref.version.files)
        )

    def get(self, repo: BintrayRepo, path: str) -> FileRef | None:
        """The file at ``path`` in ``repo``, or None."""
        index = self._by_repo.get(repo.name)
        ref = index.get(path) if index is not None else None
        if ref is not None and ref.file.path == path and self._still_there(repo, ref):
            return ref
        return self._rebuild(repo).get(path)
