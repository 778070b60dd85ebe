"""Ant-style path patterns as permission targets and repository include/exclude use them."""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["ant_match", "any_match"]


@lru_cache(maxsize=4096)
def _segment(pattern: str) -> re.Pattern[str]:
    parts = ["[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in pattern]
    return re.compile("".join(parts))


@lru_cache(maxsize=4096)
def _split(pattern: str) -> tuple[str, ...]:
    pattern = pattern.strip().lstrip("/")
    if pattern.endswith("/"):
        pattern += "**"
    return tuple(p for p in pattern.split("/") if p)


def ant_match(pattern: str, path: str, *, folder: bool = False) -> bool:
    """Whether ``path`` (repository-relative) matches ``pattern``.

    ``**`` spans any number of segments, ``*`` any characters inside one, ``?`` one character;
    a trailing ``/`` means ``/**``. With ``folder=True`` a folder also matches when something
    beneath it could (so ``a/**/*.jar`` lets a reader see folder ``a``).
    """
    pat = _split(pattern)
    if not pat:
        return False
    segs = [s for s in path.split("/") if s]
    memo: dict[tuple[int, int], bool] = {}

    def match(pi: int, si: int) -> bool:
        key = (pi, si)
        if key in memo:
            return memo[key]
        if pi == len(pat):
            result = si == len(segs)
        elif si == len(segs):
            result = folder or all(p == "**" for p in pat[pi:])
        elif pat[pi] == "**":
            result = match(pi + 1, si) or match(pi, si + 1)
        else:
            result = _segment(pat[pi]).fullmatch(segs[si]) is not None and match(pi + 1, si + 1)
        memo[key] = result
        return result

    return match(0, 0)


def any_match(patterns: list[str], path: str, *, folder: bool = False) -> bool:
    """Whether any pattern matches; each entry may itself be a comma-separated list."""
    return any(
        ant_match(p, path, folder=folder)
        for entry in patterns
        for p in entry.split(",")
        if p.strip()
    )
