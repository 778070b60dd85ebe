"""Property grammars: the ``properties=`` query list, matrix parameters, and key/value rules."""

from __future__ import annotations

import re
import sys
from urllib.parse import unquote

__all__ = [
    "FORBIDDEN_KEY_CHARS",
    "PropertyError",
    "parse_matrix",
    "parse_property_list",
    "split_unescaped",
    "unescape",
    "validate_property",
]

FORBIDDEN_KEY_CHARS = frozenset(")(}{][*+^$\\/~!@#%&<>;=,±§` ")
_ESCAPABLE = frozenset(",\\|=;")


class PropertyError(ValueError):
    """A property key or value the server refuses (400)."""


def split_unescaped(text: str, separators: str) -> list[str]:
    """Split on any separator not preceded by a backslash; escapes are kept in the pieces."""
    if "\\" not in text:  # nothing escaped, the usual case: split where the separators are
        if len(separators) == 1:
            return text.split(separators)
        return re.split(f"[{re.escape(separators)}]", text)
    pieces: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            current.append(text[i : i + 2])
            i += 2
            continue
        if ch in separators:
            pieces.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    pieces.append("".join(current))
    return pieces


def unescape(text: str) -> str:
    """Drop the backslash before ``, \\ | = ;``; other backslashes are literal."""
    if "\\" not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in _ESCAPABLE:
            out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def validate_property(key: str, values: list[str], max_value_length: int) -> None:
    """Raise PropertyError for an empty key, forbidden key characters or an overlong value."""
    if not key:
        raise PropertyError("Property key cannot be empty")
    bad = sorted({c for c in key if c in FORBIDDEN_KEY_CHARS})
    if bad:
        raise PropertyError(f"Property key '{key}' contains forbidden characters: {''.join(bad)}")
    for value in values:
        if len(value) > max_value_length:
            raise PropertyError(
                f"Property '{key}' value is {len(value)} characters long; "
                f"the maximum allowed is {max_value_length}"
            )


def parse_property_list(text: str, max_value_length: int) -> dict[str, list[str]]:
    """Parse an already URL-decoded ``properties=`` value (reference §4.1).

    Properties are separated by unescaped ``;`` or ``|``; key and values by the one unescaped
    ``=`` (a piece with two or more is ignored, a piece without one sets an empty value); values
    by unescaped ``,``. Pieces, keys and values are trimmed. A repeated key accumulates values.
    """
    result: dict[str, list[str]] = {}
    for raw_piece in split_unescaped(text, ";|"):
        piece = raw_piece.strip()
        if not piece:
            continue
        parts = split_unescaped(piece, "=")
        if len(parts) > 2:
            continue
        key = unescape(parts[0].strip())
        if len(parts) == 1:
            values = [""]
        else:
            values = [unescape(v.strip()) for v in split_unescaped(parts[1], ",")]
        validate_property(key, values, max_value_length)
        bucket = result.setdefault(key, [])
        bucket.extend(v for v in values if v not in bucket)
    return result


def parse_matrix(segments: list[str]) -> dict[str, list[str]]:
    """Properties from raw (still percent-encoded) ``key=value`` matrix segments (§2.2).

    Keys and values are percent-decoded; values are then split on unescaped commas and ``\\,``
    unescaped. A segment without ``=`` sets an empty value; ``key+`` (the mandatory marker of
    resolution queries) is the plain key on deploy.

    Keys and values are interned: a million deployed files carry the same few keys and mostly
    the same values, and the sink keeps every file's properties.
    """
    result: dict[str, list[str]] = {}
    for segment in segments:
        if not segment:
            continue
        raw_key, sep, raw_value = segment.partition("=")
        key = sys.intern(unquote(raw_key).removesuffix("+"))
        if not key:
            continue
        raw_values = split_unescaped(unquote(raw_value), ",") if sep else [""]
        values = [sys.intern(unescape(v)) for v in raw_values]
        bucket = result.setdefault(key, [])
        bucket.extend(v for v in values if v not in bucket)
    return result
