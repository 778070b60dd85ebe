"""What Artifactory does with Maven descriptors and checksum files (reference §2.4, §13).

* **POM consistency.** A ``.pom`` deployed to a Maven-layout local repository (maven, gradle,
  ivy, sbt) is parsed; its groupId/artifactId/version, inherited from ``<parent>`` when absent,
  must prefix the deploy path (``group/as/dirs/artifactId/version``), else 409 with the text of
  Artifactory's ``BadPomException``. ``suppressPomConsistencyChecks: true`` switches it off.
  Properties (``${...}``) are not interpolated: Artifactory reads the raw model.
* **Checksum files.** ``X.sha1``, ``X.md5`` and ``X.sha256`` are never stored as files. A PUT of
  one next to a stored ``X`` checks the value against ``X``; a GET of one is answered from
  ``X``'s checksums. This applies to every local repository, whatever its type.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

__all__ = [
    "MAVEN_TYPES",
    "checksum_target",
    "parse_checksum_value",
    "pom_checked",
    "pom_problem",
]

MAVEN_TYPES = frozenset({"maven", "gradle", "ivy", "sbt"})
"""Package types whose local repositories check POM consistency."""

_SUFFIXES = {"sha1": 40, "md5": 32, "sha256": 64}
_HEX = re.compile(r"^[0-9a-f]+$")


def checksum_target(path: str) -> tuple[str, str] | None:
    """``(X, algorithm)`` for ``X.sha1`` / ``X.md5`` / ``X.sha256``, else None."""
    stem, dot, suffix = path.rpartition(".")
    if not dot or suffix.lower() not in _SUFFIXES or not stem or stem.endswith("/"):
        return None
    return stem, suffix.lower()


def parse_checksum_value(body: bytes, algorithm: str) -> str | None:
    """The checksum a client sent: the first word of the body, lower-cased, if well-formed."""
    words = body.decode("utf-8", "replace").split()
    value = words[0].lower() if words else ""
    if len(value) != _SUFFIXES[algorithm] or not _HEX.match(value):
        return None
    return value


def pom_checked(config: dict[str, object], path: str) -> bool:
    """Whether a deploy of ``path`` into a repository with ``config`` gets the POM check."""
    return (
        path.endswith(".pom")
        and str(config.get("packageType", "")).lower() in MAVEN_TYPES
        and config.get("suppressPomConsistencyChecks") is not True
    )


def _text(element: ET.Element | None, name: str) -> str:
    if element is None:
        return ""
    for child in element:
        if child.tag.rsplit("}", 1)[-1] == name:
            return (child.text or "").strip()
    return ""


def _parent(project: ET.Element) -> ET.Element | None:
    for child in project:
        if child.tag.rsplit("}", 1)[-1] == "parent":
            return child
    return None


def pom_problem(path: str, data: bytes) -> str | None:
    """Why Artifactory refuses ``data`` as the POM at ``path`` (None: it is consistent)."""
    try:
        project = ET.fromstring(data)
    except ET.ParseError as error:
        return f"Failed to read POM for '{path}': {error}."
    parent = _parent(project)
    group = _text(project, "groupId") or _text(parent, "groupId")
    artifact = _text(project, "artifactId")
    version = _text(project, "version") or _text(parent, "version")
    if not (group and artifact and version):
        return f"Failed to read POM for '{path}': missing groupId, artifactId or version."
    prefix = f"{group.replace('.', '/')}/{artifact}/{version}"
    if path.startswith(prefix + "/"):
        return None
    return (
        f"The target deployment path '{path}' does not match the POM's expected path prefix "
        f"'{prefix}'. Please verify your POM content for correctness and make sure the source "
        "path is a valid Maven repository root path."
    )
