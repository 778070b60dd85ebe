"""Names and values that break naive code, as real Bintray organisations held them.

Everything here is data or a pure function of a seeded ``random.Random``: the generator places
these names and attribute values in every ``tiny`` and ``demo`` organisation so that encoding,
escaping and length limits are exercised end to end. Paths never contain ``..`` segments, a
leading ``/``, backslashes or control characters: those belong to dedicated bad-input tests.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

from transfer.sandbox.orgdata import Attribute

__all__ = [
    "AWKWARD_PATH_CHARS",
    "LONG_ATTRIBUTE_NAME",
    "LONG_VALUE_LENGTH",
    "SEPARATOR_VALUE",
    "check_path",
    "file_attributes",
    "long_attribute",
    "package_attributes",
    "version_attributes",
]

# Characters that must survive percent-encoding round trips in paths and names.
AWKWARD_PATH_CHARS = (" ", "+", ":", "%", "@", "~", "(", ")")

# One value holding every character that naive ``k=v;k=v|...`` encodings mangle
# (Artifactory matrix parameters and property strings among them).
SEPARATOR_VALUE = "semi;colon,comma|pipe=equals\\backslash"

LONG_ATTRIBUTE_NAME = "release.notes"
# Artifactory property values are capped well below this; the migration must report it.
LONG_VALUE_LENGTH = 3000

_UNSAFE_PATH = re.compile(r"[\x00-\x1f\x7f\\]")

Stamp = Callable[[], str]


def check_path(path: str) -> str:
    """Return ``path`` unchanged, or raise ValueError if it is not a safe repository path."""
    if (
        not path
        or path.startswith("/")
        or path.endswith("/")
        or _UNSAFE_PATH.search(path)
        or any(segment in ("", ".", "..") for segment in path.split("/"))
    ):
        raise ValueError(f"unsafe generated path: {path!r}")
    return path


def long_attribute() -> Attribute:
    """A string attribute whose single value is longer than any sane property limit."""
    line = "Fixed: résumé parsing; 日本語 paths, 100% of `a=b|c` cases.\n"
    text = (line * (LONG_VALUE_LENGTH // len(line) + 1))[:LONG_VALUE_LENGTH]
    return Attribute(LONG_ATTRIBUTE_NAME, "string", [text])


def package_attributes(rng: random.Random, stamp: Stamp) -> list[Attribute]:
    """Every attribute type, multi-valued, awkward values and one ``_``-prefixed hidden one."""
    return [
        Attribute("release.channel", "string", ["stable", "lts", SEPARATOR_VALUE]),
        Attribute("notes", "string", ["line one\nline two", "unicode: résumé 日本 🚀"]),
        Attribute("build.number", "number", [rng.randint(100, 9999), rng.randint(1, 99) + 0.5]),
        Attribute("certified", "boolean", [rng.random() < 0.5]),
        Attribute("reviewed", "date", [stamp(), stamp()]),
        Attribute("min.version", "version", ["1.0.0+build.5"]),
        Attribute("_internal.owner", "string", ["team=release;cost-center=42"]),
    ]


def version_attributes(rng: random.Random, stamp: Stamp, version: str) -> list[Attribute]:
    """Attributes of a version: a few types, one multi-valued, one hidden."""
    return [
        Attribute("git.commit", "string", [f"{rng.getrandbits(160):040x}"]),
        Attribute("qa.passed", "boolean", [True]),
        Attribute("qa.score", "number", [rng.randint(0, 100)]),
        Attribute("built", "date", [stamp()]),
        Attribute("tags", "string", [version, "with space", "pipe|and,comma"]),
        Attribute("_signoff", "string", ["approved by Zoë\nticket: OPS-7"]),
    ]


def file_attributes(rng: random.Random, stamp: Stamp) -> list[Attribute]:
    """Attributes of a file: typed, multi-valued, one hidden."""
    return [
        Attribute("scan.status", "string", ["clean", "a=b;c=d"]),
        Attribute("scan.findings", "number", [rng.randint(0, 3)]),
        Attribute("scan.date", "date", [stamp()]),
        Attribute("signed", "boolean", [False, True]),
        Attribute("_origin", "string", ["build-agent-07 (日本)"]),
    ]
