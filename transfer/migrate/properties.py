"""Bintray metadata as Artifactory properties: the naming rules (pure) and the discovery hook.

What becomes a property of a file (``docs/properties.md`` is the user-facing version):

* package attributes, then version attributes, then the file's own attributes, each under its
  own name (a more specific level wins when two levels use the same name); typed values become
  strings (``true``/``false``, ``42``, ``0.5``, dates as Bintray wrote them);
* Bintray's own fields under the ``bintray.`` prefix (:data:`PROPERTY_RULES`), which win over an
  attribute of the same name so that the documented keys can be relied on;
* for Debian repositories ``deb.distribution``, ``deb.component`` and ``deb.architecture``.

Values longer than :data:`MAX_PROPERTY_VALUE_LENGTH` are never cut: the key is left out of the
file's properties and reported. Characters Artifactory forbids in keys become ``_`` (reported).

Pure: :class:`transfer.migrate.metadata.MetadataMapper` applies these rules at discovery.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from transfer.models import SourceFile
from transfer.sources.base import SourceAttribute, SourcePackage, SourceRepository, SourceVersion
from transfer.targets.artifactory_paths import MAX_PROPERTY_VALUE_LENGTH

__all__ = [
    "DEB_KEYS",
    "MAX_PROPERTY_VALUE_LENGTH",
    "PACKAGE_NAME_KEY",
    "PROPERTY_RULES",
    "VERSION_NAME_KEY",
    "Properties",
    "PropertyRule",
    "attribute_properties",
    "attribute_values",
    "debian_properties",
    "file_properties",
    "package_properties",
    "property_key",
    "split_long",
    "version_properties",
]

Properties = dict[str, list[str]]
"""key → values, as stored on an item and sent to Artifactory."""

# Artifactory refuses these in property keys (reference §4.1).
_FORBIDDEN_KEY_CHARS = frozenset(")(}{][*+^$\\/~!@#%&<>;=,±§` ")
_BLANK = re.compile(r"\s")


@dataclass(frozen=True, slots=True)
class PropertyRule:
    """One documented mapping: a Bintray field and the property key it becomes."""

    source: str
    key: str
    note: str = ""


_PACKAGE_FIELDS: tuple[tuple[str, str], ...] = (
    ("desc", "bintray.package.desc"),
    ("labels", "bintray.package.labels"),
    ("licenses", "bintray.package.licenses"),
    ("custom_licenses", "bintray.package.custom_licenses"),
    ("vcs_url", "bintray.package.vcs_url"),
    ("website_url", "bintray.package.website_url"),
    ("issue_tracker_url", "bintray.package.issue_tracker_url"),
    ("github_repo", "bintray.package.github_repo"),
    ("maturity", "bintray.package.maturity"),
    ("owner", "bintray.package.owner"),
    ("created", "bintray.package.created"),
    ("updated", "bintray.package.updated"),
)
_VERSION_FIELDS: tuple[tuple[str, str], ...] = (
    ("desc", "bintray.version.desc"),
    ("vcs_tag", "bintray.version.vcs_tag"),
    ("released", "bintray.version.released"),
    ("labels", "bintray.version.labels"),
    ("created", "bintray.version.created"),
    ("updated", "bintray.version.updated"),
)
# History: when a file was published and by whom. Bintray's API names no uploader: ``owner`` is
# the subject (the user or organisation) the file belongs to.
_FILE_FIELDS: tuple[tuple[str, str], ...] = (
    ("created", "bintray.file.created"),
    ("owner", "bintray.file.owner"),
)
PACKAGE_NAME_KEY = "bintray.package.name"
VERSION_NAME_KEY = "bintray.version.name"
DEB_KEYS = ("deb.distribution", "deb.component", "deb.architecture")

_NOTES: dict[str, str] = {
    "bintray.package.owner": "owning user or organisation",
    "bintray.file.owner": "owning user or organisation (Bintray names no uploader)",
    **{
        key: "as Bintray wrote it (ISO-8601)"
        for key in (
            "bintray.package.created",
            "bintray.package.updated",
            "bintray.version.created",
            "bintray.version.updated",
            "bintray.version.released",
            "bintray.file.created",
        )
    },
}

PROPERTY_RULES: tuple[PropertyRule, ...] = (
    PropertyRule("package name", PACKAGE_NAME_KEY),
    *(PropertyRule(f"package {f}", key, _NOTES.get(key, "")) for f, key in _PACKAGE_FIELDS),
    PropertyRule("version name", VERSION_NAME_KEY),
    *(PropertyRule(f"version {f}", key, _NOTES.get(key, "")) for f, key in _VERSION_FIELDS),
    *(PropertyRule(f"file {f}", key, _NOTES.get(key, "")) for f, key in _FILE_FIELDS),
    PropertyRule("package attribute <name>", "<name>", "typed values as strings"),
    PropertyRule("version attribute <name>", "<name>", "wins over a package attribute"),
    PropertyRule("file attribute <name>", "<name>", "wins over version and package"),
    PropertyRule("Debian distribution", "deb.distribution", "file's, else repo default"),
    PropertyRule("Debian component", "deb.component", "file's, else pool/<c>/, else default"),
    PropertyRule("Debian architecture", "deb.architecture", "file's, else _<a>.deb, else default"),
)
"""Every mapping, for ``transfer plan`` and the documentation."""


def property_key(name: str) -> str:
    """``name`` with every character Artifactory forbids in keys (and whitespace and control
    characters, which no database column keeps faithfully) as ``_``."""
    return "".join(
        "_" if c in _FORBIDDEN_KEY_CHARS or _BLANK.match(c) or ord(c) < 0x20 or c == "\x7f" else c
        for c in name
    )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list | tuple):
        # Not a typed attribute value; JSON at least reads back the same in any language.
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return str(value)


def attribute_values(attribute: SourceAttribute) -> list[str]:
    """The values of a typed attribute as strings, in order, without duplicates or nulls."""
    values: list[str] = []
    for value in attribute.values:
        text = _text(value)
        if text is not None and text not in values:
            values.append(text)
    return values


def _field_values(value: Any) -> list[str]:
    """A Bintray field (string, list or null) as property values; empty strings dropped."""
    items = value if isinstance(value, list | tuple) else [value]
    values: list[str] = []
    for item in items:
        text = _text(item)
        if text and text not in values:
            values.append(text)
    return values


def attribute_properties(attributes: Iterable[SourceAttribute]) -> Properties:
    """Attributes under their (key-safe) names; attributes without values or without a
    name are left out."""
    found: Properties = {}
    for attribute in attributes:
        values = attribute_values(attribute)
        key = property_key(attribute.name)
        # A property needs a key: Artifactory refuses an empty one, and with it the whole set.
        if values and key:
            found[key] = values
    return found


def _fields(raw: Mapping[str, Any], rules: Sequence[tuple[str, str]]) -> Properties:
    found: Properties = {}
    for field, key in rules:
        values = _field_values(raw.get(field))
        if values:
            found[key] = values
    return found


def package_properties(package: SourcePackage) -> Properties:
    """``bintray.package.*`` from the package's fields (attributes not included)."""
    return {PACKAGE_NAME_KEY: [package.name], **_fields(package.raw, _PACKAGE_FIELDS)}


def version_properties(version: SourceVersion) -> Properties:
    """``bintray.version.*`` from the version's fields (attributes not included)."""
    return {VERSION_NAME_KEY: [version.name], **_fields(version.raw, _VERSION_FIELDS)}


def file_properties(file: SourceFile) -> Properties:
    """``bintray.file.*``: when the file was published, and the subject that owns it."""
    return _fields(file.extra, _FILE_FIELDS)


def _split_list(value: Any) -> list[str]:
    """``"amd64,i386"`` or ``["amd64", "i386"]`` → ``["amd64", "i386"]``."""
    items = value if isinstance(value, list | tuple) else str(value or "").split(",")
    return [text for text in (str(i).strip() for i in items) if text]


def debian_properties(repo: SourceRepository, file: SourceFile) -> Properties:
    """``deb.*`` of a Debian repository's ``.deb`` file; empty for anything else.

    Per key: what the file entry itself says (``deb_distribution``... when a source exposes
    them), else what the pool path shows (``pool/<component>/...``, ``<name>_<ver>_<arch>.deb``),
    else the repository default (``default_debian_*``).
    """
    if repo.type != "debian" or not file.path.endswith(".deb"):
        return {}
    segments = file.path.split("/")
    from_path: dict[str, list[str]] = {}
    if len(segments) > 2 and segments[0] == "pool":
        from_path["component"] = [segments[1]]
    stem = segments[-1][: -len(".deb")].split("_")
    if len(stem) >= 3 and stem[-1]:
        from_path["architecture"] = [stem[-1]]
    found: Properties = {}
    for key in DEB_KEYS:
        name = key.split(".", 1)[1]
        values = (
            _split_list(file.extra.get(f"deb_{name}"))
            or from_path.get(name)
            or _split_list(repo.raw.get(f"default_debian_{name}"))
        )
        if values:
            found[key] = values
    return found


def split_long(
    properties: Mapping[str, Sequence[str]], limit: int = MAX_PROPERTY_VALUE_LENGTH
) -> tuple[Properties, dict[str, int]]:
    """``(sendable, too_long)``: keys with any value over ``limit`` characters are left out of
    the first and named with their longest value's length in the second (never cut)."""
    sendable: Properties = {}
    too_long: dict[str, int] = {}
    for key, values in properties.items():
        longest = max((len(v) for v in values), default=0)
        if longest > limit:
            too_long[key] = longest
        else:
            sendable[key] = list(values)
    return sendable, too_long
