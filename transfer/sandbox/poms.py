"""Maven POMs for the seeded organisations: real, parseable ``project`` documents.

Artifacts of ``com.acme`` inherit their groupId from ``com.acme:acme-parent`` (a ``pom``
packaging project with properties and dependency management); dependencies use properties
(``${project.groupId}``, ``${junit.version}``). A POM may also declare coordinates that do not
match where it is published, as Bintray-era sbt plugins did; Artifactory refuses those unless
its consistency check is suppressed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

__all__ = ["Coordinates", "Pom", "pom_xml"]


@dataclass(frozen=True, slots=True)
class Coordinates:
    """groupId, artifactId and version."""

    group: str
    artifact: str
    version: str


@dataclass(frozen=True, slots=True)
class Pom:
    """What one POM declares; ``group`` or ``version`` empty means inherited from ``parent``."""

    artifact: str
    group: str = ""
    version: str = ""
    parent: Coordinates | None = None
    packaging: str = "jar"
    name: str = ""
    properties: Mapping[str, str] = field(default_factory=dict)
    dependencies: Sequence[Coordinates] = ()
    managed: Sequence[Coordinates] = ()


def _element(tag: str, text: str, indent: str) -> str:
    return f"{indent}<{tag}>{escape(text)}</{tag}>\n" if text else ""


def _dependency(dep: Coordinates, indent: str) -> str:
    inner = indent + "  "
    return (
        f"{indent}<dependency>\n"
        + _element("groupId", dep.group, inner)
        + _element("artifactId", dep.artifact, inner)
        + _element("version", dep.version, inner)
        + f"{indent}</dependency>\n"
    )


def pom_xml(pom: Pom) -> bytes:
    """The POM document (UTF-8, with the Maven 4.0.0 namespace)."""
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        '<project xmlns="http://maven.apache.org/POM/4.0.0"\n'
        '         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"\n'
        '         xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 '
        'https://maven.apache.org/xsd/maven-4.0.0.xsd">\n',
        "  <modelVersion>4.0.0</modelVersion>\n",
    ]
    if pom.parent is not None:
        out += [
            "  <parent>\n",
            _element("groupId", pom.parent.group, "    "),
            _element("artifactId", pom.parent.artifact, "    "),
            _element("version", pom.parent.version, "    "),
            "  </parent>\n",
        ]
    out += [
        _element("groupId", pom.group, "  "),
        _element("artifactId", pom.artifact, "  "),
        _element("version", pom.version, "  "),
        _element("packaging", pom.packaging, "  "),
        _element("name", pom.name or pom.artifact, "  "),
    ]
    if pom.properties:
        out.append("  <properties>\n")
        out += [_element(k, v, "    ") for k, v in pom.properties.items()]
        out.append("  </properties>\n")
    if pom.managed:
        out.append("  <dependencyManagement>\n    <dependencies>\n")
        out += [_dependency(dep, "      ") for dep in pom.managed]
        out.append("    </dependencies>\n  </dependencyManagement>\n")
    if pom.dependencies:
        out.append("  <dependencies>\n")
        out += [_dependency(dep, "    ") for dep in pom.dependencies]
        out.append("  </dependencies>\n")
    out.append("</project>\n")
    return "".join(out).encode()
