"""Checksum files (``X.sha1``, ``X.md5``, ``X.sha256``) as the target keeps them: not stored,
served from ``X``. Shared by the functional and reliability suites."""

from __future__ import annotations

from transfer.sandbox.serve import Sandbox

ALGORITHMS = ("sha1", "md5", "sha256")


def is_checksum_file(path: str) -> bool:
    """Whether the target keeps ``path`` as a checksum of another file, not as a file."""
    return path.rpartition(".")[2] in ALGORITHMS


def checksum_file_problem(sandbox: Sandbox, repo: str, path: str) -> str | None:
    """Why the target does not serve the source's checksum file ``repo/path`` (None: it does:
    ``X`` is stored with the value the file holds, and nothing is stored at ``path``)."""
    stem, _, algorithm = path.rpartition(".")
    file = next(f for f in sandbox.org.iter_files() if (f.repo, f.path) == (repo, path))
    text = sandbox.org.content.read(file.content_key, file.size, kind=file.kind)
    artifact = sandbox.artifactory.item(repo, stem)
    if artifact is None:
        return f"{repo}/{stem}: missing (the artifact of {path})"
    if getattr(artifact, algorithm) != text.decode().split()[0]:
        return f"{repo}/{path}: differs from the {algorithm} of {stem}"
    if sandbox.artifactory.item(repo, path) is not None:
        return f"{repo}/{path}: stored as a file"
    return None
