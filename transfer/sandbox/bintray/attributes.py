"""Reading attribute bodies (any type case, inferred types) and applying replace/merge/delete."""

from __future__ import annotations

import re
from typing import Any

from transfer.sandbox.bintray.state import ApiError
from transfer.sandbox.orgdata import Attribute

__all__ = ["delete_attributes", "merge_attributes", "parse_attributes", "select_attributes"]

_TYPES = ("string", "date", "number", "boolean", "version")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$")


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str) and _DATE.match(value):
        return "date"
    return "string"


def _parse_one(item: Any, *, lenient: bool) -> Attribute | tuple[str, None]:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
        raise ApiError(400, "Attribute must have a name")
    name: str = item["name"]
    values = item.get("values")
    if values is None:
        if lenient:
            return (name, None)
        raise ApiError(400, f"Attribute '{name}' must have values")
    if not isinstance(values, list):
        values = [values]
    declared = item.get("type")
    if declared is not None:
        kind = str(declared).lower()
        if kind not in _TYPES:
            raise ApiError(400, f"Unsupported attribute type '{declared}'")
    else:
        inferred = {_type_of(v) for v in values}
        if len(inferred) > 1:
            # POST rejects mixed arrays; PATCH turns them into strings (reference 7.1)
            if not lenient:
                raise ApiError(400, f"Attribute '{name}' has values of mixed types")
            return Attribute(name, "string", [str(v) for v in values])
        kind = inferred.pop() if inferred else "string"
    return Attribute(name, kind, list(values))


def parse_attributes(body: Any, *, lenient: bool) -> list[Attribute | tuple[str, None]]:
    """Attributes from a request body; ``lenient`` (PATCH) allows null values and mixed types."""
    if not isinstance(body, list):
        raise ApiError(400, "Expected a JSON array of attributes")
    return [_parse_one(item, lenient=lenient) for item in body]


def merge_attributes(
    current: list[Attribute], updates: list[Attribute | tuple[str, None]]
) -> list[Attribute]:
    """PATCH semantics: update by name, append new names, ``values: null`` removes."""
    result = list(current)
    for update in updates:
        if not isinstance(update, Attribute):
            result = [a for a in result if a.name != update[0]]
            continue
        for i, existing in enumerate(result):
            if existing.name == update.name:
                result[i] = update
                break
        else:
            result.append(update)
    return result


def select_attributes(attributes: list[Attribute], names: str | None) -> list[Attribute]:
    """The ``names=a,b`` filter; all attributes when absent."""
    if not names:
        return list(attributes)
    wanted = {n.strip() for n in names.split(",") if n.strip()}
    return [a for a in attributes if a.name in wanted]


def delete_attributes(attributes: list[Attribute], names: str | None) -> list[Attribute]:
    """What remains after DELETE ``[?names=a,b]`` (everything goes when ``names`` is absent)."""
    if not names:
        return []
    doomed = {n.strip() for n in names.split(",") if n.strip()}
    return [a for a in attributes if a.name not in doomed]
