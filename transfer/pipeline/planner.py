"""Pure decisions: what to do with one item, given what the source declares and the target holds.

Nothing here does I/O; the copy worker asks, then acts. ``transfer plan`` runs the same code
with the target's answers it gathered, so a plan and a migration never disagree.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

from transfer.models import Checksums, ItemState

__all__ = [
    "CHECKSUM_FILE_PHASE",
    "MAX_PATH_LENGTH",
    "MAX_SEGMENT_BYTES",
    "METADATA_PHASE",
    "Action",
    "ConflictPolicy",
    "Decision",
    "TargetFacts",
    "checksum_file_of",
    "checksums_agree",
    "claim_phase",
    "decide",
    "map_repo_key",
    "unsafe_path_reason",
]

MAX_PATH_LENGTH = 1024
"""Longest target path we write (characters); longer paths are refused, never cut."""
MAX_SEGMENT_BYTES = 255
"""Longest single path segment in UTF-8 bytes (a common filesystem limit behind the target)."""

_REPO_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9._-]{0,63}$")
_CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f-\x9f]")
"""Unicode's whole ``Cc`` category (C0, DEL and C1), in one search instead of a Python loop
over each character of every path."""

METADATA_PHASE = 1
"""Claim phase of the files a target computes metadata from (see :func:`claim_phase`)."""
CHECKSUM_FILE_PHASE = 2
"""Claim phase of checksum files: after every file they may describe, POMs included."""
_CHECKSUM_SUFFIXES = {".sha1": "sha1", ".md5": "md5", ".sha256": "sha256"}
# What JFrog's transfer tool delays (jfrog-cli-core transferfiles, delayed files): Maven/Gradle/
# Ivy descriptors and metadata, Docker manifests, Conan recipes and package info.
_METADATA_NAMES = frozenset(
    {
        "pom.xml",
        "manifest.json",
        "list.manifest",
        "list.manifest.json",
        "conanfile.py",
        "conaninfo.txt",
    }
)
_METADATA_SUFFIXES = (".pom", ".timestamp")


def checksum_file_of(path: str) -> tuple[str, str] | None:
    """``(artifact path, algorithm)`` when ``path`` is a checksum file (``X.sha1``, ``X.md5``,
    ``X.sha256``) of an ``X``, else None. Artifactory never stores such files: it answers a
    deploy of one by checking (and recording) the checksum of ``X``, and serves them itself."""
    stem, dot, suffix = path.rpartition(".")
    algorithm = _CHECKSUM_SUFFIXES.get(f".{suffix.lower()}") if dot else None
    if algorithm is None or not stem or stem.endswith("/"):
        return None
    return stem, algorithm


def claim_phase(path: str) -> int:
    """When a file may be copied: 0 at once; :data:`METADATA_PHASE` for POMs, Maven metadata,
    Docker manifests and Conan descriptors (a target computes metadata from them, so they
    follow the files of their version, as JFrog's own transfer tool does);
    :data:`CHECKSUM_FILE_PHASE` for checksum files (they are checked against their artifact)."""
    if checksum_file_of(path) is not None:
        return CHECKSUM_FILE_PHASE
    name = path.rsplit("/", 1)[-1]
    if (
        name in _METADATA_NAMES
        or name.startswith("maven-metadata")
        or name.endswith(_METADATA_SUFFIXES)
    ):
        return METADATA_PHASE
    return 0


class ConflictPolicy(enum.StrEnum):
    """What to do when the target path already holds a different file."""

    REPORT = "report"
    SKIP = "skip"
    OVERWRITE = "overwrite"
    FAIL = "fail"


class Action(enum.StrEnum):
    """The next step for one item."""

    MARK_DONE = "mark_done"
    TRY_CHECKSUM_DEPLOY = "try_checksum_deploy"
    STREAM = "stream"
    RECORD = "record"


@dataclass(frozen=True, slots=True)
class TargetFacts:
    """What the target holds at the item's path; ``exists`` False when nothing is there."""

    exists: bool
    size: int | None = None
    checksums: Checksums = field(default_factory=Checksums)


@dataclass(frozen=True, slots=True)
class Decision:
    """The planner's answer: an action, and for ``RECORD`` the state and reason to record."""

    action: Action
    state: ItemState | None = None
    reason: str = ""
    how: str = ""


def checksums_agree(declared: Checksums, other: Checksums) -> bool | None:
    """True when every algorithm known on both sides matches, False on any difference,
    None when the two sides share no algorithm (nothing can be said)."""
    shared = [
        (a, b)
        for a, b in (
            (declared.sha256, other.sha256),
            (declared.sha1, other.sha1),
            (declared.md5, other.md5),
        )
        if a and b
    ]
    if not shared:
        return None
    return all(a.lower() == b.lower() for a, b in shared)


def unsafe_path_reason(path: str) -> str | None:
    """Why ``path`` must not be written to the target, or None when it is safe."""
    if not path:
        return "empty path"
    if path.startswith("/"):
        return "absolute path"
    if "\\" in path:
        return "backslash in path"
    control = _CONTROL_CHARACTER.search(path)
    if control is not None:
        return f"control character U+{ord(control.group()):04X} in path"
    if len(path) > MAX_PATH_LENGTH:
        return f"path longer than {MAX_PATH_LENGTH} characters ({len(path)})"
    for segment in path.split("/"):
        if segment in (".", ".."):
            return f"'{segment}' path segment"
        if not segment:
            return "empty path segment ('//' or a trailing '/')"
        if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
            return f"path segment longer than {MAX_SEGMENT_BYTES} bytes"
    return None


def map_repo_key(template: str, *, repo: str, subject: str, repo_type: str) -> str:
    """The Artifactory repository key for a Bintray repository, by the configured template.

    Raises ValueError naming the repository when the result is not a valid Artifactory key
    (letters, digits, ``._-``, at most 64 characters, not starting with a digit).
    """
    key = template.format(repo=repo, subject=subject, type=repo_type)
    if not _REPO_KEY.match(key):
        raise ValueError(
            f"repository '{repo}' maps to '{key}', which is not a valid Artifactory key "
            "(letters, digits, '.', '_', '-'; at most 64; not starting with a digit): "
            "change target.repo_key_template"
        )
    return key


def decide(
    *,
    path: str,
    declared: Checksums,
    size: int,
    target: TargetFacts | None,
    policy: ConflictPolicy,
    min_checksum_deploy_size: int,
    content_in_target: bool = False,
    written: Checksums | None = None,
) -> Decision:
    """Decide the next step for one file.

    ``target`` is None when the target was not asked (a repository this run created and has
    recorded everything it wrote into); otherwise it is what the target holds at the path.
    ``content_in_target`` is True when this run already stored identical content elsewhere,
    so a checksum deploy will succeed whatever the size.
    ``written`` holds the checksums of the copy this migration wrote at the path on an earlier run
    (the item was re-opened because its source changed): a target still holding exactly that is
    ours to replace (``how`` ``replaced_own_copy``); anything else there is someone else's file.
    A re-opened item is never taken as already present without a checksum comparison.
    """
    reason = unsafe_path_reason(path)
    if reason is not None:
        return Decision(Action.RECORD, ItemState.FAILED, f"unsafe path refused: {reason}")
    ours = written.known() if written is not None else {}
    how = ""
    if target is not None and target.exists:
        agree = checksums_agree(declared, target.checksums)
        if agree is None and target.size is not None and not declared.known() and not ours:
            agree = target.size == size
        if agree:
            return Decision(Action.MARK_DONE, ItemState.DONE, how="already_present")
        if written is not None and ours and checksums_agree(written, target.checksums):
            how = "replaced_own_copy"
        else:
            differs = "target holds a different file at this path"
            if policy is ConflictPolicy.REPORT:
                return Decision(Action.RECORD, ItemState.CONFLICT, differs)
            if policy is ConflictPolicy.SKIP:
                return Decision(Action.RECORD, ItemState.SKIPPED, differs)
            if policy is ConflictPolicy.FAIL:
                return Decision(Action.RECORD, ItemState.FAILED, differs)
    can_link = bool(declared.sha1 or declared.sha256)
    if can_link and (content_in_target or size >= min_checksum_deploy_size):
        return Decision(Action.TRY_CHECKSUM_DEPLOY, how=how)
    return Decision(Action.STREAM, how=how)
