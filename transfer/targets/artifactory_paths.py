"""Artifactory URLs and headers: encoded paths, matrix properties, checksum headers.

Reference §2.2: properties can ride on a deploy as ``;key=value`` matrix parameters, but servers
split values on ``,``, keys are taken verbatim, and ``;`` ``=`` ``|`` ``\\`` have meanings of
their own.  The recommendation is to never put such characters in matrix values and to set
awkward values afterwards with ``PATCH /api/metadata`` (JSON).  We go further and send a
property set as matrix parameters only when *every* key and value is plain ASCII from a small
safe alphabet and the whole suffix stays short; anything else is deferred to the PATCH.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from transfer.http.artifactory import encode_item_path, encode_name
from transfer.models import Checksums

__all__ = [
    "MAX_MATRIX_LENGTH",
    "MAX_PROPERTY_VALUE_LENGTH",
    "checksum_headers",
    "checksums_from_headers",
    "checksums_from_json",
    "encode_item_path",
    "encode_name",
    "matrix_parameters",
    "matrix_suffix",
]

MAX_PROPERTY_VALUE_LENGTH = 2400
"""Longest property value JFrog Cloud accepts (transfer-files checks for it, reference §4.1)."""
MAX_MATRIX_LENGTH = 2000
"""Longest matrix suffix we put in a URL; longer property sets go through the PATCH."""

_SAFE_KEY = re.compile(r"[A-Za-z0-9._-]+")
# No space (trimmed by some parsers), no '+' (form-decoded to a space by some), no '%'
# (double decoding), no '/' (encoded slashes are refused by servlet containers).
_SAFE_VALUE = re.compile(r"[A-Za-z0-9._:@~-]*")


def matrix_parameters(properties: Mapping[str, Sequence[str]]) -> str | None:
    """``properties`` as matrix parameters (:func:`matrix_suffix`), or ``None`` when they
    cannot travel so without being mangled (or make too long a URL)."""
    if not properties:
        return ""
    for key, values in properties.items():
        if not _SAFE_KEY.fullmatch(key):
            return None
        for value in values:
            if len(value) > MAX_PROPERTY_VALUE_LENGTH or not _SAFE_VALUE.fullmatch(value):
                return None
    suffix = matrix_suffix(properties)
    return suffix if len(suffix) <= MAX_MATRIX_LENGTH else None


def matrix_suffix(properties: Mapping[str, Sequence[str]]) -> str:
    """``;k=v1;k=v2;...`` — one pair per value (as jfrog-client-go sends them), so no value
    ever relies on the server splitting on commas.  A key without values is sent as ``;k=``."""
    return "".join(
        f";{encode_name(key)}={encode_name(value)}"
        for key, values in properties.items()
        for value in values or [""]
    )


def checksum_headers(checksums: Checksums) -> dict[str, str]:
    """``X-Checksum-Sha1``/``-Sha256``/``-Md5`` for the digests that are known.

    The specific headers, never the generic length-typed ``X-Checksum`` (reference §12.1).
    """
    headers = {}
    if checksums.sha1:
        headers["X-Checksum-Sha1"] = checksums.sha1.lower()
    if checksums.sha256:
        headers["X-Checksum-Sha256"] = checksums.sha256.lower()
    if checksums.md5:
        headers["X-Checksum-Md5"] = checksums.md5.lower()
    return headers


def checksums_from_headers(headers: Mapping[str, str]) -> Checksums:
    """The ``X-Checksum-*`` headers of a HEAD/GET answer."""
    return Checksums(
        sha1=(headers.get("X-Checksum-Sha1") or "").strip().lower(),
        sha256=(headers.get("X-Checksum-Sha256") or "").strip().lower(),
        md5=(headers.get("X-Checksum-Md5") or "").strip().lower(),
    )


def checksums_from_json(raw: Any) -> Checksums:
    """The ``checksums`` map of a deploy answer or a file info."""
    if not isinstance(raw, Mapping):
        return Checksums()
    found = raw.get("checksums")
    if not isinstance(found, Mapping):
        return Checksums()
    return Checksums(
        sha1=str(found.get("sha1") or "").lower(),
        sha256=str(found.get("sha256") or "").lower(),
        md5=str(found.get("md5") or "").lower(),
    )
