"""Attribute search queries (reference 7.3): does an object's attribute set match every clause?

A query is a JSON array of one-key objects, ANDed. A list value means "any of" against a scalar
attribute and "contains all of" against an array attribute; a string such as ``"[1,3]"``,
``"[,3["`` or ``"]2019-01-01T00:00:00.000Z,]"`` is a range whose bracket directions say
inclusive or exclusive; anything else must equal one of the attribute's values.
"""

from __future__ import annotations

import re
from typing import Any

from transfer.sandbox.bintray.state import ApiError
from transfer.sandbox.orgdata import Attribute

__all__ = ["Clause", "matches", "parse_query"]

_RANGE = re.compile(r"^([\[\]])([^,]*),([^,]*)([\[\]])$")

Clause = tuple[str, Any]


def parse_query(body: Any) -> list[Clause]:
    """The clauses of a search body; 400 unless it is an array of one-key objects."""
    if not isinstance(body, list) or not body:
        raise ApiError(400, "Search query must be a non-empty array of attribute clauses")
    clauses: list[Clause] = []
    for item in body:
        if not isinstance(item, dict) or len(item) != 1:
            raise ApiError(400, "Each search clause must name exactly one attribute")
        ((name, wanted),) = item.items()
        clauses.append((str(name), wanted))
    return clauses


def _key(value: Any, kind: str) -> Any:
    if kind == "number":
        try:
            return float(value)
        except (TypeError, ValueError):
            return None
    return str(value)


def _in_range(values: list[Any], kind: str, spec: re.Match[str]) -> bool:
    opening, low, high, closing = spec.groups()
    lower = _key(low, kind) if low else None
    upper = _key(high, kind) if high else None
    for value in values:
        key = _key(value, kind)
        if key is None:
            continue
        if lower is not None and (key < lower if opening == "[" else key <= lower):
            continue
        if upper is not None and (key > upper if closing == "]" else key >= upper):
            continue
        return True
    return False


def _clause_matches(attribute: Attribute, wanted: Any) -> bool:
    values = attribute.values
    if isinstance(wanted, list):
        if len(values) == 1:
            return values[0] in wanted
        return all(w in values for w in wanted)
    if isinstance(wanted, str):
        spec = _RANGE.match(wanted.strip())
        if spec is not None:
            return _in_range(values, attribute.type, spec)
    return wanted in values


def matches(attributes: list[Attribute], clauses: list[Clause]) -> bool:
    """True when every clause names an attribute of the set and its values satisfy it."""
    by_name = {a.name: a for a in attributes}
    return all(
        name in by_name and _clause_matches(by_name[name], wanted) for name, wanted in clauses
    )
